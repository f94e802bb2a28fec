"""ISO 8601 dates as SDTM uses them, column-wise: parsing collected dates, --DTC checks, study days.

SDTMIG 3.4 section 4.4: --DTC is ISO 8601 extended format, precision shown by right truncation
(`2003-12-15T13:14`, `2003-12`, `2003`), a hyphen for a missing middle part (`2003---15`). Study day
(--DY, section 4.4.4): the day of RFSTDTC is day 1, there is no day 0, and --DY is never derived from a
partial date. Every function takes and returns pandas Series so the LB path stays vectorised.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

# Collected forms a data manager writes: ISO with optional time (T or space), UN/UNK for unknown month/day.
_COLLECTED = (
    r"^(?P<y>\d{4})(?:-(?P<m>\d{2}|UNK?|unk?)(?:-(?P<d>\d{2}|UNK?|unk?)"
    r"(?:[T ](?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?)?)?$"
)

# SDTM --DTC (no intervals, no durations, no time zone): right-truncated or with missing middle parts.
SDTM_DTC_PATTERN = (
    r"^(\d{4}|-)(-(\d{2}|-)(-(\d{2}|-)(T(\d{2}|-)(:(\d{2}|-)(:\d{2}(\.\d+)?)?)?)?)?)?$"
)
# Simple right-truncated form (all we ever write from collected data).
_TRUNCATED = r"^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2})?)?)?)?$"


def per_distinct(fn: Callable[[pd.Series], pd.Series | pd.DataFrame], values: pd.Series) -> pd.Series | pd.DataFrame:
    """Apply a column function to the distinct values only, then spread the answers back.

    A million lab rows hold a few tens of thousands of distinct dates (one per subject visit); pandas string
    methods on object columns loop in Python, so working on the distinct values is what keeps this fast.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    answer = fn(pd.Series(uniques, dtype=object))
    if isinstance(answer, pd.DataFrame):
        out = answer.iloc[codes]
        out.index = values.index
        return out
    return pd.Series(answer.to_numpy()[codes], index=values.index, dtype=answer.dtype)


def _text(s: pd.Series) -> pd.Series:
    return per_distinct(lambda u: u.where(u.notna(), "").map(str).str.strip().astype(object), s)


