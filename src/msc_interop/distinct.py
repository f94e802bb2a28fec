"""Column work on distinct values: the one trick that keeps per-value Python work out of the hot paths.

A million lab rows hold a few tens of thousands of distinct dates, units or test codes; pandas string methods
on object columns loop in Python, so every such step runs on the distinct values and spreads the answers back.
"""

from __future__ import annotations

import copy
import os
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

import numpy as np
import pandas as pd

T = TypeVar("T")
# (data address, length, stride, dtype) of a column's array -> {"codes": (codes, uniques), what: an answer about
# the column}; an entry goes when the memory it describes is freed (so an address is never mistaken for another
# column's); None outside shared_columns()
_SHARED: ContextVar[dict[tuple, dict[str, Any]] | None] = ContextVar("msc_interop_shared_columns", default=None)
_CHECK = os.environ.get("MSC_INTEROP_CHECK_SHARED") == "1"


@contextmanager
def shared_columns() -> Iterator[None]:
    """Within: a column's codes and distinct values (column_codes) and answers about it (column_answer) are
    found once and shared by every caller that asks about the same column. to-sdtm's writers (XPT storage
    widths and records, define.xml's shapes, the XPT limit checks) and the rules run on the written Study each
    factorized every text column again: 1M LB rows, some 25 columns, ten passes. Columns must not be changed
    in place within (none is: a column is replaced, which is another array)."""
    shared: dict[tuple, dict[str, Any]] = {}
    token = _SHARED.set(shared)
    try:
        yield
    finally:
        _SHARED.reset(token)
        shared.clear()  # the finalizers hold the dict: its codes must not outlive the scope


def sharing() -> bool:
    """Whether a shared_columns() scope is open (a first factorization then serves every later caller)."""
    return _SHARED.get() is not None


def _plain(values: pd.Series | np.ndarray) -> np.ndarray | None:
    """The numpy array of a column (None: an extension array: Int64, string, ...)."""
    arr = values.to_numpy() if isinstance(values, pd.Series) and isinstance(values.dtype, np.dtype) else values
    return arr if isinstance(arr, np.ndarray) and arr.ndim == 1 else None


def _entry(arr: np.ndarray) -> dict[str, Any] | None:
    """The shared entry of a column's array (None: not sharing, or memory not owned by a numpy array)."""
    shared = _SHARED.get()
    if shared is None:
        return None
    owner = arr
    while isinstance(owner.base, np.ndarray):
        owner = owner.base
    if owner.base is not None:  # memory of another object (a buffer, a mapped file): not followed
        return None
    key = (arr.__array_interface__["data"][0], len(arr), arr.strides[0], arr.dtype.str)
    entry = shared.get(key)
    if entry is None:
        entry = shared[key] = {}
        weakref.finalize(owner, shared.pop, key, None)
    return entry


def column_codes(values: pd.Series | np.ndarray) -> tuple[np.ndarray, Any]:
    """(codes, distinct values) of a column, NA one of the values (pd.factorize, use_na_sentinel=False): the
    distinct values (array-like) in order of appearance, values[codes] the column (codes int32 where they fit).
    Shared within shared_columns()."""
    arr = _plain(values)
    entry = _entry(arr) if arr is not None else None
    if entry is None:
        return _compact(*pd.factorize(values if arr is None else arr, use_na_sentinel=False))
    if "codes" not in entry:
        entry["codes"] = _compact(*pd.factorize(arr, use_na_sentinel=False))
    return _checked(arr, entry["codes"])


def _checked(arr: np.ndarray, codes: tuple[np.ndarray, Any]) -> tuple[np.ndarray, Any]:
    """With MSC_INTEROP_CHECK_SHARED=1 (the test suite sets it), every shared answer is compared with a fresh
    factorization of the column: a column changed in place within the scope fails loudly, not silently."""
    if _CHECK:
        fresh = _compact(*pd.factorize(arr, use_na_sentinel=False))
        if not (np.array_equal(fresh[0], codes[0])
                and pd.Series(fresh[1], dtype=object).equals(pd.Series(codes[1], dtype=object))):
            raise AssertionError("distinct.shared_columns: a column's shared codes no longer match it (a column "
                                 "changed in place inside the scope?)")
    return codes


