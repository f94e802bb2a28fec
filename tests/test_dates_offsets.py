"""dates' date-times with UTC offsets: one column may mix Z, +08:00, -05:00 and no offset (FHIR gives each dateTime
its own offset). A value's instant is its clock time (the offset left aside, as a --DTC without one is the study's
local time); on_or_before compares the UTC instants only where both values state an offset. Expected values worked
out by hand: 08:30+08:00 is 00:30Z, 08:30-05:00 is 13:30Z."""

from __future__ import annotations

import pandas as pd
import pytest

from msc_interop import dates

MIXED = ["2009-10-10T08:30:00Z", "2009-10-10T08:30:00+08:00", "2009-10-10T08:30:00-05:00", "2009-10-10T08:30:00",
         "2009-10-10T08:30+08:00", "2009-10-10T08:30+05:30", "2009-10-10T08:30Z", "2009-10-10T08:30",
         "2009-10-10T08:30:00.25+08:00", "2009-10-10", "", None]
CLOCK = ["2009-10-10 08:30:00"] * 9 + ["NaT"] * 3


def test_a_column_mixing_offsets_gives_each_value_its_clock_time() -> None:
    """pandas refuses to parse Z and +08:00 together (the old code raised 'Mixed timezones detected')."""
    got = dates._instant(pd.Series(MIXED, dtype=object))
    assert got.dt.tz is None
    assert [str(x) for x in got] == CLOCK


def test_a_long_column_mixing_offsets_is_parsed_whole() -> None:
    """Past the size where numpy reads plain values (dates._SMALL distinct values): the offsets send the column to
    pandas, which parses it once."""
    rows = [(day, hour, off) for day in range(1, 29) for hour in (8, 9, 10) for off in ("Z", "+08:00", "-05:00", "")]
    values = [f"2009-10-{day:02d}T{hour:02d}:30:00{off}" for day, hour, off in rows]
    assert len(set(values)) > dates._SMALL
    got = dates._instant(pd.Series(values, dtype=object))
    assert got.tolist() == [pd.Timestamp(f"2009-10-{day:02d}T{hour:02d}:30:00") for day, hour, _ in rows]


def test_date_and_instant_of_mixed_offsets() -> None:
    day, instant = dates.date_and_instant(pd.Series(MIXED, dtype=object))
    assert [str(x) for x in instant] == CLOCK
    assert [str(x) for x in day] == ["2009-10-10 00:00:00"] * 10 + ["NaT"] * 2  # the date as written


def test_offsets_in_minutes() -> None:
    got = dates._offsets(pd.Series(MIXED, dtype=object))
    minutes = [None if pd.isna(x) else int(x / pd.Timedelta(minutes=1)) for x in got]
    assert minutes == [0, 480, -300, None, 480, 330, 0, None, 480, None, None, None]


@pytest.mark.parametrize(("dtc", "dose", "before"), [
    ("2009-10-10T08:30:00+08:00", "2009-10-10T01:00:00Z", True),  # both offsets: 00:30Z before 01:00Z
    ("2009-10-10T08:30:00-05:00", "2009-10-10T12:00:00Z", False),  # 13:30Z after 12:00Z
    ("2009-10-10T08:30+05:30", "2009-10-10T03:10Z", True),  # 03:00Z (a half-hour offset kept whole)
    ("2009-10-10T08:30:00Z", "2009-10-10T09:00:00", True),  # one without: clock times, 08:30 before 09:00
    ("2009-10-10T10:30+08:00", "2009-10-10T09:19", False),  # a sample after a local-time dose stays after it
])
def test_on_or_before_compares_instants_only_where_both_state_an_offset(dtc: str, dose: str, before: bool) -> None:
    column = pd.Series([dtc, "2009-10-09T23:00Z", "2009-10-11T00:00:00+08:00"], dtype=object)
    doses = pd.Series([dose] * 3, dtype=object)
    assert dates.on_or_before(column, doses).tolist() == [before, True, False]


def test_on_or_before_with_offsets_on_long_columns() -> None:
    """Past dates._SMALL distinct values on both sides: the same answers as the pairs one by one."""
    pairs = [(f"2009-10-{d:02d}T{h:02d}:{m:02d}{a}", f"2009-10-{d:02d}T{(h + 1) % 24:02d}:{m + 5:02d}{b}")
             for d in range(1, 29) for h in (0, 8, 23) for m in (0, 30) for a, b in
             (("+08:00", "Z"), ("Z", "+08:00"), ("", "Z"), ("-05:00", ""))]
    dtc = pd.Series([p[0] for p in pairs], dtype=object)
    ref = pd.Series([p[1] for p in pairs], dtype=object)
    assert dtc.nunique() > dates._SMALL and ref.nunique() > dates._SMALL
    got = dates.on_or_before(dtc, ref).tolist()
    want = [dates.on_or_before(pd.Series([a], dtype=object), pd.Series([b], dtype=object)).iloc[0] for a, b in pairs]
    assert got == want
    # by hand: 00:00+08:00 is 16:00Z the day before, so before 01:00Z; 00:00Z is 08:00+08:00: after 01:00+08:00
    assert dates.on_or_before(pd.Series(["2009-10-01T00:00+08:00"]), pd.Series(["2009-10-01T01:00Z"])).iloc[0]
    assert not dates.on_or_before(pd.Series(["2009-10-01T00:00Z"]), pd.Series(["2009-10-01T01:00+08:00"])).iloc[0]
