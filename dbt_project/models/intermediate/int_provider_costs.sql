-- Cost lines as the providers bill them, in USD. OpenAI line items read
-- "<model>, <token kind>"; Anthropic amounts are cents as decimal strings.
with openai as (

    select
        'openai' as provider,
        {{ canonical_model_name("trim(split_part(line_item, ',', 1))") }} as model,
        line_item as cost_line,
        bucket_start,
        amount_usd,
        project_id as provider_scope_id,
        source_file,
        source_locator
    from {{ ref('stg_openai__cost_buckets') }}

),

anthropic as (

    select
        'anthropic' as provider,
        {{ canonical_model_name('reported_model') }} as model,
        coalesce(token_type, cost_type, description) as cost_line,
        bucket_start,
        {{ money('amount_cents * cast(0.01 as decimal(3, 2))') }} as amount_usd,
        provider_workspace_id as provider_scope_id,
        source_file,
        source_locator
    from {{ ref('stg_anthropic__cost_buckets') }}

)

select *, cast(bucket_start as date) as usage_date from openai
union all
select *, cast(bucket_start as date) as usage_date from anthropic
