{{ config(materialized=('table' if target.type == 'spark' else 'incremental'), incremental_strategy='replace_days', unique_key='usage_month', on_schema_change='fail', rebuild_scope='usage', rebuild_grain='month') }}
-- Incremental by calendar month (see macros/incremental.sql): a windowed run recomputes every
-- month holding a day of int_rebuild_days whose usage changes, from all that month's calls
-- (rebuild_grain 'month': percentiles cannot be added up from days), and replaces it.
-- depends_on: {{ ref('int_rebuild_days') }}
-- External API usage per workspace x agent x endpoint x calendar month, with percentiles
-- computed exactly over the month's calls; the retry counts are the month's days' summed
-- (see the macro's retries_from).
{{ api_usage_rollup("cast(" ~ dbt.date_trunc('month', 'usage_date') ~ " as date)", 'usage_month', windowed=is_windowed(),
                    retries_from=ref('mart_api_usage_daily')) }}
