"""distinct.shared_columns: a column's codes found once for every caller within the scope, never stale.

to-sdtm writes and validates one Study inside shared_columns(); a wrong sharing would hand one column's codes
to another, or a replaced column's old values to its new ones.
"""

from __future__ import annotations

import gc

import numpy as np
import pandas as pd
import pytest

from msc_interop import distinct
from msc_interop.distinct import column_answer, column_codes, shared_columns


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"A": pd.Series(["x", "y", None, "x"], dtype=object),
                         "B": pd.Series(["p", "q", "p", "p"], dtype=object),
                         "N": [1.0, np.nan, 1.0, 2.0]})


def test_codes_as_pandas_factorizes_them_na_a_value() -> None:
    df = _frame()
    for col in df.columns:
        codes, uniques = column_codes(df[col])
        expected_codes, expected_uniques = pd.factorize(df[col].to_numpy(), use_na_sentinel=False)
        assert codes.tolist() == expected_codes.tolist()
        assert pd.Series(uniques).equals(pd.Series(expected_uniques))
    codes, uniques = column_codes(df["A"])
    assert codes.tolist() == [0, 1, 2, 0] and uniques[0] == "x" and pd.isna(uniques[2])


def test_shared_within_the_scope_only() -> None:
    df = _frame()
    calls = []
    with shared_columns():
        first = column_codes(df["A"])
        assert column_codes(df["A"]) is first  # another Series of the same column: the same codes
        assert column_codes(df["B"]) is not first
        assert column_codes(df["B"])[1].tolist() == ["p", "q"]
        for _ in range(3):
            assert column_answer(df["A"], "n", lambda: calls.append(1) or 7) == 7
        assert calls == [1]
        assert column_answer(df["B"], "n", lambda: 8) == 8  # another column: its own answer
    assert column_codes(df["A"]) is not first
    column_answer(df["A"], "n", lambda: calls.append(1))
    assert calls == [1, 1]  # outside: every call computes


def test_a_replaced_column_is_not_stale_and_freed_columns_leave() -> None:
    df = _frame()
    with shared_columns():
        assert column_codes(df["A"])[1][0] == "x"
        df["A"] = pd.Series(["z", "z", "w", "z"], dtype=object)
        assert column_codes(df["A"])[1].tolist() == ["z", "w"]
        other = _frame()
        other["A"] = pd.Series(["k"] * 4, dtype=object)
        column_codes(other["A"])
        held = len(distinct._SHARED.get())
        del other
        gc.collect()
        assert len(distinct._SHARED.get()) < held  # the freed column's entry went with its memory
        assert column_codes(df["A"])[1].tolist() == ["z", "w"]


def test_a_slice_is_its_own_column() -> None:
    s = pd.Series(["a", "b", "c", "a"], dtype=object)
    with shared_columns():
        whole = column_codes(s)
        part = column_codes(s.iloc[1:])
        assert part is not whole and part[1].tolist() == ["b", "c", "a"]
        assert column_codes(s.iloc[:2])[1].tolist() == ["a", "b"]  # same start, another length


def test_taken_rows_keep_their_codes() -> None:
    """take_rows carries a column's known codes through the take; they equal factorizing the taken column."""
    df = _frame()
    order = np.array([3, 1, 0, 2])
    with shared_columns():
        known = column_codes(df["A"])
        out = distinct.take_rows(df, order)
        assert out.index.equals(pd.RangeIndex(4))
        assert out["A"].tolist()[:2] == ["x", "y"] and pd.isna(out["A"].iloc[3])
        carried = distinct.known_codes(out["A"])
        assert known[0].tolist() == [0, 1, 2, 0]
        assert carried is not None and carried[0].tolist() == [0, 1, 0, 2]  # renumbered: first appearance
        assert distinct.known_codes(out["B"]) is None  # not known before: not made up
        # what the carried codes say is what the taken column holds
        codes, uniques = carried
        assert [uniques[k] for k in codes][:3] == out["A"].tolist()[:3]
    plain = distinct.take_rows(df, order)
    assert plain.equals(df.take(order).reset_index(drop=True))


