"""dates.study_day on a long column works on each column's distinct dates: the same study days as the
row-by-row computation (dates._study_day), on dates complete, partial, empty, missing, with times, before and
after the reference; and a study day by hand (SDTMIG 4.4.4: no day 0)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_interop import dates
from msc_interop.distinct import shared_columns


def test_pairs_give_the_row_by_row_days() -> None:
    rng = np.random.default_rng(5)
    pool = np.array(["2020-01-01", "2020-01-05T08:00", "2019-12-31", "2020-02", "", None, "2020-03-01T23:59:59",
                     "2020-02-29", "2021", " 2020-01-02"], dtype=object)
    refs = np.array(["2020-01-01", "2020-01-05", None, "2020-01", "2020-01-01T10:00"], dtype=object)
    n = dates._PAIRS_FROM + 500
    dtc = pd.Series(pool[rng.integers(0, len(pool), n)], dtype=object, index=np.arange(10, 10 + n))
    ref = pd.Series(refs[rng.integers(0, len(refs), n)], dtype=object, index=dtc.index)
    expected = dates._study_day(dtc, ref)
    for scope in (False, True):  # codes found here, or known to the scope already
        if scope:
            with shared_columns():
                got = dates.study_day(dtc, ref)
        else:
            got = dates.study_day(dtc, ref)
        pd.testing.assert_series_equal(got, expected, check_names=False)
        assert got.dtype == "Int64" and got.index.equals(dtc.index)


def test_a_study_day_by_hand() -> None:
    n = dates._PAIRS_FROM
    dtc = pd.Series(["2020-01-01", "2020-01-02T07:00", "2019-12-31", "2020-01"] * (n // 4), dtype=object)
    ref = pd.Series(["2020-01-01"] * n, dtype=object)
    assert dates.study_day(dtc, ref).iloc[:4].tolist() == [1, 2, -1, pd.NA]
