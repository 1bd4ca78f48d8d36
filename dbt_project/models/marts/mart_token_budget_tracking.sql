{{ config(materialized=('table' if target.type == 'spark' else 'incremental'), incremental_strategy='replace_days', unique_key='usage_date', on_schema_change='fail', rebuild_scope='usage') }}
-- Incremental by event day (see macros/incremental.sql): a windowed run replaces the days in int_rebuild_days
-- whose usage changes (rebuild_scope 'usage': this model reads no cloud bill and no GPU samples).
-- depends_on: {{ ref('int_rebuild_days') }}
-- The seed's token_budget_tracking view, per workspace x agent x day:
--   daily_budget_usage_pct = daily tokens / daily token budget x 100
--   rolling_30d_tokens     = tokens of the day and the 29 calendar days before it
--   budget_status          = over_budget (> budget), near_limit (> 80%), within_budget
-- plus the calendar-month token budget and the monthly cost budget (month to date, on the
-- agent's direct usage cost).
with budgets as (

    select * from {{ ref('budgets') }}

),

-- an agent's tokens: its executions, plus its LLM calls that no execution covers
token_events as (

    select workspace_id, agent_id, usage_date, input_tokens, output_tokens, total_tokens, token_cost
    from {{ ref('fct_resource_utilization') }}
    where {{ in_rebuild_days('usage_date') }}
    union all
    select workspace_id, agent_id, usage_date, input_tokens, output_tokens, total_tokens, token_cost
    from {{ ref('fct_llm_calls') }}
    where is_outside_executions and agent_id is not null and {{ in_rebuild_days('usage_date') }}

),

usage as (

    select
        workspace_id,
        agent_id,
        usage_date,
        cast(sum(input_tokens) as bigint) as daily_input_tokens,
        cast(sum(output_tokens) as bigint) as daily_output_tokens,
        cast(sum(total_tokens) as bigint) as daily_total_tokens,
        sum(coalesce(token_cost, 0)) as daily_token_cost
    from token_events
    group by workspace_id, agent_id, usage_date

),

costs as (

    -- what the agent spent through use (tokens, compute, storage, network, APIs); its share
    -- of the cloud bill is chargeback, not something the agent's budget owner controls
    select workspace_id, agent_id, usage_date, direct_cost as total_cost
    from {{ ref('int_agent_daily_direct_costs') }}
    where {{ in_rebuild_days('usage_date') }}

),

days as (

    select distinct usage_date from costs

),

daily as (

    select
        budgets.workspace_id,
        budgets.agent_id,
        days.usage_date,
        cast({{ dbt.date_trunc('month', 'days.usage_date') }} as date) as budget_month,
        coalesce(usage.daily_input_tokens, 0) as daily_input_tokens,
        coalesce(usage.daily_output_tokens, 0) as daily_output_tokens,
        coalesce(usage.daily_total_tokens, 0) as daily_total_tokens,
        {{ money('coalesce(usage.daily_token_cost, 0)') }} as daily_token_cost,
        {{ money('coalesce(costs.total_cost, 0)') }} as daily_total_cost,
        budgets.daily_token_budget,
        budgets.monthly_token_budget,
        budgets.monthly_cost_budget_usd,
        {{ dbt.datediff("cast('1970-01-01' as date)", 'days.usage_date', 'day') }} as day_number
    from budgets
    cross join days
    left join usage
        on budgets.workspace_id = usage.workspace_id
        and budgets.agent_id = usage.agent_id
        and days.usage_date = usage.usage_date
    left join costs
        on budgets.workspace_id = costs.workspace_id
        and budgets.agent_id = costs.agent_id
        and days.usage_date = costs.usage_date

),

{%- if is_windowed() %}

-- A changed day moves the rolling 30-day figure of the 29 days after it and the month to
-- date of the rest of its month: those days are recomputed too, from the daily figures
-- already in this table (no rescan of the events), plus the days their windows reach back to.
recompute_days as (

    select distinct existing.usage_date
    from (
        select usage_date from daily
        union
        select distinct usage_date from {{ this }}
    ) as existing
    inner join {{ rebuild_days() }} as changed
        on existing.usage_date >= changed.usage_date
        and (
            existing.usage_date <= {{ dbt.dateadd('day', 29, 'changed.usage_date') }}
            or {{ dbt.date_trunc('month', 'existing.usage_date') }} = {{ dbt.date_trunc('month', 'changed.usage_date') }}
        )

),

context_range as (

    select
        least(
            {{ dbt.dateadd('day', -29, 'min(usage_date)') }},
            cast({{ dbt.date_trunc('month', 'min(usage_date)') }} as date)
        ) as first_day,
        max(usage_date) as last_day
    from recompute_days

),

all_daily as (

    select * from daily
    union all
    select
        workspace_id,
        agent_id,
        usage_date,
        budget_month,
        daily_input_tokens,
        daily_output_tokens,
        daily_total_tokens,
        daily_token_cost,
        daily_total_cost,
        daily_token_budget,
        monthly_token_budget,
        monthly_cost_budget_usd,
        {{ dbt.datediff("cast('1970-01-01' as date)", 'usage_date', 'day') }} as day_number
    from {{ this }}
    where usage_date not in {{ rebuild_days() }}
        and usage_date between (select first_day from context_range) and (select last_day from context_range)

),
{%- endif %}

windowed as (

    select
        *,
        cast(sum(daily_total_tokens) over (
            partition by workspace_id, agent_id order by day_number
            range between 29 preceding and current row
        ) as bigint) as rolling_30d_tokens,
        cast(sum(daily_total_tokens) over (
            partition by workspace_id, agent_id, budget_month order by day_number
            rows between unbounded preceding and current row
        ) as bigint) as month_to_date_tokens,
        sum(daily_total_cost) over (
            partition by workspace_id, agent_id, budget_month order by day_number
            rows between unbounded preceding and current row
        ) as month_to_date_cost
    from {% if is_windowed() %}all_daily{% else %}daily{% endif %}

)

select
    workspace_id,
    agent_id,
    usage_date,
    daily_input_tokens,
    daily_output_tokens,
    daily_total_tokens,
    daily_token_cost,
    daily_token_budget,
    cast(daily_total_tokens as double) * 100 / nullif(daily_token_budget, 0) as daily_budget_usage_pct,
    rolling_30d_tokens,
    {{ budget_status('daily_total_tokens', 'daily_token_budget') }} as budget_status,
    budget_month,
    month_to_date_tokens,
    monthly_token_budget,
    cast(month_to_date_tokens as double) * 100 / nullif(monthly_token_budget, 0) as monthly_budget_usage_pct,
    {{ budget_status('month_to_date_tokens', 'monthly_token_budget') }} as monthly_budget_status,
    daily_total_cost,
    {{ money('month_to_date_cost') }} as month_to_date_cost,
    monthly_cost_budget_usd,
    round(cast(month_to_date_cost as double) * 100 / nullif(cast(monthly_cost_budget_usd as double), 0), 6) as cost_budget_usage_pct,
    {{ budget_status('month_to_date_cost', 'monthly_cost_budget_usd') }} as cost_budget_status
from windowed
{%- if is_windowed() %}
where usage_date in (select usage_date from recompute_days)
{%- endif %}
