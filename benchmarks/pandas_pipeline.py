"""The headline marts computed with pandas alone, as a user without the warehouse would:
read every export file (pandas.read_json(lines=True), read_csv, json for the nested
LiteLLM/OTel documents), normalise, merge, group by.

    python benchmarks/pandas_pipeline.py --raw RAW_DIR --ref REF_DIR --out checks.json

REF_DIR holds the reference tables benchmarks/scale.py exports from the built warehouse
(agents, budgets, compute_rate_card, model_prices as Parquet), the same inputs
benchmarks/floor.sql reads. Same semantics as the dbt models and the floor; money is
float64 here (what a pandas user gets), which is exact to the cent at these sizes.
Writes the agreement checks (benchmarks/scale.py CHECKS) as JSON.
"""

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

DATED = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8})$")


def _utc(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, utc=True, format="ISO8601").dt.tz_localize(None)


def _first_copy(df: pd.DataFrame, key: str, latest: bool = False) -> pd.DataFrame:
    """One row per key: the first file by name (the latest, for a restated bill)."""
    return df.sort_values("file", ascending=not latest, kind="stable").drop_duplicates(key)


def _price(events: pd.DataFrame, prices: pd.DataFrame, provider_optional: bool) -> pd.DataFrame:
    """The price in force at started_at: same model (and provider), valid_from <= t < valid_to."""
    events = events.reset_index(drop=True)
    events["_row"] = events.index
    m = events[["_row", "model", "provider", "started_at"]].merge(prices, on="model", suffixes=("", "_p"))
    ok = (m["started_at"] >= m["valid_from"]) & (m["valid_to"].isna() | (m["started_at"] < m["valid_to"]))
    ok &= (m["provider"] == m["provider_p"]) | (m["provider"].isna() if provider_optional else False)
    m = m[ok].drop_duplicates("_row")
    cols = ["input_usd_per_mtok", "cached_input_usd_per_mtok", "cache_write_usd_per_mtok",
            "cache_write_1h_usd_per_mtok", "output_usd_per_mtok"]
    return events.merge(m[["_row", *cols]], on="_row", how="left").drop(columns="_row")


def load_reference(ref: Path) -> dict:
    out = {name: pd.read_parquet(ref / f"{name}.parquet") for name in ("agents", "budgets", "compute_rate_card", "model_prices")}
    p = out["model_prices"]
    for c in p.columns:
        if c.endswith("_per_mtok"):
            p[c] = p[c].astype(float)
    p["valid_from"] = pd.to_datetime(p["valid_from"])
    p["valid_to"] = pd.to_datetime(p["valid_to"])
    card = out["compute_rate_card"]
    out["rates"] = {(r.resource, r.unit): float(r.usd_per_unit) for r in card.itertuples()}
    return out


def read_executions(raw: Path) -> pd.DataFrame:
    parts = []
    for f in sorted((raw / "executions").glob("*.jsonl")):
        df = pd.read_json(f, lines=True, dtype=False)
        if df.empty:
            continue
        compute = pd.json_normalize(df["compute_resources"].tolist())
        llm = pd.json_normalize(df["llm_resources"].tolist())
        storage = pd.json_normalize(df["storage_resources"].tolist())
        parts.append(pd.DataFrame({
            "execution_id": df["execution_id"], "agent_id": df["agent_id"], "workspace_id": df["workspace_id"],
            "status": df["status"], "started_at": _utc(df["timestamp"]),
            "cpu_core_seconds": compute["cpu_usage.core_seconds"],
            "memory_mb_seconds": compute["memory_usage.mb_seconds"],
            "gpu_compute_units": compute.get("gpu_usage.compute_units", pd.Series(np.nan, index=df.index)).fillna(0.0),
            "network_bytes": compute["network_io.bytes_in"] + compute["network_io.bytes_out"],
            "provider": llm["provider"], "model": llm["model"], "input_tokens": llm["input_tokens"],
            "cached_input_tokens": llm["prompt_cache_hits"].fillna(0), "output_tokens": llm["output_tokens"],
            "total_tokens": llm["total_tokens"], "persistent_storage_mb": storage["persistent_storage_mb"].fillna(0.0),
            "file": f.name,
        }))
    return _first_copy(pd.concat(parts, ignore_index=True), "execution_id")


