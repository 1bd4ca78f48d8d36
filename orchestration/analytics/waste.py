"""Waste: idle agents, oversized allocations, idle GPUs (executions and nvidia-smi
telemetry), failed-execution cost, unused cached data; totals and an elimination plan.

Capacity is priced as in cost_optimization (one warm instance of the allocation all month).
"""

import pandas as pd

from orchestration.analytics.cost_optimization import HOURS_PER_MONTH, standing_cost_per_month
from orchestration.analytics.findings import Window, finding, monthly, usd
from orchestration.analytics.frames import group_quantile

IDLE_MAX_EXECUTIONS_PER_DAY = 1.0
GPU_IDLE_UTIL_PCT = 10.0           # p95 GPU utilization at or below this: the GPU is idle
HIGH_FAILURE_RATE = 0.10           # failed + timed-out executions above 10% ...
HIGH_FAILURE_X_MEDIAN = 2.0        # ... and above twice the fleet's median failure rate


def idle_agents(executions: pd.DataFrame, agents: pd.DataFrame, rates: dict,
                max_per_day: float = IDLE_MAX_EXECUTIONS_PER_DAY, window: Window | None = None
                ) -> tuple[pd.DataFrame, list[dict]]:
    """Agents with fewer than `max_per_day` executions per day on average over the window
    (zero included): their warm instance sits idle. Saving = the allocation held all month
    (scale to zero; start on demand). window: the executions' (default: of this frame)."""
    window = window or Window.of(executions["usage_date"])
    days, period = window.days, window.period
    n = executions.groupby("agent_id").size()
    df = agents.copy()
    df["executions"] = df["agent_id"].map(n).fillna(0).astype(int)
    df["executions_per_day"] = (df["executions"] / days).round(6)
    df["standing_monthly_usd"] = standing_cost_per_month(df["allocated_cpu_cores"], df["allocated_memory_mb"],
                                                         df["allocated_gpus"], rates).round(6)
    df["idle"] = df["executions_per_day"] < max_per_day
    rows = [finding("waste", "idle_agent", "agent", r.agent_id,
                    f"{r.executions} executions in {days} days ({r.executions_per_day:.2f}/day) with "
                    f"{r.allocated_cpu_cores:g} cores, {r.allocated_memory_mb:g} MB, {r.allocated_gpus} GPU allocated",
                    period, r.standing_monthly_usd,
                    "the agent keeps one warm instance of its allocation all month (min_instances = 1) at the rate "
                    "card; scaling it to zero (cold start on demand) removes it", "low", workspace_id=r.workspace_id)
            for r in df.itertuples() if r.idle]
    return df, rows


def oversized_agents(sizing: pd.DataFrame, exclude: set[str] = frozenset(), period: str = "") -> list[dict]:
    """Findings for rightsizing rows flagged oversized (output of cost_optimization.rightsizing)."""
    return [finding("waste", "oversized_allocation", "agent", r.agent_id,
                    f"p95 peak use {r.cpu_peak_cores_q:.2f} cores / {r.memory_peak_mb_q:.0f} MB against "
                    f"{r.allocated_cpu_cores:g} cores / {r.allocated_memory_mb:g} MB allocated over {r.executions} "
                    f"executions; recommended {r.recommended_cpu_cores:g} cores / {r.recommended_memory_mb:g} MB",
                    period, r.monthly_saving_usd,
                    "Kubecost's method: p95 of per-execution peak / 65% target utilization, rounded up; the "
                    "difference is held all month by the warm instance, priced at the rate card", "low",
                    workspace_id=r.workspace_id)
            for r in sizing.itertuples() if r.oversized and r.agent_id not in exclude]


