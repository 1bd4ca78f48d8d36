"""Forecasts of usage series with rolling-origin model selection and honest intervals.

Pure functions over pandas / numpy (no Dagster): the Dagster wrapper is in
`orchestration/defs/forecasting/`.

Method, per series (one value per day, or per hour where the data is dense):

* **Transform**: a series that is strictly positive is modelled on the log scale (usage
  grows by a percentage, and the weekend dip is a factor, not an amount); anything with a
  zero is modelled as is, with simulated paths clipped at zero (usage is never negative).
* **Candidates**: seasonal naive; ETS(A, Ad, A) with the seasonal period (statsmodels
  ``ETSModel``, damped additive trend, heuristic initial states); STL + ETS (robust STL
  decomposition, ETS(A, Ad, N) on the seasonally adjusted series, the last seasonal cycle
  added back). SARIMAX(1,0,0)(0,1,1)_m with a constant is available (``models``) but not in
  the default set: it costs ~10x an ETS fit, and the build has ~100 series to do.
* **Selection**: rolling origin, ``backtest_folds`` folds of ``backtest_horizon`` steps each
  at the end of the series; the candidate with the lowest mean MASE wins (ties: the simpler).
* **Intervals**: every model produces ``n_paths`` simulated future paths (ETS and SARIMAX
  from their fitted error model, seasonal naive from its seasonal-difference residuals as a
  random walk per season phase). Means and 80% / 95% quantiles come from the paths, after
  the back-transform, so sums over days (a month's tokens) and derived costs have proper
  distributions too.
* **Calibration**: the chosen model's paths are widened around their median by the root
  mean square of its standardised backtest errors (>= 1, <= 2.5), so that intervals are as
  wide as the model's own out-of-sample errors say they must be (see interval_inflation).
  Log-scale paths are capped at 5x the largest observed value (explosive fits).
* **Fallback** (stated in ``model`` and ``method_note``): a series with fewer than
  ``2 * season + 2`` observations before the first backtest origin, or with more than 30%
  zeros, is forecast by ``recent_bootstrap``: each future value drawn from the last
  ``2 * season`` observations (a flat level with the observed spread: no trend, no
  seasonality); an all-zero recent history is forecast as ``zero``.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import json
import warnings
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from orchestration.analytics.frames import numpy_lerp, rows_by, runs

LEVELS = (80, 95)
METRICS = ("tokens", "cpu_core_hours", "gpu_units", "api_calls", "storage_growth_mb")
DAILY_MODELS = ("seasonal_naive", "ets", "stl_ets")  # "sarimax" is available, ~10x slower
HOURLY_MODELS = ("seasonal_naive", "ets")
MAX_ZERO_SHARE = 0.3


@dataclass(frozen=True)
class ForecastConfig:
    horizon: int = 30  # steps ahead (days for daily series, hours for hourly)
    season: int = 7
    backtest_folds: int = 2
    backtest_horizon: int = 7
    n_paths: int = 1000
    models: tuple[str, ...] = DAILY_MODELS
    seed: int = 0
    freq: str = "D"
    # Model selection (the backtest: most of the cost) sees the history up to the last day
    # of a grid every `reselect_days` days (counted from Sunday 1970-01-04), or all of it for
    # a series too young to backtest on that (selection_through); the chosen model is refitted
    # on all the history. 1 = select on every run with all the history. The build uses 7
    # (ForecastSettings.reselect_every_days).
    reselect_days: int = 1
    # With reselect_days > 1: the chosen model's parameters are fitted on the history the
    # selection saw and kept with it, each run filtering all the history through them (the
    # fit was ~40% of what is left of a series once its selection is reused). False: each
    # run fits the chosen model's parameters on all the history.
    keep_params: bool = False

    @property
    def min_train(self) -> int:
        return 2 * self.season + 2


class Backtest:
    """A backtest's columns (BACKTEST_COLUMNS) as numpy arrays, one row per model x fold point.

    Not a DataFrame: a reused selection's forecast reads its backtest ~40 times, and pandas'
    column lookups, to_dict and a frame per series were ~40% of that forecast."""

    __slots__ = ("columns", "rows")

    def __init__(self, columns: dict[str, np.ndarray] | None = None):
        self.columns = columns or {}
        self.rows = len(next(iter(self.columns.values()))) if self.columns else 0

    def __len__(self) -> int:
        return self.rows

    @property
    def empty(self) -> bool:
        return self.rows == 0

    def __getitem__(self, column: str) -> np.ndarray:
        return self.columns[column]

    def __contains__(self, column: str) -> bool:
        return column in self.columns

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.columns, index=pd.RangeIndex(self.rows))


@dataclass
class SeriesForecast:
    model: str
    transform: str
    note: str
    index: pd.DatetimeIndex
    paths: np.ndarray  # (n_paths, horizon), original scale
    backtest: Backtest = field(default_factory=lambda: Backtest())  # per model and fold point
    scores: dict = field(default_factory=dict)  # model -> its score_backtest row (mase, coverage) as a dict
    interval_factor: float = 1.0
    selection: "Selection | None" = None
    selection_reused: bool = False  # the stored selection passed in was used

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.columns())

    def columns(self) -> dict[str, np.ndarray]:
        """The forecast frame's columns (ts, mean, median, 80%/95% bounds) as arrays."""
        return path_columns(self.index, self.paths)


def path_columns(ts, paths: np.ndarray) -> dict:
    """A forecast's columns from its simulated paths (rows = paths): ts, mean, median and
    the 80%/95% bounds per step. Also the derived cost series' (forecasting asset)."""
    median, bounds = median_and_bounds(paths)
    out = {"ts": ts, "mean": paths.mean(axis=0), "median": median}
    for level, (lo, hi) in bounds.items():
        out[f"lower_{level}"], out[f"upper_{level}"] = lo, hi
    return out


