-- External API usage per workspace x agent x endpoint x calendar month, with percentiles
-- computed exactly over the month's calls.
{{ api_usage_rollup("cast(" ~ dbt.date_trunc('month', 'usage_date') ~ " as date)", 'usage_month') }}
