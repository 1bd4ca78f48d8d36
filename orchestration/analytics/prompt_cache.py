"""Prompt-prefix cache analysis, from fingerprints and block hashes (never prompt text).

Sample (`fct_llm_calls`): a prompt fingerprint identifies a prompt template, i.e. an
identical prompt prefix. Its length is not logged, so the shared prefix of a
(model, fingerprint) group is taken as the group's smallest input (`min(input_tokens)`: an
identical prefix cannot be longer than the shortest prompt that carries it), and only
prefixes of at least the providers' minimum cacheable length (1,024 tokens) count. Calls
are replayed in time order per group: a call within the cache TTL of the previous call of
its group is a hit (its prefix would be read from cache), otherwise a miss (the prefix is
written). Saving = hit tokens not already cached x (input - cache-read price) - written
tokens x (cache-write - input price).

Mooncake (`hash_ids`, one hash per 512-token block, a block hash covering the whole prefix
up to it): a request's cacheable input is its leading blocks already seen in an earlier
request (an unbounded prefix cache), the last block counting only the tokens it holds.
Counted two ways: a Python replay over a set of seen hashes, and a DuckDB query that finds
each hash's first request and takes the leading run of blocks first seen earlier.
"""

import duckdb
import numpy as np
import pandas as pd

from orchestration.analytics.findings import Window, monthly, usd
from orchestration.analytics.repeats import epoch_ns, previous_success_sql

MIN_CACHEABLE_PREFIX_TOKENS = 1024
DEFAULT_TTL_MINUTES = 5.0
BLOCK_TOKENS = 512


PREFIX_CACHE_COLUMNS = ["workspace_id", "agent_id", "model", "calls", "input_tokens", "cacheable_tokens",
                        "cacheable_share", "already_cached_tokens", "redundant_prefix_tokens", "cache_writes",
                        "saving_in_window_usd", "monthly_saving_usd"]


def fingerprint_prefix_cache(calls: pd.DataFrame, prices: pd.DataFrame,
                             ttl_minutes: float = DEFAULT_TTL_MINUTES,
                             min_prefix_tokens: int = MIN_CACHEABLE_PREFIX_TOKENS,
                             window: Window | None = None) -> pd.DataFrame:
    """Per agent x model: input tokens, cacheable prefix tokens, the share of input that is
    cacheable, tokens already served from cache, redundant (re-sent, uncached) prefix
    tokens, and the saving of a prompt cache net of cache-write cost, in the window and
    per month.

    calls: agent_id, workspace_id, model, prompt_fingerprint, started_at, usage_date,
    input_tokens, cached_input_tokens. prices: model, input_usd_per_mtok,
    cached_input_usd_per_mtok, cache_write_usd_per_mtok."""
    if calls.empty:
        return pd.DataFrame(columns=PREFIX_CACHE_COLUMNS)
    df = pd.DataFrame({c: calls[c].array for c in ["workspace_id", "agent_id", "model", "prompt_fingerprint",
                                                    "input_tokens", "cached_input_tokens"]})
    df["t"] = epoch_ns(calls["started_at"])
    df["n"] = np.arange(len(df), dtype=np.int64)  # ties in time replay in the frame's order
    with duckdb.connect() as conn:
        conn.register("calls", df)
        return prefix_cache_in(conn, "calls", prices, window or Window.of(calls["usage_date"]),
                               ttl_minutes, min_prefix_tokens)


