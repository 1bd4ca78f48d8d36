{{ config(materialized=('table' if target.type == 'spark' else 'incremental'), incremental_strategy='replace_days', unique_key='cast(sampled_at as date)', on_schema_change='fail') }}
-- Incremental by the reading's day (see macros/incremental.sql): a windowed run replaces the
-- days in int_rebuild_days, which hold every day whose readings' intervals can change (its
-- 'gpu' reason: the touched days, the day on each side, a resumed GPU's last reading before).
-- depends_on: {{ ref('int_rebuild_days') }}
-- One row per GPU reading (nvidia-smi), with the agent and workspace the GPU is assigned
-- to and the cost of the interval the reading stands for: the time to the GPU's next
-- reading (the last reading: the time since the one before), capped at
-- var gpu_sample_max_interval_s so that a telemetry outage is not charged as one reading.
{%- set windowed = is_windowed() %}
{%- set cap = var('gpu_sample_max_interval_s', 3600) %}
with
{%- if windowed %}

-- A windowed run reads the rebuild days and the day on each side of each: a reading's next
-- (or previous) reading is there unless it is more than a day away, and then its interval
-- is the cap whatever the gap (the cap is at most a day in a windowed run).
read_days as (

    select distinct cast({{ dbt.dateadd('day', 'shift', 'usage_date') }} as date) as usage_date
    from {{ rebuild_days() }} as rebuild_days(usage_date)
    cross join (select 0 as shift union all select -1 union all select 1) as shifts

),
{%- endif %}

samples as (

    -- the same reading in two files (overlapping exports): keep the first by file, line
    {%- if windowed %}
    -- (copies share sampled_at, so a day's readings are deduplicated from that day's rows)
    {{ first_row_per('(select * from ' ~ ref('stg_gpu_metrics__samples')
        ~ ' where cast(sampled_at as date) in (select usage_date from read_days))',
        'host, gpu_index, sampled_at', 'source_file, source_line') }}
    {%- else %}
    {{ first_row_per(ref('stg_gpu_metrics__samples'), 'host, gpu_index, sampled_at', 'source_file, source_line') }}
    {%- endif %}

),
{%- if windowed %}

-- every GPU's first and last reading in all the history: whether a reading whose neighbour
-- is not among the days read has one at all
gpu_span as (

    select host, gpu_index, min(sampled_at) as first_sampled_at, max(sampled_at) as last_sampled_at
    from {{ ref('stg_gpu_metrics__samples') }}
    group by host, gpu_index

),
{%- endif %}

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
        lead(sampled_at) over (partition by host, gpu_index order by sampled_at) as next_sampled_at,
        lag(sampled_at) over (partition by host, gpu_index order by sampled_at) as previous_sampled_at
    from samples

),

capped as (

    select
        intervals.*,
        -- to the next reading, else (the GPU's last) since the one before, at most the cap;
        -- a GPU's only reading has no interval
        case
            when next_sampled_at is not null
                then least({{ dbt.datediff('sampled_at', 'next_sampled_at', 'second') }}, {{ cap }})
            {%- if windowed %}
            when gpu_span.last_sampled_at > intervals.sampled_at then {{ cap }}
            {%- endif %}
            when previous_sampled_at is not null
                then least({{ dbt.datediff('previous_sampled_at', 'sampled_at', 'second') }}, {{ cap }})
            {%- if windowed %}
            when gpu_span.first_sampled_at < intervals.sampled_at then {{ cap }}
            {%- endif %}
        end as interval_seconds
    from intervals
    {%- if windowed %}
    inner join gpu_span
        on intervals.host is not distinct from gpu_span.host and intervals.gpu_index = gpu_span.gpu_index
    {%- endif %}

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
{%- if windowed %}
where cast(sampled_at as date) in {{ rebuild_days() }}
{%- endif %}
