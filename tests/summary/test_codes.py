"""summary/codes.py: text columns held as one string per distinct value, the values and their order unchanged."""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_interop.summary.codes import Codes, shared_text


def _cells(n: int, start: int = 0) -> np.ndarray:
    """Text as a file reader gives it: an object column, equal values as distinct string objects."""
    return np.array(["".join(["S", str((start + i) % 7)]) for i in range(n)], dtype=object)


def test_equal_text_becomes_one_string_and_nothing_else_changes():
    df = pd.DataFrame({"USUBJID": _cells(50), "VISITNUM": np.arange(50.0),
                       "LBNRIND": np.array(["", np.nan] * 25, dtype=object), "TEST": pd.array(_cells(50), dtype="str"),
                       "N": pd.array(range(50), dtype="Int64")}, index=range(100, 150))
    assert len({id(x) for x in df["USUBJID"]}) == 50
    out = shared_text(df)
    pd.testing.assert_frame_equal(out, df)
    assert len({id(x) for x in out["USUBJID"]}) == 7  # one object per distinct value
    assert out["TEST"].dtype == "str" and len({id(x) for x in out["TEST"].array._ndarray}) == 7  # pandas' str too
    assert out["LBNRIND"].iloc[1] is df["LBNRIND"].iloc[1] or pd.isna(out["LBNRIND"].iloc[1])  # NaN column: as is
    assert out["VISITNUM"].dtype == "float64" and out["N"].dtype == "Int64"


def test_ranges_of_one_dataset_share_their_strings():
    codes: dict[str, Codes] = {}
    a = shared_text(pd.DataFrame({"T": _cells(10)}), codes)
    b = shared_text(pd.DataFrame({"T": _cells(10, 3)}, index=range(10, 20)), codes)
    assert list(b.index) == list(range(10, 20)) and list(b["T"]) == list(_cells(10, 3))
    first = {x: id(x) for x in a["T"]}
    assert all(id(x) == first[x] for x in b["T"])  # the second range reuses the first range's strings
    (held,) = codes.values()  # one Codes for the one text column
    assert list(held.values_of(np.array([2, 0]))) == [a["T"].iloc[2], a["T"].iloc[0]]


def test_a_table_that_repeats_a_column_name_keeps_both_columns():
    df = pd.DataFrame([[a, b] for a, b in zip(_cells(20), _cells(20, 1), strict=True)], columns=["X", "X"])
    df = df.astype(object)
    out = shared_text(df)
    assert list(out.columns) == ["X", "X"] and out.values.tolist() == df.values.tolist()
