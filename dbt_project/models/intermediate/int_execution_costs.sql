-- Every cost of an execution, computed once: tokens x the model price in force at the
-- execution's start, resource use x the compute rate card. The price version used is
-- kept (price_valid_from, and price_source: 'genai-prices' catalog or 'override' seed) so a
-- past month re-prices the same tomorrow unless a price for it changed.
-- (logic in macros/execution_costs.sql, shared with the incremental fct_resource_utilization)
{{ execution_costs() }}
