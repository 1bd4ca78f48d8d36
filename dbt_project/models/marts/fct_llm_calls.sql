{{ config(materialized=('table' if target.type == 'spark' else 'incremental'), incremental_strategy='replace_days', unique_key='usage_date', on_schema_change='fail', rebuild_scope='usage') }}
-- Incremental by event day (see macros/incremental.sql): a windowed run replaces the days in int_rebuild_days
-- whose usage changes (rebuild_scope 'usage': this model reads no cloud bill and no GPU samples).
-- depends_on: {{ ref('int_rebuild_days') }}
-- One row per LLM request from every call log (platform gateway, LiteLLM, OpenTelemetry)
-- with disjoint token buckets and its cost at the price in force at the call's start.
-- An unknown model is kept with token_cost null and is_priced false (see
-- mart_unpriced_models).
with calls as (

    {{ canonical_llm_calls(windowed=is_windowed()) }}

),

prices as (

    select * from {{ ref('int_model_prices') }}

),

priced as (

    select
        calls.*,
        prices.valid_from as price_valid_from,
        prices.input_usd_per_mtok,
        prices.cached_input_usd_per_mtok,
        prices.cache_write_usd_per_mtok,
        prices.cache_write_1h_usd_per_mtok,
        prices.output_usd_per_mtok
    from calls
    {{ join_price_in_force('calls', 'started_at') }}

)

select
    call_id,
    query_id,
    execution_id,
    agent_id,
    workspace_id,
    agent_name,
    provider,
    model,
    started_at,
    completed_at,
    usage_date,
    input_tokens,
    uncached_input_tokens,
    cached_input_tokens,
    cache_write_tokens,
    cache_write_1h_tokens,
    output_tokens,
    reasoning_tokens,
    total_tokens,
    latency_ms,
    call_status,
    call_status = 'success' as is_success,
    prompt_fingerprint,
    {{ token_cost('uncached_input_tokens', 'cached_input_tokens', 'cache_write_tokens', 'output_tokens', 'priced', 'cache_write_1h_tokens') }} as token_cost,
    reported_cost_usd,
    price_valid_from,
    price_valid_from is not null as is_priced,
    source_system,
    source_system <> 'agent_platform' as is_outside_executions,
    source_file,
    source_record
from priced
