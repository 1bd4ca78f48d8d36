-- One row per external API request.
select
    request_id,
    execution_id,
    agent_id,
    workspace_id,
    requested_at,
    usage_date,
    endpoint,
    http_method,
    status_code,
    is_success,
    latency_ms,
    is_rate_limited,
    retry_attempt,
    error_type,
    cost_usd,
    request_fingerprint
from {{ ref('int_api_calls') }}