def quantile_bounds(paths: np.ndarray, levels=LEVELS) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Central prediction interval per level from simulated paths (rows = paths)."""
    return median_and_bounds(paths, levels)[1]


def median_and_bounds(paths: np.ndarray, levels=LEVELS) -> tuple[np.ndarray, dict[int, tuple[np.ndarray, np.ndarray]]]:
    """np.median(paths, axis=0) and the central interval per level (np.quantile, linear
    method), to the bit, from one sort of the paths.

    np.median and np.quantile each partition the paths again: 1.02 ms for a 1,000 x 30
    forecast here, against 0.45 ms for one sort and numpy's own arithmetic on the order
    statistics (~11,000 series per 10M run, and each backtest fold). The arithmetic is
    numpy's: the median is the mean of the middle one or two values; a quantile is the
    two-sided lerp between the values at floor and floor + 1 of (n - 1) * q. A step with a
    NaN gives NaN, as numpy does (NaN sorts last)."""
    ordered = np.sort(paths, axis=0)
    n = ordered.shape[0]
    has_nan = np.isnan(ordered[-1])
    middle = n // 2
    median = np.mean(ordered[middle:middle + 1] if n % 2 else ordered[middle - 1:middle + 1], axis=0)
    median[has_nan] = np.nan
    bounds = {}
    for level in levels:
        a = (1 - level / 100) / 2
        lo, hi = (_sorted_quantile(ordered, q, has_nan) for q in (a, 1 - a))
        bounds[level] = (lo, hi)
    return median, bounds


def _sorted_quantile(ordered: np.ndarray, q: float, has_nan: np.ndarray) -> np.ndarray:
    """np.quantile(x, q, axis=0) of the paths x whose axis-0 sort is `ordered`."""
    n = ordered.shape[0]
    virtual = (n - 1) * np.float64(q)
    before = np.floor(virtual)
    after = before + 1
    if virtual >= n - 1:  # at or past the last value both neighbours are the last value
        before = after = np.float64(-1)
    elif virtual < 0:
        before = after = np.float64(0)
    gamma = virtual - before
    result = numpy_lerp(ordered[int(before)], ordered[int(after)], gamma)
    result[has_nan] = np.nan
    return result


# ---------------------------------------------------------------- BLAS threads


@functools.cache
def _openblas_libraries() -> list[tuple[ctypes.CDLL, str, str]]:
    """The OpenBLAS copies loaded in this process (numpy and scipy each bundle one), with
    their get/set thread-count symbols. Empty where /proc or OpenBLAS is not there.
    Cached (reading /proc/self/maps cost ~3 ms a series): single_threaded_blas imports
    scipy's linear algebra first, so both copies are loaded before the first call."""
    found = []
    try:
        paths = {line.split()[-1] for line in open("/proc/self/maps") if "openblas" in line.lower()}
    except OSError:
        return found
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get, set_ in (("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
                          ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
                          ("openblas_get_num_threads", "openblas_set_num_threads")):
            if hasattr(lib, get) and hasattr(lib, set_):
                found.append((lib, get, set_))
                break
    return found


@contextlib.contextmanager
def single_threaded_blas():
    """Run with one BLAS thread, restoring the previous count after. statsmodels fits are
    thousands of tiny matrix operations: with OpenBLAS threads on a busy machine each one
    pays for thread wake-ups, and a fit takes ~7x longer (measured: 0.53 s vs 0.08 s per
    series on 2 shared cores). threadpoolctl would do the same; it is not a dependency."""
    import scipy.linalg  # noqa: F401  (loads scipy's OpenBLAS, which the fits use, before the lookup)

    libs = _openblas_libraries()
    before = []
    for lib, get, set_ in libs:
        before.append(getattr(lib, get)())
        getattr(lib, set_)(1)
    try:
        yield
    finally:
        for (lib, _, set_), n in zip(libs, before):
            getattr(lib, set_)(n)


# ---------------------------------------------------------------- single models


def _simulate_seasonal_naive(z: np.ndarray, m: int, horizon: int, n: int, rng) -> np.ndarray:
    m = min(m, len(z) - 1) if len(z) > m else max(1, len(z) - 1)
    resid = z[m:] - z[:-m] if len(z) > m else np.diff(z)
    sigma = float(np.sqrt(np.mean(resid**2))) if len(resid) else 0.0
    steps = np.arange(horizon)
    phase, block = steps % m, steps // m
    base = z[-m:][phase]
    n_blocks = int(block.max()) + 1
    shocks = rng.normal(0.0, sigma, size=(n, n_blocks, m)).cumsum(axis=1)
    return base[None, :] + shocks[:, block, phase]


@functools.cache
def _ets_model():
    """statsmodels' ETSModel, except that its results skip the parameters' covariance.
    ETSResults computes it after every fit (a complex-step Hessian of the likelihood: ~15-20%
    of a fit and its simulation here) for standard errors nothing here reads. The fit and
    the simulated paths are the same to the bit (compared on 150 series of a 10M-call
    warehouse). Built on first use: statsmodels is imported when a step needs it."""
    import statsmodels.tsa.exponential_smoothing.ets as ets

    class Results(ets.ETSResults):
        @property
        def cov_params_approx(self):
            return np.full((len(self.params), len(self.params)), np.nan)

    class Model(ets.ETSModel):
        @property
        def _res_classes(self):
            return {"fit": (Results, ets.ETSResultsWrapper)}

    return Model


def _ets_results(model, params):
    """The model fitted, or filtered through given parameters (ETSModel.smooth: what fit()
    itself returns at its optimum, so a fit and a smooth with its parameters are the same)."""
    return model.fit(disp=False, maxiter=200) if params is None else model.smooth(np.asarray(params, dtype=float))


def _ets(z: np.ndarray, m: int):
    # Heuristic initial states (Hyndman et al.: from the first cycles) instead of estimating
    # them: ~15x faster, and with two or more seasons of data as accurate. They are not
    # parameters: kept parameters meet the initial states of the history they filter.
    return _ets_model()(z, error="add", trend="add", damped_trend=True, seasonal="add", seasonal_periods=m,
                        initialization_method="heuristic")


def _stl_ets(z: np.ndarray, m: int):
    """The seasonal component (robust STL) and ETS(A,Ad,N) on the seasonally adjusted series."""
    from statsmodels.tsa.seasonal import STL

    seasonal = STL(z, period=m, robust=True).fit().seasonal
    return seasonal, _ets_model()(z - seasonal, error="add", trend="add", damped_trend=True,
                                  initialization_method="heuristic")


def _simulate_ets(z: np.ndarray, m: int, horizon: int, n: int, rng, params=None) -> np.ndarray:
    res = _ets_results(_ets(z, m), params)
    sim = res.simulate(horizon, repetitions=n, anchor="end", rng=np.random.default_rng(int(rng.integers(2**31))))
    return np.asarray(sim).reshape(horizon, n).T


def _simulate_stl_ets(z: np.ndarray, m: int, horizon: int, n: int, rng, params=None) -> np.ndarray:
    """STL decomposition (robust), ETS(A,Ad,N) on the seasonally adjusted series, the last
    seasonal cycle added back."""
    seasonal, model = _stl_ets(z, m)
    res = _ets_results(model, params)
    sim = np.asarray(res.simulate(horizon, repetitions=n, anchor="end",
                                  rng=np.random.default_rng(int(rng.integers(2**31))))).reshape(horizon, n).T
    return sim + seasonal[-m:][np.arange(horizon) % m][None, :]


# the models whose parameters can be kept (fit_params); the others have none or are refitted
_PARAM_MODELS = {"ets": _ets, "stl_ets": lambda z, m: _stl_ets(z, m)[1]}


def _simulate_sarimax(z: np.ndarray, m: int, horizon: int, n: int, rng, marginal_only: bool = False) -> np.ndarray:
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    res = SARIMAX(z, order=(1, 0, 0), seasonal_order=(0, 1, 1, m), trend="c").fit(disp=False, maxiter=100)
    if marginal_only:
        # Backtests only need each step's distribution: the analytic Gaussian forecast is
        # exact for this model and ~20x cheaper than simulating the state space.
        fc = res.get_forecast(horizon)
        mean, se = np.asarray(fc.predicted_mean), np.sqrt(np.asarray(fc.var_pred_mean))
        return mean[None, :] + se[None, :] * rng.standard_normal((n, horizon))
    sim = res.simulate(horizon, repetitions=n, anchor="end", rng=np.random.default_rng(int(rng.integers(2**31))))
    return np.asarray(sim).reshape(horizon, n).T


def _simulate_recent_bootstrap(y: np.ndarray, m: int, horizon: int, n: int, rng) -> np.ndarray:
    recent = y[-2 * m:] if len(y) else np.zeros(1)
    return rng.choice(recent, size=(n, horizon), replace=True)


_SIMULATORS = {"seasonal_naive": _simulate_seasonal_naive, "ets": _simulate_ets, "stl_ets": _simulate_stl_ets,
               "sarimax": _simulate_sarimax}


def transform_of(y: np.ndarray) -> str:
    """'log' for a strictly positive series, else 'none' (see the module docstring)."""
    return "log" if bool(np.all(np.asarray(y, dtype=float) > 0)) else "none"


def fit_params(y: np.ndarray, model: str, season: int, transform: str) -> tuple[float, ...] | None:
    """The parameters of `model` fitted on y under `transform`, or None for a model without
    any to keep (seasonal naive, the fallbacks) or not kept (SARIMAX)."""
    if model not in _PARAM_MODELS:
        return None
    y = np.asarray(y, dtype=float)
    z = np.log(y) if transform == "log" else y
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        params = np.asarray(_ets_results(_PARAM_MODELS[model](z, season), None).params, dtype=float)
    if not np.all(np.isfinite(params)):
        raise FloatingPointError(f"{model} fitted non-finite parameters")
    return tuple(float(v) for v in params)


def simulate_paths(y: np.ndarray, model: str, horizon: int, season: int, n_paths: int, rng,
                   marginal_only: bool = False, params: tuple[float, ...] | None = None) -> tuple[np.ndarray, str]:
    """Future paths (n_paths x horizon, original scale) of one model fitted on y.
    marginal_only: only each step's distribution matters (backtests), not the joint one.
    params: fit_params of an ETS model (fitted on y's transform): y is filtered through
    them instead of fitted."""
    y = np.asarray(y, dtype=float)
    if model == "zero":
        return np.zeros((n_paths, horizon)), "none"
    if model == "recent_bootstrap":
        return _simulate_recent_bootstrap(y, season, horizon, n_paths, rng), "none"
    use_log = transform_of(y) == "log"
    z = np.log(y) if use_log else y
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        if model == "sarimax":
            sim = _simulate_sarimax(z, season, horizon, n_paths, rng, marginal_only)
        elif params is not None:
            sim = _SIMULATORS[model](z, season, horizon, n_paths, rng, params)
        else:
            sim = _SIMULATORS[model](z, season, horizon, n_paths, rng)
    if not np.all(np.isfinite(sim)):
        raise FloatingPointError(f"{model} produced non-finite paths")
    if use_log:
        # Guard against explosive fits: no simulated value above 5x the largest observed.
        sim = np.exp(np.minimum(sim, np.log(np.max(y)) + np.log(5)))
    return np.maximum(sim, 0.0), "log" if use_log else "none"


# ---------------------------------------------------------------- accuracy


def mase_scale(train: np.ndarray, season: int) -> float:
    """Mean absolute seasonal difference of the training data (MASE denominator)."""
    train = np.asarray(train, dtype=float)
    m = season if len(train) > season else 1
    d = np.abs(train[m:] - train[:-m])
    scale = float(d.mean()) if len(d) else 0.0
    if scale == 0.0:
        scale = float(np.mean(np.abs(train))) or 1.0
    return scale


def backtest(y: np.ndarray, models, cfg: ForecastConfig, rng, index=None) -> Backtest:
    """Rolling-origin backtest: one row per model x held-out point with the forecast
    mean, 80/95% bounds, the actual and the fold's MASE scale."""
    y = np.asarray(y, dtype=float)
    parts = []
    for fold in range(cfg.backtest_folds):
        cutoff = len(y) - (cfg.backtest_folds - fold) * cfg.backtest_horizon
        train, test = y[:cutoff], y[cutoff:cutoff + cfg.backtest_horizon]
        if cutoff < 2 or len(test) == 0:
            continue
        scale = mase_scale(train, cfg.season)
        for model in models:
            if model not in ("seasonal_naive", "recent_bootstrap") and len(train) < cfg.min_train:
                continue
            try:
                paths, _ = simulate_paths(train, model, len(test), cfg.season, cfg.n_paths, rng, marginal_only=True)
            except Exception:  # a candidate that cannot fit this fold is not selected
                continue
            k = len(test)
            median, bounds = median_and_bounds(paths)
            part = {"model": np.full(k, model, dtype=object), "fold": np.full(k, fold), "step": np.arange(1, k + 1),
                    "pos": np.arange(cutoff, cutoff + k), "actual": test, "mean": paths.mean(axis=0),
                    "median": median, "scale": np.full(k, scale)}
            for level, (lo, hi) in bounds.items():
                part[f"lower_{level}"], part[f"upper_{level}"] = lo, hi
            parts.append(part)
    if not parts:
        return Backtest()
    columns = {c: np.concatenate([np.asarray(p[c]) for p in parts]) for c in parts[0]}
    if index is not None:
        # microseconds, as DuckDB stores a timestamp and a stored selection reads back: parts in
        # one unit are stacked as arrays, mixed units would send the frame through pd.concat
        columns["ts"] = np.asarray(index, dtype="datetime64[us]")[columns["pos"]]
    return Backtest(columns)


SCORE_COLUMNS = ["model", "mase", "coverage_80", "coverage_95", "n_points"]


def score_backtest(bt: Backtest | pd.DataFrame) -> pd.DataFrame:
    """Per model: MASE (mean over folds of MAE / scale; the point forecast scored is the
    median of the paths, the forecast that minimises absolute error), 80% and 95% coverage."""
    return pd.DataFrame(list(_scores(bt).values()), columns=SCORE_COLUMNS)


def _scores(bt: Backtest | pd.DataFrame) -> dict[str, dict]:
    """score_backtest's rows by model, in its order."""
    if len(bt) == 0:
        return {}
    # numpy per model and fold (a few dozen points): pandas groupby costs ~30x the arithmetic
    col = (lambda c: bt[c]) if isinstance(bt, Backtest) else (lambda c: bt[c].to_numpy())
    model, fold = col("model"), col("fold")
    actual, median, scale = (np.asarray(col(c), dtype=float) for c in ("actual", "median", "scale"))
    inside = {level: (actual >= col(f"lower_{level}")) & (actual <= col(f"upper_{level}")) for level in LEVELS}
    abs_err = np.abs(actual - median)
    n_folds = len(np.unique(fold))
    rows = {}
    for m in sorted(set(model)):  # groupby order
        at = model == m
        folds = np.unique(fold[at])
        if len(folds) != n_folds:  # a model must have run on every fold the series had to compete
            continue
        mase = np.mean([abs_err[at & (fold == f)].mean() / scale[at & (fold == f)][0] for f in folds])
        rows[m] = dict(zip(SCORE_COLUMNS, (m, float(mase), float(inside[80][at].mean()),
                                           float(inside[95][at].mean()), int(at.sum()))))
    return rows


# ---------------------------------------------------------------- calibration

MAX_INFLATION = 2.5


def interval_inflation(actual: np.ndarray, mean: np.ndarray, lower_80: np.ndarray, upper_80: np.ndarray) -> float:
    """How much wider the model's intervals must be to match its own backtest errors.

    Model intervals ignore parameter uncertainty and the optimism of picking the model that
    backtested best, so they come out too narrow (on synthetic ETS-shaped series: 71% and
    89% coverage for nominal 80% and 95%). Each backtest error is standardised by that
    point's predictive sd (80% half-width / 1.2816); the factor is the root mean square of
    those z-scores, never below 1 (intervals are only widened) and capped at 2.5."""
    # arrays, not the backtest's DataFrame: a filter and four columns per series cost more than the arithmetic
    sd = (upper_80 - lower_80) / (2 * 1.2816)
    ok = sd > 0
    if not ok.any():
        return 1.0
    z = (actual[ok] - mean[ok]) / sd[ok]
    return float(np.clip(np.sqrt(np.mean(z**2)), 1.0, MAX_INFLATION))


def widen(paths: np.ndarray, factor: float) -> np.ndarray:
    """Scale the paths' spread around their per-step median by `factor`, keeping the median
    (on the original scale: widening log-scale paths would blow up the mean of skewed series);
    usage stays >= 0."""
    if factor == 1.0:
        return paths
    med = np.median(paths, axis=0)
    return np.maximum(med + factor * (paths - med), 0.0)


# ---------------------------------------------------------------- one series


@dataclass(frozen=True)
class Selection:
    """What model selection decided for a series from its history up to `through`: the
    backtest of every candidate (one row per model x fold point), or, when `fallback` says
    why, of the fallback against seasonal naive. A pure function of that history and the
    config, both in `input_hash`: a stored selection with the same hash is reused as is."""

    through: pd.Timestamp
    input_hash: str
    fallback: str  # "" = chosen by backtest
    backtest: Backtest
    # (model, transform, parameters) fitted on the same history, kept when cfg.keep_params
    # (see kept_params); None until a run keeps some
    params: tuple | None = None


def selection_through(index: pd.DatetimeIndex, cfg: ForecastConfig) -> pd.Timestamp:
    """The last step model selection sees (see ForecastConfig.reselect_days).

    A series too young for a backtest on the history to the grid day, but not on all of
    it, is selected on all of it (every run, until the grid day's history is long enough):
    otherwise a new agent with three weeks of usage would fall back to a flat bootstrap
    for up to a week although its candidates could be compared."""
    last = index[-1]
    if cfg.reselect_days <= 1:
        return last
    day = last.normalize()
    grid_day = day - pd.Timedelta(days=(day - pd.Timestamp("1970-01-04")).days % cfg.reselect_days)
    step = pd.tseries.frequencies.to_offset(cfg.freq)
    through = min(last, grid_day + pd.Timedelta(days=1) - step)
    if int((index <= through).sum()) < cfg.min_train + cfg.backtest_folds * cfg.backtest_horizon:
        return last
    return through


def _selection_hash(y: pd.Series, cfg: ForecastConfig) -> str:
    import hashlib

    h = hashlib.blake2b(digest_size=16)
    h.update(np.asarray(y.index.asi8, dtype=np.int64).tobytes())
    h.update(np.asarray(y.to_numpy(), dtype=np.float64).tobytes())
    h.update(repr((cfg.season, cfg.backtest_folds, cfg.backtest_horizon, cfg.n_paths, cfg.models, cfg.seed,
                   cfg.freq, MAX_ZERO_SHARE)).encode())
    return h.hexdigest()


def select_model(y: pd.Series, cfg: ForecastConfig) -> Selection:
    """Backtest the candidates on y (the history selection sees)."""
    rng = np.random.default_rng(cfg.seed)
    values = y.to_numpy()
    n = len(values)
    zero_share = float(np.mean(values == 0)) if n else 1.0
    enough = n - cfg.backtest_folds * cfg.backtest_horizon >= cfg.min_train
    through, key = (y.index[-1] if n else pd.NaT), _selection_hash(y, cfg)
    if enough and zero_share <= MAX_ZERO_SHARE:
        return Selection(through, key, "", backtest(values, cfg.models, cfg, rng, y.index))
    reason = (f"{n} observations (< {cfg.min_train} before the backtest origins)" if not enough
              else f"{zero_share:.0%} zeros (> {MAX_ZERO_SHARE:.0%})")
    # Backtest the fallback against seasonal naive where at least one season of training exists.
    bt = backtest(values, ("seasonal_naive", "recent_bootstrap"), cfg, rng, y.index) \
        if n > cfg.season + cfg.backtest_horizon else Backtest()
    return Selection(through, key, reason, bt)


def forecast_series(y: pd.Series, cfg: ForecastConfig = ForecastConfig(),
                    cached: Selection | None = None) -> SeriesForecast:
    """Forecast one regular series (DatetimeIndex, one value per step, gaps filled with 0).
    cached: a stored selection for this series; used if its history and config still match."""
    with single_threaded_blas():
        return _forecast_series(y, cfg, cached)


def _forecast_series(y: pd.Series, cfg: ForecastConfig, cached: Selection | None = None) -> SeriesForecast:
    y = y.astype(float).sort_index()
    offset = pd.tseries.frequencies.to_offset(cfg.freq)
    last = y.index[-1] if len(y) else pd.Timestamp("1970-01-01")
    future = pd.date_range(last + offset, periods=cfg.horizon, freq=cfg.freq)
    values = y.to_numpy()
    n = len(values)
    recent = values[-2 * cfg.season:]
    # the forecast's own random stream (selection has another): the same paths whether the
    # selection was computed now or reused
    rng = np.random.default_rng([cfg.seed, 1])

    if n == 0 or not np.any(recent > 0):
        paths, transform = simulate_paths(values, "zero", cfg.horizon, cfg.season, cfg.n_paths, rng)
        return SeriesForecast("zero", transform, "no usage in the recent history: forecast 0",
                              future, paths)

    y_sel = y[y.index <= selection_through(y.index, cfg)]
    reused = cached is not None and cached.input_hash == _selection_hash(y_sel, cfg)
    sel = cached if reused else select_model(y_sel, cfg)
    bt = sel.backtest
    # NaT: the series began after the selection day (nothing to select on: it falls back)
    since = "" if pd.isna(sel.through) or sel.through == last else f" (selected on the history to {sel.through:%Y-%m-%d %H:%M})"
    keep = cfg.keep_params and bool(since)
    reason = sel.fallback
    if not reason:
        scores = _scores(bt)
        order = {m: i for i, m in enumerate(cfg.models)}
        # lowest MASE first, ties to the simpler model (cfg.models' order); no MASE last
        ranked = sorted(((m, r["mase"]) for m, r in scores.items()),
                        key=lambda r: (bool(np.isnan(r[1])), 0.0 if np.isnan(r[1]) else r[1], order.get(r[0], len(order))))
        bt_model = bt["model"]
        for model, _ in ranked:
            try:
                params = None
                if keep:
                    sel, params = kept_params(sel, model, values, y_sel.to_numpy(), cfg)
                paths, transform = simulate_paths(values, model, cfg.horizon, cfg.season, cfg.n_paths, rng, params=params)
            except Exception:
                continue
            at = bt_model == model
            factor = interval_inflation(*(np.asarray(bt[c], dtype=float)[at] for c in ("actual", "mean", "lower_80", "upper_80")))
            paths = widen(paths, factor)
            kept = "; parameters fitted on that history, all of it filtered through them" if params is not None else ""
            note = (f"chosen by {cfg.backtest_folds}-fold rolling-origin backtest ({cfg.backtest_horizon} steps each) "
                    f"on MASE{since}{kept}; intervals widened x{factor:.2f} to the backtest errors")
            return SeriesForecast(model, transform, note, future, paths, bt, scores, factor, sel, reused)
        reason, bt = "no candidate model could be fitted to the whole history", Backtest()
    paths, transform = simulate_paths(values, "recent_bootstrap", cfg.horizon, cfg.season, cfg.n_paths, rng)
    return SeriesForecast("recent_bootstrap", transform,
                          f"fallback: {reason}{since}; values drawn from the last {min(n, 2 * cfg.season)} observations "
                          "(flat level, observed spread, no trend or seasonality)",
                          future, paths, bt, _scores(bt), 1.0, sel, reused)


def kept_params(sel: Selection, model: str, y: np.ndarray, y_sel: np.ndarray,
                cfg: ForecastConfig) -> tuple[Selection, tuple[float, ...] | None]:
    """The parameters of `model` for forecasting y, kept with its selection: those stored
    with it, or fitted now on the history it saw (y_sel) under y's transform and stored.
    Either way they are fit_params(y_sel, model, season, transform_of(y)), so a stored
    selection gives the forecast a fresh one gives. A transform that changed since (a zero
    after the selection day) fits them again under the new one."""
    transform = transform_of(y)
    if sel.params is not None and tuple(sel.params[:2]) == (model, transform):
        return sel, sel.params[2]
    params = fit_params(y_sel, model, cfg.season, transform)
    return replace(sel, params=(model, transform, params) if params is not None else None), params


# ---------------------------------------------------------------- many series


def build_daily_series(detail: pd.DataFrame, as_of=None) -> pd.DataFrame:
    """Long daily series for the total, each workspace and each workspace x agent.

    detail: one row per workspace_id, agent_id, usage_date (any finer grain is summed) with
    the METRICS columns present. Days without usage inside the sample are 0; an agent's
    series starts at its first day with any usage. Returns columns series_id, grain, level,
    workspace_id, agent_id, metric, ts, value."""
    columns = ["series_id", "grain", "level", "workspace_id", "agent_id", "metric", "ts", "value"]
    dates = pd.to_datetime(detail["usage_date"])
    metrics = [m for m in METRICS if m in detail.columns]
    end = pd.Timestamp(as_of) if as_of is not None else dates.max()
    days = pd.date_range(dates.min(), end, freq="D")
    frame = detail[[c for c in ("workspace_id", "agent_id") if c in detail.columns] + metrics].assign(usage_date=dates)
    n_days, n_metrics = len(days), len(metrics)
    out = []
    # One group-by per level over every group at once (a loop over ~2,000 agents took 14 s at
    # 10M calls). Each (group, day) sums the same rows in the same order as a group-by of
    # that group alone, so the values are the same to the bit.
    for level, keys in (("total", []), ("workspace", ["workspace_id"]), ("agent", ["workspace_id", "agent_id"])):
        sums = frame.groupby(keys + ["usage_date"])[metrics].sum()
        if keys:
            groups = sums.index.droplevel("usage_date").unique()
            names = [np.asarray(groups.get_level_values(k), dtype=object) for k in keys]
            index = pd.MultiIndex.from_arrays([*(np.repeat(v, n_days) for v in names), np.tile(days, len(groups))],
                                              names=keys + ["usage_date"])
        else:
            names, index = [], days
        if not len(sums) or not n_days:
            continue  # nothing dated on or before `end`
        wide = sums.reindex(index, fill_value=0)
        n_groups = len(wide) // n_days
        active = (wide.sum(axis=1) > 0).to_numpy().reshape(n_groups, n_days)
        started = np.maximum.accumulate(active, axis=1)  # from the group's first day with usage
        values = np.stack([wide[m].astype(float).to_numpy().reshape(n_groups, n_days) for m in metrics], axis=1)
        used = ((values > 0) & started[:, None, :]).any(axis=2)  # (group, metric) with a positive day
        keep = started[:, None, :] & used[:, :, None]  # (group, metric, day)
        g, m, d = np.nonzero(keep)  # C order: group, then metric, then day, as the series are listed
        ws = names[0][g] if keys else np.full(len(g), "*", dtype=object)
        agent = names[1][g] if len(keys) > 1 else np.full(len(g), "*", dtype=object)
        metric = np.asarray(metrics, dtype=object)[m]
        ids = np.asarray([f"daily|{level}|{w}|{a}|{x}" for w, a in zip(names[0] if keys else ["*"],
                                                                      names[1] if len(keys) > 1 else ["*"] * n_groups)
                          for x in metrics], dtype=object)
        out.append(pd.DataFrame({
            "series_id": ids[g * n_metrics + m],
            "grain": "daily", "level": level, "workspace_id": ws, "agent_id": agent, "metric": metric,
            "ts": days[d], "value": values[g, m, d]}))
    out = [o for o in out if len(o)]
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=columns)


