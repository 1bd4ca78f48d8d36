"""Analytics over the marts: efficiency scores, token and prompt efficiency, waste, API and
cost recommendations, dynamic allocation and the what-if, as analytics.* tables.

One step computes everything (the logic is in orchestration.analytics, plain functions over
DataFrames) and materializes every table as its own asset.
"""

import datetime as dt
import math
import time
from dataclasses import dataclass

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
    # Rows (executions + LLM calls + API calls of the window) read into pandas at a time. A
    # bigger window is analysed a shard of the agents at a time (and the API calls a group of
    # endpoints at a time; report.build_sharded), with the same tables: the step's memory is
    # a shard's, whatever the fleet's size. At 10M calls: ~0.3 GiB of frames a million rows,
    # ~0.6 GiB at the read's peak (2.3 and 5.1 GiB for the 8.4M rows of the window).
    rows_per_shard: int = 3_000_000


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


def _analysed(table: str) -> str:
    return ", ".join(ANALYSED_COLUMNS[table])


def read_inputs(conn, columns=_analysed, window_days: int = 0) -> dict:
    """build_all's frames from the warehouse: each mart's `columns(table)` in its key order (the
    analysed columns by default), the facts limited to the last `window_days` days
    (`window_start`; 0: all), the agents and reference tables whole, gpu_samples None while
    marts.fct_gpu_samples does not exist. Read through Arrow (read_frame): at 10M calls `.df()`
    ran out of memory."""
    start = window_start(conn, window_days)
    frames = {name: read_frame(conn, f"select {columns(table)} from marts.{table} "
                                     f"where {_since(start) if name in DATED else 'true'} order by {order}")
              for name, (table, order) in FACTS.items()}
    return {**frames, **read_reference(conn, start, columns)}


def _since(start) -> str:
    """The window's condition on usage_date (start None: every day)."""
    return "true" if start is None else f"usage_date >= date '{start}'"


def read_reference(conn, start, columns=_analysed) -> dict:
    """The frames read whole whatever the shards: prices, rate card, and the GPU samples
    from `start` (None while marts.fct_gpu_samples does not exist)."""
    frames = {"prices": read_frame(conn, "select * from reference.model_prices order by all"),
              "rate_card": read_frame(conn, "select * from reference.compute_rate_card order by all")}
    table, order = GPU_SAMPLES
    has_gpu = conn.execute(
        f"select count(*) from information_schema.tables where table_schema = 'marts' and table_name = '{table}'"
    ).fetchall()[0][0] > 0
    gpu_since = "true" if start is None else f"sampled_at >= timestamp '{start}'"
    frames["gpu_samples"] = read_frame(
        conn, f"select {columns(table)} from marts.{table} where {gpu_since} order by {order}") if has_gpu else None
    return frames


@dataclass(frozen=True)
class ShardPlan:
    """How the analysed window is read: the agents in shards and the API calls' endpoints in
    groups (each a list of ids; None: the rows without one), `rows` in the window."""

    start: dt.date | None
    agent_shards: list[list[str | None]]
    endpoint_groups: list[list[str | None]]
    rows: int


