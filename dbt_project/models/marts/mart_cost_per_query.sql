-- What each query cost, from the ledger: its executions (tokens, compute, storage,
-- network), their API calls, and its LLM calls made outside executions.
select
    query_id,
    min(usage_date) as usage_date,
    min(workspace_id) as workspace_id,
    min(agent_id) as agent_id,
    min(user_id) as user_id,
    min(department) as department,
    min(project) as project,
    {% for component in ['token', 'cpu', 'memory', 'gpu', 'storage', 'network', 'api'] %}
    {{ money("sum(case when cost_component = '" ~ component ~ "' then amount_usd else 0 end)") }} as {{ component }}_cost,
    {% endfor %}
    {{ money('sum(amount_usd)') }} as total_cost
from {{ ref('fct_cost_ledger') }}
where query_id is not null
group by query_id
