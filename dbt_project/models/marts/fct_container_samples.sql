-- One row per container per scrape, memory in MiB, and how much of its requests the
-- container uses (null where it requests nothing).
with samples as (

    select *
    from {{ ref('stg_container_metrics__samples') }}
    -- the same scrape in two files (overlapping exports): keep the first by file, line
    qualify row_number() over (
        partition by sampled_at, component, container order by source_file, source_line
    ) = 1

)

select
    sampled_at,
    component,
    container,
    cpu_cores_used,
    cpu_cores_requested,
    memory_used_bytes / 1048576.0 as memory_used_mib,
    memory_requested_bytes / 1048576.0 as memory_requested_mib,
    cpu_cores_used / nullif(cpu_cores_requested, 0) as cpu_efficiency,
    cast(memory_used_bytes as double) / nullif(memory_requested_bytes, 0) as memory_efficiency
from samples
