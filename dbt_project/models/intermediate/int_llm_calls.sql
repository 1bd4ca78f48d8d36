-- Canonical LLM calls from every call log: the platform's gateway log, LiteLLM spend logs
-- and OpenTelemetry GenAI spans, each mapped onto disjoint token buckets (uncached input,
-- cache read, cache write, output; reasoning is part of output). One row per call_id: a
-- call present in more than one log keeps the platform's record, then LiteLLM's, then
-- OTel's, so nothing is counted twice. Agents are resolved through the agents seed.
-- (logic in macros/canonical_llm_calls.sql, shared with the incremental fct_llm_calls)
{{ canonical_llm_calls() }}
