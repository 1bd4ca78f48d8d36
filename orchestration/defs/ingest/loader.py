"""Write parsed export files into DuckDB `raw.*`, idempotently, with lineage.

Per file, one transaction: the file's previous rows, rejects and log entry are replaced,
so loading the same file twice changes nothing, and a file that changed on disk replaces
its earlier version. A file whose bytes equal a file already loaded under another name is
not loaded twice: each of its records is quarantined with that reason.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable

import pyarrow as pa

from .parsing import Reject, decimal_precision, export_date_of, parse_bytes, read_bytes
from .sources import DUCKDB_TYPES, SOURCES, Field, SourceSpec

LINEAGE_COLUMNS = {
    "_source_file": "VARCHAR",
    "_line_number": "BIGINT",
    "_record_locator": "VARCHAR",  # where in a JSON document the record sat (paged exports)
    "_file_sha256": "VARCHAR",
    "_export_date": "DATE",
    "_loaded_at": "TIMESTAMP",
}

_ARROW_TYPES = {
    "str": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "decimal": pa.decimal128(20, 10),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us"),
    "epoch": pa.timestamp("us"),
    "json": pa.string(),
}


def _column_type(f: Field) -> str:
    if f.type == "decimal" and f.precision:
        return "DECIMAL({},{})".format(*f.precision)  # no space: ensure_raw_schema splits on it
    return DUCKDB_TYPES[f.type]


def _arrow_type(f: Field) -> pa.DataType:
    return pa.decimal128(*decimal_precision(f)) if f.type == "decimal" else _ARROW_TYPES[f.type]


@dataclass
class FileLoad:
    source: str
    source_file: str
    file_sha256: str
    export_date: date | None
    status: str  # loaded | unchanged | duplicate_content | failed
    rows_read: int
    rows_kept: int
    rows_rejected: int
    message: str = ""


def ensure_raw_schema(conn) -> None:
    conn.execute("create schema if not exists raw")
    for spec in SOURCES.values():
        columns = [f"{f.column} {_column_type(f)}" for f in spec.all_fields]
        columns += [f"{name} {kind}" for name, kind in LINEAGE_COLUMNS.items()]
        conn.execute(f"create table if not exists {spec.table} ({', '.join(columns)})")
        # a warehouse created before a column existed gets it added (as null for old rows)
        existing = {c for (c,) in conn.execute(
            "select column_name from information_schema.columns where table_schema = 'raw' and table_name = ?",
            [spec.name]).fetchall()}
        for column in columns:
            name, kind = column.split(" ", 1)
            if name not in existing:
                conn.execute(f"alter table {spec.table} add column {name} {kind}")
    conn.execute(
        """
        create table if not exists raw.rejects (
            source varchar, source_file varchar, line_number bigint, reason varchar,
            payload varchar, file_sha256 varchar, export_date date, rejected_at timestamp
        )"""
    )
    conn.execute(
        """
        create table if not exists raw.load_log (
            source varchar, source_file varchar, file_sha256 varchar, export_date date,
            status varchar, rows_read bigint, rows_kept bigint, rows_rejected bigint,
            message varchar, loaded_at timestamp
        )"""
    )


def files_for_dates(raw_dir: Path, spec: SourceSpec, dates: Iterable[date]) -> list[Path]:
    """Export files of a source whose file-name date is one of `dates`, in a stable order."""
    wanted = set(dates)
    folder = raw_dir / spec.name
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.rglob("*")
        if p.is_file() and not p.name.startswith(".") and export_date_of(p) in wanted
    )


def _relative(path: Path, raw_dir: Path) -> str:
    try:
        return path.resolve().relative_to(raw_dir.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def load_file(
    conn,
    spec: SourceSpec,
    path: Path,
    raw_dir: Path,
    now: datetime | None = None,
    max_future: timedelta = timedelta(hours=24),
) -> FileLoad:
    now = now or datetime.now(timezone.utc)
    loaded_at = now.replace(tzinfo=None)
    rel = _relative(path, raw_dir)
    export_date = export_date_of(path)
    try:
        data = read_bytes(path)
    except (OSError, EOFError, ValueError) as exc:  # e.g. a truncated gzip
        report = FileLoad(spec.name, rel, "", export_date, "failed", 0, 0, 0, f"unreadable file: {exc}")
        _replace_file(conn, spec, report, [], [], loaded_at)
        return report
    sha = hashlib.sha256(data).hexdigest()

    previous = conn.execute(
        "select file_sha256 from raw.load_log where source = ? and source_file = ?", [spec.name, rel]
    ).fetchone()
    if previous and previous[0] == sha:
        kept, rejected, read = conn.execute(
            "select rows_kept, rows_rejected, rows_read from raw.load_log where source = ? and source_file = ?",
            [spec.name, rel],
        ).fetchone()
        return FileLoad(spec.name, rel, sha, export_date, "unchanged", read, kept, rejected, "already loaded")

    twin = conn.execute(
        "select source_file from raw.load_log where source = ? and file_sha256 = ? and source_file <> ? "
        "and status = 'loaded' order by source_file limit 1",
        [spec.name, sha, rel],
    ).fetchone()

    parsed = parse_bytes(spec, data, now=now, max_future=max_future)
    rows, rejects = parsed.rows, parsed.rejects
    status, message = "loaded", ""
    if twin:
        # Same bytes already loaded under another name: keep every record accounted for,
        # but as quarantined duplicates, so nothing is counted twice.
        reason = f"file is byte-identical to {twin[0]}, already loaded"
        rejects = rejects + [Reject(r["_line_number"], reason, "") for r in rows]
        rows, status, message = [], "duplicate_content", reason
    report = FileLoad(spec.name, rel, sha, export_date, status, parsed.rows_read, len(rows), len(rejects), message)
    _replace_file(conn, spec, report, rows, rejects, loaded_at)
    return report


def _replace_file(conn, spec: SourceSpec, report: FileLoad, rows, rejects, loaded_at: datetime) -> None:
    conn.execute("begin transaction")
    try:
        conn.execute(f"delete from {spec.table} where _source_file = ?", [report.source_file])
        conn.execute("delete from raw.rejects where source = ? and source_file = ?", [spec.name, report.source_file])
        conn.execute("delete from raw.load_log where source = ? and source_file = ?", [spec.name, report.source_file])
        if rows:
            batch = _arrow_batch(spec, rows, report, loaded_at)  # noqa: F841 (read by DuckDB by name)
            conn.execute(f"insert into {spec.table} by name select * from batch")
        if rejects:
            conn.executemany(
                "insert into raw.rejects values (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    [spec.name, report.source_file, r.line_number, r.reason, r.payload,
                     report.file_sha256, report.export_date, loaded_at]
                    for r in rejects
                ],
            )
        conn.execute(
            "insert into raw.load_log values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [spec.name, report.source_file, report.file_sha256, report.export_date, report.status,
             report.rows_read, report.rows_kept, report.rows_rejected, report.message, loaded_at],
        )
        conn.execute("commit")
    except Exception:
        conn.execute("rollback")
        raise


def _arrow_batch(spec: SourceSpec, rows, report: FileLoad, loaded_at: datetime) -> pa.Table:
    arrays = {
        f.column: pa.array([r[f.column] for r in rows], type=_arrow_type(f)) for f in spec.all_fields
    }
    n = len(rows)
    arrays["_source_file"] = pa.array([report.source_file] * n, pa.string())
    arrays["_line_number"] = pa.array([r["_line_number"] for r in rows], pa.int64())
    arrays["_record_locator"] = pa.array([r["_record_locator"] for r in rows], pa.string())
    arrays["_file_sha256"] = pa.array([report.file_sha256] * n, pa.string())
    arrays["_export_date"] = pa.array([report.export_date] * n, pa.date32())
    arrays["_loaded_at"] = pa.array([loaded_at] * n, pa.timestamp("us"))
    return pa.table(arrays)


def conservation_violations(conn, source: str) -> list[tuple]:
    """Files of `source` where rows read != rows in the raw table + rows in raw.rejects.

    Counts what is actually stored, not what the loader reported, so it also catches a
    table edited or truncated behind the loader's back.
    """
    spec = SOURCES[source]
    return conn.execute(
        f"""
        with kept as (select _source_file as f, count(*) as n from {spec.table} group by 1),
             rejected as (select source_file as f, count(*) as n from raw.rejects where source = ? group by 1)
        select l.source_file, l.rows_read, coalesce(k.n, 0) as kept, coalesce(r.n, 0) as rejected
        from raw.load_log l
        left join kept k on k.f = l.source_file
        left join rejected r on r.f = l.source_file
        where l.source = ? and l.rows_read <> coalesce(k.n, 0) + coalesce(r.n, 0)
        order by 1
        """,
        [source, source],
    ).fetchall()
