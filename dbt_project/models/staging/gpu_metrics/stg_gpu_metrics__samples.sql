-- nvidia-smi has no host column: the host is the folder the file sits in
-- (data/raw/gpu_metrics/<host>/<...>_YYYY-MM-DD.csv), or, for a file directly in
-- gpu_metrics/, the file name before the date (<host>_YYYY-MM-DD.csv).
with source as (

    select * from {{ source('gpu_metrics', 'gpu_metrics') }}

),

renamed as (

    select
        sampled_at,
        case
            when regexp_extract(_source_file, '([^/]+)/[^/]+$', 1) not in ('', 'gpu_metrics')
                then regexp_extract(_source_file, '([^/]+)/[^/]+$', 1)
            else nullif(regexp_extract(_source_file, '([^/]+?)[_.-]*[0-9]{4}-[0-9]{2}-[0-9]{2}[^/]*$', 1), '')
        end as host,
        cast(gpu_index as integer) as gpu_index,
        gpu_uuid,
        gpu_name,
        utilization_gpu_pct,
        utilization_memory_pct,
        memory_used_mib,
        memory_total_mib,
        power_draw_w,

        _source_file as source_file,
        _line_number as source_line,
        _loaded_at as loaded_at

    from source

)

select * from renamed
