"""Doses in an EX record. SDTMIG EX holds one record per constant dosing interval: EXDOSE is the amount of one
dose, EXDOSFRQ how often it was given, EXSTDTC..EXENDTC the interval. The number of doses of a record:

- EXDOSFRQ ONCE, or no EXDOSFRQ and no end on a later day than the start: 1 (a single administration);
- EXDOSFRQ a CDISC CT FREQ term (C71113) with a fixed number of doses per day (QD, BID, TID, QID, Q8H, ...) and
  complete EXSTDTC and EXENDTC dates, the end not before the start: doses per day x days (both days counted);
- anything else (a frequency without a fixed daily count such as QOD, PRN or EVERY WEEK, no EXDOSFRQ on an
  interval, a partial or missing date): not derivable (NaN), with the reason.
"""

from __future__ import annotations

import pandas as pd

from msc_interop import iso8601

ONCE = "ONCE"  # C64576
PER_DAY: dict[str, int] = {  # CDISC CT FREQ (C71113) terms with a fixed number of doses per calendar day
    "QD": 1, "QAM": 1, "QPM": 1, "QHS": 1, "QN": 1, "EVERY AFTERNOON": 1, "EVERY EVENING": 1, "Q24H": 1,
    "BID": 2, "Q12H": 2, "TID": 3, "Q8H": 3, "QID": 4, "Q6H": 4, "5 TIMES PER DAY": 5, "6 TIMES PER DAY": 6,
    "Q4H": 6, "7 TIMES PER DAY": 7, "8 TIMES PER DAY": 8, "Q3H": 8, "9 TIMES PER DAY": 9, "Q2H": 12, "QH": 24,
}
UNKNOWN_FREQUENCY = "frequency without a fixed number of doses per day"
NO_FREQUENCY = "no EXDOSFRQ on a record spanning days"
PARTIAL_DATES = "partial or missing EXSTDTC/EXENDTC"
END_BEFORE_START = "EXENDTC before EXSTDTC"


def _date(dtc: pd.Series) -> pd.Series:
    text = dtc.fillna("").astype(str)
    complete = text.str.match(iso8601.DATE_PREFIX).astype(bool)
    return pd.to_datetime(text.str.slice(0, 10).where(complete), format="%Y-%m-%d", errors="coerce")


def _within_a_day(start: pd.Series, end: pd.Series) -> pd.Series:
    """Both date-times to the minute and the end less than 24 hours after the start: one administration that ran
    past midnight (an infusion from 23:00 to 01:00), not an interval of days."""
    def clock(text: pd.Series) -> pd.Series:
        timed = text.str.match(iso8601.COMPLETE_DATETIME).astype(bool)
        return pd.to_datetime(text.str.slice(0, 16).where(timed), format="%Y-%m-%dT%H:%M", errors="coerce")

    gap = clock(end) - clock(start)
    return (gap >= pd.Timedelta(0)) & (gap < pd.Timedelta(days=1))


def doses(freq: pd.Series, start: pd.Series, end: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(doses per record, NaN when not derivable; why not, "" when derivable; is a dosing interval: a per-day
    frequency)."""
    f = freq.fillna("").astype(str).str.strip().str.upper()
    st, en = start.fillna("").astype(str), end.fillna("").astype(str)
    d0, d1 = _date(st), _date(en)
    per_day = f.map(PER_DAY)
    days = (d1 - d0).dt.days + 1
    n = pd.Series(float("nan"), index=f.index, dtype="float64")
    why = pd.Series("", index=f.index, dtype=object)
    single = f.eq(ONCE) | (f.eq("") & (en.eq("") | en.str.slice(0, 10).eq(st.str.slice(0, 10))
                                         | _within_a_day(st, en)))
    n[single] = 1.0
    interval = per_day.notna()
    ok = interval & days.ge(1)
    n[ok] = (per_day[ok] * days[ok]).astype("float64")
    why[interval & (d0.isna() | d1.isna())] = PARTIAL_DATES
    why[interval & days.lt(1)] = END_BEFORE_START
    why[~single & ~interval & f.ne("")] = UNKNOWN_FREQUENCY
    why[~single & f.eq("")] = NO_FREQUENCY
    return n, why, interval