def build_hourly_series(calls: pd.DataFrame, min_density: float = 0.9, min_days: int = 14) -> pd.DataFrame:
    """Hourly tokens and LLM calls for the total and each workspace, kept only where dense:
    at least `min_days` days and at least `min_density` of the hours with a call.
    calls: workspace_id, started_at, total_tokens, one row per call; or already summed
    (any grain within the hour) with the number of calls each row stands for in `llm_calls`."""
    calls = calls.copy(deep=False)
    calls["hour"] = pd.to_datetime(calls["started_at"]).dt.floor("h")
    if "llm_calls" not in calls.columns:
        calls["llm_calls"] = 1
    hours = pd.date_range(calls["hour"].min().normalize(), calls["hour"].max().normalize() + pd.Timedelta(hours=23), freq="h")
    if len(hours) < min_days * 24:
        return pd.DataFrame()
    out = []
    for level, keys in (("total", []), ("workspace", ["workspace_id"])):
        groups = calls.groupby(keys) if keys else [((), calls)]
        for key, g in groups:
            ws = key[0] if isinstance(key, tuple) and key else (key if keys else "*")
            h = g.groupby("hour").agg(tokens=("total_tokens", "sum"), llm_calls=("llm_calls", "sum"))
            h = h.reindex(hours, fill_value=0)
            if (h["llm_calls"] > 0).mean() < min_density:
                continue
            for metric in ("tokens", "llm_calls"):
                out.append(pd.DataFrame({
                    "series_id": f"hourly|{level}|{ws}|*|{metric}", "grain": "hourly", "level": level,
                    "workspace_id": ws, "agent_id": "*", "metric": metric, "ts": hours,
                    "value": h[metric].astype(float).to_numpy()}))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()


