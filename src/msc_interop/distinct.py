"""Column work on distinct values: the one trick that keeps per-value Python work out of the hot paths.

A million lab rows hold a few tens of thousands of distinct dates, units or test codes; pandas string methods
on object columns loop in Python, so every such step runs on the distinct values and spreads the answers back.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd


def per_distinct(fn: Callable[[pd.Series], pd.Series | pd.DataFrame], values: pd.Series) -> pd.Series | pd.DataFrame:
    """Apply a column function to the distinct values only, then spread the answers back.

    A million lab rows hold a few tens of thousands of distinct dates (one per subject visit); pandas string
    methods on object columns loop in Python, so working on the distinct values is what keeps this fast.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    answer = fn(pd.Series(uniques, dtype=object))
    if isinstance(answer, pd.DataFrame):
        out = answer.iloc[codes]
        out.index = values.index
        return out
    return pd.Series(answer.to_numpy()[codes], index=values.index, dtype=answer.dtype)


def row_codes(frame: pd.DataFrame, sort: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """One integer per row naming its combination of the frame's values (NA a value like any other), and the
    position of the first row of each combination. With sort=True the codes follow the lexicographic order of
    the columns' values (each column factorized sorted), so sorting by the codes sorts by the values."""
    combined = np.zeros(len(frame), dtype=np.int64)
    span = 1
    for col in frame.columns:
        codes, uniques = pd.factorize(frame[col], sort=sort, use_na_sentinel=False)
        width = max(len(uniques), 1)
        if span > np.iinfo(np.int64).max // width:  # too many combinations for one int64: renumber so far
            combined = pd.factorize(combined, sort=sort)[0].astype(np.int64)
            span = int(combined.max()) + 1 if len(combined) else 1
        combined = combined * width + codes
        span *= width
    codes, uniques = pd.factorize(combined, sort=sort)
    if not len(codes):
        return codes.astype(np.int64), np.array([], dtype=np.int64)
    if not sort:  # codes number the combinations in order of appearance: a first row is where a new code shows
        seen = np.maximum.accumulate(codes)
        return codes.astype(np.int64), np.flatnonzero(np.r_[True, codes[1:] > seen[:-1]])
    order = np.argsort(codes, kind="stable")
    first = order[np.r_[0, np.flatnonzero(np.diff(codes[order])) + 1]]
    return codes.astype(np.int64), first


def per_distinct_rows(fn: Callable[[pd.DataFrame], pd.Series], frame: pd.DataFrame) -> pd.Series:
    """per_distinct for a combination of columns (a date and a time, say): `fn` sees each distinct row once."""
    codes, first = row_codes(frame)
    answer = fn(frame.iloc[first].reset_index(drop=True))
    return pd.Series(answer.to_numpy()[codes], index=frame.index, dtype=answer.dtype)