def prefix_cache_in(conn, calls: str, prices: pd.DataFrame, window: Window,
                    ttl_minutes: float = DEFAULT_TTL_MINUTES,
                    min_prefix_tokens: int = MIN_CACHEABLE_PREFIX_TOKENS) -> pd.DataFrame:
    """fingerprint_prefix_cache over a relation of `conn`: `calls` names a table, view or
    subquery with workspace_id, agent_id, model, prompt_fingerprint, input_tokens,
    cached_input_tokens, t (epoch ns) and n (replay order among equal t). A prompt's prefix
    is shared by every agent sending the same fingerprint to the same model, so the replay
    needs all the calls at once: the analytics step runs it on the warehouse itself
    (DuckDB spills what does not fit in memory), not on a shard of the agents in pandas."""
    p = prices[["model", "input_usd_per_mtok", "cached_input_usd_per_mtok", "cache_write_usd_per_mtok"]].copy()
    for c in ["input_usd_per_mtok", "cached_input_usd_per_mtok", "cache_write_usd_per_mtok"]:
        p[c] = p[c].astype(float)
    # The replay in DuckDB (windows per model x fingerprint in time order): in pandas, sorting
    # and grouping 10M calls by their string keys took ~20 s.
    conn.register("prefix_cache_prices", p)
    try:
        g = conn.execute(f"""
            with grouped as (
                select workspace_id, agent_id, model, prompt_fingerprint, input_tokens, cached_input_tokens,
                       min(input_tokens) over (partition by model, prompt_fingerprint) as prefix,
                       coalesce(t - lag(t) over (partition by model, prompt_fingerprint order by t, n)
                                <= {pd.Timedelta(minutes=ttl_minutes).value}, false) as hit
                from {calls}),
            tokens as (
                select *, prompt_fingerprint is not null and prefix >= {int(min_prefix_tokens)} as eligible,
                       case when eligible and hit then prefix else 0 end as cacheable,
                       case when eligible and not hit then prefix else 0 end as written
                from grouped),
            priced as (
                -- money in DECIMAL (per-token prices to 15 places): the sum is exact, then rounded once
                select tk.*, greatest(tk.cacheable - tk.cached_input_tokens, 0) as redundant,
                       (p.input_usd_per_mtok::decimal(18, 9) - p.cached_input_usd_per_mtok::decimal(18, 9))
                           * 0.000001 as read_gain,
                       -- a missing price stays missing (greatest() would skip it): the row saves 0
                       case when p.cache_write_usd_per_mtok < p.input_usd_per_mtok then 0
                            else p.cache_write_usd_per_mtok::decimal(18, 9) - p.input_usd_per_mtok::decimal(18, 9)
                       end * 0.000001 as write_premium
                from tokens tk left join prefix_cache_prices p on tk.model = p.model)
            select workspace_id, agent_id, model, count(*) as calls, sum(input_tokens)::bigint as input_tokens,
                   sum(cacheable)::bigint as cacheable_tokens, sum(cached_input_tokens)::bigint as already_cached_tokens,
                   sum(redundant)::bigint as redundant_prefix_tokens, count(*) filter (where written > 0) as cache_writes,
                   round(sum(coalesce(redundant * read_gain - written * write_premium, 0)), 6)::double
                       as saving_in_window_usd
            from priced group by all
            order by workspace_id nulls last, agent_id nulls last, model nulls last""").df()
    finally:
        conn.unregister("prefix_cache_prices")
    if g.empty:
        return pd.DataFrame(columns=PREFIX_CACHE_COLUMNS)
    g["cacheable_share"] = (g["cacheable_tokens"] / g["input_tokens"].where(g["input_tokens"] > 0)).fillna(0).round(6)
    g["saving_in_window_usd"] = g["saving_in_window_usd"].map(usd)
    g["monthly_saving_usd"] = g["saving_in_window_usd"].map(lambda x: monthly(x, window.days))
    return g[PREFIX_CACHE_COLUMNS].sort_values("monthly_saving_usd", ascending=False).reset_index(drop=True)


