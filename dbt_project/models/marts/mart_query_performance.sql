{{ config(materialized=('table' if target.type == 'spark' else 'incremental'), incremental_strategy='replace_days', unique_key='usage_date', on_schema_change='fail', rebuild_scope='usage') }}
-- Incremental by event day (see macros/incremental.sql): a windowed run replaces the days in int_rebuild_days
-- whose usage changes (rebuild_scope 'usage': this model reads no cloud bill and no GPU samples).
-- depends_on: {{ ref('int_rebuild_days') }}
-- One row per query (a user request an agent served): its LLM calls, their average and
-- p95 latency, the end-to-end response time (first call start to last call end), and the
-- tokens and money it took. Cost = the total cost of the executions that served it (tokens,
-- compute, storage, network, APIs) plus any of its LLM calls made outside executions.
with calls as (

    select * from {{ ref('fct_llm_calls') }}
    where query_id is not null
    {%- if is_windowed() %}
        -- every call of the queries that have a call on a rebuild day
        and query_id in {{ keys_on_rebuild_days(ref('fct_llm_calls'), 'query_id') }}
    {%- endif %}

),

by_query as (

    select
        query_id,
        min(agent_id) as agent_id,
        min(workspace_id) as workspace_id,
        min(started_at) as started_at,
        max(completed_at) as completed_at,
        count(*) as llm_calls,
        sum(case when is_success then 0 else 1 end) as failed_llm_calls,
        avg(latency_ms) as avg_call_latency_ms,
        {{ percentile_cont('latency_ms', 0.95) }} as p95_call_latency_ms,
        cast(sum(input_tokens) as bigint) as input_tokens,
        cast(sum(output_tokens) as bigint) as output_tokens,
        cast(sum(total_tokens) as bigint) as total_tokens,
        sum(case when is_outside_executions then coalesce(token_cost, 0) else 0 end) as outside_execution_cost
    from calls
    group by query_id

),

executions as (

    select
        query_id,
        count(*) as executions,
        sum(total_cost) as execution_cost
    from {{ ref('fct_resource_utilization') }}
    where query_id is not null and query_id in (select query_id from by_query)
    group by query_id

)

select
    by_query.query_id,
    by_query.agent_id,
    by_query.workspace_id,
    by_query.started_at,
    cast(by_query.started_at as date) as usage_date,
    by_query.llm_calls,
    by_query.failed_llm_calls,
    coalesce(executions.executions, 0) as executions,
    by_query.avg_call_latency_ms,
    by_query.p95_call_latency_ms,
    {{ dbt.datediff('by_query.started_at', 'by_query.completed_at', 'millisecond') }} as response_time_ms,
    by_query.input_tokens,
    by_query.output_tokens,
    by_query.total_tokens,
    {{ money('coalesce(executions.execution_cost, 0) + by_query.outside_execution_cost') }} as query_cost
from by_query
left join executions on by_query.query_id = executions.query_id
where {{ in_rebuild_days('cast(by_query.started_at as date)') }}
