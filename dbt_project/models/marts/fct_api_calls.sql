{{ config(materialized=('table' if target.type == 'spark' else 'incremental'), incremental_strategy='replace_days', unique_key='usage_date', on_schema_change='fail', rebuild_scope='usage') }}
-- Incremental by event day (see macros/incremental.sql): a windowed run replaces the days in int_rebuild_days
-- whose usage changes (rebuild_scope 'usage': this model reads no cloud bill and no GPU samples).
-- depends_on: {{ ref('int_rebuild_days') }}
-- depends_on: {{ ref('stg_agent_platform__api_calls') }}
-- depends_on: {{ ref('agents') }}
-- One row per external API request.
select
    request_id,
    execution_id,
    agent_id,
    workspace_id,
    requested_at,
    usage_date,
    endpoint,
    http_method,
    status_code,
    is_success,
    latency_ms,
    is_rate_limited,
    retry_attempt,
    error_type,
    cost_usd,
    request_fingerprint
from (
    {%- if is_windowed() %}
    {{ canonical_api_calls(candidates='usage_date in ' ~ rebuild_days(), winners='ranked.usage_date in ' ~ rebuild_days()) }}
    {%- else %}
    select * from {{ ref('int_api_calls') }}
    {%- endif %}
) as api_calls
