with source as (

    select * from {{ source('focus', 'focus') }}

),

renamed as (

    select
        line_id,
        provider_name,
        publisher_name,
        invoice_issuer_name,
        billing_account_id,
        billing_account_name,
        sub_account_id,
        sub_account_name,
        billing_period_start,
        billing_period_end,
        charge_period_start,
        charge_period_end,
        charge_category,
        charge_class,
        charge_description,
        charge_frequency,
        service_name,
        service_category,
        resource_id,
        resource_name,
        resource_type,
        region_id,
        region_name,
        availability_zone,
        sku_id,
        sku_price_id,
        pricing_category,
        cast(pricing_quantity as decimal(38, 18)) as pricing_quantity,
        pricing_unit,
        cast(list_unit_price as decimal(38, 18)) as list_unit_price,
        cast(contracted_unit_price as decimal(38, 18)) as contracted_unit_price,
        cast(consumed_quantity as decimal(38, 18)) as consumed_quantity,
        consumed_unit,
        cast(billed_cost as decimal(38, 12)) as billed_cost,
        cast(effective_cost as decimal(38, 12)) as effective_cost,
        cast(list_cost as decimal(38, 12)) as list_cost,
        cast(contracted_cost as decimal(38, 12)) as contracted_cost,
        upper(billing_currency) as billing_currency,
        commitment_discount_id,
        commitment_discount_name,
        commitment_discount_category,
        commitment_discount_type,
        commitment_discount_status,
        tags,

        _source_file as source_file,
        _line_number as source_line,
        _loaded_at as loaded_at

    from source

)

select * from renamed
