{{ config(materialized=('table' if target.type == 'spark' else 'incremental'), incremental_strategy='replace_days', unique_key='usage_date', on_schema_change='fail', rebuild_scope='usage') }}
-- Incremental by event day (see macros/incremental.sql): a windowed run replaces the days in int_rebuild_days
-- whose usage changes (rebuild_scope 'usage': this model reads no cloud bill and no GPU samples).
-- depends_on: {{ ref('int_rebuild_days') }}
-- depends_on: {{ ref('stg_agent_platform__executions') }}
-- depends_on: {{ ref('stg_agent_platform__api_calls') }}
-- The seed's resource_utilization_metrics: one row per execution, every resource metric
-- and every cost component (USD, DECIMAL).
with costs as (

    {{ execution_costs(windowed=is_windowed()) }}

),

agents as (

    select agent_id, allocated_cpu_cores, allocated_memory_mb from {{ ref('agents') }}

)

select
    costs.execution_id,
    costs.agent_id,
    costs.workspace_id,
    costs.user_id,
    costs.query_id,
    costs.task_type,
    costs.started_at as {{ adapter.quote('timestamp') }},
    costs.ended_at,
    costs.usage_date,
    costs.duration_ms as execution_duration_ms,
    costs.queue_wait_ms,
    costs.execution_status as status,
    costs.quality_score,

    costs.cpu_avg_percent as cpu_usage_percent,
    costs.cpu_peak_percent,
    costs.cpu_core_seconds,
    coalesce(costs.cpu_allocated_cores, agents.allocated_cpu_cores) as allocated_cpu_cores,
    costs.memory_avg_mb as memory_usage_mb,
    costs.memory_peak_mb,
    coalesce(costs.memory_allocated_mb, agents.allocated_memory_mb) as memory_allocated_mb,
    costs.memory_mb_seconds,
    costs.gpu_utilization_percent as gpu_usage_percent,
    costs.gpu_memory_mb,
    costs.gpu_compute_units,
    costs.network_bytes_in,
    costs.network_bytes_out,

    costs.llm_provider,
    costs.model as model_name,
    costs.input_tokens,
    costs.uncached_input_tokens,
    costs.cached_input_tokens as prompt_cache_hits,
    costs.output_tokens,
    costs.total_tokens,
    costs.context_window_used,
    costs.context_window_tokens,
    costs.llm_calls_reported as llm_calls_count,

    costs.temp_storage_mb,
    costs.persistent_storage_mb,
    costs.cache_size_mb,
    costs.database_operations,
    coalesce(costs.api_calls_reported, costs.api_calls_logged) as api_calls_count,

    costs.cpu_cost,
    costs.memory_cost,
    costs.gpu_cost,
    costs.compute_cost,
    costs.token_cost,
    costs.storage_cost,
    costs.network_cost,
    costs.api_cost,
    costs.total_cost,
    costs.reported_llm_cost_usd,
    costs.price_valid_from,
    costs.is_token_cost_priced,
    costs.source_file,
    costs.source_line
from costs
left join agents on costs.agent_id = agents.agent_id
