"""Cost optimization: rightsizing, spot, reserved capacity, autoscaling, model selection,
and the report (monthly total, prioritized list, roadmap, ROI).

Capacity model (the marts charge compute by usage; a cluster bills what is allocated): each
agent keeps one instance of its allocation (dim_agents: allocated_cpu_cores,
allocated_memory_mb, allocated_gpus) warm all month (min_instances = 1), priced with the
rate card (cpu per core-hour, memory per GB-hour) and `usd_per_gpu_hour` (default $1.00, an
on-demand single A10G-class GPU; AWS g5.xlarge lists about $1.01). A month is 30.4 x 24 h.
"""

import math

import numpy as np
import pandas as pd
from genai_prices import Usage, calc_price

from orchestration.analytics.findings import HOURS_PER_MONTH, Window, finding, monthly, usd
from orchestration.analytics.frames import group_quantile

DEFAULT_USD_PER_GPU_HOUR = 1.00
TARGET_UTILIZATION = 0.65     # Kubecost's "production" profile target utilization
USAGE_QUANTILE = 0.95
CPU_STEP_CORES = 0.25
MEMORY_STEP_MB = 256
OVERSIZED_MAX_FRACTION = 0.5  # recommended <= 50% of the allocation
SPOT_DISCOUNT = 0.60
RESERVED_DISCOUNT = 0.35      # 1-year commitment, no upfront
SUCCESS_TOLERANCE_PP = 2.0    # a cheaper model may be at most 2 points of success rate worse
QUALITY_TOLERANCE = 0.02
MIN_EXECUTIONS_FOR_MODEL = 30
ENGINEER_USD_PER_HOUR = 100.0
EFFORT_HOURS = {"low": 4, "medium": 24, "high": 80}


def rates_from_card(rate_card: pd.DataFrame, usd_per_gpu_hour: float = DEFAULT_USD_PER_GPU_HOUR) -> dict:
    r = {row.resource: float(row.usd_per_unit) for row in rate_card.itertuples()}
    return {"cpu_core_hour": r["cpu"], "memory_gb_hour": r["memory"], "gpu_hour": float(usd_per_gpu_hour),
            "storage_gb_month": r.get("storage", 0.023)}


def standing_cost_per_month(cores, memory_mb, gpus, rates: dict):
    """Monthly cost of holding an allocation for the whole month."""
    return (cores * rates["cpu_core_hour"] + memory_mb / 1024 * rates["memory_gb_hour"]
            + gpus * rates["gpu_hour"]) * HOURS_PER_MONTH


def _step_up(x: float, step: float) -> float:
    return math.ceil(round(x / step, 9)) * step if x > 0 else step


