"""Analytics over the marts: efficiency scores, token and prompt efficiency, waste, API and
cost recommendations, dynamic allocation and the what-if, as analytics.* tables.

One step computes everything (the logic is in orchestration.analytics, plain functions over
DataFrames) and materializes every table as its own asset.
"""

import datetime as dt
import time

import dagster as dg
from dagster_duckdb import DuckDBResource

from orchestration.defs.resources import read_frame

TABLES = {
    "findings": "Every finding and recommendation: subject, kind, evidence, period, monthly saving, assumption, effort, priority.",
    "efficiency_scores": "Per agent: tokens/tasks/successes/speed/quality per dollar, rank-normalized, weighted score, percentiles, improvement areas.",
    "token_distribution": "Per agent x model: tokens by kind and percentiles of per-call tokens.",
    "token_efficiency": "Per agent: tokens per successful task, output/input ratio, context-window utilization, cache hit share.",
    "prompt_cache": "Per agent x model: cacheable share of input (prompt fingerprints), redundant prefix tokens, net saving.",
    "llm_duplicate_calls": "Per agent: exact-duplicate LLM calls a response cache could serve.",
    "api_caching": "Per agent: repeated identical API requests, hit rate, cost of the hits.",
    "api_batching": "Per endpoint: bursts of calls from one execution that could be batched.",
    "api_rate_limits": "Per endpoint: 429s, retries and their cost, sustainable rate.",
    "api_failures": "Per endpoint: non-rate-limit failures and their cost.",
    "rightsizing": "Per agent: p95 peak use vs allocation, recommended size (Kubecost method), monthly saving.",
    "gpu_utilization": "Per GPU agent: GPU utilization over its executions, idle flag, monthly GPU cost.",
    "gpu_idle_telemetry": "Per GPU in nvidia-smi telemetry (marts.fct_gpu_samples): utilization, idle flag, cost.",
    "failed_executions": "Per agent: failed/timed-out executions and their cost.",
    "spot_candidates": "Per agent: spot eligibility and saving.",
    "autoscaling": "Per agent: min/max instances, thresholds, cooldown from the hourly load shape.",
    "model_selection": "Per agent x task x cheaper model: re-priced tokens (genai-prices), gate status, saving.",
    "waste_summary": "Monthly waste per line, elimination step, priority, total.",
    "cost_roadmap": "Prioritized recommendations with phase, one-time cost, ROI and payback.",
    "agent_allocation": "Per agent: compute tier, primary/fallback model and switch conditions, scaling, caching, targets.",
    "what_if": "The seed's success metrics if the P1/P2 recommendations were applied, against their targets.",
    "cost_summary": "Monthly totals: usage cost, standing allocation, waste, potential saving.",
}
# The columns the analyses use (orchestration/analytics/*.py), not every column of the marts:
# at 10M calls the frames are most of the step's memory. Lineage, ids and raw counters no
# analysis reads stay in DuckDB; an analysis that needs one more column adds it here.
ANALYSED_COLUMNS = {
    "fct_resource_utilization": [
        "execution_id", "agent_id", "workspace_id", "task_type", "timestamp", "usage_date", "execution_duration_ms",
        "status", "quality_score", "cpu_peak_percent", "cpu_core_seconds", "allocated_cpu_cores", "memory_peak_mb",
        "gpu_usage_percent", "gpu_compute_units", "llm_provider", "model_name", "input_tokens", "uncached_input_tokens",
        "prompt_cache_hits", "output_tokens", "total_tokens", "context_window_used", "context_window_tokens",
        "cache_size_mb", "cpu_cost", "memory_cost", "gpu_cost", "compute_cost", "token_cost", "storage_cost",
        "network_cost", "api_cost", "total_cost"],
    "fct_llm_calls": [
        "execution_id", "agent_id", "workspace_id", "provider", "model", "started_at", "usage_date", "input_tokens",
        "uncached_input_tokens", "cached_input_tokens", "output_tokens", "total_tokens", "latency_ms", "is_success",
        "prompt_fingerprint", "token_cost"],
    "fct_api_calls": [
        "request_id", "execution_id", "agent_id", "workspace_id", "requested_at", "usage_date", "endpoint",
        "status_code", "is_success", "latency_ms", "is_rate_limited", "retry_attempt", "error_type", "cost_usd",
        "request_fingerprint"],
    "fct_gpu_samples": [
        "sampled_at", "host", "gpu_index", "gpu_uuid", "gpu_name", "utilization_gpu_pct", "memory_used_mib",
        "memory_total_mib", "power_draw_w", "agent_id", "workspace_id", "usd_per_gpu_hour"],
    "dim_agents": [
        "agent_id", "workspace_id", "compute_tier", "allocated_cpu_cores", "allocated_memory_mb", "allocated_gpus",
        "primary_model", "daily_token_budget", "monthly_token_budget", "monthly_cost_budget_usd"],
}
# frame name -> (mart, a fixed row order: the key; API calls in time order, as the API
# analyses use them, so their sort finds the frame already sorted)
FACTS = {"executions": ("fct_resource_utilization", "execution_id"), "llm_calls": ("fct_llm_calls", "call_id"),
         "api_calls": ("fct_api_calls", "requested_at, request_id"), "agents": ("dim_agents", "agent_id")}
