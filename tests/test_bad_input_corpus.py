"""The bad-input corpus (tests/corpus/cases.toml): every case loaded with the real loader
into a real DuckDB file, and what happened compared with the behaviour decided for it.

Expected figures in the manifest were derived by hand from the files. Every file's counts
are checked three ways: the loader's report, raw.load_log, and the rows actually stored
(raw.<source> and raw.rejects), plus `conservation_violations`. The table kind ->
behaviour -> kept / rejected is written to test-artifacts/bad_input_corpus.md.
"""

import tomllib
from collections import Counter
from datetime import datetime, timezone

import duckdb
import pytest

from orchestration.ingest.loader import (
    conservation_violations, duplicate_keys, ensure_duplicate_keys_view, ensure_raw_schema, load_file,
)
from orchestration.ingest.sources import SOURCES

from .conftest import REPO

CORPUS = REPO / "tests" / "corpus"
CASES = tomllib.loads((CORPUS / "cases.toml").read_text())["case"]
NOW = datetime(2026, 11, 24, tzinfo=timezone.utc)
CANARY = "PRIVATE-PROMPT-CANARY-7f3a"
ARTIFACT = REPO / "test-artifacts" / "bad_input_corpus.md"
# The file formats issue 9 names, each needing at least one case.
FORMATS = {
    "executions": "JSONL", "llm_calls": "JSONL", "api_calls": "CSV", "openai_usage": "provider JSON",
    "openai_costs": "provider JSON", "anthropic_usage": "provider JSON", "anthropic_costs": "provider JSON",
    "litellm_spend_logs": "LiteLLM JSON", "otel_genai_spans": "OTLP JSON", "focus": "FOCUS CSV",
    "gpu_metrics": "nvidia-smi CSV", "container_metrics": "container CSV",
}


def scan_for(conn, needle: str) -> list[tuple[str, str, str, int]]:
    """(schema, table, column, rows) for every column of every table or view holding `needle`."""
    hits = []
    for schema, table, column in conn.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where table_catalog = current_database()").fetchall():
        n = conn.execute(
            f'select count(*) from "{schema}"."{table}" where cast("{column}" as varchar) like ?', [f"%{needle}%"]
        ).fetchone()[0]
        if n:
            hits.append((schema, table, column, n))
    return hits


@pytest.fixture(scope="module")
def table_rows():
    """Collects one line per case; written as the corpus table when the module ends."""
    rows: dict[str, str] = {}
    yield rows
    if not rows:
        return
    lines = ["| case | source | kind | behaviour | where it goes | kept | rejected |",
             "|---|---|---|---|---|---:|---:|"]
    lines += [rows[c["id"]] for c in CASES if c["id"] in rows]
    text = "\n".join(lines) + "\n"
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text(f"# Bad-input corpus: {len(rows)} cases\n\n{text}")
    print(f"\n{text}")


def test_the_corpus_covers_every_format_and_at_least_30_kinds():
    assert len(CASES) >= 30
    assert len({c["id"] for c in CASES}) == len(CASES)
    assert set(FORMATS) <= {c["source"] for c in CASES}
    assert set(FORMATS) | {"api_calls"} >= {c["source"] for c in CASES}
    # every file the manifest names exists, and every corpus file is in a case
    named = {f["path"] for c in CASES for f in c["files"]}
    on_disk = {p.relative_to(CORPUS).as_posix() for p in CORPUS.rglob("*") if p.is_file() and p.parent != CORPUS}
    assert named == on_disk