def test_taken_rows_are_what_dataframe_take_gives() -> None:
    """take_rows takes a column at a time: the frame equals DataFrame.take's (values, dtypes, extension arrays,
    column names, attrs), with a fresh RangeIndex, also for a frame whose names repeat."""
    df = pd.DataFrame({"T": pd.Series(["a", None, "c", "a"], dtype=object), "I": pd.array([1, None, 3, 4], "Int64"),
                       "S": pd.array(["x", "y", None, "x"], dtype="str"), "B": [True, False, True, False],
                       "D": pd.to_datetime(["2020-01-01", "2021-02-03", None, "2020-01-01"]),
                       "C": pd.Categorical(["p", "q", "p", None]), "F": [0.5, np.nan, -0.0, 2.0]},
                      index=[10, 11, 12, 13])
    df.attrs["msc_xpt"] = {"labels": {"T": "Text"}}
    order = np.array([2, 0, 3, 1, 0])
    for frame in (df, df.set_axis(["T", "I", "S", "B", "D", "C", "T"], axis=1)):
        expected = frame.take(order).reset_index(drop=True)
        got = distinct.take_rows(frame, order)
        pd.testing.assert_frame_equal(got, expected, check_exact=True)
        assert got.columns.equals(frame.columns) and got.attrs == frame.attrs
        assert got.attrs is not frame.attrs


@pytest.mark.parametrize("seed", range(8))
def test_known_codes_are_what_pandas_factorize_gives(seed: int) -> None:
    """Every code the scope holds, however found (factorized, taken, spread from answers), is exactly
    pd.factorize(column, use_na_sentinel=False): the same numbers, values in order of first appearance."""
    rng = np.random.default_rng(seed)
    pool = np.array(["b", "a", "c ", " c", None, np.nan, "d", "e"], dtype=object)
    n = int(rng.integers(1, 200))
    df = pd.DataFrame({"V": pd.Series(pool[rng.integers(0, len(pool), n)], dtype=object),
                       "K": rng.integers(0, 5, n).astype(float)})
    with shared_columns():
        column_codes(df["V"])
        column_codes(df["K"])
        positions = rng.permutation(n)[: int(rng.integers(1, n + 1))]  # a sort, or fewer rows
        out = distinct.take_rows(df, positions)
        stripped = distinct.per_distinct(lambda u: u.fillna("").str.strip().astype(object), out["V"])
        flags = distinct.per_distinct(lambda u: u.fillna("").eq("c"), stripped)
        both = distinct.per_distinct(lambda u: pd.DataFrame({"t": u.fillna("").astype(str).str.upper().astype(object),
                                                             "n": u.isna()}), out["V"])  # a frame of answers
        assert both.index.equals(out.index) and list(both.columns) == ["t", "n"]
        for s in (out["V"], out["K"], stripped, flags, both["t"], both["n"]):
            codes, uniques = distinct.known_codes(s)
            expected_codes, expected_uniques = pd.factorize(s.to_numpy(), use_na_sentinel=False)
            assert codes.tolist() == expected_codes.tolist()
            assert pd.Series(uniques).equals(pd.Series(expected_uniques))


