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


def _hints_by_pattern(values: list[str]) -> list[str]:
    """dtc_hints' definition: the plain form by its pattern, complete dates by pandas' calendar, else the hint."""
    text = pd.Series(values, dtype=object)
    plain = text.str.fullmatch(iso8601.PLAIN_DTC).astype(bool) | text.eq("")
    full = plain & text.str.len().ge(10)
    plain[full] = pd.to_datetime(text[full].str.slice(0, 10), format="%Y-%m-%d", errors="coerce").notna().to_numpy()
    return [("" if ok else dates.dtc_problem(v)) for v, ok in zip(values, plain, strict=True)]


def test_dtc_hints_column_wise_as_the_pattern_gives() -> None:
    rng = random.Random(5)
    odd = ["", "2020-02-30", "2020-13-01", "2021-02-29T10:00", "2020-01-01T24:00", "2020-01-01T23:60",
           "2020-01-01T10:00:60", "2020-01-01T10:00:00.5", "2020-01-01T10:00:00.", "２０２０-01-01", "2020---01",
           "2020-01-01 10:00", "20200101", "2020-1-01", " 2020", "2020-01-01T10", "0000-02-29", "1900-02-29"]

    def one() -> str:
        if rng.random() < 0.3:
            return rng.choice(odd)
        full = f"{rng.randint(1890, 2030)}-{rng.randint(0, 13):02d}-{rng.randint(0, 32):02d}T{rng.randint(0, 25):02d}" \
               f":{rng.randint(0, 61):02d}:{rng.randint(0, 61):02d}"
        return full[:rng.choice([4, 7, 10, 13, 16, 19])]

    values = list(dict.fromkeys(one() for _ in range(6000)))  # distinct, as the rules give them
    assert len(values) > 256  # the column-wise path (smaller sets loop in Python)
    got = dates.dtc_hints(pd.Series(values, dtype=object)).tolist()
    assert got == _hints_by_pattern(values)
    assert got.count("") > 100 and len(values) - got.count("") > 100


def _instants_by_definition(values: list[str]) -> pd.Series:
    text = pd.Series(values, dtype=object)
    ok = text.str.match(iso8601.COMPLETE_DATETIME).astype(bool)
    return pd.to_datetime(text.str.slice(0, 19).where(ok), format="ISO8601", errors="coerce")


def _random_instant(rng: random.Random) -> str:
    return (f"{rng.randint(1900, 2030):04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            f"T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}" + rng.choice(["", f":{rng.randint(0, 59):02d}"]))


@pytest.mark.parametrize("odd", [None, "2020-03-15T08:30:00.5", "2020-03-15T08:30 ", "2020-03-15T24:00",
                                 "2020-02-30T08:30", "２０２０-03-15T08:30", "2020-03-15T08:30\n",
                                 "2020-03-15T08:30:6"])
def test_instants_column_wise_as_the_pattern_and_pandas_give(odd: str | None) -> None:
    """dates._instant_text (a --DTC's instant, to the minute or second): where every value is plain (exactly
    dddd-dd-ddTdd:dd[:dd], a real date and time, or not that shape at all) numpy reads them; one value of
    another kind (`odd`) sends the column to the pattern and pandas. Either way: the definition's values and
    dtype."""
    rng = random.Random(3)
    values = [_random_instant(rng) for _ in range(600)]
    values += ["", "2020-03-15", "2020-03", "not done", "2020-03-15T08", "2020-03-15 08:30", "20200315T0830",
               "2020-03-15T08:3x", "2020-03-15T8:30"] * 5
    if odd is not None:
        values.append(odd)
    text = pd.Series(values, dtype=object)
    assert (dates._plain_instants(text.to_numpy()) is None) == (odd is not None)
    got, want = dates._instant_text(text), _instants_by_definition(values)
    assert got.dtype == want.dtype
    assert got.isna().tolist() == want.isna().tolist()
    assert (got[got.notna()] == want[want.notna()]).all()
    assert got.notna().sum() >= 600


def test_instants_with_an_offset_are_left_to_pandas() -> None:
    values = [f"2020-03-{d:02d}T08:30" for d in range(1, 29)] * 10 + ["2020-03-15T08:30+01:00"]
    assert dates._plain_instants(pd.Series(values, dtype=object).to_numpy()) is None


def test_instants_none_parsed_keep_pandas_unit() -> None:
    values = ["2020-03-15", "2020-03", ""] * 100
    got = dates._instant_text(pd.Series(values, dtype=object))
    assert got.isna().all() and got.dtype == _instants_by_definition(values).dtype


@pytest.mark.parametrize("size", [3, 300])
def test_dtc_hints_takes_a_missing_value_as_no_date(size: int) -> None:
    """A NaN / None / pd.NA among the values is no date and no problem ("" as the readers give), on both paths:
    the column-wise one (>= 256 values) raised TypeError on a float NaN; the loop hinted the text "nan"."""
    values = [f"2020-01-{i % 28 + 1:02d}T10:{i % 60:02d}" for i in range(size)] + ["2020-13-01"]
    got = dates.dtc_hints(pd.Series([*values, float("nan"), None, pd.NA], dtype=object)).tolist()
    assert got[-3:] == ["", "", ""]
    assert got[:-3] == dates.dtc_hints(pd.Series(values, dtype=object)).tolist()
    assert got[-4] != "" and got[-5] == ""  # 2020-13-01 has a problem; a plain datetime none
