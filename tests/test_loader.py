"""Loading export files into a real DuckDB file: lineage, rejects, idempotency, conservation."""

import gzip
import json
import shutil
from datetime import datetime, timezone

import duckdb
import pytest

from orchestration.ingest.loader import conservation_violations, ensure_raw_schema, load_file
from orchestration.ingest.sources import API_CALLS, LLM_CALLS

from .conftest import TINY

NOW = datetime(2026, 11, 24, tzinfo=timezone.utc)


@pytest.fixture
def conn(tmp_path):
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as c:
        ensure_raw_schema(c)
        yield c


@pytest.fixture
def raw_dir(tmp_path):
    target = tmp_path / "raw"
    shutil.copytree(TINY / "raw", target)
    return target


def table(conn, name):
    return conn.execute(f"select * from {name} order by all").fetchall()


def test_rows_carry_lineage(conn, raw_dir):
    path = raw_dir / "llm_calls" / "llm_calls_2026-10-31.jsonl"
    report = load_file(conn, LLM_CALLS, path, raw_dir, now=NOW)
    assert (report.status, report.rows_read, report.rows_kept, report.rows_rejected) == ("loaded", 2, 2, 0)
    lineage = conn.execute(
        "select _source_file, _line_number, _file_sha256, _export_date::varchar from raw.llm_calls order by 2"
    ).fetchall()
    import hashlib

    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    assert lineage == [
        ("llm_calls/llm_calls_2026-10-31.jsonl", 1, sha, "2026-10-31"),
        ("llm_calls/llm_calls_2026-10-31.jsonl", 2, sha, "2026-10-31"),
    ]


def test_malformed_rows_land_in_rejects_with_reason_while_the_rest_load(conn, raw_dir):
    path = raw_dir / "llm_calls" / "llm_calls_2026-11-02.jsonl"
    good = json.loads((raw_dir / "llm_calls" / "llm_calls_2026-11-01.jsonl").read_text().splitlines()[0])
    lines = [
        json.dumps({**good, "call_id": "ok-1"}),
        '{"call_id": "broken", "prompt_tokens": ',
        json.dumps({**good, "call_id": "neg", "prompt_tokens": -1, "total_tokens": 999}),
        json.dumps({**good, "call_id": "ok-2"}),
    ]
    path.write_text("\n".join(lines) + "\n")
    report = load_file(conn, LLM_CALLS, path, raw_dir, now=NOW)
    assert (report.rows_read, report.rows_kept, report.rows_rejected) == (4, 2, 2)
    assert [r[0] for r in conn.execute("select call_id from raw.llm_calls order by 1").fetchall()] == ["ok-1", "ok-2"]
    rejects = conn.execute(
        "select source, source_file, line_number, reason, payload from raw.rejects order by line_number"
    ).fetchall()
    assert [(r[0], r[1], r[2]) for r in rejects] == [
        ("llm_calls", "llm_calls/llm_calls_2026-11-02.jsonl", 2),
        ("llm_calls", "llm_calls/llm_calls_2026-11-02.jsonl", 3),
    ]
    assert rejects[0][3].startswith("invalid JSON") and rejects[0][4] == lines[1]
    assert "prompt_tokens: -1 is below the minimum 0" in rejects[1][3]
    assert conservation_violations(conn, "llm_calls") == []


def test_loading_the_same_file_twice_changes_nothing(conn, raw_dir):
    path = raw_dir / "api_calls" / "api_calls_2026-11-01.csv"
    first = load_file(conn, API_CALLS, path, raw_dir, now=NOW)
    before = (table(conn, "raw.api_calls"), table(conn, "raw.rejects"), table(conn, "raw.load_log"))
    loaded_at_before = conn.execute("select distinct _loaded_at from raw.api_calls").fetchall()
    second = load_file(conn, API_CALLS, path, raw_dir, now=datetime(2026, 11, 25, tzinfo=timezone.utc))
    assert first.status == "loaded" and second.status == "unchanged"
    assert (table(conn, "raw.api_calls"), table(conn, "raw.rejects"), table(conn, "raw.load_log")) == before
    # not even the load timestamp moves: the file was not reloaded
    assert conn.execute("select distinct _loaded_at from raw.api_calls").fetchall() == loaded_at_before


def test_a_corrected_file_replaces_its_earlier_version(conn, raw_dir):
    path = raw_dir / "api_calls" / "api_calls_2026-11-01.csv"
    load_file(conn, API_CALLS, path, raw_dir, now=NOW)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:2]) + "\n")  # the export is re-delivered with one row
    report = load_file(conn, API_CALLS, path, raw_dir, now=NOW)
    assert report.status == "loaded" and report.rows_kept == 1
    assert conn.execute("select request_id from raw.api_calls").fetchall() == [("r2",)]


def test_the_same_bytes_under_another_name_are_quarantined_not_counted_twice(conn, raw_dir):
    original = raw_dir / "api_calls" / "api_calls_2026-11-01.csv"
    copy = raw_dir / "api_calls" / "api_calls_2026-11-01_resent.csv"
    shutil.copy(original, copy)
    load_file(conn, API_CALLS, original, raw_dir, now=NOW)
    report = load_file(conn, API_CALLS, copy, raw_dir, now=NOW)
    assert (report.status, report.rows_read, report.rows_kept, report.rows_rejected) == ("duplicate_content", 3, 0, 3)
    assert conn.execute("select count(*) from raw.api_calls").fetchone() == (3,)
    reasons = conn.execute("select distinct reason from raw.rejects").fetchall()
    assert reasons == [("file is byte-identical to api_calls/api_calls_2026-11-01.csv, already loaded",)]
    assert conservation_violations(conn, "api_calls") == []


def test_gzip_exports_load_and_a_corrupt_one_fails_the_file_clearly(conn, raw_dir):
    source = raw_dir / "llm_calls" / "llm_calls_2026-11-01.jsonl"
    zipped = raw_dir / "llm_calls" / "llm_calls_2026-11-03.jsonl.gz"
    zipped.write_bytes(gzip.compress(source.read_bytes()))
    assert load_file(conn, LLM_CALLS, zipped, raw_dir, now=NOW).rows_kept == 2
    broken = raw_dir / "llm_calls" / "llm_calls_2026-11-04.jsonl.gz"
    broken.write_bytes(gzip.compress(source.read_bytes())[:40])
    report = load_file(conn, LLM_CALLS, broken, raw_dir, now=NOW)
    assert report.status == "failed" and "unreadable file" in report.message
    assert conn.execute("select status from raw.load_log where source_file like '%11-04%'").fetchone() == ("failed",)


def test_conservation_check_catches_rows_lost_behind_the_loaders_back(conn, raw_dir):
    load_file(conn, LLM_CALLS, raw_dir / "llm_calls" / "llm_calls_2026-10-31.jsonl", raw_dir, now=NOW)
    assert conservation_violations(conn, "llm_calls") == []
    conn.execute("delete from raw.llm_calls where call_id = 'c1'")
    assert conservation_violations(conn, "llm_calls") == [("llm_calls/llm_calls_2026-10-31.jsonl", 2, 1, 0)]
