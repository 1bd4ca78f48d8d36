with source as (

    select * from {{ source('container_metrics', 'container_metrics') }}

),

renamed as (

    select
        sampled_at,
        component,
        container,
        cpu_cores_used,
        cpu_cores_requested,
        memory_used_bytes,
        memory_requested_bytes,

        _source_file as source_file,
        _line_number as source_line,
        _loaded_at as loaded_at

    from source

)

select * from renamed
