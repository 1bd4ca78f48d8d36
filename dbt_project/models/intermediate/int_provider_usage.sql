-- Usage as the providers report it (OpenAI usage API, Anthropic usage report), on the same
-- disjoint buckets as the call logs: OpenAI counts cached tokens inside input tokens,
-- Anthropic reports uncached input, cache reads and cache writes apart.
with openai as (

    select
        'openai' as provider,
        {{ canonical_model_name('reported_model') }} as model,
        reported_model,
        bucket_start,
        bucket_end,
        project_id as provider_scope_id,
        input_tokens - cached_input_tokens as uncached_input_tokens,
        cached_input_tokens as cache_read_tokens,
        cast(0 as bigint) as cache_write_tokens,
        cast(0 as bigint) as cache_write_1h_tokens,
        output_tokens,
        num_model_requests as requests,
        source_file,
        source_locator
    from {{ ref('stg_openai__usage_buckets') }}

),

anthropic as (

    select
        'anthropic' as provider,
        {{ canonical_model_name('reported_model') }} as model,
        reported_model,
        bucket_start,
        bucket_end,
        provider_workspace_id as provider_scope_id,
        uncached_input_tokens,
        cache_read_tokens,
        cache_write_5m_tokens + cache_write_1h_tokens as cache_write_tokens,
        cache_write_1h_tokens,
        output_tokens,
        cast(null as bigint) as requests,
        source_file,
        source_locator
    from {{ ref('stg_anthropic__usage_buckets') }}

)

select *, cast(bucket_start as date) as usage_date from openai
union all
select *, cast(bucket_start as date) as usage_date from anthropic
