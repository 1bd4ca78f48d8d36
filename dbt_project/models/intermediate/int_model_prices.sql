-- Effective-dated model prices per million tokens: pydantic's genai-prices catalog
-- (stg_genai_prices__model_prices) under the user's overrides (seed model_price_overrides).
-- One row per provider x model x price version, in force from valid_from until valid_to
-- (exclusive, null = still in force). `model` is the model string as exports report it: every
-- alias genai-prices' own matching resolves to a catalog model gets that model's prices
-- (catalog_model says which). An override row wins from its valid_from until its valid_to,
-- the next override row of the model, or for good (price_source = 'override').
-- Prices without a separate rate in the catalog fall back as genai-prices charges them:
-- cache reads and writes at the input price, 1-hour writes at the cache-write price.
-- Tiered models: the base tier (what a request under tier_threshold_input_tokens pays).
with catalog as (

    select
        provider,
        {{ unnest_list('aliases') }} as model,
        catalog_model,
        valid_from,
        valid_to,
        input_usd_per_mtok,
        coalesce(cache_read_usd_per_mtok, input_usd_per_mtok) as cached_input_usd_per_mtok,
        coalesce(cache_write_usd_per_mtok, input_usd_per_mtok) as cache_write_usd_per_mtok,
        coalesce(cache_write_1h_usd_per_mtok, cache_write_usd_per_mtok, input_usd_per_mtok) as cache_write_1h_usd_per_mtok,
        case when input_usd_per_mtok is not null then coalesce(output_usd_per_mtok, 0) end as output_usd_per_mtok,
        context_window_tokens,
        is_tiered,
        tier_threshold_input_tokens,
        input_tier_usd_per_mtok,
        output_tier_usd_per_mtok,
        price_note
    from {{ ref('stg_genai_prices__model_prices') }}
    where input_usd_per_mtok is not null or output_usd_per_mtok is not null

),

overrides as (

    select
        provider,
        model,
        valid_from,
        coalesce(
            valid_to,
            lead(valid_from) over (partition by provider, model order by valid_from)
        ) as valid_to,
        input_usd_per_mtok,
        coalesce(cached_input_usd_per_mtok, input_usd_per_mtok) as cached_input_usd_per_mtok,
        coalesce(cache_write_usd_per_mtok, input_usd_per_mtok) as cache_write_usd_per_mtok,
        coalesce(cache_write_1h_usd_per_mtok, cache_write_usd_per_mtok, input_usd_per_mtok) as cache_write_1h_usd_per_mtok,
        output_usd_per_mtok,
        context_window_tokens,
        note
    from {{ ref('model_price_overrides') }}

),

-- every date a price starts or stops for a provider x model
boundaries as (

    select provider, model, valid_from as boundary_at from catalog
    union
    select provider, model, valid_to from catalog where valid_to is not null
    union
    select provider, model, valid_from from overrides
    union
    select provider, model, valid_to from overrides where valid_to is not null

),

segments as (

    select
        provider,
        model,
        boundary_at as segment_from,
        lead(boundary_at) over (partition by provider, model order by boundary_at) as segment_to
    from boundaries

),

resolved as (

    select
        segments.provider,
        segments.model,
        segments.segment_from,
        segments.segment_to,
        case when overrides.provider is not null then 'override' else 'genai-prices' end as price_source,
        coalesce(overrides.valid_from, catalog.valid_from) as source_valid_from,
        catalog.catalog_model,
        case when overrides.provider is not null then overrides.input_usd_per_mtok else catalog.input_usd_per_mtok end as input_usd_per_mtok,
        case when overrides.provider is not null then overrides.cached_input_usd_per_mtok else catalog.cached_input_usd_per_mtok end as cached_input_usd_per_mtok,
        case when overrides.provider is not null then overrides.cache_write_usd_per_mtok else catalog.cache_write_usd_per_mtok end as cache_write_usd_per_mtok,
        case when overrides.provider is not null then overrides.cache_write_1h_usd_per_mtok else catalog.cache_write_1h_usd_per_mtok end as cache_write_1h_usd_per_mtok,
        case when overrides.provider is not null then overrides.output_usd_per_mtok else catalog.output_usd_per_mtok end as output_usd_per_mtok,
        case when overrides.provider is not null
            then coalesce(overrides.context_window_tokens, catalog.context_window_tokens)
            else catalog.context_window_tokens end as context_window_tokens,
        catalog.is_tiered and overrides.provider is null as is_tiered,
        case when overrides.provider is null then catalog.tier_threshold_input_tokens end as tier_threshold_input_tokens,
        case when overrides.provider is null then catalog.input_tier_usd_per_mtok end as input_tier_usd_per_mtok,
        case when overrides.provider is null then catalog.output_tier_usd_per_mtok end as output_tier_usd_per_mtok,
        case when overrides.provider is not null then overrides.note else catalog.price_note end as price_note
    from segments
    left join overrides
        on segments.provider = overrides.provider
        and segments.model = overrides.model
        and segments.segment_from >= overrides.valid_from
        and (overrides.valid_to is null or segments.segment_from < overrides.valid_to)
    left join catalog
        on segments.provider = catalog.provider
        and segments.model = catalog.model
        and segments.segment_from >= catalog.valid_from
        and (catalog.valid_to is null or segments.segment_from < catalog.valid_to)
    where overrides.provider is not null or catalog.provider is not null

),

-- consecutive segments priced by the same catalog period or override row are one version
islands as (

    select
        *,
        row_number() over (partition by provider, model order by segment_from)
        - row_number() over (partition by provider, model, price_source, source_valid_from order by segment_from) as island
    from resolved

),

versions as (

    select
        provider,
        model,
        price_source,
        source_valid_from,
        island,
        min(segment_from) as valid_from,
        -- null as soon as one segment is open-ended
        case when count(segment_to) = count(*) then max(segment_to) end as valid_to,
        any_value(catalog_model) as catalog_model,
        any_value(input_usd_per_mtok) as input_usd_per_mtok,
        any_value(cached_input_usd_per_mtok) as cached_input_usd_per_mtok,
        any_value(cache_write_usd_per_mtok) as cache_write_usd_per_mtok,
        any_value(cache_write_1h_usd_per_mtok) as cache_write_1h_usd_per_mtok,
        any_value(output_usd_per_mtok) as output_usd_per_mtok,
        any_value(context_window_tokens) as context_window_tokens,
        any_value(is_tiered) as is_tiered,
        any_value(tier_threshold_input_tokens) as tier_threshold_input_tokens,
        any_value(input_tier_usd_per_mtok) as input_tier_usd_per_mtok,
        any_value(output_tier_usd_per_mtok) as output_tier_usd_per_mtok,
        any_value(price_note) as price_note
    from islands
    group by provider, model, price_source, source_valid_from, island

)

select
    provider,
    model,
    valid_from,
    valid_to,
    input_usd_per_mtok,
    cached_input_usd_per_mtok,
    cache_write_usd_per_mtok,
    output_usd_per_mtok,
    context_window_tokens,
    price_source,
    cache_write_1h_usd_per_mtok,
    catalog_model,
    coalesce(is_tiered, false) as is_tiered,
    tier_threshold_input_tokens,
    input_tier_usd_per_mtok,
    output_tier_usd_per_mtok,
    price_note
from versions
