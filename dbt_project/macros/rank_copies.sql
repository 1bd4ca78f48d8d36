{#- The CTEs `repeated_keys` and `ranked`: every row of `copies` (a CTE name) with the
    copy_rank that row_number() over (partition by `key` order by `order_by`) gives it: the
    dedup of a source delivered in overlapping exports (the canonical models' full builds,
    and first_row_per). `key` is one column
    or several ('host, gpu_index, sampled_at'); keys match null-safely, so a null key
    ranks as the window ranks it (one group).
    Only the keys delivered more than once (few) go through the window: a key's only copy
    is rank 1 as it is. Ranking every row carried all its columns through the window; at
    10M calls that took about half of each canonical model's time.
    `copies` is read three times: declare it `as {{ inline_cte() }} (`, else DuckDB holds
    all of it. -#}
{% macro rank_copies(copies, key, order_by) -%}
repeated_keys as (

    select {{ key }} from {{ copies }} group by {{ key }} having count(*) > 1

),

ranked as (

    select *, cast(1 as bigint) as copy_rank
    from {{ copies }} as single_copy
    where not exists ({{ _repeated_key_of('single_copy', key) }})
    union all
    select *, row_number() over (partition by {{ key }} order by {{ order_by }}) as copy_rank
    from {{ copies }} as repeated_copy
    where exists ({{ _repeated_key_of('repeated_copy', key) }})

)
{%- endmacro %}

{#- The row of repeated_keys holding `row`'s key (a correlated subquery for [not] exists). -#}
{% macro _repeated_key_of(row, key) -%}
    select 1 from repeated_keys where
    {%- for column in key.split(',') | map('trim') %}
    {% if not loop.first %}and {% endif %}repeated_keys.{{ column }} is not distinct from {{ row }}.{{ column }}
    {%- endfor %}
{%- endmacro %}
