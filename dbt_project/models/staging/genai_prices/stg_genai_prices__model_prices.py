"""The genai-prices catalog, typed: raw.model_price_catalog as the Dagster asset
raw/model_price_catalog wrote it.

A Python model (dbt-duckdb runs it in dbt's own process) only so that a bare `dbt build`
(without Dagster, e.g. a test harness or an analyst's `dbt build` on a fresh file) still
works: when the raw table does not exist yet, the same pure builder
(orchestration.pricing.catalog) produces the same rows from the installed package.
"""


def model(dbt, session):
    dbt.config(materialized="table")
    found = session.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'raw' and table_name = 'model_price_catalog'").fetchall()[0][0]
    if found:
        catalog = dbt.source("genai_prices", "model_price_catalog")
    else:
        from orchestration.pricing.catalog import build_price_catalog, catalog_relation

        catalog = catalog_relation(session, build_price_catalog())
    return catalog.query("catalog", """
        select
            provider,
            model as catalog_model,
            model_name,
            catalog_order,
            aliases,
            valid_from,
            valid_to,
            valid_from_basis,
            input_usd_per_mtok,
            cache_read_usd_per_mtok,
            cache_write_usd_per_mtok,
            cache_write_1h_usd_per_mtok,
            output_usd_per_mtok,
            is_tiered,
            tier_threshold_input_tokens,
            input_tier_usd_per_mtok,
            cache_read_tier_usd_per_mtok,
            cache_write_tier_usd_per_mtok,
            cache_write_1h_tier_usd_per_mtok,
            output_tier_usd_per_mtok,
            context_window_tokens,
            deprecated,
            price_note,
            catalog_version
        from catalog
    """)