def normalize_collected(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    both = per_distinct(_normalize_distinct, values)
    return both["dtc"], both["bad"]


def _normalize_distinct(values: pd.Series) -> pd.DataFrame:
    """Turn collected date text into SDTM --DTC strings.

    Returns (dtc, bad): `dtc` is "" for empty input; `bad` is True where the text is not a valid date
    (wrong form, month 13, 31 February, hour 25...). "2015-06-UN" becomes "2015-06"; "2015-UN-12" becomes
    "2015---12"; "2009-03-02 09:30" becomes "2009-03-02T09:30".
    """
    text = _text(values)
    parts = text.str.extract(_COLLECTED)
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


def is_sdtm_dtc(values: pd.Series) -> pd.Series:
    """True where a non-empty value is a valid SDTM --DTC (extended format; basic `20031215` is refused)."""
    def check(u: pd.Series) -> pd.Series:
        text = u.where(u.notna(), "").map(str)
        return (text.str.fullmatch(SDTM_DTC_PATTERN) & text.ne("")).astype(bool)

    return per_distinct(check, values)


def is_complete_date(values: pd.Series) -> pd.Series:
    """True where the value holds a complete calendar date (YYYY-MM-DD, with or without a time)."""
    return per_distinct(lambda u: _text(u).str.match(r"^\d{4}-\d{2}-\d{2}(T|$)").astype(bool), values)


def _parse_where(values: pd.Series, form: str, width: int, fmt: str) -> pd.Series:
    """datetime64 of the first `width` characters where the value matches `form` (per distinct value); else NaT."""
    def parse(u: pd.Series) -> pd.Series:
        text = _text(u)
        ok = text.str.match(form).astype(bool)
        return pd.to_datetime(text.str.slice(0, width).where(ok), format=fmt, errors="coerce")

    return per_distinct(parse, values)


def date_part(values: pd.Series) -> pd.Series:
    """datetime64 of the date part of complete dates; NaT for partial or empty values."""
    return _parse_where(values, r"^\d{4}-\d{2}-\d{2}(T|$)", 10, "%Y-%m-%d")


def _instant(values: pd.Series) -> pd.Series:
    """datetime64 of complete date-times (to the minute or second); NaT otherwise."""
    return _parse_where(values, r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", 19, "ISO8601")


def study_day(dtc: pd.Series, reference: pd.Series) -> pd.Series:
    """--DY from --DTC and RFSTDTC (SDTMIG 4.4.4): on/after: days + 1; before: days; NA if either is partial."""
    delta = (date_part(dtc) - date_part(reference)).dt.days
    day = delta + (delta >= 0).astype("int64")
    return day.astype("Int64")


def days_between(later: pd.Series, earlier: pd.Series) -> pd.Series:
    """Whole days from `earlier` to `later` (complete dates only), as Int64."""
    return (date_part(later) - date_part(earlier)).dt.days.astype("Int64")


def on_or_before(dtc: pd.Series, reference: pd.Series) -> pd.Series:
    """True where `dtc` is known to be on or before `reference`.

    Both need a complete date; when both carry a time the times are compared, otherwise a date on the
    reference day counts as on or before (a pre-dose sample drawn the morning of the first infusion).
    """
    da, db = date_part(dtc), date_part(reference)
    ta, tb = _instant(dtc), _instant(reference)
    both_time = ta.notna() & tb.notna()
    by_date = da.le(db)
    by_time = ta.le(tb)
    known = da.notna() & db.notna()
    return known & by_time.where(both_time, by_date)


# --- SDTM --DTC <-> FHIR date/dateTime ------------------------------------------------------------------
#
# FHIR dateTime (R4/R5 datatypes) is stricter than SDTM --DTC: once a time is present it needs seconds and a
# UTC offset, and it has no form for missing middle parts (`2003---15`), an hour without minutes, or intervals.
# Policy (docs/fhir-mapping.md, "Dates"):
#   * a date or right-truncated date (`2003`, `2003-12`, `2003-12-15`) is written as is;
#   * a date-time gets seconds (`:00` when SDTM has none) and the UTC offset of the study time zone at that
#     local clock time (DST-aware, zoneinfo; fold=0 for ambiguous and skipped clock times);
#   * reading back, a time with seconds `:00` and no fraction becomes minute precision again;
#   * anything FHIR cannot carry so that reading gives the identical string (explicit `:00` seconds, partial
#     forms with gaps, hour-only times, intervals, invalid calendar dates) keeps its longest valid FHIR prefix as
#     the value and the original SDTM string in an extension (the caller writes it; `needs_original` says where).
# Reading a foreign dateTime: with a time zone, an offset that differs from the zone's offset at that clock
# time is converted to the zone's local clock; without a time zone the clock time is kept as written.

# (imports kept here, beside the code that needs them, so this section stays a pure append)
import calendar  # noqa: E402
import functools  # noqa: E402
import re  # noqa: E402
from datetime import datetime, timedelta, timezone  # noqa: E402
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # noqa: E402

_DTC_FULL = re.compile(
    r"^(?P<date>(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2}))?)?)"
    r"(?:T(?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?P<f>\.\d{1,9})?)?)?$"
)
_FHIR_DATETIME = re.compile(
    r"^(?P<date>\d{4}(?:-\d{2}(?:-\d{2})?)?)"
    r"(?:T(?P<H>\d{2}):(?P<M>\d{2}):(?P<S>\d{2})(?P<f>\.\d+)?(?P<tz>Z|[+-]\d{2}:\d{2})?)?$"
)


def _valid_date(y: str, m: str | None, d: str | None) -> bool:
    year = int(y)
    if year < 1:
        return False  # FHIR's date pattern has no year 0000
    if m is None:
        return True
    month = int(m)
    if not 1 <= month <= 12:
        return False
    if d is None:
        return True
    return 1 <= int(d) <= calendar.monthrange(year, month)[1]


def _fhir_prefix(text: str) -> str | None:
    """Longest right-truncated FHIR date (YYYY-MM-DD, YYYY-MM, YYYY) that starts `text` and is a valid date."""
    for n, has_m, has_d in ((10, True, True), (7, True, False), (4, False, False)):
        head = text[:n]
        m = re.fullmatch(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?", head)
        if m and (m.group(2) is not None) == has_m and (m.group(3) is not None) == has_d \
                and _valid_date(m.group(1), m.group(2), m.group(3)) and (len(text) == n or not text[n].isdigit()):
            return head
    return None


@functools.lru_cache(maxsize=64)
def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {tz!r}: use an IANA name such as 'Asia/Shanghai' or 'UTC'") from exc


def _offset_text(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _one_dtc_to_fhir(text: str, tz: str, date_only: bool) -> tuple[str | None, bool]:
    if text == "":
        return None, False
    m = _DTC_FULL.match(text)
    if m and _valid_date(m["y"], m["m"], m["d"]):
        if m["H"] is None:
            return text, False
        if date_only:
            return m["date"], True
        hh, mm, ss = int(m["H"]), int(m["M"]), int(m["S"] or 0)
        if m["d"] is not None and hh <= 23 and mm <= 59 and ss <= 59:
            clock = datetime(int(m["y"]), int(m["m"]), int(m["d"]), hh, mm, ss)
            offset = clock.replace(tzinfo=_zone(tz)).utcoffset() or timedelta(0)
            value = f"{m['date']}T{m['H']}:{m['M']}:{m['S'] or '00'}{m['f'] or ''}{_offset_text(offset)}"
            # `:00` written by SDTM cannot be told from `:00` added for FHIR: keep the original then
            return value, m["S"] == "00" and m["f"] is None
    return _fhir_prefix(text), True


def dtc_to_fhir(values: pd.Series, tz: str = "UTC", *, date_only: bool = False) -> tuple[pd.Series, pd.Series]:
    """SDTM --DTC strings -> (FHIR date/dateTime values, needs_original mask).

    Values are None where FHIR can hold nothing of the date; `needs_original` is True where the SDTM string
    must also be kept (in an extension) because the FHIR value cannot give it back exactly. `date_only`
    targets a FHIR `date` element (birthDate): a time is then dropped from the value and kept in the original.

        >>> v, ext = dtc_to_fhir(pd.Series(["2009-10-04T09:19", "2003---15", "2009"]), "Asia/Shanghai")
        >>> v.tolist(), ext.tolist()
        (['2009-10-04T09:19:00+08:00', '2003', '2009'], [False, True, False])
    """
    _zone(tz)

    def convert(u: pd.Series) -> pd.DataFrame:
        pairs = [_one_dtc_to_fhir(_as_str(x), tz, date_only) for x in u]
        return pd.DataFrame({"value": pd.Series([p[0] for p in pairs], dtype=object),
                             "ext": pd.Series([p[1] for p in pairs], dtype=bool)})

    both = per_distinct(convert, values)
    return both["value"].astype(object), both["ext"].astype(bool)


def _one_fhir_to_dtc(value: object, tz: str | None) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    text = str(value)
    m = _FHIR_DATETIME.match(text)
    if m is None:
        return text  # not a FHIR date: hand it on unchanged (the reader reports it where it matters)
    if m["H"] is None:
        return m["date"]
    date, hh, mm, ss, frac = m["date"], m["H"], m["M"], m["S"], m["f"] or ""
    if tz is not None and m["tz"] is not None and len(date) == 10:
        written = timedelta(0) if m["tz"] == "Z" else _parse_offset(m["tz"])
        clock = datetime.fromisoformat(f"{date}T{hh}:{mm}:{ss}")
        zone = _zone(tz)
        # compare as the writer wrote it: whole minutes (local mean time offsets such as +08:05:43 have seconds)
        if _offset_text(clock.replace(tzinfo=zone).utcoffset() or timedelta(0)) != _offset_text(written):
            local = clock.replace(tzinfo=timezone(written)).astimezone(zone)
            date, hh, mm, ss = local.strftime("%Y-%m-%d"), f"{local.hour:02d}", f"{local.minute:02d}", \
                f"{local.second:02d}"
    if ss == "00" and frac == "":
        return f"{date}T{hh}:{mm}"
    return f"{date}T{hh}:{mm}:{ss}{frac}"


def _parse_offset(text: str) -> timedelta:
    sign = -1 if text[0] == "-" else 1
    return sign * timedelta(hours=int(text[1:3]), minutes=int(text[4:6]))


def fhir_to_dtc(values: pd.Series, tz: str | None = None, original: pd.Series | None = None) -> pd.Series:
    """FHIR date/dateTime values -> SDTM --DTC strings; `original` (the kept SDTM strings) wins where present.

    `tz` is the study time zone: a dateTime written with another offset is converted to its local clock time;
    None keeps the clock time as written. Seconds `:00` without a fraction read back as minute precision.
    """
    if tz is not None:
        _zone(tz)
    out = per_distinct(lambda u: pd.Series([_one_fhir_to_dtc(x, tz) for x in u], dtype=object), values)
    if original is not None:
        keep = original.notna() & original.map(lambda x: isinstance(x, str))
        out = out.where(~keep, original)
    return out.astype(object)


def _as_str(x: object) -> str:
    if x is None or (isinstance(x, float) and x != x) or x is pd.NA:
        return ""
    return str(x)


@functools.lru_cache(maxsize=65536)
def fhir_value_to_dtc(value: str, tz: str | None = None) -> str:
    """One FHIR date/dateTime -> SDTM --DTC (the scalar form of `fhir_to_dtc`, cached)."""
    return _one_fhir_to_dtc(value, tz)


def check_timezone(tz: str) -> None:
    """Raise ValueError naming the zone when `tz` is not an IANA time zone name."""
    _zone(tz)
