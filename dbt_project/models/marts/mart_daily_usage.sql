{{ config(materialized=('table' if target.type == 'spark' else 'incremental'), incremental_strategy='replace_days', unique_key='usage_date', on_schema_change='fail', rebuild_scope='usage') }}
-- Incremental by event day (see macros/incremental.sql): a windowed run replaces the days in int_rebuild_days
-- whose usage changes (rebuild_scope 'usage': this model reads no cloud bill and no GPU samples).
-- depends_on: {{ ref('int_rebuild_days') }}
-- Daily usage per workspace x agent x model: tokens by kind and every cost component from
-- the executions (the priced record), LLM call counts and latency from the call log, API
-- cost from the API log (attributed to the model of the execution that made the call;
-- calls with no known execution appear under model '(no execution)').
with day_executions as (

    select
        workspace_id,
        agent_id,
        model_name as model,
        usage_date,
        execution_id,
        status,
        input_tokens,
        uncached_input_tokens,
        prompt_cache_hits,
        output_tokens,
        total_tokens,
        token_cost,
        cpu_cost,
        memory_cost,
        gpu_cost,
        storage_cost,
        network_cost
    from {{ ref('fct_resource_utilization') }}
    where {{ in_rebuild_days('usage_date') }}

),

-- the model of each execution, for its API calls: a second, narrow read rather than one
-- CTE read twice, which DuckDB would materialize before the rebuild-day filter (every
-- execution, ~0.9 s at 10M calls)
execution_models as (

    select execution_id, model_name as model from {{ ref('fct_resource_utilization') }}

),

execution_daily as (

    select
        workspace_id,
        agent_id,
        model,
        usage_date,
        count(*) as executions,
        sum(case when status = 'success' then 1 else 0 end) as successful_executions,
        sum(case when status <> 'success' then 1 else 0 end) as failed_executions,
        cast(sum(input_tokens) as bigint) as input_tokens,
        cast(sum(uncached_input_tokens) as bigint) as uncached_input_tokens,
        cast(sum(prompt_cache_hits) as bigint) as cached_input_tokens,
        cast(sum(output_tokens) as bigint) as output_tokens,
        cast(sum(total_tokens) as bigint) as total_tokens,
        sum(coalesce(token_cost, 0)) as token_cost,
        sum(cpu_cost) as cpu_cost,
        sum(memory_cost) as memory_cost,
        sum(gpu_cost) as gpu_cost,
        sum(storage_cost) as storage_cost,
        sum(network_cost) as network_cost
    from day_executions
    group by workspace_id, agent_id, model, usage_date

),

call_daily as (

    select
        workspace_id,
        agent_id,
        model,
        usage_date,
        count(*) as llm_calls,
        sum(case when is_success then 0 else 1 end) as failed_llm_calls,
        avg(latency_ms) as avg_llm_latency_ms
    from (
        select
            coalesce(workspace_id, '(unattributed)') as workspace_id,
            coalesce(agent_id, '(unattributed)') as agent_id,
            model, usage_date, is_success, latency_ms
        from {{ ref('fct_llm_calls') }}
        where {{ in_rebuild_days('usage_date') }}
    ) as calls
    group by workspace_id, agent_id, model, usage_date

),

outside_daily as (

    -- LLM calls no execution covers (LiteLLM, OpenTelemetry)
    select
        coalesce(workspace_id, '(unattributed)') as workspace_id,
        coalesce(agent_id, '(unattributed)') as agent_id,
        model,
        usage_date,
        cast(sum(input_tokens) as bigint) as input_tokens,
        cast(sum(uncached_input_tokens) as bigint) as uncached_input_tokens,
        cast(sum(cached_input_tokens) as bigint) as cached_input_tokens,
        cast(sum(cache_write_tokens) as bigint) as cache_write_tokens,
        cast(sum(output_tokens) as bigint) as output_tokens,
        cast(sum(total_tokens) as bigint) as total_tokens,
        sum(coalesce(token_cost, 0)) as token_cost
    from {{ ref('fct_llm_calls') }}
    where is_outside_executions and {{ in_rebuild_days('usage_date') }}
    group by coalesce(workspace_id, '(unattributed)'), coalesce(agent_id, '(unattributed)'), model, usage_date

),

