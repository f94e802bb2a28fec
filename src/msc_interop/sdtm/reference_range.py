"""--NRIND from a result and its reference range: the one derivation the builders, the validate rules and
the summary share, so that the three can never disagree on what LOW, NORMAL and HIGH mean."""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_interop.distinct import coded, is_in


def reference_indicator(std: pd.Series, cmp: pd.Series | None, lo: pd.Series, hi: pd.Series) -> pd.Series:
    """LBNRIND (CDISC NRIND) of each result: indicator_codes as text ("" where none is certain)."""
    return coded(indicator_codes(std, cmp, lo, hi), INDICATORS, std.index)


def indicator_codes(std: pd.Series, cmp: pd.Series | None, lo: pd.Series, hi: pd.Series) -> np.ndarray:
    """LBNRIND (CDISC NRIND): LOW below the range, HIGH above it, NORMAL within it (limits inclusive).

    For "<x" and ">x" results only what is certain is stated: "<2" with a range 0-37 is NORMAL, "<2" with a
    range 3-10 is LOW, ">1000" with an upper limit of 40 is HIGH; otherwise the indicator is left empty.
    `cmp`: each result's comparator ("", "<", "<=", ">", ">="; decided per distinct value); None: all "".
    """
    has_range = _mask(lo.notna() | hi.notna())
    n = len(std)
    exact = np.ones(n, dtype=bool) if cmp is None else is_in(cmp, [""])
    below, above = _mask(std.lt(lo)), _mask(std.gt(hi))
    out = np.zeros(n, dtype=np.int8)  # an index into INDICATORS; later statements win, as written
    out[exact & has_range & _mask(std.notna())] = _NORMAL
    out[exact & below] = _LOW
    out[exact & above] = _HIGH
    if cmp is None:
        return out
    less, more = is_in(cmp, ["<", "<="]), is_in(cmp, [">", ">="])
    out[less & _mask(std.le(lo))] = _LOW
    out[less & _mask(lo.isna() | lo.le(0)) & _mask(std.le(hi)) & _mask(hi.notna())] = _NORMAL
    out[more & _mask(std.ge(hi))] = _HIGH
    out[more & _mask(hi.isna()) & _mask(std.ge(lo))] = _NORMAL
    return out


INDICATORS = ["", "NORMAL", "LOW", "HIGH"]  # what indicator_codes' 0, 1, 2 and 3 stand for
_NORMAL, _LOW, _HIGH = 1, 2, 3


def _mask(s: pd.Series) -> np.ndarray:
    """A comparison as booleans, NA (a nullable column's missing value) false, as pandas' setitem reads it."""
    return s.to_numpy(dtype=bool, na_value=False)
