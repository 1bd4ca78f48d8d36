"""Infrastructure exports: cloud bills (FinOps FOCUS), GPU telemetry (nvidia-smi) and
container CPU/memory samples (Prometheus/cAdvisor style)."""

from .sources import SourceSpec

INFRA_SOURCES: tuple[SourceSpec, ...] = ()
