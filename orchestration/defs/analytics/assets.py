"""Analytics over the marts: efficiency scores, token and prompt efficiency, waste, API and
cost recommendations, dynamic allocation and the what-if, as analytics.* tables.

One step computes everything (the logic is in orchestration.analytics, plain functions over
DataFrames) and materializes every table as its own asset.
"""

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
MARTS = ["fct_resource_utilization", "fct_llm_calls", "fct_api_calls", "dim_agents"]
DEPS = [dg.AssetKey(["marts", m]) for m in MARTS] + [
    dg.AssetKey(["reference", "model_prices"]), dg.AssetKey(["reference", "compute_rate_card"])]


@dg.multi_asset(
    name="analytics_tables",
    group_name="analytics",
    specs=[dg.AssetSpec(["analytics", name], deps=DEPS, description=desc, group_name="analytics")
           for name, desc in TABLES.items()],
)
def analytics_tables(context: dg.AssetExecutionContext, duckdb: DuckDBResource):
    # pandas and the analytics modules are imported here, not at module level: definitions load faster
    from orchestration.analytics.findings import markdown_table
    from orchestration.analytics.report import build_all

    started = time.monotonic()
    # The lineage columns (source_file, source_line, source_record) are not analysed: they stay
    # in DuckDB. Frames are read in chunks (read_frame): at 10M calls `.df()` ran out of memory.
    with duckdb.get_connection() as conn:
        frames = {name: read_frame(conn, sql) for name, sql in {
            "executions": "select * exclude (source_file, source_line) from marts.fct_resource_utilization order by execution_id",
            "llm_calls": "select * exclude (source_file, source_record) from marts.fct_llm_calls order by call_id",
            "api_calls": "select * from marts.fct_api_calls order by request_id",
            "agents": "select * from marts.dim_agents order by agent_id",
            "prices": "select * from reference.model_prices order by all",
            "rate_card": "select * from reference.compute_rate_card order by all",
        }.items()}
        has_gpu = conn.execute(
            "select count(*) from information_schema.tables where table_schema = 'marts' and table_name = 'fct_gpu_samples'"
        ).fetchall()[0][0] > 0
        gpu_samples = read_frame(
            conn, "select * exclude (source_file, source_line) from marts.fct_gpu_samples order by all") if has_gpu else None
    gpu_note = ("marts.fct_gpu_samples analysed" if has_gpu else
                "skipped: marts.fct_gpu_samples does not exist (no nvidia-smi telemetry ingested yet); "
                "GPU waste comes from the executions (gpu_utilization)")
    if not has_gpu:
        context.log.info(f"GPU telemetry {gpu_note}")

    tables = build_all(gpu_samples=gpu_samples, **frames)

    with duckdb.get_connection() as conn:
        conn.execute("create schema if not exists analytics")
        for name, df in tables.items():
            conn.register("df", df)
            conn.execute(f"create or replace table analytics.{name} as select * from df")
            conn.unregister("df")

    f = tables["findings"]
    elapsed = round(time.monotonic() - started, 2)
    for name, df in tables.items():
        meta = {"dagster/row_count": len(df), "table": f"analytics.{name}", "seconds_for_all_tables": elapsed}
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
