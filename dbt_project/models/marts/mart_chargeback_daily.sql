{{ config(materialized=('table' if target.type == 'spark' else 'incremental'), incremental_strategy='replace_days', unique_key='usage_date', on_schema_change='fail') }}
-- Incremental by event day (see macros/incremental.sql): a windowed run replaces the days in int_rebuild_days.
-- depends_on: {{ ref('int_rebuild_days') }}
-- Chargeback per day x workspace x department x project x agent x user, one column per
-- cost component. Sums over any of these dimensions reconcile to the ledger's total.
select
    usage_date,
    billing_month,
    workspace_id,
    department,
    project,
    agent_id,
    user_id,
    {% for component in ['token', 'cpu', 'memory', 'gpu', 'storage', 'network', 'api', 'cloud_direct', 'cloud_shared', 'cloud_unallocated'] %}
    {{ money("sum(case when cost_component = '" ~ component ~ "' then amount_usd else 0 end)") }} as {{ component }}_cost,
    {% endfor %}
    {{ money('sum(amount_usd)') }} as total_cost
from {{ ref('fct_cost_ledger') }}
where {{ in_rebuild_days('usage_date') }}
group by usage_date, billing_month, workspace_id, department, project, agent_id, user_id
