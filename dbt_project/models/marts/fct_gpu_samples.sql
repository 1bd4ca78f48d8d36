-- One row per GPU reading (nvidia-smi), with the agent and workspace the GPU is assigned
-- to and the cost of the interval the reading stands for: the time to the GPU's next
-- reading (the last reading: the time since the one before), capped at
-- var gpu_sample_max_interval_s so that a telemetry outage is not charged as one reading.
with samples as (

    -- the same reading in two files (overlapping exports): keep the first by file, line
    {{ first_row_per(ref('stg_gpu_metrics__samples'), 'host, gpu_index, sampled_at', 'source_file, source_line') }}

),

assignments as (

    select * from {{ ref('gpu_assignments') }}

),

default_price as (

    select max(usd_per_unit) as usd_per_gpu_hour
    from {{ ref('compute_rate_card') }}
    where resource = 'gpu_instance' and unit = 'gpu_hour'

),

intervals as (

    select
        samples.*,
        coalesce(
            {{ dbt.datediff('sampled_at', 'lead(sampled_at) over (partition by host, gpu_index order by sampled_at)', 'second') }},
            {{ dbt.datediff('lag(sampled_at) over (partition by host, gpu_index order by sampled_at)', 'sampled_at', 'second') }}
        ) as raw_interval_seconds
    from samples

),

capped as (

    select
        *,
        -- least() skips nulls: a GPU's only reading must stay without an interval
        case
            when raw_interval_seconds is not null
                then least(raw_interval_seconds, {{ var('gpu_sample_max_interval_s', 3600) }})
        end as interval_seconds
    from intervals

),

assigned as (

    select
        capped.*,
        coalesce(by_uuid.agent_id, by_index.agent_id) as agent_id,
        coalesce(by_uuid.workspace_id, by_index.workspace_id) as workspace_id,
        coalesce(by_uuid.usd_per_gpu_hour, by_index.usd_per_gpu_hour, default_price.usd_per_gpu_hour) as usd_per_gpu_hour
    from capped
    cross join default_price
    left join assignments as by_uuid
        on by_uuid.gpu_uuid is not null
        and capped.gpu_uuid = by_uuid.gpu_uuid
        and (by_uuid.assigned_from is null or capped.sampled_at >= by_uuid.assigned_from)
        and (by_uuid.assigned_to is null or capped.sampled_at < by_uuid.assigned_to)
    left join assignments as by_index
        on by_index.gpu_uuid is null
        and capped.host = by_index.host
        and capped.gpu_index = by_index.gpu_index
        and (by_index.assigned_from is null or capped.sampled_at >= by_index.assigned_from)
        and (by_index.assigned_to is null or capped.sampled_at < by_index.assigned_to)

),

final as (

    select
        sampled_at,
        host,
        gpu_index,
        gpu_uuid,
        gpu_name,
        utilization_gpu_pct,
        utilization_memory_pct,
        memory_used_mib,
        memory_total_mib,
        power_draw_w,
        agent_id,
        workspace_id,
        interval_seconds,
        usd_per_gpu_hour,
        {{ money('interval_seconds * usd_per_gpu_hour / 3600') }} as interval_cost_usd,
        source_file,
        source_line
    from assigned

)

select * from final