def pack(weights: list[tuple[str | None, int]], bins: int) -> list[list[str | None]]:
    """Ids into at most `bins` lists of about equal total weight (largest first, each into
    the lightest list), at most half as many lists as ids, and, given two ids or more, no
    list of one: pandas sums the floats of a group-by with a single group without its usual
    compensation, so a shard of one agent (or a group of one endpoint) could differ from the
    whole frame's table in the last bit. A lone id takes the lightest id of the longest list."""
    bins = max(1, min(bins, len(weights) // 2))
    lists: list[list] = [[] for _ in range(bins)]
    loads = [0] * bins
    for key, n in sorted(weights, key=lambda kv: (-kv[1], kv[0] is None, kv[0] or "")):
        lightest = loads.index(min(loads))
        lists[lightest].append((key, n))
        loads[lightest] += n
    while True:
        single = next((members for members in lists if len(members) == 1), None)
        fullest = max(lists, key=len)
        if single is None or len(fullest) < 3:
            break
        single.append(fullest.pop())  # the fullest list's lightest id (they went in heaviest first)
    return [[key for key, _ in members] for members in lists if members]


def plan_shards(conn, window_days: int, rows_per_shard: int) -> ShardPlan:
    """Enough shards that each holds about `rows_per_shard` rows of the window (executions,
    LLM calls, API calls; an agent's rows are never split), every agent of dim_agents and of
    the facts in one of them; the endpoints likewise in groups of about that many API calls."""
    start = window_start(conn, window_days)
    since = _since(start)
    agents = conn.execute(f"""
        select agent_id, sum(n)::bigint from (
            {" union all ".join(f"select agent_id, count(*) as n from marts.{FACTS[name][0]} where {since} group by all"
                                for name in DATED)}
            union all select agent_id, 0 from marts.dim_agents)
        group by all""").fetchall()
    endpoints = conn.execute(
        f"select endpoint, count(*) from marts.fct_api_calls where {since} group by all").fetchall()
    rows = sum(n for _, n in agents)
    api_rows = sum(n for _, n in endpoints)
    per_shard = max(rows_per_shard, 1)
    return ShardPlan(start, pack(agents, math.ceil(rows / per_shard)), pack(endpoints, math.ceil(api_rows / per_shard)),
                     rows)


def windows_of(conn, start) -> "Windows":
    """report.Windows of the analysed window, from the warehouse: what Windows.of gives for
    the whole frames, and the hours hourly_load spans (executions of a known agent)."""
    import pandas as pd

    from orchestration.analytics.findings import Window
    from orchestration.analytics.report import Windows

    def window(table: str) -> Window:
        first, last = conn.execute(f"select min(usage_date), max(usage_date) from marts.{table} "
                                   f"where {_since(start)}").fetchall()[0]
        return Window() if first is None else Window(pd.Timestamp(first), pd.Timestamp(last))

    # hourly_load groups by agent and hour: executions without an agent do not widen its range
    first_hour, last_hour = conn.execute(
        "select min(date_trunc('hour', \"timestamp\")), max(date_trunc('hour', \"timestamp\")) "
        f"from marts.fct_resource_utilization where {_since(start)} and agent_id is not null").fetchall()[0]
    hours = None if first_hour is None else (pd.Timestamp(first_hour), pd.Timestamp(last_hour))
    return Windows(*(window(FACTS[name][0]) for name in DATED), hours=hours)


def _one_of(column: str, ids: list[str | None]) -> str:
    """SQL: `column` is one of `ids` (None: null)."""
    named = [i for i in ids if i is not None]
    terms = ([f"{column} in ({', '.join(_literal(i) for i in named)})"] if named else [])
    return "(" + " or ".join(terms + ([f"{column} is null"] if None in ids else [])) + ")"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def read_agent_shard(conn, plan: ShardPlan, agents: list[str | None]) -> dict:
    """These agents and their rows of the window, each fact in the order read_inputs gives
    it (that order restricted to these agents)."""
    of_shard = _one_of("agent_id", agents)
    frames = {name: read_frame(conn, f"select {_analysed(table)} from marts.{table} "
                                     f"where {_since(plan.start)} and {of_shard} order by {order}")
              for name, (table, order) in FACTS.items() if name in DATED}
    frames["agents"] = read_frame(conn, f"select {_analysed('dim_agents')} from marts.dim_agents "
                                        f"where {of_shard} order by agent_id")
    return frames


def read_endpoint_group(conn, plan: ShardPlan, endpoints: list[str | None]):
    """Every API call of the window to these endpoints, in read_inputs' order."""
    table, order = FACTS["api_calls"]
    return read_frame(conn, f"select {_analysed(table)} from marts.{table} where {_since(plan.start)} "
                            f"and {_one_of('endpoint', endpoints)} order by {order}")


def prompt_cache_in_warehouse(conn, start, prices, window):
    """fingerprint_prefix_cache over the window's LLM calls, replayed in the warehouse: the
    frame read_inputs gives is in call_id order, which orders the replay's ties."""
    from orchestration.analytics.prompt_cache import prefix_cache_in

    calls = ("(select workspace_id, agent_id, model, prompt_fingerprint, input_tokens, cached_input_tokens, "
             f"epoch_ns(started_at) as t, call_id as n from marts.fct_llm_calls where {_since(start)})")
    return prefix_cache_in(conn, calls, prices, window)


def build_tables(duckdb: DuckDBResource, window_days: int, rows_per_shard: int, log=None) -> tuple[dict, dict]:
    """Every analytics table from the warehouse, whole frames when the window fits in one
    shard, else shard by shard, each read on a connection of its own (kept short: one
    writer per DuckDB file). Returns the tables and how they were read."""
    from orchestration.analytics.report import build_all, build_sharded

    with duckdb.get_connection() as conn:
        plan = plan_shards(conn, window_days, rows_per_shard)
        if len(plan.agent_shards) <= 1:
            frames = read_inputs(conn, window_days=window_days)
    if len(plan.agent_shards) <= 1:
        info = {"agent_shards": 1, "endpoint_groups": 1, "rows": plan.rows,
                "gpu_telemetry": frames["gpu_samples"] is not None}
        return build_all(**frames), info

    with duckdb.get_connection() as conn:
        whole = read_reference(conn, plan.start)
        whole["agents"] = read_frame(conn, f"select {_analysed('dim_agents')} from marts.dim_agents order by agent_id")
        windows = windows_of(conn, plan.start)
        cache = prompt_cache_in_warehouse(conn, plan.start, whole["prices"], windows.llm_calls)

    def shards():
        for i, agents in enumerate(plan.agent_shards):
            if log:
                log(f"agent shard {i + 1} of {len(plan.agent_shards)}: {len(agents)} agents")
            with duckdb.get_connection() as conn:
                frames = read_agent_shard(conn, plan, agents)
            yield frames
            del frames

    def endpoint_groups():
        for endpoints in plan.endpoint_groups:
            with duckdb.get_connection() as conn:
                calls = read_endpoint_group(conn, plan, endpoints)
            yield calls
            del calls

    tables = build_sharded(shards(), endpoint_groups(), whole["agents"], whole["prices"], whole["rate_card"],
                           windows, cache, whole["gpu_samples"])
    return tables, {"agent_shards": len(plan.agent_shards), "endpoint_groups": len(plan.endpoint_groups), "rows": plan.rows,
                    "gpu_telemetry": whole["gpu_samples"] is not None}


@dg.multi_asset(
    name="analytics_tables",
    group_name="analytics",
    specs=[dg.AssetSpec(["analytics", name], deps=DEPS, description=desc, group_name="analytics")
           for name, desc in TABLES.items()],
)
def analytics_tables(context: dg.AssetExecutionContext, config: AnalyticsSettings, duckdb: DuckDBResource):
    # pandas and the analytics modules are imported here, not at module level: definitions load faster
    from orchestration.analytics.findings import markdown_table

    started = time.monotonic()
    tables, read = build_tables(duckdb, config.window_days, config.rows_per_shard, log=context.log.info)
    gpu_note = ("marts.fct_gpu_samples analysed" if read["gpu_telemetry"] else
                "skipped: marts.fct_gpu_samples does not exist (no nvidia-smi telemetry ingested yet); "
                "GPU waste comes from the executions (gpu_utilization)")
    if not read["gpu_telemetry"]:
        context.log.info(f"GPU telemetry {gpu_note}")

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
                "seconds_for_all_tables": elapsed, "rows_analysed": read["rows"],
                "agent_shards": read["agent_shards"], "endpoint_groups": read["endpoint_groups"]}
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
