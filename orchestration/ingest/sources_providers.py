"""LLM provider and gateway exports: OpenAI and Anthropic usage/cost reports, LiteLLM
spend logs, OpenTelemetry GenAI spans.

Paged report APIs are flattened to one record per bucket result; a file may hold one page,
a JSON array of pages, or one page per line (as a script paging the API writes them).
Token counts are mapped onto disjoint buckets (uncached input, cache read, cache write,
output) by `orchestration.pricing.usage.normalize_usage`, the one token convention.
Prompt and response text is never read into a record.
"""

from decimal import Decimal
from typing import Any, Iterator

from .sources import MAX_TOKENS_PER_CALL, MAX_TOKENS_PER_EXECUTION, F, SourceSpec

# Report buckets aggregate many calls: bound them well above any single call.
MAX_TOKENS_PER_BUCKET = 1_000 * MAX_TOKENS_PER_EXECUTION


def _pages(document: Any) -> list[tuple[str, dict]]:
    if isinstance(document, list):
        return [(f"[{i}].", page) for i, page in enumerate(document)]
    return [("", document)]


def report_results(start_key: str, end_key: str):
    """Extractor for `{"data": [{<start>, <end>, "results": [...]}, ...]}` report pages."""

    def extract(document: Any) -> Iterator[tuple[str, dict]]:
        for prefix, page in _pages(document):
            for b, bucket in enumerate(page["data"]):
                for r, result in enumerate(bucket["results"]):
                    if not isinstance(result, dict):
                        raise TypeError(f"{prefix}data[{b}].results[{r}] is not an object")
                    # a bucket without its bounds: each result is rejected for the missing field
                    yield f"{prefix}data[{b}].results[{r}]", {
                        **result, "_bucket_start": bucket.get(start_key), "_bucket_end": bucket.get(end_key)}

    return extract


# ------------------------------------------------------------------ token buckets

BUCKET_FIELDS = (
    F("uncached_input_tokens", type="int", required=False),
    F("cache_read_tokens", type="int", required=False),
    F("cache_write_tokens", type="int", required=False),
    F("cache_write_1h_tokens", type="int", required=False),
    F("output_tokens", type="int", required=False),
    F("reasoning_tokens", type="int", required=False),
)


def token_buckets(usage: dict, provider: str | None) -> dict[str, Any]:
    """Disjoint token buckets for one usage object, or ValueError with the reason."""
    from orchestration.pricing.usage import UsageRejected, normalize_usage

    try:
        b = normalize_usage(usage, provider)
    except UsageRejected as exc:
        raise ValueError(f"usage cannot be mapped to token buckets: {exc}") from None
    write_1h = getattr(b, "cache_write_1h_tokens", 0) or 0
    write_total = getattr(b, "cache_write_tokens", None)
    if write_total is None:
        write_total = (getattr(b, "cache_write_5m_tokens", 0) or 0) + write_1h
    return {
        "uncached_input_tokens": b.uncached_input_tokens,
        "cache_read_tokens": b.cache_read_tokens,
        "cache_write_tokens": write_total,
        "cache_write_1h_tokens": write_1h,
        "output_tokens": b.output_tokens,
        "reasoning_tokens": getattr(b, "reasoning_tokens", None),
    }


# ------------------------------------------------------------------ OpenAI

OPENAI_USAGE = SourceSpec(
    name="openai_usage",
    format="json",
    description="OpenAI organization Usage API (/v1/organization/usage/completions) pages, one row per bucket result.",
    extract=report_results("start_time", "end_time"),
    key=("bucket_start", "project_id", "user_id", "api_key_id", "model", "batch", "service_tier"),
    fields=(
        F("bucket_start", "_bucket_start", "epoch"),
        F("bucket_end", "_bucket_end", "epoch"),
        F("project_id", required=False),
        F("user_id", required=False),
        F("api_key_id", required=False),
        F("model", required=False),  # null when the report was not grouped by model
        F("batch", type="bool", required=False),
        F("service_tier", required=False),
        F("input_tokens", type="int", min=0, max=MAX_TOKENS_PER_BUCKET),
        F("input_cached_tokens", type="int", required=False, min=0, max=MAX_TOKENS_PER_BUCKET),
        F("output_tokens", type="int", min=0, max=MAX_TOKENS_PER_BUCKET),
        F("num_model_requests", type="int", min=0),
    ),
    row_checks=(
        (lambda r: r["input_cached_tokens"] is None or r["input_cached_tokens"] <= r["input_tokens"],
         "input_cached_tokens > input_tokens (cached tokens are part of input)"),
    ),
)

