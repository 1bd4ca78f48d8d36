-- Models seen in any export that no price covers: listed (never dropped) so a user can add
-- a row to seeds/model_price_overrides.csv. Empty when every call is priced.
with calls as (

    select provider, model, 'call logs' as seen_in, started_at as seen_at, total_tokens
    from {{ ref('fct_llm_calls') }}
    where not is_priced

),

executions as (

    select llm_provider as provider, model_name as model, 'executions' as seen_in,
        {{ adapter.quote("timestamp") }} as seen_at, total_tokens
    from {{ ref('fct_resource_utilization') }}
    where not is_token_cost_priced

),

provider_usage as (

    select provider, model, 'provider usage reports' as seen_in, bucket_start as seen_at, total_tokens
    from {{ ref('fct_provider_usage') }}
    where not is_priced

),

unpriced as (

    select * from calls
    union all
    select * from executions
    union all
    select * from provider_usage

)

select
    coalesce(provider, '(unknown)') as provider,
    coalesce(model, '(not grouped by model)') as model,
    seen_in,
    count(*) as rows_unpriced,
    cast(sum(total_tokens) as bigint) as tokens_unpriced,
    min(seen_at) as first_seen_at,
    max(seen_at) as last_seen_at
from unpriced
group by coalesce(provider, '(unknown)'), coalesce(model, '(not grouped by model)'), seen_in
