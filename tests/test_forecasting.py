"""Forecasting and budget projection: pure functions on synthetic series whose truth is
known by construction, then the sample warehouse's analytics tables."""

import base64
import math
import warnings

import duckdb
import numpy as np
import pandas as pd
import pytest

from orchestration.analytics import budget_projection as bp
from orchestration.analytics import forecasting as fc

from .conftest import REPO, BIN, run, sample_warehouse  # noqa: F401

warnings.filterwarnings("ignore", category=UserWarning)

START = pd.Timestamp("2026-01-05")  # a Monday


def multiplicative(seed, n, h, growth=0.01, weekend=0.35, sigma=0.05, base=1000.0):
    """y_t = base x (1+growth)^t x weekend factor (Sat, Sun) x lognormal noise.
    Returns the training series, the true expected values of the next h days, and a
    draw of those h days."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range(START, periods=n + h, freq="D")
    level = base * (1 + growth) ** np.arange(n + h) * np.where(idx.day_of_week >= 5, weekend, 1.0)
    y = level * np.exp(rng.normal(0, sigma, n + h))
    return pd.Series(y[:n], index=idx[:n]), level[n:] * math.exp(sigma**2 / 2), y[n:]


# ---------------------------------------------------------------- recovery of trend and seasonality


@pytest.mark.parametrize("seed", range(5))
def test_forecast_recovers_growth_and_weekly_seasonality(seed):
    """12 weeks of +1%/day growth, weekend at 35% of a weekday, 5% noise. Bounds: every day
    of the next two weeks within 15% of the true expected value (the noise alone is 5%);
    week-on-week growth of the forecast within 1.07 +- 0.04 (truth 1.01^7 = 1.072); weekend /
    weekday ratio within 0.35 +- 0.03."""
    train, truth, _ = multiplicative(seed, n=84, h=28)
    f = fc.forecast_series(train, fc.ForecastConfig(horizon=28, seed=seed))
    assert f.model in fc.DAILY_MODELS and f.transform == "log"
    frame = f.frame()
    assert list(frame["ts"]) == list(pd.date_range(train.index[-1] + pd.Timedelta(days=1), periods=28))
    mean = frame["mean"].to_numpy()
    assert np.max(np.abs(mean[:14] / truth[:14] - 1)) < 0.15
    growth = mean[7:14].sum() / mean[:7].sum()
    assert 1.03 < growth < 1.11
    weekend = frame["ts"].dt.day_of_week >= 5
    first_week = frame.index < 7
    ratio = mean[weekend & first_week].mean() / mean[~weekend & first_week].mean()
    assert 0.32 < ratio < 0.38


def test_additive_series_with_zero_recovers_linear_trend():
    """A series with a zero (so modelled on the raw scale): 50 + 3/day + weekly pattern.
    The slope fitted to the forecast (with weekday dummies) is 3 +- 1.2 per day."""
    rng = np.random.default_rng(7)
    n, h = 70, 14
    t = np.arange(n + h)
    pattern = np.array([10, 12, 8, 11, 9, -25, -30])
    y = 50 + 3 * t + pattern[t % 7] + rng.normal(0, 3, n + h)
    y[0] = 0.0
    train = pd.Series(y[:n], index=pd.date_range(START, periods=n))
    f = fc.forecast_series(train, fc.ForecastConfig(horizon=h))
    assert f.transform == "none"
    mean = f.frame()["mean"].to_numpy()
    X = np.column_stack([t[n:]] + [(t[n:] % 7 == d).astype(float) for d in range(7)])
    slope = np.linalg.lstsq(X, mean, rcond=None)[0][0]
    assert 1.8 < slope < 4.2
    assert np.max(np.abs(mean - (50 + 3 * t[n:] + pattern[t[n:] % 7]))) < 25


def test_intervals_cover_at_close_to_nominal_rate_over_many_seeds():
    """100 independent series (8 weeks, 10% noise), 14 days ahead each: 1,400 points. The
    binomial sd of a coverage rate is ~1.1 points at 80% and ~0.6 at 95%; the bounds allow
    for that plus the Monte Carlo error of the quantiles: 80% within 0.74..0.88, 95% within
    0.91..0.985."""
    inside = {80: [], 95: []}
    for seed in range(100):
        train, _, future = multiplicative(1000 + seed, n=56, h=14, sigma=0.1)
        f = fc.forecast_series(train, fc.ForecastConfig(horizon=14, seed=seed, n_paths=500))
        for level, (lo, hi) in fc.quantile_bounds(f.paths).items():
            inside[level].append((future >= lo) & (future <= hi))
    cov80, cov95 = np.mean(inside[80]), np.mean(inside[95])
    assert 0.74 <= cov80 <= 0.88, cov80
    assert 0.91 <= cov95 <= 0.985, cov95


def test_seasonal_naive_interval_grows_with_the_square_root_of_seasons_ahead():
    """Seasonal-difference residuals of a known sd: the 95% half-width in season k is
    1.96 x sd x sqrt(k) (within 10%, Monte Carlo)."""
    pattern = np.array([5.0, 6, 7, 8, 9, 2, 1])
    # seasons alternately shifted by 0 and 0.5: every seasonal difference is +-0.5, sd 0.5
    z = np.tile(pattern, 40) + np.repeat(np.tile([0.0, 0.5], 20), 7)
    sd = np.sqrt(np.mean((z[7:] - z[:-7]) ** 2))
    paths = fc._simulate_seasonal_naive(z, 7, 21, 20000, np.random.default_rng(0))
    lo, hi = fc.quantile_bounds(paths)[95]
    for k in (1, 2, 3):
        half = (hi[(k - 1) * 7] - lo[(k - 1) * 7]) / 2
        assert half == pytest.approx(1.96 * sd * math.sqrt(k), rel=0.1)
    assert np.allclose(np.median(paths, axis=0)[:7], z[-7:], atol=0.05)


# ---------------------------------------------------------------- fallbacks


@pytest.mark.parametrize("n", [1, 5, 10, 15])
def test_short_series_fall_back_without_an_exception(n):
    y = pd.Series(np.linspace(100, 200, n), index=pd.date_range(START, periods=n))
    f = fc.forecast_series(y, fc.ForecastConfig(horizon=30))
    assert f.model == "recent_bootstrap" and "fallback" in f.note
    frame = f.frame()
    assert len(frame) == 30 and np.isfinite(frame.drop(columns="ts").to_numpy()).all()
    # flat level drawn from the observed values: within their range
    assert (frame["lower_95"] >= y.min() - 1e-9).all() and (frame["upper_95"] <= y.max() + 1e-9).all()
    assert frame["mean"].iloc[0] == pytest.approx(y.iloc[-14:].mean(), rel=0.1)


def test_sparse_and_all_zero_series_fall_back():
    sparse = pd.Series(np.where(np.arange(40) % 2 == 0, 0.0, 10.0), index=pd.date_range(START, periods=40))
    f = fc.forecast_series(sparse)
    assert f.model == "recent_bootstrap" and "zeros" in f.note
    assert f.frame()["mean"].mean() == pytest.approx(5.0, abs=0.6)
    zeros = pd.Series(np.zeros(40), index=pd.date_range(START, periods=40))
    z = fc.forecast_series(zeros)
    assert z.model == "zero" and (z.frame()[["mean", "upper_95"]].to_numpy() == 0).all()


# ---------------------------------------------------------------- backtest arithmetic


def test_mase_and_coverage_arithmetic_by_hand():
    bt = pd.DataFrame({
        "model": "m", "fold": [0, 0, 1, 1], "actual": [10.0, 20, 30, 40], "median": [12.0, 20, 30, 36],
        "mean": 0.0, "scale": [2.0, 2, 4, 4],
        "lower_80": [11.0, 19, 29, 37], "upper_80": [13.0, 21, 31, 39],
        "lower_95": [9.0, 18, 28, 35], "upper_95": [14.0, 22, 32, 41]})
    s = fc.score_backtest(bt).iloc[0]
    # fold 0: MAE 1 / 2 = 0.5; fold 1: MAE 2 / 4 = 0.5
    assert s["mase"] == pytest.approx(0.5)
    assert s["coverage_80"] == pytest.approx(0.5)  # 20 and 30 inside
    assert s["coverage_95"] == pytest.approx(1.0)
    assert fc.mase_scale(np.array([1, 2, 3, 4, 5, 6, 7, 3, 2, 3, 4, 5, 6, 7]), 7) == pytest.approx(2 / 7)


def test_interval_inflation_is_the_rms_of_the_standardised_backtest_errors():
    def factor(actual, half_widths):  # forecast mean 10 everywhere; an 80% half-width of 1.2816 is an sd of 1
        actual, half = np.array(actual, dtype=float), np.array(half_widths, dtype=float)
        mean = np.full(len(actual), 10.0)
        return fc.interval_inflation(actual, mean, mean - half, mean + half)

    sd1 = 1.2816
    # z = 1 and -2; the zero-width point is left out: sqrt((1 + 4) / 2)
    assert factor([11, 8, 99], [sd1, sd1, 0]) == pytest.approx(math.sqrt(2.5))
    assert factor([15, 10, 10], [sd1] * 3) == 2.5  # sqrt(25 / 3) = 2.89, capped
    assert factor([10.5, 10, 9.5], [sd1] * 3) == 1.0  # never narrowed
    assert factor([50], [0]) == 1.0  # no width anywhere
    assert factor([], []) == 1.0


def test_selection_day_is_the_last_sunday_and_hourly_takes_its_last_hour():
    daily = fc.ForecastConfig(reselect_days=7)
    # 2026-01-05 is a Monday: the selection day of 01-05 ... 01-10 is Sunday 01-04, of 01-11 itself
    for last, expected in [("2026-01-05", "2026-01-04"), ("2026-01-10", "2026-01-04"), ("2026-01-11", "2026-01-11")]:
        idx = pd.date_range("2025-12-01", last, freq="D")
        assert fc.selection_through(idx, daily) == pd.Timestamp(expected)
    hourly = fc.ForecastConfig(reselect_days=7, freq="h", season=24)
    idx = pd.date_range("2025-12-01", "2026-01-07 05:00", freq="h")
    assert fc.selection_through(idx, hourly) == pd.Timestamp("2026-01-04 23:00")
    assert fc.selection_through(idx, fc.ForecastConfig()) == idx[-1]  # reselect every run: all the history


def test_a_series_too_young_to_backtest_on_the_selection_day_is_selected_on_all_its_history():
    """A backtest needs min_train (16) + 2 folds x 7 days = 30 days before the selection day.
    Saturday 2026-01-10's selection day is Sunday 01-04: a series begun 12-06 has 30 days to
    it and keeps it; one begun 12-07 has 29, so it is selected on all its 35 days (every run,
    until a selection day has 30 days behind it), instead of falling back for the week."""
    cfg = fc.ForecastConfig(reselect_days=7)
    old_enough = pd.date_range("2025-12-06", "2026-01-10", freq="D")
    young = pd.date_range("2025-12-07", "2026-01-10", freq="D")
    assert fc.selection_through(old_enough, cfg) == pd.Timestamp("2026-01-04")
    assert fc.selection_through(young, cfg) == pd.Timestamp("2026-01-10")
    # the young series is backtested (not a fallback) and its selection saw all 35 days
    y = multiplicative(5, 35, 1)[0]
    y.index = young
    f = fc.forecast_series(y, fc.ForecastConfig(reselect_days=7, n_paths=200))
    assert f.selection.fallback == "" and f.selection.through == young[-1]
    assert f.model in fc.DAILY_MODELS


def _long(series: dict[str, pd.Series]) -> pd.DataFrame:
    return pd.concat([pd.DataFrame({"series_id": k, "grain": "daily", "level": "agent", "workspace_id": "w",
                                    "agent_id": k, "metric": "tokens", "ts": y.index, "value": y.to_numpy()})
                      for k, y in series.items()], ignore_index=True)


@pytest.mark.parametrize("keep_params", [False, True])
def test_a_stored_selection_gives_the_same_forecast_as_selecting_again(keep_params, monkeypatch):
    """Day N is forecast and its selections stored (through DuckDB, as the asset does). On day
    N+1, reusing them must give exactly what selecting from scratch gives, while only the
    series whose history up to the selection day is unchanged reuse theirs. With kept
    parameters, those stored on day N come back to the bit."""
    cfg = fc.ForecastConfig(horizon=14, reselect_days=7, n_paths=300, keep_params=keep_params)
    full = {f"a{i}": multiplicative(i, 68, 1)[0] for i in range(3)}
    full["sparse"] = full["a0"].where(np.arange(68) % 3 == 0, 0.0)  # a fallback series
    day_n = {k: y.iloc[:-1] for k, y in full.items()}  # day N+1 is a Friday: the same selection day
    assert day_n["a0"].index[-1].day_name() == "Thursday"
    first = fc.forecast_many(_long(day_n), cfg)
    with duckdb.connect() as conn:
        conn.register("s", first.selections)
        stored = fc.selections_from_frame(conn.execute("select * from s").df())
    late = dict(full)
    late["a2"] = full["a2"].copy()
    late["a2"].iloc[30] *= 2  # late data inside the selected history: a2 must select again

    fits = []  # the parameters fitted (kept parameters that are reused are not fitted again)
    fit_params = fc.fit_params
    monkeypatch.setattr(fc, "fit_params", lambda *a: fits.append(a[1]) or fit_params(*a))
    reused = fc.forecast_many(_long(late), cfg, selections=stored)
    fits_reused = len(fits)
    fresh = fc.forecast_many(_long(late), cfg)
    assert reused.selections_reused == 3 and fresh.selections_reused == 0  # a0, a1, sparse
    # kept: a2's model fitted again (selected again); a0, a1 and a2 in the fresh run
    assert (fits_reused, len(fits)) == ((1, 4) if keep_params else (0, 0))
    for a, b in [(reused.forecasts, fresh.forecasts), (reused.accuracy, fresh.accuracy),
                 (reused.backtests, fresh.backtests), (reused.selections, fresh.selections)]:
        pd.testing.assert_frame_equal(a, b, check_dtype=False)
    assert all(np.array_equal(reused.paths[k], fresh.paths[k]) for k in fresh.paths)
    # the selection saw the history to Sunday, the forecast all of it
    assert (fresh.selections["selected_through"] == pd.Timestamp("2026-03-08")).all()
    assert (fresh.forecasts.groupby("series_id")["last_actual_ts"].first() == full["a0"].index[-1]).all()
    assert set(fresh.accuracy.set_index("series_id").loc[["sparse"], "model"]) == {"recent_bootstrap"}
    kept = fresh.selections.drop_duplicates("series_id").set_index("series_id")["params"]
    chosen = fresh.accuracy.set_index("series_id")["model"]
    if not keep_params:
        assert (kept == "").all()
        return
    # a fallback keeps nothing; a chosen ETS model keeps its parameters, the ones day N stored
    assert kept["sparse"] == "" and {chosen["a0"], chosen["a1"]} <= {"ets", "stl_ets"}
    for k in ("a0", "a1"):
        assert stored[k].params is not None and stored[k].params[0] == chosen[k]
        assert kept[k] == fc.selection_columns(k, stored[k]).columns["params"]


def test_kept_parameters_are_the_fit_on_the_selected_history_and_filter_all_of_it():
    """keep_params: the chosen ETS model's parameters are statsmodels' own fit on the history
    to the selection day (Sunday 03-08 for Thursday 03-12), and the forecast is that model
    filtered over all the history with them (ETSModel.smooth), simulated with the series'
    stream, capped, back-transformed and widened as any forecast. Rebuilt here from
    statsmodels directly; it differs from refitting on all the history."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    y = multiplicative(21, 67, 1)[0]
    assert y.index[-1] == pd.Timestamp("2026-03-12")
    cfg = fc.ForecastConfig(horizon=10, reselect_days=7, n_paths=400, models=("seasonal_naive", "ets"),
                            keep_params=True)
    f = fc.forecast_series(y, cfg)
    assert f.model == "ets" and f.selection.through == pd.Timestamp("2026-03-08")
    kwargs = dict(error="add", trend="add", damped_trend=True, seasonal="add", seasonal_periods=7,
                  initialization_method="heuristic")
    z = np.log(y.to_numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        params = ETSModel(np.log(y[:"2026-03-08"].to_numpy()), **kwargs).fit(disp=False, maxiter=200).params
        smoothed = ETSModel(z, **kwargs).smooth(params)
    assert f.selection.params == ("ets", "log", tuple(params))
    stream = np.random.default_rng([cfg.seed, 1])  # the forecast's own stream (_forecast_series)
    sim = np.asarray(smoothed.simulate(10, repetitions=400, anchor="end",
                                       rng=np.random.default_rng(int(stream.integers(2**31))))).reshape(10, 400).T
    expected = fc.widen(np.exp(np.minimum(sim, np.log(y.max()) + np.log(5))), f.interval_factor)
    np.testing.assert_allclose(f.paths, expected, rtol=1e-12)
    refit = fc.forecast_series(y, fc.ForecastConfig(horizon=10, reselect_days=7, n_paths=400,
                                                    models=("seasonal_naive", "ets")))
    assert refit.model == "ets" and refit.selection.params is None
    assert not np.allclose(refit.paths, f.paths)


def test_a_selection_table_stored_before_parameters_were_kept_still_reads():
    """A warehouse's forecast_model_selection written before the params column existed: its
    selections read back without parameters, and a run with keep_params fits them on the
    selected history (what a fresh selection keeps) and reuses the backtest."""
    y = multiplicative(23, 67, 1)[0]
    cfg = fc.ForecastConfig(horizon=7, reselect_days=7, n_paths=200, models=("seasonal_naive", "ets"),
                            keep_params=True)
    run_ = fc.forecast_many(_long({"a": y.iloc[:-1]}), cfg)
    old = run_.selections.drop(columns="params")
    back = fc.selections_from_frame(old)
    assert back["a"].params is None and back["a"].input_hash == run_.selections["input_hash"].iloc[0]
    again = fc.forecast_series(y, cfg, cached=back["a"])
    fresh = fc.forecast_series(y, cfg)
    assert again.selection_reused and not fresh.selection_reused
    assert again.selection.params == fresh.selection.params and again.selection.params[0] == "ets"
    assert np.array_equal(again.paths, fresh.paths)


def test_kept_parameters_are_fitted_again_when_the_transform_changes():
    """Parameters kept on the log scale do not fit a series that has since had a zero day
    (modelled as is): they are fitted again on the selected history, unlogged, and replace
    the stored ones."""
    y = multiplicative(22, 67, 1)[0]
    cfg = fc.ForecastConfig(horizon=7, reselect_days=7, n_paths=200, models=("seasonal_naive", "ets"),
                            keep_params=True)
    f = fc.forecast_series(y, cfg)
    assert f.selection.params[:2] == ("ets", "log")
    y0 = y.copy()
    y0.iloc[-1] = 0.0  # Thursday, after the selection day: the selected history is unchanged
    sel, params = fc.kept_params(f.selection, "ets", y0.to_numpy(), y[:"2026-03-08"].to_numpy(), cfg)
    assert sel.params == ("ets", "none", params)
    assert params == fc.fit_params(y[:"2026-03-08"].to_numpy(), "ets", 7, "none") != f.selection.params[2]
    again = fc.forecast_series(y0, cfg, cached=f.selection)
    assert again.selection_reused and again.transform == "none" and again.selection.params == sel.params


def test_selections_read_back_from_duckdb_are_the_ones_stored():
    """Every kind of selection (backtested candidates, a fallback with its backtest, a
    fallback too short for one) stored through DuckDB and read back, rows shuffled: each
    comes back with its own history day, hash, reason and backtest, row for row."""
    cfg = fc.ForecastConfig(horizon=7, n_paths=200)
    y = multiplicative(3, 50, 1)[0]
    series = {"full": y, "sparse": y.where(np.arange(50) % 3 == 0, 0.0), "short": y.iloc[:10]}
    run_ = fc.forecast_many(_long(series), cfg)
    made = {k: fc.forecast_series(v, cfg).selection for k, v in series.items()}
    assert made["full"].fallback == "" and made["sparse"].fallback and made["short"].backtest.empty
    with duckdb.connect() as conn:
        conn.register("s", run_.selections.sample(frac=1, random_state=0))
        back = fc.selections_from_frame(conn.execute("select * from s").df())
    assert sorted(back) == ["full", "short", "sparse"]
    for k, sel in made.items():
        got = back[k]
        assert (got.through, got.input_hash, got.fallback) == (sel.through, sel.input_hash, sel.fallback)
        if sel.backtest.empty:
            assert got.backtest.empty
        else:
            pd.testing.assert_frame_equal(got.backtest.frame(), sel.backtest.frame()[fc.BACKTEST_COLUMNS], check_dtype=False)


def test_ets_without_the_covariance_fits_and_simulates_as_statsmodels_does():
    """The ETS used here skips statsmodels' covariance of the parameters (unused); its fitted
    parameters and simulated paths must be statsmodels' own ETSModel's, to the bit."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    z = np.log(multiplicative(7, 60, 1)[0].to_numpy())
    kwargs = dict(error="add", trend="add", damped_trend=True, seasonal="add", seasonal_periods=7,
                  initialization_method="heuristic")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = fc._ets_model()(z, **kwargs).fit(disp=False, maxiter=200)
        theirs = ETSModel(z, **kwargs).fit(disp=False, maxiter=200)
    assert np.array_equal(ours.params, theirs.params) and ours.llf == theirs.llf
    assert np.isnan(ours.cov_params()).all() and np.isfinite(theirs.cov_params()).all()
    sim = [np.asarray(r.simulate(14, repetitions=50, anchor="end", rng=np.random.default_rng(1))) for r in (ours, theirs)]
    assert np.array_equal(*sim)
    paths, transform = fc.simulate_paths(np.exp(z), "ets", 14, 7, 50, np.random.default_rng(2))
    assert transform == "log" and paths.shape == (50, 14) and np.isfinite(paths).all()


def test_a_process_pool_gives_the_same_forecasts_bit_for_bit(monkeypatch):
    """Series spread over two spawned processes (as in the build when there are many)
    give exactly what one process gives: each series has its own seed."""
    monkeypatch.setattr(fc, "MIN_SERIES_FOR_POOL", 2)
    cfg = fc.ForecastConfig(horizon=7, n_paths=200)
    long = _long({f"a{i}": multiplicative(10 + i, 40, 1)[0] for i in range(6)})
    one, two = fc.forecast_many(long, cfg, workers=1), fc.forecast_many(long, cfg, workers=2)
    for a, b in [(one.forecasts, two.forecasts), (one.accuracy, two.accuracy), (one.backtests, two.backtests),
                 (one.selections, two.selections)]:
        pd.testing.assert_frame_equal(a, b)
    assert sorted(one.paths) == sorted(two.paths) == [f"a{i}" for i in range(6)]
    assert all(np.array_equal(one.paths[k], two.paths[k]) for k in one.paths)


def test_one_pool_shared_by_two_calls_gives_what_one_process_gives(monkeypatch):
    """forecast_pool: the daily and the hourly series of a step share one pool; each call
    still gives exactly what it gives in one process."""
    monkeypatch.setattr(fc, "MIN_SERIES_FOR_POOL", 2)
    cfg = fc.ForecastConfig(horizon=7, n_paths=200)
    first = _long({f"a{i}": multiplicative(10 + i, 40, 1)[0] for i in range(4)})
    second = _long({f"b{i}": multiplicative(20 + i, 35, 2)[0] for i in range(3)})
    alone = [fc.forecast_many(s, cfg, workers=1) for s in (first, second)]
    with fc.forecast_pool(2) as pool:
        shared = [fc.forecast_many(s, cfg, workers=2, pool=pool) for s in (first, second)]
    for one, two in zip(alone, shared):
        for a, b in [(one.forecasts, two.forecasts), (one.accuracy, two.accuracy), (one.backtests, two.backtests)]:
            pd.testing.assert_frame_equal(a, b)
        assert all(np.array_equal(one.paths[k], two.paths[k]) for k in one.paths)
    with fc.forecast_pool(1) as pool:
        assert pool is None


@pytest.mark.parametrize("n", [1, 2, 3, 4, 39, 40, 999, 1000])
def test_median_and_bounds_are_numpys_median_and_quantiles_to_the_bit(n):
    """One sort and numpy's arithmetic give np.median and np.quantile (linear) exactly:
    ties, zeros, magnitudes far apart and a NaN (its step is NaN, as numpy gives)."""
    rng = np.random.default_rng(n)
    probs = [p for level in fc.LEVELS for p in ((1 - level / 100) / 2, 1 - (1 - level / 100) / 2)]
    cases = [rng.lognormal(size=(n, 30)) * 1e6, np.round(rng.lognormal(size=(n, 7)), 0),
             np.where(rng.random((n, 30)) < 0.3, 0.0, rng.normal(size=(n, 30))),
             rng.lognormal(size=(n, 5)) * 10.0 ** rng.integers(-8, 8, size=(n, 1))]
    with_nan = rng.lognormal(size=(n, 4))
    with_nan[n // 2, 1] = np.nan
    cases.append(with_nan)
    for paths in cases:
        median, bounds = fc.median_and_bounds(paths)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected_median, expected = np.median(paths, axis=0), np.quantile(paths, probs, axis=0)
        assert np.array_equal(median, expected_median, equal_nan=True)
        got = np.stack([bound for level in fc.LEVELS for bound in bounds[level]])
        assert np.array_equal(got, expected, equal_nan=True)


def test_build_daily_series_sums_fills_and_trims():
    detail = pd.DataFrame({
        "workspace_id": ["w1", "w1", "w1", "w2"], "agent_id": ["a", "a", "b", "c"], "model": ["x", "y", "x", "x"],
        "usage_date": pd.to_datetime(["2026-01-01", "2026-01-01", "2026-01-03", "2026-01-02"]),
        "tokens": [1.0, 2.0, 4.0, 8.0], "api_calls": [0.0, 0, 0, 1]})
    s = fc.build_daily_series(detail)
    total = s[s["series_id"] == "daily|total|*|*|tokens"]
    assert total["value"].tolist() == [3.0, 8.0, 4.0]
    b = s[s["series_id"] == "daily|agent|w1|b|tokens"]
    assert b["ts"].tolist() == [pd.Timestamp("2026-01-03")]  # starts at its first usage
    a = s[s["series_id"] == "daily|agent|w1|a|tokens"]
    assert a["value"].tolist() == [3.0, 0.0, 0.0]  # idle days are zeros
    assert "daily|agent|w1|a|api_calls" not in set(s["series_id"])  # never used: no series


# ---------------------------------------------------------------- anomalies


def test_hourly_series_from_calls_summed_in_duckdb_equal_those_from_every_call():
    """The forecasts step reads the calls summed to workspace x hour (HOURLY_CALLS_SQL); the
    series must be those build_hourly_series makes from one row per call."""
    from orchestration.defs.forecasting.assets import HOURLY_CALLS_SQL

    rng = np.random.default_rng(4)
    n = 40_000
    start = pd.Timestamp("2026-09-01")
    calls = pd.DataFrame({
        "workspace_id": rng.choice(["ws_a", "ws_b", None], n, p=[0.6, 0.35, 0.05]),
        "started_at": start + pd.to_timedelta(rng.integers(0, 16 * 24 * 3600 * 10**6, n), unit="us"),
        "total_tokens": rng.integers(0, 5_000, n),
    })
    calls = calls[~((calls["workspace_id"] == "ws_b") & (calls["started_at"].dt.hour == 3))]  # ws_b: 23/24 dense
    with duckdb.connect() as conn:
        conn.execute("create schema marts")
        conn.execute("create table marts.fct_llm_calls as select * from calls")
        summed = conn.execute(HOURLY_CALLS_SQL).df()
    per_call = calls.assign(workspace_id=calls["workspace_id"].fillna("(unattributed)"))
    expected = fc.build_hourly_series(per_call)
    got = fc.build_hourly_series(summed)
    pd.testing.assert_frame_equal(got, expected)
    # by hand: ws_a's tokens and calls in the hour from 2026-09-05 10:00
    in_hour = per_call[(per_call["workspace_id"] == "ws_a")
                       & (per_call["started_at"] >= pd.Timestamp("2026-09-05 10:00"))
                       & (per_call["started_at"] < pd.Timestamp("2026-09-05 11:00"))]
    at = got[(got["ts"] == pd.Timestamp("2026-09-05 10:00")) & (got["workspace_id"] == "ws_a")]
    assert at.set_index("metric")["value"].to_dict() == {"tokens": float(in_hour["total_tokens"].sum()),
                                                          "llm_calls": float(len(in_hour))}
    assert set(got["series_id"]) == {f"hourly|{level}|{ws}|*|{m}" for level, ws in
                                     (("total", "*"), ("workspace", "ws_a"), ("workspace", "ws_b"),
                                      ("workspace", "(unattributed)"))  # ~5 calls an hour: dense
                                     for m in ("tokens", "llm_calls")}


def test_planted_spike_is_found_with_its_driver():
    """Two agents, two models; on one backtested day agent b's model y triples. The total
    series flags that day as above its interval and names b / y as the driver."""
    rng = np.random.default_rng(5)
    days = pd.date_range(START, periods=42)
    rows = []
    for d in days:
        wk = 0.4 if d.day_of_week >= 5 else 1.0
        for agent, model, base in (("a", "x", 1000), ("a", "y", 500), ("b", "x", 700), ("b", "y", 800)):
            v = base * wk * math.exp(rng.normal(0, 0.03))
            if d == days[-3] and agent == "b" and model == "y":
                v *= 3
            rows.append({"workspace_id": "w", "agent_id": agent, "model": model, "usage_date": d, "tokens": v})
    detail = pd.DataFrame(rows)
    series = fc.build_daily_series(detail)
    run_ = fc.forecast_many(series[series["level"] == "total"], fc.ForecastConfig(horizon=7))
    anomalies = fc.find_anomalies(run_.backtests, detail)
    hit = anomalies[anomalies["usage_date"] == days[-3]]
    assert len(hit) == 1
    r = hit.iloc[0]
    assert r["direction"] == "above" and r["driver_agent_id"] == "b" and r["driver_model"] == "y"
    # the driver's change against the same weekday a week before is ~2 x 800
    assert r["driver_change"] == pytest.approx(1600, rel=0.15)
    assert r["size"] > 0 and r["driver_share"] > 0.8


def _backtest_point(series_id: str, day, actual: float, lower: float, upper: float) -> dict:
    grain, level, ws, agent, metric = series_id.split("|")
    return {"series_id": series_id, "grain": grain, "level": level, "workspace_id": ws, "agent_id": agent,
            "metric": metric, "ts": pd.Timestamp(day), "actual": actual, "mean": (lower + upper) / 2,
            "median": (lower + upper) / 2, "lower_95": lower, "upper_95": upper}


def test_anomaly_drivers_of_agents_and_workspaces_by_hand():
    """Each driver worked out by hand from a small detail: the child that moved most in the
    anomaly's direction against the same weekday a week before, only the anomaly's own agent
    (or workspace) and only those two days counted; a model missing on one day counts 0 there."""
    day, before = pd.Timestamp("2026-03-10"), pd.Timestamp("2026-03-03")
    rows = [  # workspace, agent, model, usage_date, tokens, api_calls
        ("w", "a", "x", before, 100.0, 5.0), ("w", "a", "x", day, 400.0, 1.0),
        ("w", "a", "y", before, 50.0, 3.0), ("w", "a", "y", day, 40.0, 3.0),
        ("w", "a", "z", before, 200.0, 4.0),  # z not used on the day: 0
        ("w", "a", "q", day - pd.Timedelta(days=1), 999.0, 9.0),  # another day: not counted
        ("w", "b", "x", before, 10.0, 0.0), ("w", "b", "x", day, 1000.0, 0.0),
        ("v", "a", "x", before, 0.0, 0.0), ("v", "a", "x", day, 5000.0, 0.0),  # same agent id, other workspace
    ]
    detail = pd.DataFrame(rows, columns=["workspace_id", "agent_id", "model", "usage_date", "tokens", "api_calls"])
    backtests = pd.DataFrame([
        _backtest_point("daily|agent|w|a|tokens", day, 1000.0, 100.0, 500.0),  # above
        _backtest_point("daily|agent|w|a|api_calls", day, 1.0, 5.0, 20.0),  # below
        _backtest_point("daily|workspace|w|*|tokens", day, 2000.0, 100.0, 900.0),  # above
        _backtest_point("daily|agent|w|idle|tokens", day, 0.0, 5.0, 9.0),  # below, no rows on either day
        _backtest_point("daily|agent|w|b|tokens", day, 700.0, 100.0, 900.0),  # inside: not an anomaly
    ])
    got = fc.find_anomalies(backtests, detail).set_index("series_id")
    assert sorted(got.index) == sorted(["daily|agent|w|a|tokens", "daily|agent|w|a|api_calls",
                                        "daily|workspace|w|*|tokens", "daily|agent|w|idle|tokens"])
    a = got.loc["daily|agent|w|a|tokens"]  # x +300, y -10, z -200
    assert (a["direction"], a["driver_agent_id"], a["driver_model"]) == ("above", "a", "x")
    assert (a["driver_change"], a["series_change"]) == (300.0, 90.0)
    assert a["driver_share"] == pytest.approx(300 / 90)
    calls = got.loc["daily|agent|w|a|api_calls"]  # x -4, y 0, z -4: the first of the two largest drops
    assert (calls["direction"], calls["driver_model"], calls["driver_change"], calls["series_change"]) == \
        ("below", "x", -4.0, -8.0)
    ws = got.loc["daily|workspace|w|*|tokens"]  # agent a +90 (its three models), b +990; v's rows are not w's
    assert (ws["driver_agent_id"], ws["driver_model"], ws["driver_change"], ws["series_change"]) == \
        ("b", "x", 990.0, 1080.0)
    idle = got.loc["daily|agent|w|idle|tokens"]
    assert pd.isna(idle["driver_agent_id"]) and pd.isna(idle["driver_model"])
    assert np.isnan(idle["driver_change"]) and idle["series_change"] == 0.0 and np.isnan(idle["driver_share"])


# ---------------------------------------------------------------- budgets


def test_linear_burn_breach_date_exact():
    """Monthly budget 1,000,000; 600,000 used by Nov 13; burn exactly 30,000/day: cumulative
    exceeds the budget on day k with 600,000 + 30,000 k > 1,000,000 -> k = 14 -> Nov 27."""
    as_of = pd.Timestamp("2026-11-13")
    dates = pd.date_range("2026-11-14", periods=30)
    paths = np.full((200, 30), 30_000.0)
    r = bp.project_period(1_000_000, 600_000, dates, paths, "2026-11-01", "2026-11-30", as_of)
    assert r["expected_breach_date"] == pd.Timestamp("2026-11-27").date()
    assert r["projected_end_of_period"] == pytest.approx(600_000 + 17 * 30_000)
    assert r["p_breach"] == 1.0 and not r["already_breached"]
    # the same burn against a budget it never reaches this month
    r2 = bp.project_period(2_000_000, 600_000, dates, paths, "2026-11-01", "2026-11-30", as_of)
    assert r2["expected_breach_date"] is None and r2["p_breach"] == 0.0


def test_linear_burn_through_the_forecaster():
    """A noisy constant burn of 30,000/day (1% noise) since Oct 1, budget period November:
    the forecaster's projection breaches on Nov 27 (+-1 day) with probability > 0.9."""
    rng = np.random.default_rng(11)
    hist_days = pd.date_range("2026-10-01", "2026-11-13")
    y = pd.Series(30_000 * np.exp(rng.normal(0, 0.01, len(hist_days))), index=hist_days)
    f = fc.forecast_series(y, fc.ForecastConfig(horizon=30, season=7))
    mtd = float(y["2026-11-01":].sum())
    budget = mtd + 14 * 30_000 - 15_000  # crossed during the 14th day ahead = Nov 27
    r = bp.project_period(budget, mtd, f.index, f.paths, "2026-11-01", "2026-11-30", "2026-11-13")
    assert abs((pd.Timestamp(r["expected_breach_date"]) - pd.Timestamp("2026-11-27")).days) <= 1
    assert r["p_breach"] > 0.9


def test_already_breached_budget_is_dated_from_actuals_and_month_boundary_respected():
    actual = pd.Series([400.0, 400, 400], index=pd.date_range("2026-11-01", periods=3))
    r = bp.project_period(1000, 1200, pd.date_range("2026-11-04", periods=5), np.zeros((10, 5)),
                          "2026-11-01", "2026-11-30", "2026-11-03", actual)
    assert r["already_breached"] and r["p_breach"] == 1.0
    assert r["expected_breach_date"] == pd.Timestamp("2026-11-03").date()
    # as of Oct 31 the monthly period is November: nothing used yet, only November's days count
    budgets = pd.DataFrame({"workspace_id": ["w"], "agent_id": ["a"], "daily_token_budget": [None],
                            "monthly_token_budget": [100.0], "monthly_cost_budget_usd": [None]})
    actuals = pd.DataFrame({"agent_id": ["a"], "usage_date": [pd.Timestamp("2026-10-31")], "tokens": [99.0], "cost_usd": [0.0]})
    dates = pd.date_range("2026-11-01", periods=40)
    out = bp.project_budgets(budgets, actuals, {"a": np.full((5, 40), 5.0)}, {}, dates, "2026-10-31")
    row = out.iloc[0]
    assert row["actual_to_date"] == 0 and row["period_start"] == pd.Timestamp("2026-11-01").date()
    assert row["projected_end_of_period"] == pytest.approx(150.0)  # 30 November days x 5
    assert row["expected_breach_date"] == pd.Timestamp("2026-11-21").date()  # 5 x 21 = 105 > 100


def test_month_to_date_actuals_are_each_agents_own():
    """Actuals of several agents, interleaved and partly from the previous month: each
    budget's month-to-date usage is its own agent's days of this month (by hand)."""
    budgets = pd.DataFrame({"workspace_id": ["w", "w", "w"], "agent_id": ["a", "b", "c"],
                            "daily_token_budget": [None, None, None], "monthly_token_budget": [10_000.0, 10_000.0, 10_000.0],
                            "monthly_cost_budget_usd": [5.0, None, None]})
    actuals = pd.DataFrame({
        "agent_id": ["b", "a", "a", "b", "a", "a", "x"],
        "usage_date": pd.to_datetime(["2026-11-02", "2026-10-31", "2026-11-01", "2026-11-03", "2026-11-02",
                                      "2026-11-03", "2026-11-02"]),
        "tokens": [50.0, 7000.0, 100.0, 25.0, 200.0, 300.0, 1e9], "cost_usd": [0.1, 9.0, 1.0, 0.2, 2.0, 3.0, 1e6]})
    dates = pd.date_range("2026-11-04", periods=27)
    out = bp.project_budgets(budgets, actuals, {}, {}, dates, "2026-11-03").set_index(["agent_id", "budget_type"])
    assert out.loc[("a", "monthly_tokens"), "actual_to_date"] == 600.0  # 100 + 200 + 300; Oct 31 is last month
    assert out.loc[("a", "monthly_cost"), "actual_to_date"] == 6.0
    assert out.loc[("a", "monthly_cost"), "already_breached"]  # 6 > 5, passed on Nov 3 (1 + 2 + 3)
    assert out.loc[("a", "monthly_cost"), "expected_breach_date"] == pd.Timestamp("2026-11-03").date()
    assert out.loc[("b", "monthly_tokens"), "actual_to_date"] == 75.0
    assert out.loc[("c", "monthly_tokens"), "actual_to_date"] == 0.0  # no actuals at all


def test_daily_budget_first_likely_breach_day():
    """Weekdays 120, weekends 50 against a daily budget of 100, as of a Friday: the next day
    (Saturday) is safe, the expected breach date is Monday."""
    dates = pd.date_range("2026-11-14", periods=10)  # Saturday
    day = np.where(dates.day_of_week >= 5, 50.0, 120.0)
    r = bp.project_daily_budget(100, dates, np.tile(day, (50, 1)), "2026-11-13")
    assert r["p_breach"] == 0.0
    assert r["expected_breach_date"] == pd.Timestamp("2026-11-16").date()
    assert r["expected_breach_days_in_horizon"] == pytest.approx(6.0)


def test_unit_prices_and_cost_paths_by_construction():
    usage = pd.DataFrame({
        "agent_id": ["a", "a", "b"], "usage_date": pd.to_datetime(["2026-11-12", "2026-11-13", "2026-11-13"]),
        "tokens": [1000.0, 3000, 0], "token_cost": [1.0, 3.0, 0], "cpu_core_hours": [2.0, 2, 10],
        "cpu_cost": [0.12, 0.12, 0.6], "memory_cost": [0.04, 0.04, 0.2], "network_cost": [0.0, 0, 0],
        "gpu_units": [0.0, 0, 0], "gpu_cost": [0.0, 0, 0], "api_calls": [10.0, 10, 0], "api_cost": [0.1, 0.1, 0],
        "storage_growth_mb": [0.0, 0, 0], "storage_cost": [0.0, 0, 0]})
    p = bp.unit_prices(usage, "2026-11-13").set_index(["agent_id", "metric"])
    assert p.loc[("a", "tokens"), "usd_per_unit"] == pytest.approx(0.001)
    assert p.loc[("a", "cpu_core_hours"), "usd_per_unit"] == pytest.approx(0.08)  # (0.24 + 0.08) / 4
    assert p.loc[("b", "tokens"), "usd_per_unit"] == pytest.approx(0.001) and p.loc[("b", "tokens"), "source"] == "fleet"
    cp = bp.cost_paths({"tokens": np.full((2, 3), 1000.0), "cpu_core_hours": np.full((2, 3), 1.0)},
                       {"tokens": 0.001, "cpu_core_hours": 0.08})
    assert np.allclose(cp, 1.08)


# ---------------------------------------------------------------- the sample warehouse


@pytest.fixture(scope="module")
def sample_db(sample_warehouse):  # noqa: F811
    return sample_warehouse["DUCKDB_PATH"]


def test_sample_forecasts_tables(sample_db):
    with duckdb.connect(sample_db, read_only=True) as conn:
        f = conn.execute("select * from analytics.forecasts").df()
        acc = conn.execute("select * from analytics.forecast_accuracy").df()
        last = conn.execute("select max(usage_date) from marts.mart_daily_usage").fetchone()[0]
        hist = conn.execute("select sum(total_tokens) from marts.mart_daily_usage").fetchone()[0]
    daily = f[f["grain"] == "daily"]
    assert (pd.to_datetime(daily["as_of_date"]) == pd.Timestamp(last)).all()
    steps = daily.groupby("series_id")["forecast_date"].agg(["min", "max", "count"])
    assert (steps["count"] == 30).all()
    assert (pd.to_datetime(steps["min"]) == pd.Timestamp(last) + pd.Timedelta(days=1)).all()
    for metric in ("tokens", "cpu_core_hours", "api_calls", "storage_growth_mb", "gpu_units", "cost_usd"):
        assert f"daily|total|*|*|{metric}" in set(f["series_id"]), metric
    assert daily["series_id"].str.contains(r"\|agent\|").sum() > 0
    assert set(f["grain"]) == {"daily", "hourly"}  # the sample's total LLM calls are dense by hour
    eps = 1e-6
    assert (f["lower_95"] <= f["lower_80"] + eps).all() and (f["lower_80"] <= f["median"] + eps).all()
    assert (f["median"] <= f["upper_80"] + eps).all() and (f["upper_80"] <= f["upper_95"] + eps).all()
    assert (f["lower_95"] >= 0).all()
    # the total tokens forecast continues the history's scale (sample: ~5M/day on weekdays)
    total = daily[daily["series_id"] == "daily|total|*|*|tokens"]
    assert 0.3 * hist / 30 < total["mean"].iloc[:7].mean() < 3 * hist / 30
    assert {"mase", "coverage_80", "coverage_95", "naive_mase", "interval_factor"} <= set(acc.columns)
    assert acc["series_id"].is_unique and set(acc["series_id"]) <= set(f["series_id"])


def test_sample_budget_projections_find_the_planted_over_budget_agents(sample_db):
    with duckdb.connect(sample_db, read_only=True) as conn:
        p = conn.execute("select * from analytics.budget_projections").df()
        agents = conn.execute("select count(*) from marts.dim_agents").fetchone()[0]
    assert set(p["budget_type"]) == {"daily_tokens", "monthly_tokens", "monthly_cost"}
    assert len(p) == 3 * agents
    daily = p[p["budget_type"] == "daily_tokens"].set_index("agent_id")
    # as of Friday 2026-11-13: the planted agents break their daily budget again on Monday
    for agent in ("agt_002", "agt_006"):
        assert pd.Timestamp(daily.loc[agent, "expected_breach_date"]) == pd.Timestamp("2026-11-16"), agent
    healthy = daily.loc[["agt_001", "agt_004", "agt_010"]]
    assert healthy["expected_breach_date"].isna().all()
    monthly = p[p["budget_type"] != "daily_tokens"]
    assert (pd.to_datetime(monthly["period_start"]) == pd.Timestamp("2026-11-01")).all()
    assert (pd.to_datetime(monthly["period_end"]) == pd.Timestamp("2026-11-30")).all()
    assert ((monthly["p_breach"] >= 0) & (monthly["p_breach"] <= 1)).all()
    assert (monthly["projected_end_of_period"] >= monthly["actual_to_date"] - 1e-9).all()


def test_forecast_fan_chart_is_in_the_materialization_metadata(sample_warehouse, monkeypatch):  # noqa: F811
    import dagster as dg

    monkeypatch.setenv("DAGSTER_HOME", sample_warehouse["DAGSTER_HOME"])
    with dg.DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(["analytics", "forecasts"]))
    md = event.asset_materialization.metadata["forecast_fan_total_tokens"].value
    prefix = "![forecast fan](data:image/png;base64,"
    assert md.startswith(prefix) and md.endswith(")")
    assert base64.b64decode(md[len(prefix):-1])[:8] == b"\x89PNG\r\n\x1a\n"
    # the sample's daily series are too few to spread over processes: the step starts none
    with duckdb.connect(sample_warehouse["DUCKDB_PATH"], read_only=True) as conn:
        daily = conn.execute("select count(*) from analytics.forecast_accuracy where grain = 'daily'").fetchone()[0]
    assert 0 < daily < fc.MIN_SERIES_FOR_POOL
    assert event.asset_materialization.metadata["worker_processes"].value == 1


