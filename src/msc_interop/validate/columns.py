"""Distinct values of dataset columns, factorized once and shared by every rule of a run.

A million LB rows hold a few thousand distinct test codes, units and dates. Rules look values up on the
distinct values only and spread their answers back to the rows through the codes (the idea of
`distinct.per_distinct`, with the factorization of each column done once for all rules instead of once per rule).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from msc_interop.distinct import column_codes, factorize_small_ints, first_rows


class ColumnCache:
    """Codes and distinct values per (dataset, column) of a set of DataFrames that do not change."""

    def __init__(self, datasets: Mapping[str, pd.DataFrame]):
        self.datasets = datasets
        self._distinct: dict[tuple[str, str], tuple[np.ndarray, pd.Series]] = {}
        self._first: dict[tuple[str, str], np.ndarray] = {}

    def distinct(self, ds: str, col: str) -> tuple[np.ndarray, pd.Series]:
        """(codes, distinct values): values.iloc[codes] is the column; null is one of the values."""
        key = (ds, col)
        if key not in self._distinct:
            s = self.datasets[ds][col]
            codes, uniques = column_codes(s)
            # (the distinct values' own array, not a copy: what is found about it, dates' analysis of a --DTC
            # column's values say, is shared with define.xml's within distinct.shared_columns())
            self._distinct[key] = (codes, pd.Series(uniques, dtype=object if s.dtype == object else s.dtype,
                                                    copy=False))
        return self._distinct[key]

    def first_rows(self, ds: str, col: str) -> np.ndarray:
        """0-based row of the first occurrence of each distinct value (aligned with `distinct(ds, col)[1]`)."""
        key = (ds, col)
        if key not in self._first:
            codes, uniques = ColumnCache.distinct(self, ds, col)  # the rows' own codes, whatever a subclass counts
            self._first[key] = first_rows(np.asarray(codes), len(uniques))
        return self._first[key]

    def spread(self, ds: str, col: str, fn: Callable[[pd.Series], Any]) -> pd.Series:
        """`fn` applied to the distinct values of a column, spread back to every row."""
        codes, answer = self.answer(ds, col, fn)
        return pd.Series(answer[codes] if len(answer) else answer, index=self.datasets[ds].index)

    def answer(self, ds: str, col: str, fn: Callable[[pd.Series], Any]) -> tuple[np.ndarray, np.ndarray]:
        """(the rows' codes, `fn` of each distinct value): spread's answer before it is spread, for a rule that
        can tell from the distinct answers alone that no row is flagged."""
        codes, uniques = self.distinct(ds, col)
        return codes, np.asarray(fn(uniques))



def combined_codes(parts: list[tuple[np.ndarray, int]]) -> tuple[np.ndarray, np.ndarray]:
    """distinct.row_codes of columns given as their codes (each part: codes in 0..n-1, n): one code per row for its
    combination, numbered in order of appearance, and the first row of each; the codes combined as they are (row_codes
    factorized each column of codes again: ~20 ms per million rows)."""
    n_rows = len(parts[0][0]) if parts else 0
    combined = np.zeros(n_rows, dtype=np.int64)
    span = 1
    for codes, n in parts:
        width = max(n, 1)
        if span > np.iinfo(np.int64).max // width:  # too many combinations for one int64: renumber so far
            combined = factorize_small_ints(combined, span)[0]
            span = int(combined.max()) + 1 if len(combined) else 1
        combined = combined * width + codes
        span *= width
    codes, order = factorize_small_ints(combined, span)
    return codes, first_rows(codes, len(order))
