"""LBNRIND's derivation (sdtm/reference_range.py), shared by the LB builder, MSC-SDTM-016 and the summary: the
examples of its docstring and CDISC NRIND's meaning, and `cmp=None` (every result exact) equal to a column of ""."""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_interop.distinct import shared_columns
from msc_interop.sdtm.reference_range import INDICATORS, indicator_codes, reference_indicator


def _named(codes: np.ndarray) -> list[str]:
    return [INDICATORS[c] for c in codes]


def test_exact_and_qualified_results() -> None:
    std = pd.Series([5.0, 2.0, 12.0, 2.0, 2.0, 1000.0, 50.0, np.nan, 7.0])
    cmp = pd.Series(["", "", "", "<", "<", ">", ">", "", ""], dtype=object)
    lo = pd.Series([3.0, 3.0, 3.0, 0.0, 3.0, np.nan, np.nan, 3.0, np.nan])
    hi = pd.Series([10.0, 10.0, 10.0, 37.0, 10.0, 40.0, 40.0, 10.0, np.nan])
    want = ["NORMAL", "LOW", "HIGH", "NORMAL", "LOW", "HIGH", "HIGH", "", ""]
    assert _named(indicator_codes(std, cmp, lo, hi)) == want
    with shared_columns():
        assert reference_indicator(std, cmp, lo, hi).tolist() == want


def test_no_comparators_is_a_column_of_empty_ones() -> None:
    rng = np.random.default_rng(4)
    n = 500
    std = pd.Series(np.where(rng.random(n) < 0.1, np.nan, rng.normal(5, 3, n)))
    lo = pd.Series(np.where(rng.random(n) < 0.2, np.nan, 3.0))
    hi = pd.Series(np.where(rng.random(n) < 0.2, np.nan, 8.0))
    exact = indicator_codes(std, pd.Series("", index=std.index, dtype=object), lo, hi)
    assert indicator_codes(std, None, lo, hi).tolist() == exact.tolist()
    assert set(_named(exact)) == {"", "NORMAL", "LOW", "HIGH"}
