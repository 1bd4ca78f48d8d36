"""Infrastructure exports: cloud bills (FinOps FOCUS), GPU telemetry (nvidia-smi) and
container CPU/memory samples (Prometheus/cAdvisor style).

All three are CSV with a header; the field path is the header name as written. Formats,
fields and what happens where a field is absent: ../ingest/README.md.
"""

from typing import Any

from .sources import F, SourceSpec

# ------------------------------------------------------------------ FinOps FOCUS 1.0

# Costs carry up to 11 decimals in real FOCUS exports (0.00001605990): DECIMAL(38,12)
# keeps them exactly. Quantities and unit prices carry up to 15: DECIMAL(38,18).
MONEY = (38, 12)
QUANTITY = (38, 18)


def _period_ordered(start: str, end: str):
    return lambda r: r[start] is None or r[end] is None or r[start] <= r[end]


def _tags_is_object(row: dict[str, Any]) -> bool:
    # canonical JSON text (parser output): an object starts with "{"
    return row["tags"] is None or row["tags"].startswith("{")


FOCUS = SourceSpec(
    name="focus",
    format="csv",
    # FOCUS 1.0 has no mandatory line id (the sample's `Id` is an extension some tools
    # add); without one the file is the unit of replay. Staging dedupes by Id across files.
    key=None,
    description="FinOps FOCUS 1.0 cost-and-usage export (CSV, one row per billing line; NULL written as the string NULL).",
    null_tokens=("NULL",),
    cross_file_key=("line_id",),  # reported across files where the export carries Id
    fields=(
        F("line_id", "Id", required=False),
        F("billed_cost", "BilledCost", "decimal", precision=MONEY),
        F("effective_cost", "EffectiveCost", "decimal", required=False, precision=MONEY),
        F("list_cost", "ListCost", "decimal", required=False, precision=MONEY),
        F("contracted_cost", "ContractedCost", "decimal", required=False, precision=MONEY),
        F("billing_currency", "BillingCurrency"),
        F("billing_period_start", "BillingPeriodStart", "timestamp", required=False),
        # the current month's bill ends in the future: exempt from the clock-skew check
        F("billing_period_end", "BillingPeriodEnd", "timestamp", required=False, future_ok=True),
        F("charge_period_start", "ChargePeriodStart", "timestamp"),
        F("charge_period_end", "ChargePeriodEnd", "timestamp"),
        F("charge_category", "ChargeCategory", required=False),  # Usage, Purchase, Tax, Credit, Adjustment
        F("charge_class", "ChargeClass", required=False),  # Correction or null
        F("charge_description", "ChargeDescription", required=False),
        F("charge_frequency", "ChargeFrequency", required=False),
        F("provider_name", "ProviderName", required=False),
        F("publisher_name", "PublisherName", required=False),
        F("invoice_issuer_name", "InvoiceIssuerName", required=False),
        F("billing_account_id", "BillingAccountId", required=False),
        F("billing_account_name", "BillingAccountName", required=False),
        F("sub_account_id", "SubAccountId", required=False),
        F("sub_account_name", "SubAccountName", required=False),
        F("service_name", "ServiceName", required=False),
        F("service_category", "ServiceCategory", required=False),
        F("resource_id", "ResourceId", required=False),
        F("resource_name", "ResourceName", required=False),
        F("resource_type", "ResourceType", required=False),
        F("region_id", "RegionId", required=False),
        F("region_name", "RegionName", required=False),
        F("availability_zone", "AvailabilityZone", required=False),
        F("sku_id", "SkuId", required=False),
        F("sku_price_id", "SkuPriceId", required=False),
        F("pricing_category", "PricingCategory", required=False),
        F("pricing_quantity", "PricingQuantity", "decimal", required=False, precision=QUANTITY),
        F("pricing_unit", "PricingUnit", required=False),
        F("list_unit_price", "ListUnitPrice", "decimal", required=False, precision=QUANTITY),
        F("contracted_unit_price", "ContractedUnitPrice", "decimal", required=False, precision=QUANTITY),
        F("consumed_quantity", "ConsumedQuantity", "decimal", required=False, precision=QUANTITY),
        F("consumed_unit", "ConsumedUnit", required=False),
        F("commitment_discount_id", "CommitmentDiscountId", required=False),
        F("commitment_discount_name", "CommitmentDiscountName", required=False),
        F("commitment_discount_category", "CommitmentDiscountCategory", required=False),
        F("commitment_discount_type", "CommitmentDiscountType", required=False),
        F("commitment_discount_status", "CommitmentDiscountStatus", required=False),
        F("tags", "Tags", "json", required=False),
    ),
    row_checks=(
        (_period_ordered("charge_period_start", "charge_period_end"), "ChargePeriodEnd before ChargePeriodStart"),
        (_period_ordered("billing_period_start", "billing_period_end"), "BillingPeriodEnd before BillingPeriodStart"),
        (_tags_is_object, "Tags is not a JSON object"),
    ),
)

