with source as (

    select * from {{ source('litellm', 'litellm_spend_logs') }}

),

renamed as (

    select
        request_id,
        call_type,
        started_at,
        ended_at,
        model,
        model_group,
        custom_llm_provider as provider,
        prompt_tokens,
        completion_tokens,
        total_tokens,
        cast(spend_usd as decimal(24, 12)) as spend_usd,
        api_key_hash,
        user_id,
        team_id,
        end_user,
        agent_id,
        session_id,
        cache_hit,
        status,
        request_duration_ms,
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