@dataclass
class ForecastRun:
    forecasts: pd.DataFrame
    accuracy: pd.DataFrame
    backtests: pd.DataFrame  # chosen model's backtest points, per series
    paths: dict[str, np.ndarray]  # series_id -> (n_paths, horizon)
    selections: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SELECTION_COLUMNS))
    selections_reused: int = 0


IDENT = ["series_id", "grain", "level", "workspace_id", "agent_id", "metric"]
# Below this many series a process pool's start-up (~2 s: each worker imports statsmodels)
# costs more than it saves.
MIN_SERIES_FOR_POOL = 200


BACKTEST_COLUMNS = ["model", "fold", "step", "pos", "actual", "mean", "median", "scale",
                    "lower_80", "upper_80", "lower_95", "upper_95", "ts"]
SELECTION_COLUMNS = ["series_id", "selected_through", "input_hash", "fallback", "params", "row", *BACKTEST_COLUMNS]


@dataclass
class Part:
    """One series' share of an output frame: columns as arrays of `length` values, or as
    one value for all of them (what pd.DataFrame(columns) would broadcast)."""

    columns: dict
    length: int

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.columns, index=pd.RangeIndex(self.length))


def stack(parts: list[Part]) -> pd.DataFrame:
    """pd.concat([p.frame() for p in parts], ignore_index=True), built once.

    A DataFrame per series and a concat of ~9,000 of them took longer than the fits of a
    series whose selection is reused. Each column is joined as numpy arrays where its parts
    agree on the type (and, for text, every value is a str), which gives the frame pandas'
    concat gives; a column whose parts differ (a fallback's None or NaN among values) makes
    the whole frame go through pandas' concat, exactly as before."""
    if not parts:
        return pd.DataFrame()
    names = list(parts[0].columns)
    if any(list(p.columns) != names for p in parts):
        return pd.concat([p.frame() for p in parts], ignore_index=True)
    lengths = np.fromiter((p.length for p in parts), dtype=np.int64, count=len(parts))
    out = {}
    for name in names:
        values = [p.columns[name] for p in parts]
        column = _stack_column(values, lengths)
        if column is None:
            return pd.concat([p.frame() for p in parts], ignore_index=True)
        out[name] = column
    return pd.DataFrame(out, index=pd.RangeIndex(int(lengths.sum())))


