"""records/value_checks.py and dates.check_collected: the fast date check says what normalize_collected says,
and the plausible range is read from study.yaml with a default."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from msc_interop import dates
from msc_interop.records.value_checks import _check_dates, plausible_bounds

PART = st.sampled_from(["00", "01", "02", "09", "12", "13", "28", "29", "30", "31", "32", "UN", "UNK", "99"])
YEAR = st.sampled_from(["0001", "1899", "1900", "1999", "2000", "2009", "2100", "9999"])
TIME = st.sampled_from(["", "T00:00", "T23:59", "T24:00", " 08:30", "T12:60", "T10:00:59", "T10:00:60"])


@st.composite
def collected(draw) -> str:
    value = draw(YEAR)
    for _ in range(draw(st.integers(0, 2))):
        value += "-" + draw(PART)
    return value + draw(TIME) if draw(st.booleans()) else value


@settings(max_examples=400, deadline=None)
@given(st.lists(collected(), min_size=1, max_size=30))
def test_fast_check_agrees_with_normalize_collected(values):
    s = pd.Series(values, dtype=object)
    bad, out = dates.check_collected(s, "1900-01-01", "2030-12-31")
    dtc, wrong = dates.normalize_collected(s)
    assert bad.tolist() == wrong.tolist()
    assert out.tolist() == (dates.outside(dtc, "1900-01-01", "2030-12-31") & ~wrong).tolist()


def test_outside_compares_at_the_precision_of_the_value():
    dtc = pd.Series(["1899", "1900", "1899-12", "2030-12", "2031", "2030---05", "", "2009-03-15T10:00"])
    assert dates.outside(dtc, "1900-01-01", "2030-12-31").tolist() == [True, False, True, False, True, False,
                                                                       False, False]


def test_plausible_bounds_default_and_study_yaml():
    assert plausible_bounds({}, today=dt.date(2026, 12, 3)) == ("1900-01-01", "2027-12-03")
    assert plausible_bounds({}, today=dt.date(2028, 2, 29)) == ("1900-01-01", "2029-02-28")
    assert plausible_bounds({"plausible_dates": {"latest": "2030-12-31"}}) == ("1900-01-01", "2030-12-31")


SHAPED = st.sampled_from(["2009-03-21T08:38", "2009-03-21", "2008-02-29 23:59:59", "2009-02-29", "2009-04-31",
                          "1899-12-31", "2031-01-01T00:00", "2009-13-01", "2009-00-10", "1900-01-01T24:00",
                          "2000-02-29T12:60", "2009-03-21T08:38:61", "2009-UN-UN", "2009-03", ""])


@st.composite
def edited(draw) -> str:
    text = list(draw(SHAPED))
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(text)))
        char = draw(st.sampled_from([*"0123456789-:T \n", "\u0663", "\uff12"]))
        if draw(st.booleans()) or not text:
            text.insert(at, char)
        else:
            text[min(at, len(text) - 1)] = char
    return "".join(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(edited(), min_size=1, max_size=40, unique=True))
def test_date_check_by_shape_says_what_check_distinct_collected_says(values):
    s = pd.Series(values, dtype=object)
    want = dates.check_distinct_collected(s, "1900-01-01", "2030-12-31")
    bad, out = _check_dates(s, "1900-01-01", "2030-12-31")
    assert bad.tolist() == want["bad"].tolist()
    assert out.tolist() == want["outside"].tolist()
