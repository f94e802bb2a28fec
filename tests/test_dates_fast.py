"""dates.date_part's column-wise path for the common shape (ASCII "dddd-dd-dd", perhaps with a time) gives what
the definition gives: the ISO 8601 complete-date pattern (iso8601.COMPLETE_DATE), then pandas' own calendar check
of the first ten characters (pd.to_datetime, format %Y-%m-%d), value for value and in the same dtype."""

from __future__ import annotations

import itertools
import random

import pandas as pd
import pytest

from msc_interop import dates, iso8601


def _by_definition(values: list[object]) -> pd.Series:
    text = pd.Series(values, dtype=object).where(pd.Series(values, dtype=object).notna(), "").map(str).str.strip()
    ok = text.str.match(iso8601.COMPLETE_DATE).astype(bool)
    return pd.to_datetime(text.str.slice(0, 10).where(ok), format="%Y-%m-%d", errors="coerce")


def _grid() -> list[str]:
    """Every month 00-13 and day 00-32 of years that test the calendar (leap rules, year 0, the ends)."""
    years = ["0000", "0001", "1582", "1600", "1700", "1900", "1970", "2000", "2020", "2023", "2100", "9999"]
    return [f"{y}-{m:02d}-{d:02d}" for y, m, d in itertools.product(years, range(14), range(33))]


def test_calendar_grid_as_pandas_checks_it() -> None:
    values = _grid()
    got = dates.date_part(pd.Series(values, dtype=object))
    want = _by_definition(values)
    assert got.dtype == want.dtype
    assert got.isna().tolist() == want.isna().tolist()
    assert (got[got.notna()] == want[want.notna()]).all()
    assert pd.Series(values)[got.notna()].str.startswith("2020-02-29").any()  # a leap day is a date
    assert not got[pd.Series(values).eq("2023-02-29")].notna().any()  # and 2023 has none


@pytest.mark.parametrize("seed", [1, 2])
def test_random_shapes_as_the_pattern_and_pandas_give(seed: int) -> None:
    rng = random.Random(seed)
    pieces = ["2020-03-15", "2020-02-30", "1999-12-31", "2020-3-15", "2020-03-1", "２０２０-03-15", "2020-03-15T08:30",
              "2020-03-15T", "2020-03-15 08:30", "2020-03-15Z", "2020-03-15\x00", " 2020-03-15 ", "2020-03",
              "2020", "", "UN-UNK-2020", "2020/03/15", "20200315", "2020-03-15T08:30:00+01:00", "0000-02-29",
              "2021-02-29", "2020-13-01", "2020-00-10", "abcd-ef-gh", "2020-03-15é", "é2020-03-15"]
    def one() -> str:
        if rng.random() < 0.5:  # many distinct values: the column-wise path runs (it does from 256)
            return f"{rng.randint(0, 2100):04d}-{rng.randint(0, 13):02d}-{rng.randint(0, 32):02d}"
        return rng.choice(pieces)

    values: list[object] = [one() + rng.choice(["", "", "T10:00", "x", "\x00"]) for _ in range(3000)]
    values += [None, float("nan"), 20200315]
    got = dates.date_part(pd.Series(values, dtype=object))
    want = _by_definition(values)
    assert got.dtype == want.dtype
    assert got.isna().tolist() == want.isna().tolist()
    assert (got[got.notna()] == want[want.notna()]).all()
    assert 0 < got.notna().sum() < len(values)
    assert pd.Series(values, dtype=object).nunique() > 256


def test_nothing_parsed_keeps_pandas_unit() -> None:
    values = [f"2020-{m:02d}" for m in range(1, 13)] * 30  # partial dates only, past the small-input loop
    got = dates.date_part(pd.Series(values, dtype=object))
    assert got.isna().all()
    assert got.dtype == _by_definition(values).dtype
