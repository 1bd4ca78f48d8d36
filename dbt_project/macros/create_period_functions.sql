{#- DuckDB table macros for figures that must be computed over an arbitrary period
    (percentiles cannot be averaged across days). Created after every dbt run:
      select * from marts.api_usage_for_period(date '2026-10-20', date '2026-11-05')
-#}
{% macro create_period_functions() %}
{% if execute and target.type == 'duckdb' %}
create schema if not exists marts;
create or replace macro marts.api_usage_for_period(start_date, end_date) as table
    select
        workspace_id,
        agent_id,
        endpoint,
        min(usage_date) as first_day,
        max(usage_date) as last_day,
        count(*) as total_calls,
        count(*) filter (where is_success) as successful_calls,
        count(*) filter (where not is_success) as failed_calls,
        count(*) filter (where is_rate_limited) as rate_limited_calls,
        avg(latency_ms) as avg_latency_ms,
        quantile_cont(latency_ms, 0.95) as p95_latency_ms,
        quantile_cont(latency_ms, 0.99) as p99_latency_ms,
        sum(cost_usd) as total_cost,
        sum(cost_usd) filter (where not is_success) as wasted_cost
    from marts.fct_api_calls
    where usage_date between start_date and end_date
    group by all;
{% endif %}
{% endmacro %}
