"""Raw ingest: one daily-partitioned step loads every source's export files into raw.*.

A backfill over a date range runs as a single run (BackfillPolicy.single_run), and each
source is its own asset with a conservation check, computed from what is stored.
"""


from datetime import date, timedelta
from typing import TYPE_CHECKING

import dagster as dg
from dagster_duckdb import DuckDBResource

from orchestration import settings
from orchestration.defs.partitions import daily_partitions

from orchestration.ingest.sources import SOURCES

if TYPE_CHECKING:
    from orchestration.ingest.loader import FileLoad

CONSERVATION_CHECK = "rows_conserved"
DUPLICATES_CHECK = "no_duplicate_keys"

# raw.load_log (one row per export file) is written by every raw asset in the same
# transaction as the file's rows; incremental dbt runs read it (int_rebuild_days). Declared
# so the graph shows it with the raw tables instead of as an unknown upstream.
load_log = dg.AssetSpec(
    key=["raw", "load_log"],
    group_name="raw",
    description="One row per export file loaded: source, file, sha256, export day, status, rows read/kept/rejected. "
    "Written by the raw assets (raw_exports step) with each file's rows.",
)
DUPLICATE_EXAMPLES = 10


def _dates_of(context: dg.AssetExecutionContext) -> list[date]:
    window = context.partition_time_window
    first, end = window.start.date(), window.end.date()
    return [first + timedelta(days=i) for i in range((end - first).days)]


def _files_table(reports: "list[FileLoad]") -> str:
    lines = ["| file | status | read | kept | rejected |", "|---|---|---:|---:|---:|"]
    lines += [
        f"| {r.source_file} | {r.status} | {r.rows_read} | {r.rows_kept} | {r.rows_rejected} |"
        for r in reports[:50]
    ]
    if len(reports) > 50:
        lines.append(f"| … {len(reports) - 50} more files | | | | |")
    return "\n".join(lines)


@dg.multi_asset(
    name="raw_exports",
    specs=[
        dg.AssetSpec(
            key=["raw", spec.name],
            description=f"{spec.description} Table raw.{spec.name}; bad rows go to raw.rejects.",
            group_name="raw",
            kinds={"python", "duckdb"},
            metadata={"landing_folder": f"data/raw/{spec.name}/", "format": spec.format, "key": spec.key},
        )
        for spec in SOURCES.values()
    ],
    check_specs=[
        dg.AssetCheckSpec(
            CONSERVATION_CHECK,
            asset=["raw", spec.name],
            description="For every loaded file: rows read = rows kept in the table + rows in raw.rejects; no file failed to read.",
        )
        for spec in SOURCES.values()
    ] + [
        dg.AssetCheckSpec(
            DUPLICATES_CHECK,
            asset=["raw", spec.name],
            description=f"No {'/'.join(spec.duplicate_key)} of the run's export days is stored in more "
                        "than one file (overlapping exports), checked against every stored copy; each "
                        "duplicate is reported by the run that loads its second copy. WARN only: staging "
                        "keeps one copy; this makes the overlap visible (all of them: view raw.duplicate_keys).",
        )
        for spec in SOURCES.values() if spec.duplicate_key
    ],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    can_subset=True,
)
def raw_exports(context: dg.AssetExecutionContext, duckdb: DuckDBResource):
    # the loader (pyarrow, numpy) is imported when the step runs: definitions load faster
    from orchestration.ingest.loader import (
        conservation_violations, duplicate_keys, ensure_duplicate_keys_view, ensure_raw_schema,
        files_for_dates, load_files,
    )

    dates = _dates_of(context)
    for key in sorted(context.selected_asset_keys, key=lambda k: k.to_user_string()):
        spec = SOURCES[key.path[-1]]
        files = files_for_dates(settings.RAW_DATA_DIR, spec, dates)
        with duckdb.get_connection() as conn:
            ensure_raw_schema(conn)
            ensure_duplicate_keys_view(conn)
            reports = load_files(conn, spec, files, settings.RAW_DATA_DIR)
            violations = conservation_violations(conn, spec.name)
            duplicates = duplicate_keys(conn, spec.name, dates[0], dates[-1])
            failed = conn.execute(
                "select source_file, message from raw.load_log where source = ? and status = 'failed'",
                [spec.name],
            ).fetchall()
            reasons = conn.execute(
                "select reason, count(*) from raw.rejects where source = ? and export_date between ? and ? "
                "group by 1 order by 2 desc limit 10",
                [spec.name, dates[0], dates[-1]],
            ).fetchall()
            table_rows = conn.execute(f"select count(*) from {spec.table}").fetchone()[0]
            files_checked = conn.execute(
                "select count(*) from raw.load_log where source = ?", [spec.name]
            ).fetchone()[0]

        read = sum(r.rows_read for r in reports)
        kept = sum(r.rows_kept for r in reports)
        rejected = sum(r.rows_rejected for r in reports)
        context.log.info(f"{spec.table}: {len(files)} files, {read} rows read, {kept} kept, {rejected} rejected")
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={
                "dates": f"{dates[0]} … {dates[-1]}",
                "files": len(files),
                "rows_read": read,
                "rows_kept": kept,
                "rows_rejected": rejected,
                "table_rows_total": table_rows,
                "files_loaded": dg.MetadataValue.md(_files_table(reports)) if reports else "no files for these dates",
                "duplicate_keys": len(duplicates),
                "reject_reasons": dg.MetadataValue.md(
                    "\n".join(["| reason | rows |", "|---|---:|"] + [f"| {r} | {n} |" for r, n in reasons])
                ) if reasons else "none",
            },
        )
        check_key = dg.AssetCheckKey(key, CONSERVATION_CHECK)
        if check_key in context.selected_asset_check_keys:
            yield dg.AssetCheckResult(
                asset_key=key,
                check_name=CONSERVATION_CHECK,
                passed=not violations and not failed,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={
                    "files_checked": files_checked,
                    "violations": dg.MetadataValue.json([list(map(str, v)) for v in violations]),
                    "failed_files": dg.MetadataValue.json([list(map(str, f)) for f in failed]),
                },
            )
        duplicates_key = dg.AssetCheckKey(key, DUPLICATES_CHECK)
        if duplicates_key in context.selected_asset_check_keys:
            yield dg.AssetCheckResult(
                asset_key=key,
                check_name=DUPLICATES_CHECK,
                passed=not duplicates,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "duplicate_keys": len(duplicates),
                    "extra_copies": sum(n - 1 for _, n, _ in duplicates),
                    "examples": dg.MetadataValue.json(
                        [{"key": k, "copies": n, "files": files} for k, n, files in duplicates[:DUPLICATE_EXAMPLES]]),
                },
            )
