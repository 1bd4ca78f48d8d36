"""Every dbt seed and model is an asset (grouped by its layer folder); dbt tests are
asset checks. One `dbt build` step runs them all in dependency order."""


import shutil
from collections.abc import Mapping
from typing import Any

import dagster as dg
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


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=LayerTranslator(),
    name="warehouse_dbt",
)
def warehouse_dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    invocation = dbt.cli(["build"], context=context)
    try:
        yield from invocation.stream()
    finally:
        # Each Dagster-driven dbt call writes target/<asset>-<run>-<hash>/; keep the
        # project folder from filling up with them.
        shutil.rmtree(invocation.target_path, ignore_errors=True)
