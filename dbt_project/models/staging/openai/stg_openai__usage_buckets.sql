with source as (

    select * from {{ source('openai', 'openai_usage') }}

),

renamed as (

    select
        bucket_start,
        bucket_end,
        project_id,
        user_id,
        api_key_id,
        model as reported_model,
        batch as is_batch,
        service_tier,
        input_tokens,
        coalesce(input_cached_tokens, 0) as cached_input_tokens,
        output_tokens,
        num_model_requests,
        _source_file as source_file,
        _record_locator as source_locator
    from source

)

select * from renamed
