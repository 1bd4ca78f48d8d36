"""Many small export files are loaded in batches (loader.load_files -> fast_reader.parse_batch).

The reference is the per-file Python parser (load_file with the fast path off): for every
fast-path source of the shipped sample, plus planted defects (a row to reject, a key twice
in one file, a byte-identical copy under another name, a header-only file, a file already
loaded and then changed), the raw table, the rejects and the load log must be equal row
for row, and the batch path must actually have been taken for the clean files.
"""

import hashlib
import shutil
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest

from orchestration.ingest import fast_reader, loader
from orchestration.ingest.loader import ensure_raw_schema, load_file, load_files
from orchestration.ingest.sources import SOURCES

REPO = Path(__file__).resolve().parents[1]
RAW = REPO / "data" / "raw"
NOW = datetime(2026, 11, 24, tzinfo=timezone.utc)
FAST_SOURCES = [name for name, spec in SOURCES.items() if fast_reader.unsupported(spec) is None]


def _tables(conn, spec):
    return (
        conn.execute(f"select * from {spec.table} order by _source_file, _line_number").fetchall(),
        conn.execute("select * from raw.rejects order by source_file, line_number, reason").fetchall(),
        conn.execute("select * from raw.load_log order by source_file").fetchall(),
    )


def _plant(raw: Path, source: str) -> list[Path]:
    """Copy the sample's files of `source` and plant one defect of each kind among them."""
    folder = raw / source
    shutil.copytree(RAW / source, folder)
    files = sorted(p for p in folder.iterdir() if p.is_file())
    first, second, third = files[0], files[1], files[2]
    lines = second.read_bytes().split(b"\n")
    if SOURCES[source].format == "csv":
        # a row whose number field is text, and (third) a data row repeated: a key twice
        lines[1] = b",".join(b"not-a-number" if i == len(lines[1].split(b",")) - 2 else v
                             for i, v in enumerate(lines[1].split(b",")))
        header_only = folder / (first.stem + "-header-only.csv")
        header_only.write_bytes(first.read_bytes().split(b"\n")[0] + b"\n")
    else:
        lines[0] = lines[0][: len(lines[0]) // 2]  # a truncated JSON line
        header_only = folder / (first.stem + "-empty.jsonl")
        header_only.write_bytes(b"\n")
    second.write_bytes(b"\n".join(lines))
    rows = third.read_bytes().split(b"\n")
    third.write_bytes(b"\n".join(rows[:3] + [rows[2]] + rows[3:]))
    twin = folder / (first.stem + "-copy" + first.suffix)
    twin.write_bytes(first.read_bytes())
    return sorted(p for p in folder.iterdir() if p.is_file())


@pytest.mark.parametrize("source", FAST_SOURCES)
def test_batches_load_exactly_what_the_parser_loads_file_by_file(tmp_path, monkeypatch, source):
    spec = SOURCES[source]
    raw = tmp_path / "raw"
    files = _plant(raw, source)
    changed = files[-1]
    batches = []
    real = fast_reader.parse_batch
    monkeypatch.setattr(fast_reader, "parse_batch", lambda *a, **k: batches.append(len(a[2])) or real(*a, **k))

    with duckdb.connect() as reference, duckdb.connect() as batched:
        for conn in (reference, batched):
            ensure_raw_schema(conn)
        # one file already loaded, then changed on disk: both must replace it
        load_file(reference, spec, changed, raw, now=NOW, fast=False)
        load_file(batched, spec, changed, raw, now=NOW, fast=False)
        changed.write_bytes(changed.read_bytes() + b"\n\n")  # a blank line more: new bytes, same rows

        expected = [load_file(reference, spec, p, raw, now=NOW, fast=False) for p in files]
        got = load_files(batched, spec, files, raw, now=NOW)

        assert [vars(r) for r in got] == [vars(r) for r in expected]
        ref_rows, ref_rejects, ref_log = _tables(reference, spec)
        rows, rejects, log = _tables(batched, spec)
        assert rejects == ref_rejects
        assert rows == ref_rows
        assert log == ref_log

    # the defects were really planted, and most files really went through a batch
    reasons = {r[3].split(" ")[0] for r in ref_rejects}
    assert any(r.startswith("duplicate") for r in reasons), reasons
    assert any("byte-identical" in r[3] for r in ref_rejects)
    assert len(ref_rejects) > len([r for r in ref_rejects if "byte-identical" in r[3]])
    assert sum(batches) >= len(files) - 5, (batches, len(files))
    assert any(r[4] == 'loaded' and r[1] == changed.relative_to(raw).as_posix() for r in ref_log)


def test_batches_respect_the_size_cap(tmp_path, monkeypatch):
    """Capped batches (here ~3 files each) give the same tables as one batch."""
    spec = SOURCES["gpu_metrics"]
    files = sorted((RAW / "gpu_metrics").iterdir())[:12]
    size = max(p.stat().st_size for p in files)
    results = []
    for cap in (loader.BATCH_MAX_BYTES, 3 * size):
        monkeypatch.setattr(loader, "BATCH_MAX_BYTES", cap)
        calls = []
        real = fast_reader.parse_batch
        monkeypatch.setattr(fast_reader, "parse_batch", lambda *a, **k: calls.append(len(a[2])) or real(*a, **k))
        with duckdb.connect() as conn:
            ensure_raw_schema(conn)
            load_files(conn, spec, files, RAW, now=NOW)
            results.append((_tables(conn, spec), calls))
        monkeypatch.setattr(fast_reader, "parse_batch", real)
    (one, one_calls), (capped, capped_calls) = results
    assert one_calls == [12]
    assert len(capped_calls) >= 4 and max(capped_calls) <= 3 and sum(capped_calls) == 12
    assert capped == one


def test_a_file_rewritten_between_hashing_and_its_batch_is_loaded_with_its_new_bytes(tmp_path, monkeypatch):
    """Every new file is hashed before the batches are formed, and a batch reads its files
    again: a file rewritten in between is left out of its batch and loaded alone
    (load_file), from its new bytes, with their sha256; the other files as a batch loads them."""
    spec = SOURCES["gpu_metrics"]
    raw = tmp_path / "raw"
    shutil.copytree(RAW / spec.name, raw / spec.name)
    files = sorted((raw / spec.name).iterdir())[:12]
    size = max(p.stat().st_size for p in files)
    victim = files[7]  # in the third of four batches of three files
    new_bytes = b"\n".join(victim.read_bytes().split(b"\n")[:5]) + b"\n"  # header + 4 lines
    monkeypatch.setattr(loader, "BATCH_MAX_BYTES", 3 * size)
    real_batch = loader._load_batch

    def load_after_a_rewrite(conn, spec, batch, *args):
        if any(member[0] == victim for member in batch):
            victim.write_bytes(new_bytes)
        return real_batch(conn, spec, batch, *args)

    monkeypatch.setattr(loader, "_load_batch", load_after_a_rewrite)
    alone = []
    monkeypatch.setattr(loader, "load_file", lambda conn, spec, path, *a, **k: alone.append(path) or load_file(conn, spec, path, *a, **k))
    with duckdb.connect() as conn:
        ensure_raw_schema(conn)
        reports = load_files(conn, spec, files, raw, now=NOW)
        got = _tables(conn, spec)
    assert alone == [victim]
    assert {r.source_file: r.status for r in reports} == {p.relative_to(raw).as_posix(): "loaded" for p in files}

    # the reference: the files as they are now, each by the per-file Python parser
    with duckdb.connect() as conn:
        ensure_raw_schema(conn)
        for path in files:
            load_file(conn, spec, path, raw, now=NOW, fast=False)
        expected = _tables(conn, spec)
    assert got == expected
    victim_log = [row for row in got[2] if row[1] == victim.relative_to(raw).as_posix()]
    assert victim_log[0][2] == hashlib.sha256(new_bytes).hexdigest() and victim_log[0][5] == 4
