"""`warehouse` command: build the warehouse from the exports in the landing zone.

    warehouse build                     # every export day found in data/raw/, one run
    warehouse build --start 2026-10-15 --end 2026-10-20
    warehouse serve --host 127.0.0.1 --port 8000   # read-only API + /dashboard over the published copy

It runs the same Dagster job the schedule and the sensor run (`warehouse_job`), as a
single-run backfill over the export days, against the Dagster instance in $DAGSTER_HOME
when one is set (so the run shows in the UI) or an ephemeral one otherwise.
"""

import argparse
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import duckdb

from orchestration.publishing import table_rows


def export_days() -> list[date]:
    from orchestration import settings
    from orchestration.ingest.parsing import export_date_of
    from orchestration.ingest.sources import SOURCES

    days = set()
    for spec in SOURCES.values():
        folder = settings.RAW_DATA_DIR / spec.name
        if folder.is_dir():
            days.update(d for p in folder.rglob("*") if p.is_file() and (d := export_date_of(p)))
    return sorted(days)


def mart_row_counts(database: str) -> dict[str, int]:
    with duckdb.connect(database, read_only=True) as conn:
        return table_rows(conn, ("raw", "marts"))


def build(start: str | None, end: str | None) -> int:
    import dagster as dg

    from orchestration import settings
    from orchestration.project import dbt_project

    started = time.perf_counter()
    days = export_days()
    if not days and not (start and end):
        print(f"No export files found under {settings.RAW_DATA_DIR}", file=sys.stderr)
        return 2
    first = start or days[0].isoformat()
    last = end or days[-1].isoformat()

    # Definitions need the dbt manifest; `dagster dev` prepares it itself, here we do.
    ensure_manifest(Path(dbt_project.project_dir))
    from orchestration.defs.schedules.jobs import partition_range_tags
    from orchestration.definitions import defs

    job = defs.resolve_job_def("warehouse_job")
    print(f"Building {settings.DUCKDB_PATH} from exports {first} .. {last}")
    with dg.DagsterInstance.get() if _has_dagster_home() else dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(instance=instance, tags=partition_range_tags(first, last), raise_on_error=False)
    elapsed = time.perf_counter() - started

    failed = [
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.asset_check_evaluation_data.passed
    ]
    # Checks on analytics/alerts report budget and CPU alerts (the data is fine, a budget is
    # not): printed, but they do not fail the build.
    alert_checks = [c for c in failed if c.asset_check_key.asset_key.path == ["analytics", "alerts"]]
    # WARN checks (e.g. no_duplicate_keys: duplicates are reported, then one copy is kept by
    # rule) are printed; ERROR checks fail the build.
    warned = [c.asset_check_key.to_user_string() for c in failed
              if c not in alert_checks and c.severity == dg.AssetCheckSeverity.WARN]
    failed_checks = [c.asset_check_key.to_user_string() for c in failed
                     if c not in alert_checks and c.severity != dg.AssetCheckSeverity.WARN]
    print(f"\nRun {result.run_id}: {'succeeded' if result.success else 'FAILED'} in {elapsed:.1f} s")
    for table, rows in mart_row_counts(str(settings.DUCKDB_PATH)).items():
        print(f"  {table:<45} {rows:>10,} rows")
    if result.success:
        print(f"Published (read-only copy for BI tools, the API and the dashboard): {settings.PUBLISHED_DUCKDB_PATH}")
    if alert_checks:
        print("Alerts (analytics.alerts): " + ", ".join(
            f"{c.asset_check_key.name} ({c.severity.value.lower()})" for c in alert_checks))
    if warned:
        print(f"Warnings (checks of severity WARN): {', '.join(warned)}")
    if failed_checks:
        print(f"Failed checks: {', '.join(failed_checks)}")
    return 0 if result.success and not failed_checks else 1


def serve(host: str, port: int) -> int:
    """The API and dashboard (orchestration/serving) over settings.PUBLISHED_DUCKDB_PATH."""
    import uvicorn

    from orchestration.serving import create_app

    uvicorn.run(create_app(), host=host, port=port)
    return 0


# What `dbt parse` reads besides the project files: the env vars it resolves.
_PARSE_ENV_PREFIXES = ("DUCKDB_", "DBT_")


def _parse_inputs() -> str:
    import json
    import os

    return json.dumps({k: v for k, v in sorted(os.environ.items()) if k.startswith(_PARSE_ENV_PREFIXES)})


def _parse_stamp(project_dir: Path) -> Path:
    return project_dir / "target" / ".warehouse_parse_inputs.json"


def ensure_manifest(project_dir: Path) -> bool:
    """Run `dbt parse` unless the manifest is current; True when it parsed."""
    from orchestration import settings

    if manifest_is_current(project_dir):
        return False
    subprocess.run([settings.DBT_EXECUTABLE, "parse", "--quiet", "--profiles-dir", "."], cwd=project_dir, check=True)
    _parse_stamp(project_dir).write_text(_parse_inputs())
    return True


def manifest_is_current(project_dir: Path) -> bool:
    """True when target/manifest.json was written by our own parse after the last change to
    any project file, with the same DUCKDB_*/DBT_* environment: parsing again (~5 s) would
    give the same manifest. Anything else (a new or edited model, a changed variable)
    parses."""
    manifest, stamp = project_dir / "target" / "manifest.json", _parse_stamp(project_dir)
    if not manifest.is_file() or not stamp.is_file() or stamp.read_text() != _parse_inputs():
        return False
    built = stamp.stat().st_mtime
    if manifest.stat().st_mtime > built:
        return False  # parsed since by someone else (dagster dev, a test), maybe with other settings
    inputs = [project_dir / name for name in ("dbt_project.yml", "profiles.yml", "packages.yml", "dependencies.yml")]
    for folder in ("models", "macros", "seeds", "tests", "snapshots", "analyses"):
        if (project_dir / folder).is_dir():
            inputs.append(project_dir / folder)  # a deleted file changes its folder's mtime
            inputs += (project_dir / folder).rglob("*")
    return all(not p.exists() or p.stat().st_mtime < built for p in inputs)


def _has_dagster_home() -> bool:
    import os

    return bool(os.environ.get("DAGSTER_HOME"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="warehouse", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    build_cmd = sub.add_parser("build", help="load the exports and build every model (one Dagster run)")
    build_cmd.add_argument("--start", help="first export day (default: earliest file)")
    build_cmd.add_argument("--end", help="last export day (default: latest file)")
    serve_cmd = sub.add_parser("serve", help="serve the read-only API and dashboard over the published warehouse")
    serve_cmd.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    serve_cmd.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    args = parser.parse_args(argv)
    if args.command == "build":
        return build(args.start, args.end)
    if args.command == "serve":
        return serve(args.host, args.port)
    return 2


if __name__ == "__main__":
    sys.exit(main())
