{{ config(materialized=('table' if target.type == 'spark' else 'incremental'), incremental_strategy='replace_days', unique_key='usage_date', on_schema_change='fail', rebuild_scope='usage') }}
-- Incremental by event day (see macros/incremental.sql): a windowed run replaces the days in int_rebuild_days
-- whose usage changes (rebuild_scope 'usage': this model reads no cloud bill and no GPU samples).
-- depends_on: {{ ref('int_rebuild_days') }}
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
where not is_success and {{ in_rebuild_days('usage_date') }}
group by workspace_id, agent_id, endpoint, usage_date,
    coalesce(error_type, 'http_' || cast(status_code as {{ dbt.type_string() }}))
