"""External API optimization: response caching, batching, rate-limit strategy, failing endpoints.

calls (marts.fct_api_calls): request_id, execution_id, agent_id, workspace_id, requested_at,
usage_date, endpoint, status_code, is_success, latency_ms, is_rate_limited, retry_attempt,
error_type, cost_usd, request_fingerprint.
"""

import pandas as pd

from orchestration.analytics.findings import Window, finding, monthly, usd
from orchestration.analytics.repeats import repeats_within

MIN_CACHE_HIT_RATE = 0.20      # the issue: recommend a cache only above a 20% hit rate
CACHE_TTL_HOURS = 24.0
BATCH_WINDOW_SECONDS = 60
BATCH_MIN_CALLS = 4
RATE_LIMIT_SHARE = 0.05        # 429s above 5% of an endpoint's calls
MIN_RATE_LIMITED_CALLS = 20
FAILING_ERROR_RATE = 0.10      # non-429 failures above 10% of an endpoint's calls
MIN_CALLS = 30


def prepare(calls: pd.DataFrame) -> pd.DataFrame:
    """The calls typed and in time order (a stable sort), with a fresh index: what every
    analysis here reads. A frame already prepared is returned as a shallow copy: sorting
    millions of calls once for the four analyses instead of four times, with the same result
    (a stable sort of sorted rows keeps their order)."""
    if _is_prepared(calls):
        return calls.copy(deep=False)  # the analyses add columns to their copy, never to `calls`
    df = calls.copy(deep=False)  # copy-on-write: the columns retyped here stay in this frame
    df["requested_at"] = pd.to_datetime(df["requested_at"])
    df["cost_usd"] = df["cost_usd"].astype(float)
    df["is_success"] = df["is_success"].astype(bool)
    df["is_rate_limited"] = df["is_rate_limited"].astype(bool)
    return df.sort_values("requested_at", kind="mergesort").reset_index(drop=True)


def _is_prepared(df: pd.DataFrame) -> bool:
    index = df.index
    return (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1
            and df["requested_at"].dtype.kind == "M" and df["cost_usd"].dtype == "float64"
            and df["is_success"].dtype == bool and df["is_rate_limited"].dtype == bool
            and df["requested_at"].is_monotonic_increasing)


def cache_hits(calls: pd.DataFrame, ttl_hours: float = CACHE_TTL_HOURS) -> pd.DataFrame:
    """The calls with a flag `cache_hit`: the same agent, endpoint and request fingerprint
    got a successful response within `ttl_hours` before (a response cache would serve it)."""
    m = prepare(calls)
    key = ["agent_id", "endpoint", "request_fingerprint"]
    ok = m["is_success"] & m["request_fingerprint"].notna()
    m["cache_hit"] = repeats_within(m, key, "requested_at", ok, pd.Timedelta(hours=ttl_hours))
    return m


def api_caching(calls: pd.DataFrame, ttl_hours: float = CACHE_TTL_HOURS,
                min_hit_rate: float = MIN_CACHE_HIT_RATE, window: Window | None = None) -> tuple[pd.DataFrame, list[dict]]:
    """Per agent: calls, potential cache hits, hit rate and the cost of the hits; a finding
    for every agent whose hit rate is above `min_hit_rate` (saving = the hits' cost)."""
    if calls.empty:
        return pd.DataFrame(), []
    window = window or Window.of(calls["usage_date"])
    days, period = window.days, window.period
    m = cache_hits(calls, ttl_hours)
    m["hit_cost"] = m["cost_usd"].where(m["cache_hit"], 0.0)
    g = m.groupby(["workspace_id", "agent_id"], as_index=False).agg(
        calls=("cache_hit", "size"), cache_hits=("cache_hit", "sum"), hit_cost_usd=("hit_cost", "sum"),
        cost_usd=("cost_usd", "sum"))
    g["hit_rate"] = g["cache_hits"] / g["calls"]
    g["monthly_saving_usd"] = g["hit_cost_usd"].map(lambda x: monthly(x, days))
    rows = []
    # hits per agent x endpoint in one pass: a filter of all calls per agent took seconds each at 10M calls
    hits_by_endpoint = m[m["cache_hit"]].groupby(["agent_id", "endpoint"]).size()
    for r in g.itertuples():
        if r.calls < MIN_CALLS or r.hit_rate <= min_hit_rate:
            continue
        top = hits_by_endpoint.loc[r.agent_id].sort_values(ascending=False).head(3)
        eps = ", ".join(f"{e} ({n})" for e, n in top.items())
        rows.append(finding(
            "api_optimization", "api_response_cache", "agent", r.agent_id,
            f"{r.cache_hits:,} of {r.calls:,} API calls ({r.hit_rate:.1%}) repeat a request that succeeded "
            f"within {ttl_hours:g} h; they cost ${r.hit_cost_usd:,.4f} in the window; top endpoints: {eps}",
            period, r.monthly_saving_usd,
            f"a response cache keyed by request fingerprint with a {ttl_hours:g} h TTL serves every repeat; "
            "a cache hit costs nothing; monthly = per-day average x 30.4",
            "low", workspace_id=r.workspace_id))
    g["hit_cost_usd"] = g["hit_cost_usd"].map(usd)
    g["hit_rate"] = g["hit_rate"].round(6)
    return g, rows


