-- Where the bill and the logs disagree, per day x provider x model:
--   computed_cost_from_logs           our call logs' tokens x the price in force
--   computed_cost_from_provider_usage the provider's usage report x the same prices
--   billed_cost                       the provider's cost report
--   reported_cost_in_logs             costs the logs carry themselves (LiteLLM spend,
--                                     the platform's per-execution cost_usd)
-- bill_vs_logs_* flags calls missing from the logs or billed at another price;
-- bill_vs_usage_* isolates price disagreements (same tokens, different money).
with logs as (

    select
        usage_date, provider, model,
        count(*) as logged_calls,
        sum(total_tokens) as logged_tokens,
        sum(coalesce(token_cost, 0)) as computed_cost_from_logs,
        sum(reported_cost_usd) as reported_cost_in_call_logs
    from {{ ref('fct_llm_calls') }}
    group by usage_date, provider, model

),

execution_reports as (

    select
        usage_date,
        llm_provider as provider,
        model_name as model,
        sum(reported_llm_cost_usd) as reported_cost_in_executions
    from {{ ref('fct_resource_utilization') }}
    group by usage_date, llm_provider, model_name

),

provider_usage as (

    select
        usage_date, provider, model,
        sum(total_tokens) as provider_usage_tokens,
        sum(coalesce(computed_cost, 0)) as computed_cost_from_provider_usage
    from {{ ref('fct_provider_usage') }}
    group by usage_date, provider, model

),

bills as (

    select usage_date, provider, model, sum(amount_usd) as billed_cost
    from {{ ref('fct_provider_costs') }}
    group by usage_date, provider, model

),

grain as (

    select usage_date, provider, model from logs
    union
    select usage_date, provider, model from provider_usage
    union
    select usage_date, provider, model from bills

),

joined as (

    select
        grain.usage_date,
        grain.provider,
        grain.model,
        coalesce(logs.logged_calls, 0) as logged_calls,
        cast(coalesce(logs.logged_tokens, 0) as bigint) as logged_tokens,
        {{ money('coalesce(logs.computed_cost_from_logs, 0)') }} as computed_cost_from_logs,
        cast(provider_usage.provider_usage_tokens as bigint) as provider_usage_tokens,
        {{ money('provider_usage.computed_cost_from_provider_usage') }} as computed_cost_from_provider_usage,
        {{ money('bills.billed_cost') }} as billed_cost,
        {{ money('coalesce(logs.reported_cost_in_call_logs, 0) + coalesce(execution_reports.reported_cost_in_executions, 0)') }} as reported_cost_in_logs
    from grain
    left join logs
        on grain.usage_date = logs.usage_date and grain.provider = logs.provider and grain.model = logs.model
    left join provider_usage
        on grain.usage_date = provider_usage.usage_date and grain.provider = provider_usage.provider
        and grain.model = provider_usage.model
    left join bills
        on grain.usage_date = bills.usage_date and grain.provider = bills.provider and grain.model = bills.model
    left join execution_reports
        on grain.usage_date = execution_reports.usage_date and grain.provider = execution_reports.provider
        and grain.model = execution_reports.model

)

select
    *,
    {{ money('billed_cost - computed_cost_from_logs') }} as bill_vs_logs_diff_usd,
    round(cast((billed_cost - computed_cost_from_logs) * 100 as double)
        / nullif(cast(computed_cost_from_logs as double), 0), 4) as bill_vs_logs_drift_pct,
    {{ money('billed_cost - computed_cost_from_provider_usage') }} as bill_vs_usage_diff_usd,
    round(cast((billed_cost - computed_cost_from_provider_usage) * 100 as double)
        / nullif(cast(computed_cost_from_provider_usage as double), 0), 4) as bill_vs_usage_drift_pct,
    cast(provider_usage_tokens - logged_tokens as bigint) as usage_vs_logs_token_gap
from joined
