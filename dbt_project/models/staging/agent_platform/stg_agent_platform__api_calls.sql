with source as (

    select * from {{ source('agent_platform', 'api_calls') }}

),

renamed as (

    select
        request_id,
        execution_id,
        agent_id,
        workspace_id,
        requested_at,
        endpoint,
        upper(method) as http_method,
        cast(status_code as integer) as status_code,
        latency_ms,
        rate_limited as is_rate_limited,
        cast(retry_attempt as integer) as retry_attempt,
        error_type,
        cast(cost_usd as decimal(20, 10)) as cost_usd,
        request_fingerprint,

        _source_file as source_file,
        _line_number as source_line,
        _loaded_at as loaded_at

    from source

)

select * from renamed