def api_batching(calls: pd.DataFrame, window_s: int = BATCH_WINDOW_SECONDS,
                 min_calls: int = BATCH_MIN_CALLS, window: Window | None = None) -> tuple[pd.DataFrame, list[dict]]:
    """Bursts of at least `min_calls` calls to one endpoint from one execution within
    `window_s` seconds; per endpoint the bursts, calls in them and round trips saved. No
    dollar saving: the endpoints bill per item, so batching saves latency and rate-limit
    budget, not money (stated in the finding)."""
    if calls.empty:
        return pd.DataFrame(), []
    period = (window or Window.of(calls["usage_date"])).period
    df = prepare(calls)
    g = df.groupby(["execution_id", "endpoint"]).agg(
        n=("request_id", "size"), first=("requested_at", "min"), last=("requested_at", "max"),
        median_latency_ms=("latency_ms", "median")).reset_index()
    bursts = g[(g["n"] >= min_calls) & ((g["last"] - g["first"]) <= pd.Timedelta(seconds=window_s))]
    per_ep = bursts.groupby("endpoint").agg(
        bursts=("n", "size"), calls_in_bursts=("n", "sum"),
        round_trips_saved=("n", lambda s: int((s - 1).sum())),
        latency_saved_ms=("median_latency_ms", "sum")).reset_index()
    totals = df.groupby("endpoint").size().rename("calls").reset_index()
    per_ep = per_ep.merge(totals, on="endpoint")
    per_ep["share_of_calls"] = (per_ep["calls_in_bursts"] / per_ep["calls"]).round(6)
    rows = [finding(
        "api_optimization", "api_batching", "endpoint", r.endpoint,
        f"{r.bursts} executions sent {r.calls_in_bursts:,} calls ({r.share_of_calls:.1%} of the endpoint's "
        f"{r.calls:,}) in bursts of >= {min_calls} within {window_s} s; batching saves {r.round_trips_saved:,} round trips",
        period, 0.0,
        "no dollar saving: the endpoint bills per item, not per request, so a batch costs the same; the "
        "gain is fewer round trips (latency) and less rate-limit budget",
        "medium") for r in per_ep.itertuples() if r.bursts >= 5]
    return per_ep, rows


