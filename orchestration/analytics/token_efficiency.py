"""Token distribution and efficiency metrics; prompt-cache and response-cache findings.

Model sizing (a smaller model of the same provider meeting the same success rate) is
`cost_optimization.model_selection`.
"""

import pandas as pd

from orchestration.analytics.findings import finding
from orchestration.analytics.frames import group_quantile

MIN_RESPONSE_CACHE_HIT_RATE = 0.20


def token_distribution(calls: pd.DataFrame) -> pd.DataFrame:
    """Per agent x model: calls, input / uncached / cached / output tokens, their shares, and
    p50 / p90 / p99 of per-call total tokens."""
    df = calls[["workspace_id", "agent_id", "model", "input_tokens", "uncached_input_tokens", "cached_input_tokens",
                "output_tokens", "total_tokens"]]
    q = df.groupby(["workspace_id", "agent_id", "model"])["total_tokens"].quantile([0.5, 0.9, 0.99]).unstack()
    q.columns = ["p50_tokens_per_call", "p90_tokens_per_call", "p99_tokens_per_call"]
    g = df.groupby(["workspace_id", "agent_id", "model"]).agg(
        calls=("total_tokens", "size"), input_tokens=("input_tokens", "sum"),
        uncached_input_tokens=("uncached_input_tokens", "sum"), cached_input_tokens=("cached_input_tokens", "sum"),
        output_tokens=("output_tokens", "sum"), total_tokens=("total_tokens", "sum")).join(q).reset_index()
    g["cached_share_of_input"] = (g["cached_input_tokens"] / g["input_tokens"].where(g["input_tokens"] > 0)).round(6)
    g["output_share"] = (g["output_tokens"] / g["total_tokens"].where(g["total_tokens"] > 0)).round(6)
    return g


def token_efficiency_metrics(executions: pd.DataFrame) -> pd.DataFrame:
    """Per agent: tokens per successful task, output/input ratio, context-window utilization
    (mean and p95 of context_window_used / context_window_tokens), prompt-cache hit share."""
    ex = executions.copy(deep=False)  # copy-on-write: new columns stay in this frame, no 4M-row copy
    ex["ok"] = ex["status"].eq("success")
    ex["ctx_util"] = ex["context_window_used"] / ex["context_window_tokens"].where(ex["context_window_tokens"] > 0)
    g = ex.groupby(["workspace_id", "agent_id"]).agg(
        executions=("ok", "size"), successful=("ok", "sum"), total_tokens=("total_tokens", "sum"),
        input_tokens=("input_tokens", "sum"), output_tokens=("output_tokens", "sum"),
        prompt_cache_hits=("prompt_cache_hits", "sum"), context_utilization_mean=("ctx_util", "mean"))
    g["context_utilization_p95"] = group_quantile(ex, ["workspace_id", "agent_id"], "ctx_util", 0.95)
    g = g.reset_index()
    g["tokens_per_successful_task"] = (g["total_tokens"] / g["successful"].where(g["successful"] > 0)).round(3)
    g["output_input_ratio"] = (g["output_tokens"] / g["input_tokens"].where(g["input_tokens"] > 0)).round(6)
    g["cache_hit_share"] = (g["prompt_cache_hits"] / g["input_tokens"].where(g["input_tokens"] > 0)).round(6)
    return g


def prompt_cache_findings(cache: pd.DataFrame, period: str, ttl_minutes: float) -> list[dict]:
    """One finding per agent with a positive net prompt-cache saving (output of
    prompt_cache.fingerprint_prefix_cache, summed over the agent's models)."""
    g = cache.groupby(["workspace_id", "agent_id"], as_index=False).agg(
        input_tokens=("input_tokens", "sum"), cacheable_tokens=("cacheable_tokens", "sum"),
        redundant=("redundant_prefix_tokens", "sum"), already=("already_cached_tokens", "sum"),
        saving=("saving_in_window_usd", "sum"), monthly_saving_usd=("monthly_saving_usd", "sum"))
    return [finding("token_optimization", "prompt_cache", "agent", r.agent_id,
                    f"{r.cacheable_tokens:,} of {r.input_tokens:,} input tokens ({r.cacheable_tokens / r.input_tokens:.1%}) "
                    f"repeat a prompt prefix sent within {ttl_minutes:g} min; {r.already:,} were served from cache, "
                    f"{r.redundant:,} re-sent uncached; net saving ${r.saving:.4f} in the window",
                    period, r.monthly_saving_usd,
                    "shared prefix = the smallest prompt of its fingerprint (>= 1,024 tokens); hits within the TTL are "
                    "read at the cache-read price, misses pay the cache-write premium (reference.model_prices)",
                    "low", workspace_id=r.workspace_id)
            for r in g.itertuples() if r.monthly_saving_usd > 0]


def response_cache_findings(dups: pd.DataFrame, period: str,
                            min_hit_rate: float = MIN_RESPONSE_CACHE_HIT_RATE) -> list[dict]:
    """Findings for agents whose exact-duplicate LLM calls exceed `min_hit_rate`."""
    return [finding("token_optimization", "response_cache", "agent", r.agent_id,
                    f"{r.duplicate_calls} of {r.calls} LLM calls ({r.hit_rate:.1%}) repeat a successful identical "
                    f"request (fingerprint, model, input size) within 24 h; ${r.duplicate_cost_usd:.4f} in the window",
                    period, r.monthly_saving_usd, "a response cache serves each repeat at no token cost",
                    "medium", workspace_id=r.workspace_id)
            for r in dups.itertuples() if r.hit_rate > min_hit_rate]


__all__ = ["token_distribution", "token_efficiency_metrics", "prompt_cache_findings", "response_cache_findings"]