def test_pool_size_starts_processes_only_for_enough_series():
    assert fc.pool_size(fc.MIN_SERIES_FOR_POOL - 1, 2) == 1
    assert fc.pool_size(fc.MIN_SERIES_FOR_POOL, 2) == 2
    assert fc.pool_size(10_000, 1) == 1


def test_benchmark_script_runs_on_the_real_series():
    data = REPO.parent / "shared" / "real-data" / "alibaba_servegen" / "servegen_client_rate_traces.csv.gz"
    assert data.exists(), f"the benchmark's data is expected at {data}"
    proc = run([str(BIN / "python"), "benchmarks/forecast_accuracy.py"])
    for model in ("m-large", "m-mid", "m-small"):
        assert f"{model} requests/hour" in proc.stdout
    assert "MASE_snaive" in proc.stdout and "cov95_snaive" in proc.stdout


def test_reselect_benchmark_runs_and_on_the_30_day_sample_all_modes_agree(sample_db):
    """benchmarks/forecast_reselect.py runs on the sample. Its origins (the sample's days 22
    and 23, each with 7 days after it) leave too little history for a backtest in any
    mode (30 days needed), so the three modes fall back alike and must score the same forecasts
    identically: a check that the runs see the same series, origins and days."""
    proc = run([str(BIN / "python"), "benchmarks/forecast_reselect.py", "--duckdb", sample_db,
                "--series", "12", "--origins", "2", "--workers", "1"])
    rows = {}
    for label in ("every run", "weekly (last Sunday)", "weekly, parameters kept"):
        line = next(x.strip() for x in proc.stdout.splitlines() if x.strip().startswith(label))
        rows[label] = line[len(label):].split()[:5]  # forecasts, mean and median MASE, cov80, cov95
    assert rows["every run"] == rows["weekly (last Sunday)"] == rows["weekly, parameters kept"], proc.stdout
    assert int(rows["every run"][0]) == 12 * 2
    assert "weekly / every run" in proc.stdout and "weekly with parameters kept / weekly" in proc.stdout


