{{ config(materialized=('table' if target.type == 'spark' else 'incremental'), incremental_strategy='replace_days', unique_key='usage_date', on_schema_change='fail', rebuild_scope='usage') }}
-- Incremental by event day (see macros/incremental.sql): a windowed run replaces the days in int_rebuild_days
-- whose usage changes (rebuild_scope 'usage': this model reads no cloud bill and no GPU samples).
-- depends_on: {{ ref('int_rebuild_days') }}
-- External API usage per workspace x agent x endpoint x day. Percentiles are exact over
-- the day's calls (DuckDB quantile_cont); for another period use mart_api_usage_monthly or
-- the table macro marts.api_usage_for_period(start_date, end_date), which compute them
-- over that period's calls rather than averaging daily percentiles.
{{ api_usage_rollup('usage_date', 'usage_date', windowed=is_windowed()) }}
