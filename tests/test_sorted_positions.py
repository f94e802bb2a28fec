"""distinct.sorted_positions orders rows as DataFrame.sort_values(by, kind="stable") does (the --SEQ order of
every builder, common.assign_seq): values in pandas' order, NaN/NA last, ties in row order; with and without the
codes of shared_columns()."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from msc_interop.distinct import column_codes, shared_columns, sorted_positions


def _frame(seed: int, n: int = 2000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    subjects = np.array([f"S-{i:03d}" for i in range(40)] + [None], dtype=object)
    dates = np.array(["2020-01-02", "2020-01-02T08:00", "2019-12", "", None, "2021"], dtype=object)
    return pd.DataFrame({
        "USUBJID": subjects[rng.integers(0, len(subjects), n)],
        "VISITNUM": np.where(rng.random(n) < 0.1, np.nan, rng.integers(1, 6, n).astype(float)),
        "DTC": dates[rng.integers(0, len(dates), n)],
        "N": pd.array(np.where(rng.random(n) < 0.1, None, rng.integers(-3, 3, n)), dtype="Int64"),
        "TEST": np.array(["WBC", "RBC", "ALT", "alt"], dtype=object)[rng.integers(0, 4, n)],
    })


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("by", [["USUBJID"], ["USUBJID", "VISITNUM", "DTC", "TEST"], ["N", "DTC"], ["TEST", "N"]])
def test_same_order_as_sort_values(seed: int, by: list[str]) -> None:
    df = _frame(seed)
    want = df.sort_values(by, kind="stable").index.to_numpy()
    assert sorted_positions(df, by).tolist() == want.tolist()
    with shared_columns():
        for col in df.columns:
            column_codes(df[col])  # known codes, as the builders leave them
        assert sorted_positions(df, by).tolist() == want.tolist()


def test_ties_keep_row_order_and_empty_frame() -> None:
    df = pd.DataFrame({"USUBJID": ["B", "A", "B", "A"], "X": ["1", "1", "1", "0"]})
    assert sorted_positions(df, ["USUBJID", "X"]).tolist() == [3, 1, 0, 2]
    assert sorted_positions(df.iloc[:0], ["USUBJID"]).tolist() == []


def test_seq_numbers_within_each_subject_as_cumcount() -> None:
    """assign_seq numbers a subject's sorted rows 1..n (numbered_within_runs) as groupby().cumcount() + 1 does;
    rows without a subject get none (pandas' answer)."""
    from msc_interop.sdtm.common import assign_seq, numbered_within_runs

    rng = np.random.default_rng(3)
    subjects = np.array(["S-02", "S-01", "S-10", "S-03"], dtype=object)
    df = pd.DataFrame({"USUBJID": subjects[rng.integers(0, 4, 200)], "LBTESTCD": rng.choice(["B", "A"], 200)})
    got = assign_seq(df, "LBSEQ", ["LBTESTCD"])
    expected = df.sort_values(["USUBJID", "LBTESTCD"], kind="stable").reset_index(drop=True)
    assert got["LBSEQ"].tolist() == (expected.groupby("USUBJID").cumcount() + 1).tolist()
    assert got["LBSEQ"].dtype == np.int64 and got["LBSEQ"].max() == expected["USUBJID"].value_counts().max()
    assert numbered_within_runs(np.array([4, 4, 1, 4, 4, 4], dtype=np.int32)).tolist() == [1, 2, 1, 1, 2, 3]
    assert numbered_within_runs(np.zeros(0, dtype=np.int32)).tolist() == []
    df.loc[[3, 7], "USUBJID"] = None
    assert assign_seq(df, "LBSEQ", ["LBTESTCD"])["LBSEQ"].isna().sum() == 2


def test_value_ranks_of_text_as_pandas_sorts_it() -> None:
    """value_ranks ranks text (all str) by Python's sort: the ranks pd.factorize(sort=True) of the distinct values
    gives, NaN last."""
    from msc_interop.distinct import value_ranks

    rng = np.random.default_rng(5)
    pool = np.array(["b", "B", "a", "", " a", "é", "e", "Ä", "2009-03", "2009-03-01", "z\x00", "z", "日"], dtype=object)
    for values in (pool[rng.integers(0, len(pool), 300)], np.append(pool[rng.integers(0, 4, 50)], [None, np.nan])):
        s = pd.Series(values, dtype=object)
        codes, uniques = pd.factorize(s, use_na_sentinel=False)
        ranks, _ = pd.factorize(uniques, sort=True, use_na_sentinel=True)
        want = np.where(ranks < 0, len(uniques), ranks)[codes]
        assert value_ranks(s).tolist() == want.tolist()
        with shared_columns():
            assert value_ranks(s).tolist() == want.tolist() and value_ranks(s).tolist() == want.tolist()
