with source as (

    select * from {{ source('agent_platform', 'llm_calls') }}

),

renamed as (

    select
        call_id,
        query_id,
        execution_id,
        agent_name,
        provider,
        model,
        prompt_tokens,
        completion_tokens,
        total_tokens as provider_total_tokens,
        coalesce(cached_tokens, 0) as cached_input_tokens,
        started_at,
        completed_at,
        latency_ms,
        status as call_status,
        prompt_fingerprint,

        _source_file as source_file,
        _line_number as source_line,
        _loaded_at as loaded_at

    from source

)

select * from renamed