OPENAI_COSTS = SourceSpec(
    name="openai_costs",
    format="json",
    description="OpenAI organization Costs API (/v1/organization/costs) pages, one row per bucket result.",
    extract=report_results("start_time", "end_time"),
    key=("bucket_start", "project_id", "line_item"),
    fields=(
        F("bucket_start", "_bucket_start", "epoch"),
        F("bucket_end", "_bucket_end", "epoch"),
        F("amount_usd", "amount.value", "decimal"),
        F("currency", "amount.currency", choices=("usd",)),
        F("line_item", required=False),  # e.g. "gpt-4o-mini-2024-07-18, input"
        F("project_id", required=False),
    ),
)

# ------------------------------------------------------------------ Anthropic

ANTHROPIC_USAGE = SourceSpec(
    name="anthropic_usage",
    format="json",
    description="Anthropic Admin API messages usage report pages, one row per bucket result.",
    extract=report_results("starting_at", "ending_at"),
    key=("bucket_start", "api_key_id", "workspace_id", "model", "service_tier", "context_window"),
    fields=(
        F("bucket_start", "_bucket_start", "timestamp"),
        F("bucket_end", "_bucket_end", "timestamp"),
        F("api_key_id", required=False),
        F("workspace_id", required=False),
        F("model", required=False),
        F("service_tier", required=False),
        F("context_window", required=False),
        # Anthropic reports cache reads and writes apart from uncached input
        F("uncached_input_tokens", type="int", min=0, max=MAX_TOKENS_PER_BUCKET),
        F("cache_read_input_tokens", type="int", required=False, min=0, max=MAX_TOKENS_PER_BUCKET),
        F("cache_write_5m_tokens", "cache_creation.ephemeral_5m_input_tokens", "int", required=False, min=0,
          max=MAX_TOKENS_PER_BUCKET),
        F("cache_write_1h_tokens", "cache_creation.ephemeral_1h_input_tokens", "int", required=False, min=0,
          max=MAX_TOKENS_PER_BUCKET),
        F("output_tokens", type="int", min=0, max=MAX_TOKENS_PER_BUCKET),
        F("web_search_requests", "server_tool_use.web_search_requests", "int", required=False, min=0),
    ),
)


def _anthropic_cost_row_check(row: dict) -> bool:
    return row["currency"] is None or row["currency"].upper() == "USD"


ANTHROPIC_COSTS = SourceSpec(
    name="anthropic_costs",
    format="json",
    description="Anthropic Admin API cost report pages (amount is a decimal string in cents).",
    extract=report_results("starting_at", "ending_at"),
    key=None,  # several lines may share every grouping value; the file is the unit of replay
    fields=(
        F("bucket_start", "_bucket_start", "timestamp"),
        F("bucket_end", "_bucket_end", "timestamp"),
        F("amount_cents", "amount", "decimal"),
        F("currency", required=False),
        F("workspace_id", required=False),
        F("description", required=False),
        F("cost_type", required=False),
        F("context_window", required=False),
        F("model", required=False),
        F("service_tier", required=False),
        F("token_type", required=False),
    ),
    row_checks=((_anthropic_cost_row_check, "currency is not USD"),),
)

# ------------------------------------------------------------------ LiteLLM


def _litellm_rows(document: Any) -> Iterator[tuple[str, dict]]:
    """A SpendLogs export: a JSON array of rows, a {"data": [...]} page, or one row."""
    if isinstance(document, dict) and "request_id" in document:
        yield "$", document
        return
    rows = document["data"] if isinstance(document, dict) else document
    for i, row in enumerate(rows):
        yield f"[{i}]", row


