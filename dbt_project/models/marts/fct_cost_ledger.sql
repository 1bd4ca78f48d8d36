{{ config(materialized=('table' if target.type == 'spark' else 'incremental'), incremental_strategy='replace_days', unique_key='usage_date', on_schema_change='fail', rebuild_scope='usage', all_days_rows="source like 'focus:%'") }}
-- Incremental by event day (see macros/incremental.sql): a windowed run replaces the days in int_rebuild_days
-- whose usage changes (rebuild_scope 'usage'); the cloud-bill shares (source focus:...) on every rebuild day.
-- depends_on: {{ ref('int_rebuild_days') }}
-- Every dollar the warehouse knows about, once, at the finest grain it has: one row per
-- execution x cost component, per external API call, per LLM call made outside executions,
-- and per share of a cloud bill line. Chargeback by any dimension is a GROUP BY over this
-- table, so every breakdown sums to the same total by construction.
-- Who pays: an execution's and its API calls' costs go to the user who ran it; costs with
-- no execution (outside calls, orphan API calls, cloud lines) go to the agent's owner.
-- The executions are read twice, each time for what that part needs: a CTE read twice
-- would be materialized by DuckDB before the rebuild-day filter (every execution, ~1 s at
-- 10M calls, for a windowed run that needs a few days of them).
with day_executions as (

    select * from {{ ref('fct_resource_utilization') }} where {{ in_rebuild_days('usage_date') }}

),

execution_payers as (

    select execution_id, user_id, query_id from {{ ref('fct_resource_utilization') }}

),

agents as (

    select * from {{ ref('dim_agents') }}

),

execution_components as (

    {% for component in ['token', 'cpu', 'memory', 'gpu', 'storage', 'network'] %}
    select
        usage_date, workspace_id, agent_id, user_id, query_id, execution_id,
        '{{ component }}' as cost_component,
        coalesce({{ component }}_cost, 0) as amount_usd,
        'execution' as source
    from day_executions
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

api_calls as (

    select
        api.usage_date, api.workspace_id, api.agent_id,
        executions.user_id, executions.query_id, api.execution_id,
        'api' as cost_component,
        api.cost_usd as amount_usd,
        'api_call' as source
    from {{ ref('fct_api_calls') }} as api
    left join execution_payers as executions on api.execution_id = executions.execution_id
    where {{ in_rebuild_days('api.usage_date') }}

),

outside_calls as (

    select
        usage_date,
        coalesce(workspace_id, '(unattributed)') as workspace_id,
        coalesce(agent_id, '(unattributed)') as agent_id,
        cast(null as {{ dbt.type_string() }}) as user_id,
        query_id,
        cast(null as {{ dbt.type_string() }}) as execution_id,
        'token' as cost_component,
        coalesce(token_cost, 0) as amount_usd,
        source_system as source
    from {{ ref('fct_llm_calls') }}
    where is_outside_executions and {{ in_rebuild_days('usage_date') }}

),

cloud as (

    select
        usage_date, workspace_id, agent_id,
        cast(null as {{ dbt.type_string() }}) as user_id,
        cast(null as {{ dbt.type_string() }}) as query_id,
        cast(null as {{ dbt.type_string() }}) as execution_id,
        cost_component,
        amount_usd,
        'focus:' || cost_line_id as source
    from {{ ref('int_cloud_cost_allocation') }}
    where {{ in_rebuild_days('usage_date', 'all') }}

),

ledger as (

    select * from execution_components
    union all
    select * from api_calls
    union all
    select * from outside_calls
    union all
    select * from cloud

)

select
    ledger.usage_date,
    cast({{ dbt.date_trunc('month', 'ledger.usage_date') }} as date) as billing_month,
    ledger.workspace_id,
    coalesce(agents.department, '(unallocated)') as department,
    coalesce(agents.project, '(unallocated)') as project,
    ledger.agent_id,
    coalesce(ledger.user_id, agents.owner_user_id, '(unallocated)') as user_id,
    ledger.query_id,
    ledger.execution_id,
    ledger.cost_component,
    {{ money('ledger.amount_usd') }} as amount_usd,
    ledger.source
from ledger
left join agents on ledger.agent_id = agents.agent_id
