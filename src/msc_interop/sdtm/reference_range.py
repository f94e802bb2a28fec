"""--NRIND from a result and its reference range: the one derivation the builders, the validate rules and
the summary share, so that the three can never disagree on what LOW, NORMAL and HIGH mean."""

from __future__ import annotations

import pandas as pd


def reference_indicator(std: pd.Series, cmp: pd.Series, lo: pd.Series, hi: pd.Series) -> pd.Series:
    """LBNRIND (CDISC NRIND): LOW below the range, HIGH above it, NORMAL within it (limits inclusive).

    For "<x" and ">x" results only what is certain is stated: "<2" with a range 0-37 is NORMAL, "<2" with a
    range 3-10 is LOW, ">1000" with an upper limit of 40 is HIGH; otherwise the indicator is left empty.
    """
    has_range = lo.notna() | hi.notna()
    exact = cmp.eq("")
    below = std.lt(lo)
    above = std.gt(hi)
    out = pd.Series("", index=std.index, dtype=object)
    out[exact & has_range & std.notna()] = "NORMAL"
    out[exact & below] = "LOW"
    out[exact & above] = "HIGH"
    less = cmp.isin(["<", "<="])
    more = cmp.isin([">", ">="])
    out[less & std.le(lo)] = "LOW"
    out[less & (lo.isna() | lo.le(0)) & std.le(hi) & hi.notna()] = "NORMAL"
    out[more & std.ge(hi)] = "HIGH"
    out[more & hi.isna() & std.ge(lo)] = "NORMAL"
    return out