_SCALAR_DTYPES = {str: object, float: np.float64, int: np.int64, bool: np.bool_}


def _stack_column(values: list, lengths: np.ndarray):
    """One column of stack(), or None where only pandas' concat gives the same dtype."""
    first = values[0]
    if isinstance(first, np.ndarray):
        dtype = first.dtype
        if not all(isinstance(v, np.ndarray) and v.dtype == dtype for v in values):
            return None
        column = np.concatenate(values)
        if dtype == object and not all(type(v) is str for v in column):  # noqa: E721 (str, not a subclass)
            return None
        return column
    kind = type(first)
    if not all(type(v) is kind for v in values):  # noqa: E721
        return None
    if kind in _SCALAR_DTYPES:
        return np.repeat(np.array(values, dtype=_SCALAR_DTYPES[kind]), lengths)
    if kind is pd.Timestamp and first.tz is None and all(v.unit == first.unit for v in values):
        return np.repeat(np.array([v.to_datetime64() for v in values]), lengths)
    return None


def selection_columns(series_id: str, sel: Selection) -> Part:
    """A selection as rows (one per backtest point; one row without a model if it has none)."""
    bt = sel.backtest if len(sel.backtest) else Backtest({"model": np.array([None], dtype=object)})
    # kept parameters as JSON (floats round-trip exactly); "" without any
    params = "" if sel.params is None else json.dumps({"model": sel.params[0], "transform": sel.params[1],
                                                       "values": list(sel.params[2])})
    cols = {"series_id": series_id, "selected_through": sel.through, "input_hash": sel.input_hash,
            "fallback": sel.fallback, "params": params, "row": np.arange(len(bt))}
    cols.update({c: (bt[c] if c in bt else np.nan) for c in BACKTEST_COLUMNS})
    return Part(cols, len(bt))