def _litellm_buckets(record: dict, row: dict) -> dict[str, Any]:
    metadata = record.get("metadata")
    usage = metadata.get("usage_object") if isinstance(metadata, dict) else None
    if not isinstance(usage, dict) or not usage:
        usage = {"prompt_tokens": row["prompt_tokens"], "completion_tokens": row["completion_tokens"],
                 "total_tokens": row["total_tokens"]}
    return token_buckets(usage, row["custom_llm_provider"])


LITELLM_SPEND_LOGS = SourceSpec(
    name="litellm_spend_logs",
    format="json",
    description="LiteLLM proxy LiteLLM_SpendLogs rows exported as JSON (array or JSON Lines).",
    extract=_litellm_rows,
    key="request_id",
    private_keys=("messages", "response", "proxy_server_request"),
    payload_extra=(("metadata", "usage_object"),),
    fields=(
        F("request_id"),
        F("call_type", required=False),
        F("started_at", "startTime", "timestamp"),
        F("ended_at", "endTime", "timestamp", required=False),
        F("model"),
        F("model_group", required=False),
        F("custom_llm_provider", required=False),
        F("prompt_tokens", type="int", min=0, max=MAX_TOKENS_PER_CALL),
        F("completion_tokens", type="int", min=0, max=MAX_TOKENS_PER_CALL),
        F("total_tokens", type="int", min=0, max=2 * MAX_TOKENS_PER_CALL),
        F("spend_usd", "spend", "decimal", min=0),
        F("api_key_hash", "api_key", required=False),
        F("user_id", "user", required=False),
        F("team_id", required=False),
        F("end_user", required=False),
        F("agent_id", required=False),
        F("session_id", required=False),
        F("cache_hit", required=False),
        F("status", required=False),
        F("request_duration_ms", type="int", required=False, min=0),
    ),
    derived=BUCKET_FIELDS,
    derive=_litellm_buckets,
)

# ------------------------------------------------------------------ OpenTelemetry GenAI

# The attributes a record keeps (a whitelist): nothing else of a span reaches the
# warehouse, not even a reject's payload (content hides under many keys: gen_ai.prompt.0.*,
# llm.input_messages, input.value, events...).
_OTEL_READ_ATTRIBUTES = (
    "service.name", "gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.system",
    "gen_ai.request.model", "gen_ai.response.model", "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens", "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_creation.input_tokens", "gen_ai.agent.id", "gen_ai.agent.name",
    "gen_ai.conversation.id",
)


def _otel_value(value: Any) -> Any:
    if not isinstance(value, dict):
        return None
    for kind in ("stringValue", "boolValue", "doubleValue", "intValue"):
        if kind in value:
            # OTLP JSON encodes int64 as a string: the typed field parses it, so a bad
            # count rejects its span, not the whole document
            return value[kind]
    return None  # arrays, maps, bytes: not used here


def _otel_attributes(attributes: Any) -> tuple[dict[str, Any], bool]:
    """(the whitelisted attributes, keyed with _ for ., and whether any gen_ai.* key exists)."""
    out, genai = {}, False
    for attribute in attributes if isinstance(attributes, list) else []:
        key = attribute.get("key") if isinstance(attribute, dict) else None
        if not isinstance(key, str):
            continue
        genai = genai or key.startswith("gen_ai.")
        if key in _OTEL_READ_ATTRIBUTES:
            out[key.replace(".", "_")] = _otel_value(attribute.get("value"))
    return out, genai


def _nanos_to_seconds(value: Any) -> Any:
    """Unix nanoseconds (a string in OTLP JSON) as exact seconds; anything else unchanged,
    for the epoch field to reject with its reason."""
    try:
        return Decimal(int(value)) / Decimal(10**9)
    except (TypeError, ValueError):
        return value


