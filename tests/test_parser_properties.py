"""Property-based tests of the export parsers (hypothesis): any input yields rows or
rejects, never an unhandled exception, and never a silent drop.

Records are counted apart from the parser: non-blank physical lines for JSON Lines, rows
written by csv.writer for CSV, results / GenAI spans built into a document for JSON. For
line formats every physical line is accounted for by line number: it is a row or a reject.
Examples are derandomized, so CI sees the same inputs on every run.
"""

import csv
import io
import json
from datetime import datetime, timezone

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from orchestration.ingest.loader import conservation_violations, ensure_raw_schema, load_file
from orchestration.ingest.parsing import parse_bytes
from orchestration.ingest.sources import SOURCES

NOW = datetime(2026, 11, 24, tzinfo=timezone.utc)
SETTINGS = dict(derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
BY_FORMAT = {fmt: [s for s in SOURCES.values() if s.format == fmt] for fmt in ("jsonl", "csv", "json")}

# A valid record per line source, and a valid row per CSV source (header -> value).
GOOD_JSONL = {
    "llm_calls": {"call_id": "c1", "agent_name": "alpha-bot", "provider": "openai", "model": "gpt-4o-mini",
                  "prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200, "cached_tokens": 0,
                  "started_at": "2026-10-31T09:00:00Z", "completed_at": "2026-10-31T09:00:02Z",
                  "latency_ms": 2000, "status": "success"},
    "executions": {"execution_id": "e1", "agent_id": "agt_a", "workspace_id": "ws_one",
                   "timestamp": "2026-10-31T09:00:00Z", "duration_ms": 60000, "status": "success",
                   "compute_resources": {"cpu_usage": {"core_seconds": 30.0, "avg_percent": 25.0, "peak_percent": 90.0},
                                         "memory_usage": {"avg_mb": 1024.0, "peak_mb": 2048.0, "mb_seconds": 61440.0},
                                         "gpu_usage": None, "network_io": {"bytes_in": 0, "bytes_out": 0}},
                   "llm_resources": {"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 4000,
                                     "output_tokens": 1000, "total_tokens": 5000}},
}
GOOD_CSV = {
    "api_calls": {"request_id": "r1", "execution_id": "e1", "agent_id": "agt_a", "workspace_id": "ws_one",
                  "timestamp": "2026-10-31T09:00:10Z", "endpoint": "search.api/v1/query", "method": "GET",
                  "status_code": "200", "latency_ms": "120", "rate_limited": "false", "retry_attempt": "0",
                  "error_type": "", "cost_usd": "0.002", "request_fingerprint": "aaa"},
    "focus": {"BilledCost": "1.5", "BillingCurrency": "USD", "ChargePeriodStart": "2026-10-15 00:00:00",
              "ChargePeriodEnd": "2026-10-16 00:00:00", "Id": "L1", "Tags": '{"agent_id": "agt_a"}'},
    "gpu_metrics": {"timestamp": "2026/10/31 09:00:00.000", "index": "0", "name": "NVIDIA A100",
                    "utilization.gpu [%]": "40 %", "memory.used [MiB]": "6144 MiB",
                    "memory.total [MiB]": "81920 MiB", "power.draw [W]": "61.23 W"},
    "container_metrics": {"timestamp": "2026-10-31T09:00:00Z", "component": "api_layer", "container": "gw",
                          "cpu_usage_cores": "0.5", "cpu_request_cores": "2", "memory_working_set_bytes": "1000",
                          "memory_request_bytes": "2000"},
}

# JSON values of every kind, plus raw fragments json.dumps never writes but exports may.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
    | st.decimals(allow_nan=False, allow_infinity=False).map(str),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
raw_fragments = st.sampled_from([
    '"\\ud800"', '"\\u0000"', "1e400", "-1e400", "-0", "99999999999999999999999", "NaN", "-Infinity",
    '"9999-12-31T23:00:00-05:00"', '"0001-01-01T00:00:00+05:00"', '"2026-13-45"', "[" * 2000 + "]" * 2000,
])
line_endings = st.sampled_from(["\n", "\r\n"])


def _check_accounting(result):
    assert result.rows_read == len(result.rows) + len(result.rejects)
    assert all(isinstance(r.reason, str) and r.reason for r in result.rejects)


def _physical_lines(data: bytes) -> set[int]:
    """Line numbers of non-blank lines, split on \\n as the JSON Lines format defines."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return {i for i, line in enumerate(data.split(b"\n"), start=1) if line.rstrip(b"\r").strip()}


@st.composite
def mutated_jsonl(draw, source: str) -> bytes:
    """Valid records, some mutated (a field dropped, retyped or set to a raw fragment),
    with garbage lines, blank lines and mixed line endings in between."""
    lines = []
    for i in range(draw(st.integers(1, 6))):
        record = json.loads(json.dumps(GOOD_JSONL[source]))
        record[next(iter(record))] = f"id-{i}"
        key = draw(st.sampled_from(sorted(record)))
        action = draw(st.sampled_from(["keep", "drop", "value", "fragment", "garbage", "blank", "unicode"]))
        if action == "drop":
            del record[key]
        elif action == "value":
            record[key] = draw(json_values)
        if action == "fragment":
            text = json.dumps(record).replace(json.dumps(key) + ": ", json.dumps(key) + ": " + draw(raw_fragments) + ", \"x\": ", 1)
        elif action == "garbage":
            text = draw(st.text(max_size=30))
        elif action == "blank":
            text = draw(st.sampled_from(["", "   ", "\t"]))
        elif action == "unicode":
            record[key] = draw(st.text(min_size=1, max_size=10))
            text = json.dumps(record, ensure_ascii=draw(st.booleans()))
        else:
            text = json.dumps(record)
        lines.append(text.replace("\n", " ").replace("\r", " ") + draw(line_endings))
    data = "".join(lines).encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]  # a file cut anywhere
    return data


@settings(max_examples=60, **SETTINGS)
@given(data=st.binary(max_size=400), source=st.sampled_from(sorted(SOURCES)))
def test_arbitrary_bytes_never_raise_and_are_accounted_for(data, source):
    spec = SOURCES[source]
    result = parse_bytes(spec, data, now=NOW)
    _check_accounting(result)
    if spec.format == "jsonl":
        lines = _physical_lines(data)
        assert result.rows_read == len(lines)
        assert {r["_line_number"] for r in result.rows} | {r.line_number for r in result.rejects} == lines


@settings(max_examples=120, **SETTINGS)
@given(st.sampled_from(sorted(GOOD_JSONL)).flatmap(lambda s: st.tuples(st.just(s), mutated_jsonl(s))))
def test_mutated_json_lines_every_line_is_a_row_or_a_reject(case):
    source, data = case
    result = parse_bytes(SOURCES[source], data, now=NOW)
    _check_accounting(result)
    lines = _physical_lines(data)
    numbers = [r["_line_number"] for r in result.rows] + [r.line_number for r in result.rejects]
    assert sorted(numbers) == sorted(lines)  # each line once: no drop, no double count


@st.composite
def mutated_csv(draw, source: str) -> tuple[bytes, int]:
    """A CSV written by csv.writer (so the record count is known): the good row's values
    replaced at random, columns dropped or renamed, a BOM, CRLF. Returns (bytes, records)."""
    good = GOOD_CSV[source]
    header = list(good)
    if draw(st.booleans()):
        header.remove(draw(st.sampled_from(header)))
    if draw(st.booleans()):
        i = draw(st.integers(0, len(header) - 1))
        header[i] = header[i] + draw(st.sampled_from(["s", "_v2", " (usd)", ""]))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=draw(line_endings))
    writer.writerow(header)
    records = 0
    for _ in range(draw(st.integers(0, 5))):
        row = [good.get(h, "x") for h in header]
        for _ in range(draw(st.integers(0, 3))):
            # no lone \r: csv.writer quotes it only when it is in the line terminator
            row[draw(st.integers(0, len(row) - 1))] = draw(
                st.text(st.characters(blacklist_characters="\r"), max_size=15) | st.sampled_from(["NaN", "null", "NULL", "[N/A]", "-1", "1e999", "1" * 30]))
        if draw(st.integers(0, 9)) == 0:
            row = row + ["surplus"]
        writer.writerow(row)
        # csv.writer puts a lone "" on a one-column blank row; the parser skips rows with
        # only whitespace, as it does blank lines
        records += any(v.strip() for v in row)
    data = out.getvalue().encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    return data, records


@settings(max_examples=120, **SETTINGS)
@given(st.sampled_from(sorted(GOOD_CSV)).flatmap(lambda s: st.tuples(st.just(s), mutated_csv(s))))
def test_mutated_csv_every_record_is_a_row_or_a_reject(case):
    source, (data, records) = case
    result = parse_bytes(SOURCES[source], data, now=NOW)
    _check_accounting(result)
    assert result.rows_read == records


def _report_page(source: str, results: list) -> dict:
    start, end = ("start_time", "end_time") if source.startswith("openai") else ("starting_at", "ending_at")
    bounds = (1793404800, 1793491200) if source.startswith("openai") else ("2026-10-31T00:00:00Z", "2026-11-01T00:00:00Z")
    return {"data": [{start: bounds[0], end: bounds[1], "results": results}], "has_more": False}


@settings(max_examples=80, **SETTINGS)
@given(source=st.sampled_from(["openai_usage", "openai_costs", "anthropic_usage", "anthropic_costs"]),
       results=st.lists(st.dictionaries(st.sampled_from([
           "input_tokens", "output_tokens", "input_cached_tokens", "num_model_requests", "model", "amount",
           "currency", "uncached_input_tokens", "cache_read_input_tokens", "cache_creation", "project_id",
           "line_item", "batch"]), json_values, max_size=8), max_size=5),
       pages=st.integers(1, 3))
def test_report_pages_yield_one_record_per_result(source, results, pages):
    document = [_report_page(source, results)] * pages if pages > 1 else _report_page(source, results)
    result = parse_bytes(SOURCES[source], json.dumps(document).encode(), now=NOW)
    _check_accounting(result)
    assert result.rows_read == len(results) * pages


def _otel_span(i: int, attributes: list) -> dict:
    return {"traceId": "t" * 32, "spanId": f"{i:016d}", "name": "chat", "startTimeUnixNano": "1793451600000000000",
            "endTimeUnixNano": "1793451601500000000", "attributes": attributes}


@settings(max_examples=80, **SETTINGS)
@given(spans=st.lists(st.lists(st.fixed_dictionaries({
    "key": st.sampled_from(["gen_ai.request.model", "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
                            "gen_ai.prompt", "gen_ai.input.messages", "http.method", "gen_ai.agent.id"]),
    "value": st.dictionaries(st.sampled_from(["stringValue", "intValue", "doubleValue", "boolValue", "arrayValue"]),
                             json_values, max_size=2)}), max_size=6), max_size=5))
def test_otel_documents_yield_one_record_per_genai_span(spans):
    document = {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [
        {"spans": [_otel_span(i, attributes) for i, attributes in enumerate(spans)]}]}]}
    result = parse_bytes(SOURCES["otel_genai_spans"], json.dumps(document).encode(), now=NOW)
    _check_accounting(result)
    genai = sum(any(a["key"].startswith("gen_ai.") for a in attributes) for attributes in spans)
    assert result.rows_read == genai


@settings(max_examples=60, **SETTINGS)
@given(records=st.lists(st.dictionaries(st.sampled_from(sorted(GOOD_JSONL["llm_calls"]) + ["messages", "spend"]),
                                        json_values, max_size=6), max_size=4),
       as_lines=st.booleans())
def test_litellm_arrays_and_lines_yield_one_record_per_row(records, as_lines):
    rows = [{"request_id": f"r{i}", **r} for i, r in enumerate(records)]
    text = "\n".join(json.dumps(r) for r in rows) if as_lines else json.dumps(rows)
    result = parse_bytes(SOURCES["litellm_spend_logs"], text.encode(), now=NOW)
    _check_accounting(result)
    assert result.rows_read == len(rows)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("properties")
    conn = duckdb.connect(str(root / "warehouse.duckdb"))
    ensure_raw_schema(conn)
    yield conn, root
    conn.close()


@settings(max_examples=40, **SETTINGS)
@given(st.sampled_from(sorted(GOOD_JSONL)).flatmap(lambda s: st.tuples(st.just(s), mutated_jsonl(s))))
def test_whatever_parses_also_loads_into_duckdb_and_is_conserved(warehouse, case):
    conn, root = warehouse
    source, data = case
    path = root / source / f"{source}_2026-10-31.jsonl"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    report = load_file(conn, SOURCES[source], path, root, now=NOW)  # the same path: each load replaces the last
    assert report.status in ("loaded", "unchanged")  # unchanged: hypothesis drew the same bytes again
    assert report.rows_read == len(_physical_lines(data))
    stored = conn.execute(f"select count(*) from raw.{source}").fetchone()[0]
    rejected = conn.execute("select count(*) from raw.rejects where source = ?", [source]).fetchone()[0]
    assert (stored, rejected) == (report.rows_kept, report.rows_rejected)
    assert conservation_violations(conn, source) == []
