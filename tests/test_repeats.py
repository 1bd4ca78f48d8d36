"""The 'same request succeeded earlier' window (orchestration.analytics.repeats) against the
pandas method it replaced (merge_asof), and by hand."""

import numpy as np
import pandas as pd

from orchestration.analytics.repeats import NONE, previous_success_ns, repeats_within


def _merge_asof(frame: pd.DataFrame, by: list[str], at: str, ok: np.ndarray) -> np.ndarray:
    """The former method: the last successful row of the same key strictly before, by merge_asof."""
    left = frame.assign(_row=np.arange(len(frame))).sort_values(at, kind="mergesort")
    right = frame.loc[ok, by + [at]].rename(columns={at: "prev"}).sort_values("prev")
    m = pd.merge_asof(left, right, left_on=at, right_on="prev", by=by, allow_exact_matches=False,
                      direction="backward").sort_values("_row")
    prev = m["prev"].dt.as_unit("ns").to_numpy().view("int64")
    return np.where(m["prev"].isna().to_numpy(), NONE, prev)


def test_previous_success_equals_merge_asof_on_random_calls():
    rng = np.random.default_rng(7)
    n = 20_000
    frame = pd.DataFrame({
        "agent_id": rng.choice(["a", "b", "c"], n),
        # nulls in a key match each other, as they do in merge_asof
        "fingerprint": pd.array(rng.choice(["f1", "f2", None], n), dtype="str"),
        "input_tokens": rng.integers(0, 3, n),
        # microseconds as the warehouse stores them, on few distinct instants: many rows share a
        # timestamp (ties are never "before")
        "at": pd.Timestamp("2026-11-01") + pd.to_timedelta(
            rng.integers(0, 4 * 3600, n) * 1_000_000 + rng.choice([0, 1, 999_999], n), unit="us"),
    })
    ok = rng.random(n) < 0.6
    by = ["agent_id", "fingerprint", "input_tokens"]
    got = previous_success_ns(frame, by, "at", ok)
    assert (got == _merge_asof(frame, by, "at", ok)).all()
    assert (got == NONE).sum() > 0 and (got != NONE).sum() > n / 2  # both outcomes are exercised


def test_repeats_within_by_hand():
    t0 = pd.Timestamp("2026-11-01 00:00:00")
    at = [t0, t0 + pd.Timedelta(hours=1), t0 + pd.Timedelta(hours=25), t0 + pd.Timedelta(hours=49, seconds=1),
          t0 + pd.Timedelta(hours=60), t0 + pd.Timedelta(hours=60), t0 + pd.Timedelta(hours=61)]
    frame = pd.DataFrame({"key": ["k", "k", "k", "k", "j", "j", "j"], "at": at})
    ok = np.array([True, False, True, True, True, True, False])
    hit = repeats_within(frame, ["key"], "at", ok, pd.Timedelta(hours=24))
    # row 1: success at t0 one hour before; row 2: the last success is t0, 25 h before (the failed
    # row 1 does not count); row 3: success at +25 h, 24 h 1 s before -> beyond the TTL;
    # rows 4 and 5 share a timestamp: neither is before the other; row 6: an hour after them
    assert hit.tolist() == [False, True, False, False, False, False, True]
