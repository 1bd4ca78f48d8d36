"""LLM provider and gateway exports: OpenAI and Anthropic usage/cost reports, LiteLLM
spend logs, OpenTelemetry GenAI spans."""

from .sources import SourceSpec

PROVIDER_SOURCES: tuple[SourceSpec, ...] = ()
