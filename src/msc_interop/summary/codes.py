"""Text as integer codes, and text columns with one Python string per distinct value: how the summary holds the
text of a large study (a file reader makes a string per cell; a study's text has few distinct values)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

__all__ = ["Codes", "shared_text", "text_ranks"]


class Codes:
    """Codes of values in the order they first appear, over consecutive ranges: those pd.factorize gives the whole
    (so that tables reduced range by range decide as the whole would); one copy of each distinct value."""

    def __init__(self) -> None:
        self.index: dict[object, int] = {}
        self._held: list[object] = []  # the values in code order, for values_of
        self._lut = np.zeros(0, dtype=object)

    def add(self, values: pd.Series | np.ndarray) -> np.ndarray:
        codes, uniques = pd.factorize(values, use_na_sentinel=False)
        lut = np.fromiter((self.index.setdefault(u, len(self.index)) for u in uniques), dtype=np.int64,
                          count=len(uniques))
        return lut[codes] if len(codes) else np.zeros(0, dtype=np.int64)

    def values(self) -> np.ndarray:
        return np.array(list(self.index), dtype=object)

    def values_of(self, codes: np.ndarray) -> np.ndarray:
        """The value of each code in `codes` (the one object held for it; grown, not rebuilt, as codes are added)."""
        if len(self._lut) < len(self.index):
            self._held.extend(itertools.islice(self.index, len(self._held), None))
            self._lut = np.empty(len(self._held), dtype=object)
            self._lut[:] = self._held
        return self._lut[codes]


def shared_text(df: pd.DataFrame, codes: dict[str, Codes] | None = None) -> pd.DataFrame:
    """`df` with each text column's equal values one Python string (a file reader makes a string per cell: RE's
    900k rows x 6 variables take ~300 MB so, their distinct values a few MB). `codes` (column -> Codes) carries the
    strings over consecutive ranges of one dataset. Values and order unchanged."""
    codes = {} if codes is None else codes
    out = []
    for i, name in enumerate(df.columns):  # by position: a table may repeat a column name
        col = df.iloc[:, i]
        python_str = isinstance(col.dtype, pd.StringDtype) and col.dtype.storage == "python"
        if python_str or (col.dtype == object and pd.api.types.infer_dtype(col, skipna=False) == "string"):
            c = codes.setdefault(f"{i}:{name}", Codes())
            col = pd.Series(c.values_of(c.add(col.to_numpy(dtype=object))), index=df.index, dtype=col.dtype)
        out.append(col)
    shared = pd.concat(out, axis=1, keys=range(len(out))) if out else df.copy()
    shared.columns = df.columns
    return shared


def text_ranks(values: np.ndarray) -> np.ndarray:
    """Each code's place when the texts `values` (of codes 0..n-1) are sorted: comparing ranks of codes orders rows
    as their text does (equal text, equal rank: codes are of distinct values)."""
    rank = np.empty(len(values), dtype=np.int64)
    rank[np.argsort(values.astype(str), kind="stable")] = np.arange(len(values))
    return rank
