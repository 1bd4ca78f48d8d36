"""published/warehouse: the read-only copy of the warehouse that readers open, replaced
atomically as the last step of every successful run (see orchestration/publishing.py)."""

from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from orchestration import settings
from orchestration.defs.alerts.assets import alerts
from orchestration.defs.analytics.assets import analytics_tables
from orchestration.defs.dbt.assets import warehouse_dbt
from orchestration.defs.forecasting.assets import forecasts
from orchestration.publishing import publish

# Everything readers see must be done first: every dbt model, the analytics, forecasts and
# alerts. If any of them fails, this step does not run and the previous copy stays.
UPSTREAM = sorted(
    {*warehouse_dbt.keys, *analytics_tables.keys, *forecasts.keys, *alerts.keys},
    key=lambda k: k.to_user_string(),
)


@dg.asset(
    key=["published", "warehouse"],
    group_name="publish",
    kinds={"duckdb"},
    deps=UPSTREAM,
    description="Read-only copy of the warehouse for BI tools, the API and the dashboard "
                "(PUBLISHED_DUCKDB_PATH), replaced atomically after every successful run.",
)
def published_warehouse(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    target = settings.PUBLISHED_DUCKDB_PATH
    with duckdb.get_connection() as conn:
        result = publish(conn, Path(duckdb.database), target, context.run_id)
    marts = {t: n for t, n in result.table_rows.items() if t.startswith(("marts.", "analytics."))}
    context.log.info(f"published {target} ({result.size_bytes / 1e6:.1f} MB, {len(result.table_rows)} tables)")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(target)),
            "size_mb": round(result.size_bytes / 1e6, 2),
            "tables": len(result.table_rows),
            "previous_run_id": result.previous_run_id or "none",
            "rows_by_table": dg.MetadataValue.md(
                "\n".join(["| table | rows |", "|---|---:|"] + [f"| {t} | {n:,} |" for t, n in sorted(marts.items())])
            ),
        }
    )
