{#- External API usage per workspace x agent x endpoint x period, every figure computed over
    the period's own calls (percentiles exact, never averaged from shorter periods). Used by
    mart_api_usage_daily (period_expr 'usage_date') and mart_api_usage_monthly.
    windowed: only the run's rebuild days (whole months for a model with rebuild_grain 'month').
    retries_from: a daily rollup (mart_api_usage_daily) whose retry counts are summed to the
    period instead of building the period's retry chains again. The counts add up: a chain is
    counted on the day of its first attempt, in that day's row of its own agent and endpoint
    (its attempts share an execution), and a period is whole days. At 10M calls the month's
    chains were ~4 of the monthly model's ~5 s. -#}
{% macro api_usage_rollup(period_expr, period_name, windowed=false, retries_from=none) %}
with calls as (

    select *{% if period_expr != period_name %}, {{ period_expr }} as {{ period_name }}{% endif %}
    from {{ ref('fct_api_calls') }}
    {%- if windowed %}
    where usage_date in {{ rebuild_days() }}
    {%- endif %}

),

{%- if retries_from is none %}

chains as (

    select *{% if period_expr != period_name %}, {{ period_expr }} as {{ period_name }}{% endif %}
    {%- if windowed %}
    from ({{ api_retry_chains(windowed=true) }}) as windowed_chains
    {%- else %}
    from {{ ref('int_api_retry_chains') }}
    {%- endif %}

),
{%- endif %}

usage as (

    select
        workspace_id, agent_id, endpoint, {{ period_name }},
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
    group by workspace_id, agent_id, endpoint, {{ period_name }}

),

retries as (

    {%- if retries_from is none %}
    select
        workspace_id, agent_id, endpoint, {{ period_name }},
        sum(case when was_retried then 1 else 0 end) as retried_requests,
        sum(case when was_retried and eventually_succeeded then 1 else 0 end) as retried_requests_succeeded
    from chains
    group by workspace_id, agent_id, endpoint, {{ period_name }}
    {%- else %}
    select
        workspace_id, agent_id, endpoint, {{ period_expr }} as {{ period_name }},
        sum(retried_requests) as retried_requests,
        sum(retried_requests_succeeded) as retried_requests_succeeded
    from {{ retries_from }}
    {%- if windowed %}
    where usage_date in {{ rebuild_days() }}
    {%- endif %}
    group by workspace_id, agent_id, endpoint, {{ period_expr }}
    {%- endif %}

)

select
    usage.workspace_id,
    usage.agent_id,
    usage.endpoint,
    usage.{{ period_name }},
    usage.total_calls,
    usage.successful_calls,
    usage.failed_calls,
    usage.rate_limited_calls,
    round(cast(usage.failed_calls as double) / usage.total_calls, 6) as error_rate,
    usage.avg_latency_ms,
    usage.p95_latency_ms,
    usage.p99_latency_ms,
    {{ money('usage.total_cost') }} as total_cost,
    {{ money('usage.total_cost / usage.total_calls') }} as cost_per_call,
    {{ money('usage.wasted_cost') }} as wasted_cost,
    usage.throttle_incidents,
    cast(coalesce(retries.retried_requests, 0) as bigint) as retried_requests,
    cast(coalesce(retries.retried_requests_succeeded, 0) as bigint) as retried_requests_succeeded,
    round(cast(retries.retried_requests_succeeded as double) / nullif(retries.retried_requests, 0), 6) as retry_success_rate
from usage
left join retries
    on usage.workspace_id = retries.workspace_id
    and usage.agent_id = retries.agent_id
    and usage.endpoint = retries.endpoint
    and usage.{{ period_name }} = retries.{{ period_name }}
{% endmacro %}
