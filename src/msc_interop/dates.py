"""ISO 8601 dates as SDTM uses them, column-wise: parsing collected dates, --DTC checks, study days.

SDTMIG 3.4 section 4.4: --DTC is ISO 8601 extended format, precision shown by right truncation
(`2003-12-15T13:14`, `2003-12`, `2003`), a hyphen for a missing middle part (`2003---15`). Study day
(--DY, section 4.4.4): the day of RFSTDTC is day 1, there is no day 0, and --DY is never derived from a
partial date. Every function takes and returns pandas Series so the LB path stays vectorised.
The patterns are in iso8601.py; the conversion to and from FHIR dates is fhir/datetimes.py.
"""

from __future__ import annotations

import calendar
import re

import numpy as np
import pandas as pd

from msc_interop import iso8601
from msc_interop.date_order import _truncated_forms_of
from msc_interop.date_order import certainly_before as certainly_before  # (re-exported: the order of partial
from msc_interop.date_order import certainly_before_codes as certainly_before_codes  # dates, split from here)
from msc_interop.date_order import truncated_shape_lengths as truncated_shape_lengths
from msc_interop.distinct import column_answer, column_codes, per_distinct, stripped_text

_SMALL = 256  # below this many distinct values, a Python loop beats the fixed cost of pandas string methods


def _text(s: pd.Series) -> pd.Series:
    return per_distinct(stripped_text, s)




