"""The DuckDB fast path (fast_reader) loads exactly what the pure-Python parser loads.

Every file is loaded twice into fresh DuckDB databases with the same clock, once with the
fast path forced on (no size threshold) and once without it, and the raw table, the
rejects and the load log are compared row for row (line numbers and reasons included).
Separately, the fast path is shown to be taken: clean sample files go entirely through
SQL, and in the hand-made files both paths carry lines.
"""

import gzip
import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from orchestration.ingest import fast_reader
from orchestration.ingest.loader import ensure_raw_schema, load_file
from orchestration.ingest.sources import SOURCES

REPO = Path(__file__).resolve().parents[1]
RAW = REPO / "data" / "raw"
CORPUS = REPO / "tests" / "corpus"
NOW = datetime(2026, 11, 24, tzinfo=timezone.utc)
FAST_SOURCES = [name for name, spec in SOURCES.items() if fast_reader.unsupported(spec) is None]


def _load(files: list[Path], raw_dir: Path, source: str, fast: bool):
    spec = SOURCES[source]
    with duckdb.connect() as conn:
        ensure_raw_schema(conn)
        for path in files:
            load_file(conn, spec, path, raw_dir, now=NOW, fast=fast, fast_min_bytes=0)
        return (
            conn.execute(f"select * from {spec.table} order by _source_file, _line_number").fetchall(),
            conn.execute("select * from raw.rejects order by source_file, line_number, reason").fetchall(),
            conn.execute("select * from raw.load_log order by source_file").fetchall(),
        )


def assert_same(files: list[Path], raw_dir: Path, source: str):
    python_rows, python_rejects, python_log = _load(files, raw_dir, source, fast=False)
    fast_rows, fast_rejects, fast_log = _load(files, raw_dir, source, fast=True)
    assert fast_rejects == python_rejects
    assert fast_rows == python_rows
    assert fast_log == python_log
    return python_rows, python_rejects


def _split(spec_name: str, data: bytes):
    """(rows DuckDB kept, lines the Python parser read) for one file via the fast path."""
    with duckdb.connect() as conn:
        parsed = fast_reader.parse(conn, SOURCES[spec_name], data, NOW, timedelta(hours=24), min_bytes=0)
        assert parsed is not None, "the fast path declined the file"
        try:
            return parsed.fast_rows, parsed.rows_read - parsed.fast_rows
        finally:
            parsed.drop(conn)


def test_the_fast_path_covers_the_big_line_sources():
    assert {"executions", "llm_calls", "api_calls", "gpu_metrics", "container_metrics"} <= set(FAST_SOURCES)
    # formats it cannot read line by line stay with the Python parser
    assert fast_reader.unsupported(SOURCES["openai_costs"]) is not None
    assert fast_reader.unsupported(SOURCES["focus"]) is not None


@pytest.mark.parametrize("source", FAST_SOURCES)
def test_every_sample_file_loads_identically(source):
    files = sorted(p for p in (RAW / source).rglob("*") if p.is_file())
    assert files
    rows, rejects = assert_same(files, RAW, source)
    assert len(rows) > 0
    # the clean sample goes through SQL entirely: no line needed the Python parser
    for path in files[:3]:
        data = path.read_bytes()
        records = len([line for line in data.splitlines() if line.strip()]) - (SOURCES[source].format == "csv")
        assert _split(source, data) == (records, 0)


@pytest.mark.parametrize("source", FAST_SOURCES)
def test_every_corpus_file_loads_identically(source):
    folder = CORPUS / source
    if not folder.is_dir():
        pytest.fail(f"no bad-input corpus for {source} under {folder}")
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    assert_same(files, CORPUS, source)


# ---------------------------------------------------------------- hand-made nasty files


def _first_json(source: str) -> dict:
    path = sorted((RAW / source).glob("*.jsonl"))[0]
    return json.loads(path.read_text().splitlines()[0])


