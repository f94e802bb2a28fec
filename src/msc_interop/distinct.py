"""Column work on distinct values: the one trick that keeps per-value Python work out of the hot paths.

A million lab rows hold a few tens of thousands of distinct dates, units or test codes; pandas string methods
on object columns loop in Python, so every such step runs on the distinct values and spreads the answers back.
"""

from __future__ import annotations

from collections.abc import Callable

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