# "python": the Python parser alone; "fast": load_file's DuckDB fast path forced on
# however small the file (it must give the Python parser's rows and rejects exactly).
READERS = {"python": {"fast": False}, "fast": {"fast": True, "fast_min_bytes": 0}}


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_corpus_case(case, reader, tmp_path, table_rows):
    spec = SOURCES[case["source"]]
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as conn:
        ensure_raw_schema(conn)
        reports = [load_file(conn, spec, CORPUS / f["path"], CORPUS, now=NOW, **READERS[reader])
                   for f in case["files"]]
        for expected, report in zip(case["files"], reports):
            path = expected["path"]
            want = (expected.get("status", "loaded"), expected["read"], expected["kept"], expected["rejected"])
            assert (report.status, report.rows_read, report.rows_kept, report.rows_rejected) == want, report
            logged = conn.execute(
                "select status, rows_read, rows_kept, rows_rejected, message from raw.load_log where source_file = ?",
                [path]).fetchone()
            assert logged[:4] == want
            if "message" in expected:
                assert expected["message"] in report.message and expected["message"] in logged[4]
            # what is stored, counted apart from the loader's own figures
            stored = conn.execute(f"select count(*) from {spec.table} where _source_file = ?", [path]).fetchone()[0]
            rejects = conn.execute(
                "select line_number, reason, payload from raw.rejects where source_file = ? order by all", [path]
            ).fetchall()
            assert (stored, len(rejects)) == (expected["kept"], expected["rejected"])
            # each expected reject matches its own stored reject (same line, reason containing the text)
            unmatched = list(rejects)
            for line, text in expected.get("rejects", []):
                match = next((r for r in unmatched if r[0] == line and text in r[1]), None)
                assert match is not None, (line, text, rejects)
                unmatched.remove(match)
            assert not expected.get("rejects") or not unmatched, unmatched
        assert conservation_violations(conn, spec.name) == []

        for check in case.get("checks", []):
            got = [[str(v) for v in row] for row in conn.execute(check["sql"]).fetchall()]
            assert got == check["expect"], check["sql"]

        if "duplicates" in case:
            found = duplicate_keys(conn, spec.name)
            assert [[k, n] for k, n, _ in found] == case["duplicates"]
            assert all(files == sorted(f["path"] for f in case["files"]) for _, _, files in found)
            ensure_duplicate_keys_view(conn)
            assert conn.execute("select key, copies from raw.duplicate_keys where source = ?",
                                [spec.name]).fetchall() == [tuple(d) for d in case["duplicates"]]

        if case.get("canary"):
            assert all(CANARY.encode() in (CORPUS / f["path"]).read_bytes() for f in case["files"])
            assert scan_for(conn, CANARY) == []

    kept = sum(f["kept"] for f in case["files"])
    rejected = sum(f["rejected"] for f in case["files"])
    failed = sum(f.get("status") == "failed" for f in case["files"])
    outcome = f"file failed" if failed else ""
    table_rows[case["id"]] = (
        f"| {case['id']} | {case['source']} | {case['kind']} | {case['behaviour']} | "
        f"{case.get('where', '')} | {kept} | {rejected}{' (' + outcome + ')' if outcome else ''} |"
    )


def test_behaviours_are_from_the_decided_set():
    allowed = {"accept", "normalize", "quarantine", "fail the file"}
    for case in CASES:
        parts = {p.strip() for p in case["behaviour"].split("/")}
        assert parts <= allowed, case["id"]
    assert Counter(p.strip() for c in CASES for p in c["behaviour"].split("/")).keys() == allowed


