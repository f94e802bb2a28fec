"""A dataset built in two halves by two processes (sdtm/load_in_two.py) made one, by the codes of its columns.

The other process sends each text column as its codes and distinct values (the builders found them already:
distinct.shared_columns), not as half a million Python strings to pickle one by one; this one joins a column
by uniting the two halves' distinct values (a few thousand) and renumbering the other half's codes into the
union, and the joined column's codes stay known to the writers (distinct.coded). The halves hold disjoint
subjects, each sorted by USUBJID first and the other's all after this one's, so the joined rows are in the
order a whole build gives them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from msc_interop.columns_frame import frame_of_columns
from msc_interop.distinct import coded, column_codes

Coded = tuple[np.ndarray, np.ndarray]  # (codes, distinct values) of a text column


@dataclass
class ShippedFrame:
    """A dataset's rows as the other process sends them: each all-text column as its codes and distinct values,
    any other column as it is."""

    rows: int
    columns: list[str]
    parts: dict[str, Coded | pd.Series]
    attrs: dict[str, Any] = field(default_factory=dict)

    def frame(self) -> pd.DataFrame:
        """The rows as a DataFrame again (text columns' codes known within shared_columns)."""
        index = pd.RangeIndex(self.rows)
        out = frame_of_columns({c: _column(self.parts[c], index) for c in self.columns}, index)
        out.attrs = dict(self.attrs)
        return out


def shipped(df: pd.DataFrame) -> ShippedFrame:
    """`df` (a conformed dataset: its object columns hold str only) as ShippedFrame."""
    parts: dict[str, Coded | pd.Series] = {}
    for col in df.columns:
        s = df[col]
        if s.dtype == object:
            codes, distinct = column_codes(s)
            parts[str(col)] = (codes, np.asarray(distinct, dtype=object))
        else:
            parts[str(col)] = s.reset_index(drop=True)
    return ShippedFrame(len(df), [str(c) for c in df.columns], parts, dict(df.attrs))


def joined(first: pd.DataFrame, second: ShippedFrame) -> pd.DataFrame:
    """`first`'s rows then `second`'s, as one frame of `first`'s columns (the same columns, in the same order)."""
    if [str(c) for c in first.columns] != second.columns:
        raise ValueError(f"the halves have other columns: {list(first.columns)} and {second.columns}")
    if not second.rows:
        return first
    if not len(first):
        return second.frame()
    index = pd.RangeIndex(len(first) + second.rows)
    columns = {}
    for col in second.columns:
        part, mine = second.parts[col], first[col]
        if isinstance(part, tuple) and mine.dtype == object:
            columns[col] = _joined_text(mine, part, index)
        else:
            theirs = _column(part, pd.RangeIndex(second.rows))
            columns[col] = pd.concat([mine.reset_index(drop=True), theirs], ignore_index=True)
    out = frame_of_columns(columns, index)
    out.attrs = dict(first.attrs)
    return out


def _joined_text(mine: pd.Series, theirs: Coded, index: pd.Index) -> pd.Series:
    """A text column of this half and the other's codes: the distinct values united (this half's first, in their
    order, then the other's new ones in theirs: the order of appearance in the joined column), the other's codes
    renumbered into the union."""
    my_codes, my_distinct = column_codes(mine)
    my_distinct = np.asarray(my_distinct, dtype=object)
    their_codes, their_distinct = theirs
    if len(their_distinct) <= len(my_distinct) and (my_distinct[:len(their_distinct)] == their_distinct).all():
        union, renumbered = my_distinct, their_codes.astype(np.int32, copy=False)  # (the other half met the same
        # values in the same order, or some of them first: a code, a unit, a visit)
    else:
        union_codes, union = pd.factorize(np.concatenate([my_distinct, their_distinct]), use_na_sentinel=False)
        renumbered = union_codes[len(my_distinct):].astype(np.int32)[their_codes]
    return coded(np.concatenate([my_codes.astype(np.int32, copy=False), renumbered]), union, index, in_order=True)


def _column(part: Coded | pd.Series, index: pd.Index) -> pd.Series:
    if isinstance(part, tuple):
        return coded(part[0], part[1], index, in_order=True)  # (column_codes' numbering)
    return part.set_axis(index)
