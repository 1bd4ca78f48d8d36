"""Every dbt seed and model is an asset (grouped by its layer folder); dbt tests are
asset checks. One `dbt build` step runs them all in dependency order.

The heavy models are incremental by event day (dbt_project/macros/incremental.sql): a run
launched for a partition or a partition range (schedule, sensor, `warehouse build`, a
backfill) passes its days to dbt as vars min_date / max_date, and dbt rebuilds only those
days plus a lookback for late data. A run without partitions (a UI materialize) rebuilds
everything.
"""


import json
import shutil
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from orchestration.project import dbt_project


class LayerTranslator(DagsterDbtTranslator):
    """Group models by their folder under models/ (staging, intermediate, marts); seeds
    are the reference data group."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "reference"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else super().get_group_name(dbt_resource_props)


def run_window(tags: Mapping[str, str]) -> tuple[str, str] | None:
    """The run's partition range (first, last day), from the tags a backfill, a sensor
    request or `warehouse build` (range) or the schedule (single partition) put on it."""
    start, end = tags.get(ASSET_PARTITION_RANGE_START_TAG), tags.get(ASSET_PARTITION_RANGE_END_TAG)
    if start and end:
        return start, end
    key = tags.get(PARTITION_NAME_TAG)
    return (key, key) if key else None


# The model that turns the window into the exact days to rebuild (see its SQL).
REBUILD_DAYS_KEY = dg.AssetKey(["intermediate", "int_rebuild_days"])


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=LayerTranslator(),
    name="warehouse_dbt",
)
def warehouse_dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    window = run_window(context.run.tags)
    args = ["build"]
    if window and REBUILD_DAYS_KEY not in context.selected_asset_keys:
        # the day list is built by int_rebuild_days; without it in the run, a subset of
        # models is rebuilt whole rather than against a stale day list
        context.log.info(f"{REBUILD_DAYS_KEY.to_user_string()} is not selected: rebuilding the selected models whole")
        window = None
    if window:
        context.log.info(f"Incremental dbt build for event days {window[0]} .. {window[1]} (plus lookback)")
        args += ["--vars", json.dumps({"min_date": window[0], "max_date": window[1]})]
    else:
        context.log.info("No partition range on this run: dbt rebuilds every day")
    invocation = dbt.cli(args, context=context)
    try:
        yield from invocation.stream()
    finally:
        # Each Dagster-driven dbt call writes target/<asset>-<run>-<hash>/; keep the
        # project folder from filling up with them.
        shutil.rmtree(invocation.target_path, ignore_errors=True)
