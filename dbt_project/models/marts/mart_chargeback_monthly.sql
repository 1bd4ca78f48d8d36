-- The finance export: one row per calendar month x workspace x department x project x
-- agent x user x cost component, amounts in USD (DECIMAL). Long format, so a new cost
-- component is new rows, never a new column: the interface stays stable.
select
    billing_month,
    workspace_id,
    department,
    project,
    agent_id,
    user_id,
    cost_component,
    'USD' as currency,
    {{ money('sum(amount_usd)') }} as amount_usd,
    count(*) as ledger_rows
from {{ ref('fct_cost_ledger') }}
group by billing_month, workspace_id, department, project, agent_id, user_id, cost_component