def _write(tmp_path: Path, source: str, name: str, data: bytes) -> Path:
    folder = tmp_path / source
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def _llm_lines() -> list[str]:
    good = _first_json("llm_calls")
    lines = []

    def add(**changes):
        record = {**good, "call_id": f"c{len(lines)}", **changes}
        lines.append(json.dumps(record, separators=(",", ":")))

    add()
    add(agent_name="café-agent")  # non-ASCII: Python
    lines.append(json.dumps({**good, "call_id": "esc"}).replace('"esc"', '"\\u0065sc"'))  # an escape
    add(started_at="2026-10-31T10:00:00+05:30", completed_at="2026-10-31T04:30:01-00:00")
    add(started_at="2026-10-31T10:00:00.1234567Z")  # 7 fraction digits
    add(started_at="2026-10-31 10:00:00")
    add(started_at="2026/10/31 10:00:00.5")
    add(started_at="2026-02-30T10:00:00Z")  # no such day
    add(started_at="2026-10-31T24:00:00Z")
    add(started_at="2027-01-01T00:00:00Z")  # the future
    add(started_at="2026-11-24T23:59:59Z")  # within the allowed skew
    add(started_at="2026-11-25T00:00:00.000001Z")  # one microsecond past it
    add(started_at="2026-10-31t10:00:00")
    add(started_at=" 2026-10-31T10:00:00Z ")
    add(started_at=1793000000)
    add(prompt_tokens=5.0, total_tokens=good["completion_tokens"] + 5)
    add(prompt_tokens="12", total_tokens=good["completion_tokens"] + 12)
    add(prompt_tokens=True)
    add(prompt_tokens=-1)
    add(prompt_tokens=10_000_000, total_tokens=10_000_000 + good["completion_tokens"])
    add(prompt_tokens=10_000_001)
    add(prompt_tokens=123456789012345678901234567890)
    add(total_tokens=1)  # row check
    add(cached_tokens=good["prompt_tokens"] + 1)
    add(cached_tokens=None)
    add(status="ok")
    add(status=" success")
    add(model="")
    add(model="   ")
    add(model=None)
    add(model=5)
    add(prompt_fingerprint={"a": 1})
    add(latency_ms=0)
    add(latency_ms=7 * 24 * 3600 * 1000)
    add(latency_ms=7 * 24 * 3600 * 1000 + 1)
    lines.append(lines[0])  # duplicate call_id of a fast line, seen first on line 1
    lines.append(lines[1])  # duplicate of a line the Python parser reads
    lines.append(json.dumps({**good, "call_id": "c0", "agent_name": "ünïcode"}))  # Python line, fast first
    lines.append('{"call_id": "broken", "prompt_tokens": ')
    lines.append(lines[0][:-1] + ",}")  # trailing comma: DuckDB would accept it
    lines.append('{"call_id":"dupkey","call_id":"dupkey2"' + lines[0][len('{"call_id":"c0"'):])
    lines.append("[1, 2]")
    lines.append("   ")
    lines.append("")
    lines.append("\t")
    lines.append(" " + json.dumps({**good, "call_id": "spaced"}) + " ")
    lines.append(json.dumps({**good, "call_id": "nan", "latency_ms": float("nan")}))
    lines.append(json.dumps({**good, "call_id": "extra", "metadata": {"x": [1, {"y": None}]}}))
    lines.append(json.dumps({**good, "call_id": "pretty"}, indent=None, separators=(", ", " : ")))
    lines.append(json.dumps({**good, "call_id": "deep", "nest": json.loads("[" * 300 + "]" * 300)}))
    return lines


