{{ config(materialized=('table' if target.type == 'spark' else 'incremental'), incremental_strategy='replace_days', unique_key='usage_date', on_schema_change='fail') }}
-- Incremental by event day (see macros/incremental.sql): a windowed run replaces the days in int_rebuild_days.
-- depends_on: {{ ref('int_rebuild_days') }}
-- One row per agent per day with everything it used and cost, side by side: LLM tokens,
-- compute, GPU (runtime compute units and nvidia-smi telemetry), storage, network,
-- external APIs and its share of the cloud bill. total_cost is the ledger's (so it
-- reconciles with chargeback); the GPU telemetry cost is an estimate of hardware the cloud
-- bill already charges, shown for comparison and not added.
with allocation as (

    select * from {{ ref('mart_infrastructure_cost_allocation') }}
    where {{ in_rebuild_days('usage_date') }}

),

ledger as (

    select
        workspace_id, agent_id, usage_date,
        sum(case when cost_component = 'cloud_direct' then amount_usd else 0 end) as cloud_direct_cost,
        sum(case when cost_component = 'cloud_shared' then amount_usd else 0 end) as cloud_shared_cost,
        sum(amount_usd) as total_cost
    from {{ ref('fct_cost_ledger') }}
    where {{ in_rebuild_days('usage_date') }}
    group by workspace_id, agent_id, usage_date

),

usage as (

    select
        workspace_id, agent_id, usage_date,
        sum(llm_calls) as llm_calls,
        sum(input_tokens) as input_tokens,
        sum(cached_input_tokens) as cached_input_tokens,
        sum(output_tokens) as output_tokens,
        sum(total_tokens) as total_tokens
    from {{ ref('mart_daily_usage') }}
    where {{ in_rebuild_days('usage_date') }}
    group by workspace_id, agent_id, usage_date

),

resources as (

    select
        workspace_id, agent_id, usage_date,
        sum(cpu_core_seconds) / 3600 as cpu_core_hours,
        sum(memory_mb_seconds) / 1024 / 3600 as memory_gb_hours,
        sum(gpu_compute_units) as gpu_compute_units,
        sum(network_bytes_in + network_bytes_out) / 1073741824.0 as network_gb,
        -- DOUBLE on both engines (DuckDB divides a DECIMAL in double precision; Spark would keep a DECIMAL)
        cast(sum(persistent_storage_mb) as double) / 1024 as persisted_gb
    from {{ ref('fct_resource_utilization') }}
    where {{ in_rebuild_days('usage_date') }}
    group by workspace_id, agent_id, usage_date

),

gpu_telemetry as (

    select
        workspace_id, agent_id, cast(sampled_at as date) as usage_date,
        cast({{ exact_sum('interval_seconds') }} as double) / 3600 as gpu_hours_observed,
        cast({{ exact_sum('utilization_gpu_pct * interval_seconds') }} as double)
            / nullif(cast({{ exact_sum('interval_seconds') }} as double), 0) as avg_gpu_utilization_pct,
        sum(interval_cost_usd) as gpu_telemetry_cost_estimate
    from {{ ref('fct_gpu_samples') }}
    where agent_id is not null and {{ in_rebuild_days('cast(sampled_at as date)') }}
    group by workspace_id, agent_id, cast(sampled_at as date)

),

keys as (

    select workspace_id, agent_id, usage_date from allocation
    union
    select workspace_id, agent_id, usage_date from ledger

)

select
    keys.usage_date,
    keys.workspace_id,
    keys.agent_id,
    agents.department,
    agents.project,
    coalesce(allocation.executions, 0) as executions,
    coalesce(usage.llm_calls, 0) as llm_calls,
    coalesce(allocation.api_calls, 0) as api_calls,
    cast(coalesce(usage.input_tokens, 0) as bigint) as input_tokens,
    cast(coalesce(usage.cached_input_tokens, 0) as bigint) as cached_input_tokens,
    cast(coalesce(usage.output_tokens, 0) as bigint) as output_tokens,
    cast(coalesce(usage.total_tokens, 0) as bigint) as total_tokens,
    coalesce(resources.cpu_core_hours, 0) as cpu_core_hours,
    coalesce(resources.memory_gb_hours, 0) as memory_gb_hours,
    coalesce(resources.gpu_compute_units, 0) as gpu_compute_units,
    coalesce(gpu_telemetry.gpu_hours_observed, 0) as gpu_hours_observed,
    gpu_telemetry.avg_gpu_utilization_pct,
    coalesce(resources.network_gb, 0) as network_gb,
    coalesce(resources.persisted_gb, 0) as persisted_gb,
    {{ money('coalesce(allocation.token_cost, 0)') }} as token_cost,
    {{ money('coalesce(allocation.cpu_cost, 0) + coalesce(allocation.memory_cost, 0)') }} as compute_cost,
    {{ money('coalesce(allocation.gpu_cost, 0)') }} as gpu_cost,
    {{ money('coalesce(allocation.storage_cost, 0)') }} as storage_cost,
    {{ money('coalesce(allocation.network_cost, 0)') }} as network_cost,
    {{ money('coalesce(allocation.api_cost, 0)') }} as api_cost,
    {{ money('coalesce(ledger.cloud_direct_cost, 0)') }} as cloud_direct_cost,
    {{ money('coalesce(ledger.cloud_shared_cost, 0)') }} as cloud_shared_cost,
    {{ money('coalesce(ledger.total_cost, 0)') }} as total_cost,
    {{ money('gpu_telemetry.gpu_telemetry_cost_estimate') }} as gpu_telemetry_cost_estimate
from keys
left join {{ ref('dim_agents') }} as agents on keys.agent_id = agents.agent_id
left join allocation
    on keys.workspace_id = allocation.workspace_id and keys.agent_id = allocation.agent_id
    and keys.usage_date = allocation.usage_date
left join ledger
    on keys.workspace_id = ledger.workspace_id and keys.agent_id = ledger.agent_id
    and keys.usage_date = ledger.usage_date
left join usage
    on keys.workspace_id = usage.workspace_id and keys.agent_id = usage.agent_id
    and keys.usage_date = usage.usage_date
left join resources
    on keys.workspace_id = resources.workspace_id and keys.agent_id = resources.agent_id
    and keys.usage_date = resources.usage_date
left join gpu_telemetry
    on keys.workspace_id = gpu_telemetry.workspace_id and keys.agent_id = gpu_telemetry.agent_id
    and keys.usage_date = gpu_telemetry.usage_date
