-- Canonical executions: one row per execution_id. An execution delivered in more than
-- one export (overlapping exports) keeps the copy from the first file by name and line,
-- which does not depend on the order files arrived in.
-- (logic in macros/canonical_executions.sql, shared with the incremental fct_resource_utilization)
{{ canonical_executions() }}
