-- Chargeback loses and invents nothing: the ledger, each chargeback table and the unified
-- agent cost add up to the cost allocation mart's total (usage costs + the cloud bill), to
-- the cent.
with expected as (

    select sum(total_cost) as total from {{ ref('mart_infrastructure_cost_allocation') }}

),

totals as (

    select 'ledger' as what, sum(amount_usd) as total from {{ ref('fct_cost_ledger') }}
    union all
    select 'chargeback_daily', sum(total_cost) from {{ ref('mart_chargeback_daily') }}
    union all
    select 'chargeback_monthly', sum(amount_usd) from {{ ref('mart_chargeback_monthly') }}
    union all
    select 'agent_daily_cost', sum(total_cost) from {{ ref('mart_agent_daily_cost') }}

)

select totals.what, totals.total, expected.total as expected_total
from totals cross join expected
where round(totals.total, 2) <> round(expected.total, 2)
