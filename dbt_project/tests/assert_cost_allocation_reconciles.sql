-- Money is conserved: the cost allocation mart allocates exactly the costs it is built
-- from (execution costs + LLM calls outside executions + the API log + the cloud bill),
-- component by component, to the cent; and each
-- row's total is the sum of its components.
with allocated as (

    select
        sum(cpu_cost) as cpu, sum(memory_cost) as memory, sum(gpu_cost) as gpu,
        sum(storage_cost) as storage, sum(network_cost) as network,
        sum(token_cost) as token, sum(api_cost) as api,
        sum(cloud_direct_cost + cloud_shared_cost) as cloud, sum(total_cost) as total
    from {{ ref('mart_infrastructure_cost_allocation') }}

),

source_costs as (

    select
        sum(cpu_cost) as cpu, sum(memory_cost) as memory, sum(gpu_cost) as gpu,
        sum(storage_cost) as storage, sum(network_cost) as network,
        sum(coalesce(token_cost, 0)) as token
    from {{ ref('fct_resource_utilization') }}

),

api as (

    select sum(cost_usd) as api from {{ ref('fct_api_calls') }}

),

cloud_bill as (

    select coalesce(sum(billed_cost), 0) as cloud from {{ ref('fct_cloud_costs') }}

),

outside_executions as (

    select sum(coalesce(token_cost, 0)) as token from {{ ref('fct_llm_calls') }} where is_outside_executions

),

row_totals as (

    select count(*) as bad_rows
    from {{ ref('mart_infrastructure_cost_allocation') }}
    where round(total_cost, 2) <> round(cpu_cost + memory_cost + gpu_cost + storage_cost + network_cost + token_cost + api_cost
        + cloud_direct_cost + cloud_shared_cost, 2)

)

select *
from allocated
cross join source_costs
cross join api
cross join outside_executions
cross join cloud_bill
cross join row_totals
where round(allocated.cpu, 2) <> round(source_costs.cpu, 2)
   or round(allocated.memory, 2) <> round(source_costs.memory, 2)
   or round(allocated.gpu, 2) <> round(source_costs.gpu, 2)
   or round(allocated.storage, 2) <> round(source_costs.storage, 2)
   or round(allocated.network, 2) <> round(source_costs.network, 2)
   or round(allocated.token, 2) <> round(source_costs.token + coalesce(outside_executions.token, 0), 2)
   or round(allocated.api, 2) <> round(coalesce(api.api, 0), 2)
   or round(allocated.cloud, 2) <> round(cloud_bill.cloud, 2)
   or round(allocated.total, 2) <> round(source_costs.cpu + source_costs.memory + source_costs.gpu + source_costs.storage
        + source_costs.network + source_costs.token + coalesce(outside_executions.token, 0) + coalesce(api.api, 0)
        + cloud_bill.cloud, 2)
   or row_totals.bad_rows > 0