def gpu_waste_from_executions(executions: pd.DataFrame, agents: pd.DataFrame, rates: dict,
                              idle_util_pct: float = GPU_IDLE_UTIL_PCT, exclude: set[str] = frozenset(),
                              window: Window | None = None) -> tuple[pd.DataFrame, list[dict]]:
    """Agents with allocated GPUs whose executions' p95 GPU utilization is at or below
    `idle_util_pct`: the allocated GPUs are idle; saving = the GPUs held all month
    (move the work to CPU or a shared / fractional GPU)."""
    period = (window or Window.of(executions["usage_date"])).period
    g = executions.groupby("agent_id").agg(
        mean_gpu_util_pct=("gpu_usage_percent", "mean"),
        gpu_compute_units=("gpu_compute_units", lambda s: float(s.astype(float).sum())))
    g.insert(1, "p95_gpu_util_pct", group_quantile(executions, "agent_id", "gpu_usage_percent", 0.95))
    g = g.reset_index()
    df = agents[agents["allocated_gpus"] > 0][["agent_id", "workspace_id", "allocated_gpus"]].merge(g, on="agent_id", how="left")
    df["gpu_monthly_usd"] = (df["allocated_gpus"] * rates["gpu_hour"] * HOURS_PER_MONTH).round(6)
    df["idle_gpu"] = df["p95_gpu_util_pct"].fillna(0) <= idle_util_pct
    rows = [finding("waste", "idle_gpu", "agent", r.agent_id,
                    f"{r.allocated_gpus} GPU allocated; GPU utilization over its executions: mean "
                    f"{(r.mean_gpu_util_pct if pd.notna(r.mean_gpu_util_pct) else 0):.1f}%, p95 "
                    f"{(r.p95_gpu_util_pct if pd.notna(r.p95_gpu_util_pct) else 0):.1f}%", period, r.gpu_monthly_usd,
                    f"the GPU is held all month at ${rates['gpu_hour']}/GPU-hour; at this utilization the work fits "
                    "on CPU or a shared / fractional GPU", "medium", workspace_id=r.workspace_id)
            for r in df.itertuples() if r.idle_gpu and r.agent_id not in exclude]
    return df, rows


def find_idle_gpus(samples: pd.DataFrame, usd_per_gpu_hour: float, idle_util_pct: float = GPU_IDLE_UTIL_PCT,
                   ) -> pd.DataFrame:
    """Per GPU (host, gpu_uuid) in nvidia-smi telemetry: samples, hours observed, mean and
    p95 utilization, memory and power, the observed cost (hours x rate) and the monthly
    cost of holding it; `idle` when the p95 GPU utilization is at or below `idle_util_pct`;
    `monthly_saving_usd` = the monthly cost for idle GPUs (release or consolidate), else 0.

    samples: sampled_at, host, gpu_index, gpu_uuid, gpu_name, utilization_gpu_pct,
    memory_used_mib, memory_total_mib, power_draw_w."""
    cols = ["host", "gpu_index", "gpu_uuid", "gpu_name", "samples", "first_sample", "last_sample", "hours_observed",
            "mean_util_pct", "p95_util_pct", "mean_memory_used_pct", "mean_power_w", "observed_cost_usd",
            "monthly_cost_usd", "idle", "monthly_saving_usd"]
    if samples.empty:
        return pd.DataFrame(columns=cols)
    s = samples.copy(deep=False)  # copy-on-write: new columns stay in this frame
    s["sampled_at"] = pd.to_datetime(s["sampled_at"])
    s["mem_pct"] = s["memory_used_mib"].astype(float) / s["memory_total_mib"].astype(float) * 100
    g = s.groupby(["host", "gpu_uuid"], as_index=False).agg(
        gpu_index=("gpu_index", "first"), gpu_name=("gpu_name", "first"), samples=("sampled_at", "size"),
        first_sample=("sampled_at", "min"), last_sample=("sampled_at", "max"),
        mean_util_pct=("utilization_gpu_pct", "mean"),
        mean_memory_used_pct=("mem_pct", "mean"), mean_power_w=("power_draw_w", "mean"))
    # both in group order (sorted keys)
    g.insert(list(g.columns).index("mean_util_pct") + 1, "p95_util_pct",
             group_quantile(s, ["host", "gpu_uuid"], "utilization_gpu_pct", 0.95).to_numpy())
    g["hours_observed"] = ((g["last_sample"] - g["first_sample"]).dt.total_seconds() / 3600).round(6)
    g["observed_cost_usd"] = (g["hours_observed"] * usd_per_gpu_hour).round(6)
    g["monthly_cost_usd"] = round(usd_per_gpu_hour * HOURS_PER_MONTH, 6)
    g["idle"] = g["p95_util_pct"] <= idle_util_pct
    g["monthly_saving_usd"] = g["monthly_cost_usd"].where(g["idle"], 0.0)
    return g[cols].sort_values(["host", "gpu_index"]).reset_index(drop=True)


