-- External API usage per workspace x agent x endpoint x day. Percentiles are exact over
-- the day's calls (DuckDB quantile_cont); for another period use mart_api_usage_monthly or
-- the table macro marts.api_usage_for_period(start_date, end_date), which compute them
-- over that period's calls rather than averaging daily percentiles.
with calls as (

    select * from {{ ref('fct_api_calls') }}

),

daily as (

    select
        workspace_id,
        agent_id,
        endpoint,
        usage_date,
        count(*) as total_calls,
        sum(case when is_success then 1 else 0 end) as successful_calls,
        sum(case when is_success then 0 else 1 end) as failed_calls,
        sum(case when is_rate_limited then 1 else 0 end) as rate_limited_calls,
        avg(latency_ms) as avg_latency_ms,
        {{ percentile_cont('latency_ms', 0.95) }} as p95_latency_ms,
        {{ percentile_cont('latency_ms', 0.99) }} as p99_latency_ms,
        sum(cost_usd) as total_cost,
        sum(case when is_success then 0 else cost_usd end) as wasted_cost,
        -- a throttle incident: a minute in which the endpoint answered 429 at least once
        count(distinct case when is_rate_limited then {{ dbt.date_trunc('minute', 'requested_at') }} end) as throttle_incidents
    from calls
    group by workspace_id, agent_id, endpoint, usage_date

),

retries as (

    select
        workspace_id, agent_id, endpoint, usage_date,
        sum(case when was_retried then 1 else 0 end) as retried_requests,
        sum(case when was_retried and eventually_succeeded then 1 else 0 end) as retried_requests_succeeded
    from {{ ref('int_api_retry_chains') }}
    group by workspace_id, agent_id, endpoint, usage_date

)

select
    daily.workspace_id,
    daily.agent_id,
    daily.endpoint,
    daily.usage_date,
    daily.total_calls,
    daily.successful_calls,
    daily.failed_calls,
    daily.rate_limited_calls,
    round(cast(daily.failed_calls as double) / daily.total_calls, 6) as error_rate,
    daily.avg_latency_ms,
    daily.p95_latency_ms,
    daily.p99_latency_ms,
    {{ money('daily.total_cost') }} as total_cost,
    {{ money('daily.total_cost / daily.total_calls') }} as cost_per_call,
    {{ money('daily.wasted_cost') }} as wasted_cost,
    daily.throttle_incidents,
    cast(coalesce(retries.retried_requests, 0) as bigint) as retried_requests,
    cast(coalesce(retries.retried_requests_succeeded, 0) as bigint) as retried_requests_succeeded,
    round(cast(retries.retried_requests_succeeded as double) / nullif(retries.retried_requests, 0), 6) as retry_success_rate
from daily
left join retries
    on daily.workspace_id = retries.workspace_id
    and daily.agent_id = retries.agent_id
    and daily.endpoint = retries.endpoint
    and daily.usage_date = retries.usage_date
