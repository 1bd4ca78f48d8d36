with source as (

    select * from {{ source('openai', 'openai_costs') }}

),

renamed as (

    select
        bucket_start,
        bucket_end,
        cast(amount_usd as decimal(24, 12)) as amount_usd,
        upper(currency) as currency,
        line_item,
        project_id,
        _source_file as source_file,
        _record_locator as source_locator
    from source

)

select * from renamed
