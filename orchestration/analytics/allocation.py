"""Dynamic allocation per agent: compute tier, primary / fallback model and switch
conditions, scaling policy, caching, and performance targets, all from its history."""

import math

import numpy as np
import pandas as pd

from orchestration.analytics.frames import first_max, records_by

TIERS = [  # (tier, max cores, max memory MB); GPU work is at least 'performance'
    ("economy", 1.0, 2048),
    ("standard", 2.0, 4096),
    ("performance", 4.0, 16384),
    ("premium", float("inf"), float("inf")),
]


def tier_for(cores: float, memory_mb: float, gpus: int) -> str:
    for name, c, m in TIERS:
        if cores <= c and memory_mb <= m and (gpus == 0 or name in ("performance", "premium")):
            return name
    return "premium"


def dynamic_allocation(executions: pd.DataFrame, calls: pd.DataFrame, agents: pd.DataFrame, sizing: pd.DataFrame,
                       scaling: pd.DataFrame, models: pd.DataFrame, gpu_idle: set[str] = frozenset(),
                       idle: set[str] = frozenset()) -> pd.DataFrame:
    """One row per agent.

    - tier: the smallest tier holding the rightsized allocation (GPU kept unless idle);
      'economy' for an idle agent (too few executions to size it; it scales to zero);
    - primary model: the recommended cheaper model where one passed the success/quality
      gate on most of the agent's executions, else the model it runs most; fallback: the
      agent's other observed model of the same provider, else the primary; switch to the
      fallback when the primary's error rate over 15 min exceeds twice its observed rate
      (at least 5%) or its p95 latency exceeds 1.5 x the observed p95;
    - scaling: min / max instances, thresholds, cooldown (cost_optimization.autoscaling_policy);
    - caching: prompt cache on with a 5 min TTL when the agent repeats prefixes; response
      cache size = p95 cache_size_mb x 1.25, TTL 24 h;
    - targets: max latency = p95 execution duration x 1.2, min success rate = observed - 2
      points (floor 0.9 when observed above it), max cost per execution = p95 cost.
    """
    # only the columns used (10M calls, 4M executions); percentiles by pandas' grouped quantile,
    # not a Series.quantile per group (the same linear interpolation, ~10x faster)
    ex = executions[["agent_id", "status", "execution_duration_ms", "total_cost", "cache_size_mb", "model_name"]].copy()
    ex["ok"] = ex["status"].eq("success")
    ex["total_cost"] = ex["total_cost"].astype(float)
    by_agent = ex.groupby("agent_id")
    hist = by_agent.agg(executions=("ok", "size"), success_rate=("ok", "mean"),
                        main_model=("model_name", lambda s: s.value_counts().idxmax()))
    p95 = by_agent[["execution_duration_ms", "total_cost", "cache_size_mb"]].quantile(0.95)
    hist = hist.assign(p95_duration_ms=p95["execution_duration_ms"], p95_cost=p95["total_cost"],
                       p95_cache_mb=p95["cache_size_mb"]).reset_index()
    cl = calls[["agent_id", "provider", "model", "is_success", "latency_ms"]].copy()
    cl["err"] = ~cl["is_success"].astype(bool)
    by_model = cl.groupby(["agent_id", "provider", "model"])
    per_model = by_model.agg(n=("err", "size"), error_rate=("err", "mean")).assign(
        p95_latency_ms=by_model["latency_ms"].quantile(0.95)).reset_index()
    rec = models[models["status"].eq("recommended")] if not models.empty else models
    # each frame split by agent once, into records: filtering (and sorting) a small frame per
    # agent and frame cost ~7 s at 2,000 agents
    hist_of, sizing_of, scaling_of, rec_of, per_model_of = (
        records_by(f, "agent_id") for f in (hist, sizing, scaling, rec, per_model))
    out = []
    for a in agents.itertuples():
        h = hist_of(a.agent_id)
        s = sizing_of(a.agent_id)
        sc = scaling_of(a.agent_id)
        cores = float(s[0]["recommended_cpu_cores"]) if s else a.allocated_cpu_cores
        mem = float(s[0]["recommended_memory_mb"]) if s else a.allocated_memory_mb
        gpus = 0 if a.agent_id in gpu_idle else int(a.allocated_gpus)
        row = {"agent_id": a.agent_id, "workspace_id": a.workspace_id, "current_tier": a.compute_tier,
               "recommended_tier": "economy" if a.agent_id in idle else tier_for(cores, mem, gpus), "cpu_cores": cores, "memory_mb": mem, "gpus": gpus}
        if not h:
            row.update({"primary_model": a.primary_model, "fallback_model": a.primary_model,
                        "switch_condition": "no history", "min_instances": 0, "max_instances": 1,
                        "scale_out_cpu_pct": 70, "scale_in_cpu_pct": 30, "cooldown_s": 300,
                        "prompt_cache": "off", "response_cache_mb": 0.0, "response_cache_ttl_h": 0,
                        "max_latency_ms": None, "min_success_rate": None, "max_cost_per_execution_usd": None})
            out.append(row)
            continue
        h = h[0]
        primary = h["main_model"]
        r = rec_of(a.agent_id)
        if r and sum(x["executions"] for x in r) >= 0.5 * h["executions"]:
            primary = first_max(r, "monthly_saving_usd")["candidate_model"]  # ties: the first listed
        pm = per_model_of(a.agent_id)
        prov = {x["provider"] for x in pm if x["model"] == primary}
        # the same provider's other model with the most calls
        others = first_max([x for x in pm if x["model"] != primary and x["provider"] in prov], "n")
        fallback = others["model"] if others else primary
        pr = [x for x in pm if x["model"] == primary]
        err = float(pr[0]["error_rate"]) if pr else float(pd.Series([x["error_rate"] for x in pm], dtype=float).mean())
        lat = float(pr[0]["p95_latency_ms"]) if pr else float(pd.Series([x["p95_latency_ms"] for x in pm], dtype=float).max())
        # numpy's float, as the frame held it: round() of one rounds as numpy does
        success = np.float64(h["success_rate"])
        row.update({
            "primary_model": primary, "fallback_model": fallback,
            "switch_condition": (f"error rate over 15 min > {max(2 * err, 0.05):.1%} or p95 latency > {1.5 * lat:,.0f} ms"
                                 if fallback != primary else "no fallback of the same provider observed; alert instead"),
            "min_instances": int(sc[0]["min_instances"]) if sc else 1,
            "max_instances": int(sc[0]["max_instances"]) if sc else 1,
            "scale_out_cpu_pct": 70, "scale_in_cpu_pct": 30,
            "cooldown_s": int(sc[0]["cooldown_s"]) if sc else 300,
            "prompt_cache": "on, 5 min TTL",
            "response_cache_mb": round(float(h["p95_cache_mb"] or 0) * 1.25, 3) if pd.notna(h["p95_cache_mb"]) else 0.0,
            "response_cache_ttl_h": 24,
            "max_latency_ms": int(math.ceil(h["p95_duration_ms"] * 1.2)),
            "min_success_rate": round(max(min(0.9, success), success - 0.02), 4),
            "max_cost_per_execution_usd": round(float(h["p95_cost"]), 6),
        })
        out.append(row)
    return pd.DataFrame(out)
