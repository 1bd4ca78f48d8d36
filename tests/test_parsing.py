"""The parser on hand-made inputs: every record ends as a row or a reject with a reason."""

import json
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from orchestration.ingest.parsing import export_date_of, parse_bytes
from orchestration.ingest.sources import API_CALLS, EXECUTIONS, LLM_CALLS

NOW = datetime(2026, 11, 24, tzinfo=timezone.utc)


def call(**overrides):
    row = {
        "call_id": "c1", "query_id": "q1", "execution_id": "e1", "agent_name": "bot", "provider": "openai",
        "model": "gpt-4o-mini", "prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120,
        "cached_tokens": 0, "started_at": "2026-11-01T10:00:00Z", "completed_at": "2026-11-01T10:00:01Z",
        "latency_ms": 1000, "status": "success", "prompt_fingerprint": "ab",
    }
    row.update(overrides)
    return row


def jsonl(*records) -> bytes:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records).encode() + b"\n"


def parse_calls(*records):
    return parse_bytes(LLM_CALLS, jsonl(*records), now=NOW)


def test_good_rows_are_typed_and_numbered():
    result = parse_calls(call(), call(call_id="c2", cached_tokens=64))
    assert result.rows_read == 2 and not result.rejects
    first, second = result.rows
    assert first["_line_number"] == 1 and second["_line_number"] == 2
    assert first["started_at"] == datetime(2026, 11, 1, 10, 0, 0)
    assert second["cached_tokens"] == 64


@pytest.mark.parametrize(
    "record, reason",
    [
        ('{"call_id": "c1", "agent_name": ', "invalid JSON"),
        ("[1, 2, 3]", "expected a JSON object"),
        (call(prompt_tokens="lots"), "prompt_tokens: not a number"),
        (call(prompt_tokens=-5, total_tokens=15), "below the minimum"),
        (call(prompt_tokens=10_000_001, total_tokens=10_000_021), "above the maximum"),
        (call(prompt_tokens=10.5), "expected an integer"),
        ('{"call_id": "c1", "prompt_tokens": NaN}', "not a finite number"),
        (call(model=None), "model: required field model is missing"),
        ({k: v for k, v in call().items() if k != "agent_name"}, "agent_name: required field"),
        (call(status="exploded"), "status: 'exploded' is not one of"),
        (call(started_at="yesterday"), "not an ISO-8601 timestamp"),
        (call(started_at="2027-06-01T00:00:00Z", completed_at="2027-06-01T00:00:01Z"), "in the future"),
        (call(total_tokens=999), "total_tokens != prompt_tokens + completion_tokens"),
        (call(cached_tokens=500), "cached_tokens > prompt_tokens"),
        (call(completed_at="2026-11-01T09:00:00Z"), "completed_at before started_at"),
    ],
)
def test_bad_records_are_rejected_with_a_reason(record, reason):
    result = parse_calls(call(call_id="good"), record)
    assert result.rows_read == 2
    assert [r["call_id"] for r in result.rows] == ["good"]  # the good row still loads
    assert len(result.rejects) == 1
    reject = result.rejects[0]
    assert reject.line_number == 2
    assert reason in reject.reason
    assert reject.payload  # the original record is kept for inspection


def test_timestamps_with_offsets_become_utc_and_naive_ones_are_utc():
    result = parse_calls(
        call(call_id="a", started_at="2026-11-01T12:00:00+02:00", completed_at="2026-11-01T12:00:01+02:00"),
        call(call_id="b", started_at="2026-11-01T10:00:00", completed_at="2026-11-01T10:00:01"),
    )
    assert [r["started_at"] for r in result.rows] == [datetime(2026, 11, 1, 10), datetime(2026, 11, 1, 10)]


def test_duplicate_key_within_a_file_is_quarantined_not_dropped():
    result = parse_calls(call(), call(), call(call_id="c2"))
    assert [r["call_id"] for r in result.rows] == ["c1", "c2"]
    assert len(result.rejects) == 1 and "first seen on line 1" in result.rejects[0].reason