def rate_limits(calls: pd.DataFrame, min_share: float = RATE_LIMIT_SHARE,
                window: Window | None = None) -> tuple[pd.DataFrame, list[dict]]:
    """Per endpoint: calls, 429s, retries, the cost of rate-limited calls and of retries;
    a finding (queue + backoff) for endpoints whose 429 share is above `min_share`. Wasted
    cost = what the rate-limited calls were billed; a client-side queue at the endpoint's
    sustainable rate with exponential backoff and jitter avoids sending them."""
    if calls.empty:
        return pd.DataFrame(), []
    window = window or Window.of(calls["usage_date"])
    days, period = window.days, window.period
    df = prepare(calls)
    df["rl_cost"] = df["cost_usd"].where(df["is_rate_limited"], 0.0)
    df["retry"] = df["retry_attempt"].fillna(0) > 0
    df["retry_cost"] = df["cost_usd"].where(df["retry"], 0.0)
    df["minute"] = df["requested_at"].dt.floor("min")
    g = df.groupby("endpoint", as_index=False).agg(
        calls=("request_id", "size"), rate_limited=("is_rate_limited", "sum"), retries=("retry", "sum"),
        rate_limited_cost_usd=("rl_cost", "sum"), retry_cost_usd=("retry_cost", "sum"))
    g["rate_limited_share"] = (g["rate_limited"] / g["calls"]).round(6)
    per_min = df.groupby(["endpoint", "minute"]).agg(n=("request_id", "size"), rl=("is_rate_limited", "any")).reset_index()
    sustainable = per_min[~per_min["rl"]].groupby("endpoint")["n"].quantile(0.95).rename("sustainable_calls_per_min")
    g = g.merge(sustainable.reset_index(), on="endpoint", how="left")
    g["monthly_wasted_usd"] = g["rate_limited_cost_usd"].map(lambda x: monthly(x, days))
    rows = [finding(
        "api_optimization", "rate_limit_backoff", "endpoint", r.endpoint,
        f"{r.rate_limited:,} of {r.calls:,} calls ({r.rate_limited_share:.1%}) got 429; {r.retries:,} retries; "
        f"rate-limited calls billed ${r.rate_limited_cost_usd:,.4f}, retries ${r.retry_cost_usd:,.4f} in the window; "
        f"p95 calls/min in minutes without a 429: {r.sustainable_calls_per_min:g}",
        period, r.monthly_wasted_usd,
        "a client-side queue (token bucket at the p95 rate that drew no 429) with exponential backoff and "
        "jitter avoids the rate-limited calls, which are billed; monthly = per-day average x 30.4",
        "medium") for r in g.itertuples() if r.rate_limited >= MIN_RATE_LIMITED_CALLS and r.rate_limited_share > min_share]
    g["rate_limited_cost_usd"] = g["rate_limited_cost_usd"].map(usd)
    g["retry_cost_usd"] = g["retry_cost_usd"].map(usd)
    return g, rows


def failing_endpoints(calls: pd.DataFrame, max_error_rate: float = FAILING_ERROR_RATE,
                      window: Window | None = None) -> tuple[pd.DataFrame, list[dict]]:
    """Per endpoint: calls that failed for reasons other than a rate limit, and what they were
    billed; a finding for endpoints whose error rate is above `max_error_rate`."""
    if calls.empty:
        return pd.DataFrame(), []
    window = window or Window.of(calls["usage_date"])
    days, period = window.days, window.period
    df = prepare(calls)
    df["error"] = ~df["is_success"] & ~df["is_rate_limited"]
    df["error_cost"] = df["cost_usd"].where(df["error"], 0.0)
    g = df.groupby("endpoint", as_index=False).agg(calls=("error", "size"), errors=("error", "sum"),
                                                  error_cost_usd=("error_cost", "sum"))
    g["error_rate"] = (g["errors"] / g["calls"]).round(6)
    g["monthly_wasted_usd"] = g["error_cost_usd"].map(lambda x: monthly(x, days))
    rows = []
    for r in g.itertuples():
        if r.calls < MIN_CALLS or r.error_rate <= max_error_rate:
            continue
        kinds = df[(df["endpoint"] == r.endpoint) & df["error"]].groupby(
            df["error_type"].fillna("status " + df["status_code"].astype(str))).size().sort_values(ascending=False)
        rows.append(finding(
            "api_optimization", "failing_endpoint", "endpoint", r.endpoint,
            f"{r.errors:,} of {r.calls:,} calls ({r.error_rate:.1%}) failed (not rate limits): "
            + ", ".join(f"{k} {v}" for k, v in kinds.head(3).items())
            + f"; billed ${r.error_cost_usd:,.4f} in the window",
            period, r.monthly_wasted_usd,
            "failed calls are billed and produce nothing; fixing the cause (or a circuit breaker that stops "
            "calling while the endpoint fails) removes their cost; monthly = per-day average x 30.4",
            "medium"))
    g["error_cost_usd"] = g["error_cost_usd"].map(usd)
    return g, rows
