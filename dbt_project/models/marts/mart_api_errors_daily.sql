-- Failed external API calls by error type per workspace x agent x endpoint x day.
select
    workspace_id,
    agent_id,
    endpoint,
    usage_date,
    coalesce(error_type, 'http_' || cast(status_code as {{ dbt.type_string() }})) as error_type,
    count(*) as failed_calls,
    {{ money('sum(cost_usd)') }} as wasted_cost
from {{ ref('fct_api_calls') }}
where not is_success
group by workspace_id, agent_id, endpoint, usage_date,
    coalesce(error_type, 'http_' || cast(status_code as {{ dbt.type_string() }}))