def test_a_column_changed_in_place_fails_loudly_in_the_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite runs with MSC_INTEROP_CHECK_SHARED=1 (tests/conftest.py): codes that no longer match their
    column (changed in place inside the scope, which no code may do) raise instead of answering wrongly."""
    monkeypatch.setattr(distinct, "_CHECK", True)
    df = pd.DataFrame({"A": pd.Series(["x", "y", "x"], dtype=object)})
    with shared_columns():
        column_codes(df["A"])
        before = df["A"].to_numpy().__array_interface__["data"][0]
        df.loc[0, "A"] = "NEW"
        if df["A"].to_numpy().__array_interface__["data"][0] != before:  # not the case this guards
            pytest.skip("this pandas copied the column instead of writing in place")
        with pytest.raises(AssertionError, match="no longer match"):
            distinct.known_codes(df["A"])
        with pytest.raises(AssertionError, match="no longer match"):
            column_codes(df["A"])


def test_the_scope_keeps_nothing_after_it_closes() -> None:
    df = _frame()
    with shared_columns():
        column_codes(df["A"])
        held = distinct._SHARED.get()
        assert held
    assert held == {} and not distinct.sharing()


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint16])
def test_numbered_in_order_is_pandas_numbering(dtype: type) -> None:
    """numbered_in_order(codes, n) says whether pd.factorize(codes) would keep them as they are (values 0..n-1
    all occurring, each first seen after the ones below it), checked against pd.factorize on random code runs
    (in order, renumbered, missing one value, starting above 0, wrapping past int8's 127)."""
    rng = np.random.default_rng(7)
    cases = [np.array([], dtype=dtype), np.array([0, 0, 1, 0, 2, 1], dtype=dtype), np.array([0, 2, 1], dtype=dtype),
             np.array([1, 0], dtype=dtype), np.array([0, 1, 3], dtype=dtype), np.arange(130).astype(dtype)]
    for i in range(200):
        n = int(rng.integers(1, 40 if i % 4 else 9000))  # (some longer than the 4096 codes looked at first)
        codes = pd.factorize(rng.integers(0, n, int(rng.integers(1, 60 if i % 4 else 20000))))[0]
        if rng.random() < 0.5:  # renumber some: another order, or a gap
            codes = np.where(codes == codes.max(), codes + int(rng.integers(0, 2)), codes)
            codes = rng.permutation(codes.max() + 1)[codes] if rng.random() < 0.5 else codes
        cases.append(codes.astype(dtype))
    for codes in cases:
        order = pd.factorize(codes)[1]  # (int8: np.arange(130) wrapped past 127 to negative codes)
        n = len(order) if len(codes) else 0
        expected = bool(np.array_equal(order, np.arange(n)))
        assert distinct.numbered_in_order(codes, n) == expected, codes
        assert not distinct.numbered_in_order(codes, n + 1)  # a value that never occurs
    assert not distinct.numbered_in_order(np.array([0, -1, 1], dtype=np.int64), 2)  # a sentinel is not a value
    assert distinct.numbered_in_order(np.r_[np.arange(127), 127, 127].astype(np.int8), 128)


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint16])
def test_in_order_of_appearance_is_a_factorization_of_the_values(dtype: type) -> None:
    """in_order_of_appearance(codes, uniques): the codes and values pd.factorize gives uniques[codes] (values
    that never occur dropped), on codes taken in another order, with gaps, and already in order."""
    rng = np.random.default_rng(11)
    for i in range(120):
        k = int(rng.integers(1, 100 if dtype == np.int8 else (30 if i % 3 else 5000)))
        uniques = np.array([f"v{j}" for j in range(k)], dtype=object)
        codes = rng.integers(0, k, int(rng.integers(1, 50 if i % 3 else 20000))).astype(dtype)
        if i % 5 == 0:
            codes = pd.factorize(codes)[0].astype(dtype)  # in order already (or nearly: a value left out)
        got_codes, got_values = distinct.in_order_of_appearance(codes, uniques)
        want_codes, want_values = pd.factorize(uniques[codes])
        assert np.array_equal(got_codes, want_codes) and list(got_values) == list(want_values)
        assert got_codes.dtype == codes.dtype