def normalize_collected(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    both = per_distinct(_normalize_distinct, values)
    return both["dtc"], both["bad"]


def _normalize_distinct(values: pd.Series) -> pd.DataFrame:
    """Turn collected date text into SDTM --DTC strings.

    Returns (dtc, bad): `dtc` is "" for empty input; `bad` is True where the text is not a valid date
    (wrong form, month 13, 31 February, hour 25...). "2015-06-UN" becomes "2015-06"; "2015-UN-12" becomes
    "2015---12"; "2009-03-02 09:30" becomes "2009-03-02T09:30". The common form (a complete date, perhaps
    with a time: vital signs carry one per measurement, so hundreds of thousands of distinct values) is done
    with numpy; the rest by its parts (`_normalize_parts`).
    """
    text = stripped_text(values)  # (the values are distinct: per_distinct would factorize them again)
    fast, spaced = (_plain_collected(text.to_numpy(dtype=object)) if len(text) >= _SMALL
                    else (np.zeros(len(text), dtype=bool),) * 2)
    if fast.any():  # the common forms in numpy; the others below, as they were
        dtc = np.full(len(text), "", dtype=object)
        bad = np.zeros(len(text), dtype=bool)
        t = text.to_numpy(dtype=object)[fast]
        real = real_days(t.astype("U10"))
        spaced = np.flatnonzero(spaced[fast])
        t[spaced] = [v[:10] + "T" + v[11:] for v in t[spaced].tolist()]  # "2009-03-02 09:30": T for the space
        dtc[fast] = np.where(real, t, "")
        bad[fast] = ~real
        if not fast.all():
            rest = _normalize_text(text[~fast])
            dtc[~fast], bad[~fast] = rest["dtc"].to_numpy(dtype=object), rest["bad"].to_numpy(dtype=bool)
        return pd.DataFrame({"dtc": pd.Series(dtc, dtype=object), "bad": bad})
    return _normalize_text(text)


def _normalize_text(text: pd.Series) -> pd.DataFrame:
    """_normalize_distinct of stripped text, by the pattern (complete dates) and by the regex's parts."""
    plain = text.str.match(iso8601.COLLECTED_COMPLETE).astype(bool).to_numpy()
    # years pandas' calendar check (_normalize_parts) holds; others (0000, 1500) keep its answer
    years = text.str.slice(0, 4).to_numpy(dtype="U4")
    plain = plain & (years >= "1700") & (years <= "2200")
    if not plain.any():
        return _normalize_parts(text)
    dtc = np.full(len(text), "", dtype=object)
    bad = np.zeros(len(text), dtype=bool)
    t = text[plain]
    day = t.str.slice(0, 10)
    real = real_days(day.to_numpy(dtype="U10"))
    timed = t.str.len().to_numpy() > 10
    whole = np.where(timed, (day + "T" + t.str.slice(11)).to_numpy(dtype=object), day.to_numpy(dtype=object))
    dtc[plain] = np.where(real, whole, "")
    bad[plain] = ~real
    if not plain.all():
        rest = _normalize_parts(text[~plain])
        dtc[~plain] = rest["dtc"].to_numpy(dtype=object)
        bad[~plain] = rest["bad"].to_numpy(dtype=bool)
    return pd.DataFrame({"dtc": pd.Series(dtc, dtype=object), "bad": bad})


_COLLECTED_SHAPE = "dddd-dd-ddTdd:dd:dd"  # T or a space at 10
_COLLECTED_LIMITS = {5: (1, 12), 8: (1, 31), 11: (0, 23), 14: (0, 59), 17: (0, 59)}  # two-digit parts by position


def collected_complete_shapes(arr: np.ndarray | list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per text value (an object array or a list of str): whether it is one of iso8601.COLLECTED_COMPLETE's ASCII forms,
    dddd-dd-dd[Thh:mm[:ss]] (T or a space), month, day, hour, minute and second within bounds, proven column-wise
    (the records' date check and _normalize_distinct both ask it of tens of thousands of distinct dates); and
    whether a space joins date and time. One not proven may match still (a non-ASCII digit, a newline at the end):
    the pattern decides those."""
    items = arr.tolist() if isinstance(arr, np.ndarray) else arr
    lengths = np.fromiter(map(len, items), dtype=np.int64, count=len(items))
    head = np.asarray(items, dtype="U19").view(np.uint32).reshape(len(items), 19).astype(np.int64)
    ok = (lengths == 10) | (lengths == 16) | (lengths == 19)  # (ASCII follows: each place holds its character)
    for i, want in enumerate(_COLLECTED_SHAPE):
        wanted = lengths > i
        if want == "d":
            good = (head[:, i] >= 48) & (head[:, i] <= 57)
        elif i == 10:
            good = (head[:, i] == ord("T")) | (head[:, i] == ord(" "))
        else:
            good = head[:, i] == ord(want)
        ok &= ~wanted | good
    for at, (low, high) in _COLLECTED_LIMITS.items():
        two = (head[:, at] - 48) * 10 + head[:, at + 1] - 48
        ok &= (lengths <= at) | ((two >= low) & (two <= high))
    return ok, ok & (head[:, 10] == ord(" "))


def _plain_collected(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per stripped text value: collected_complete_shapes with a year 1700-2200 (the values _normalize_distinct
    takes plainly): the pattern and three pandas string steps took ~50 ms on the ~40k distinct collection dates of
    half a million lab rows. Other values are False: left to the pattern. And whether a space joins date and time."""
    if pd.api.types.infer_dtype(arr, skipna=False) != "string":
        return (np.zeros(len(arr), dtype=bool),) * 2
    ok, spaced = collected_complete_shapes(arr)
    years = arr.astype("U4").view(np.uint32).reshape(len(arr), 4).astype(np.int64) - 48
    year = years[:, 0] * 1000 + years[:, 1] * 100 + years[:, 2] * 10 + years[:, 3]
    ok &= (year >= 1700) & (year <= 2200)
    return ok, spaced & ok


def real_days(day: np.ndarray) -> np.ndarray:
    """Per `YYYY-MM-DD` text (numpy U10, month 01-12 and day 01-31 already checked): the day exists in its
    month (no 31 April, 29 February only in leap years)."""
    if not len(day):
        return np.zeros(0, dtype=bool)
    digit = day.view(np.uint32).reshape(len(day), 10).astype(np.int64) - ord("0")  # YYYY-MM-DD
    y = digit[:, 0] * 1000 + digit[:, 1] * 100 + digit[:, 2] * 10 + digit[:, 3]
    m, d = digit[:, 5] * 10 + digit[:, 6], digit[:, 8] * 10 + digit[:, 9]
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    return d <= np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])[m - 1] + (leap & (m == 2))


def _normalize_parts(text: pd.Series) -> pd.DataFrame:
    """_normalize_distinct for any collected form, by the regex's parts (partial, UN, invalid)."""
    parts = text.str.extract(iso8601.COLLECTED)
    empty = text.eq("")
    matched = parts["y"].notna()
    unk_m = parts["m"].fillna("").str.upper().str.startswith("UN")
    unk_d = parts["d"].fillna("").str.upper().str.startswith("UN")
    has_m = parts["m"].notna() & ~unk_m
    has_d = parts["d"].notna() & ~unk_d
    has_t = parts["H"].notna()

    y = parts["y"].fillna("")
    out = y.copy()
    out = out.where(~has_m, y + "-" + parts["m"].fillna(""))
    # unknown month but known day: SDTM missing-middle form YYYY---DD
    out = out.where(~(unk_m & has_d), y + "---" + parts["d"].fillna(""))
    out = out.where(~(has_m & has_d), out + "-" + parts["d"].fillna(""))
    time = "T" + parts["H"].fillna("") + ":" + parts["M"].fillna("")
    time = time.where(parts["S"].isna(), time + ":" + parts["S"].fillna(""))
    out = out.where(~(has_t & has_m & has_d), out + time)

    # calendar checks on what is known
    month = pd.to_numeric(parts["m"].where(has_m), errors="coerce")
    bad_month = has_m & ~month.between(1, 12)
    day_ok = pd.Series(True, index=text.index)
    full = has_m & has_d
    if full.any():
        day_ok[full] = pd.to_datetime(
            y[full] + "-" + parts["m"][full] + "-" + parts["d"][full], format="%Y-%m-%d", errors="coerce"
        ).notna()
    day_num = pd.to_numeric(parts["d"].where(has_d), errors="coerce")
    bad_day = (has_d & ~day_num.between(1, 31)) | ~day_ok
    hh = pd.to_numeric(parts["H"], errors="coerce")
    mm = pd.to_numeric(parts["M"], errors="coerce")
    ss = pd.to_numeric(parts["S"], errors="coerce")
    bad_time = has_t & (~hh.between(0, 23) | ~mm.between(0, 59) | (ss.notna() & ~ss.between(0, 59)))
    # a time without a known full date cannot be placed
    bad_time = bad_time | (has_t & ~(has_m & has_d))
    bad = ~empty & (~matched | bad_month | bad_day | bad_time)
    out = out.where(~empty & ~bad, "")
    return pd.DataFrame({"dtc": out.astype(object), "bad": bad.astype(bool)})


def _parse_text(text: pd.Series, form: str, width: int, fmt: str) -> pd.Series:
    """datetime64 of the first `width` characters where the text matches `form`; else NaT."""
    ok = text.str.match(form).astype(bool)
    return pd.to_datetime(text.str.slice(0, width).where(ok), format=fmt, errors="coerce")


def _date_text(text: pd.Series) -> pd.Series:
    """_parse_text(text, COMPLETE_DATE, 10, "%Y-%m-%d") with the common case in numpy: a value whose first 11
    characters are ASCII either has the shape "dddd-dd-dd" (ending there or at "T") or does not match; its date
    is then checked against the calendar column-wise. Other values (a non-ASCII digit matches \\d) are parsed as
    before. Same values and dtype as the pattern and pandas give (tests/test_dates_fast.py)."""
    arr = text.to_numpy(dtype=object)
    if len(arr) < _SMALL or pd.api.types.infer_dtype(arr, skipna=False) != "string":
        return _parse_text(text, iso8601.COMPLETE_DATE, 10, "%Y-%m-%d")
    head = arr.astype("U11").view(np.uint32).reshape(len(arr), 11)  # the first 11 characters as code points
    ascii_head = (head < 128).all(axis=1)
    n = head[:, [0, 1, 2, 3, 5, 6, 8, 9]].astype(np.int64) - 48
    shaped = (n >= 0).all(axis=1) & (n <= 9).all(axis=1) & (head[:, 4] == 45) & (head[:, 7] == 45)
    ended = shaped & (head[:, 10] == 0)  # ten characters, or a NUL after them (numpy pads with NUL): count
    ended[ended] = np.fromiter(map(len, arr[ended]), dtype=np.int64, count=int(ended.sum())) == 10
    shaped &= (head[:, 10] == 84) | ended
    year = n[:, 0] * 1000 + n[:, 1] * 100 + n[:, 2] * 10 + n[:, 3]
    month, day = n[:, 4] * 10 + n[:, 5], n[:, 6] * 10 + n[:, 7]
    real, days = _calendar_days(year, month, day)
    real &= shaped
    out = np.full(len(arr), np.datetime64("NaT"), dtype="datetime64[us]")
    out[real] = days[real]
    other = ~ascii_head
    if other.any():
        out[other] = _parse_text(text[other], iso8601.COMPLETE_DATE, 10, "%Y-%m-%d").to_numpy(dtype="datetime64[us]")
    parsed = pd.Series(out, index=text.index, copy=False)
    return parsed if parsed.notna().any() else parsed.astype("datetime64[s]")  # pandas' unit when none parsed


def _calendar_days(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(whether each year-month-day is a calendar date, its datetime64[D]): the proleptic Gregorian calendar
    numpy and pandas share (year 0 is a leap year, 1500 is not)."""
    real = (month >= 1) & (month <= 12) & (day >= 1)
    first = np.where(real, (year - 1970) * 12 + month - 1, 0).astype("datetime64[M]")
    month_days = ((first + 1).astype("datetime64[D]") - first.astype("datetime64[D]")).astype(np.int64)
    real &= day <= month_days
    return real, first.astype("datetime64[D]") + (day - 1)


def _instant_text(text: pd.Series) -> pd.Series:
    """_clock_instants(text), in numpy where every value is plainly decided (_plain_instants): the pattern and
    pandas' parser took ~0.1 s on the 70k distinct LBDTC of 1M lab rows."""
    return _instants_and_offsets(text, offsets=False)[0]


def _instants_and_offsets(text: pd.Series, offsets: bool = True) -> tuple[pd.Series, np.ndarray | None]:
    """(_instant_text(text), _offsets(text) if `offsets` and any value states one, else None). Plain values
    (_plain_instants) state none, so the offsets' patterns run only where pandas parses the column."""
    arr = text.to_numpy(dtype=object)
    plain = _plain_instants(arr) if len(arr) >= _SMALL else None
    if plain is None:
        stated = _offsets(text) if offsets else None
        return _clock_instants(text), (stated if stated is not None and not np.isnat(stated).all() else None)
    parsed = pd.Series(plain, index=text.index, copy=False)
    return (parsed if parsed.notna().any() else parsed.astype("datetime64[s]")), None  # (pandas' unit: none parsed)


def _clock_instants(text: pd.Series) -> pd.Series:
    """datetime64 of the clock time (to the minute or second) of each value that matches COMPLETE_DATETIME, a UTC
    offset left aside (_offsets gives it); NaT otherwise.

    Why the clock time: a --DTC without an offset is the study's local time, and the date part is the date as
    written; an instant in UTC beside them would compare a sample's UTC time with a dose's local clock. A column may
    mix offsets (FHIR gives each dateTime its own): pandas refuses mixed offsets in one parse, so they are cut off."""
    ok = text.str.match(iso8601.COMPLETE_DATETIME).astype(bool)
    head = text.str.slice(0, 19)
    parts = text.str.extract(iso8601.DATETIME_WITH_OFFSET)
    offset = parts[1].notna().to_numpy(dtype=bool)
    if offset.any():  # the clock part alone (the first 19 characters of "08:30+05:30" hold "+05")
        head = head.where(~offset, parts[0].str.slice(0, 19))
    return pd.to_datetime(head.where(ok), format="ISO8601", errors="coerce")


def _offsets(text: pd.Series) -> np.ndarray:
    """timedelta64[m] of each value's UTC offset (Z: 0, +08:00: 480 minutes), NaT where it states none or is not a
    complete date-time: the clock time minus it is the UTC instant."""
    parts = text.str.extract(iso8601.DATETIME_WITH_OFFSET)[1]
    out = np.full(len(text), np.timedelta64("NaT"), dtype="timedelta64[m]")
    stated = parts.notna().to_numpy(dtype=bool)
    if stated.any():
        sign_hh_mm = parts[stated].str.extract(iso8601.UTC_OFFSET)  # (Z: all three missing)
        minutes = (sign_hh_mm[1].fillna("0").astype(int) * 60 + sign_hh_mm[2].fillna("0").astype(int)).to_numpy()
        out[stated] = np.where(sign_hh_mm[0].eq("-").to_numpy(), -minutes, minutes).astype("timedelta64[m]")
    return out


_INSTANT_SHAPE = "dddd-dd-ddTdd:dd:dd"


def _plain_instants(arr: np.ndarray) -> np.ndarray | None:
    """datetime64[us] of each value where all are plain: ASCII text that either is "dddd-dd-ddTdd:dd" or
    "dddd-dd-ddTdd:dd:dd" exactly, a calendar date and a clock time (its instant), or has not that shape in its
    first 16 characters (NaT: COMPLETE_DATETIME does not match). None where any value is neither (a fraction
    of a second, an offset, a non-ASCII digit, hour 24, 30 February, not text): pandas parses the column."""
    if pd.api.types.infer_dtype(arr, skipna=False) != "string":
        return None
    lengths = np.fromiter(map(len, arr.tolist()), dtype=np.int64, count=len(arr))
    head = arr.astype("U19").view(np.uint32).reshape(len(arr), 19)
    if (head[:, :16] >= 128).any():
        return None  # (\d matches other digits)
    shaped = np.ones(len(arr), dtype=bool)
    for i, want in enumerate(_INSTANT_SHAPE[:16]):
        shaped &= ((head[:, i] >= 48) & (head[:, i] <= 57)) if want == "d" else (head[:, i] == ord(want))
    seconds = (lengths == 19) & (head[:, 16] == 58) & (head[:, 17] >= 48) & (head[:, 17] <= 57) \
        & (head[:, 18] >= 48) & (head[:, 18] <= 57)
    if (shaped & (lengths != 16) & ~seconds).any():
        return None  # the pattern matches a prefix of a longer value: its first 19 characters are pandas' to read
    n = head[:, [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]].astype(np.int64) - 48
    year = n[:, 0] * 1000 + n[:, 1] * 100 + n[:, 2] * 10 + n[:, 3]
    real, days = _calendar_days(year, n[:, 4] * 10 + n[:, 5], n[:, 6] * 10 + n[:, 7])
    hour, minute = n[:, 8] * 10 + n[:, 9], n[:, 10] * 10 + n[:, 11]
    second = np.where(seconds, n[:, 12] * 10 + n[:, 13], 0)
    if (shaped & ~(real & (hour <= 23) & (minute <= 59) & (second <= 59))).any():
        return None
    out = np.full(len(arr), np.datetime64("NaT"), dtype="datetime64[us]")
    at = np.flatnonzero(shaped)
    out[at] = (days[at].astype("datetime64[us]")
               + ((hour[at] * 60 + minute[at]) * 60 + second[at]) * np.timedelta64(1_000_000, "us"))
    return out


def date_part(values: pd.Series) -> pd.Series:
    """datetime64 of the date part of complete dates; NaT for partial or empty values."""
    return per_distinct(each_date_part, values)


def each_date_part(values: pd.Series) -> pd.Series:
    """date_part value by value, for values that are a column's distinct ones already (no factorization)."""
    return _date_text(stripped_text(values))


def _instant(values: pd.Series) -> pd.Series:
    """datetime64 of complete date-times (to the minute or second; the clock time, a UTC offset left aside:
    _clock_instants); NaT otherwise."""
    return per_distinct(lambda u: _instant_text(_text(u)), values)


def date_and_instant(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(date_part, _instant) of the same values with one pass over the distinct values: a --DTC with a clock
    time per record (vital signs) has as many distinct values as the dates and times it holds."""
    codes, dates_u, instants_u, _ = _distinct_date_and_instant(values)
    return (pd.Series(dates_u[codes], index=values.index, copy=False),
            pd.Series(instants_u[codes], index=values.index, copy=False))


def _distinct_date_and_instant(values: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """(the rows' codes, datetime64 of each distinct value's date part, of its clock time, timedelta64 of its UTC
    offset or None where no value states one): parsed once per distinct value, spread by the caller (numpy
    gathers, not a pandas frame per row)."""
    codes, parts = _distinct_date_parts(values)
    uniques = column_codes(values)[1]
    instants, offsets = _instants_and_offsets(stripped_text(pd.Series(uniques, dtype=object)))
    return codes, parts, instants.to_numpy(), offsets


def _distinct_date_parts(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(the rows' codes, datetime64 of each distinct value's date part), the parse found once per column within
    shared_columns(): LB's LBDY (study_day) and LBLOBXFL (on_or_before) read the same ~70k distinct LBDTC."""
    codes, uniques = column_codes(values)
    return codes, column_answer(values, "date parts of the distinct values",
                                lambda: each_date_part(pd.Series(uniques, dtype=object)).to_numpy())


_PAIRS_FROM = 4096  # rows from which study_day works on each column's distinct dates


def study_day(dtc: pd.Series, reference: pd.Series) -> pd.Series:
    """--DY from --DTC and RFSTDTC (SDTMIG 4.4.4): on/after: days + 1; before: days; NA if either is partial.
    A long column's distinct dates and distinct references are parsed once each (their codes are known:
    distinct.column_codes) and the rows subtract day numbers in numpy: no text or pandas work per row."""
    if len(dtc) < _PAIRS_FROM or not dtc.index.equals(reference.index):
        return _study_day(dtc, reference)
    a, b = _day_numbers(dtc), _day_numbers(reference)
    missing = np.isnat(a) | np.isnat(b)
    delta = (a - b).astype(np.int64)
    days = np.where(missing, 0, delta + (delta >= 0))
    return pd.Series(pd.arrays.IntegerArray(days, missing), index=dtc.index, copy=False)


def _day_numbers(values: pd.Series) -> np.ndarray:
    """The date part of each row as datetime64[D] (NaT: partial, empty, not a date), parsed per distinct value."""
    codes, parsed = _distinct_date_parts(values)
    return parsed.astype("datetime64[D]")[codes]


def _study_day(dtc: pd.Series, reference: pd.Series) -> pd.Series:
    """study_day row by row (column-wise)."""
    delta = (date_part(dtc) - date_part(reference)).dt.days
    day = delta + (delta >= 0).astype("int64")
    return day.astype("Int64")


def on_or_before(dtc: pd.Series, reference: pd.Series) -> pd.Series:
    """True where `dtc` is known to be on or before `reference` (rows matched by index, as pandas aligns them).

    Both need a complete date; when both carry a time the times are compared, otherwise a date on the
    reference day counts as on or before (a pre-dose sample drawn the morning of the first infusion). Times are
    compared as the instants they name where both state a UTC offset (08:30+08:00 is before 01:00Z), else as clock
    times (a time without an offset is the study's local time: no instant can be told of it). Each column's
    distinct values are parsed once; the rows compare datetime64 values in numpy.
    """
    if not dtc.index.equals(reference.index):
        index = dtc.index.union(reference.index)
        dtc, reference = dtc.reindex(index), reference.reindex(index)
    ca, da_u, ta_u, oa_u = _distinct_date_and_instant(dtc)
    cb, db_u, tb_u, ob_u = _distinct_date_and_instant(reference)
    da, db, ta, tb = da_u[ca], db_u[cb], ta_u[ca], tb_u[cb]
    both_time = ~np.isnat(ta) & ~np.isnat(tb)
    known = ~np.isnat(da) & ~np.isnat(db)
    if oa_u is not None and ob_u is not None:  # where both state a UTC offset, the instants they name
        oa, ob = oa_u[ca], ob_u[cb]
        both_offset = both_time & ~np.isnat(oa) & ~np.isnat(ob)
        ta, tb = np.where(both_offset, ta - oa, ta), np.where(both_offset, tb - ob, tb)
    return pd.Series(known & np.where(both_time, ta <= tb, da <= db), index=dtc.index, copy=False)


# --- why a date is not valid, and whether it is plausible ----------------------------------------------------

_COLLECTED = re.compile(iso8601.COLLECTED)


def collected_problem(value: str) -> str:
    """Why collected date text is not a real date ("" when it is one, or is empty): for the reject reason."""
    if value.strip() == "":
        return ""
    m = _COLLECTED.match(value.strip())
    if m is None:
        return "not an ISO 8601 date"
    y, mo, d, hh, mi, ss = (m[k] for k in ("y", "m", "d", "H", "M", "S"))
    known_m = mo is not None and not mo.upper().startswith("UN")
    known_d = d is not None and not d.upper().startswith("UN")
    if known_m and not 1 <= int(mo) <= 12:
        return f"month {mo} does not exist"
    if known_d and not 1 <= int(d) <= (calendar.monthrange(int(y), int(mo))[1] if known_m else 31):
        return f"{y}-{mo} has no day {d}" if known_m else f"day {d} does not exist"
    if hh is not None:
        if not (known_m and known_d):
            return "a time needs a complete date"
        if int(hh) > 23 or int(mi) > 59 or (ss is not None and int(ss) > 59):
            return f"{hh}:{mi}{':' + ss if ss else ''} is not a time of day"
    return ""


def check_collected(values: pd.Series, earliest: str, latest: str) -> tuple[pd.Series, pd.Series]:
    """(bad, outside) of collected date text: not a real date (as normalize_collected says), and a real date
    wholly before `earliest` or after `latest` (YYYY-MM-DD), per row (check_distinct_collected, spread)."""
    both = per_distinct(lambda u: check_distinct_collected(u, earliest, latest), values)
    return both["bad"].astype(bool), both["outside"].astype(bool)


def check_distinct_collected(u: pd.Series, earliest: str, latest: str) -> pd.DataFrame:
    """check_collected of distinct values (columns "bad" and "outside", bool). Complete dates, most of any file,
    are checked with numpy; the rest (partial, UN, invalid) through normalize_collected."""
    text = u.astype(str)
    plain = text.str.match(iso8601.COLLECTED_COMPLETE).astype(bool).to_numpy()
    bad = np.zeros(len(u), dtype=bool)
    out = np.zeros(len(u), dtype=bool)
    day = text[plain].str.slice(0, 10).to_numpy(dtype="U10")
    if len(day):
        bad[plain] = ~real_days(day)
        out[plain] = ~bad[plain] & ((day < earliest) | (day > latest))
    rest = ~plain
    if rest.any():
        dtc, wrong = normalize_collected(u[rest].reset_index(drop=True))
        bad[rest] = wrong.to_numpy()
        out[rest] = (outside(dtc, earliest, latest) & ~wrong).to_numpy()
    return pd.DataFrame({"bad": bad, "outside": out})


def outside(dtc: pd.Series, earliest: str, latest: str) -> pd.Series:
    """True where a --DTC (complete or partial) lies wholly before `earliest` or after `latest` (YYYY-MM-DD),
    compared at the precision the value has: 2009-03 is inside 2009-03-15..2010, 1899 is outside 1900-01-01.."""
    def one(v: object) -> bool:
        if not isinstance(v, str) or v == "":
            return False
        d = v[:4] if "---" in v else v[:10]  # YYYY---DD: only the year is known in order
        return d < earliest[:len(d)] or d > latest[:len(d)]

    return per_distinct(lambda u: pd.Series([one(v) for v in u], dtype=bool), dtc).astype(bool)


# --- is a --DTC valid SDTM (validate's MSC-SDTM-006, and what to-fhir refuses) -------------------------------

def dtc_problem(value: str) -> str:
    """"" when `value` is a valid SDTM --DTC (extended ISO 8601, calendar-valid), else a hint for the message."""
    if value == "":
        return ""
    m = iso8601.BASIC_FORMAT.match(value)
    if m:
        y, mo, d, hh, mi, ss = m.groups()
        fixed = f"{y}-{mo}-{d}" + (f"T{hh}:{mi}" + (f":{ss}" if ss else "") if hh else "")
        return f" (the basic format is not allowed: write {fixed})"
    if re.fullmatch(iso8601.SPACE_FOR_T, value):
        return f" (date and time are joined by T: {value.replace(' ', 'T')})"
    if value != value.strip():
        return " (leading or trailing spaces)"
    m = iso8601.SDTM_DTC_PARTS.match(value)
    if not m or not re.fullmatch(iso8601.SDTM_DTC, value):
        return " (YYYY-MM-DDThh:mm:ss, right-truncated to the known precision; - for a missing middle part)"
    y, mo, d, hh, mi, ss = m.groups()
    if mo not in (None, "-") and not 1 <= int(mo) <= 12:
        return f" (month {mo} does not exist)"
    if d not in (None, "-"):
        if not 1 <= int(d) <= 31:
            return f" (day {d} does not exist)"
        if mo not in (None, "-") and int(d) > calendar.monthrange(int(y), int(mo))[1]:
            return f" ({y}-{mo}-{d} is not a calendar date)"
    if hh not in (None, "-") and int(hh) > 23:
        return f" (hour {hh} does not exist)"
    if mi not in (None, "-") and int(mi) > 59:
        return f" (minute {mi} does not exist)"
    if ss is not None and int(ss) > 59:
        return f" (second {ss} does not exist)"
    return ""


def dtc_hints(u: pd.Series) -> np.ndarray:
    """dtc_problem of each of `u` (distinct values): the common valid forms are checked column-wise first.

    A missing value (None, NaN, pd.NA) is no date and has no problem, as "" (str(nan) would read as the text "nan")."""
    if u.hasnans:
        u = u.astype(object).where(u.notna(), "")
    if len(u) < _SMALL:
        return np.array([dtc_problem(str(v)) for v in u], dtype=object)
    text = u if pd.api.types.infer_dtype(u, skipna=False) == "string" else u.astype(str)  # (text: as it is)
    arr = text.to_numpy(dtype=object)
    plain, unsure = _plain_dtc_shapes(arr)
    full = np.zeros(len(u), dtype=bool)
    if unsure.any():  # fractions of a second, non-ASCII digits: by the pattern
        plain[unsure] = text[unsure].str.fullmatch(iso8601.PLAIN_DTC).astype(bool).to_numpy()
        full[unsure] = plain[unsure] & (text[unsure].str.len().to_numpy() >= 10)
    if full.any():  # 31 February passes the pattern: check the calendar (the shapes' own dates are checked)
        ok = pd.to_datetime(text[full].str.slice(0, 10), format="%Y-%m-%d", errors="coerce").notna()
        plain[full] = ok.to_numpy()
    hints = np.full(len(u), "", dtype=object)
    for i in np.flatnonzero(~plain):
        hints[i] = dtc_problem(arr[i])
    return hints


_PLAIN_LIMITS = {5: (1, 12), 8: (1, 31), 11: (0, 23), 14: (0, 59), 17: (0, 59)}  # two-digit parts by position


def _plain_dtc_shapes(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(whether each value is "" or a plain --DTC to the second (iso8601.PLAIN_DTC, with a calendar date), the
    values left for the pattern: _truncated_forms' unsure ones), column-wise: the ~70k distinct LBDTC of a
    million lab rows had the pattern run on each."""
    lengths, unsure, forms = _truncated_forms_of(arr)
    plain = lengths == 0
    for n, rows, part in forms:
        ok = np.ones(len(rows), dtype=bool)
        for at, (low, high) in _PLAIN_LIMITS.items():
            if at < n:
                two = (part[:, at] - 48) * 10 + part[:, at + 1] - 48
                ok &= (two >= low) & (two <= high)
        if n >= 10:
            digits = part[:, [0, 1, 2, 3, 5, 6, 8, 9]] - 48
            year = digits[:, 0] * 1000 + digits[:, 1] * 100 + digits[:, 2] * 10 + digits[:, 3]
            ok &= _calendar_days(year, digits[:, 4] * 10 + digits[:, 5], digits[:, 6] * 10 + digits[:, 7])[0]
        plain[rows[ok]] = True
    return plain, unsure
