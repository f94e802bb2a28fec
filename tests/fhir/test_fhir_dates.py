"""SDTM --DTC <-> FHIR date/dateTime (fhir.datetimes.dtc_to_fhir / fhir_to_dtc): precision, time zones, originals."""

from __future__ import annotations

import pandas as pd
import pytest

from msc_interop.fhir.datetimes import dtc_to_fhir, fhir_to_dtc, fhir_value_to_dtc

SHANGHAI = "Asia/Shanghai"


@pytest.mark.parametrize(("dtc", "fhir", "keep"), [
    ("2009-10-04T09:19", "2009-10-04T09:19:00+08:00", False),   # no seconds, no offset: study zone added
    ("2009-10-04T09:19:05", "2009-10-04T09:19:05+08:00", False),
    ("2009-10-04T09:19:05.25", "2009-10-04T09:19:05.25+08:00", False),
    ("2009-10-04T09:19:00", "2009-10-04T09:19:00+08:00", True),  # explicit :00 cannot be told from added :00
    ("2009-10-04", "2009-10-04", False),
    ("2009-10", "2009-10", False),
    ("2009", "2009", False),
    ("2003---15", "2003", True),          # missing middle part: year kept, original in the extension
    ("2003-12-15T13", "2003-12-15", True),  # hour without minutes
    ("2009-10-04/2009-10-05", "2009-10-04", True),  # interval
    ("2009-02-30", "2009-02", True),      # not a calendar date
    ("0000", None, True),                 # FHIR has no year 0000
    ("", None, False),
])
def test_dtc_to_fhir_cases(dtc: str, fhir: str | None, keep: bool) -> None:
    value, ext = dtc_to_fhir(pd.Series([dtc], dtype=object), SHANGHAI)
    assert value.iloc[0] == fhir
    assert bool(ext.iloc[0]) is keep
    back = fhir_to_dtc(value, SHANGHAI, pd.Series([dtc if keep else None], dtype=object))
    assert back.iloc[0] == dtc


def test_daylight_saving_time_offsets() -> None:
    # Shanghai kept DST 1986-1991: 1990-07-01 is +09:00; New York is -04:00 in July and -05:00 in January
    v, _ = dtc_to_fhir(pd.Series(["1990-07-01T12:00", "1990-12-01T12:00"]), SHANGHAI)
    assert v.tolist() == ["1990-07-01T12:00:00+09:00", "1990-12-01T12:00:00+08:00"]
    v, _ = dtc_to_fhir(pd.Series(["2015-07-01T09:00", "2015-01-01T09:00"]), "America/New_York")
    assert v.tolist() == ["2015-07-01T09:00:00-04:00", "2015-01-01T09:00:00-05:00"]


def test_skipped_clock_time_round_trips() -> None:
    # 1988-04-10 02:30 did not exist in Shanghai (DST started at 02:00); writing and reading keep the clock
    v, ext = dtc_to_fhir(pd.Series(["1988-04-10T02:30"]), SHANGHAI)
    assert not ext.iloc[0]
    assert fhir_to_dtc(v, SHANGHAI).iloc[0] == "1988-04-10T02:30"


def test_foreign_offsets_convert_to_the_study_zone_or_keep_the_clock() -> None:
    values = pd.Series(["2013-04-02T09:30:10+01:00", "2017-01-29T12:34:56Z", "2013-04-02T09:30:00+01:00"])
    assert fhir_to_dtc(values, SHANGHAI).tolist() == ["2013-04-02T16:30:10", "2017-01-29T20:34:56",
                                                      "2013-04-02T16:30"]
    assert fhir_to_dtc(values, None).tolist() == ["2013-04-02T09:30:10", "2017-01-29T12:34:56", "2013-04-02T09:30"]
    assert fhir_value_to_dtc("2013-04-02T09:30:10+01:00", None) == "2013-04-02T09:30:10"


