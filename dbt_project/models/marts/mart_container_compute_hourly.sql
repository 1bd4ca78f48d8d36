-- Per container per hour: CPU and memory used vs requested, efficiency and idle share.
with samples as (

    select *, {{ dbt.date_trunc('hour', 'sampled_at') }} as hour_start
    from {{ ref('fct_container_samples') }}

)

select
    component,
    container,
    hour_start,
    count(*) as samples,
    round({{ exact_avg('cpu_cores_used') }}, 6) as avg_cpu_cores_used,
    round(max(cpu_cores_used), 6) as max_cpu_cores_used,
    round({{ exact_avg('cpu_cores_requested') }}, 6) as avg_cpu_cores_requested,
    round({{ exact_avg('memory_used_mib') }}, 6) as avg_memory_used_mib,
    round({{ exact_avg('memory_requested_mib') }}, 6) as avg_memory_requested_mib,
    round({{ exact_avg('cpu_cores_used') }} / nullif({{ exact_avg('cpu_cores_requested') }}, 0), 6) as cpu_efficiency,
    round(greatest(0, 1 - {{ exact_avg('cpu_cores_used') }} / nullif({{ exact_avg('cpu_cores_requested') }}, 0)), 6) as cpu_idle_share,
    round({{ exact_avg('memory_used_mib') }} / nullif({{ exact_avg('memory_requested_mib') }}, 0), 6) as memory_efficiency,
    round(greatest(0, 1 - {{ exact_avg('memory_used_mib') }} / nullif({{ exact_avg('memory_requested_mib') }}, 0)), 6) as memory_idle_share
from samples
group by component, container, hour_start
