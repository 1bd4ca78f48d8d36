{#- Retry chains: the attempts of one logical request (same execution, endpoint and
    request fingerprint; attempt 0 is the first try). A chain "was retried" when it has an
    attempt > 0, and "eventually succeeded" when its last attempt succeeded.
    windowed: only the chains that start on the run's rebuild days. -#}
{% macro api_retry_chains(windowed=false) %}
with calls as (

    select * from {{ ref('fct_api_calls') }}
    where execution_id is not null and request_fingerprint is not null
    {%- if windowed %}
        -- every attempt of the chains of executions with an API call on a rebuild day
        and execution_id in {{ keys_on_rebuild_days(ref('fct_api_calls'), 'execution_id') }}
    {%- endif %}

),

chains as (

    select
        execution_id,
        endpoint,
        request_fingerprint,
        min(agent_id) as agent_id,
        min(workspace_id) as workspace_id,
        min(requested_at) as first_attempt_at,
        max(retry_attempt) as last_attempt,
        count(*) as attempts,
        sum(cost_usd) as chain_cost_usd
    from calls
    group by execution_id, endpoint, request_fingerprint

),

last_attempts as (

    select
        calls.execution_id,
        calls.endpoint,
        calls.request_fingerprint,
        max(case when calls.is_success then 1 else 0 end) as last_attempt_succeeded
    from calls
    inner join chains
        on calls.execution_id = chains.execution_id
        and calls.endpoint = chains.endpoint
        and calls.request_fingerprint = chains.request_fingerprint
        and calls.retry_attempt = chains.last_attempt
    group by calls.execution_id, calls.endpoint, calls.request_fingerprint

)

select
    chains.*,
    cast(chains.first_attempt_at as date) as usage_date,
    chains.last_attempt > 0 as was_retried,
    last_attempts.last_attempt_succeeded = 1 as eventually_succeeded
from chains
inner join last_attempts
    on chains.execution_id = last_attempts.execution_id
    and chains.endpoint = last_attempts.endpoint
    and chains.request_fingerprint = last_attempts.request_fingerprint
{%- if windowed %}
where cast(chains.first_attempt_at as date) in {{ rebuild_days() }}
{%- endif %}
{% endmacro %}
