-- The two daily cost views agree: per workspace x agent x day, the model-level daily
-- usage mart sums to the cost allocation mart's usage costs (its total less the cloud
-- bill shares, which have no model), to the cent.
with usage as (

    select workspace_id, agent_id, usage_date, sum(total_cost) as total_cost
    from {{ ref('mart_daily_usage') }}
    group by workspace_id, agent_id, usage_date

),

allocation as (

    select workspace_id, agent_id, usage_date, total_cost - cloud_direct_cost - cloud_shared_cost as total_cost
    from {{ ref('mart_infrastructure_cost_allocation') }}

)

select
    coalesce(usage.workspace_id, allocation.workspace_id) as workspace_id,
    coalesce(usage.agent_id, allocation.agent_id) as agent_id,
    coalesce(usage.usage_date, allocation.usage_date) as usage_date,
    usage.total_cost as usage_total,
    allocation.total_cost as allocation_total
from usage
full outer join allocation
    on usage.workspace_id = allocation.workspace_id
    and usage.agent_id = allocation.agent_id
    and usage.usage_date = allocation.usage_date
where round(coalesce(usage.total_cost, 0), 2) <> round(coalesce(allocation.total_cost, 0), 2)