# ------------------------------------------------------------------ nvidia-smi

# `nvidia-smi --query-gpu=timestamp,index,name,uuid,utilization.gpu,utilization.memory,
#  memory.used,memory.total,power.draw --format=csv [-l 300]`. Values carry their unit
# ("3 %", "1234 MiB", "61.23 W"); a reading the GPU does not support is "[N/A]" or
# "[Not Supported]". The export has no host column: the host is taken from the file's
# path in staging (see README).
GPU_METRICS = SourceSpec(
    name="gpu_metrics",
    format="csv",
    key=("sampled_at", "gpu_index"),
    cross_file_key=(),  # the host is the file's path: two files never hold the same GPU twice
    description="nvidia-smi --query-gpu CSV, one row per GPU per sample; host from the file name.",
    null_tokens=("[N/A]", "[Not Supported]", "[Unknown Error]", "N/A"),
    fields=(
        F("sampled_at", "timestamp", "timestamp"),
        F("gpu_index", "index", "int", min=0, max=1023),
        F("gpu_name", "name", required=False),
        F("gpu_uuid", "uuid", required=False),
        F("utilization_gpu_pct", "utilization.gpu [%]", "float", required=False, min=0, max=100, unit="%"),
        F("utilization_memory_pct", "utilization.memory [%]", "float", required=False, min=0, max=100, unit="%"),
        F("memory_used_mib", "memory.used [MiB]", "float", required=False, min=0, unit="MiB"),
        F("memory_total_mib", "memory.total [MiB]", "float", required=False, min=0, unit="MiB"),
        F("power_draw_w", "power.draw [W]", "float", required=False, min=0, max=5000, unit="W"),
    ),
    row_checks=(
        (lambda r: r["memory_used_mib"] is None or r["memory_total_mib"] is None
         or r["memory_used_mib"] <= r["memory_total_mib"], "memory.used > memory.total"),
    ),
)

# ------------------------------------------------------------------ container samples

# A Prometheus range query (cAdvisor + kube-state-metrics) flattened to CSV, one row per
# container per scrape: rate(container_cpu_usage_seconds_total[5m]) in cores,
# container_memory_working_set_bytes, and the container's resource requests.
CONTAINER_METRICS = SourceSpec(
    name="container_metrics",
    format="csv",
    key=("sampled_at", "component", "container"),
    description="Container CPU/memory samples (Prometheus/cAdvisor style CSV), one row per container per scrape.",
    null_tokens=("NaN", "null"),
    fields=(
        F("sampled_at", "timestamp", "timestamp"),
        F("component"),  # api_layer, core_services, data_layer
        F("container"),
        F("cpu_cores_used", "cpu_usage_cores", "float", min=0, max=4096),
        F("cpu_cores_requested", "cpu_request_cores", "float", required=False, min=0, max=4096),
        F("memory_used_bytes", "memory_working_set_bytes", "int", min=0),
        F("memory_requested_bytes", "memory_request_bytes", "int", required=False, min=0),
    ),
)

INFRA_SOURCES: tuple[SourceSpec, ...] = (FOCUS, GPU_METRICS, CONTAINER_METRICS)
