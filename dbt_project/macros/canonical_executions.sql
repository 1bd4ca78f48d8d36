{#- Canonical executions: one row per execution_id. An execution delivered in more than
    one export (overlapping exports) keeps the copy from the first file by name and line,
    which does not depend on the order files arrived in.
    windowed: only the winning copies on the run's rebuild days (see int_rebuild_days). -#}
{% macro canonical_executions(windowed=false) %}
with executions as {{ inline_cte() if not windowed }} (

    select *, cast(started_at as date) as usage_date from {{ ref('stg_agent_platform__executions') }}

),

{%- if not windowed %}

{{ rank_copies('executions', 'execution_id', 'source_file, source_line') }}
{%- else %}

ranked as (

    select
        *,
        row_number() over (partition by execution_id order by source_file, source_line) as copy_rank
    from executions
    -- only keys with a copy on a rebuild day, ranked over all their copies; the keys come
    -- from a second, narrow read so that executions is streamed, not materialized
    where execution_id in (
        select execution_id from {{ ref('stg_agent_platform__executions') }}
        where cast(started_at as date) in {{ rebuild_days() }}
    )

)
{%- endif %}

select
    execution_id,
    agent_id,
    workspace_id,
    user_id,
    query_id,
    task_type,
    started_at,
    {{ dbt.dateadd('millisecond', 'duration_ms', 'started_at') }} as ended_at,
    usage_date,
    duration_ms,
    queue_wait_ms,
    execution_status,
    quality_score,
    cpu_core_seconds,
    cpu_avg_percent,
    cpu_peak_percent,
    cpu_allocated_cores,
    memory_avg_mb,
    memory_peak_mb,
    memory_allocated_mb,
    memory_mb_seconds,
    gpu_utilization_percent,
    gpu_memory_mb,
    coalesce(gpu_compute_units, 0) as gpu_compute_units,
    network_bytes_in,
    network_bytes_out,
    llm_provider,
    model,
    input_tokens,
    cached_input_tokens,
    input_tokens - cached_input_tokens as uncached_input_tokens,
    output_tokens,
    total_tokens,
    context_window_used,
    llm_calls_reported,
    reported_llm_cost_usd,
    temp_storage_mb,
    coalesce(persistent_storage_mb, 0) as persistent_storage_mb,
    cache_size_mb,
    database_operations,
    api_calls_reported,
    source_file,
    source_line
from ranked
where copy_rank = 1{% if windowed %} and usage_date in {{ rebuild_days() }}{% endif %}
{% endmacro %}