def test_blank_lines_crlf_bom_and_invalid_utf8():
    data = b"\xef\xbb\xbf" + json.dumps(call()).encode() + b"\r\n\r\n" + b'{"call_id": "\xff\xfe"}\n'
    result = parse_bytes(LLM_CALLS, data, now=NOW)
    assert result.rows_read == 2 and len(result.rows) == 1
    assert result.rejects[0].line_number == 3 and "invalid UTF-8" in result.rejects[0].reason


def test_nested_execution_record_is_flattened_and_absent_gpu_is_null():
    record = {
        "execution_id": "e1", "agent_id": "a", "workspace_id": "w", "timestamp": "2026-11-01T00:00:00Z",
        "duration_ms": 1000, "status": "success",
        "compute_resources": {
            "cpu_usage": {"core_seconds": 0.5, "avg_percent": 50, "peak_percent": 60},
            "memory_usage": {"avg_mb": 10, "peak_mb": 20, "mb_seconds": 10},
            "gpu_usage": None,
            "network_io": {"bytes_in": 1, "bytes_out": 2},
        },
        "llm_resources": {"model": "m", "input_tokens": 10, "output_tokens": 5, "total_tokens": 15, "cost_usd": 0.000123},
    }
    result = parse_bytes(EXECUTIONS, jsonl(record), now=NOW)
    assert not result.rejects, result.rejects
    row = result.rows[0]
    assert row["cpu_core_seconds"] == 0.5 and row["gpu_compute_units"] is None and row["network_bytes_out"] == 2
    assert row["reported_llm_cost_usd"] == Decimal("0.000123")  # money parsed exactly, never via float


def test_execution_whose_compute_block_is_not_an_object_is_rejected():
    record = {"execution_id": "e1", "compute_resources": "n/a"}
    result = parse_bytes(EXECUTIONS, jsonl(record), now=NOW)
    assert not result.rows and "is not an object" in result.rejects[0].reason


HEADER = "request_id,execution_id,agent_id,workspace_id,timestamp,endpoint,method,status_code,latency_ms,rate_limited,retry_attempt,error_type,cost_usd,request_fingerprint"


def test_csv_rows_with_wrong_field_count_or_types_are_rejected_with_their_line():
    text = "\n".join([
        HEADER,
        "r1,e1,a1,w1,2026-11-01T10:00:00Z,x.api/v1,GET,200,12,false,0,,0.0010,fp",
        "r2,e1,a1,w1,2026-11-01T10:00:00Z,x.api/v1,GET,200,12,false,0,,0.0010",
        "r3,e1,a1,w1,2026-11-01T10:00:00Z,x.api/v1,GET,abc,12,maybe,0,,0.0010,fp",
        '"r4",e1,a1,,2026-11-01T10:00:00Z,"x.api/v1, with comma",POST,429,12,true,1,rate_limited,0.0020,fp',
    ]) + "\n"
    result = parse_bytes(API_CALLS, text.encode(), now=NOW)
    assert result.rows_read == 4
    assert [r["request_id"] for r in result.rows] == ["r1", "r4"]
    assert result.rows[1]["endpoint"] == "x.api/v1, with comma" and result.rows[1]["workspace_id"] is None
    assert result.rows[0]["cost_usd"] == Decimal("0.0010")
    reasons = {r.line_number: r.reason for r in result.rejects}
    assert "expected 14 fields, got 13" in reasons[3]
    assert "status_code: not a number" in reasons[4] and "rate_limited: not a boolean" in reasons[4]


def test_csv_with_a_renamed_required_column_rejects_every_row_naming_it():
    text = HEADER.replace("cost_usd", "cost") + "\nr1,e1,a1,w1,2026-11-01T10:00:00Z,x,GET,200,12,false,0,,0.001,fp\n"
    result = parse_bytes(API_CALLS, text.encode(), now=NOW)
    assert not result.rows and "header lacks required column(s): cost_usd" in result.rejects[0].reason


