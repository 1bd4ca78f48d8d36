-- Token quotas per user and per department over calendar-aligned periods (UTC day, calendar
-- month): tokens used in the period, usage %, status, and the day the quota was crossed
-- (the first day the period's running total went above it). A user's tokens are those of
-- the executions they ran; a department's are those of its agents, including LLM calls
-- made outside executions.
with quotas as (

    select * from {{ ref('token_quotas') }}

),

agents as (

    select agent_id, department from {{ ref('dim_agents') }}

),

user_daily as (

    select 'user' as scope_type, user_id as scope_id, usage_date, sum(total_tokens) as tokens
    from {{ ref('fct_resource_utilization') }}
    where user_id is not null
    group by user_id, usage_date

),

department_events as (

    select agent_id, usage_date, total_tokens from {{ ref('fct_resource_utilization') }}
    union all
    select agent_id, usage_date, total_tokens from {{ ref('fct_llm_calls') }}
    where is_outside_executions and agent_id is not null

),

department_daily as (

    select 'department' as scope_type, agents.department as scope_id, events.usage_date, sum(events.total_tokens) as tokens
    from department_events as events
    inner join agents on events.agent_id = agents.agent_id
    group by agents.department, events.usage_date

),

daily as (

    select * from user_daily
    union all
    select * from department_daily

),

in_period as (

    select
        quotas.scope_type,
        quotas.scope_id,
        quotas.period,
        quotas.token_quota,
        daily.usage_date,
        case when quotas.period = 'month'
            then cast({{ dbt.date_trunc('month', 'daily.usage_date') }} as date)
            else daily.usage_date
        end as period_start,
        daily.tokens
    from quotas
    inner join daily
        on quotas.scope_type = daily.scope_type
        and quotas.scope_id = daily.scope_id

),

running as (

    select
        *,
        sum(tokens) over (
            partition by scope_type, scope_id, period, period_start order by usage_date
            rows between unbounded preceding and current row
        ) as period_to_date_tokens
    from in_period

)

select
    scope_type,
    scope_id,
    period,
    period_start,
    case when period = 'month'
        then cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 1, 'period_start')) }} as date)
        else period_start
    end as period_end,
    max(usage_date) as usage_through,
    cast(sum(tokens) as bigint) as tokens_used,
    max(token_quota) as token_quota,
    round(cast(sum(tokens) as double) * 100 / max(token_quota), 4) as usage_pct,
    {{ budget_status('sum(tokens)', 'max(token_quota)') }} as quota_status,
    min(case when period_to_date_tokens > token_quota then usage_date end) as quota_crossed_on
from running
group by scope_type, scope_id, period, period_start
