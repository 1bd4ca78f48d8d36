-- Platform components (API layer, core services, data layer) per hour: CPU and memory used
-- against what their containers request, efficiency (used / requested) and idle share
-- (the requested capacity not used). Drill down: mart_container_compute_hourly.
with samples as (

    select *, {{ dbt.date_trunc('hour', 'sampled_at') }} as hour_start
    from {{ ref('fct_container_samples') }}

),

-- sum containers per sample time first, then average the samples of the hour
per_sample as (

    select
        component, hour_start, sampled_at,
        count(*) as containers,
        {{ exact_sum('cpu_cores_used') }} as cpu_cores_used,
        {{ exact_sum('cpu_cores_requested') }} as cpu_cores_requested,
        {{ exact_sum('memory_used_mib') }} as memory_used_mib,
        {{ exact_sum('memory_requested_mib') }} as memory_requested_mib
    from samples
    group by component, hour_start, sampled_at

)

select
    component,
    hour_start,
    count(*) as samples,
    round(max(containers), 6) as containers,
    round({{ exact_avg('cpu_cores_used') }}, 6) as avg_cpu_cores_used,
    {{ percentile_cont('cpu_cores_used', 0.95) }} as p95_cpu_cores_used,
    round({{ exact_avg('cpu_cores_requested') }}, 6) as avg_cpu_cores_requested,
    round({{ exact_avg('memory_used_mib') }}, 6) as avg_memory_used_mib,
    round({{ exact_avg('memory_requested_mib') }}, 6) as avg_memory_requested_mib,
    round({{ exact_avg('cpu_cores_used') }} / nullif({{ exact_avg('cpu_cores_requested') }}, 0), 6) as cpu_efficiency,
    round(greatest(0, 1 - {{ exact_avg('cpu_cores_used') }} / nullif({{ exact_avg('cpu_cores_requested') }}, 0)), 6) as cpu_idle_share,
    round({{ exact_avg('memory_used_mib') }} / nullif({{ exact_avg('memory_requested_mib') }}, 0), 6) as memory_efficiency,
    round(greatest(0, 1 - {{ exact_avg('memory_used_mib') }} / nullif({{ exact_avg('memory_requested_mib') }}, 0)), 6) as memory_idle_share
from per_sample
group by component, hour_start