def test_sample_cost_forecasts_are_the_metric_forecasts_at_each_agents_unit_prices(sample_db):
    """The derived cost_usd series, checked by linearity: the mean of Σ paths x price is
    Σ price x the mean of each metric's paths (the metric series' own `mean`). Unit prices
    are recomputed here from the marts: cost / quantity over the agent's last 7 days, the
    fleet's where the agent used none of it."""
    units = {"tokens": ("total_tokens", "token_cost"), "cpu_core_hours": ("cpu_core_hours", "cpu_cost + memory_cost + network_cost"),
             "gpu_units": ("gpu_units", "gpu_cost"), "api_calls": ("api_calls", "api_cost"),
             "storage_growth_mb": ("storage_mb", "storage_cost")}
    with duckdb.connect(sample_db, read_only=True) as conn:
        f = conn.execute("select series_id, agent_id, metric, step, mean from analytics.forecasts "
                         "where grain = 'daily' and level in ('agent', 'total')").df()
        last = conn.execute("select max(usage_date) from marts.mart_daily_usage").fetchone()[0]
        recent = conn.execute(f"""
            with u as (select agent_id, sum(total_tokens) as total_tokens, sum(api_calls) as api_calls,
                              sum(token_cost) as token_cost, sum(cpu_cost) as cpu_cost, sum(memory_cost) as memory_cost,
                              sum(network_cost) as network_cost, sum(gpu_cost) as gpu_cost, sum(api_cost) as api_cost,
                              sum(storage_cost) as storage_cost
                       from marts.mart_daily_usage where usage_date > date '{last}' - 7 and agent_id is not null group by 1),
                 r as (select agent_id, sum(cpu_core_seconds) / 3600 as cpu_core_hours,
                              sum(coalesce(gpu_compute_units, 0)) as gpu_units,
                              sum(coalesce(persistent_storage_mb, 0)) as storage_mb
                       from marts.fct_resource_utilization where usage_date > date '{last}' - 7 group by 1)
            select * from u full join r using (agent_id)""").df().fillna(0).set_index("agent_id").astype(float)
    means = f.pivot_table(index=["agent_id", "step"], columns="metric", values="mean", aggfunc="sum")
    cost = f[f["metric"] == "cost_usd"]
    checked = 0
    for agent, g in cost[cost["series_id"].str.contains("|agent|", regex=False)].groupby("agent_id"):
        expected = np.zeros(30)
        for metric, (qty, money) in units.items():
            if (agent, 1) not in means.index or pd.isna(means.loc[(agent, 1), metric]):
                continue  # no forecast of this metric (never used): no cost from it
            spent = recent.eval(money)
            q = recent.loc[agent, qty] if agent in recent.index else 0.0
            price = spent[agent] / q if q > 0 else spent.sum() / recent[qty].sum()
            expected += price * means.loc[agent, metric].sort_index().to_numpy()
        np.testing.assert_allclose(g.sort_values("step")["mean"].to_numpy(), expected, rtol=1e-9, atol=1e-12)
        checked += 1
    assert checked >= 10
    total = cost[cost["series_id"] == "daily|total|*|*|cost_usd"].sort_values("step")["mean"].to_numpy()
    per_agent = cost[cost["agent_id"] != "*"].groupby("step")["mean"].sum().sort_index().to_numpy()
    np.testing.assert_allclose(total, per_agent, rtol=1e-9)
