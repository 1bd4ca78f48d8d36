{{ config(materialized=('table' if target.type == 'spark' else 'incremental'), incremental_strategy='replace_days', unique_key='cast(minute_start as date)', on_schema_change='fail', rebuild_scope='usage') }}
-- Incremental by event day (see macros/incremental.sql): a windowed run replaces the days in int_rebuild_days
-- whose usage changes (rebuild_scope 'usage': this model reads no cloud bill and no GPU samples).
-- depends_on: {{ ref('int_rebuild_days') }}
-- Load over time: per minute (UTC) with activity, the queries that started, the LLM calls
-- that started and their latency.
with calls as (

    select
        {{ dbt.date_trunc('minute', 'started_at') }} as minute_start,
        query_id,
        latency_ms
    from {{ ref('fct_llm_calls') }}
    where {{ in_rebuild_days('usage_date') }}

),

query_starts as (

    select {{ dbt.date_trunc('minute', 'started_at') }} as minute_start, count(*) as queries_started
    from {{ ref('mart_query_performance') }}
    where {{ in_rebuild_days('usage_date') }}
    group by {{ dbt.date_trunc('minute', 'started_at') }}

),

call_minutes as (

    select
        minute_start,
        count(*) as llm_calls_started,
        avg(latency_ms) as avg_call_latency_ms,
        {{ percentile_cont('latency_ms', 0.95) }} as p95_call_latency_ms
    from calls
    group by minute_start

)

select
    call_minutes.minute_start,
    coalesce(query_starts.queries_started, 0) as queries_started,
    call_minutes.llm_calls_started,
    call_minutes.avg_call_latency_ms,
    call_minutes.p95_call_latency_ms
from call_minutes
left join query_starts on call_minutes.minute_start = query_starts.minute_start
