{#- The CTEs `repeated_keys` and `ranked`: every row of `copies` (a CTE name) with the
    copy_rank that row_number() over (partition by `key` order by `order_by`) gives it, for
    a full build's dedup of a source delivered in overlapping exports.
    Only the keys delivered more than once (few) go through the window: a key's only copy
    is rank 1 as it is. Ranking every row carried all its columns through the window; at
    10M calls that took about half of each canonical model's time.
    `copies` is read three times: declare it `as {{ inline_cte() }} (`, else DuckDB holds
    all of it. A row with a null key (keys are required at ingest) is kept, rank 1, for the
    facts' not_null tests to report. -#}
{% macro rank_copies(copies, key, order_by) -%}
repeated_keys as (

    select {{ key }} from {{ copies }} group by {{ key }} having count(*) > 1

),

ranked as (

    select *, cast(1 as bigint) as copy_rank
    from {{ copies }} as single_copy
    where not exists (
        select 1 from repeated_keys where repeated_keys.{{ key }} = single_copy.{{ key }}
    )
    union all
    select *, row_number() over (partition by {{ key }} order by {{ order_by }}) as copy_rank
    from {{ copies }}
    where {{ key }} in (select {{ key }} from repeated_keys)

)
{%- endmacro %}
