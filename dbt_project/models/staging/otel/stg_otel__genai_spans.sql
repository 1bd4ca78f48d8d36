with source as (

    select * from {{ source('otel', 'otel_genai_spans') }}

),

renamed as (

    select
        trace_id,
        span_id,
        parent_span_id,
        span_name,
        started_at,
        ended_at,
        status_code,
        service_name,
        operation,
        coalesce(provider, system) as provider,
        request_model,
        response_model,
        provider_input_tokens,
        provider_output_tokens,
        agent_id,
        agent_name,
        conversation_id,
        uncached_input_tokens,
        cache_read_tokens,
        cache_write_tokens,
        cache_write_1h_tokens,
        output_tokens,
        reasoning_tokens,
        _source_file as source_file,
        _record_locator as source_locator
    from source

)

select * from renamed