DATED = ("executions", "llm_calls", "api_calls")  # the facts with a usage_date: the window applies to them
GPU_SAMPLES = ("fct_gpu_samples", "sampled_at, host, gpu_index")  # optional: only once telemetry is ingested
DEPS = [dg.AssetKey(["marts", table]) for table, _ in FACTS.values()] + [
    dg.AssetKey(["reference", "model_prices"]), dg.AssetKey(["reference", "compute_rate_card"])]


class AnalyticsSettings(dg.Config):
    # The analyses see the last `window_days` days of the marts, ending on the latest usage
    # date: recommendations rest on the fleet as it runs now (an agent resized two months ago
    # is not judged on its old peaks), and the step's work stays that of a month as history
    # grows. Monthly figures are the window's per-day average x 30.4. 0: all the history.
    window_days: int = 30


def window_start(conn, window_days: int):
    """The first day of the analysed window: `window_days` days ending on the latest usage
    date in the three facts; None (no filter) for 0 or while the marts are empty."""
    if window_days <= 0:
        return None
    latest = conn.execute(
        "select max(d) from (" + " union all ".join(
            f"select max(usage_date) as d from marts.{FACTS[name][0]}" for name in DATED) + ")"
    ).fetchall()[0][0]
    return None if latest is None else latest - dt.timedelta(days=window_days - 1)


def read_inputs(conn, columns=lambda table: ", ".join(ANALYSED_COLUMNS[table]), window_days: int = 0) -> dict:
    """build_all's frames from the warehouse: each mart's `columns(table)` in its key order (the
    analysed columns by default), the facts limited to the last `window_days` days
    (`window_start`; 0: all), the agents and reference tables whole, gpu_samples None while
    marts.fct_gpu_samples does not exist. Read through Arrow (read_frame): at 10M calls `.df()`
    ran out of memory."""
    start = window_start(conn, window_days)
    since = "" if start is None else f" where usage_date >= date '{start}'"
    frames = {name: read_frame(conn, f"select {columns(table)} from marts.{table}"
                                     f"{since if name in DATED else ''} order by {order}")
              for name, (table, order) in FACTS.items()}
    frames["prices"] = read_frame(conn, "select * from reference.model_prices order by all")
    frames["rate_card"] = read_frame(conn, "select * from reference.compute_rate_card order by all")
    table, order = GPU_SAMPLES
    has_gpu = conn.execute(
        f"select count(*) from information_schema.tables where table_schema = 'marts' and table_name = '{table}'"
    ).fetchall()[0][0] > 0
    gpu_since = "" if start is None else f" where sampled_at >= timestamp '{start}'"
    frames["gpu_samples"] = read_frame(
        conn, f"select {columns(table)} from marts.{table}{gpu_since} order by {order}") if has_gpu else None
    return frames


@dg.multi_asset(
    name="analytics_tables",
    group_name="analytics",
    specs=[dg.AssetSpec(["analytics", name], deps=DEPS, description=desc, group_name="analytics")
           for name, desc in TABLES.items()],
)
def analytics_tables(context: dg.AssetExecutionContext, config: AnalyticsSettings, duckdb: DuckDBResource):
    # pandas and the analytics modules are imported here, not at module level: definitions load faster
    from orchestration.analytics.findings import markdown_table
    from orchestration.analytics.report import build_all

    started = time.monotonic()
    with duckdb.get_connection() as conn:
        frames = read_inputs(conn, window_days=config.window_days)
    has_gpu = frames["gpu_samples"] is not None
    gpu_note = ("marts.fct_gpu_samples analysed" if has_gpu else
                "skipped: marts.fct_gpu_samples does not exist (no nvidia-smi telemetry ingested yet); "
                "GPU waste comes from the executions (gpu_utilization)")
    if not has_gpu:
        context.log.info(f"GPU telemetry {gpu_note}")

    tables = build_all(**frames)

    with duckdb.get_connection() as conn:
        conn.execute("create schema if not exists analytics")
        for name, df in tables.items():
            conn.register("df", df)
            conn.execute(f"create or replace table analytics.{name} as select * from df")
            conn.unregister("df")

    f = tables["findings"]
    window = str(tables["cost_summary"]["period"].iloc[0])
    elapsed = round(time.monotonic() - started, 2)
    for name, df in tables.items():
        meta = {"dagster/row_count": len(df), "table": f"analytics.{name}", "window": window,
                "seconds_for_all_tables": elapsed}
        if name == "findings":
            meta["top_findings"] = dg.MetadataValue.md(markdown_table(
                f, ["priority", "kind", "subject_id", "monthly_saving_usd", "effort", "evidence"], 10))
            meta["monthly_saving_usd_total"] = float(f["monthly_saving_usd"].sum())
        elif name == "waste_summary":
            meta["waste"] = dg.MetadataValue.md(markdown_table(df, ["line", "findings", "monthly_waste_usd", "priority"], 20))
        elif name == "what_if":
            meta["what_if"] = dg.MetadataValue.md(markdown_table(
                df, ["scope", "metric", "baseline", "projected", "change_pct", "target_pct", "meets_target"], 10))
        elif name == "gpu_idle_telemetry":
            meta["status"] = gpu_note
        elif name == "efficiency_scores":
            meta["ranking"] = dg.MetadataValue.md(markdown_table(
                df, ["agent_id", "overall_score", "percentile_overall", "improvement_areas"], 20))
        yield dg.MaterializeResult(asset_key=["analytics", name], metadata=meta)