def duplicate_llm_calls(calls: pd.DataFrame, ttl_hours: float = 24.0, window: Window | None = None) -> pd.DataFrame:
    """Exact-duplicate candidates whose response a cache could serve: the same agent, model,
    prompt fingerprint and input size as a successful call within `ttl_hours` before. Per
    agent: calls, duplicates, hit rate, their token cost in the window and per month.
    (A fingerprint is of the prompt, never its text; identical fingerprint and input size is
    the closest the logs come to an identical request.)"""
    cols = ["workspace_id", "agent_id", "calls", "duplicate_calls", "hit_rate", "duplicate_cost_usd",
            "monthly_saving_usd"]
    if calls.empty:
        return pd.DataFrame(columns=cols)
    days = (window or Window.of(calls["usage_date"])).days
    key = ["agent_id", "model", "prompt_fingerprint", "input_tokens"]
    df = pd.DataFrame({c: calls[c].array for c in ["workspace_id", *key]})
    df["t"] = epoch_ns(calls["started_at"])
    df["ok"] = calls["is_success"].astype(bool).to_numpy()
    df["token_cost"] = calls["token_cost"].astype(float).to_numpy()
    ttl = pd.Timedelta(hours=ttl_hours).value
    # One window in DuckDB (pandas' merge_asof sorted and factorized 10M calls: ~20 s). The
    # cost sum in DECIMAL (the mart's type): exact, rounded once.
    with duckdb.connect() as conn:
        conn.register("calls", df)
        g = conn.execute(f"""
            with flagged as (
                select workspace_id, agent_id, token_cost,
                       coalesce(t - {previous_success_sql(key, "t", "ok")} <= {ttl}, false) as duplicate
                from calls)
            select workspace_id, agent_id, count(*) as calls, count(*) filter (where duplicate) as duplicate_calls,
                   round(sum(case when duplicate then coalesce(token_cost::decimal(24, 12), 0) else 0 end), 6)::double
                       as duplicate_cost_usd
            from flagged
            where workspace_id is not null and agent_id is not null  -- as pandas' groupby: no unknown agents
            group by all order by workspace_id, agent_id""").df()
    g["hit_rate"] = (g["duplicate_calls"] / g["calls"]).round(6)
    g["duplicate_cost_usd"] = g["duplicate_cost_usd"].map(usd)
    g["monthly_saving_usd"] = g["duplicate_cost_usd"].map(lambda x: monthly(x, days))
    return g[cols]


def read_mooncake(path) -> pd.DataFrame:
    """The Mooncake trace (timestamp, input_length, output_length, hash_ids) in file order."""
    df = pd.read_json(path, lines=True)
    df.insert(0, "request_no", np.arange(len(df)))
    return df


def _block_tokens(input_length: int, i: int, n_blocks: int, block: int) -> int:
    return block if i < n_blocks - 1 else input_length - block * (n_blocks - 1)


def prefix_cache_share_replay(trace: pd.DataFrame, block_tokens: int = BLOCK_TOKENS) -> dict:
    """Method 1: replay requests in order with a set of seen block hashes; a request's cached
    input is its leading run of blocks already in the set (unbounded cache)."""
    seen: set[int] = set()
    cached = 0
    total = 0
    for length, hashes in zip(trace["input_length"], trace["hash_ids"], strict=True):
        n = len(hashes)
        hit = True
        for i, h in enumerate(hashes):
            if hit and h in seen:
                cached += _block_tokens(int(length), i, n, block_tokens)
            else:
                hit = False
        seen.update(hashes)
        total += int(length)
    return {"requests": len(trace), "input_tokens": total, "cacheable_tokens": cached,
            "cacheable_share": cached / total if total else 0.0}


def prefix_cache_share_sql(trace: pd.DataFrame, block_tokens: int = BLOCK_TOKENS) -> dict:
    """Method 2: in DuckDB, a block is cacheable when its hash first appeared in an earlier
    request and every block before it in the request is cacheable too (running min)."""
    t = trace[["request_no", "input_length", "hash_ids"]]
    with duckdb.connect() as conn:
        conn.register("trace", t)
        row = conn.execute(f"""
            with blocks as (
                select request_no, input_length, len(hash_ids) as n_blocks,
                       unnest(hash_ids) as h, generate_subscripts(hash_ids, 1) as pos
                from trace),
            first_seen as (select h, min(request_no) as first_request from blocks group by h),
            flagged as (
                select b.*, (f.first_request < b.request_no)::int as seen_before,
                       case when pos < n_blocks then {block_tokens}
                            else input_length - {block_tokens} * (n_blocks - 1) end as tokens
                from blocks b join first_seen f using (h)),
            prefix as (
                select *, min(seen_before) over (partition by request_no order by pos
                                                 rows between unbounded preceding and current row) as in_prefix
                from flagged)
            select (select sum(input_length) from trace) as input_tokens,
                   sum(tokens * in_prefix) as cacheable_tokens from prefix""").fetchone()
    total, cached = int(row[0] or 0), int(row[1] or 0)
    return {"requests": len(trace), "input_tokens": total, "cacheable_tokens": cached,
            "cacheable_share": cached / total if total else 0.0}
