with source as (

    select * from {{ source('anthropic', 'anthropic_usage') }}

),

renamed as (

    select
        bucket_start,
        bucket_end,
        api_key_id,
        workspace_id as provider_workspace_id,
        model as reported_model,
        service_tier,
        context_window,
        uncached_input_tokens,
        coalesce(cache_read_input_tokens, 0) as cache_read_tokens,
        coalesce(cache_write_5m_tokens, 0) as cache_write_5m_tokens,
        coalesce(cache_write_1h_tokens, 0) as cache_write_1h_tokens,
        output_tokens,
        web_search_requests,
        _source_file as source_file,
        _record_locator as source_locator
    from source

)

select * from renamed