def idle_gpu_findings(gpus: pd.DataFrame, usd_per_gpu_hour: float) -> list[dict]:
    return [finding("waste", "idle_gpu", "gpu", f"{r.host}/{r.gpu_uuid}",
                    f"{r.gpu_name} #{r.gpu_index}: GPU utilization mean {r.mean_util_pct:.1f}%, p95 {r.p95_util_pct:.1f}%, "
                    f"memory {r.mean_memory_used_pct:.1f}% used, {r.mean_power_w:.0f} W over {r.samples} samples "
                    f"({r.hours_observed:.2f} h)", f"{r.first_sample}..{r.last_sample}", r.monthly_saving_usd,
                    f"the GPU stays provisioned all month at ${usd_per_gpu_hour}/GPU-hour; release it or pack its "
                    "work onto a busy GPU", "medium")
            for r in gpus.itertuples() if r.idle]


def failed_execution_cost(executions: pd.DataFrame, min_rate: float = HIGH_FAILURE_RATE,
                          x_median: float = HIGH_FAILURE_X_MEDIAN) -> tuple[pd.DataFrame, list[dict]]:
    """Per agent: failed and timed-out executions and what they cost (total_cost). A finding
    when the failure rate is above `min_rate` and above `x_median` x the fleet median;
    saving = the cost of the failures above the fleet median rate (the normal rate stays)."""
    return failure_findings(failure_counts(executions), Window.of(executions["usage_date"]), min_rate, x_median)


def failure_counts(executions: pd.DataFrame) -> pd.DataFrame:
    """Per workspace x agent (in that order): executions, failures and their cost, each
    agent's from its own executions (the per-agent half of failed_execution_cost)."""
    ex = executions.copy(deep=False)  # copy-on-write: new columns stay in this frame, no 4M-row copy
    ex["failed"] = ~ex["status"].eq("success")
    ex["cost"] = ex["total_cost"].astype(float)
    ex["failed_cost"] = ex["cost"].where(ex["failed"], 0.0)
    return ex.groupby(["workspace_id", "agent_id"], as_index=False).agg(
        executions=("failed", "size"), failures=("failed", "sum"), failed_cost_usd=("failed_cost", "sum"))


def failure_findings(counts: pd.DataFrame, window: Window, min_rate: float = HIGH_FAILURE_RATE,
                     x_median: float = HIGH_FAILURE_X_MEDIAN) -> tuple[pd.DataFrame, list[dict]]:
    """failure_counts of every agent against the fleet's median failure rate (the fleet-wide
    half of failed_execution_cost); `window`: the executions'."""
    days, period = window.days, window.period
    g = counts.copy()
    g["failure_rate"] = g["failures"] / g["executions"]
    median = float(g["failure_rate"].median()) if not g.empty else 0.0
    g["fleet_median_failure_rate"] = median
    g["excess_share"] = ((g["failure_rate"] - median) / g["failure_rate"].where(g["failure_rate"] > 0)).clip(lower=0).fillna(0)
    g["monthly_failed_cost_usd"] = g["failed_cost_usd"].map(lambda x: monthly(x, days))
    g["monthly_saving_usd"] = [monthly(c * s, days) for c, s in zip(g["failed_cost_usd"], g["excess_share"], strict=True)]
    g["high_failure"] = (g["failure_rate"] > min_rate) & (g["failure_rate"] > x_median * median) & (g["executions"] >= 30)
    rows = [finding("waste", "high_failure_rate", "agent", r.agent_id,
                    f"{r.failures} of {r.executions} executions failed or timed out ({r.failure_rate:.1%}; fleet median "
                    f"{median:.1%}); they cost ${r.failed_cost_usd:.4f} in the window", period, r.monthly_saving_usd,
                    "fixing the cause brings the agent to the fleet's median failure rate; the cost of the failures above "
                    "it goes away; monthly = per-day average x 30.4", "medium", workspace_id=r.workspace_id)
            for r in g.itertuples() if r.high_failure]
    g["failed_cost_usd"] = g["failed_cost_usd"].map(usd)
    return g, rows


