-- Canonical external API calls: one row per request_id.
-- (logic in macros/canonical_api_calls.sql, shared with the incremental fct_api_calls)
{{ canonical_api_calls() }}
