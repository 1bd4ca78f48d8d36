"""The main job, its daily schedule, and the sensor that loads new exports as they land."""


import hashlib
import json

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from orchestration import settings
from orchestration.ingest.parsing import export_date_of
from orchestration.ingest.sources import SOURCES
from orchestration.defs.partitions import daily_partitions

# Everything: raw loads for the partition(s), then every dbt model and check downstream.
# In-process: the graph is a few large steps, and a subprocess per step would cost more
# than the steps themselves on a small day.
warehouse_job = dg.define_asset_job(
    name="warehouse_job",
    selection=dg.AssetSelection.all(),
    partitions_def=daily_partitions,
    executor_def=dg.in_process_executor,
    description="Load the day's raw exports and rebuild every dbt model and check downstream.",
)

# 02:00 UTC: yesterday's exports are complete by then.
daily_warehouse_schedule = dg.build_schedule_from_partitioned_job(
    warehouse_job, hour_of_day=2, minute_of_hour=0, name="daily_warehouse_schedule"
)


def partition_range_tags(first: str, last: str) -> dict[str, str]:
    """Run tags that make one run materialize partitions first..last (inclusive)."""
    return {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}


def _export_signatures() -> dict[str, str]:
    """file path -> 'mtime:size' for every export file in the landing zone."""
    signatures: dict[str, str] = {}
    for spec in SOURCES.values():
        folder = settings.RAW_DATA_DIR / spec.name
        if not folder.is_dir():
            continue
        for path in folder.rglob("*"):
            if path.is_file() and not path.name.startswith("."):
                stat = path.stat()
                signatures[path.relative_to(settings.RAW_DATA_DIR).as_posix()] = f"{stat.st_mtime_ns}:{stat.st_size}"
    return signatures


@dg.sensor(
    job=warehouse_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Launches a load of every export day that has a new or changed file in data/raw/.",
)
def new_export_files_sensor(context: dg.SensorEvaluationContext):
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    current = _export_signatures()
    changed = sorted(path for path, sig in current.items() if seen.get(path) != sig)
    if not changed:
        return dg.SkipReason("no new or changed export files")

    first_key, last_key = daily_partitions.get_first_partition_key(), daily_partitions.get_last_partition_key()
    days: set[str] = set()
    unplaced: list[str] = []
    for path in changed:
        day = export_date_of(settings.RAW_DATA_DIR / path)
        if day is not None and first_key <= day.isoformat() <= last_key:
            days.add(day.isoformat())
        else:
            unplaced.append(path)
    if unplaced:
        context.log.warning(
            "Export files with no YYYY-MM-DD in their name, or a day outside the partitions "
            f"({daily_partitions.start:%Y-%m-%d} to yesterday), were not loaded: {unplaced[:20]}"
        )
    context.update_cursor(json.dumps(current))
    if not days:
        return dg.SkipReason(f"{len(unplaced)} changed file(s), none in a known export day")
    # One run for the whole range of touched days (a single-run backfill): runs in
    # parallel would fight over DuckDB's single writer. Days in between whose files are
    # unchanged are skipped by the loader in milliseconds.
    first, last = min(days), max(days)
    digest = hashlib.sha256(json.dumps(changed).encode()).hexdigest()[:16]
    return dg.RunRequest(run_key=f"exports-{first}-{last}-{digest}", tags=partition_range_tags(first, last))