def known_codes(values: pd.Series | np.ndarray) -> tuple[np.ndarray, Any] | None:
    """column_codes of a column when they are known already (shared_columns), else None: no pass is made."""
    arr = _plain(values)
    entry = _entry(arr) if arr is not None and _SHARED.get() is not None else None
    codes = None if entry is None else entry.get("codes")
    return None if codes is None else _checked(arr, codes)


def first_rows(codes: np.ndarray, n_distinct: int) -> np.ndarray:
    """Row of the first occurrence of each code (-1: none). pd.factorize numbers values in order of appearance,
    so a first occurrence is where a code passes every code before it: one pass, no sort of a million codes."""
    first = np.full(n_distinct, -1, dtype=np.int64)
    if not len(codes):
        return first
    passes = np.flatnonzero(np.r_[True, codes[1:] > np.maximum.accumulate(codes)[:-1]])
    if np.array_equal(codes[passes], np.arange(len(passes))):
        first[:len(passes)] = passes
        return first
    found, at = np.unique(codes, return_index=True)  # codes in another order
    first[found] = at
    return first


def take_rows(frame: pd.DataFrame, positions: np.ndarray) -> pd.DataFrame:
    """frame.take(positions) with a fresh RangeIndex, a column at a time (a block each, as frame_of_columns makes
    them; DataFrame.take cost a third more on 25 columns of a million rows); within shared_columns() each column
    whose codes are known keeps them (its codes taken the same way): a sorted dataset is not factorized again by
    its writers."""
    if len(positions) == len(frame) and is_identity(positions):  # (rows sorted already: lb.py sorts them early)
        out = frame.copy(deep=False)  # the same arrays, so their codes stay known (columns are never changed in
        out.index = pd.RangeIndex(len(frame))  # place within shared_columns)
        out.attrs = copy.deepcopy(frame.attrs)
        return out
    if frame.columns.has_duplicates or not isinstance(frame.columns, pd.Index) or frame.columns.nlevels > 1:
        out = frame.take(positions).reset_index(drop=True)  # (names a dict of columns cannot hold)
    else:
        index = pd.RangeIndex(len(positions))
        parts = []
        for col in frame.columns:
            values = frame[col]
            arr = _plain(values)
            taken = values.array.take(positions) if arr is None else arr.take(positions)
            parts.append(pd.Series(taken, index=index, name=col, dtype=values.dtype, copy=False))
        out = pd.concat(parts, axis=1) if parts else frame.iloc[positions].reset_index(drop=True)
        out.columns = frame.columns
        out.attrs = copy.deepcopy(frame.attrs)
    if _SHARED.get() is None:
        return out
    for col in frame.columns:
        known = known_codes(frame[col])
        arr = _plain(out[col]) if known is not None else None
        entry = _entry(arr) if arr is not None else None
        if entry is not None and "codes" not in entry:
            entry["codes"] = in_order_of_appearance(known[0][positions], known[1])
    return out


def sorted_positions(frame: pd.DataFrame, by: list[str], ties: np.ndarray | None = None) -> np.ndarray:
    """The row positions that sort `frame` by the columns `by` as frame.sort_values(by, kind="stable") does
    (each column's values in pandas' sort order, NaN last, ties in row order), from the columns' codes: the
    distinct values are sorted, not a million strings (within shared_columns() the codes are known already).
    `ties` (distinct integers, one per row): the order of rows whose values are equal, instead of row order (the
    rows' positions in the file, for rows a builder put in another order: lb.py)."""
    if not len(frame):
        return np.zeros(0, dtype=np.int64)
    keys, span = [], 1
    for col in by:
        ranks = value_ranks(frame[col])
        width = int(ranks.max()) + 1
        keys.append((ranks, width))
        span *= width
    if span >= 2**62:  # too many combinations for one integer: a sort per key
        return np.lexsort(([] if ties is None else [ties]) + [k for k, _ in keys][::-1])
    combined = np.zeros(len(frame), dtype=np.int64)
    for key, width in keys:  # one integer per row, ordered as the keys are
        combined = combined * width + key
    step = np.diff(combined)
    if ties is None:
        if (step >= 0).all():  # in order already (one pass, no sort)
            return np.arange(len(frame), dtype=np.int64)
        return np.argsort(combined, kind="stable")  # rows often come near their order: a merge sort's short work
    if ((step > 0) | ((step == 0) & (np.diff(ties) > 0))).all():
        return np.arange(len(frame), dtype=np.int64)
    return np.lexsort((ties, combined))


