"""dates.normalize_collected: the numpy path for complete dates (with a time: vital signs carry one per
measurement) answers as the parts path does, on calendar edges, years pandas cannot hold and every other form."""

from __future__ import annotations

import pandas as pd

from msc_interop import dates

EDGES = ["2015-02-29", "2016-02-29", "2000-02-29T00:00", "1900-02-29", "2015-04-31", "2015-12-31T23:59",
         "2015-12-31 23:59:59", "2015-01-01T24:00", "2015-01-01T10:60", "2015-01-01T10:00:60", "2015-01-01T10",
         "0000-01-01", "1600-02-29", "1700-02-29", "2200-12-31T10:00", "2262-04-11", "2263-01-01", "9999-12-31",
         "2015-06-UN", "2015-UN-12", "2015", "2015-06", "", " 2015-01-01 ", "2015-1-1", "abc", "2015-13-01",
         "2015-00-10"]


def test_hand_checked_values() -> None:
    dtc, bad = dates.normalize_collected(pd.Series(["2009-03-02 09:30", "2016-02-29T23:59:59", "2015-02-29",
                                                    "2015-04-31T10:00", "2015-06-UN", ""], dtype=object))
    assert dtc.tolist() == ["2009-03-02T09:30", "2016-02-29T23:59:59", "", "", "2015-06", ""]
    assert bad.tolist() == [False, False, True, True, False, False]


def test_numpy_path_equals_the_parts_path() -> None:
    days = pd.date_range("1999-12-25", "2001-03-05").strftime("%Y-%m-%d")
    values = EDGES + [f"{d}{sep}{h:02d}:{m:02d}" for d in days for sep in "T " for h in (0, 9, 23) for m in (0, 59)]
    s = pd.Series(values + list(days), dtype=object)
    fast = dates._normalize_distinct(s)
    parts = dates._normalize_parts(dates._text(s))
    assert fast["dtc"].tolist() == parts["dtc"].tolist()
    assert fast["bad"].tolist() == parts["bad"].tolist()
