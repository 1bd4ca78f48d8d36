{#- Canonical external API calls: one row per request_id (first copy by file name, then line).
    candidates: SQL filter on the delivered copies; only keys with a matching copy are ranked
    (over all their copies). winners: SQL filter on the winning copies. -#}
{% macro canonical_api_calls(candidates=none, winners=none) %}
with api_calls as {{ inline_cte() if not candidates }} (

    select *, cast(requested_at as date) as usage_date from {{ ref('stg_agent_platform__api_calls') }}

),

{%- if not candidates %}

{{ rank_copies('api_calls', 'request_id', 'source_file, source_line') }},
{%- else %}

ranked as (

    select
        *,
        row_number() over (partition by request_id order by source_file, source_line) as copy_rank
    from api_calls
    -- only keys with a copy matching the filter, ranked over all their copies; the keys
    -- come from a second, narrow read so that api_calls is streamed, not materialized
    where request_id in (
        select request_id
        from (select *, cast(requested_at as date) as usage_date from {{ ref('stg_agent_platform__api_calls') }}) as copies
        where {{ candidates }}
    )

),
{%- endif %}

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
    ranked.usage_date,
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
where ranked.copy_rank = 1{% if winners %} and {{ winners }}{% endif %}
{% endmacro %}
