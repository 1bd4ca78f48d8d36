{#- Dialect differences the models meet, behind one name each (adapter.dispatch, with
    duckdb__ and spark__ implementations; DuckDB's SQL is exactly what the models used to
    say inline, so the DuckDB build is unchanged). -#}

{#- One row per `partition_by` (one column or several): the first by `order_by`. The
    same rule as the canonical models' dedup (rank_copies): only the keys with more than one
    row are ranked (at 10M calls the window over every GPU reading was 40% of
    fct_gpu_samples' select). Not a dispatch macro: its SQL is the same on both engines but
    for star_without (Spark's * except is DuckDB's * exclude). -#}
{% macro first_row_per(relation, partition_by, order_by) -%}
    with first_row_copies as {{ inline_cte() }} (select * from {{ relation }} as first_row_source),
    {{ rank_copies('first_row_copies', partition_by, order_by) }}
    select * {{ star_without() }} (copy_rank) from ranked where copy_rank = 1
{%- endmacro %}

{#- `select * {{ star_without() }} (column)`: every column but the named ones. -#}
{% macro star_without() -%}
    {{ return(adapter.dispatch('star_without', 'agent_resource_warehouse')()) }}
{%- endmacro %}

{% macro default__star_without() -%}
    exclude
{%- endmacro %}

{% macro spark__star_without() -%}
    except
{%- endmacro %}

{#- One row per element of a list column (no row for an empty or null list). -#}
{% macro unnest_list(column) -%}
    {{ adapter.dispatch('unnest_list', 'agent_resource_warehouse')(column) }}
{%- endmacro %}

{% macro default__unnest_list(column) -%}
    unnest({{ column }})
{%- endmacro %}

{% macro spark__unnest_list(column) -%}
    explode({{ column }})
{%- endmacro %}

{#- The key/value pairs of a JSON object column as rows, joined to the row they came from:
    `from t{{ json_object_entries('t.tags', 'tag') }}`, then `tag.key` and
    {{ json_entry_text('tag') }} (the value as text; null for a JSON null). -#}
{% macro json_object_entries(column, alias) -%}
    {{ adapter.dispatch('json_object_entries', 'agent_resource_warehouse')(column, alias) }}
{%- endmacro %}

{% macro default__json_object_entries(column, alias) -%}
    , json_each({{ column }}) as {{ alias }}
{%- endmacro %}

{% macro spark__json_object_entries(column, alias) -%}
    {{ ' ' }}lateral view explode(from_json({{ column }}, 'map<string, string>')) {{ alias }} as key, value
{%- endmacro %}

{% macro json_entry_text(alias) -%}
    {{ adapter.dispatch('json_entry_text', 'agent_resource_warehouse')(alias) }}
{%- endmacro %}

{% macro default__json_entry_text(alias) -%}
    {{ alias }}.value ->> '$'
{%- endmacro %}

{#- from_json into map<string, string> already gives the text -#}
{% macro spark__json_entry_text(alias) -%}
    {{ alias }}.value
{%- endmacro %}

{#- Replace every match of a regular expression (DuckDB replaces only the first without 'g';
    Spark always replaces all). -#}
{% macro regexp_replace_all(expr, pattern, replacement) -%}
    {{ adapter.dispatch('regexp_replace_all', 'agent_resource_warehouse')(expr, pattern, replacement) }}
{%- endmacro %}

{% macro default__regexp_replace_all(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, {{ pattern }}, {{ replacement }}, 'g')
{%- endmacro %}

{% macro spark__regexp_replace_all(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, {{ pattern }}, {{ replacement }})
{%- endmacro %}

{#- dbt.dateadd on Spark. dbt-spark's own goes through whole unix seconds: it drops the
    milliseconds and adds 0 for datepart 'millisecond' (an int cast of n/1000000).
    timestampadd keeps the fraction and the input's timestamp type (DuckDB adds an
    interval the same way). Takes precedence over dbt-spark's: dbt's dispatch looks in the
    root project first. -#}
{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) -%}
    timestampadd({{ datepart | upper }}, {{ interval }}, {{ from_date_or_timestamp }})
{%- endmacro %}


{#- One text of a whole row, for fingerprints (each engine's own rendering; a fingerprint
    is only compared with one from the same engine). -#}
{% macro row_as_text(alias) -%}
    {{ return(adapter.dispatch('row_as_text')(alias)) }}
{%- endmacro %}

{% macro default__row_as_text(alias) -%}
    {{ alias }}::varchar
{%- endmacro %}

{% macro spark__row_as_text(alias) -%}
    to_json(struct({{ alias }}.*))
{%- endmacro %}


{#- string_agg(expr, sep order by expr): Spark has no ordered string_agg. -#}
{% macro ordered_string_agg(expr, separator) -%}
    {{ return(adapter.dispatch('ordered_string_agg')(expr, separator)) }}
{%- endmacro %}

{% macro default__ordered_string_agg(expr, separator) -%}
    string_agg({{ expr }}, {{ separator }} order by {{ expr }})
{%- endmacro %}

{% macro spark__ordered_string_agg(expr, separator) -%}
    concat_ws({{ separator }}, array_sort(collect_list({{ expr }})))
{%- endmacro %}


{#- `name as {{ inline_cte() }} (`: a CTE the query reads more than once, read again from its
    sources by each reader. DuckDB materializes such a CTE whole by default (every row and
    column held before anything is filtered). `not materialized` is DuckDB's (and
    Postgres') keyword, so the default adds nothing: Spark has no such keyword, its
    optimizer decides. -#}
{% macro inline_cte() -%}
    {{ return(adapter.dispatch('inline_cte', 'agent_resource_warehouse')()) }}
{%- endmacro %}

{% macro default__inline_cte() -%}
{%- endmacro %}

{% macro duckdb__inline_cte() -%}
    not materialized
{%- endmacro %}
