{#- An exact continuous percentile (linear interpolation) of a column within a group,
    rounded to 6 decimals so that 955 reads 955 and not 954.9999999999999.
    DuckDB: quantile_cont; Spark: percentile (also exact and interpolating). -#}
{% macro percentile_cont(column, fraction) -%}
    round({{ adapter.dispatch('percentile_cont', 'agent_resource_warehouse')(column, fraction) }}, 6)
{%- endmacro %}

{% macro default__percentile_cont(column, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by {{ column }})
{%- endmacro %}

{% macro duckdb__percentile_cont(column, fraction) -%}
    quantile_cont({{ column }}, {{ fraction }})
{%- endmacro %}

{% macro spark__percentile_cont(column, fraction) -%}
    percentile({{ column }}, {{ fraction }})
{%- endmacro %}
