{#- Incremental builds by event day.

    A run processes a window of days when it is given one: vars min_date / max_date (the
    Dagster run's partition range; `--vars '{"min_date": "2026-11-13", "max_date": "2026-11-13"}'`),
    widened backwards by lookback_days (var, else env DBT_LOOKBACK_DAYS, default 3) for late
    data. int_rebuild_days turns that window into the exact set of event days to rebuild (see
    there), and every incremental model replaces exactly those days (strategy replace_days).
    Without min_date/max_date (plain `dbt build`, first run, --full-refresh) every model is
    rebuilt from all history. -#}

{% macro incremental_window() %}
    {%- set min_date = var('min_date', none) -%}
    {%- set max_date = var('max_date', none) -%}
    {%- if min_date in (none, '') or max_date in (none, '') -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if target.type == 'spark' -%}
        {{ exceptions.raise_compiler_error("incremental windows (min_date/max_date) are for the DuckDB target; on Spark every model is rebuilt whole: run without them") }}
    {%- endif -%}
    {%- set lookback = var('lookback_days', env_var('DBT_LOOKBACK_DAYS', '3')) | int -%}
    {%- if lookback < 0 -%}
        {{ exceptions.raise_compiler_error("lookback_days must be >= 0, got " ~ lookback) }}
    {%- endif -%}
    {%- set first = modules.datetime.date.fromisoformat(min_date | string) -%}
    {%- set last = modules.datetime.date.fromisoformat(max_date | string) -%}
    {%- if last < first -%}
        {{ exceptions.raise_compiler_error("max_date " ~ last ~ " is before min_date " ~ first) }}
    {%- endif -%}
    {{ return({
        'start': (first - modules.datetime.timedelta(days=lookback)).isoformat(),
        'end': last.isoformat(),
        'min_date': first.isoformat(),
        'lookback_days': lookback,
    }) }}
{% endmacro %}


{#- The project's incremental models (graph nodes). -#}
{% macro incremental_model_nodes() %}
    {{ return(graph.nodes.values() | selectattr('resource_type', 'equalto', 'model')
        | selectattr('config.materialized', 'equalto', 'incremental') | list) }}
{% endmacro %}


{#- True when some incremental model of the project already has its table and this is no
    --full-refresh run: only then can a model of this run be windowed. The first build of a
    warehouse (or a --full-refresh) rebuilds every model whole, window or not, so
    int_rebuild_days need not list any day: at 10M calls, listing the 90 days of a first
    Dagster backfill took 15-20 s of a build that used none of it. -#}
{% macro any_incremental_model_built() %}
    {%- if not execute or flags.FULL_REFRESH -%}
        {{ return(false) }}
    {%- endif -%}
    {%- for node in incremental_model_nodes() -%}
        {%- if adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias) is not none -%}
            {{ return(true) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(false) }}
{% endmacro %}


{#- True when this model should process only the rebuild days: the table exists, no
    --full-refresh, and the run was given a window. -#}
{% macro is_windowed() %}
    {#- a unit test without an is_incremental override has no `this`: a full build -#}
    {%- if incremental_window() is none or this is none -%}
        {{ return(false) }}
    {%- endif -%}
    {%- if not is_incremental() -%}
        {{ return(false) }}
    {%- endif -%}
    {%- if execute -%}
        {#- int_rebuild_days must have been built for this run's window (a `dbt build -s
            some_mart --vars ...` without it would replace the days of an older run) -#}
        {%- set w = incremental_window() -%}
        {%- set check = run_query("select count(*) from " ~ ref('int_rebuild_days')
            ~ " where window_start = date '" ~ w.start ~ "' and window_end = date '" ~ w.end ~ "'") -%}
        {%- if check.columns[0].values()[0] == 0 -%}
            {{ exceptions.raise_compiler_error(
                "int_rebuild_days was not built for the window " ~ w.start ~ " .. " ~ w.end
                ~ " of this run: include it in the selection (e.g. -s +int_rebuild_days+ or "
                ~ "-s int_rebuild_days " ~ model.name ~ "), or run without min_date/max_date to rebuild whole") }}
        {%- endif -%}
    {%- endif -%}
    {{ return(true) }}
{% endmacro %}


{#- A model's rebuild scope (config rebuild_scope): 'all' (default) rebuilds every day of
    int_rebuild_days; 'usage' only the days whose usage rows change (rebuilds_usage), for
    models that read no cloud bill and no GPU samples. -#}
{% macro rebuild_scope(scope=none) -%}
    {%- set scope = scope or config.get('rebuild_scope', 'all') -%}
    {%- if scope not in ('all', 'usage') -%}
        {{ exceptions.raise_compiler_error("rebuild_scope must be 'all' or 'usage', got " ~ scope) }}
    {%- endif -%}
    {{ return(scope) }}
{%- endmacro %}


{#- The days this run rebuilds in the model's scope (or the given one), as a subquery (only
    meaningful when is_windowed()). A model that rolls up by calendar month (config
    rebuild_grain='month') gets every day of each month holding a rebuild day: its rows
    are whole months, so a month is recomputed from all its days and replaced (its key,
    the month's first day, is one of them). -#}
{% macro rebuild_days(scope=none) -%}
    {%- set grain = config.get('rebuild_grain', 'day') -%}
    {%- if grain not in ('day', 'month') -%}
        {{ exceptions.raise_compiler_error("rebuild_grain must be 'day' or 'month', got " ~ grain) }}
    {%- endif -%}
    {%- set days -%}
    select usage_date from {{ ref('int_rebuild_days') }}
    {%- if rebuild_scope(scope) == 'usage' %} where rebuilds_usage{% endif %}
    {%- endset -%}
    {%- if grain == 'day' -%}
    ({{ days }})
    {%- else -%}
    (select cast(month_day as date) from (
        select distinct cast({{ dbt.date_trunc('month', 'usage_date') }} as date) as month_start from ({{ days }}) as rebuild
    ) as months, generate_series(month_start, month_start + interval 1 month - interval 1 day, interval 1 day) as days(month_day))
    {%- endif -%}
{%- endmacro %}


{#- The keys (a query, an execution) with a row of `relation` on a rebuild day, as a subquery:
    a model that aggregates per key reads every row of these keys, not only the rebuild days'. -#}
{% macro keys_on_rebuild_days(relation, key) -%}
    (select {{ key }} from {{ relation }} where {{ key }} is not null and usage_date in {{ rebuild_days() }})
{%- endmacro %}


{#- `where`/`and` fragment restricting an event-day column to the rebuild days. -#}
{% macro in_rebuild_days(column, scope=none) -%}
    {%- if is_windowed() -%} {{ column }} in {{ rebuild_days(scope) }} {%- else -%} true {%- endif -%}
{%- endmacro %}


{#- Custom incremental strategy (dbt resolves get_incremental_<name>_sql): delete+insert
    keyed on the event day, but the delete takes every rebuild day as well as the days the new
    rows fall on, so a day whose rows all moved or vanished is emptied too, and a model may
    recompute more days than the rebuild days (rolling windows). unique_key is the
    day column (or an expression giving it, e.g. cast(minute_start as date)). The rebuild
    days are those of the model's rebuild_scope; a model mixing rows of both scopes names
    the rows replaced on every rebuild day with config all_days_rows (a predicate), and the
    other rows follow its rebuild_scope. Without a window it replaces the whole table. -#}
{% macro get_incremental_replace_days_sql(arg_dict) %}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set day_expr = arg_dict['unique_key'] -%}
    {%- if not day_expr -%}
        {{ exceptions.raise_compiler_error("incremental_strategy replace_days needs unique_key = the event-day column") }}
    {%- endif -%}
    {%- set dest_cols_csv = get_quoted_csv(arg_dict['dest_columns'] | map(attribute="name")) -%}
    {%- if incremental_window() is none %}
    delete from {{ target }};
    {%- else %}
    {#- row groups and the days each is replaced on: with all_days_rows, those rows on every
        rebuild day and the rest on the model's scope; without, every row on the model's scope -#}
    {%- set all_days_rows = config.get('all_days_rows') %}
    {%- set groups = [('coalesce(' ~ all_days_rows ~ ', false)', 'all'), ('not coalesce(' ~ all_days_rows ~ ', false)', none)]
        if all_days_rows else [('true', none)] %}
    delete from {{ target }}
    where {% for rows, scope in groups %}{% if not loop.first %}
        or {% endif %}({{ rows }}
            and ({{ day_expr }} in {{ rebuild_days(scope) }}
                or {{ day_expr }} in (select distinct {{ day_expr }} from {{ arg_dict['temp_relation'] }} where {{ rows }})))
    {%- endfor %};
    {%- endif %}
    insert into {{ target }} ({{ dest_cols_csv }})
    select {{ dest_cols_csv }} from {{ arg_dict['temp_relation'] }}
{% endmacro %}


{#- on-run-end: after a run that built every incremental model and no model failed, remember the
    reference-data fingerprint (int_reference_fingerprint) the models were built with, so the
    next windowed run can tell whether seeds or prices changed (then it rebuilds every day). -#}
{% macro record_incremental_state(results) %}
    {#- Spark rebuilds every model whole (they are tables there): no state to keep -#}
    {%- if not execute or target.type == 'spark' -%}{{ return('') }}{%- endif -%}
    {%- set models = results | selectattr('node.resource_type', 'equalto', 'model') | list -%}
    {%- set failed = models | rejectattr('status', 'equalto', 'success') | list -%}
    {%- set built = models | selectattr('node.config.materialized', 'equalto', 'incremental')
        | selectattr('status', 'equalto', 'success') | map(attribute='node.unique_id') | list -%}
    {%- set incremental = incremental_model_nodes() | map(attribute='unique_id') | list -%}
    {%- set fingerprint = adapter.get_relation(database=target.database, schema='intermediate', identifier='int_reference_fingerprint') -%}
    {#- only a run that rebuilt every incremental model without error -#}
    {%- if failed | length > 0 or fingerprint is none or (incremental | reject('in', built) | list | length) > 0 -%}
        {{ return('') }}
    {%- endif -%}
    create or replace table {{ fingerprint.incorporate(path={'identifier': 'incremental_state'}) }} as
    select reference_fingerprint from {{ fingerprint }}
{% endmacro %}
