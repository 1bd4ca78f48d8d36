-- External API usage per workspace x agent x endpoint x calendar month, with percentiles
-- computed exactly over the month's calls.
with calls as (

    select *, cast({{ dbt.date_trunc('month', 'usage_date') }} as date) as usage_month
    from {{ ref('fct_api_calls') }}

),

chains as (

    select *, cast({{ dbt.date_trunc('month', 'usage_date') }} as date) as usage_month
    from {{ ref('int_api_retry_chains') }}

),

monthly as (

    select
        workspace_id, agent_id, endpoint, usage_month,
        count(*) as total_calls,
        sum(case when is_success then 1 else 0 end) as successful_calls,
        sum(case when is_success then 0 else 1 end) as failed_calls,
        sum(case when is_rate_limited then 1 else 0 end) as rate_limited_calls,
        avg(latency_ms) as avg_latency_ms,
        {{ percentile_cont('latency_ms', 0.95) }} as p95_latency_ms,
        {{ percentile_cont('latency_ms', 0.99) }} as p99_latency_ms,
        sum(cost_usd) as total_cost,
        sum(case when is_success then 0 else cost_usd end) as wasted_cost,
        count(distinct case when is_rate_limited then {{ dbt.date_trunc('minute', 'requested_at') }} end) as throttle_incidents
    from calls
    group by workspace_id, agent_id, endpoint, usage_month

),

retries as (

    select
        workspace_id, agent_id, endpoint, usage_month,
        sum(case when was_retried then 1 else 0 end) as retried_requests,
        sum(case when was_retried and eventually_succeeded then 1 else 0 end) as retried_requests_succeeded
    from chains
    group by workspace_id, agent_id, endpoint, usage_month

)

select
    monthly.workspace_id,
    monthly.agent_id,
    monthly.endpoint,
    monthly.usage_month,
    monthly.total_calls,
    monthly.successful_calls,
    monthly.failed_calls,
    monthly.rate_limited_calls,
    round(cast(monthly.failed_calls as double) / monthly.total_calls, 6) as error_rate,
    monthly.avg_latency_ms,
    monthly.p95_latency_ms,
    monthly.p99_latency_ms,
    {{ money('monthly.total_cost') }} as total_cost,
    {{ money('monthly.total_cost / monthly.total_calls') }} as cost_per_call,
    {{ money('monthly.wasted_cost') }} as wasted_cost,
    monthly.throttle_incidents,
    cast(coalesce(retries.retried_requests, 0) as bigint) as retried_requests,
    cast(coalesce(retries.retried_requests_succeeded, 0) as bigint) as retried_requests_succeeded,
    round(cast(retries.retried_requests_succeeded as double) / nullif(retries.retried_requests, 0), 6) as retry_success_rate
from monthly
left join retries
    on monthly.workspace_id = retries.workspace_id
    and monthly.agent_id = retries.agent_id
    and monthly.endpoint = retries.endpoint
    and monthly.usage_month = retries.usage_month
