"""All analytics from the marts' DataFrames in one call: the tables the Dagster asset writes."""

import pandas as pd

from orchestration.analytics import api_optimization as api
from orchestration.analytics import cost_optimization as co
from orchestration.analytics import prompt_cache as pc
from orchestration.analytics import token_efficiency as te
from orchestration.analytics import waste as w
from orchestration.analytics.allocation import dynamic_allocation
from orchestration.analytics.efficiency import efficiency_scores
from orchestration.analytics.findings import HOURS_PER_MONTH, findings_frame, monthly, period_of, window_days
from orchestration.analytics.waste import WASTE_LINES
from orchestration.analytics.what_if import USAGE_KINDS, what_if


def build_all(executions: pd.DataFrame, llm_calls: pd.DataFrame, api_calls: pd.DataFrame, agents: pd.DataFrame,
              prices: pd.DataFrame, rate_card: pd.DataFrame, gpu_samples: pd.DataFrame | None = None,
              usd_per_gpu_hour: float = co.DEFAULT_USD_PER_GPU_HOUR, weights: dict | None = None,
              ttl_minutes: float = pc.DEFAULT_TTL_MINUTES) -> dict[str, pd.DataFrame]:
    rates = co.rates_from_card(rate_card, usd_per_gpu_hour)
    days = window_days(executions["usage_date"])
    period = period_of(executions["usage_date"])
    rows: list[dict] = []

    scores = efficiency_scores(executions, weights)
    dist = te.token_distribution(llm_calls)
    metrics = te.token_efficiency_metrics(executions)
    cache = pc.fingerprint_prefix_cache(llm_calls, prices, ttl_minutes=ttl_minutes)
    rows += te.prompt_cache_findings(cache, period_of(llm_calls["usage_date"]), ttl_minutes)
    dups = pc.duplicate_llm_calls(llm_calls)
    rows += te.response_cache_findings(dups, period_of(llm_calls["usage_date"]))

    api_calls = api.prepare(api_calls)  # once for the four API analyses
    api_cache, r = api.api_caching(api_calls); rows += r
    batching, r = api.api_batching(api_calls); rows += r
    limits, r = api.rate_limits(api_calls); rows += r
    failing, r = api.failing_endpoints(api_calls); rows += r

    idle, r = w.idle_agents(executions, agents, rates); rows += r
    idle_ids = set(idle.loc[idle["idle"], "agent_id"])
    sizing = co.rightsizing(executions, agents, rates)
    rows += w.oversized_agents(sizing, exclude=idle_ids, period=period)
    gpu_exec, r = w.gpu_waste_from_executions(executions, agents, rates, exclude=idle_ids); rows += r
    gpu_idle_ids = set(gpu_exec.loc[gpu_exec["idle_gpu"], "agent_id"])
    if gpu_samples is not None:
        gpus = w.find_idle_gpus(gpu_samples, usd_per_gpu_hour)
        rows += w.idle_gpu_findings(gpus, usd_per_gpu_hour)
    else:
        gpus = w.find_idle_gpus(pd.DataFrame(), usd_per_gpu_hour)
    failures, r = w.failed_execution_cost(executions); rows += r
    _, r = w.unused_cache(executions, rates); rows += r

    spot, r = co.spot_candidates(executions, agents, rates, exclude=idle_ids); rows += r
    load = co.hourly_load(executions)  # once for both
    reserved, r = co.reserved_capacity(executions, rates, load=load); rows += r
    scaling = co.autoscaling_policy(executions, idle_ids, load=load)
    models, r = co.model_selection(executions, prices); rows += r

    findings = findings_frame(rows)
    waste = w.waste_summary(findings)
    plan = co.roadmap(findings)
    allocation = dynamic_allocation(executions, llm_calls, agents, sizing, scaling, models, gpu_idle_ids, idle_ids)

    standing = float(co.standing_cost_per_month(agents["allocated_cpu_cores"], agents["allocated_memory_mb"],
                                                agents["allocated_gpus"], rates).sum())
    usage_compute = monthly(executions["compute_cost"].astype(float).sum(), days)
    usage_total = monthly(executions["total_cost"].astype(float).sum() + 0, days)
    baseline = {
        "total_cost_usd": usage_total + max(standing - usage_compute, 0.0),
        "token_cost_usd": monthly(executions["token_cost"].astype(float).sum(), days),
        "total_tokens": float(executions["total_tokens"].sum()) / days * 30.4,
        "successful_tasks": float(executions["status"].eq("success").sum()) / days * 30.4,
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
        "findings": findings, "efficiency_scores": scores, "token_distribution": dist,
        "token_efficiency": metrics, "prompt_cache": cache, "llm_duplicate_calls": dups,
        "api_caching": api_cache, "api_batching": batching, "api_rate_limits": limits, "api_failures": failing,
        "rightsizing": sizing, "gpu_utilization": gpu_exec, "gpu_idle_telemetry": gpus,
        "failed_executions": failures, "spot_candidates": spot, "autoscaling": scaling,
        "model_selection": models, "waste_summary": waste, "cost_roadmap": plan,
        "agent_allocation": allocation, "what_if": whatif, "cost_summary": summary,
    }