def selections_from_frame(rows: pd.DataFrame) -> dict[str, Selection]:
    """Stored selections by series_id (the inverse of selection_columns)."""
    if not len(rows):
        return {}
    # Sorted and typed once, then sliced per series: filtering, sorting and casting each
    # series' rows took 26 s for the ~9,000 series of a 10M-call warehouse.
    firsts = rows.drop_duplicates("series_id")
    points = rows[rows["model"].notna()]
    points = points.sort_values(["series_id", "row"], kind="stable")
    bounds = points["series_id"].to_numpy()
    starts, ends = runs(bounds)
    points = points[BACKTEST_COLUMNS].astype({"fold": "int64", "step": "int64", "pos": "int64", "ts": "datetime64[us]"})
    arrays = {c: points[c].to_numpy() for c in BACKTEST_COLUMNS}
    spans = {bounds[a]: (a, b) for a, b in zip(starts, ends)}
    # a table stored before parameters were kept has no params column
    kept = firsts["params"] if "params" in firsts else [None] * len(firsts)
    out = {}
    for series_id, through, input_hash, fallback, params in zip(firsts["series_id"], firsts["selected_through"],
                                                                firsts["input_hash"], firsts["fallback"], kept):
        span = spans.get(series_id)
        bt = Backtest({c: a[span[0]:span[1]] for c, a in arrays.items()}) if span else Backtest()
        p = json.loads(params) if isinstance(params, str) and params else None
        out[series_id] = Selection(pd.Timestamp(through), str(input_hash), str(fallback), bt,
                                   (p["model"], p["transform"], tuple(p["values"])) if p else None)
    return out


