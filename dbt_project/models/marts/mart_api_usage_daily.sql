-- External API usage per workspace x agent x endpoint x day. Percentiles are exact over
-- the day's calls (DuckDB quantile_cont); for another period use mart_api_usage_monthly or
-- the table macro marts.api_usage_for_period(start_date, end_date), which compute them
-- over that period's calls rather than averaging daily percentiles.
{{ api_usage_rollup('usage_date', 'usage_date') }}