def test_nasty_json_lines_load_identically_and_use_both_paths(tmp_path):
    lines = _llm_lines()
    data = ("\n".join(lines) + "\n").encode()
    crlf = data.replace(b"\n", b"\r\n")
    lone_cr = data.replace(b"\n", b"\r", 1)  # a lone \r does not end a JSON line
    bad_utf8 = data + b'{"call_id":"\xff\xfe"}\n' + lines[0].encode().replace(b"c0", b"c99") + b"\n"
    files = [
        _write(tmp_path, "llm_calls", "a_2026-10-31.jsonl", data),
        _write(tmp_path, "llm_calls", "b_2026-10-31.jsonl", crlf),
        _write(tmp_path, "llm_calls", "c_2026-10-31.jsonl", lone_cr),
        _write(tmp_path, "llm_calls", "d_2026-10-31.jsonl", bad_utf8),
        _write(tmp_path, "llm_calls", "e_2026-10-31.jsonl", b"\xef\xbb\xbf" + data),  # BOM
        _write(tmp_path, "llm_calls", "f_2026-10-31.jsonl.gz", gzip.compress(data)),
        _write(tmp_path, "llm_calls", "g_2026-10-31.jsonl", data),  # byte-identical to a_
        _write(tmp_path, "llm_calls", "h_2026-10-31.jsonl", b""),
    ]
    rows, rejects = assert_same(files, tmp_path, "llm_calls")
    assert rows and rejects
    reasons = " | ".join(r[3] for r in rejects)
    for expected in ("invalid JSON", "duplicate call_id", "in the future", "is not one of", "byte-identical"):
        assert expected in reasons
    fast_rows, python_lines = _split("llm_calls", data)
    assert fast_rows > 5 and python_lines > 20


def _raw(text: str) -> str:
    """A number written exactly as `text` (json.dumps would round it through a float)."""
    return f"@raw:{text}@"


def _dumps(record: dict) -> str:
    line = json.dumps(record, separators=(",", ":"))
    while '"@raw:' in line:
        start = line.index('"@raw:')
        end = line.index('@"', start)
        line = line[:start] + line[start + 6:end] + line[end + 2:]
    return line


def _executions_lines() -> list[str]:
    good = _first_json("executions")
    lines = []

    def add(**changes):
        record = json.loads(json.dumps(good))
        record["execution_id"] = f"e{len(lines)}"
        for path, value in changes.items():
            node = record
            *parents, leaf = path.split("__")
            for p in parents:
                node = node[p]
            if value is KeyError:
                node.pop(leaf, None)
            else:
                node[leaf] = value
        lines.append(_dumps(record))

    add()
    add(compute_resources__gpu_usage=None)
    add(compute_resources__gpu_usage={})
    add(compute_resources__gpu_usage=[])
    add(compute_resources__gpu_usage=5)
    add(compute_resources__cpu_usage="busy")
    add(storage_resources=None)
    add(storage_resources=KeyError)
    for cost in ("0.1000000000000000000001", "0.00001", "1e-5", "12345678901.5", "1234567890.5", "-0.0",
                 "0.12345678901", "0.100000000000", "0.000435", "5", "1E+2", "0.30000000000000004"):
        add(llm_resources__cost_usd=_raw(cost))
    add(llm_resources__cost_usd="0.5")
    for peak in ("100.0", "100", "100.00000000000000001", "99.9999999999999999999", "100.000000000000000000",
                 "1e2", "0.0", "-0.0"):
        add(compute_resources__cpu_usage__peak_percent=_raw(peak), compute_resources__cpu_usage__avg_percent=0)
    for seconds in ("0", "0.0", "-0.0", "-1e-400", "1e-400", "1e400", "1.7976931348623157e308", "-0.00000000000000000001"):
        add(compute_resources__cpu_usage__core_seconds=_raw(seconds))
    for score in ("1.0", "1.0000000000000001", "1.00000000000000000001", "0", "0.99999999999999999999"):
        add(quality_score=_raw(score))
    add(queue_wait_ms=None)
    add(queue_wait_ms=KeyError)
    add(duration_ms=_raw("1e3"))
    add(duration_ms=_raw("5.0"))
    add(duration_ms=_raw("-0"))
    add(duration_ms=9223372036854775807)
    add(timestamp="2026-10-31T23:30:00-02:00")
    add(compute_resources__network_io__bytes_in=2**64)
    lines.append(lines[0].replace('"duration_ms":', '"duration_ms":1,"duration_ms":', 1))  # last one wins
    lines.append(lines[0].replace('"cpu_usage":{', '"cpu_usage":{"core_seconds":1,', 1))
    lines.append(lines[0].replace('"gpu_usage":', '"gpu_usage":null,"gpu_usage":', 1))
    lines.append(lines[0])  # duplicate execution_id
    return lines