def _forecast_one(meta: dict, ts: np.ndarray, values: np.ndarray, cfg: ForecastConfig,
                  cached: Selection | None = None):
    """One series of forecast_many: (forecast Part, accuracy row, calibrated backtest Part or
    None, paths, selection Part, whether the selection was reused)."""
    y = pd.Series(values, index=pd.DatetimeIndex(ts))
    fc = forecast_series(y, cfg, cached)
    score_rows = fc.scores
    chosen, naive = score_rows.get(fc.model), score_rows.get("seasonal_naive")
    cols = fc.columns()
    cols["ts"] = cols["ts"].to_numpy()
    frame = Part({**cols, **meta, "step": np.arange(1, len(cols["mean"]) + 1), "model": fc.model,
                  "transform": fc.transform, "method_note": fc.note,
                  "backtest_mase": float(chosen["mase"]) if chosen is not None else np.nan,
                  "n_obs": len(y), "last_actual_ts": y.index.max()}, len(cols["mean"]))
    accuracy = {
        **meta, "model": fc.model, "n_obs": len(y), "backtest_points": int(chosen["n_points"]) if chosen is not None else 0,
        "mase": float(chosen["mase"]) if chosen is not None else np.nan,
        "coverage_80": float(chosen["coverage_80"]) if chosen is not None else np.nan,
        "coverage_95": float(chosen["coverage_95"]) if chosen is not None else np.nan,
        "naive_mase": float(naive["mase"]) if naive is not None else np.nan,
        "naive_coverage_80": float(naive["coverage_80"]) if naive is not None else np.nan,
        "naive_coverage_95": float(naive["coverage_95"]) if naive is not None else np.nan,
        "interval_factor": fc.interval_factor,
        "candidates": ", ".join(f"{m}={r['mase']:.2f}" for m, r in score_rows.items()),
        "method_note": fc.note,
    }
    b = None
    if len(fc.backtest):
        keep = fc.backtest["model"] == fc.model
        b = {c: a[keep] for c, a in fc.backtest.columns.items()}
        # the backtest intervals as calibrated (widened like the forecast's)
        for level in LEVELS:
            b[f"lower_{level}"] = np.maximum(b["median"] - fc.interval_factor * (b["median"] - b[f"lower_{level}"]), 0)
            b[f"upper_{level}"] = b["median"] + fc.interval_factor * (b[f"upper_{level}"] - b["median"])
        b = Part({**b, **meta}, int(keep.sum()))
    sel = fc.selection
    rows = selection_columns(meta["series_id"], sel) if sel is not None else None
    return frame, accuracy, b, fc.paths, rows, fc.selection_reused


def _split_series(series: pd.DataFrame) -> list[tuple[dict, np.ndarray, np.ndarray]]:
    """(IDENT values, ts, values) per series, in series_id order, each series' rows in frame
    order: what a groupby over IDENT gives (series_id names the rest of IDENT), without a
    frame per group (~2 s for the ~9,000 series of a 10M-call warehouse)."""
    if series.empty:
        return []
    ordered = series.sort_values("series_id", kind="stable")
    starts, ends = runs(ordered["series_id"].to_numpy())
    ts, values = ordered["ts"].to_numpy(), ordered["value"].to_numpy()
    ident = [ordered[c].to_numpy()[starts] for c in IDENT]
    return [(dict(zip(IDENT, key)), ts[a:b], values[a:b]) for key, a, b in zip(zip(*ident), starts, ends)]


def _forecast_chunk(items: list[tuple], cfg: ForecastConfig) -> list:
    return [_forecast_one(meta, ts, values, cfg, cached) for meta, ts, values, cached in items]


def _warm_worker() -> None:
    """Import what a forecast needs (statsmodels' ETS and STL: ~2 s in a fresh process)."""
    from statsmodels.tsa.seasonal import STL  # noqa: F401

    _ets_model()


def pool_size(series_count: int, workers: int) -> int:
    """The processes worth starting for `series_count` series: `workers`, or 1 (no pool)
    below MIN_SERIES_FOR_POOL, where forecast_many forecasts them in its own process."""
    return workers if series_count >= MIN_SERIES_FOR_POOL else 1


@contextlib.contextmanager
def forecast_pool(workers: int):
    """A process pool for forecast_many calls to share (None for workers <= 1).

    Its processes start, and import statsmodels, as soon as it opens, so that cost runs
    while the caller still reads its data; one pool for the daily and the hourly series
    pays it once. (In a profile of the 10M forecast step, each new pool's workers spent
    ~3.5 s starting and importing before their first series.)"""
    if workers <= 1:
        yield None
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: the caller may hold DuckDB and Dagster threads a fork would copy mid-flight
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for _ in range(workers):
            pool.submit(_warm_worker)
        yield pool


