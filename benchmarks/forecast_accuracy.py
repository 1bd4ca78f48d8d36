"""Forecast accuracy on real data: Alibaba ServeGen per-model LLM request rates.

    python benchmarks/forecast_accuracy.py [--holdout-days 3] [--seed 0]

Data: ../shared/real-data/alibaba_servegen/servegen_client_rate_traces.csv.gz relative to
the repo root (see its PROVENANCE.md): per client and 600 s window, the mean request rate
of Alibaba Cloud Model Studio clients over 14 days, for three language models (m-large,
m-mid, m-small). Per model: requests per window = Σ over clients rate_rps × 600, summed to
hours (336 hourly points). The last `--holdout-days` days are held out; the forecaster of
orchestration/analytics/forecasting.py (model chosen by its own rolling-origin backtest on
the training part, period 24) forecasts them, and so does seasonal naive (same day's hour
yesterday, with its residual-based intervals). Printed side by side: MASE (scaled by the
in-sample seasonal-naive MAE, m = 24; point forecast = median of the
paths) and the share of held-out hours inside the 80% and
95% intervals.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from orchestration.analytics import forecasting as fc  # noqa: E402

DATA = REPO.parent / "shared" / "real-data" / "alibaba_servegen" / "servegen_client_rate_traces.csv.gz"
WINDOW_S = 600


def hourly_requests(path: Path = DATA) -> dict[str, pd.Series]:
    """Per language model: requests per hour over the 14 days (a nominal start date; the
    trace only gives seconds since its start)."""
    df = pd.read_csv(path, usecols=["category", "model", "window_start_s", "rate_rps"])
    df = df[df["category"] == "language"]
    df["requests"] = df["rate_rps"].fillna(0) * WINDOW_S
    df["hour"] = df["window_start_s"] // 3600
    out = {}
    for model, g in df.groupby("model"):
        h = g.groupby("hour")["requests"].sum()
        h = h.reindex(range(int(h.index.max()) + 1), fill_value=0.0)
        h.index = pd.Timestamp("2025-01-01") + pd.to_timedelta(h.index, unit="h")
        out[model] = h
    return out


def score(actual: np.ndarray, paths: np.ndarray, scale: float) -> dict:
    point = np.median(paths, axis=0)  # the absolute-error-optimal point forecast
    bounds = fc.quantile_bounds(paths)
    res = {"mase": float(np.mean(np.abs(actual - point)) / scale)}
    for level, (lo, hi) in bounds.items():
        res[f"cov{level}"] = float(np.mean((actual >= lo) & (actual <= hi)))
    return res


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--holdout-days", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not DATA.exists():
        print(f"data not found: {DATA}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    horizon = args.holdout_days * 24
    cfg = fc.ForecastConfig(horizon=horizon, season=24, backtest_folds=2, backtest_horizon=24,
                            models=fc.HOURLY_MODELS, freq="h", seed=args.seed)
    rows = []
    for model, y in sorted(hourly_requests().items()):
        train, test = y.iloc[:-horizon], y.iloc[-horizon:].to_numpy()
        scale = fc.mase_scale(train.to_numpy(), 24)
        f = fc.forecast_series(train, cfg)
        rng = np.random.default_rng(args.seed)
        with fc.single_threaded_blas():
            naive_paths, _ = fc.simulate_paths(train.to_numpy(), "seasonal_naive", horizon, 24, cfg.n_paths, rng)
        ours, naive = score(test, f.paths, scale), score(test, naive_paths, scale)
        rows.append({"series": f"{model} requests/hour", "train_h": len(train), "test_h": horizon, "chosen": f.model,
                     "MASE": ours["mase"], "MASE_snaive": naive["mase"],
                     "cov80": ours["cov80"], "cov80_snaive": naive["cov80"],
                     "cov95": ours["cov95"], "cov95_snaive": naive["cov95"]})
    table = pd.DataFrame(rows)
    mean = table.select_dtypes("number").mean().to_dict()
    table.loc[len(table)] = {"series": "mean", **mean, "chosen": ""}
    pd.set_option("display.width", 200)
    print(f"ServeGen language models, hourly, last {args.holdout_days} days held out "
          f"(nominal coverage 0.80 / 0.95; MASE < 1 beats in-sample seasonal naive):\n")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"\n{time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