def test_nasty_executions_load_identically(tmp_path):
    lines = _executions_lines()
    data = ("\n".join(lines) + "\n").encode()
    files = [_write(tmp_path, "executions", "x_2026-10-31.jsonl", data)]
    rows, rejects = assert_same(files, tmp_path, "executions")
    assert rows and rejects
    fast_rows, python_lines = _split("executions", data)
    assert fast_rows > 5 and python_lines > 5


def _api_csv() -> str:
    path = sorted((RAW / "api_calls").glob("*.csv"))[0]
    header, good, *_ = path.read_text().splitlines()
    fields = good.split(",")
    names = header.split(",")

    def row(i, **changes):
        values = dict(zip(names, fields))
        values["request_id"] = f"r{i}"
        values.update(changes)
        return ",".join(values[n] for n in names)

    rows = [row(0)]
    variants = [
        dict(status_code="100"), dict(status_code="599"), dict(status_code="600"), dict(status_code="99"),
        dict(status_code=" 200 "), dict(status_code="200.0"), dict(status_code="+200"), dict(status_code="2e2"),
        dict(rate_limited="TRUE"), dict(rate_limited="yes"), dict(rate_limited="1"), dict(rate_limited="maybe"),
        dict(rate_limited=""), dict(cost_usd="0.12345678901"), dict(cost_usd="0.1234567890"), dict(cost_usd="007.5"),
        dict(cost_usd="1e-3"), dict(cost_usd="-0.0"), dict(cost_usd="-1"), dict(cost_usd="99999999999"),
        dict(cost_usd="9999999999.5"), dict(cost_usd="NaN"), dict(timestamp="2026-10-31T10:00:00+01:00"),
        dict(timestamp="2030-01-01T00:00:00Z"), dict(timestamp="yesterday"), dict(workspace_id=""),
        dict(workspace_id="  "), dict(agent_id=""), dict(endpoint="café/api"), dict(endpoint="tab\there"),
        dict(retry_attempt="1000"), dict(retry_attempt="1001"), dict(latency_ms="-0"),
    ]
    rows += [row(i + 1, **v) for i, v in enumerate(variants)]
    rows += ["", " , ,", ",,,", rows[0], rows[3], "too,few,fields", rows[0] + ",extra"]
    return header + "\n" + "\n".join(rows) + "\n"


def test_nasty_csv_loads_identically(tmp_path):
    text = _api_csv()
    data = text.encode()
    header, rest = text.split("\n", 1)
    files = [
        _write(tmp_path, "api_calls", "a_2026-10-31.csv", data),
        _write(tmp_path, "api_calls", "b_2026-10-31.csv", data.replace(b"\n", b"\r\n")),
        _write(tmp_path, "api_calls", "c_2026-10-31.csv", data.replace(b"\n", b"\r", 3)),  # lone \r: Python
        _write(tmp_path, "api_calls", "d_2026-10-31.csv", data.replace(b"r0,", b'"r0",', 1)),  # quoting: Python
        _write(tmp_path, "api_calls", "e_2026-10-31.csv", b"\xef\xbb\xbf" + data),
        # columns reordered, upper-cased and spaced, an optional one left out
        _write(tmp_path, "api_calls", "f_2026-10-31.csv", _reorder(header, rest).encode()),
        _write(tmp_path, "api_calls", "g_2026-10-31.csv", (header + "\n").encode()),
    ]
    rows, rejects = assert_same(files, tmp_path, "api_calls")
    assert rows and rejects
    fast_rows, python_lines = _split("api_calls", data)
    assert fast_rows > 5 and python_lines > 10


def _reorder(header: str, rest: str) -> str:
    names = header.split(",")
    order = [i for i, n in enumerate(names) if n != "workspace_id"][::-1]
    out = [",".join(f" {names[i].upper()} " for i in order)]
    for line in rest.splitlines():
        values = line.split(",")
        out.append(",".join(values[i] for i in order) if len(values) == len(names) else line)
    return "\n".join(out) + "\n"


