"""Small DataFrame helpers shared by the analyses."""

import pandas as pd


def rows_by(frame: pd.DataFrame, column: str):
    """value -> that value's rows of `frame` (in frame order, index kept; empty if none), as
    `frame[frame[column] == value]` gives them. The frame is split once: a filter per agent
    (or day) cost seconds at thousands of agents."""
    if frame.empty or column not in frame.columns:
        return lambda value: frame.iloc[:0]
    groups = dict(tuple(frame.groupby(column, sort=False)))
    return lambda value: groups.get(value, frame.iloc[:0])