def test_raw_exports_reports_overlapping_exports_as_a_warning(tmp_path, monkeypatch):
    """The Dagster asset on two overlapping exports of one day: rows_conserved passes,
    no_duplicate_keys warns with the shared key c3 and both files (worked out by hand)."""
    import shutil

    import dagster as dg
    from dagster_duckdb import DuckDBResource

    from orchestration import settings
    from orchestration.defs.ingest.assets import raw_exports

    raw = tmp_path / "raw"
    (raw / "llm_calls").mkdir(parents=True)
    shutil.copy(CORPUS / "llm_calls" / "overlap_a_2026-10-31.jsonl", raw / "llm_calls" / "gateway_a_2026-10-31.jsonl")
    shutil.copy(CORPUS / "llm_calls" / "overlap_b_2026-11-01.jsonl", raw / "llm_calls" / "gateway_b_2026-10-31.jsonl")
    monkeypatch.setattr(settings, "RAW_DATA_DIR", raw)
    database = tmp_path / "warehouse.duckdb"
    result = dg.materialize(
        [raw_exports], partition_key="2026-10-31", selection=[dg.AssetKey(["raw", "llm_calls"])],
        resources={"duckdb": DuckDBResource(database=str(database))},
    )
    assert result.success
    checks = {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data
              for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    assert checks["rows_conserved"].passed
    duplicates = checks["no_duplicate_keys"]
    assert not duplicates.passed and duplicates.severity == dg.AssetCheckSeverity.WARN
    assert duplicates.metadata["duplicate_keys"].value == 1 and duplicates.metadata["extra_copies"].value == 1
    assert duplicates.metadata["examples"].value == [
        {"key": "c3", "copies": 2, "files": ["llm_calls/gateway_a_2026-10-31.jsonl", "llm_calls/gateway_b_2026-10-31.jsonl"]}]
    with duckdb.connect(str(database), read_only=True) as conn:
        assert conn.execute("select source, key, copies from raw.duplicate_keys").fetchall() == [("llm_calls", "c3", 2)]
        assert conn.execute("select count(*) from raw.llm_calls").fetchone() == (5,)


def test_a_runs_duplicate_check_covers_the_keys_of_its_days_against_every_stored_copy(tmp_path, monkeypatch):
    """no_duplicate_keys checks the keys of the run's export days against everything stored
    (not every stored key again). By hand, on llm_calls files of three days:
    10-31: a (c1 c2 c3) and b (c3 c4): c3 twice;
    11-01: c (c5): nothing new, although c3 is still stored twice (raw.duplicate_keys says so);
    11-02: d (c1 c6): c1, with its copy of 10-31;
    10-31 again (no new file): c1 and c3, each with a copy on that day."""
    import shutil

    import dagster as dg
    from dagster_duckdb import DuckDBResource

    from orchestration import settings
    from orchestration.defs.ingest.assets import raw_exports

    line = (CORPUS / "llm_calls" / "overlap_a_2026-10-31.jsonl").read_text().splitlines()[0]
    raw = tmp_path / "raw"
    (raw / "llm_calls").mkdir(parents=True)
    shutil.copy(CORPUS / "llm_calls" / "overlap_a_2026-10-31.jsonl", raw / "llm_calls" / "a_2026-10-31.jsonl")
    shutil.copy(CORPUS / "llm_calls" / "overlap_b_2026-11-01.jsonl", raw / "llm_calls" / "b_2026-10-31.jsonl")
    for name, ids in (("c_2026-11-01.jsonl", ["c5"]), ("d_2026-11-02.jsonl", ["c1", "c6"])):
        (raw / "llm_calls" / name).write_text(
            "".join(line.replace('"c1"', f'"{i}"') + "\n" for i in ids))
    monkeypatch.setattr(settings, "RAW_DATA_DIR", raw)
    database = tmp_path / "warehouse.duckdb"

    def reported(day):
        result = dg.materialize(
            [raw_exports], partition_key=day, selection=[dg.AssetKey(["raw", "llm_calls"])],
            resources={"duckdb": DuckDBResource(database=str(database))})
        check = next(e.asset_check_evaluation_data for e in result.all_events
                     if e.event_type_value == "ASSET_CHECK_EVALUATION"
                     and e.asset_check_evaluation_data.check_name == "no_duplicate_keys")
        assert check.passed == (check.metadata["duplicate_keys"].value == 0)
        return [(d["key"], d["copies"], d["files"]) for d in check.metadata["examples"].value]

    assert reported("2026-10-31") == [("c3", 2, ["llm_calls/a_2026-10-31.jsonl", "llm_calls/b_2026-10-31.jsonl"])]
    assert reported("2026-11-01") == []
    assert reported("2026-11-02") == [("c1", 2, ["llm_calls/a_2026-10-31.jsonl", "llm_calls/d_2026-11-02.jsonl"])]
    assert [k for k, _, _ in reported("2026-10-31")] == ["c1", "c3"]
    with duckdb.connect(str(database), read_only=True) as conn:
        assert conn.execute("select key, copies from raw.duplicate_keys order by key").fetchall() == [("c1", 2), ("c3", 2)]


def test_scoped_duplicate_keys_match_a_null_in_a_composite_key(tmp_path):
    """openai_usage's key has seven columns, some usually NULL: the scoped check must match
    NULL to NULL as the group-by does. Rows written by hand: k1 (user_id NULL) in f1 on
    10-01 and f2 on 10-02; k2 in f1 and f3, both 10-01; k3 once, on 10-02."""
    from datetime import date

    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        ensure_raw_schema(conn)
        rows = [("2026-10-01 00:00", None, "f1", "2026-10-01"), ("2026-10-01 00:00", None, "f2", "2026-10-02"),
                ("2026-10-01 01:00", "u1", "f1", "2026-10-01"), ("2026-10-01 01:00", "u1", "f3", "2026-10-01"),
                ("2026-10-01 02:00", "u1", "f2", "2026-10-02")]
        for bucket, user, file, day in rows:
            conn.execute("insert into raw.openai_usage (bucket_start, project_id, user_id, model, _source_file, _export_date) "
                         "values (?::timestamp, 'p', ?, 'gpt-4o', ?, ?::date)", [bucket, user, file, day])
        every = duplicate_keys(conn, "openai_usage")
        on_1st = duplicate_keys(conn, "openai_usage", date(2026, 10, 1))
        on_2nd = duplicate_keys(conn, "openai_usage", date(2026, 10, 2))
        both = duplicate_keys(conn, "openai_usage", date(2026, 10, 1), date(2026, 10, 2))
    assert [(n, f) for _, n, f in every] == [(2, ["f1", "f2"]), (2, ["f1", "f3"])]
    assert on_1st == both == every
    assert on_2nd == every[:1] and "null" in on_2nd[0][0]
