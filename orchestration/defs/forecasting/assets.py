"""Forecasts, forecast accuracy, anomalies and budget projections (one step, four tables).

The pure logic is in orchestration/analytics/{forecasting,budget_projection}.py; this
module reads the marts, runs it and writes analytics.*.
"""

import base64
import io
import time
from typing import TYPE_CHECKING

import dagster as dg
from dagster_duckdb import DuckDBResource

from orchestration.defs.resources import read_frame
from orchestration.settings import FORECAST_WORKERS

if TYPE_CHECKING:  # pandas, numpy and statsmodels are imported when the step runs: definitions load faster
    import pandas as pd

MARTS = ["mart_daily_usage", "fct_resource_utilization", "fct_llm_calls", "mart_token_budget_tracking", "dim_agents"]

DETAIL_SQL = """
with usage as (
    select coalesce(workspace_id, '(unattributed)') as workspace_id, coalesce(agent_id, '(unattributed)') as agent_id,
           model, usage_date,
           sum(total_tokens)::double as tokens, sum(api_calls)::double as api_calls,
           sum(token_cost)::double as token_cost, sum(cpu_cost)::double as cpu_cost,
           sum(memory_cost)::double as memory_cost, sum(gpu_cost)::double as gpu_cost,
           sum(storage_cost)::double as storage_cost, sum(network_cost)::double as network_cost,
           sum(api_cost)::double as api_cost, sum(total_cost)::double as total_cost
    from marts.mart_daily_usage group by all
), resources as (
    select workspace_id, agent_id, model_name as model, usage_date,
           sum(cpu_core_seconds)::double / 3600 as cpu_core_hours,
           sum(coalesce(gpu_compute_units, 0))::double as gpu_units,
           sum(coalesce(persistent_storage_mb, 0))::double as storage_growth_mb
    from marts.fct_resource_utilization group by all
)
select coalesce(u.workspace_id, r.workspace_id) as workspace_id, coalesce(u.agent_id, r.agent_id) as agent_id,
       coalesce(u.model, r.model) as model, coalesce(u.usage_date, r.usage_date) as usage_date,
       coalesce(u.tokens, 0) as tokens, coalesce(r.cpu_core_hours, 0) as cpu_core_hours,
       coalesce(r.gpu_units, 0) as gpu_units, coalesce(u.api_calls, 0) as api_calls,
       coalesce(r.storage_growth_mb, 0) as storage_growth_mb,
       coalesce(u.token_cost, 0) as token_cost, coalesce(u.cpu_cost, 0) as cpu_cost,
       coalesce(u.memory_cost, 0) as memory_cost, coalesce(u.gpu_cost, 0) as gpu_cost,
       coalesce(u.storage_cost, 0) as storage_cost, coalesce(u.network_cost, 0) as network_cost,
       coalesce(u.api_cost, 0) as api_cost, coalesce(u.total_cost, 0) as total_cost
from usage u full outer join resources r
  on u.workspace_id = r.workspace_id and u.agent_id = r.agent_id and u.model = r.model and u.usage_date = r.usage_date
order by all  -- a fixed row order: float sums in pandas then give the same bits every build
"""

# The calls summed to workspace x hour in DuckDB, for build_hourly_series: at 10M calls the
# step read 9.8M rows into pandas only to sum them there.
HOURLY_CALLS_SQL = """
select coalesce(workspace_id, '(unattributed)') as workspace_id, date_trunc('hour', started_at) as started_at,
       coalesce(sum(total_tokens), 0)::bigint as total_tokens, count(*) as llm_calls
from marts.fct_llm_calls where started_at is not null
group by all order by all
"""


class ForecastSettings(dg.Config):
    horizon_days: int = 30
    hourly_horizon_days: int = 7
    backtest_folds: int = 2
    n_paths: int = 1000
    # 7 (default): model selection (the backtests, ~80% of a series' cost) on the history to
    # the last Sunday, each run refitting the chosen model on all of it; stored selections
    # are reused while that history is unchanged, so a daily run backtests once a week (when
    # its history reaches a new Sunday) and where late data changed the selected history. A
    # series too young to backtest on that history is selected on all of it. 1: select on
    # every run with all the history.
    reselect_every_days: int = 7
    # True (default): the chosen model's parameters are fitted on that same history to the
    # Sunday and kept with the selection; each run filters all the history through them
    # instead of fitting again (~40% of a reused series' remaining cost; as accurate on the
    # 1M benchmark warehouse, benchmarks/forecast_reselect.py). False: refit every run.
    keep_params: bool = True


