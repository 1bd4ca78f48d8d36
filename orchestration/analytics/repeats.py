"""Repeated requests: for each row, when the same request last succeeded before it.

The response-cache analyses (LLM calls, API calls) ask the same question of millions of
rows: did a row with the same key succeed earlier, and when? `pandas.merge_asof` answers it
but, at 10M calls, factorizes and sorts every key column of both sides (~10 s per
analysis); DuckDB answers it with one window over the frame, in place.
"""

import duckdb
import numpy as np
import pandas as pd

NONE = np.iinfo(np.int64).min  # the int64 under NaT: "no earlier success"


def epoch_ns(values: pd.Series) -> np.ndarray:
    """Timestamps (any unit, naive or zoned) as int64 nanoseconds since the epoch, UTC."""
    t = pd.to_datetime(values)
    if t.dt.tz is not None:
        t = t.dt.tz_convert("UTC").dt.tz_localize(None)
    return t.dt.as_unit("ns").to_numpy().view("int64")


def previous_success_ns(frame: pd.DataFrame, by: list[str], at: str, ok) -> np.ndarray:
    """Per row of `frame` (in its order): the latest `at` of a row with the same `by` values
    for which `ok` holds, strictly before this row's `at`, as epoch nanoseconds; NONE if
    there is none. Null key values match each other, as in `merge_asof(..., by=by,
    allow_exact_matches=False, direction="backward")`, which this replaces."""
    keys = {f"k{i}": frame[c].array for i, c in enumerate(by)}  # the arrays, not Python objects
    data = pd.DataFrame({**keys, "t": epoch_ns(frame[at]), "ok": np.asarray(ok, dtype=bool),
                         "n": np.arange(len(frame), dtype=np.int64)})
    with duckdb.connect() as conn:
        conn.register("data", data)
        out = conn.execute(f"select coalesce({previous_success_sql(list(keys), 't', 'ok')}, {NONE}) as prev "
                           "from data order by n").fetchnumpy()["prev"]
    return np.asarray(out, dtype=np.int64)


def previous_success_sql(by: list[str], at: str, ok: str) -> str:
    """The DuckDB window giving, per row, the latest `at` (an integer or timestamp column) of
    the rows with the same `by` for which `ok` holds, strictly before this row's `at` (the
    range frame ends one unit before it); NULL if there is none."""
    return (f"max(case when {ok} then {at} end) over (partition by {', '.join(by)} order by {at} "
            "range between unbounded preceding and 1 preceding)")


def repeats_within(frame: pd.DataFrame, by: list[str], at: str, ok, ttl: pd.Timedelta) -> np.ndarray:
    """Per row: True where a row with the same key succeeded within `ttl` before it (and
    strictly before it)."""
    prev = previous_success_ns(frame, by, at, ok)
    hit = prev != NONE
    hit[hit] = epoch_ns(frame[at])[hit] - prev[hit] <= ttl.value
    return hit