def test_nasty_gpu_and_container_metrics_load_identically(tmp_path):
    gpu = sorted((RAW / "gpu_metrics").glob("*.csv"))[0].read_text().splitlines()
    header, good = gpu[0], gpu[1]
    values = good.split(", ")
    variants = [
        good,
        good.replace(values[4], "[N/A]"), good.replace(values[4], "100 %"), good.replace(values[4], "101 %"),
        good.replace(values[4], "50"), good.replace(values[4], "%"), good.replace(values[4], "5 W"),
        good.replace(values[8], "[Not Supported]"), good.replace(values[8], "5000.00 W"),
        good.replace(values[8], "5000.01 W"), good.replace(values[0], "2026-10-31 09:00:00.000"),
        good.replace(values[0], "2026/10/31T09:00:00"), good.replace(values[6], "99999999 MiB"),
        good, good.replace(values[1], "1024"), good.replace(values[1], "1023"),
    ]
    files = [_write(tmp_path, "gpu_metrics", "node_2026-10-31.csv", ("\n".join([header, *variants]) + "\n").encode())]
    assert_same(files, tmp_path, "gpu_metrics")

    container = sorted((RAW / "container_metrics").glob("*.csv"))[0].read_text().splitlines()
    header, good = container[0], container[1]
    cells = good.split(",")
    variants = [good]
    for i in range(1, len(cells)):
        for value in ("NaN", "null", "", "-1", "1.5", "1e3", "4096", "4096.0000001"):
            changed = list(cells)
            changed[i] = value
            changed[0] = f"2026-10-31T{len(variants) // 60:02d}:{len(variants) % 60:02d}:00+00:00"
            variants.append(",".join(changed))
    variants.append(good)
    files = [_write(tmp_path, "container_metrics", "c_2026-10-31.csv", ("\n".join([header, *variants]) + "\n").encode())]
    rows, rejects = assert_same(files, tmp_path, "container_metrics")
    assert rows and rejects


# ---------------------------------------------------------------- the cached dbt manifest


def test_warehouse_build_parses_dbt_only_when_the_project_or_its_env_changed(tmp_path, monkeypatch):
    import os
    import time

    from orchestration import cli

    from .conftest import copy_dbt_project

    project = copy_dbt_project(tmp_path)
    manifest = project / "target" / "manifest.json"
    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "w.duckdb"))
    assert cli.ensure_manifest(project) is True and manifest.is_file()
    written = manifest.stat().st_mtime_ns
    assert cli.ensure_manifest(project) is False  # nothing changed: no parse
    assert manifest.stat().st_mtime_ns == written

    time.sleep(0.05)
    model = next((project / "models").rglob("*.sql"))
    model.write_text(model.read_text() + "\n")  # an edited model
    assert cli.ensure_manifest(project) is True
    assert cli.ensure_manifest(project) is False

    monkeypatch.setenv("DBT_LOOKBACK_DAYS", "5")  # a variable the project reads
    assert cli.ensure_manifest(project) is True
    assert cli.ensure_manifest(project) is False

    time.sleep(0.05)  # file times tick in jiffies: make the later write visibly later
    os.utime(manifest)  # somebody else (dagster dev, a test) parsed since
    assert cli.ensure_manifest(project) is True


def test_lines_of_plain_ascii_are_split_as_the_string_kernels_split_them():
    """`_ascii_lines` (byte scans, for ASCII without \\r) gives the lines and `plain` flags
    that `_any_lines` (Arrow's string kernels, for any file) gives."""
    by_hand = b'{"a":1}\n\n x\\y\n\x01z\n\t\n~\x7f'
    lines, plain = fast_reader._ascii_lines(by_hand)
    assert lines.to_pylist() == ['{"a":1}', "", " x\\y", "\x01z", "\t", "~\x7f"]
    assert plain.to_pylist() == [True, True, False, False, False, False]
    rng = random.Random(8)
    alphabet = [b"a", b"{", b"}", b" ", b"\t", b"\\", b"\x7f", b"\x01", b"\n", b"\n", b"\n", b"~"]
    for _ in range(2000):
        data = b"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        lines, plain = fast_reader._ascii_lines(data)
        kernel_lines, kernel_plain = fast_reader._any_lines(data)
        assert lines.to_pylist() == kernel_lines.to_pylist(), data
        assert plain.to_pylist() == kernel_plain.to_pylist(), data
