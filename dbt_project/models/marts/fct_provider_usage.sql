-- Usage buckets as OpenAI and Anthropic report them, priced at the price in force at the
-- bucket's start: what the provider's own usage figures say the bill should be.
with usage as (

    select * from {{ ref('int_provider_usage') }}

),

prices as (

    select * from {{ ref('int_model_prices') }}

),

priced as (

    select
        usage.*,
        prices.valid_from as price_valid_from,
        prices.input_usd_per_mtok,
        prices.cached_input_usd_per_mtok,
        prices.cache_write_usd_per_mtok,
        prices.cache_write_1h_usd_per_mtok,
        prices.output_usd_per_mtok
    from usage
    {{ join_price_in_force('usage', 'bucket_start') }}

)

select
    provider,
    model,
    reported_model,
    usage_date,
    bucket_start,
    bucket_end,
    provider_scope_id,
    uncached_input_tokens,
    cache_read_tokens,
    cache_write_tokens,
    cache_write_1h_tokens,
    output_tokens,
    uncached_input_tokens + cache_read_tokens + cache_write_tokens + output_tokens as total_tokens,
    requests,
    {{ token_cost('uncached_input_tokens', 'cache_read_tokens', 'cache_write_tokens', 'output_tokens', 'priced', 'cache_write_1h_tokens') }} as computed_cost,
    price_valid_from,
    price_valid_from is not null as is_priced,
    source_file,
    source_locator
from priced