def rightsizing(executions: pd.DataFrame, agents: pd.DataFrame, rates: dict,
                target_utilization: float = TARGET_UTILIZATION, q: float = USAGE_QUANTILE) -> pd.DataFrame:
    """Kubecost's request sizing per agent: recommended = the q-quantile of per-execution
    peak usage / target utilization, rounded up (0.25 cores, 256 MB), never above the
    allocation (upsizing is reported as a flag, not a saving). CPU peak in cores =
    cpu_peak_percent / 100 x allocated cores; memory = memory_peak_mb."""
    ex = executions.copy(deep=False)  # copy-on-write: new columns stay in this frame, no 4M-row copy
    ex["cpu_peak_cores"] = ex["cpu_peak_percent"].astype(float) / 100 * ex["allocated_cpu_cores"].astype(float)
    use = ex.groupby("agent_id").agg(executions=("execution_id", "size"),
                                     usage_start=("usage_date", "min"), usage_end=("usage_date", "max"))
    use.insert(1, "cpu_peak_cores_q", group_quantile(ex, "agent_id", "cpu_peak_cores", q))
    use.insert(2, "memory_peak_mb_q", group_quantile(ex, "agent_id", "memory_peak_mb", q))
    use = use.reset_index()
    df = agents[["agent_id", "workspace_id", "allocated_cpu_cores", "allocated_memory_mb", "allocated_gpus"]].merge(
        use, on="agent_id", how="left")
    df["executions"] = df["executions"].fillna(0).astype(int)
    need_cpu = (df["cpu_peak_cores_q"] / target_utilization).map(lambda x: _step_up(x, CPU_STEP_CORES) if pd.notna(x) else np.nan)
    need_mem = (df["memory_peak_mb_q"] / target_utilization).map(lambda x: _step_up(x, MEMORY_STEP_MB) if pd.notna(x) else np.nan)
    df["needs_cpu_cores"] = need_cpu
    df["needs_memory_mb"] = need_mem
    df["recommended_cpu_cores"] = np.minimum(need_cpu.fillna(df["allocated_cpu_cores"]), df["allocated_cpu_cores"])
    df["recommended_memory_mb"] = np.minimum(need_mem.fillna(df["allocated_memory_mb"]), df["allocated_memory_mb"])
    df["undersized"] = (need_cpu > df["allocated_cpu_cores"] * 1.5) | (need_mem > df["allocated_memory_mb"] * 1.5)
    df["oversized"] = ((df["recommended_cpu_cores"] <= df["allocated_cpu_cores"] * OVERSIZED_MAX_FRACTION)
                       | (df["recommended_memory_mb"] <= df["allocated_memory_mb"] * OVERSIZED_MAX_FRACTION))
    df["current_monthly_usd"] = standing_cost_per_month(df["allocated_cpu_cores"], df["allocated_memory_mb"], 0, rates).round(6)
    df["recommended_monthly_usd"] = standing_cost_per_month(df["recommended_cpu_cores"], df["recommended_memory_mb"], 0, rates).round(6)
    df["monthly_saving_usd"] = (df["current_monthly_usd"] - df["recommended_monthly_usd"]).round(6)
    return df


def hourly_load(executions: pd.DataFrame, hours: tuple | None = None) -> pd.DataFrame:
    """Per agent and hour of the window: executions started, busy instance-hours (sum of
    durations / 3600 = average concurrency) and CPU cores in use (core-seconds / 3600).
    Every agent gets every hour from the first to the last: `hours` (first, last) when the
    frame is a shard of the fleet (the fleet's hours), else this frame's."""
    ex = executions.copy(deep=False)  # copy-on-write: new columns stay in this frame, no 4M-row copy
    ex["hour"] = pd.to_datetime(ex["timestamp"]).dt.floor("h")
    ex["busy_h"] = ex["execution_duration_ms"].astype(float) / 3.6e6
    ex["cores"] = ex["cpu_core_seconds"].astype(float) / 3600
    h = ex.groupby(["agent_id", "hour"]).agg(starts=("execution_id", "size"), concurrency=("busy_h", "sum"),
                                             cores_in_use=("cores", "sum")).reset_index()
    full = []
    if not h.empty:
        unit = h["hour"].dt.unit  # the range in the frame's unit, so that reindex matches its hours
        first, last = hours or (h["hour"].min(), h["hour"].max())
        full = pd.date_range(pd.Timestamp(first).as_unit(unit), pd.Timestamp(last).as_unit(unit), freq="h")
    idx = pd.MultiIndex.from_product([h["agent_id"].unique(), full], names=["agent_id", "hour"])
    return h.set_index(["agent_id", "hour"]).reindex(idx, fill_value=0).reset_index()


