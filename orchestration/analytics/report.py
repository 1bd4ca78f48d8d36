"""All analytics from the marts' DataFrames: the tables the Dagster asset writes.

`build_all` takes whole frames. `build_sharded` takes the facts a shard of the agents at a
time (and the API calls a group of endpoints at a time), so that the step's memory is one
shard's, whatever the size of the fleet: at 100M LLM calls the 30-day window's frames alone
would be ~23 GiB. Both compute the same tables (tests/test_analytics_sharded.py):

- every analysis whose rows are per agent (`agent_part`) runs on each shard: an agent's
  rows come from its own executions, calls and API calls only, and the shards' rows are
  put in the order the whole frames give (`_in_order`);
- the endpoint analyses (`endpoint_part`) run on each group of endpoints;
- what compares agents or sums the fleet (`fleet_tables`) runs once on the parts: the
  efficiency ranks, the fleet's median failure rate, the fleet's hourly load, the prompt
  cache (a prompt prefix is shared across agents: the caller computes it over all calls,
  in DuckDB), the findings, waste, roadmap, what-if and summary;
- monthly figures divide by the whole fact's window (`Windows`), not a shard's.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

from orchestration.analytics import api_optimization as api
from orchestration.analytics import cost_optimization as co
from orchestration.analytics import prompt_cache as pc
from orchestration.analytics import token_efficiency as te
from orchestration.analytics import waste as w
from orchestration.analytics.allocation import dynamic_allocation
from orchestration.analytics.efficiency import efficiency_components, score_agents
from orchestration.analytics.findings import HOURS_PER_MONTH, Window, findings_frame, monthly
from orchestration.analytics.waste import WASTE_LINES
from orchestration.analytics.what_if import USAGE_KINDS, what_if


@dataclass(frozen=True)
class Windows:
    """The analysed window of each fact, and the first and last hour an execution of a known
    agent started in (hourly_load's range; None: the frame's own)."""

    executions: Window
    llm_calls: Window
    api_calls: Window
    hours: tuple | None = None

    @classmethod
    def of(cls, executions: pd.DataFrame, llm_calls: pd.DataFrame, api_calls: pd.DataFrame) -> "Windows":
        return cls(Window.of(executions["usage_date"]), Window.of(llm_calls["usage_date"]),
                   Window.of(api_calls["usage_date"]))


# Per-agent tables -> the columns the whole frames' rows are ordered by (None: the agents
# frame's order). A stable sort of the shards' rows on them gives that order back, since
# each agent's rows are in one shard, in the order the whole frame would give them.
AGENT_TABLES = {
    "efficiency": ["workspace_id", "agent_id"], "token_distribution": ["workspace_id", "agent_id"],
    "token_efficiency": ["workspace_id", "agent_id"], "llm_duplicate_calls": ["workspace_id", "agent_id"],
    "api_caching": ["workspace_id", "agent_id"], "rightsizing": None, "gpu_utilization": None,
    "failure_counts": ["workspace_id", "agent_id"], "spot_candidates": ["agent_id"], "autoscaling": ["agent_id"],
    "model_selection": ["workspace_id", "agent_id"], "agent_allocation": None, "load": ["agent_id"],
}
ENDPOINT_TABLES = ("api_batching", "api_rate_limits", "api_failures")
# Money summed over the executions for the what-if and the summary (math.fsum: the shards'
# partial sums add up to the same figure to within a few units in the last place).
TOTALS = ("compute_cost", "total_cost", "token_cost")


@dataclass
class Part:
    tables: dict[str, pd.DataFrame]
    rows: list[dict] = field(default_factory=list)
    totals: dict[str, float] = field(default_factory=dict)


def agent_part(executions: pd.DataFrame, llm_calls: pd.DataFrame, api_calls: pd.DataFrame, agents: pd.DataFrame,
               prices: pd.DataFrame, rates: dict, windows: Windows) -> Part:
    """Every per-agent analysis, for the agents of `agents` (all of them, or a shard: the
    facts hold the rows of these agents)."""
    ex_w = windows.executions
    rows: list[dict] = []
    t: dict[str, pd.DataFrame] = {}
    t["efficiency"] = efficiency_components(executions)
    t["token_distribution"] = te.token_distribution(llm_calls)
    t["token_efficiency"] = te.token_efficiency_metrics(executions)
    t["llm_duplicate_calls"] = pc.duplicate_llm_calls(llm_calls, window=windows.llm_calls)
    rows += te.response_cache_findings(t["llm_duplicate_calls"], windows.llm_calls.period)
    t["api_caching"], r = api.api_caching(api_calls, window=windows.api_calls); rows += r

    idle, r = w.idle_agents(executions, agents, rates, window=ex_w); rows += r
    idle_ids = set(idle.loc[idle["idle"], "agent_id"])
    t["rightsizing"] = co.rightsizing(executions, agents, rates)
    rows += w.oversized_agents(t["rightsizing"], exclude=idle_ids, period=ex_w.period)
    t["gpu_utilization"], r = w.gpu_waste_from_executions(executions, agents, rates, exclude=idle_ids, window=ex_w)
    rows += r
    gpu_idle_ids = set(t["gpu_utilization"].loc[t["gpu_utilization"]["idle_gpu"], "agent_id"])
    t["failure_counts"] = w.failure_counts(executions)
    _, r = w.unused_cache(executions, rates, window=ex_w); rows += r

    t["spot_candidates"], r = co.spot_candidates(executions, agents, rates, exclude=idle_ids, window=ex_w); rows += r
    t["load"] = co.hourly_load(executions, windows.hours)
    t["autoscaling"] = co.autoscaling_policy(executions, idle_ids, load=t["load"])
    t["model_selection"], r = co.model_selection(executions, prices, window=ex_w); rows += r
    t["agent_allocation"] = dynamic_allocation(executions, llm_calls, agents, t["rightsizing"], t["autoscaling"],
                                               t["model_selection"], gpu_idle_ids, idle_ids)
    totals = {c: math.fsum(executions[c].astype(float)) for c in TOTALS}
    totals["total_tokens"] = float(executions["total_tokens"].sum())
    totals["successful_tasks"] = float(executions["status"].eq("success").sum())
    return Part(t, rows, totals)


def endpoint_part(api_calls: pd.DataFrame, window: Window) -> Part:
    """The per-endpoint API analyses, for the endpoints of `api_calls` (all, or a group:
    every call of these endpoints)."""
    api_calls = api.prepare(api_calls)
    rows: list[dict] = []
    t: dict[str, pd.DataFrame] = {}
    t["api_batching"], r = api.api_batching(api_calls, window=window); rows += r
    t["api_rate_limits"], r = api.rate_limits(api_calls, window=window); rows += r
    t["api_failures"], r = api.failing_endpoints(api_calls, window=window); rows += r
    return Part(t, rows)


def _in_order(frames: list[pd.DataFrame], by: list[str] | None, agents: pd.DataFrame | None = None) -> pd.DataFrame:
    """The parts' rows of one table, in the order the whole frames give: a stable sort on
    `by`, or (None) the agents frame's order."""
    frames = [f for f in frames if not f.empty] or frames[:1]
    if len(frames) == 1:
        return frames[0]
    # a column whose values are all None in one shard is of object dtype there: infer the
    # column's type from every shard's values, as one frame of all the rows would have it
    df = pd.concat(frames, ignore_index=True).infer_objects()
    if by is None:  # the agents frame's order
        position = pd.Series(range(len(agents)), index=agents["agent_id"].to_numpy())
        order = df["agent_id"].map(position).sort_values(kind="stable").index
    else:
        order = df.sort_values(by, kind="stable").index
    return df.loc[order].reset_index(drop=True)