@pytest.mark.parametrize("sort", [False, True])
def test_factorize_small_ints_is_pd_factorize(sort: bool) -> None:
    """factorize_small_ints(values, span, sort): pd.factorize's codes and values, through the lookup table where
    the values lie in 0..span-1 and by pd.factorize elsewhere (negative values, a span far above the rows)."""
    rng = np.random.default_rng(5)
    cases = [(np.array([], dtype=np.int64), 4), (np.array([3, 3, 0, 2], dtype=np.int64), 4),
             (np.array([5, -1, 5, 2], dtype=np.int64), 6), (np.array([1 << 40, 7, 1 << 40], dtype=np.int64), 1 << 41)]
    for i in range(60):
        span = int(rng.integers(1, 50 if i % 2 else 200_000))
        cases.append((rng.integers(0, span, int(rng.integers(1, 3000))).astype(np.int64), span))
    for values, span in cases:
        codes, order = distinct.factorize_small_ints(values, span, sort)
        want_codes, want_order = pd.factorize(values, sort=sort)
        assert np.array_equal(codes, want_codes) and np.array_equal(order, want_order), (values, span)


@pytest.mark.parametrize("seed", range(4))
def test_value_ranks_order_rows_as_sort_values(seed: int) -> None:
    """value_ranks: equal values one rank, ranks in pandas' sort order, NaN after every value."""
    rng = np.random.default_rng(seed)
    pool = np.array(["b", "a", "c", None, "aa"], dtype=object)
    values = pd.Series(pool[rng.integers(0, len(pool), 300)], dtype=object)
    for col in (values, pd.Series(rng.integers(0, 4, 300).astype(float)).where(rng.random(300) > 0.2)):
        ranks = distinct.value_ranks(col)
        order = np.argsort(ranks, kind="stable")
        assert order.tolist() == col.sort_values(kind="stable", na_position="last").index.tolist()
        same = col.to_numpy()[:, None] == col.to_numpy()[None, :]
        both_na = col.isna().to_numpy()[:, None] & col.isna().to_numpy()[None, :]
        assert ((ranks[:, None] == ranks[None, :]) == (same | both_na)).all()


def test_stripped_text_is_pandas_strip_of_the_text() -> None:
    """stripped_text (every per-distinct text step starts with it): str(value).strip(), "" for null, as
    Series.str.strip gives it; index and object dtype kept."""
    values = [" a ", "b", "", None, 3, np.nan, "\tc\n", "\u00a0d\u2003", "e  f", 2.5]
    u = pd.Series(values, index=range(10, 20), dtype=object)
    want = u.where(u.notna(), "").map(str).str.strip()
    got = distinct.stripped_text(u)
    assert got.tolist() == want.tolist() and got.index.equals(u.index) and got.dtype == object
    text = pd.Series([v for v in values if isinstance(v, str)], dtype=object)
    assert distinct.stripped_text(text).tolist() == text.str.strip().tolist()
    held = pd.Series([" a", None, "b "], dtype="str")  # a pandas string column with NA: as pandas strips it
    assert distinct.stripped_text(held).tolist() == held.str.strip().astype(object).tolist()


def test_coded_by_key_is_the_column_factorized() -> None:
    """coded_by_key(values, key, span): the column as given, its codes those pd.factorize gives it, where keys
    determine the values (two keys may give one value; None is a value)."""
    rng = np.random.default_rng(9)
    names = np.array(["Baseline", "Year 1", None, "Year 1", "Day 7"], dtype=object)  # key 1 and 3: one value
    key = rng.integers(0, len(names), 400)
    values = names[key]
    with shared_columns():
        col = distinct.coded_by_key(values, key, len(names), pd.RangeIndex(400))
        assert col.tolist() == values.tolist()
        codes, uniques = distinct.known_codes(col)
        want_codes, want_uniques = pd.factorize(values, use_na_sentinel=False)
        assert codes.tolist() == want_codes.tolist()
        assert pd.Series(uniques, dtype=object).equals(pd.Series(want_uniques, dtype=object))  # (None: NA)
        assert None in list(uniques)  # the column's own object (pandas' uniques say NaN)