def reserved_capacity(executions: pd.DataFrame | None, rates: dict, discount: float = RESERVED_DISCOUNT,
                      q: float = 0.10, load: pd.DataFrame | None = None, window: Window | None = None
                      ) -> tuple[dict, list[dict]]:
    """Reserve the steady baseline: the q-quantile of the fleet's hourly CPU cores in use
    over the window (rounded down to whole cores). Saving = reserved core-hours x on-demand
    rate x discount. load: hourly_load(executions), when the caller has it already; with
    load and window (the executions'), `executions` is not read."""
    load = hourly_load(executions) if load is None else load
    period = (window or Window.of(executions["usage_date"])).period
    fleet = load.groupby("hour")["cores_in_use"].sum()
    baseline = float(fleet.quantile(q)) if not fleet.empty else 0.0
    cores = math.floor(baseline)
    saving = usd(cores * HOURS_PER_MONTH * rates["cpu_core_hour"] * discount)
    info = {"baseline_cores_p10": round(baseline, 6), "peak_cores": round(float(fleet.max()) if not fleet.empty else 0, 6),
            "reserved_cores": cores, "monthly_saving_usd": saving}
    ev = (f"fleet CPU in use per hour: p10 {baseline:.2f} cores, median {fleet.median():.2f}, peak {fleet.max():.2f}"
          if not fleet.empty else "no executions")
    reason = (f"reserve {cores} cores (the p10 of hourly use, busy every hour) on a 1-year commitment at "
              f"{discount:.0%} off the on-demand ${rates['cpu_core_hour']}/core-hour")
    if cores == 0:
        reason = "no dollar saving: the steady baseline is below one core, too small to reserve"
    return info, [finding("cost_optimization", "reserved_capacity", "fleet", "all", ev, period, saving, reason, "low")]


