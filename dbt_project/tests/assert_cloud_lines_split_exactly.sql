-- Every cloud bill line is allocated exactly once: its shares (direct, split or
-- unallocated) add up to its BilledCost to the last decimal.
with shares as (

    select cost_line_id, sum(amount_usd) as allocated
    from {{ ref('int_cloud_cost_allocation') }}
    group by cost_line_id

)

select lines.cost_line_id, lines.billed_cost, shares.allocated
from {{ ref('fct_cloud_costs') }} as lines
left join shares on lines.cost_line_id = shares.cost_line_id
where shares.allocated is null or shares.allocated <> lines.billed_cost
