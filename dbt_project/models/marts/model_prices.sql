{{ config(schema='reference', materialized='view') }}
-- Compatibility view for readers of the retired hand-made seed `reference.model_prices`
-- (the analytics assets read it): the same columns, one row per provider x model the
-- warehouse's executions and call logs use, at the price in force now (int_model_prices,
-- catalog + overrides). New code should read int_model_prices (dated, every model).
-- The models used are read off the marts (one row per execution and per call), not the
-- intermediate views: those re-deduplicate every raw copy of the whole history on each
-- read (5-7 s a read at 10M calls, against 0.2 s here).
with used as (

    select distinct llm_provider as provider, model_name as model from {{ ref('fct_resource_utilization') }}
    where model_name is not null
    union
    select distinct provider, model from {{ ref('fct_llm_calls') }}
    where model is not null

)

select
    prices.provider,
    prices.model,
    prices.valid_from,
    prices.input_usd_per_mtok,
    prices.cached_input_usd_per_mtok,
    prices.cache_write_usd_per_mtok,
    prices.output_usd_per_mtok,
    prices.context_window_tokens
from {{ ref('int_model_prices') }} as prices
inner join used
    on prices.provider = used.provider
    and prices.model = used.model
where prices.valid_to is null
