-- One row per container per scrape, memory in MiB, and how much of its requests the
-- container uses (null where it requests nothing).
with samples as (

    -- the same scrape in two files (overlapping exports): keep the first by file, line
    {{ first_row_per(ref('stg_container_metrics__samples'), 'sampled_at, component, container', 'source_file, source_line') }}

)

select
    sampled_at,
    component,
    container,
    cpu_cores_used,
    cpu_cores_requested,
    cast(memory_used_bytes as double) / 1048576 as memory_used_mib,
    cast(memory_requested_bytes as double) / 1048576 as memory_requested_mib,
    cpu_cores_used / nullif(cpu_cores_requested, 0) as cpu_efficiency,
    cast(memory_used_bytes as double) / nullif(memory_requested_bytes, 0) as memory_efficiency
from samples
