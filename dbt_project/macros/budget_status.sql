{#- The seed's three budget states: over the budget, above the near-limit share of it
    (var budget_near_limit_pct, default 80), or within it. -#}
{% macro budget_status(used, budget) -%}
    case
        when {{ used }} > {{ budget }} then 'over_budget'
        when {{ used }} * 100 > {{ budget }} * {{ var('budget_near_limit_pct') }} then 'near_limit'
        else 'within_budget'
    end
{%- endmacro %}