def is_identity(positions: np.ndarray) -> bool:
    """Whether `positions` are 0, 1, 2, ...: a take that changes nothing."""
    return bool(len(positions) == 0 or (positions[0] == 0 and (np.diff(positions) == 1).all()))


def value_ranks(values: pd.Series) -> np.ndarray:
    """Each row's rank in pandas' sort order of the column's values (equal values one rank, NaN after every value):
    from the column's codes, the distinct values sorted, not a million rows."""
    codes, uniques = column_codes(values)
    return column_answer(values, "value ranks", lambda: _distinct_ranks(uniques))[codes]


def _distinct_ranks(uniques: Any) -> np.ndarray:
    """Each distinct value's rank in pandas' sort order, NaN last (value_ranks; found once per column within
    shared_columns(): LB's ~70k distinct LBDTC are ranked for LBLOBXFL and again for LBSEQ). Text values (all
    str, no NA) are ordered by Python's sort, which compares them as numpy's argsort of objects does in
    pd.factorize(sort=True), in half the time."""
    distinct = np.asarray(uniques, dtype=object) if not isinstance(uniques, np.ndarray) else uniques
    if distinct.dtype == object and len(distinct) > 1 and pd.api.types.infer_dtype(distinct, skipna=False) == "string":
        ranks = np.empty(len(distinct), dtype=np.int64)
        ranks[sorted(range(len(distinct)), key=distinct.tolist().__getitem__)] = np.arange(len(distinct))
        return ranks
    ranks, _ = pd.factorize(uniques, sort=True, use_na_sentinel=True)  # NaN: -1, placed last
    return np.where(ranks < 0, len(uniques), ranks)


def is_in(values: pd.Series, choices: list[Any]) -> np.ndarray:
    """values.isin(choices) as booleans, decided per distinct value and spread through the column's codes (known
    within shared_columns(): no pass over a million objects per question)."""
    codes, uniques = column_codes(values)
    distinct = pd.Series(np.asarray(uniques, dtype=object), dtype=object)
    if distinct.isna().any():  # (one code for None and NaN, which isin tells apart: the rows decide)
        return values.isin(choices).to_numpy(dtype=bool)
    answer = distinct.isin(choices).to_numpy(dtype=bool)
    return answer[codes] if len(answer) else np.zeros(len(values), dtype=bool)


def in_order_of_appearance(codes: np.ndarray, uniques: Any) -> tuple[np.ndarray, np.ndarray]:
    """The codes and distinct values pd.factorize gives the column uniques[codes]: values numbered in order of
    first appearance, values that do not occur dropped (codes taken or derived are valid, not in that order).
    The integer codes factorized: O(n), no sort; none when they are numbered so already (one numpy pass)."""
    if numbered_in_order(codes, len(uniques)):
        return codes, uniques
    renumbered, order = factorize_small_ints(codes, len(uniques))
    if len(order) == len(uniques) and np.array_equal(order, np.arange(len(order))):
        return codes, uniques
    return renumbered.astype(codes.dtype, copy=False), np.asarray(uniques)[order]


