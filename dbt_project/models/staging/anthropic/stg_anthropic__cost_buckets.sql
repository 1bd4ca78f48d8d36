with source as (

    select * from {{ source('anthropic', 'anthropic_costs') }}

),

renamed as (

    select
        bucket_start,
        bucket_end,
        cast(amount_cents as decimal(24, 12)) as amount_cents,
        upper(coalesce(currency, 'USD')) as currency,
        workspace_id as provider_workspace_id,
        description,
        cost_type,
        context_window,
        model as reported_model,
        service_tier,
        token_type,
        _source_file as source_file,
        _record_locator as source_locator
    from source

)

select * from renamed