def build_sharded(agent_shards: Iterable[dict], endpoint_groups: Iterable[pd.DataFrame], agents: pd.DataFrame,
                  prices: pd.DataFrame, rate_card: pd.DataFrame, windows: Windows, prompt_cache: pd.DataFrame,
                  gpu_samples: pd.DataFrame | None = None, usd_per_gpu_hour: float = co.DEFAULT_USD_PER_GPU_HOUR,
                  weights: dict | None = None, ttl_minutes: float = pc.DEFAULT_TTL_MINUTES) -> dict[str, pd.DataFrame]:
    """The tables from shards: `agent_shards` yields dicts of executions, llm_calls,
    api_calls and agents (a shard of the agents and their rows, each agent in one shard);
    `endpoint_groups` yields the API calls of groups of endpoints (each endpoint in one
    group); `prompt_cache` is fingerprint_prefix_cache over all the calls; `windows` are
    the whole facts'. Each shard is read when its turn comes and dropped after it."""
    rates = co.rates_from_card(rate_card, usd_per_gpu_hour)
    parts = []
    for shard in agent_shards:
        parts.append(agent_part(**shard, prices=prices, rates=rates, windows=windows))
        del shard  # the next shard is read while nothing holds this one
    endpoint_parts = []
    for group in endpoint_groups:
        endpoint_parts.append(endpoint_part(group, windows.api_calls))
        del group
    return fleet_tables(parts, endpoint_parts, agents, rates, windows, prompt_cache, gpu_samples, usd_per_gpu_hour,
                        weights, ttl_minutes)


def build_all(executions: pd.DataFrame, llm_calls: pd.DataFrame, api_calls: pd.DataFrame, agents: pd.DataFrame,
              prices: pd.DataFrame, rate_card: pd.DataFrame, gpu_samples: pd.DataFrame | None = None,
              usd_per_gpu_hour: float = co.DEFAULT_USD_PER_GPU_HOUR, weights: dict | None = None,
              ttl_minutes: float = pc.DEFAULT_TTL_MINUTES) -> dict[str, pd.DataFrame]:
    """The tables from whole frames: one shard of every agent, one group of every endpoint."""
    windows = Windows.of(executions, llm_calls, api_calls)
    api_calls = api.prepare(api_calls)  # sorted once for the four API analyses
    cache = pc.fingerprint_prefix_cache(llm_calls, prices, ttl_minutes=ttl_minutes, window=windows.llm_calls)
    shard = {"executions": executions, "llm_calls": llm_calls, "api_calls": api_calls, "agents": agents}
    return build_sharded([shard], [api_calls], agents, prices, rate_card, windows, cache, gpu_samples,
                         usd_per_gpu_hour, weights, ttl_minutes)


