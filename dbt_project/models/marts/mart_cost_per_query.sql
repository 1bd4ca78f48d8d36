{{ config(materialized=('table' if target.type == 'spark' else 'incremental'), incremental_strategy='replace_days', unique_key='usage_date', on_schema_change='fail', rebuild_scope='usage') }}
-- Incremental by a query's first day (see macros/incremental.sql): a windowed run recomputes,
-- from all their ledger rows, the queries with a row on a day of int_rebuild_days whose usage
-- changes, and keeps those whose first day is one of them. A query whose events changed has
-- every day reopened (int_rebuild_days, reason linked), so its first day is among them; the
-- others keep their stored row. Only usage rows carry a query (not the cloud-bill shares).
-- depends_on: {{ ref('int_rebuild_days') }}
-- What each query cost, from the ledger: its executions (tokens, compute, storage,
-- network), their API calls, and its LLM calls made outside executions.
with ledger as (

    select * from {{ ref('fct_cost_ledger') }}
    where query_id is not null
    {%- if is_windowed() %}
        and query_id in {{ keys_on_rebuild_days(ref('fct_cost_ledger'), 'query_id') }}
    {%- endif %}

),

by_query as (

    select
        query_id,
        min(usage_date) as usage_date,
        min(workspace_id) as workspace_id,
        min(agent_id) as agent_id,
        min(user_id) as user_id,
        min(department) as department,
        min(project) as project,
        {% for component in ['token', 'cpu', 'memory', 'gpu', 'storage', 'network', 'api'] %}
        {{ money("sum(case when cost_component = '" ~ component ~ "' then amount_usd else 0 end)") }} as {{ component }}_cost,
        {% endfor %}
        {{ money('sum(amount_usd)') }} as total_cost
    from ledger
    group by query_id

)

select * from by_query
where {{ in_rebuild_days('usage_date') }}
