{#- The seed's three budget states: over the budget, above the near-limit share of it
    (var budget_near_limit_pct, default 80), or within it. Compared in DECIMAL: exact for
    token counts and money alike, and no integer overflow. -#}
{% macro budget_status(used, budget) -%}
    case
        when {{ used }} > {{ budget }} then 'over_budget'
        when cast({{ used }} as decimal(38, 6)) * 100
            > cast({{ budget }} as decimal(38, 6)) * {{ var('budget_near_limit_pct') }} then 'near_limit'
        else 'within_budget'
    end
{%- endmacro %}
