with source as (

    select * from {{ source('agent_platform', 'executions') }}

),

renamed as (

    select
        execution_id,
        agent_id,
        workspace_id,
        user_id,
        query_id,
        task_type,
        started_at,
        cast(duration_ms as bigint) as duration_ms,
        cast(queue_wait_ms as bigint) as queue_wait_ms,
        status as execution_status,
        quality_score,

        cast(cpu_core_seconds as decimal(18, 3)) as cpu_core_seconds,
        cpu_avg_percent,
        cpu_peak_percent,
        cpu_allocated_cores,
        memory_avg_mb,
        memory_peak_mb,
        memory_allocated_mb,
        cast(memory_mb_seconds as decimal(20, 3)) as memory_mb_seconds,
        gpu_utilization_percent,
        gpu_memory_mb,
        cast(gpu_compute_units as decimal(18, 3)) as gpu_compute_units,
        network_bytes_in,
        network_bytes_out,

        llm_provider,
        llm_model as model,
        input_tokens,
        output_tokens,
        total_tokens,
        context_window_used,
        coalesce(prompt_cache_hits, 0) as cached_input_tokens,
        llm_calls as llm_calls_reported,
        cast(reported_llm_cost_usd as decimal(20, 10)) as reported_llm_cost_usd,

        temp_storage_mb,
        cast(persistent_storage_mb as decimal(18, 3)) as persistent_storage_mb,
        cache_size_mb,
        database_operations,
        api_calls_count as api_calls_reported,

        _source_file as source_file,
        _line_number as source_line,
        _loaded_at as loaded_at

    from source

)

select * from renamed