api_daily as (

    select
        api.workspace_id,
        api.agent_id,
        coalesce(executions.model, '(no execution)') as model,
        api.usage_date,
        count(*) as api_calls,
        sum(api.cost_usd) as api_cost
    from {{ ref('fct_api_calls') }} as api
    left join execution_models as executions on api.execution_id = executions.execution_id
    where {{ in_rebuild_days('api.usage_date') }}
    group by api.workspace_id, api.agent_id, coalesce(executions.model, '(no execution)'), api.usage_date

),

grain as (

    select workspace_id, agent_id, model, usage_date from execution_daily
    union
    select workspace_id, agent_id, model, usage_date from call_daily
    union
    select workspace_id, agent_id, model, usage_date from api_daily
    union
    select workspace_id, agent_id, model, usage_date from outside_daily

),

joined as (

    select
        grain.workspace_id,
        grain.agent_id,
        grain.model,
        grain.usage_date,
        coalesce(e.executions, 0) as executions,
        coalesce(e.successful_executions, 0) as successful_executions,
        coalesce(e.failed_executions, 0) as failed_executions,
        coalesce(c.llm_calls, 0) as llm_calls,
        coalesce(c.failed_llm_calls, 0) as failed_llm_calls,
        c.avg_llm_latency_ms,
        coalesce(a.api_calls, 0) as api_calls,
        coalesce(e.input_tokens, 0) + coalesce(o.input_tokens, 0) as input_tokens,
        coalesce(e.uncached_input_tokens, 0) + coalesce(o.uncached_input_tokens, 0) as uncached_input_tokens,
        coalesce(e.cached_input_tokens, 0) + coalesce(o.cached_input_tokens, 0) as cached_input_tokens,
        coalesce(o.cache_write_tokens, 0) as cache_write_tokens,
        coalesce(e.output_tokens, 0) + coalesce(o.output_tokens, 0) as output_tokens,
        coalesce(e.total_tokens, 0) + coalesce(o.total_tokens, 0) as total_tokens,
        {{ money('coalesce(e.token_cost, 0) + coalesce(o.token_cost, 0)') }} as token_cost,
        {{ money('coalesce(e.cpu_cost, 0)') }} as cpu_cost,
        {{ money('coalesce(e.memory_cost, 0)') }} as memory_cost,
        {{ money('coalesce(e.gpu_cost, 0)') }} as gpu_cost,
        {{ money('coalesce(e.storage_cost, 0)') }} as storage_cost,
        {{ money('coalesce(e.network_cost, 0)') }} as network_cost,
        {{ money('coalesce(a.api_cost, 0)') }} as api_cost
    from grain
    left join execution_daily as e
        on grain.workspace_id = e.workspace_id and grain.agent_id = e.agent_id
        and grain.model = e.model and grain.usage_date = e.usage_date
    left join call_daily as c
        on grain.workspace_id = c.workspace_id and grain.agent_id = c.agent_id
        and grain.model = c.model and grain.usage_date = c.usage_date
    left join api_daily as a
        on grain.workspace_id = a.workspace_id and grain.agent_id = a.agent_id
        and grain.model = a.model and grain.usage_date = a.usage_date
    left join outside_daily as o
        on grain.workspace_id = o.workspace_id and grain.agent_id = o.agent_id
        and grain.model = o.model and grain.usage_date = o.usage_date

)

select
    {{ dbt.concat(["workspace_id", "'|'", "agent_id", "'|'", "model", "'|'", dbt.cast("usage_date", api.Column.translate_type("string"))]) }} as daily_usage_key,
    *,
    {{ money('cpu_cost + memory_cost + gpu_cost') }} as compute_cost,
    {{ money('cpu_cost + memory_cost + gpu_cost + storage_cost + network_cost + token_cost + api_cost') }} as total_cost
from joined
