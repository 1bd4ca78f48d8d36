-- One row per agent: who owns it, where it is charged, what it is allocated and budgeted.
with agents as (

    select * from {{ ref('agents') }}

),

budgets as (

    select * from {{ ref('budgets') }}

)

select
    agents.agent_id,
    agents.agent_name,
    agents.workspace_id,
    agents.owner_user_id,
    agents.department,
    agents.project,
    agents.compute_tier,
    agents.allocated_cpu_cores,
    agents.allocated_memory_mb,
    agents.allocated_gpus,
    agents.primary_model,
    agents.provider as primary_provider,
    agents.created_at,
    budgets.daily_token_budget,
    budgets.monthly_token_budget,
    budgets.monthly_cost_budget_usd
from agents
left join budgets
    on agents.agent_id = budgets.agent_id
    and agents.workspace_id = budgets.workspace_id
