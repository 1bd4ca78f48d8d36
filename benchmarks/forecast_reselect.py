"""Model selection every run against once a week: accuracy and cost, day after day.

    python benchmarks/forecast_reselect.py --duckdb /tmp/bench/h/1m/warehouse.duckdb [--series 400] [--origins 14]

A built warehouse's daily series (the forecast step's own: `build_daily_series` over its
DETAIL_SQL) are sampled (`--series`, seeded). For each of the last `--origins` days that
still have 7 days after them, every sampled series is cut at that day and forecast the way
the daily build does (`forecast_many`, one process per core, horizon 30, 1,000 paths, the
previous day's stored selections offered for reuse), once with `reselect_days=1` (select
on all the history every run) and once with `reselect_days=7` (select on the history to
the last Sunday, reuse that choice all week, refit the chosen model every run), and once
weekly with the chosen model's parameters kept too (`keep_params`: fitted on the history to
the Sunday, every run filtering all the history through them). The next 7
days are scored: MASE of the median (scaled by the in-sample seasonal-naive MAE, m = 7)
and the share inside the 80% / 95% intervals. Printed: per mode the mean and median MASE,
the coverages, the seconds per day and the ratios weekly / every run and kept / weekly.
"""

import argparse
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from orchestration.analytics import forecasting as fc  # noqa: E402
from orchestration.defs.forecasting.assets import DETAIL_SQL  # noqa: E402

HOLDOUT = 7


def sample_series(path: str, n: int, seed: int) -> pd.DataFrame:
    with duckdb.connect(path, read_only=True) as conn:
        detail = conn.execute(DETAIL_SQL).df()
    series = fc.build_daily_series(detail, pd.Timestamp(detail["usage_date"].max()))
    ids = series["series_id"].drop_duplicates()
    keep = ids.sample(min(n, len(ids)), random_state=seed)
    return series[series["series_id"].isin(keep)].reset_index(drop=True)


def run(series: pd.DataFrame, origins: list, reselect: int, workers: int,
        keep_params: bool = False) -> tuple[pd.DataFrame, list[float]]:
    cfg = fc.ForecastConfig(reselect_days=reselect, keep_params=keep_params, seed=0)
    actual = series.set_index(["series_id", "ts"])["value"]
    selections, scores, seconds = {}, [], []
    for origin in origins:
        cut = series[series["ts"] <= origin]
        started = time.perf_counter()
        out = fc.forecast_many(cut, cfg, workers=workers, selections=selections)
        seconds.append(time.perf_counter() - started)
        with duckdb.connect() as conn:  # stored and read back as the asset does
            conn.register("s", out.selections)
            selections = fc.selections_from_frame(conn.execute("select * from s").df())
        f = out.forecasts[out.forecasts["step"] <= HOLDOUT]
        for sid, g in f.groupby("series_id"):
            history = cut.loc[cut["series_id"] == sid, "value"].to_numpy()
            truth = actual.loc[sid].reindex(pd.DatetimeIndex(g["ts"])).to_numpy()
            scale = fc.mase_scale(history, 7)
            scores.append({"origin": origin, "series_id": sid, "model": g["model"].iloc[0],
                           "mase": float(np.mean(np.abs(truth - g["median"].to_numpy())) / scale),
                           "cov80": float(np.mean((truth >= g["lower_80"].to_numpy()) & (truth <= g["upper_80"].to_numpy()))),
                           "cov95": float(np.mean((truth >= g["lower_95"].to_numpy()) & (truth <= g["upper_95"].to_numpy())))})
    return pd.DataFrame(scores), seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duckdb", required=True, help="a built warehouse (e.g. the scale benchmark's 1M one)")
    parser.add_argument("--series", type=int, default=400)
    parser.add_argument("--origins", type=int, default=14)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    series = sample_series(args.duckdb, args.series, args.seed)
    last = series["ts"].max()
    origins = list(pd.date_range(end=last - pd.Timedelta(days=HOLDOUT), periods=args.origins, freq="D"))
    print(f"{series['series_id'].nunique()} series of {args.duckdb}, origins {origins[0]:%Y-%m-%d} .. "
          f"{origins[-1]:%Y-%m-%d} ({len(origins)} days), each scored on the next {HOLDOUT} days\n")
    modes = {"every run": (1, False), "weekly (last Sunday)": (7, False), "weekly, parameters kept": (7, True)}
    rows, per_day = [], {}
    for label, (reselect, keep_params) in modes.items():
        scores, seconds = run(series, origins, reselect, args.workers, keep_params)
        # the first day has nothing stored to reuse in any mode: the steady state is the rest
        per_day[label] = float(np.mean(seconds[1:])) if len(seconds) > 1 else seconds[0]
        rows.append({"selection": label, "forecasts": len(scores), "mean MASE": scores["mase"].mean(),
                     "median MASE": scores["mase"].median(), "cov80": scores["cov80"].mean(),
                     "cov95": scores["cov95"].mean(), "s/day (first)": seconds[0], "s/day (rest)": per_day[label]})
    pd.set_option("display.width", 200)
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print("\nseconds per day after the first:")
    print(f"weekly / every run: {per_day['weekly (last Sunday)'] / per_day['every run']:.3f}")
    print(f"weekly with parameters kept / weekly: {per_day['weekly, parameters kept'] / per_day['weekly (last Sunday)']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
