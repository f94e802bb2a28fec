"""distinct.row_codes' first rows and dates.on_or_before / date_and_instant, the pieces the LB/VS/EG baseline
flags rest on, checked against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from msc_interop import dates
from msc_interop.distinct import row_codes


def test_row_codes_first_rows_in_order_of_appearance_and_sorted() -> None:
    frame = pd.DataFrame({"a": ["z", "y", "z", "x", None, None], "b": [1.0, 1.0, 1.0, 1.0, np.nan, np.nan]})
    codes, first = row_codes(frame)
    assert codes.tolist() == [0, 1, 0, 2, 3, 3]  # (z,1) (y,1) (z,1) (x,1) (NA,NA) twice
    assert first.tolist() == [0, 1, 3, 4]
    codes, first = row_codes(frame, sort=True)
    assert codes[[3, 1, 0]].tolist() == [0, 1, 2]  # x < y < z, whatever code the missing pair gets
    assert first[:3].tolist() == [3, 1, 0] and first[3] == 4
    codes, first = row_codes(frame.iloc[:0])
    assert codes.dtype == first.dtype == np.int64 and len(codes) == len(first) == 0


def test_on_or_before_by_time_when_both_have_one_else_by_day() -> None:
    dtc = pd.Series(["2020-01-05T08:00", "2020-01-05T10:00", "2020-01-05", "2020-01-06", "2020-01", "",
                     "2020-01-05T10:00"], dtype=object)
    dose = pd.Series(["2020-01-05T09:00"] * 6 + ["2020-01-05"], dtype=object)
    assert dates.on_or_before(dtc, dose).tolist() == [True, False, True, False, False, False, True]


def _on_or_before_row_by_row(dtc: pd.Series, reference: pd.Series) -> pd.Series:
    """on_or_before as pandas computes it on whole columns (aligned by index): the reference for the numpy one."""
    (da, ta), (db, tb) = dates.date_and_instant(dtc), dates.date_and_instant(reference)
    both_time = ta.notna() & tb.notna()
    return (da.notna() & db.notna()) & ta.le(tb).where(both_time, da.le(db))


@pytest.mark.parametrize("seed", range(4))
def test_on_or_before_is_the_pandas_comparison(seed: int) -> None:
    rng = np.random.default_rng(seed)
    pool = np.array(["2020-01-05T08:00", "2020-01-05T08:00:30", "2020-01-05", "2020-01-04T23:59", "2020-01",
                     "", None, " 2020-01-05 ", "2020-02-30", "2020-01-06T00:00"], dtype=object)
    n = 500
    dtc = pd.Series(pool[rng.integers(0, len(pool), n)], dtype=object, index=np.arange(7, 7 + n))
    ref = pd.Series(pool[rng.integers(0, len(pool), n)], dtype=object, index=dtc.index)
    got = dates.on_or_before(dtc, ref)
    assert got.dtype == bool and got.index.equals(dtc.index)
    assert got.tolist() == _on_or_before_row_by_row(dtc, ref).tolist()
    other = ref.iloc[::2].set_axis(dtc.index[::2] + 1)  # rows matched by index, some with none: not before
    assert dates.on_or_before(dtc, other).tolist() == _on_or_before_row_by_row(dtc, other).fillna(False).tolist()


def test_date_and_instant_are_date_part_and_instant() -> None:
    values = pd.Series(["2020-01-05T08:00", "2020-01-05T08:00:30", "2020-01-05", "2020-02-30", "2020-01",
                        "", None, " 2020-01-05 "], dtype=object)
    day, instant = dates.date_and_instant(values)
    assert day.tolist() == dates.date_part(values).tolist()
    assert instant.tolist() == dates._instant(values).tolist()
    assert [str(x) for x in day] == ["2020-01-05 00:00:00"] * 3 + ["NaT"] * 4 + ["2020-01-05 00:00:00"]
    assert [str(x) for x in instant] == ["2020-01-05 08:00:00", "2020-01-05 08:00:30"] + ["NaT"] * 6
