{#- The Spark twin of stg_genai_prices__model_prices.py (same name, same columns; dbt keeps
    the one enabled for the target). dbt-spark's session mode cannot run Python models, and
    on Spark raw.model_price_catalog always exists: spark/load_raw.py registers it with the
    other raw tables, so there is no need for the Python model's fallback. -#}
{{ config(materialized='table', enabled=(target.type == 'spark')) }}
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
from {{ source('genai_prices', 'model_price_catalog') }}