def test_empty_and_header_only_files_read_nothing():
    assert parse_bytes(API_CALLS, b"", now=NOW).rows_read == 0
    assert parse_bytes(API_CALLS, (HEADER + "\n").encode(), now=NOW).rows_read == 0
    assert parse_bytes(LLM_CALLS, b"", now=NOW).rows_read == 0


def test_export_date_comes_from_the_file_name(tmp_path):
    from datetime import date

    assert export_date_of(tmp_path / "llm_calls_2026-10-15.jsonl") == date(2026, 10, 15)
    assert export_date_of(tmp_path / "calls.jsonl") is None
    assert export_date_of(tmp_path / "calls_2026-13-45.jsonl") is None


# ---------------------------------------------------------------- decimal precision, future_ok, units (issue 3)

from orchestration.ingest.sources import F as _F  # noqa: E402
from orchestration.ingest.sources import SourceSpec as _SourceSpec  # noqa: E402

_WIDE = _SourceSpec(
    name="wide", format="csv", key=None, null_tokens=("NULL", "[N/A]"),
    fields=(
        _F("cost", "Cost", "decimal", precision=(38, 12)),
        _F("narrow", "Narrow", "decimal", required=False),
        _F("period_end", "PeriodEnd", "timestamp", required=False, future_ok=True),
        _F("seen_at", "SeenAt", "timestamp", required=False),
        _F("mem", "memory.used [MiB]", "float", required=False, unit="MiB"),
    ),
)


def _wide(*lines: str):
    return parse_bytes(_WIDE, ("Cost,Narrow,PeriodEnd,SeenAt,memory.used [MiB]\n" + "\n".join(lines) + "\n").encode(), now=NOW)


def test_decimal_columns_keep_their_declared_scale_and_reject_what_does_not_fit():
    result = _wide(
        "0.00001605990,0.1234567890,,,",  # 11 decimals fit DECIMAL(38,12); 10 fit the default (20,10)
        "2.000000000000000,1,,,",  # trailing zeros beyond the scale are not a loss
        "0.0000000000001,1,,,",  # 13 significant decimals: more than 12
        "1,0.12345678901,,,",  # 11 decimals in a default DECIMAL(20,10) column
        "123456789012345678901234567,1,,,",  # 27 integer digits: DECIMAL(38,12) holds 26
        "1,12345678901,,,",  # 11 integer digits: DECIMAL(20,10) holds 10
    )
    assert [r["cost"] for r in result.rows] == [Decimal("0.00001605990"), Decimal("2")]
    assert result.rows[0]["narrow"] == Decimal("0.1234567890")
    assert [(r.line_number, r.reason) for r in result.rejects] == [
        (4, "cost: 1E-13 has more than 12 decimals (DECIMAL(38,12))"),
        (5, "narrow: 0.12345678901 has more than 10 decimals (DECIMAL(20,10))"),
        (6, "cost: 123456789012345678901234567 does not fit DECIMAL(38,12)"),
        (7, "narrow: 12345678901 does not fit DECIMAL(20,10)"),
    ]


def test_a_future_ok_timestamp_may_lie_ahead_but_others_may_not():
    result = _wide("1,,2027-01-01 00:00:00,,", "1,,,2027-01-01 00:00:00,")
    assert result.rows[0]["period_end"] == datetime(2027, 1, 1)
    assert [r.reason for r in result.rejects] == ["seen_at: 2027-01-01 00:00:00 is in the future (clock or timezone error)"]


def test_csv_header_with_dots_and_brackets_unit_suffix_and_null_tokens():
    result = _wide("NULL,[N/A],,, 1234 MiB", "1,[N/A],,,[N/A]", "2,,,, 1234.5 MiB")
    assert [r.reason for r in result.rejects] == ["cost: required field Cost is missing"]
    assert result.rows[0]["mem"] is None and result.rows[0]["narrow"] is None
    assert result.rows[1]["mem"] == 1234.5
