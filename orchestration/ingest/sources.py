"""What each raw export looks like: one `SourceSpec` per source family.

A spec names the landing folder, the file format, the typed columns (with the JSON path
each comes from), the validation rules and the key. The parser and the loader are
generic over specs, so adding a source is adding a spec here (and a dbt staging model).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Literal

# epoch: seconds since 1970-01-01 UTC (as the OpenAI and Anthropic report APIs page by);
# json: an object or array kept as JSON text (e.g. FOCUS Tags).
FieldType = Literal["str", "int", "float", "decimal", "bool", "timestamp", "epoch", "json"]

# DuckDB column type per field type. Money is DECIMAL so that it reconciles to the cent.
DUCKDB_TYPES: dict[str, str] = {
    "str": "VARCHAR",
    "int": "BIGINT",
    "float": "DOUBLE",
    "decimal": "DECIMAL(20,10)",
    "bool": "BOOLEAN",
    "timestamp": "TIMESTAMP",  # always UTC; offsets are converted on the way in
    "epoch": "TIMESTAMP",
    "json": "VARCHAR",
}

# A single LLM request over 10M tokens, or an execution over 100M, is a unit or
# counter bug, not usage: no model has a context window that size.
MAX_TOKENS_PER_CALL = 10_000_000
MAX_TOKENS_PER_EXECUTION = 100_000_000
MAX_DURATION_MS = 7 * 24 * 3600 * 1000


@dataclass(frozen=True)
class Field:
    column: str
    path: tuple[str, ...]
    type: FieldType
    required: bool = True
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] | None = None
    unit: str | None = None  # a unit suffix the export appends to values ("3 %", "1234 MiB")
    # (precision, scale) of a "decimal" column where DECIMAL(20,10) is too narrow (FOCUS
    # costs carry 11 decimals); a value with more decimals or digits is rejected, not rounded.
    precision: tuple[int, int] | None = None
    # a timestamp that may lie ahead of the load (the end of the current billing period):
    # exempt from the MAX_FUTURE_SKEW_HOURS check
    future_ok: bool = False


RowCheck = tuple[Callable[[dict[str, Any]], bool], str]


# For "json" sources: turns one parsed JSON document (a file, or one line of a paged dump)
# into its records, each with a locator saying where in the document it sits.
RecordExtractor = Callable[[Any], Iterator[tuple[str, Any]]]


@dataclass(frozen=True)
class SourceSpec:
    name: str  # raw table name, and the folder under data/raw/
    format: Literal["jsonl", "csv", "json"]
    # column(s) identifying a record; a second record with the same key in one file is
    # rejected. None where the export has no natural key.
    key: str | tuple[str, ...] | None
    fields: tuple[Field, ...]
    row_checks: tuple[RowCheck, ...] = field(default_factory=tuple)
    description: str = ""
    extract: RecordExtractor | None = None  # required for format "json"
    null_tokens: tuple[str, ...] = ()  # strings that mean null in this export ("NULL", "[N/A]")
    # Keys holding prompt/response text: never stored, not even in a reject's payload.
    private_keys: tuple[str, ...] = ()
    # Columns computed from the record after validation (e.g. disjoint token buckets);
    # `derive(record, row)` returns their values or raises ValueError with the reason.
    derived: tuple[Field, ...] = ()
    derive: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]] | None = None
    # For sources with private_keys: paths a reject's payload may keep besides the fields'
    # own (e.g. the usage object `derive` reads); everything else is left out.
    payload_extra: tuple[tuple[str, ...], ...] = ()
    # Columns identifying a record across files where they differ from `key` (FOCUS line
    # Id); () for a source whose files cannot repeat a record (the GPU host is in the path).
    # Duplicates by this key are reported (raw.duplicate_keys), and staging keeps one copy.
    cross_file_key: tuple[str, ...] | None = None

    @property
    def all_fields(self) -> tuple[Field, ...]:
        return self.fields + self.derived

    @property
    def payload_paths(self) -> tuple[tuple[str, ...], ...]:
        return tuple(f.path for f in self.fields) + self.payload_extra

    @property
    def duplicate_key(self) -> tuple[str, ...]:
        """The key duplicates across files are reported by (empty: not reported)."""
        if self.cross_file_key is not None:
            return self.cross_file_key
        return (self.key,) if isinstance(self.key, str) else (self.key or ())

    @property
    def table(self) -> str:
        return f"raw.{self.name}"

    @property
    def columns(self) -> list[str]:
        return [f.column for f in self.all_fields]


def F(column: str, path: str | None = None, type: FieldType = "str", **kwargs: Any) -> Field:
    """Shorthand: path is dotted ('llm_resources.input_tokens'); defaults to the column.
    For CSV sources the path is the header name as written, dots included."""
    return Field(column, tuple((path or column).split(".")), type, **kwargs)


def _le(a: str, b: str) -> Callable[[dict[str, Any]], bool]:
    return lambda r: r[a] is None or r[b] is None or r[a] <= r[b]


def _sum_eq(total: str, *parts: str) -> Callable[[dict[str, Any]], bool]:
    return lambda r: r[total] is None or any(r[p] is None for p in parts) or r[total] == sum(r[p] for p in parts)


EXECUTIONS = SourceSpec(
    name="executions",
    format="jsonl",
    key="execution_id",
    description="One agent execution in the platform's nested ResourceUtilization shape.",
    fields=(
        F("execution_id"),
        F("agent_id"),
        F("workspace_id"),
        F("user_id", required=False),
        F("query_id", required=False),
        F("task_type", required=False),
        F("started_at", "timestamp", "timestamp"),
        F("duration_ms", type="int", min=0, max=MAX_DURATION_MS),
        F("queue_wait_ms", type="int", required=False, min=0, max=MAX_DURATION_MS),
        F("status", choices=("success", "failed", "timeout")),
        F("quality_score", type="float", required=False, min=0, max=1),
        F("cpu_core_seconds", "compute_resources.cpu_usage.core_seconds", "float", min=0),
        F("cpu_avg_percent", "compute_resources.cpu_usage.avg_percent", "float", min=0, max=100),
        F("cpu_peak_percent", "compute_resources.cpu_usage.peak_percent", "float", min=0, max=100),
        F("cpu_allocated_cores", "compute_resources.cpu_usage.allocated_cores", "float", required=False, min=0),
        F("memory_avg_mb", "compute_resources.memory_usage.avg_mb", "float", min=0),
        F("memory_peak_mb", "compute_resources.memory_usage.peak_mb", "float", min=0),
        F("memory_allocated_mb", "compute_resources.memory_usage.allocated_mb", "float", required=False, min=0),
        F("memory_mb_seconds", "compute_resources.memory_usage.mb_seconds", "float", min=0),
        F("gpu_utilization_percent", "compute_resources.gpu_usage.utilization_percent", "float", required=False, min=0, max=100),
        F("gpu_memory_mb", "compute_resources.gpu_usage.memory_mb", "float", required=False, min=0),
        F("gpu_compute_units", "compute_resources.gpu_usage.compute_units", "float", required=False, min=0),
        F("network_bytes_in", "compute_resources.network_io.bytes_in", "int", min=0),
        F("network_bytes_out", "compute_resources.network_io.bytes_out", "int", min=0),
        F("llm_provider", "llm_resources.provider", required=False),
        F("llm_model", "llm_resources.model"),
        F("input_tokens", "llm_resources.input_tokens", "int", min=0, max=MAX_TOKENS_PER_EXECUTION),
        F("output_tokens", "llm_resources.output_tokens", "int", min=0, max=MAX_TOKENS_PER_EXECUTION),
        F("total_tokens", "llm_resources.total_tokens", "int", min=0, max=MAX_TOKENS_PER_EXECUTION),
        F("context_window_used", "llm_resources.context_window_used", "int", required=False, min=0, max=MAX_TOKENS_PER_CALL),
        F("prompt_cache_hits", "llm_resources.prompt_cache_hits", "int", required=False, min=0, max=MAX_TOKENS_PER_EXECUTION),
        F("llm_calls", "llm_resources.llm_calls", "int", required=False, min=0),
        F("reported_llm_cost_usd", "llm_resources.cost_usd", "decimal", required=False, min=0),
        F("temp_storage_mb", "storage_resources.temp_storage_mb", "float", required=False, min=0),
        F("persistent_storage_mb", "storage_resources.persistent_storage_mb", "float", required=False, min=0),
        F("cache_size_mb", "storage_resources.cache_size_mb", "float", required=False, min=0),
        F("database_operations", "storage_resources.database_operations", "int", required=False, min=0),
        F("api_calls_count", type="int", required=False, min=0),
    ),
    row_checks=(
        (_sum_eq("total_tokens", "input_tokens", "output_tokens"), "total_tokens != input_tokens + output_tokens"),
        (_le("prompt_cache_hits", "input_tokens"), "prompt_cache_hits > input_tokens"),
        (_le("cpu_avg_percent", "cpu_peak_percent"), "cpu avg_percent > peak_percent"),
        (_le("memory_avg_mb", "memory_peak_mb"), "memory avg_mb > peak_mb"),
    ),
)

LLM_CALLS = SourceSpec(
    name="llm_calls",
    format="jsonl",
    key="call_id",
    description="One request to a model, as an LLM gateway logs it (agent identified by name).",
    fields=(
        F("call_id"),
        F("query_id", required=False),
        F("execution_id", required=False),
        F("agent_name"),
        F("provider"),
        F("model"),
        F("prompt_tokens", type="int", min=0, max=MAX_TOKENS_PER_CALL),
        F("completion_tokens", type="int", min=0, max=MAX_TOKENS_PER_CALL),
        F("total_tokens", type="int", min=0, max=2 * MAX_TOKENS_PER_CALL),
        F("cached_tokens", type="int", required=False, min=0, max=MAX_TOKENS_PER_CALL),
        F("started_at", type="timestamp"),
        F("completed_at", type="timestamp", required=False),
        F("latency_ms", type="int", min=0, max=MAX_DURATION_MS),
        F("status", choices=("success", "error", "timeout")),
        F("prompt_fingerprint", required=False),
    ),
    row_checks=(
        (_sum_eq("total_tokens", "prompt_tokens", "completion_tokens"), "total_tokens != prompt_tokens + completion_tokens"),
        (_le("cached_tokens", "prompt_tokens"), "cached_tokens > prompt_tokens (cached tokens are part of the prompt)"),
        (_le("started_at", "completed_at"), "completed_at before started_at"),
    ),
)

API_CALLS = SourceSpec(
    name="api_calls",
    format="csv",
    key="request_id",
    description="One external API request made by an agent execution.",
    fields=(
        F("request_id"),
        F("execution_id", required=False),
        F("agent_id"),
        F("workspace_id", required=False),
        F("requested_at", "timestamp", "timestamp"),
        F("endpoint"),
        F("method", required=False),
        F("status_code", type="int", min=100, max=599),
        F("latency_ms", type="int", min=0, max=MAX_DURATION_MS),
        F("rate_limited", type="bool"),
        F("retry_attempt", type="int", min=0, max=1000),
        F("error_type", required=False),
        F("cost_usd", type="decimal", min=0),
        F("request_fingerprint", required=False),
    ),
)

# The other source families live in their own modules; they import the helpers above.
from .sources_infra import INFRA_SOURCES  # noqa: E402
from .sources_providers import PROVIDER_SOURCES  # noqa: E402

SOURCES: dict[str, SourceSpec] = {
    s.name: s for s in (EXECUTIONS, LLM_CALLS, API_CALLS, *PROVIDER_SOURCES, *INFRA_SOURCES)
}
