"""dates' instants of date-times with UTC offsets: one column may mix Z, +08:00, -05:00 and no offset (FHIR gives
each dateTime its own offset); each value with an offset is the UTC instant it names, one without keeps its clock
time. The expected instants are worked out by hand: 08:30+08:00 is 00:30Z, 08:30-05:00 is 13:30Z."""

from __future__ import annotations

import pandas as pd
import pytest

from msc_interop import dates

MIXED = ["2009-10-10T08:30:00Z", "2009-10-10T08:30:00+08:00", "2009-10-10T08:30:00-05:00", "2009-10-10T08:30:00",
         "2009-10-10T08:30+08:00", "2009-10-10T08:30+05:30", "2009-10-10T08:30Z", "2009-10-10T08:30",
         "2009-10-10T08:30:00.25+08:00", "2009-10-10", "", None]
WANT = ["2009-10-10 08:30:00", "2009-10-10 00:30:00", "2009-10-10 13:30:00", "2009-10-10 08:30:00",
        "2009-10-10 00:30:00", "2009-10-10 03:00:00", "2009-10-10 08:30:00", "2009-10-10 08:30:00",
        "2009-10-10 00:30:00", "NaT", "NaT", "NaT"]


def test_a_column_mixing_offsets_gives_each_value_its_instant() -> None:
    got = dates._instant(pd.Series(MIXED, dtype=object))
    assert got.dt.tz is None
    assert [str(x) for x in got] == WANT


def test_a_long_column_mixing_offsets_is_parsed_whole() -> None:
    """Past the size where numpy reads plain values (dates._SMALL distinct values): the offsets send the column to
    pandas, which parses it once."""
    shift = {"Z": 0, "+08:00": -8, "-05:00": 5, "": 0}  # hours to add to the clock time for UTC
    rows = [(day, hour, off) for day in range(1, 29) for hour in (8, 9, 10) for off in shift]
    values = [f"2009-10-{day:02d}T{hour:02d}:30:00{off}" for day, hour, off in rows]
    assert len(set(values)) > dates._SMALL
    got = dates._instant(pd.Series(values, dtype=object))
    want = [pd.Timestamp(f"2009-10-{day:02d}T{hour:02d}:30:00") + pd.Timedelta(hours=shift[off])
            for day, hour, off in rows]
    assert got.tolist() == want


def test_date_and_instant_of_mixed_offsets() -> None:
    day, instant = dates.date_and_instant(pd.Series(MIXED, dtype=object))
    assert [str(x) for x in instant] == WANT
    assert [str(x) for x in day] == ["2009-10-10 00:00:00"] * 10 + ["NaT"] * 2  # the date as written


@pytest.mark.parametrize(("dtc", "dose", "before"), [
    ("2009-10-10T08:30:00+08:00", "2009-10-10T01:00:00Z", True),  # 00:30Z, before 01:00Z (not by clock time)
    ("2009-10-10T08:30:00-05:00", "2009-10-10T12:00:00Z", False),  # 13:30Z, after 12:00Z
    ("2009-10-10T08:30:00Z", "2009-10-10T09:00:00", True),  # no offset: its clock time
])
def test_on_or_before_compares_the_instants(dtc: str, dose: str, before: bool) -> None:
    column = pd.Series([dtc, "2009-10-09T23:00Z", "2009-10-11T00:00:00+08:00"], dtype=object)
    doses = pd.Series([dose] * 3, dtype=object)
    assert dates.on_or_before(column, doses).tolist() == [before, True, False]
