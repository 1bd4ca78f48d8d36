-- Canonical external API calls: one row per request_id.
with api_calls as (

    select * from {{ ref('stg_agent_platform__api_calls') }}

),

ranked as (

    select
        *,
        row_number() over (partition by request_id order by source_file, source_line) as copy_rank
    from api_calls

),

agents as (

    select agent_id, workspace_id from {{ ref('agents') }}

)

select
    ranked.request_id,
    ranked.execution_id,
    ranked.agent_id,
    -- exports may omit the workspace; the agent's home workspace is then used
    coalesce(ranked.workspace_id, agents.workspace_id) as workspace_id,
    requested_at,
    cast(requested_at as date) as usage_date,
    endpoint,
    http_method,
    status_code,
    status_code between 200 and 399 as is_success,
    latency_ms,
    is_rate_limited,
    retry_attempt,
    error_type,
    cost_usd,
    request_fingerprint,
    source_file,
    source_line
from ranked
left join agents on ranked.agent_id = agents.agent_id
where ranked.copy_rank = 1
