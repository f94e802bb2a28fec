"""The records reader finds repeated rows from the columns' codes: the same rows pandas' duplicated finds."""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
import pytest

from msc_interop.distinct import column_codes, rows_all_distinct, shared_columns
from msc_interop.records.reader import _all_text, _repeats, _rising


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("shared", [False, True])
def test_repeats_are_pandas_duplicated(seed: int, shared: bool) -> None:
    rng = np.random.default_rng(seed)
    pool = np.array(["a", "b", "", " a", None, np.nan, "ä"], dtype=object)
    n = int(rng.integers(0, 300))
    frame = pd.DataFrame({f"c{i}": pool[rng.integers(0, 2 + seed % 5, n)] for i in range(1 + seed % 4)},
                         index=pd.RangeIndex(5, 5 + n))
    with shared_columns() if shared else contextlib.nullcontext():
        for keep_first, keep in ((True, "first"), (False, False)):
            got = _repeats(frame, keep_first=keep_first)
            assert got.index.equals(frame.index)
            assert got.tolist() == frame.duplicated(keep=keep).tolist()


def test_repeats_by_hand() -> None:
    frame = pd.DataFrame({"s": ["1", "1", "2", "1"], "v": ["x", "x", "x", "y"]}, dtype=object)
    assert _repeats(frame, keep_first=True).tolist() == [False, True, False, False]
    assert _repeats(frame[["s"]], keep_first=False).tolist() == [True, True, False, True]



@pytest.mark.parametrize("seed", range(8))
def test_rows_all_distinct_is_no_pandas_duplicate(seed: int) -> None:
    """rows_all_distinct (the reader's first look for repeated keys): True exactly where pandas' duplicated finds
    no row, on frames of few values (repeats likely), many values (repeats rare) and none."""
    rng = np.random.default_rng(seed)
    pool = np.array(["a", "b", "", " a", None, np.nan, "ä"] + [f"v{i}" for i in range(400)], dtype=object)
    n = int(rng.integers(0, 60))
    frame = pd.DataFrame({f"c{i}": pool[rng.integers(0, 3 if seed % 2 else len(pool), n)]
                          for i in range(1 + seed % 3)})
    with shared_columns() if seed % 4 < 2 else contextlib.nullcontext():
        assert rows_all_distinct(frame) == (not frame.duplicated().any())
    assert rows_all_distinct(pd.DataFrame({"s": ["1", "2", "1"], "v": ["x", "x", "y"]}, dtype=object))
    assert not rows_all_distinct(pd.DataFrame({"s": ["1", "2", "1"], "v": ["x", None, "x"]}, dtype=object))


@pytest.mark.parametrize("seed", range(8))
def test_rising_rows_hold_no_repeat(seed: int) -> None:
    """_rising (rows each after the one before, by their codes: no sort) says True only where pandas' duplicated
    finds no row; rows in order of appearance of every column (a file sorted by its key) say True."""
    rng = np.random.default_rng(seed)
    pool = np.array(["a", "b", "", None, "c", "d"], dtype=object)
    n = int(rng.integers(0, 40))
    frame = pd.DataFrame({f"c{i}": pool[rng.integers(0, 2 + seed % 4, n)] for i in range(1 + seed % 3)})
    with shared_columns() if seed % 2 else contextlib.nullcontext():
        if _rising(frame):
            assert not frame.duplicated().any()
    assert _rising(pd.DataFrame({"s": ["1", "1", "2", "3"], "v": ["x", "y", "x", "x"]}, dtype=object))
    assert not _rising(pd.DataFrame({"s": ["1", "1", "2"], "v": ["x", "x", "y"]}, dtype=object))
    assert not _rising(pd.DataFrame({"s": ["1", "2", "1"], "v": ["x", "x", "y"]}, dtype=object))  # (sort decides)


def test_is_in_is_pandas_isin() -> None:
    """distinct.is_in: values.isin(choices) decided per distinct value (text, empty, null), as booleans."""
    from msc_interop.distinct import is_in

    values = pd.Series(["<", "", None, ">=", "<=", np.nan, "", ">"] * 3, dtype=object)
    for choices in ([""], ["<", "<="], [">", ">="], []):
        with shared_columns():
            assert is_in(values, choices).tolist() == values.isin(choices).tolist()
        assert is_in(values, choices).tolist() == values.isin(choices).tolist()
    assert is_in(pd.Series([], dtype=object), [""]).tolist() == []
    nulls = pd.Series([None, "a", np.nan, ""], dtype=object)  # one code for None and NaN; isin tells them apart
    for choices in ([np.nan], [None], ["a"]):
        with shared_columns():
            assert is_in(nulls, choices).tolist() == nulls.isin(choices).tolist()


@pytest.mark.parametrize("values", [[], ["a", "b", "a"], ["a", None], ["a", np.nan], ["a", 1], [1, 2], [b"x"]])
def test_all_text_is_is_string_dtype_on_the_distinct_values(values: list) -> None:
    """reader._all_text (on the distinct values where the codes are known) says what is_string_dtype says."""
    column = pd.Series(values, dtype=object)
    with shared_columns():
        column_codes(column)
        assert _all_text(column) == pd.api.types.is_string_dtype(column)
    assert _all_text(column) == pd.api.types.is_string_dtype(column)
