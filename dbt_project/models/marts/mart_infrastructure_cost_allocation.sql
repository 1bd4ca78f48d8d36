-- The seed's infrastructure_cost_allocation: every cost component per workspace x agent x
-- day — cpu, memory, gpu, storage, network, token and API cost from usage, plus the
-- agent's part of the cloud bill (lines tagged to it, and its share of shared lines) —
-- with the day's total and the rolling 30-day total (the day and the 29 before it).
-- Every agent has a row for every day the platform reported activity (zero when idle);
-- cloud cost with nothing to split over sits on the '(unallocated)' agent, so the mart's
-- total is everything the warehouse knows was spent.
with direct as (

    select * from {{ ref('int_agent_daily_direct_costs') }}

),

cloud as (

    select
        workspace_id,
        agent_id,
        usage_date,
        sum(case when cost_component = 'cloud_direct' then amount_usd else 0 end) as cloud_direct_cost,
        sum(case when cost_component in ('cloud_shared', 'cloud_unallocated') then amount_usd else 0 end) as cloud_shared_cost
    from {{ ref('int_cloud_cost_allocation') }}
    group by workspace_id, agent_id, usage_date

),

keys as (

    select workspace_id, agent_id, usage_date from direct
    union
    select workspace_id, agent_id, usage_date from cloud

),

daily as (

    select
        keys.workspace_id,
        keys.agent_id,
        keys.usage_date,
        coalesce(direct.executions, 0) as executions,
        coalesce(direct.api_calls, 0) as api_calls,
        {{ money('coalesce(direct.cpu_cost, 0)') }} as cpu_cost,
        {{ money('coalesce(direct.memory_cost, 0)') }} as memory_cost,
        {{ money('coalesce(direct.gpu_cost, 0)') }} as gpu_cost,
        {{ money('coalesce(direct.storage_cost, 0)') }} as storage_cost,
        {{ money('coalesce(direct.network_cost, 0)') }} as network_cost,
        {{ money('coalesce(direct.token_cost, 0)') }} as token_cost,
        {{ money('coalesce(direct.token_cost_outside_executions, 0)') }} as token_cost_outside_executions,
        {{ money('coalesce(direct.api_cost, 0)') }} as api_cost,
        {{ money('coalesce(cloud.cloud_direct_cost, 0)') }} as cloud_direct_cost,
        {{ money('coalesce(cloud.cloud_shared_cost, 0)') }} as cloud_shared_cost,
        {{ dbt.datediff("cast('1970-01-01' as date)", 'keys.usage_date', 'day') }} as day_number
    from keys
    left join direct
        on keys.workspace_id = direct.workspace_id and keys.agent_id = direct.agent_id
        and keys.usage_date = direct.usage_date
    left join cloud
        on keys.workspace_id = cloud.workspace_id and keys.agent_id = cloud.agent_id
        and keys.usage_date = cloud.usage_date

),

totals as (

    select
        *,
        {{ money('cpu_cost + memory_cost + gpu_cost + storage_cost + network_cost + token_cost + api_cost + cloud_direct_cost + cloud_shared_cost') }} as total_cost
    from daily

)

select
    workspace_id,
    agent_id,
    usage_date,
    executions,
    api_calls,
    cpu_cost,
    memory_cost,
    gpu_cost,
    storage_cost,
    network_cost,
    token_cost,
    token_cost_outside_executions,
    api_cost,
    cloud_direct_cost,
    cloud_shared_cost,
    total_cost,
    {{ money('sum(total_cost) over (partition by workspace_id, agent_id order by day_number range between 29 preceding and current row)') }} as rolling_30d_cost
from totals