def fan_chart_png(history: "pd.Series", forecast: "pd.DataFrame", title: str) -> str:
    """Base64 PNG: history, forecast mean and 80%/95% bands."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.2), dpi=90)
    ax.plot(history.index, history.to_numpy(), color="black", lw=1.2, label="actual")
    ax.fill_between(forecast["ts"], forecast["lower_95"], forecast["upper_95"], color="tab:blue", alpha=0.18, label="95%")
    ax.fill_between(forecast["ts"], forecast["lower_80"], forecast["upper_80"], color="tab:blue", alpha=0.35, label="80%")
    ax.plot(forecast["ts"], forecast["mean"], color="tab:blue", lw=1.5, label="forecast mean")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _write(duckdb: DuckDBResource, tables: "dict[str, pd.DataFrame]") -> None:
    with duckdb.get_connection() as conn:
        conn.execute("create schema if not exists analytics")
        for name, df in tables.items():
            conn.register("df_view", df)
            conn.execute(f"create or replace table analytics.{name} as select * from df_view")
            conn.unregister("df_view")


def _md(df: "pd.DataFrame", n: int = 10) -> str:
    """A markdown table of the first n rows (numbers to 4 significant digits)."""
    if not len(df):
        return "(no rows)"
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in df.head(n).itertuples(index=False)]
    return "\n".join(lines)


@dg.multi_asset(
    name="forecasts",
    group_name="forecasting",
    specs=[
        dg.AssetSpec(["analytics", "forecasts"], kinds={"python", "duckdb"},
                     deps=[dg.AssetKey(["marts", m]) for m in MARTS],
                     description="Daily (and hourly where dense) forecasts per workspace x agent, workspace and total, "
                                 "for tokens, CPU core-hours, GPU units, API calls, storage growth, and derived cost: "
                                 "mean and 80%/95% intervals, the model chosen by backtest."),
        dg.AssetSpec(["analytics", "forecast_accuracy"], kinds={"python", "duckdb"},
                     deps=[dg.AssetKey(["marts", m]) for m in MARTS],
                     description="Per series: rolling-origin backtest MASE and 80%/95% coverage of the chosen model "
                                 "and of seasonal naive."),
        dg.AssetSpec(["analytics", "forecast_anomalies"], kinds={"python", "duckdb"},
                     deps=[dg.AssetKey(["marts", m]) for m in MARTS],
                     description="Backtested days whose actual fell outside the 95% interval, with size and likely driver."),
        dg.AssetSpec(["analytics", "forecast_model_selection"], kinds={"python", "duckdb"},
                     deps=[dg.AssetKey(["marts", m]) for m in MARTS],
                     description="Per series: the backtest that chose its model (every candidate, every fold "
                                 "point). Later runs reuse it while the history it saw is unchanged and only refit "
                                 "the chosen model."),
        dg.AssetSpec(["analytics", "budget_projections"], kinds={"python", "duckdb"},
                     deps=[dg.AssetKey(["marts", m]) for m in MARTS],
                     description="Every budget (daily tokens, monthly tokens, monthly cost): projected end-of-period "
                                 "usage, probability of breaching, expected breach date."),
    ],
)
def forecasts(context: dg.AssetExecutionContext, config: ForecastSettings, duckdb: DuckDBResource):
    import numpy as np
    import pandas as pd

    from orchestration.analytics import budget_projection as bp
    from orchestration.analytics import forecasting as fc

    started = time.perf_counter()
    with duckdb.get_connection() as conn:
        detail = read_frame(conn, DETAIL_SQL)
    as_of = pd.Timestamp(detail["usage_date"].max())
    series = fc.build_daily_series(detail, as_of)
    # the worker processes start (and import statsmodels) while the rest is read; none for a
    # warehouse with too few series to spread (forecast_many runs those in this process)
    workers = fc.pool_size(series["series_id"].nunique(), FORECAST_WORKERS)
    with fc.forecast_pool(workers) as pool:
        with duckdb.get_connection() as conn:
            calls = read_frame(conn, HOURLY_CALLS_SQL)
            budgets = conn.execute(
                "select workspace_id, agent_id, daily_token_budget, monthly_token_budget, "
                "monthly_cost_budget_usd::double as monthly_cost_budget_usd from marts.dim_agents order by all").df()
            actuals = conn.execute(
                "select agent_id, usage_date, daily_total_tokens::double as tokens, daily_total_cost::double as cost_usd "
                "from marts.mart_token_budget_tracking order by all").df()
            stored = conn.execute(
                "select count(*) from information_schema.tables where table_schema = 'analytics' "
                "and table_name = 'forecast_model_selection'").fetchall()[0][0]
            stored = conn.execute("select * from analytics.forecast_model_selection").df() if stored else None
        selections = fc.selections_from_frame(stored) if stored is not None and len(stored) else {}

        daily_cfg = fc.ForecastConfig(horizon=config.horizon_days, season=7, backtest_folds=config.backtest_folds,
                                      backtest_horizon=7, n_paths=config.n_paths, models=fc.DAILY_MODELS, freq="D",
                                      reselect_days=config.reselect_every_days, keep_params=config.keep_params)
        daily = fc.forecast_many(series, daily_cfg, workers=FORECAST_WORKERS, selections=selections, pool=pool)

        hourly_series = fc.build_hourly_series(calls)
        if len(hourly_series):
            hourly_cfg = fc.ForecastConfig(horizon=config.hourly_horizon_days * 24, season=24,
                                           backtest_folds=config.backtest_folds, backtest_horizon=24,
                                           n_paths=config.n_paths, models=fc.HOURLY_MODELS, freq="h",
                                           reselect_days=config.reselect_every_days, keep_params=config.keep_params)
            hourly = fc.forecast_many(hourly_series, hourly_cfg, workers=FORECAST_WORKERS,
                                      selections=selections, pool=pool)
        else:
            hourly = fc.ForecastRun(pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), {})

    # Cost from the token and compute forecasts at current unit prices.
    dates = pd.date_range(as_of + pd.Timedelta(days=1), periods=config.horizon_days, freq="D")
    prices = bp.unit_prices(detail.groupby(["agent_id", "usage_date"], as_index=False).sum(numeric_only=True), as_of)
    agents = series[series["level"] == "agent"][["workspace_id", "agent_id"]].drop_duplicates()
    # each agent's unit prices looked up, not filtered from the frame per agent (the last row of a
    # metric wins, as to_dict() of a filter gives)
    agent_prices: dict[str, dict[str, float]] = {}
    for agent, metric, price in zip(prices["agent_id"], prices["metric"], prices["usd_per_unit"]):
        agent_prices.setdefault(agent, {})[metric] = price
    token_paths, cost_by_agent, cost_rows = {}, {}, []
    for a in agents.itertuples():
        metric_paths = {m: daily.paths.get(f"daily|agent|{a.workspace_id}|{a.agent_id}|{m}") for m in fc.METRICS}
        token_paths[a.agent_id] = metric_paths["tokens"]
        cp = bp.cost_paths(metric_paths, agent_prices.get(a.agent_id, {}))
        if cp is not None:
            cost_by_agent[a.agent_id] = cp
            cost_rows.append(("agent", a.workspace_id, a.agent_id, cp))
    if cost_by_agent:
        cost_rows.append(("total", "*", "*", sum(cost_by_agent.values())))
    # one frame for every cost series, stacked once (a DataFrame per agent and a concat of them
    # took ~7 s for the 1,000 agents of a 1M-call warehouse)
    cost_parts = []
    for level, ws, agent, cp in cost_rows:
        cols = fc.path_columns(dates.to_numpy(), cp)
        cols.update(series_id=f"daily|{level}|{ws}|{agent}|cost_usd", grain="daily", level=level, workspace_id=ws,
                    agent_id=agent, metric="cost_usd", step=np.arange(1, len(dates) + 1), model="derived",
                    transform="none", backtest_mase=np.nan, n_obs=np.nan, last_actual_ts=as_of,
                    method_note="sum of forecast paths x unit prices of the last 7 days")
        cost_parts.append(fc.Part(cols, len(dates)))
    cost_frames = [fc.stack(cost_parts)] if cost_parts else []

    forecasts_df = pd.concat([daily.forecasts, hourly.forecasts, *cost_frames], ignore_index=True)
    forecasts_df = forecasts_df[daily.forecasts.columns]
    forecasts_df["as_of_date"] = as_of.date()
    forecasts_df["forecast_date"] = pd.to_datetime(forecasts_df["ts"]).dt.date
    accuracy_df = pd.concat([daily.accuracy, hourly.accuracy], ignore_index=True)
    anomalies_df = fc.find_anomalies(daily.backtests, detail)
    projections_df = bp.project_budgets(budgets, actuals, token_paths, cost_by_agent, dates, as_of)

    selection_df = pd.concat([daily.selections, hourly.selections], ignore_index=True)
    _write(duckdb, {"forecasts": forecasts_df, "forecast_accuracy": accuracy_df,
                    "forecast_anomalies": anomalies_df, "budget_projections": projections_df,
                    "forecast_model_selection": selection_df})

    # Metadata: fan chart of total daily tokens, previews.
    total_id = "daily|total|*|*|tokens"
    hist = series[series["series_id"] == total_id].set_index("ts")["value"]
    total_fc = forecasts_df[forecasts_df["series_id"] == total_id]
    png = fan_chart_png(hist, total_fc, f"Total tokens per day: forecast ({total_fc['model'].iloc[0]}) with 80%/95% intervals") if len(total_fc) else None
    plot_md = f"![forecast fan](data:image/png;base64,{png})" if png else "(no total series)"
    elapsed = time.perf_counter() - started
    models = accuracy_df["model"].value_counts().to_dict() if len(accuracy_df) else {}
    daily_acc = accuracy_df[accuracy_df["grain"] == "daily"] if len(accuracy_df) else accuracy_df
    yield dg.MaterializeResult(
        asset_key=["analytics", "forecasts"],
        metadata={
            "dagster/row_count": len(forecasts_df),
            "series": int(forecasts_df["series_id"].nunique()),
            "as_of_date": str(as_of.date()),
            "horizon_days": config.horizon_days,
            "models_chosen": dg.MetadataValue.json(models),
            "selections_reused": daily.selections_reused + hourly.selections_reused,
            "selections_made": int(selection_df["series_id"].nunique()) - daily.selections_reused - hourly.selections_reused,
            "worker_processes": workers,
            "seconds": round(elapsed, 1),
            "forecast_fan_total_tokens": dg.MetadataValue.md(plot_md),
            "preview": dg.MetadataValue.md(_md(total_fc[["forecast_date", "mean", "lower_80", "upper_80", "lower_95", "upper_95", "model"]], 14)),
        },
    )
    yield dg.MaterializeResult(
        asset_key=["analytics", "forecast_accuracy"],
        metadata={
            "dagster/row_count": len(accuracy_df),
            "median_mase": float(daily_acc["mase"].median()) if len(daily_acc) else None,
            "median_naive_mase": float(daily_acc["naive_mase"].median()) if len(daily_acc) else None,
            "coverage_80": float(daily_acc["coverage_80"].mean()) if len(daily_acc) else None,
            "coverage_95": float(daily_acc["coverage_95"].mean()) if len(daily_acc) else None,
            "preview": dg.MetadataValue.md(_md(accuracy_df[["series_id", "model", "mase", "naive_mase", "coverage_80", "coverage_95"]]
                                               if len(accuracy_df) else accuracy_df)),
        },
    )
    yield dg.MaterializeResult(
        asset_key=["analytics", "forecast_anomalies"],
        metadata={"dagster/row_count": len(anomalies_df),
                  "preview": dg.MetadataValue.md(_md(anomalies_df[["usage_date", "series_id", "actual", "expected", "direction",
                                                                   "size_pct", "driver_agent_id", "driver_model"]]))},
    )
    yield dg.MaterializeResult(
        asset_key=["analytics", "forecast_model_selection"],
        metadata={"dagster/row_count": len(selection_df),
                  "series": int(selection_df["series_id"].nunique()),
                  "reused": daily.selections_reused + hourly.selections_reused,
                  "parameters_kept": int((selection_df.drop_duplicates("series_id")["params"] != "").sum()),
                  "selected_through": str(selection_df["selected_through"].max()) if len(selection_df) else None},
    )
    likely = projections_df[projections_df["p_breach"] >= 0.5] if len(projections_df) else projections_df
    yield dg.MaterializeResult(
        asset_key=["analytics", "budget_projections"],
        metadata={"dagster/row_count": len(projections_df), "likely_breaches": len(likely),
                  "preview": dg.MetadataValue.md(_md(likely[["agent_id", "budget_type", "budget", "projected_end_of_period",
                                                             "p_breach", "expected_breach_date"]] if len(likely) else likely, 20))},
    )