def fleet_tables(parts: list[Part], endpoint_parts: list[Part], agents: pd.DataFrame, rates: dict, windows: Windows,
                 cache: pd.DataFrame, gpu_samples: pd.DataFrame | None, usd_per_gpu_hour: float,
                 weights: dict | None, ttl_minutes: float) -> dict[str, pd.DataFrame]:
    """What compares agents or sums the fleet, from the parts; every table."""
    t = {name: _in_order([p.tables[name] for p in parts], by, agents) for name, by in AGENT_TABLES.items()}
    t.update({name: _in_order([p.tables[name] for p in endpoint_parts], ["endpoint"]) for name in ENDPOINT_TABLES})
    rows = [r for p in parts + endpoint_parts for r in p.rows]
    ex_w = windows.executions
    days, period = ex_w.days, ex_w.period

    rows += te.prompt_cache_findings(cache, windows.llm_calls.period, ttl_minutes)
    failures, r = w.failure_findings(t["failure_counts"], ex_w); rows += r
    if gpu_samples is not None:
        gpus = w.find_idle_gpus(gpu_samples, usd_per_gpu_hour)
        rows += w.idle_gpu_findings(gpus, usd_per_gpu_hour)
    else:
        gpus = w.find_idle_gpus(pd.DataFrame(), usd_per_gpu_hour)
    reserved, r = co.reserved_capacity(None, rates, load=t["load"], window=ex_w); rows += r

    findings = findings_frame(rows)
    waste = w.waste_summary(findings)
    plan = co.roadmap(findings)

    totals = {k: math.fsum(p.totals[k] for p in parts) for k in parts[0].totals}
    standing = float(co.standing_cost_per_month(agents["allocated_cpu_cores"], agents["allocated_memory_mb"],
                                                agents["allocated_gpus"], rates).sum())
    usage_compute = monthly(totals["compute_cost"], days)
    usage_total = monthly(totals["total_cost"], days)
    baseline = {
        "total_cost_usd": usage_total + max(standing - usage_compute, 0.0),
        "token_cost_usd": monthly(totals["token_cost"], days),
        "total_tokens": totals["total_tokens"] / days * 30.4,
        "successful_tasks": totals["successful_tasks"] / days * 30.4,
    }
    total_waste = float(waste.loc[waste["kind"] == "total", "monthly_waste_usd"].iloc[0])
    whatif_all = what_if(baseline, findings, total_waste, scope="usage + standing allocation")
    usage_baseline = {**baseline, "total_cost_usd": usage_total}
    usage_waste = float(findings.loc[findings["kind"].isin(USAGE_KINDS & set(WASTE_LINES)), "monthly_saving_usd"].sum())
    whatif_usage = what_if(usage_baseline, findings, usage_waste, scope="usage (marts) only", kinds=USAGE_KINDS)
    whatif = pd.concat([whatif_all, whatif_usage], ignore_index=True)
    summary = pd.DataFrame([{
        "period": period, "window_days": days, "usage_cost_monthly_usd": usage_total,
        "standing_allocation_monthly_usd": round(standing, 6), "usage_compute_monthly_usd": usage_compute,
        "total_cost_monthly_usd": round(baseline["total_cost_usd"], 6),
        "findings": len(findings), "potential_saving_monthly_usd": round(float(plan["monthly_saving_usd"].sum()), 6),
        "waste_monthly_usd": total_waste, "hours_per_month": HOURS_PER_MONTH,
        "usd_per_gpu_hour": usd_per_gpu_hour,
        "reserved_cores": reserved["reserved_cores"], "baseline_cores_p10": reserved["baseline_cores_p10"],
    }])
    return {
        "findings": findings, "efficiency_scores": score_agents(t["efficiency"], weights),
        "token_distribution": t["token_distribution"], "token_efficiency": t["token_efficiency"],
        "prompt_cache": cache, "llm_duplicate_calls": t["llm_duplicate_calls"],
        "api_caching": t["api_caching"], "api_batching": t["api_batching"], "api_rate_limits": t["api_rate_limits"],
        "api_failures": t["api_failures"], "rightsizing": t["rightsizing"], "gpu_utilization": t["gpu_utilization"],
        "gpu_idle_telemetry": gpus, "failed_executions": failures, "spot_candidates": t["spot_candidates"],
        "autoscaling": t["autoscaling"], "model_selection": t["model_selection"], "waste_summary": waste,
        "cost_roadmap": plan, "agent_allocation": t["agent_allocation"], "what_if": whatif, "cost_summary": summary,
    }