def _otel_genai_spans(document: Any) -> Iterator[tuple[str, dict]]:
    """OTLP JSON: resourceSpans[].scopeSpans[].spans[]; GenAI spans only (spans without any
    gen_ai.* attribute — HTTP, DB... — are other telemetry, not records of this source)."""
    for prefix, page in _pages(document):
        for r, resource_spans in enumerate(page["resourceSpans"]):
            resource, _ = _otel_attributes((resource_spans.get("resource") or {}).get("attributes"))
            for s, scope_spans in enumerate(resource_spans["scopeSpans"]):
                for i, span in enumerate(scope_spans["spans"]):
                    if not isinstance(span, dict):
                        raise TypeError(f"{prefix}resourceSpans[{r}].scopeSpans[{s}].spans[{i}] is not an object")
                    attributes, genai = _otel_attributes(span.get("attributes"))
                    if not genai:
                        continue
                    status = span.get("status")
                    # .get: a span missing a required id is rejected for it, alone
                    yield f"{prefix}resourceSpans[{r}].scopeSpans[{s}].spans[{i}]", {
                        "trace_id": span.get("traceId"),
                        "span_id": span.get("spanId"),
                        "parent_span_id": span.get("parentSpanId") or None,
                        "name": span.get("name"),
                        "start_s": _nanos_to_seconds(span.get("startTimeUnixNano")),
                        "end_s": _nanos_to_seconds(span.get("endTimeUnixNano")) if span.get("endTimeUnixNano") else None,
                        "status_code": status.get("code") if isinstance(status, dict) else None,
                        "service_name": resource.get("service_name"),
                        "attributes": attributes,
                    }


def _otlp_int(value: Any) -> Any:
    """An OTLP JSON int64 (a decimal string) as int; anything else unchanged (rejected later)."""
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


def _otel_buckets(record: dict, row: dict) -> dict[str, Any]:
    a = record["attributes"]
    # back to the OTel attribute names the normaliser reads (totals as the fields typed them)
    usage = {
        "gen_ai.usage.input_tokens": row["provider_input_tokens"],
        "gen_ai.usage.output_tokens": row["provider_output_tokens"],
        "gen_ai.usage.cache_read.input_tokens": _otlp_int(a.get("gen_ai_usage_cache_read_input_tokens")),
        "gen_ai.usage.cache_creation.input_tokens": _otlp_int(a.get("gen_ai_usage_cache_creation_input_tokens")),
    }
    usage = {k: v for k, v in usage.items() if v is not None}
    return token_buckets(usage, row["provider"] or row["system"] or "otel")


OTEL_GENAI_SPANS = SourceSpec(
    name="otel_genai_spans",
    format="json",
    description="OpenTelemetry GenAI client spans as OTLP JSON (one row per GenAI span).",
    extract=_otel_genai_spans,
    key=("trace_id", "span_id"),
    # the record holds whitelisted attributes only; these keys are withheld from any
    # payload all the same (a malformed document's payload is withheld whole)
    private_keys=("value", "events", "body"),
    payload_extra=(("attributes",),),
    fields=(
        F("trace_id"),
        F("span_id"),
        F("parent_span_id", required=False),
        F("span_name", "name", required=False),
        F("started_at", "start_s", "epoch"),
        F("ended_at", "end_s", "epoch", required=False),
        F("status_code", required=False),
        F("service_name", required=False),
        F("operation", "attributes.gen_ai_operation_name", required=False),
        F("provider", "attributes.gen_ai_provider_name", required=False),
        F("system", "attributes.gen_ai_system", required=False),  # pre-1.37 name of the provider
        F("request_model", "attributes.gen_ai_request_model"),
        F("response_model", "attributes.gen_ai_response_model", required=False),
        # the provider's own totals (input includes cache reads and writes, per the OTel spec)
        F("provider_input_tokens", "attributes.gen_ai_usage_input_tokens", "int", min=0, max=MAX_TOKENS_PER_CALL),
        F("provider_output_tokens", "attributes.gen_ai_usage_output_tokens", "int", min=0, max=MAX_TOKENS_PER_CALL),
        F("agent_id", "attributes.gen_ai_agent_id", required=False),
        F("agent_name", "attributes.gen_ai_agent_name", required=False),
        F("conversation_id", "attributes.gen_ai_conversation_id", required=False),
    ),
    derived=BUCKET_FIELDS,
    derive=_otel_buckets,
)

PROVIDER_SOURCES: tuple[SourceSpec, ...] = (
    OPENAI_USAGE, OPENAI_COSTS, ANTHROPIC_USAGE, ANTHROPIC_COSTS, LITELLM_SPEND_LOGS, OTEL_GENAI_SPANS,
)
