"""`raw/model_price_catalog`: the genai-prices catalog as an effective-dated price table.

A thin wrapper: the table is built by `orchestration.pricing.catalog` (pure, tested without
Dagster) and written to `raw.model_price_catalog`, which dbt reads as the source
`genai_prices.model_price_catalog` (its meta points at this asset key, so dagster-dbt draws
the dependency and `warehouse_job` materializes this before `dbt build`).
"""

import dagster as dg
from dagster_duckdb import DuckDBResource


@dg.asset(
    key=["raw", "model_price_catalog"],
    group_name="reference",
    kinds={"python", "duckdb"},
    description="Model prices per million tokens from pydantic's genai-prices catalog (installed package, offline), "
                "one row per provider x model x price period [valid_from, valid_to), with the base tier, "
                "the first price tier, aliases (model strings the catalog's matching resolves to the model) and notes.",
)
def model_price_catalog(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    # genai-prices and pandas load when the step runs, not with the definitions
    from orchestration.pricing.catalog import build_price_catalog, catalog_version, write_price_catalog

    df = build_price_catalog()
    with duckdb.get_connection() as conn:
        rows = write_price_catalog(conn, df, "raw.model_price_catalog")
    models = df[["provider", "model"]].drop_duplicates()
    context.log.info(f"raw.model_price_catalog: {rows} rows, {len(models)} models ({catalog_version()})")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(rows),
            "models": dg.MetadataValue.int(len(models)),
            "providers": dg.MetadataValue.int(int(df["provider"].nunique())),
            "time_conditional_models": dg.MetadataValue.int(
                int(df.groupby(["provider", "model"]).size().gt(1).sum())),
            "tiered_rows": dg.MetadataValue.int(int(df["is_tiered"].sum())),
            "catalog_version": dg.MetadataValue.text(catalog_version()),
        }
    )
