{{ config(materialized=('table' if target.type == 'spark' else 'incremental'), incremental_strategy='replace_days', unique_key='usage_date', on_schema_change='fail', rebuild_scope='usage') }}
-- Incremental by event day (see macros/incremental.sql): a windowed run replaces the days in int_rebuild_days
-- whose usage changes (rebuild_scope 'usage': this model reads no cloud bill and no GPU samples).
-- depends_on: {{ ref('int_rebuild_days') }}
-- Query performance per workspace x agent x day: queries, average and p95 response time
-- over the day's queries, tokens and cost per query.
select
    workspace_id,
    agent_id,
    usage_date,
    count(*) as queries,
    avg(response_time_ms) as avg_response_time_ms,
    {{ percentile_cont('response_time_ms', 0.95) }} as p95_response_time_ms,
    avg(total_tokens) as avg_tokens_per_query,
    {{ money('sum(query_cost) / count(*)') }} as cost_per_query,
    {{ money('sum(query_cost)') }} as total_query_cost
from {{ ref('mart_query_performance') }}
where {{ in_rebuild_days('usage_date') }}
group by workspace_id, agent_id, usage_date
