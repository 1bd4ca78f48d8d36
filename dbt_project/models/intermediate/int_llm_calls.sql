-- Canonical LLM calls: one row per call_id, the agent resolved from its name through the
-- agents seed (an unknown name keeps the call with agent_id null; a test counts them).
with calls as (

    select * from {{ ref('stg_agent_platform__llm_calls') }}

),

agents as (

    select * from {{ ref('agents') }}

),

ranked as (

    select
        *,
        row_number() over (partition by call_id order by source_file, source_line) as copy_rank
    from calls

)

select
    ranked.call_id,
    ranked.query_id,
    ranked.execution_id,
    agents.agent_id,
    agents.workspace_id,
    ranked.agent_name,
    ranked.provider,
    ranked.model,
    ranked.started_at,
    ranked.completed_at,
    cast(ranked.started_at as date) as usage_date,
    ranked.prompt_tokens as input_tokens,
    ranked.cached_input_tokens,
    ranked.prompt_tokens - ranked.cached_input_tokens as uncached_input_tokens,
    cast(0 as bigint) as cache_write_tokens,
    ranked.completion_tokens as output_tokens,
    ranked.provider_total_tokens as total_tokens,
    ranked.latency_ms,
    ranked.call_status,
    ranked.prompt_fingerprint,
    ranked.source_file,
    ranked.source_line
from ranked
left join agents on ranked.agent_name = agents.agent_name
where ranked.copy_rank = 1
