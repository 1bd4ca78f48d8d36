"""Small DataFrame helpers shared by the analyses."""

import numpy as np
import pandas as pd


def rows_by(frame: pd.DataFrame, column: str):
    """value -> that value's rows of `frame` (in frame order, index kept; empty if none), as
    `frame[frame[column] == value]` gives them. The frame is split once: a filter per agent
    (or day) cost seconds at thousands of agents."""
    if frame.empty or column not in frame.columns:
        return lambda value: frame.iloc[:0]
    groups = dict(tuple(frame.groupby(column, sort=False)))
    return lambda value: groups.get(value, frame.iloc[:0])


def records_by(frame: pd.DataFrame, column: str):
    """value -> that value's rows of `frame` as dicts (to_dict("records"): Python scalars), in
    frame order; [] if none. For per-agent loops that read a few fields: slicing, filtering
    and sorting a small frame per agent cost milliseconds each, ~7 s over 2,000 agents.
    (A frame's row, `frame.iloc[i]`, holds numpy scalars instead; round() of a numpy float
    rounds as numpy does, of a Python float as Python does: mind the difference.)"""
    groups: dict = {}
    if not frame.empty and column in frame.columns:
        for record in frame.to_dict("records"):
            groups.setdefault(record[column], []).append(record)
    return lambda value: groups.get(value, [])


def first_max(records: list[dict], column: str) -> dict | None:
    """The record with the largest `column`, the first of equal ones; a record whose value
    is missing only when all are (None: no records). What
    `frame.sort_values(column, ascending=False, kind="stable").iloc[0]` gives. (The default
    sort breaks ties by numpy's SIMD quicksort, which depends on the CPU.)"""
    present = [r for r in records if not pd.isna(r[column])]
    if not present:
        return records[0] if records else None
    best = present[0]
    for r in present[1:]:
        if r[column] > best[column]:
            best = r
    return best


def runs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) of each run of equal consecutive keys: the groups of a
    column sorted by that key, as positions to slice arrays with (no frame per group)."""
    if not len(keys):
        return np.array([], dtype=np.intp), np.array([], dtype=np.intp)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return starts, np.r_[starts[1:], len(keys)]


def numpy_lerp(a, b, gamma):
    """np.quantile's interpolation between neighbours a and b (numpy's two-sided lerp: from
    b for gamma >= 0.5), to the bit."""
    diff = b - a
    return np.where(gamma >= 0.5, b - diff * (1 - gamma), a + diff * gamma)


def group_quantile(frame: pd.DataFrame, by, column: str, q: float) -> pd.Series:
    """`frame.groupby(by)[column].agg(lambda s: s.quantile(q))` to the bit, for every group at once.

    Series.quantile per group (np.quantile's linear method over the group's non-missing
    values) cost ~1 s a column at 2,000 agents; pandas' grouped quantile rounds differently
    in the last bit. This sorts once and does np.quantile's arithmetic (its virtual index,
    neighbours and two-sided lerp) for all the groups together. A group without values is NaN."""
    groups = frame.groupby(by, sort=True)
    index = groups.size().index
    codes = groups.ngroup().to_numpy()
    values = frame[column].to_numpy(dtype=float, na_value=np.nan)
    # rows of a dropped (missing) key have no group (ngroup gives them NaN or -1)
    keep = ~np.isnan(values) & (np.nan_to_num(codes.astype(float), nan=-1.0) >= 0)
    codes, values = codes[keep].astype(np.intp), values[keep]
    values = values[np.lexsort((values, codes))]
    n = np.bincount(codes, minlength=len(index))
    out = np.full(len(index), np.nan)
    has = n > 0
    if has.any():
        first = (np.cumsum(n) - n)[has]
        count = n[has]
        virtual = (count - 1) * float(q)
        before = np.floor(virtual)
        after = before + 1
        # np.quantile: at or past the last value both neighbours are the last value (index -1)
        last = virtual >= count - 1
        before[last], after[last] = -1, -1
        gamma = virtual - before
        a = values[np.where(before < 0, count - 1, before).astype(np.intp) + first]
        b = values[np.where(after < 0, count - 1, after).astype(np.intp) + first]
        out[has] = numpy_lerp(a, b, gamma)
    return pd.Series(out, index=index, name=column)
