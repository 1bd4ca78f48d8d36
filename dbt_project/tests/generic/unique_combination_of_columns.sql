{#- A grain test: no two rows share the same values of `combination_of_columns`.
    (The usual dbt_utils test; written here to keep the project free of packages that
    would need a download at install time.) -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
select {{ combination_of_columns | join(', ') }}, count(*) as copies
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1
{% endtest %}