def read_gateway_calls(raw: Path, agents: pd.DataFrame) -> pd.DataFrame:
    parts = []
    for f in sorted((raw / "llm_calls").glob("*.jsonl")):
        df = pd.read_json(f, lines=True, dtype=False)
        if df.empty:
            continue
        cached = df["cached_tokens"].fillna(0) if "cached_tokens" in df else 0
        parts.append(pd.DataFrame({
            "call_id": df["call_id"], "agent_name": df["agent_name"], "provider": df["provider"], "model": df["model"],
            "started_at": _utc(df["started_at"]), "input_tokens": df["prompt_tokens"],
            "uncached_input_tokens": df["prompt_tokens"] - cached, "cached_input_tokens": cached,
            "cache_write_tokens": 0, "cache_write_1h_tokens": 0, "output_tokens": df["completion_tokens"],
            "total_tokens": df["total_tokens"], "latency_ms": df["latency_ms"], "is_success": df["status"] == "success",
            "priority": 1, "file": f.name,
        }))
    calls = pd.concat(parts, ignore_index=True)
    calls = calls.merge(agents[["agent_id", "agent_name", "workspace_id"]], on="agent_name", how="left")
    return calls.drop(columns="agent_name")


def read_litellm(raw: Path, agents: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for f in sorted((raw / "litellm_spend_logs").glob("*.json")):
        for r in json.loads(f.read_text()):
            details = ((r.get("metadata") or {}).get("usage_object") or {}).get("prompt_tokens_details") or {}
            cached = details.get("cached_tokens") or 0  # OpenAI shape: inside prompt tokens
            rows.append({
                "call_id": r["request_id"], "agent_id_raw": r.get("agent_id"), "team_id": r.get("team_id"),
                "provider": r["custom_llm_provider"], "model": DATED.sub("", r["model"]),
                "started_at": r["startTime"], "input_tokens": r["prompt_tokens"],
                "uncached_input_tokens": r["prompt_tokens"] - cached, "cached_input_tokens": cached,
                "cache_write_tokens": 0, "cache_write_1h_tokens": 0, "output_tokens": r["completion_tokens"],
                "total_tokens": r["total_tokens"], "latency_ms": r.get("request_duration_ms"),
                "is_success": (r.get("status") or "success") == "success", "priority": 2, "file": f.name,
            })
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df["started_at"] = _utc(df["started_at"])
    df = df.merge(agents[["agent_id", "workspace_id"]], left_on="agent_id_raw", right_on="agent_id", how="left")
    df["workspace_id"] = df["workspace_id"].fillna(df["team_id"])
    return df.drop(columns=["agent_id_raw", "team_id"])


def read_otel(raw: Path, agents: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for f in sorted((raw / "otel_genai_spans").glob("*.json")):
        for rs in json.loads(f.read_text()).get("resourceSpans", []):
            for ss in rs.get("scopeSpans", []):
                for s in ss.get("spans", []):
                    a = {x["key"]: next(iter(x["value"].values())) for x in s.get("attributes", [])}
                    if "gen_ai.operation.name" not in a:
                        continue  # other telemetry in the same export
                    inp, out = int(a["gen_ai.usage.input_tokens"]), int(a["gen_ai.usage.output_tokens"])
                    read = int(a.get("gen_ai.usage.cache_read.input_tokens", 0))
                    write = int(a.get("gen_ai.usage.cache_creation.input_tokens", 0))
                    start, end = int(s["startTimeUnixNano"]) // 1000, int(s["endTimeUnixNano"]) // 1000
                    rows.append({
                        "call_id": s["spanId"], "agent_key": a.get("gen_ai.agent.id"),
                        "provider": a.get("gen_ai.provider.name"),
                        "model": DATED.sub("", a.get("gen_ai.request.model") or a.get("gen_ai.response.model")),
                        "started_at": pd.Timestamp(start, unit="us"), "input_tokens": inp,
                        "uncached_input_tokens": inp - read - write, "cached_input_tokens": read,
                        "cache_write_tokens": write, "cache_write_1h_tokens": 0, "output_tokens": out,
                        "total_tokens": inp + out, "latency_ms": (end - start) // 1000,
                        "is_success": (s.get("status") or {}).get("code", 0) != 2, "priority": 3, "file": f.name,
                    })
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    by_id = agents.set_index("agent_id")["workspace_id"]
    name_to_id = agents.set_index("agent_name")["agent_id"]
    df["agent_id"] = df["agent_key"].where(df["agent_key"].isin(by_id.index), df["agent_key"].map(name_to_id))
    df["workspace_id"] = df["agent_id"].map(by_id)
    return df.drop(columns="agent_key")


def token_cost(df: pd.DataFrame) -> pd.Series:
    return (df["uncached_input_tokens"] * df["input_usd_per_mtok"] + df["cached_input_tokens"] * df["cached_input_usd_per_mtok"]
            + (df["cache_write_tokens"] - df["cache_write_1h_tokens"]) * df["cache_write_usd_per_mtok"]
            + df["cache_write_1h_tokens"] * df["cache_write_1h_usd_per_mtok"]
            + df["output_tokens"] * df["output_usd_per_mtok"]) / 1e6


def rolling_30d(df: pd.DataFrame, keys: list, column: str) -> pd.Series:
    """Sum over the day and the 29 calendar days before it, per keys."""
    df = df.sort_values([*keys, "usage_date"]).reset_index()
    r = (df.set_index("usage_date").groupby(keys, sort=False)[column].rolling("30D").sum().reset_index(drop=True))
    return pd.Series(r.to_numpy(), index=df["index"])


def run(raw: Path, ref: Path) -> dict:
    reference = load_reference(ref)
    agents, budgets, prices, rates = reference["agents"], reference["budgets"], reference["model_prices"], reference["rates"]

    # ---- API calls
    parts = []
    for f in sorted((raw / "api_calls").glob("*.csv")):
        df = pd.read_csv(f, dtype={"request_id": str, "execution_id": str, "agent_id": str, "workspace_id": str})
        parts.append(df.assign(file=f.name))
    api = _first_copy(pd.concat(parts, ignore_index=True), "request_id")
    api["workspace_id"] = api["workspace_id"].fillna(api["agent_id"].map(agents.set_index("agent_id")["workspace_id"]))
    api["usage_date"] = _utc(api["timestamp"]).dt.normalize()

    # ---- executions, priced
    ex = _price(read_executions(raw), prices, provider_optional=True)
    ex["usage_date"] = ex["started_at"].dt.normalize()
    ex["uncached_input_tokens"] = ex["input_tokens"] - ex["cached_input_tokens"]
    ex["cache_write_tokens"] = ex["cache_write_1h_tokens"] = 0
    ex["token_cost"] = token_cost(ex).fillna(0.0)
    ex["resource_cost"] = (ex["cpu_core_seconds"].round(3) * rates[("cpu", "core_hour")] / 3600
                           + ex["memory_mb_seconds"].round(3) * rates[("memory", "gb_hour")] / (1024 * 3600)
                           + ex["gpu_compute_units"].round(3) * rates[("gpu", "compute_unit")]
                           + ex["persistent_storage_mb"].round(3) * rates[("storage", "gb_month")] / 1024
                           + ex["network_bytes"] * rates[("network", "gb")] / 1073741824)

    # ---- LLM calls from every log, one per call_id (gateway, then LiteLLM, then OTel)
    calls = pd.concat([read_gateway_calls(raw, agents), read_litellm(raw, agents), read_otel(raw, agents)], ignore_index=True)
    calls = calls.sort_values(["priority", "file"], kind="stable").drop_duplicates("call_id")
    calls = _price(calls, prices, provider_optional=False)
    calls["usage_date"] = calls["started_at"].dt.normalize()
    calls["token_cost"] = token_cost(calls).fillna(0.0)
    calls["outside"] = calls["priority"] > 1
    for c in ("workspace_id", "agent_id"):
        calls[c] = calls[c].fillna("(unattributed)")
    outside = calls[calls["outside"]]

    # ---- mart_daily_usage
    g4 = ["workspace_id", "agent_id", "model", "usage_date"]
    e = ex.groupby(g4).agg(executions=("execution_id", "size"), e_tokens=("total_tokens", "sum"),
                           e_cost=("token_cost", "sum"), r_cost=("resource_cost", "sum"))
    c = calls.groupby(g4).agg(llm_calls=("call_id", "size"))
    o = outside.groupby(g4).agg(o_tokens=("total_tokens", "sum"), o_cost=("token_cost", "sum"))
    api_m = api.merge(ex[["execution_id", "model"]], on="execution_id", how="left")
    api_m["model"] = api_m["model"].fillna("(no execution)")
    a = api_m.groupby(g4).agg(api_calls=("request_id", "size"), api_cost=("cost_usd", "sum"))
    daily_usage = e.join([c, o, a], how="outer").fillna(0)
    daily_usage["total_tokens"] = daily_usage["e_tokens"] + daily_usage["o_tokens"]
    daily_usage["total_cost"] = daily_usage[["e_cost", "r_cost", "o_cost", "api_cost"]].sum(axis=1)

    # ---- direct cost per agent x day (every agent, every active day)
    g3 = ["workspace_id", "agent_id", "usage_date"]
    ex["direct"] = ex["resource_cost"] + ex["token_cost"]
    direct_parts = pd.concat([
        ex.groupby(g3).agg(executions=("execution_id", "size"), cost=("direct", "sum")),
        api.groupby(g3).agg(api_calls=("request_id", "size"), cost=("cost_usd", "sum")),
        outside.groupby(g3).agg(cost=("token_cost", "sum")),
    ]).fillna(0).groupby(level=[0, 1, 2]).sum()
    subjects = pd.concat([agents[["workspace_id", "agent_id"]], direct_parts.reset_index()[["workspace_id", "agent_id"]]]).drop_duplicates()
    days = pd.DataFrame({"usage_date": sorted(direct_parts.reset_index()["usage_date"].unique())})
    direct = subjects.merge(days, how="cross").merge(direct_parts.reset_index(), on=g3, how="left").fillna(
        {"executions": 0, "api_calls": 0, "cost": 0.0})

    # ---- the cloud bill: one copy per line id (latest file), attributed by tags, split
    parts = []
    for f in sorted((raw / "focus").glob("*.csv")):
        parts.append(pd.read_csv(f, na_values=["NULL"], keep_default_na=False, dtype={"Id": str, "Tags": str}).assign(file=f.name))
    lines = _first_copy(pd.concat(parts, ignore_index=True), "Id", latest=True)
    tags = lines["Tags"].map(lambda t: json.loads(t) if isinstance(t, str) and t else {})
    lines["tag_agent"] = tags.map(lambda t: t.get("agent_id") or t.get("agent"))
    tag_ws = tags.map(lambda t: t.get("workspace_id") or t.get("workspace"))
    lines["workspace_id"] = tag_ws.fillna(lines["tag_agent"].map(agents.set_index("agent_id")["workspace_id"]))
    lines["level"] = np.where(lines["tag_agent"].notna(), "agent", np.where(lines["workspace_id"].notna(), "workspace", "shared"))
    start = pd.to_datetime(lines["ChargePeriodStart"])
    end = pd.to_datetime(lines["ChargePeriodEnd"])
    lines["start_day"] = start.dt.normalize()
    lines["end_day"] = np.where((end.dt.normalize() > start.dt.normalize()) & (end == end.dt.normalize()),
                                end.dt.normalize(), end.dt.normalize() + pd.Timedelta(days=1))
    lines["billed"] = lines["BilledCost"].astype(float)
    weighted = direct[(direct["cost"] > 0) & (direct["agent_id"] != "(unattributed)")]
    split = lines[lines["level"] != "agent"].copy()
    split["usage_date"] = [pd.date_range(s, e - pd.Timedelta(days=1)) for s, e in zip(split["start_day"], split["end_day"])]
    split = split.explode("usage_date")
    shared = split[split["level"] == "shared"].merge(weighted, on="usage_date", suffixes=("_line", ""))
    per_ws = split[split["level"] == "workspace"].merge(weighted, on=["usage_date", "workspace_id"], suffixes=("_line", ""))
    if "workspace_id_line" in shared:
        shared = shared.drop(columns="workspace_id_line")
    weights = pd.concat([shared, per_ws]).groupby(["Id", "workspace_id", "agent_id"], as_index=False).agg(
        weight=("cost", "sum"), billed=("billed", "first"), start_day=("start_day", "first"))
    weights["amount"] = weights["billed"] * weights["weight"] / weights.groupby("Id")["weight"].transform("sum")
    unallocated = lines[(lines["level"] != "agent") & ~lines["Id"].isin(weights["Id"])]
    cloud = pd.concat([
        weights[["workspace_id", "agent_id", "start_day", "amount"]],
        lines[lines["level"] == "agent"].rename(columns={"tag_agent": "agent_id", "billed": "amount"})[
            ["workspace_id", "agent_id", "start_day", "amount"]],
        pd.DataFrame({"workspace_id": unallocated["workspace_id"].fillna("(shared)"), "agent_id": "(unallocated)",
                      "start_day": unallocated["start_day"], "amount": unallocated["billed"]}),
    ]).rename(columns={"start_day": "usage_date"}).groupby(g3)["amount"].sum()

    # ---- mart_infrastructure_cost_allocation
    alloc = direct.set_index(g3)[["cost"]].join(cloud, how="outer").fillna(0.0)
    alloc["total_cost"] = alloc["cost"] + alloc["amount"]
    alloc = alloc.reset_index()
    alloc["rolling_30d_cost"] = rolling_30d(alloc, ["workspace_id", "agent_id"], "total_cost")

    # ---- mart_token_budget_tracking
    events = pd.concat([ex[[*g3, "total_tokens"]], outside[outside["agent_id"] != "(unattributed)"][[*g3, "total_tokens"]]])
    usage = events.groupby(g3, as_index=False)["total_tokens"].sum()
    budget = budgets[["workspace_id", "agent_id", "daily_token_budget"]].merge(days, how="cross").merge(usage, on=g3, how="left")
    budget["total_tokens"] = budget["total_tokens"].fillna(0).astype("int64")
    budget["rolling_30d_tokens"] = rolling_30d(budget, ["workspace_id", "agent_id"], "total_tokens")
    b = budget["daily_token_budget"].astype("int64")
    status = np.where(budget["total_tokens"] > b, "over_budget",
                      np.where(budget["total_tokens"] * 100 > b * 80, "near_limit", "within_budget"))

    return {
        "daily_usage.rows": len(daily_usage),
        "daily_usage.executions": int(daily_usage["executions"].sum()),
        "daily_usage.llm_calls": int(daily_usage["llm_calls"].sum()),
        "daily_usage.api_calls": int(daily_usage["api_calls"].sum()),
        "daily_usage.total_tokens": int(daily_usage["total_tokens"].sum()),
        "daily_usage.total_cost": float(daily_usage["total_cost"].sum()),
        "allocation.rows": len(alloc),
        "allocation.total_cost": float(alloc["total_cost"].sum()),
        "allocation.rolling_30d_cost": float(alloc["rolling_30d_cost"].sum()),
        "budget.rows": len(budget),
        "budget.daily_total_tokens": int(budget["total_tokens"].sum()),
        "budget.rolling_30d_tokens": int(budget["rolling_30d_tokens"].sum()),
        "budget.over_budget_days": int((status == "over_budget").sum()),
        "budget.near_limit_days": int((status == "near_limit").sum()),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--raw", type=Path, required=True)
    parser.add_argument("--ref", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    args.out.write_text(json.dumps(run(args.raw, args.ref), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
