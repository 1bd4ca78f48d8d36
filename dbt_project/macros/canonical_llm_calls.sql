{#- Canonical LLM calls from every call log: the platform's gateway log, LiteLLM spend logs
    and OpenTelemetry GenAI spans, each mapped onto disjoint token buckets (uncached input,
    cache read, cache write, output; reasoning is part of output). One row per call_id: a
    call present in more than one log keeps the platform's record, then LiteLLM's, then
    OTel's, so nothing is counted twice. Agents are resolved through the agents seed.
    windowed: only the winning copies on the run's rebuild days (see int_rebuild_days). -#}
{% macro canonical_llm_calls(windowed=false) %}
with agents as (

    select agent_id, agent_name, workspace_id from {{ ref('agents') }}

),
{%- if windowed %}

-- the keys with a copy on a rebuild day (the three logs share one key space): every copy
-- of these keys is ranked. Read from narrow scans and applied to each log before its
-- rows are built, so the whole history is never materialized (at 10M calls that copy
-- took 6 GB and most of the model's time).
window_keys as (

    select call_id from {{ ref('stg_agent_platform__llm_calls') }}
    where cast(started_at as date) in {{ rebuild_days() }}
    union all
    select request_id from {{ ref('stg_litellm__spend_logs') }}
    where cast(started_at as date) in {{ rebuild_days() }}
    union all
    select span_id from {{ ref('stg_otel__genai_spans') }}
    where cast(started_at as date) in {{ rebuild_days() }}

),
{%- endif %}

gateway as (

    select
        calls.call_id,
        calls.query_id,
        calls.execution_id,
        agents.agent_id,
        agents.workspace_id,
        calls.agent_name,
        calls.provider,
        calls.model,
        calls.started_at,
        calls.completed_at,
        calls.prompt_tokens as input_tokens,
        calls.prompt_tokens - calls.cached_input_tokens as uncached_input_tokens,
        calls.cached_input_tokens,
        cast(0 as bigint) as cache_write_tokens,
        cast(0 as bigint) as cache_write_1h_tokens,
        calls.completion_tokens as output_tokens,
        cast(null as bigint) as reasoning_tokens,
        calls.provider_total_tokens as total_tokens,
        calls.latency_ms,
        calls.call_status,
        calls.prompt_fingerprint,
        cast(null as decimal(24, 12)) as reported_cost_usd,
        'agent_platform' as source_system,
        1 as source_priority,
        calls.source_file,
        cast(calls.source_line as {{ dbt.type_string() }}) as source_record
    from {{ ref('stg_agent_platform__llm_calls') }} as calls
    left join agents on calls.agent_name = agents.agent_name
    {%- if windowed %}
    where calls.call_id in (select call_id from window_keys)
    {%- endif %}

),

litellm as (

    select
        logs.request_id as call_id,
        cast(null as {{ dbt.type_string() }}) as query_id,
        cast(null as {{ dbt.type_string() }}) as execution_id,
        agents.agent_id,
        coalesce(agents.workspace_id, logs.team_id) as workspace_id,
        agents.agent_name,
        logs.provider,
        {{ canonical_model_name('logs.model') }} as model,
        logs.started_at,
        logs.ended_at as completed_at,
        logs.uncached_input_tokens + logs.cache_read_tokens + logs.cache_write_tokens as input_tokens,
        logs.uncached_input_tokens,
        logs.cache_read_tokens as cached_input_tokens,
        logs.cache_write_tokens,
        logs.cache_write_1h_tokens,
        logs.output_tokens,
        logs.reasoning_tokens,
        logs.total_tokens,
        coalesce(logs.request_duration_ms, {{ dbt.datediff('logs.started_at', 'logs.ended_at', 'millisecond') }}) as latency_ms,
        case when coalesce(logs.status, 'success') = 'success' then 'success' else 'error' end as call_status,
        cast(null as {{ dbt.type_string() }}) as prompt_fingerprint,
        logs.spend_usd as reported_cost_usd,
        'litellm' as source_system,
        2 as source_priority,
        logs.source_file,
        logs.source_locator as source_record
    from {{ ref('stg_litellm__spend_logs') }} as logs
    left join agents on logs.agent_id = agents.agent_id
    {%- if windowed %}
    where logs.request_id in (select call_id from window_keys)
    {%- endif %}

),

otel as (

    select
        spans.span_id as call_id,
        spans.conversation_id as query_id,
        cast(null as {{ dbt.type_string() }}) as execution_id,
        agents.agent_id,
        agents.workspace_id,
        coalesce(agents.agent_name, spans.agent_name) as agent_name,
        spans.provider,
        {{ canonical_model_name('coalesce(spans.request_model, spans.response_model)') }} as model,
        spans.started_at,
        spans.ended_at as completed_at,
        spans.provider_input_tokens as input_tokens,
        spans.uncached_input_tokens,
        spans.cache_read_tokens as cached_input_tokens,
        spans.cache_write_tokens,
        spans.cache_write_1h_tokens,
        spans.output_tokens,
        spans.reasoning_tokens,
        spans.provider_input_tokens + spans.provider_output_tokens as total_tokens,
        {{ dbt.datediff('spans.started_at', 'spans.ended_at', 'millisecond') }} as latency_ms,
        -- OTel status code 2 is ERROR; unset (0) and OK (1) are successes
        case when spans.status_code = '2' then 'error' else 'success' end as call_status,
        cast(null as {{ dbt.type_string() }}) as prompt_fingerprint,
        cast(null as decimal(24, 12)) as reported_cost_usd,
        'otel' as source_system,
        3 as source_priority,
        spans.source_file,
        spans.source_locator as source_record
    from {{ ref('stg_otel__genai_spans') }} as spans
    left join agents on spans.agent_id = agents.agent_id or spans.agent_id = agents.agent_name
    {%- if windowed %}
    where spans.span_id in (select call_id from window_keys)
    {%- endif %}

),

all_calls as {{ inline_cte() if not windowed }} (

    select *, cast(started_at as date) as usage_date from gateway
    union all
    select *, cast(started_at as date) as usage_date from litellm
    union all
    select *, cast(started_at as date) as usage_date from otel

),

{%- if windowed %}

ranked as (

    select
        *,
        row_number() over (
            partition by call_id order by source_priority, source_file, source_record
        ) as copy_rank
    from all_calls

)
{%- else %}

{{ rank_copies('all_calls', 'call_id', 'source_priority, source_file, source_record') }}
{%- endif %}

select
    call_id,
    query_id,
    execution_id,
    agent_id,
    workspace_id,
    agent_name,
    provider,
    model,
    started_at,
    completed_at,
    usage_date,
    input_tokens,
    uncached_input_tokens,
    cached_input_tokens,
    cache_write_tokens,
    cache_write_1h_tokens,
    output_tokens,
    reasoning_tokens,
    total_tokens,
    latency_ms,
    call_status,
    prompt_fingerprint,
    reported_cost_usd,
    source_system,
    source_file,
    source_record
from ranked
where copy_rank = 1{% if windowed %} and usage_date in {{ rebuild_days() }}{% endif %}
{% endmacro %}