def autoscaling_policy(executions: pd.DataFrame, idle_agents: set[str] = frozenset(),
                       load: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per agent, from the hourly load shape: min instances (0 for idle agents, else the
    ceiling of the p10 hourly concurrency, at least 1), max instances (p99 concurrency at a
    70% target, at least 1), scale-out at 70% CPU, scale-in at 30%, cooldown = 2 x the p95
    execution duration (60 s..900 s), plus the peak-to-median ratio of hourly starts.
    load: hourly_load(executions), when the caller has it already."""
    load = hourly_load(executions) if load is None else load
    dur = executions.groupby("agent_id")["execution_duration_ms"].quantile(0.95) / 1000
    rows = []
    # per agent at once (a Series.quantile per agent and hour frame: ~2 s at 2,000 agents);
    # starts are counts, so their grouped median is the exact one
    starts = load.groupby("agent_id")["starts"]
    p10s, p99s = (group_quantile(load, "agent_id", "concurrency", q) for q in (0.10, 0.99))
    for agent, p10, p99, med, peak in zip(p10s.index, p10s.to_numpy(), p99s.to_numpy(),
                                          starts.median().to_numpy(), starts.max().to_numpy()):
        rows.append({
            "agent_id": agent,
            "min_instances": 0 if agent in idle_agents else max(1, math.ceil(round(p10, 9))),
            "max_instances": max(1, math.ceil(round(p99 / 0.7, 9))),
            "scale_out_cpu_pct": 70, "scale_in_cpu_pct": 30,
            "cooldown_s": int(min(900, max(60, 2 * dur.get(agent, 30)))),
            "peak_to_median_starts": round(float(peak / med), 3) if med > 0 else None,
        })
    return pd.DataFrame(rows)


def spot_candidates(executions: pd.DataFrame, agents: pd.DataFrame, rates: dict,
                    max_p95_duration_s: float = 900, max_failure_rate: float = 0.05,
                    discount: float = SPOT_DISCOUNT, exclude: set[str] = frozenset(),
                    window: Window | None = None) -> tuple[pd.DataFrame, list[dict]]:
    """Interruptible, retry-tolerant workloads: p95 execution shorter than 15 min (a lost
    run is cheap to redo), failure rate at most 5% (retries are rare), no GPU. The burst
    instances above the warm one can run on spot; saving = the usage-based compute cost
    (marts cpu + memory cost) x the spot discount."""
    window = window or Window.of(executions["usage_date"])
    days, period = window.days, window.period
    ex = executions.copy(deep=False)  # copy-on-write: new columns stay in this frame, no 4M-row copy
    ex["failed"] = ~ex["status"].eq("success")
    ex["usage_compute"] = ex["cpu_cost"].astype(float) + ex["memory_cost"].astype(float)
    g = ex.groupby("agent_id").agg(failure_rate=("failed", "mean"), compute_usd=("usage_compute", "sum"),
                                   executions=("execution_id", "size"))
    g.insert(0, "p95_duration_s", group_quantile(ex, "agent_id", "execution_duration_ms", 0.95) / 1000)
    g = g.reset_index()
    g = g.merge(agents[["agent_id", "workspace_id", "allocated_gpus"]], on="agent_id")
    g["spot_candidate"] = ((g["p95_duration_s"] <= max_p95_duration_s) & (g["failure_rate"] <= max_failure_rate)
                           & (g["allocated_gpus"] == 0) & ~g["agent_id"].isin(exclude))
    g["monthly_saving_usd"] = np.where(g["spot_candidate"], g["compute_usd"].map(lambda x: monthly(x * discount, days)), 0.0)
    rows = [finding("cost_optimization", "spot_instances", "agent", r.agent_id,
                    f"p95 execution {r.p95_duration_s:.0f} s, failure rate {r.failure_rate:.1%}, usage compute "
                    f"${r.compute_usd:.4f} in the window", period, r.monthly_saving_usd,
                    f"burst instances on spot at {discount:.0%} off; short runs are retried on interruption; "
                    "the warm instance stays on-demand", "medium", workspace_id=r.workspace_id)
            for r in g.itertuples() if r.spot_candidate]
    return g, rows


def reprice(model: str, provider: str, input_tokens: int, cached_tokens: int, output_tokens: int):
    """The tokens' price under `model` with genai-prices (offline catalog), None if unknown."""
    try:
        p = calc_price(Usage(input_tokens=int(input_tokens), cache_read_tokens=int(cached_tokens),
                             output_tokens=int(output_tokens)), model_ref=model, provider_id=provider)
    except LookupError:
        return None
    return float(p.total_price)


def model_selection(executions: pd.DataFrame, prices: pd.DataFrame, candidate_models: list[tuple[str, str]] | None = None,
                    window: Window | None = None) -> tuple[pd.DataFrame, list[dict]]:
    """Per agent x task type x current model: re-price the observed tokens under every cheaper
    model of the same provider (genai-prices) and recommend the cheapest whose observed
    success rate and quality on the same agent and task type are no worse than the current
    model's (within 2 points / 0.02), each side with at least 30 executions. Models never
    observed on the task are listed as untested (no recommendation, no saving).

    executions: agent_id, workspace_id, task_type, model_name, llm_provider, status,
    quality_score, input_tokens, prompt_cache_hits, output_tokens, token_cost, usage_date."""
    window = window or Window.of(executions["usage_date"])
    days, period = window.days, window.period
    ex = executions.copy(deep=False)  # copy-on-write: new columns stay in this frame, no 4M-row copy
    ex["ok"] = ex["status"].eq("success")
    ex["token_cost"] = ex["token_cost"].astype(float)
    g = ex.groupby(["workspace_id", "agent_id", "task_type", "llm_provider", "model_name"], as_index=False).agg(
        executions=("ok", "size"), success_rate=("ok", "mean"), quality=("quality_score", "mean"),
        input_tokens=("input_tokens", "sum"), cached_tokens=("prompt_cache_hits", "sum"),
        output_tokens=("output_tokens", "sum"), token_cost_usd=("token_cost", "sum"))
    models = candidate_models or list(prices[["provider", "model"]].drop_duplicates().itertuples(index=False, name=None))
    # each agent x task's models once, as plain dicts: a frame per agent x task (set_index) took
    # ~1.9 s at 2,000 agents (cProfile, 10M calls), a filter of all of g per row more
    peers_of: dict[tuple, dict] = {}
    for agent, task, model, n, success, quality in zip(*(g[c].to_numpy() for c in (
            "agent_id", "task_type", "model_name", "executions", "success_rate", "quality"))):
        peers_of.setdefault((agent, task), {}).setdefault(model, {"executions": n, "success_rate": success,
                                                                  "quality": quality})
    out, rows = [], []
    for r in g.itertuples():
        current = reprice(r.model_name, r.llm_provider, r.input_tokens, r.cached_tokens, r.output_tokens)
        if current is None:
            continue
        peers = peers_of[(r.agent_id, r.task_type)]
        best = None
        for provider, m in models:
            if provider != r.llm_provider or m == r.model_name:
                continue
            price = reprice(m, provider, r.input_tokens, r.cached_tokens, r.output_tokens)
            if price is None or price >= current:
                continue
            peer = peers.get(m)
            tested = peer is not None and peer["executions"] >= MIN_EXECUTIONS_FOR_MODEL
            passes = bool(tested and r.executions >= MIN_EXECUTIONS_FOR_MODEL
                          and peer["success_rate"] * 100 >= r.success_rate * 100 - SUCCESS_TOLERANCE_PP
                          and peer["quality"] >= r.quality - QUALITY_TOLERANCE)
            cand = {"workspace_id": r.workspace_id, "agent_id": r.agent_id, "task_type": r.task_type,
                    "provider": provider, "current_model": r.model_name, "candidate_model": m,
                    "executions": r.executions, "current_success_rate": round(r.success_rate, 6),
                    "candidate_success_rate": round(float(peer["success_rate"]), 6) if peer is not None else None,
                    "current_quality": round(r.quality, 6),
                    "candidate_quality": round(float(peer["quality"]), 6) if peer is not None else None,
                    "current_cost_usd": usd(current), "repriced_cost_usd": usd(price),
                    "status": "recommended" if passes else ("failed_gate" if tested else "untested"),
                    "monthly_saving_usd": monthly(current - price, days) if passes else 0.0}
            out.append(cand)
            if passes and (best is None or price < best[1]):
                best = (cand, price)
        if best:
            c = best[0]
            rows.append(finding(
                "cost_optimization", "model_selection", "agent", f"{r.agent_id}",
                f"{r.task_type}: {r.executions} executions on {r.model_name} (success {r.success_rate:.1%}, quality "
                f"{r.quality:.3f}, ${c['current_cost_usd']:.4f}); {c['candidate_model']} on the same task: success "
                f"{c['candidate_success_rate']:.1%}, quality {c['candidate_quality']:.3f}; the same tokens re-priced: "
                f"${c['repriced_cost_usd']:.4f}",
                period, c["monthly_saving_usd"],
                "the task's token volume stays the same on the cheaper model (genai-prices, offline catalog); "
                f"gate: success within {SUCCESS_TOLERANCE_PP:g} points and quality within {QUALITY_TOLERANCE} on >= "
                f"{MIN_EXECUTIONS_FOR_MODEL} executions each; monthly = per-day average x 30.4",
                "low", workspace_id=r.workspace_id))
            rows[-1]["finding_id"] += f":{r.task_type}:{r.model_name}->{c['candidate_model']}"
    return pd.DataFrame(out), rows


def roadmap(findings: pd.DataFrame) -> pd.DataFrame:
    """Prioritized plan: every finding with a saving (telemetry GPU findings dropped when the
    executions already name an idle GPU agent), phase by effort (low: weeks 1-2,
    medium: month 1, high: quarter), one-time cost = effort hours x $100/h, ROI = 12-month
    saving / one-time cost, payback in months."""
    df = findings[findings["monthly_saving_usd"] > 0].copy()
    # an idle GPU seen both in telemetry and in an agent's executions is one saving
    if (df["kind"].eq("idle_gpu") & df["subject_type"].eq("agent")).any():
        df = df[~(df["kind"].eq("idle_gpu") & df["subject_type"].eq("gpu"))]
    phase = {"low": "1: weeks 1-2", "medium": "2: month 1", "high": "3: quarter"}
    df["phase"] = df["effort"].map(phase)
    df["one_time_cost_usd"] = df["effort"].map(EFFORT_HOURS) * ENGINEER_USD_PER_HOUR
    df["annual_saving_usd"] = (df["monthly_saving_usd"] * 12).round(6)
    df["roi"] = (df["annual_saving_usd"] / df["one_time_cost_usd"]).round(3)
    df["payback_months"] = (df["one_time_cost_usd"] / df["monthly_saving_usd"]).round(2)
    df = df.sort_values(["phase", "priority", "monthly_saving_usd"], ascending=[True, True, False])
    df["rank"] = range(1, len(df) + 1)
    return df[["rank", "phase", "priority", "finding_id", "category", "kind", "subject_type", "subject_id",
               "monthly_saving_usd", "annual_saving_usd", "effort", "one_time_cost_usd", "roi", "payback_months"]]
