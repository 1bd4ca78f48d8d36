-- Effective-dated model prices: each price row is in force from valid_from until the
-- next row of the same model starts (valid_to exclusive, null = still in force).
with prices as (

    select * from {{ ref('model_prices') }}

)

select
    provider,
    model,
    valid_from,
    lead(valid_from) over (partition by provider, model order by valid_from) as valid_to,
    input_usd_per_mtok,
    cached_input_usd_per_mtok,
    cache_write_usd_per_mtok,
    output_usd_per_mtok,
    context_window_tokens
from prices