def factorize_small_ints(values: np.ndarray, span: int, sort: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """pd.factorize(values, sort=sort) of integers (codes, combinations of codes) that are all in 0..span-1,
    through pd.unique and a lookup table of `span` entries: pd.factorize of a million int32 codes of 11 values
    took ~34 ms, pd.unique ~3 ms and the lookup ~4 ms. Other integers (negative, a sparse span) are factorized."""
    if not len(values) or span > max(1 << 16, 2 * len(values)) or values.min() < 0 or values.max() >= span:
        codes, order = pd.factorize(values, sort=sort)
        return codes.astype(np.int64, copy=False), np.asarray(order)
    order = pd.unique(values)  # in order of first appearance
    if sort:
        order = np.sort(order)
    number = np.zeros(span, dtype=np.int64)
    number[order] = np.arange(len(order), dtype=np.int64)
    return number[values], order


def numbered_in_order(codes: np.ndarray, n_distinct: int) -> bool:
    """Whether `codes` number `n_distinct` values in order of first appearance, each occurring (pd.factorize's
    numbering): the first code is 0 and each code is at most one above every code before it, up to n_distinct - 1
    (the running maximum steps through 0, 1, ... at the first appearances, so every code at or below it was seen)."""
    if not len(codes):
        return n_distinct == 0
    if codes.dtype.itemsize < 4:  # (a running maximum of 127 plus one wraps in int8)
        codes = codes.astype(np.int32)
    if len(codes) > 4096 and not numbered_in_order(codes[:4096], int(codes[:4096].max()) + 1):
        return False  # (rows taken in another order show it in their first rows: no pass over them all)
    running = np.maximum.accumulate(codes)
    return (codes[0] == 0 and running[-1] == n_distinct - 1 and bool((codes[1:] <= running[:-1] + 1).all())
            and (codes.dtype.kind == "u" or codes.min() >= 0))


def _compact(codes: np.ndarray, uniques: Any) -> tuple[np.ndarray, Any]:
    """Codes as int32 (half the memory of pandas' int64; a shared column keeps its codes while it lives); a
    caller that multiplies codes widens them first."""
    return (codes.astype(np.int32) if len(uniques) < 2**31 - 1 else codes), uniques


def column_answer(values: pd.Series | np.ndarray, what: str, fn: Callable[[], T]) -> T:
    """fn(), an answer about the whole column named `what`, found once per column within shared_columns()."""
    arr = _plain(values)
    entry = _entry(arr) if arr is not None else None
    if entry is None:
        return fn()
    if what not in entry:
        entry[what] = fn()
    return entry[what]


def stripped_text(u: pd.Series) -> pd.Series:
    """Values (distinct ones, for per_distinct) as stripped text, "" for null: one C-level check skips the
    conversion when all are str already."""
    if pd.api.types.infer_dtype(u, skipna=False) != "string":
        u = u.where(u.notna(), "").map(str)
    if u.dtype != object:  # (a pandas string column, whose NA infer_dtype does not see: stripped as pandas does)
        return u.str.strip().astype(object)
    return pd.Series(strip_each(u.tolist()), index=u.index, dtype=object)


def strip_each(values: list[str]) -> np.ndarray:
    """str.strip of each text value, as an object array: Series.str.strip calls a lambda per value (~2x the time)."""
    out = np.empty(len(values), dtype=object)
    out[:] = list(map(str.strip, values))
    return out


def per_distinct(fn: Callable[[pd.Series], pd.Series | pd.DataFrame], values: pd.Series) -> pd.Series | pd.DataFrame:
    """Apply a column function to the distinct values only, then spread the answers back.

    A million lab rows hold a few tens of thousands of distinct dates (one per subject visit); pandas string
    methods on object columns loop in Python, so working on the distinct values is what keeps this fast.
    """
    codes, uniques = column_codes(values)
    answer = fn(pd.Series(uniques, dtype=object))
    if isinstance(answer, pd.DataFrame):
        if answer.columns.has_duplicates or not len(answer.columns) \
                or not all(isinstance(t, np.dtype) for t in answer.dtypes):
            out = answer.iloc[codes]
            out.index = values.index
            return out
        # a column at a time, as spread_answer does (its codes known too), each its own block (no 2-D copy)
        out = pd.concat([spread_answer(answer[c], codes, values.index).rename(c) for c in answer.columns], axis=1)
        out.columns = answer.columns
        return out
    return spread_answer(answer, codes, values.index)  # the spread array is this Series' own


def _spread_codes(spread: np.ndarray, answer: pd.Series, codes: np.ndarray) -> None:
    """Within shared_columns(): the codes of a column spread from answers on distinct values are known without
    a pass over its rows: the answers factorized (a few thousand values), their codes taken through the rows'
    codes. Equal to factorizing the spread column, with no renumbering: the rows' codes are in order of first
    appearance (column_codes keeps every code so), so an answer's first row is that of the first distinct value
    that gave it."""
    if _SHARED.get() is None or spread.ndim != 1 or not isinstance(answer.dtype, np.dtype):
        return
    entry = _entry(spread)
    if entry is not None and "codes" not in entry:
        answer_codes, answer_uniques = _compact(*pd.factorize(answer.to_numpy(), use_na_sentinel=False))
        entry["codes"] = (answer_codes[codes], answer_uniques)


def row_codes(frame: pd.DataFrame, sort: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """One integer per row naming its combination of the frame's values (NA a value like any other), and the
    position of the first row of each combination. With sort=True the codes follow the lexicographic order of
    the columns' values (each column factorized sorted), so sorting by the codes sorts by the values."""
    combined, span = _combinations(frame, sort)
    codes, _uniques = factorize_small_ints(combined, span, sort)
    if not len(codes):
        return codes.astype(np.int64), np.array([], dtype=np.int64)
    if not sort:  # codes number the combinations in order of appearance: a first row is where a new code shows
        return codes.astype(np.int64), _first_of_each(codes)
    order = np.argsort(codes, kind="stable")
    first = order[np.r_[0, np.flatnonzero(np.diff(codes[order])) + 1]]
    return codes.astype(np.int64), first


def rows_all_distinct(frame: pd.DataFrame) -> bool:
    """Whether no two rows of `frame` hold the same combination of values (NA a value like any other): the rows'
    combinations of the columns' codes sorted and compared with their neighbours (a million distinct
    combinations: pd.factorize ~0.2 s, the sort ~0.05 s)."""
    combined, _span = _combinations(frame, False)
    ordered = np.sort(combined)
    return not bool((ordered[1:] == ordered[:-1]).any())


def _combinations(frame: pd.DataFrame, sort: bool) -> tuple[np.ndarray, int]:
    """(one int64 per row for its combination of the columns' codes, the number of values they can take)."""
    combined = np.zeros(len(frame), dtype=np.int64)
    span = 1
    for col in frame.columns:
        codes, uniques = pd.factorize(frame[col], sort=True, use_na_sentinel=False) if sort \
            else column_codes(frame[col])
        width = max(len(uniques), 1)
        if span > np.iinfo(np.int64).max // width:  # too many combinations for one int64: renumber so far
            combined = factorize_small_ints(combined, span, sort)[0]
            span = int(combined.max()) + 1 if len(combined) else 1
        combined = combined * width + codes
        span *= width
    return combined, span


def per_distinct_rows(fn: Callable[[pd.DataFrame], pd.Series], frame: pd.DataFrame) -> pd.Series:
    """per_distinct for a combination of columns (a date and a time, say): `fn` sees each distinct row once."""
    codes, first = row_codes(frame)
    return spread_answer(fn(frame.iloc[first].reset_index(drop=True)), codes, frame.index)


def spread_answer(answer: pd.Series, codes: np.ndarray, index: pd.Index) -> pd.Series:
    """answer[codes] as a column on `index`: answers found per distinct value (or combination, row_codes) spread
    to the rows, its codes known within shared_columns() (`codes` must number the rows' values in order of
    appearance, as column_codes and row_codes do)."""
    spread = answer.to_numpy()[codes]
    _spread_codes(spread, answer, codes)
    return pd.Series(spread, index=index, dtype=answer.dtype, copy=False)


def coded_by_key(values: np.ndarray, key: np.ndarray, span: int, index: pd.Index) -> pd.Series:
    """The column `values` (objects) with its codes known within shared_columns(), where the integer `key` (each in
    0..span-1) determines each row's value (a subject and a visit number, say): the keys numbered (no hashing of
    objects), the values of their first rows factorized (a few), and equal values merged."""
    if not len(values):
        return pd.Series(values, index=index, dtype=object)
    key_codes, _order = factorize_small_ints(key, span)
    at_first = np.asarray(values, dtype=object)[_first_of_each(key_codes)]
    value_codes, _distinct = pd.factorize(at_first, use_na_sentinel=False)
    # the values' own objects as the choices (pandas' uniques would turn None into NaN)
    return coded(value_codes[key_codes], at_first[_first_of_each(value_codes)].tolist(), index)


def _first_of_each(codes: np.ndarray) -> np.ndarray:
    """The position of the first occurrence of each code, for codes numbered in order of appearance (where a code
    passes every code before it)."""
    return np.flatnonzero(np.r_[True, codes[1:] > np.maximum.accumulate(codes)[:-1]]) if len(codes) else codes


def coded(codes: np.ndarray, choices: list[Any] | np.ndarray, index: pd.Index, *, in_order: bool = False) -> pd.Series:
    """The text column choices[codes] (`choices` distinct), its codes known within shared_columns(): a builder that
    derives a column as one of a few values per row (LOW/NORMAL/HIGH, a flag, a constant) states them instead of
    having every writer factorize a million strings again. `in_order`: the codes number every choice in order of
    first appearance already (pd.factorize's numbering; not checked again)."""
    choices = np.asarray(choices, dtype=object)
    values = choices[codes]
    if _SHARED.get() is not None:
        entry = _entry(values)
        if entry is not None and "codes" not in entry:
            entry["codes"] = _compact(*((codes, choices) if in_order else in_order_of_appearance(codes, choices)))
    return pd.Series(values, index=index, dtype=object, copy=False)
