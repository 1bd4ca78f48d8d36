{{ config(materialized='table') }}
-- A table, not a view: the ledger, the allocation mart and the split's tests read it, and as
-- a view each of them split every line of the bill again.
-- The cloud bill (FOCUS BilledCost) per agent. Rule:
--   * a line tagged to an agent is that agent's;
--   * a line tagged to a workspace is split over that workspace's agents, and an untagged
--     (shared) line over all agents, in proportion to each agent's direct cost (tokens,
--     compute, storage, network, APIs) over the line's charge period;
--   * a line with nothing to split over (no agent activity in its period) goes to the
--     explicit '(unallocated)' agent.
-- Each share is rounded to 12 decimals and the rounding remainder goes to the largest share,
-- so the shares of a line add up to its BilledCost exactly.
with lines as (

    select
        cost_line_id,
        allocation_level,
        workspace_id,
        agent_id,
        billed_cost,
        cast(charge_period_start as date) as period_start_day,
        -- the period end is exclusive; a line inside one day covers that day
        case
            when cast(charge_period_end as date) > cast(charge_period_start as date)
                and charge_period_end = cast(cast(charge_period_end as date) as timestamp)
                then cast(charge_period_end as date)
            else {{ dbt.dateadd('day', 1, 'cast(charge_period_end as date)') }}
        end as period_end_day
    from {{ ref('fct_cloud_costs') }}

),

direct_costs as (

    select workspace_id, agent_id, usage_date, direct_cost as total_cost
    from {{ ref('int_agent_daily_direct_costs') }}
    where direct_cost > 0 and agent_id <> '(unattributed)'

),

-- One join per allocation level, not one with `shared or same workspace`: the OR leaves only
-- the date range to join on (every line against every agent-day: 9 s at 1M calls), where the
-- workspace lines' equality on workspace_id makes a hash join.
weights as (

    {%- for level in ['shared', 'workspace'] %}
    select
        lines.cost_line_id,
        direct_costs.workspace_id,
        direct_costs.agent_id,
        sum(direct_costs.total_cost) as weight
    from lines
    inner join direct_costs
        on direct_costs.usage_date >= lines.period_start_day
        and direct_costs.usage_date < lines.period_end_day
        {%- if level == 'workspace' %}
        and direct_costs.workspace_id = lines.workspace_id
        {%- endif %}
    where lines.allocation_level = '{{ level }}'
    group by lines.cost_line_id, direct_costs.workspace_id, direct_costs.agent_id
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

shares as (

    select
        weights.*,
        lines.billed_cost,
        {{ money('lines.billed_cost * weights.weight / sum(weights.weight) over (partition by weights.cost_line_id)') }} as rounded_share,
        row_number() over (partition by weights.cost_line_id order by weights.weight desc, weights.agent_id) as share_rank
    from weights
    inner join lines on weights.cost_line_id = lines.cost_line_id

),

split as (

    select
        cost_line_id,
        workspace_id,
        agent_id,
        'cloud_shared' as cost_component,
        case when share_rank = 1
            then rounded_share + (billed_cost - sum(rounded_share) over (partition by cost_line_id))
            else rounded_share
        end as amount_usd
    from shares

),

direct as (

    select cost_line_id, workspace_id, agent_id, 'cloud_direct' as cost_component, billed_cost as amount_usd
    from lines
    where allocation_level = 'agent'

),

unallocated as (

    select
        lines.cost_line_id,
        coalesce(lines.workspace_id, '(shared)') as workspace_id,
        '(unallocated)' as agent_id,
        'cloud_unallocated' as cost_component,
        lines.billed_cost as amount_usd
    from lines
    where lines.allocation_level in ('workspace', 'shared')
        and not exists (select 1 from weights where weights.cost_line_id = lines.cost_line_id)

)

select split.*, lines.period_start_day as usage_date
from split inner join lines on split.cost_line_id = lines.cost_line_id
union all
select direct.*, lines.period_start_day as usage_date
from direct inner join lines on direct.cost_line_id = lines.cost_line_id
union all
select unallocated.*, lines.period_start_day as usage_date
from unallocated inner join lines on unallocated.cost_line_id = lines.cost_line_id
