-- Retry chains: the attempts of one logical request (same execution, endpoint and
-- request fingerprint; attempt 0 is the first try). A chain "was retried" when it has an
-- attempt > 0, and "eventually succeeded" when its last attempt succeeded.
-- (logic in macros/api_retry_chains.sql, shared with the incremental mart_api_usage_daily)
{{ api_retry_chains() }}