def unused_cache(executions: pd.DataFrame, rates: dict, window: Window | None = None) -> tuple[pd.DataFrame, list[dict]]:
    """Agents that keep cached data (cache_size_mb > 0) but never got a prompt-cache hit:
    the cache is unused; saving = its average size x storage per GB-month."""
    period = (window or Window.of(executions["usage_date"])).period
    g = executions.groupby(["workspace_id", "agent_id"], as_index=False).agg(
        mean_cache_mb=("cache_size_mb", "mean"), prompt_cache_hits=("prompt_cache_hits", "sum"))
    g["unused"] = (g["mean_cache_mb"].fillna(0) > 0) & (g["prompt_cache_hits"].fillna(0) == 0)
    g["monthly_saving_usd"] = (g["mean_cache_mb"].fillna(0) / 1024 * rates["storage_gb_month"]).where(g["unused"], 0.0).round(6)
    rows = [finding("waste", "unused_cache", "agent", r.agent_id,
                    f"cache of {r.mean_cache_mb:.0f} MB on average and no prompt-cache hit in the window", period,
                    r.monthly_saving_usd, "the cache is kept a month at the storage rate; dropping it loses nothing",
                    "low", workspace_id=r.workspace_id) for r in g.itertuples() if r.unused]
    return g, rows


WASTE_LINES = {
    "idle_agent": "idle resources (agents)",
    "idle_gpu": "idle resources (GPUs)",
    "oversized_allocation": "oversized instances",
    "api_response_cache": "redundant API calls",
    "rate_limit_backoff": "rate-limited API calls",
    "failing_endpoint": "failed API calls",
    "prompt_cache": "inefficient prompts (uncached repeated prefixes)",
    "response_cache": "redundant LLM calls (exact duplicates)",
    "unused_cache": "unused cached data",
    "high_failure_rate": "failed executions",
}


def waste_summary(findings: pd.DataFrame) -> pd.DataFrame:
    """Monthly waste per line (the findings of the waste kinds), with the number of findings,
    the elimination step and its priority; a 'total' row last. GPU telemetry findings and
    GPU findings from executions about the same capacity are not both counted: only
    subject_type 'agent' GPU findings count when both exist."""
    f = findings[findings["kind"].isin(WASTE_LINES)].copy()
    if (f["kind"].eq("idle_gpu") & f["subject_type"].eq("gpu")).any() and (f["kind"].eq("idle_gpu") & f["subject_type"].eq("agent")).any():
        f = f[~(f["kind"].eq("idle_gpu") & f["subject_type"].eq("gpu"))]
    plan = {
        "idle_agent": "scale idle agents to zero (min_instances 0)",
        "idle_gpu": "release idle GPUs; move the work to CPU or a shared GPU",
        "oversized_allocation": "set requests to the recommended size",
        "api_response_cache": "response cache keyed by request fingerprint",
        "rate_limit_backoff": "client-side queue with backoff and jitter",
        "failing_endpoint": "fix the failing calls; circuit breaker",
        "prompt_cache": "enable provider prompt caching; stable prefix first",
        "response_cache": "cache LLM responses of identical requests",
        "unused_cache": "drop unused caches",
        "high_failure_rate": "fix the failure cause; fail fast before LLM calls",
    }
    rows = []
    for kind, label in WASTE_LINES.items():
        k = f[f["kind"] == kind]
        rows.append({"line": label, "kind": kind, "findings": len(k),
                     "monthly_waste_usd": usd(k["monthly_saving_usd"].sum()),
                     "elimination": plan[kind],
                     "priority": k["priority"].min() if len(k) else None})
    df = pd.DataFrame(rows)
    df = pd.concat([df, pd.DataFrame([{"line": "total", "kind": "total", "findings": int(df["findings"].sum()),
                                       "monthly_waste_usd": usd(df["monthly_waste_usd"].sum()), "elimination": "",
                                       "priority": None}])], ignore_index=True)
    return df