def test_date_only_target_keeps_time_in_the_original() -> None:
    v, ext = dtc_to_fhir(pd.Series(["1961-11-24T06:30", "1961-11-24"]), SHANGHAI, date_only=True)
    assert v.tolist() == ["1961-11-24", "1961-11-24"]
    assert ext.tolist() == [True, False]


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        dtc_to_fhir(pd.Series(["2009-10-04T09:19"]), "Mars/Olympus")


def test_clock_times_on_days_the_offset_changes() -> None:
    # New York 2015: DST from 03-08 02:00 (02:30 does not exist: fold=0 gives the offset before), to 11-01 02:00
    # (01:30 happens twice: fold=0 is the first, still DST); the days before and after have one offset all day
    v, ext = dtc_to_fhir(pd.Series(["2015-03-08T01:59", "2015-03-08T02:30", "2015-03-08T03:00", "2015-03-07T23:59",
                                    "2015-03-09T00:00", "2015-11-01T01:30", "2015-11-01T02:30"]), "America/New_York")
    assert v.tolist() == ["2015-03-08T01:59:00-05:00", "2015-03-08T02:30:00-05:00", "2015-03-08T03:00:00-04:00",
                          "2015-03-07T23:59:00-05:00", "2015-03-09T00:00:00-04:00", "2015-11-01T01:30:00-04:00",
                          "2015-11-01T02:30:00-05:00"]
    assert not ext.any()


@pytest.mark.parametrize("tz", ["America/New_York", "Australia/Lord_Howe", SHANGHAI, "UTC"])
def test_column_wise_clock_times_equal_the_one_value_path(tz: str) -> None:
    """The column-wise path for `YYYY-MM-DDThh:mm` (an offset per day) gives what the one-value path gives for
    every clock time, DST days included (Lord Howe moves by 30 minutes), and leaves impossible ones to it."""
    from msc_interop.fhir.datetimes import _one_dtc_to_fhir

    days = pd.date_range("2015-01-01", "2016-12-31").strftime("%Y-%m-%d")
    texts = [f"{d}T{m // 60:02d}:{m % 60:02d}" for d in days for m in range(0, 1440, 37)]
    texts += ["2015-02-29T10:00", "2015-13-01T10:00", "2015-01-01T24:00", "2015-01-01T23:60", "2015-01-01T10:00\n",
              "2015-01-01T10:00:00", "2015-01-01T10:00:30", "0000-01-01T10:00", ""]
    value, ext = dtc_to_fhir(pd.Series(texts, dtype=object), tz)
    expected = [_one_dtc_to_fhir(t, tz, False) for t in texts]
    assert value.tolist() == [e[0] for e in expected]
    assert ext.tolist() == [e[1] for e in expected]


@pytest.mark.parametrize("tz", ["America/New_York", "Australia/Lord_Howe", SHANGHAI])
def test_reading_the_study_zones_offset_equals_the_full_path(tz: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reader's shortcut for a dateTime with the study zone's offset of its whole day gives what the full
    path gives (value, or the same error) for written values, DST days, foreign offsets and impossible ones."""
    import re

    from msc_interop.fhir import datetimes

    days = pd.date_range("2015-01-01", "2016-12-31").strftime("%Y-%m-%d")
    written = dtc_to_fhir(pd.Series([f"{d}T{m // 60:02d}:{m % 60:02d}" for d in days for m in range(0, 1440, 41)],
                                    dtype=object), tz)[0].tolist()
    texts = written + [w[:17] + "30" + w[19:] for w in written[::50]] + [w[:19] + "+05:00" for w in written[::50]]
    texts += ["2015-02-29T10:00:00+08:00", "2015-01-01T23:59:60+08:00", "2015-01-01T10:00:00+15:00",
              "2015-01-01T10:00:00Z", "2015-01-01"]

    def outcome(text: str) -> str:
        try:
            return datetimes._one_fhir_to_dtc(text, tz)
        except datetimes.FhirDateError as exc:
            return f"error: {exc}"

    fast = [outcome(t) for t in texts]
    monkeypatch.setattr(datetimes, "_WRITTEN", re.compile(r"(?!)"))  # the shortcut never applies
    assert fast == [outcome(t) for t in texts]