def forecast_many(series: pd.DataFrame, cfg: ForecastConfig, workers: int = 1,
                  selections: dict[str, Selection] | None = None, pool=None) -> ForecastRun:
    """Forecast every series of a long frame (see build_daily_series).

    workers > 1 spreads the series over that many processes: `pool` (forecast_pool(workers))
    when given, else a pool of its own. Each series is seeded on its own (cfg.seed), so the
    result is the same, bit for bit, whatever the number of workers.
    selections: stored ones (selections_from_frame of an earlier run's `selections`); each
    is reused where its series' history up to the selection day is unchanged, which gives
    the same result as selecting again."""
    selections = selections or {}
    items = [(meta, ts, values, selections.get(meta["series_id"])) for meta, ts, values in _split_series(series)]
    if workers <= 1 or len(items) < MIN_SERIES_FOR_POOL:
        results = _forecast_chunk(items, cfg)
    else:
        with contextlib.ExitStack() as own:
            if pool is None:
                pool = own.enter_context(forecast_pool(workers))
            # small chunks: the last one to finish keeps one core busy while the other idles
            size = max(1, len(items) // (workers * 32))
            chunks = [items[i:i + size] for i in range(0, len(items), size)]
            results = [r for chunk in pool.map(_forecast_chunk, chunks, [cfg] * len(chunks)) for r in chunk]
    f_rows = [r[0] for r in results]
    a_rows = [r[1] for r in results]
    b_rows = [r[2] for r in results if r[2] is not None]
    paths = {r[1]["series_id"]: r[3] for r in results}
    forecasts = stack(f_rows)
    if len(forecasts):
        forecasts = forecasts[IDENT + ["ts", "step", "mean", "median", "lower_80", "upper_80", "lower_95", "upper_95",
                                       "model", "transform", "backtest_mase", "n_obs", "last_actual_ts", "method_note"]]
    accuracy = pd.DataFrame(a_rows)
    if len(accuracy):
        accuracy["mase_vs_naive"] = accuracy["mase"] / accuracy["naive_mase"]
    backtests = stack(b_rows)
    sel_rows = [r[4] for r in results if r[4] is not None]
    chosen = stack(sel_rows) if sel_rows else pd.DataFrame(columns=SELECTION_COLUMNS)
    return ForecastRun(forecasts, accuracy, backtests, paths, chosen, sum(r[5] for r in results))


# ---------------------------------------------------------------- anomalies


def find_anomalies(backtests: pd.DataFrame, detail: pd.DataFrame, level: int = 95) -> pd.DataFrame:
    """Backtested days whose actual fell outside the chosen model's calibrated `level`% interval, with
    their size and likely driver: the child (agent for a total or workspace series, model
    for an agent series) whose value moved most, in the anomaly's direction, against the
    same weekday a week before. detail: workspace_id, agent_id, model, usage_date + metrics."""
    cols = ["series_id", "level", "workspace_id", "agent_id", "metric", "usage_date", "actual", "expected",
            f"lower_{level}", f"upper_{level}", "direction", "size", "size_pct", "driver_agent_id",
            "driver_model", "driver_change", "series_change", "driver_share"]
    if backtests.empty:
        return pd.DataFrame(columns=cols)
    daily = backtests[backtests["grain"] == "daily"]
    out = daily[(daily["actual"] < daily[f"lower_{level}"]) | (daily["actual"] > daily[f"upper_{level}"])].copy()
    if out.empty:
        return pd.DataFrame(columns=cols)
    detail = detail.copy()
    detail["usage_date"] = pd.to_datetime(detail["usage_date"])
    out["usage_date"] = pd.to_datetime(out["ts"])
    out["expected"] = out["median"]
    out["direction"] = np.where(out["actual"] > out["upper_" + str(level)], "above", "below")
    out["size"] = out["actual"] - out["expected"]
    out["size_pct"] = np.where(out["expected"] > 0, out["size"] / out["expected"] * 100, np.nan)
    scopes = _DriverScopes(detail)
    drivers = [_driver(scopes, r, level) for r in out.itertuples()]
    out["driver_agent_id"], out["driver_model"], out["driver_change"], out["series_change"] = zip(*drivers)
    out["driver_share"] = np.where(out["series_change"] != 0, out["driver_change"] / out["series_change"], np.nan)
    return out[cols].sort_values(["usage_date", "series_id"]).reset_index(drop=True)


class _DriverScopes:
    """What an anomaly's driver is looked for in, split once: filtering the whole detail per
    anomaly took 28 s for the ~4,700 anomalies of a 10M-call warehouse.

    An agent's anomaly (most of them) reads its models' values on the two days from
    `agent_days`: the same sums per (agent, model, day) as a group-by of the agent's rows,
    taken in the group-by's (sorted) model order. A workspace's or the total's (or an
    agent's metric outside METRICS) reads the two days' rows from `day_rows`: row order
    within a day is the detail's, so each sum adds the same values in the same order as a
    filter of the whole detail."""

    def __init__(self, detail: pd.DataFrame):
        self.columns = detail.columns
        self.day_rows = rows_by(detail, "usage_date")
        metrics = [m for m in METRICS if m in detail.columns]
        sums = detail.groupby(["workspace_id", "agent_id", "model", "usage_date"])[metrics].sum()
        self.values = {m: sums[m].to_numpy(dtype=float) for m in metrics}
        self.agent_days: dict[tuple, dict[str, int]] = {}
        for i, (ws, agent, model, day) in enumerate(sums.index):
            self.agent_days.setdefault((ws, agent, day), {})[model] = i

    def rows(self, r, days: list) -> pd.DataFrame:
        both = pd.concat([self.day_rows(d) for d in days])
        if r.level == "agent":
            return both[(both["workspace_id"] == r.workspace_id) & (both["agent_id"] == r.agent_id)]
        return both[both["workspace_id"] == r.workspace_id] if r.level == "workspace" else both

    def agent_driver(self, r, day, week_ago) -> tuple:
        now = self.agent_days.get((r.workspace_id, r.agent_id, day), {})
        before = self.agent_days.get((r.workspace_id, r.agent_id, week_ago), {})
        models = sorted(now.keys() | before.keys())
        v = self.values[r.metric]
        change = (np.array([v[now[m]] if m in now else 0.0 for m in models], dtype=float)
                  - np.array([v[before[m]] if m in before else 0.0 for m in models], dtype=float))
        series_change = float(change.sum())
        if not len(models):
            return None, None, np.nan, series_change
        top = int(np.argmax(change * (1 if r.direction == "above" else -1)))  # the first of equals, as idxmax
        return r.agent_id, models[top], float(change[top]), series_change


def _driver(scopes: _DriverScopes, r, level) -> tuple:
    metric, day, week_ago = r.metric, r.usage_date, r.usage_date - pd.Timedelta(days=7)
    if metric not in scopes.columns:
        return None, None, np.nan, np.nan
    if r.level == "agent" and metric in scopes.values:
        return scopes.agent_driver(r, day, week_ago)
    both = scopes.rows(r, [day, week_ago])
    by = both.groupby(["agent_id", "model", "usage_date"])[metric].sum().unstack("usage_date")
    by = by.reindex(columns=[week_ago, day], fill_value=0).fillna(0)
    change = by[day] - by[week_ago]
    series_change = float(change.sum())
    if change.empty:
        return None, None, np.nan, series_change
    sign = 1 if r.direction == "above" else -1
    if r.level == "agent":
        (agent, model), value = (change * sign).idxmax(), change[(change * sign).idxmax()]
        return agent, model, float(value), series_change
    per_agent = change.groupby(level="agent_id").sum()
    agent = (per_agent * sign).idxmax()
    within = change.xs(agent, level="agent_id")
    model = (within * sign).idxmax()
    return agent, model, float(per_agent[agent]), series_change
