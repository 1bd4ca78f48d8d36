{{ config(materialized='table') }}
-- A table, not a view: the cloud split, the allocation mart, the budget mart and the tests
-- read it, and as a view each of them aggregated every execution, API call and LLM call again.
-- The costs agents incur directly, per workspace x agent x day: tokens, compute, GPU,
-- storage, network and external APIs. Every agent has a row for every day the platform
-- reported activity (zero when idle). The cloud bill is split in proportion to these.
with executions as (

    select
        workspace_id,
        agent_id,
        usage_date,
        count(*) as executions,
        sum(cpu_cost) as cpu_cost,
        sum(memory_cost) as memory_cost,
        sum(gpu_cost) as gpu_cost,
        sum(storage_cost) as storage_cost,
        sum(network_cost) as network_cost,
        sum(coalesce(token_cost, 0)) as token_cost
    from {{ ref('fct_resource_utilization') }}
    group by workspace_id, agent_id, usage_date

),

-- API cost is taken from the API log itself, not through executions, so a call whose
-- execution is missing from the export is still charged to its agent.
api_calls as (

    select
        workspace_id,
        agent_id,
        usage_date,
        count(*) as api_calls,
        sum(cost_usd) as api_cost
    from {{ ref('fct_api_calls') }}
    group by workspace_id, agent_id, usage_date

),

-- LLM calls that no execution record covers (LiteLLM, OpenTelemetry): their token cost is
-- charged to their agent; a call whose agent is unknown goes to '(unattributed)' rather
-- than being lost.
outside_executions as (

    select
        coalesce(workspace_id, '(unattributed)') as workspace_id,
        coalesce(agent_id, '(unattributed)') as agent_id,
        usage_date,
        count(*) as llm_calls,
        sum(coalesce(token_cost, 0)) as token_cost
    from {{ ref('fct_llm_calls') }}
    where is_outside_executions
    group by coalesce(workspace_id, '(unattributed)'), coalesce(agent_id, '(unattributed)'), usage_date

),

subjects as (

    select workspace_id, agent_id from {{ ref('dim_agents') }}
    union
    select workspace_id, agent_id from executions
    union
    select workspace_id, agent_id from api_calls
    union
    select workspace_id, agent_id from outside_executions

),

days as (

    select usage_date from executions
    union
    select usage_date from api_calls
    union
    select usage_date from outside_executions

),

daily as (

    select
        subjects.workspace_id,
        subjects.agent_id,
        days.usage_date,
        coalesce(executions.executions, 0) as executions,
        coalesce(api_calls.api_calls, 0) as api_calls,
        {{ money('coalesce(executions.cpu_cost, 0)') }} as cpu_cost,
        {{ money('coalesce(executions.memory_cost, 0)') }} as memory_cost,
        {{ money('coalesce(executions.gpu_cost, 0)') }} as gpu_cost,
        {{ money('coalesce(executions.storage_cost, 0)') }} as storage_cost,
        {{ money('coalesce(executions.network_cost, 0)') }} as network_cost,
        {{ money('coalesce(executions.token_cost, 0) + coalesce(outside_executions.token_cost, 0)') }} as token_cost,
        {{ money('coalesce(outside_executions.token_cost, 0)') }} as token_cost_outside_executions,
        {{ money('coalesce(api_calls.api_cost, 0)') }} as api_cost
    from subjects
    cross join days
    left join executions
        on subjects.workspace_id = executions.workspace_id
        and subjects.agent_id = executions.agent_id
        and days.usage_date = executions.usage_date
    left join api_calls
        on subjects.workspace_id = api_calls.workspace_id
        and subjects.agent_id = api_calls.agent_id
        and days.usage_date = api_calls.usage_date
    left join outside_executions
        on subjects.workspace_id = outside_executions.workspace_id
        and subjects.agent_id = outside_executions.agent_id
        and days.usage_date = outside_executions.usage_date

),

totals as (

    select
        *,
        {{ money('cpu_cost + memory_cost + gpu_cost + storage_cost + network_cost + token_cost + api_cost') }} as direct_cost
    from daily

)

select * from totals
