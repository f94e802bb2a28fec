"""SDTM --DTC <-> FHIR date/dateTime, column-wise.

FHIR dateTime (R4/R5 datatypes) is stricter than SDTM --DTC: once a time is present it needs seconds and a
UTC offset, and it has no form for missing middle parts (`2003---15`), an hour without minutes, or intervals.
Policy (docs/fhir-mapping.md, "Dates"):
  * a date or right-truncated date (`2003`, `2003-12`, `2003-12-15`) is written as is;
  * a date-time gets seconds (`:00` when SDTM has none) and the UTC offset of the study time zone at that
    local clock time (DST-aware, zoneinfo; fold=0 for ambiguous and skipped clock times);
  * reading back, a time with seconds `:00` and no fraction becomes minute precision again;
  * anything FHIR cannot carry so that reading gives the identical string (explicit `:00` seconds, partial
    forms with gaps, hour-only times, intervals, invalid calendar dates) keeps its longest valid FHIR prefix as
    the value and the original SDTM string in an extension (the caller writes it; `needs_original` says where).
Reading a foreign dateTime: with a time zone, an offset that differs from the zone's offset at that clock
time is converted to the zone's local clock; without a time zone the clock time is kept as written.
"""

from __future__ import annotations

import calendar
import functools
import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from msc_interop import iso8601
from msc_interop.distinct import per_distinct


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
        m = iso8601.FHIR_DATE.fullmatch(head)
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
    m = iso8601.DTC_FULL.match(text)
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
        value = np.full(len(u), None, dtype=object)
        ext = np.zeros(len(u), dtype=bool)
        slow = _minutes_fast(u, tz, value) if not date_only else np.ones(len(u), dtype=bool)
        rows = np.flatnonzero(slow)
        for i, x in zip(rows.tolist(), u.to_numpy()[rows].tolist(), strict=True):
            value[i], ext[i] = _one_dtc_to_fhir(_as_str(x), tz, date_only)
        return pd.DataFrame({"value": pd.Series(value, dtype=object), "ext": pd.Series(ext, dtype=bool)})

    both = per_distinct(convert, values)
    return both["value"].astype(object), both["ext"].astype(bool)


_PROBES = ((0, 0, 0), (6, 0, 0), (12, 0, 0), (18, 0, 0), (23, 59, 59))


def _minutes_fast(u: pd.Series, tz: str, value: np.ndarray) -> np.ndarray:
    """The common SDTM date-time `YYYY-MM-DDThh:mm` (a clinic's clock time) column-wise: the value is the text
    with `:00` and the zone's offset of that day (worked out once per distinct date, the same for every clock
    time of a day without a DST change: the offset at 00:00, 06:00, 12:00, 18:00 and 23:59:59 agrees), never
    an original to keep. Fills `value` there; returns where the one-value path (`_one_dtc_to_fhir`) must
    answer: other forms, impossible dates or times, days with a DST change."""
    text = u.where(u.map(type).eq(str), "")
    fast = text.str.fullmatch(iso8601.DTC_MINUTES).to_numpy(dtype=bool, copy=True)
    if not fast.any():
        return ~fast
    t = text[fast]
    hh = pd.to_numeric(t.str.slice(11, 13)).to_numpy()
    mm = pd.to_numeric(t.str.slice(14, 16)).to_numpy()
    day_offset = per_distinct(lambda d: d.map(lambda x: _day_offset(x, tz)).astype(object), t.str.slice(0, 10))
    ok = (hh <= 23) & (mm <= 59) & day_offset.notna().to_numpy()
    rows = np.flatnonzero(fast)[ok]
    value[rows] = (t[ok] + ":00" + day_offset[ok]).to_numpy(dtype=object)
    fast[np.flatnonzero(fast)[~ok]] = False
    return ~fast


@functools.lru_cache(maxsize=1 << 16)
def _day_offset(date: str, tz: str) -> str | None:
    """The UTC offset text of `tz` all day on `date` (YYYY-MM-DD), or None: not a date, or the offset changes
    that day (the one-value path then places each clock time)."""
    y, mo, d = date[:4], date[5:7], date[8:10]
    if not _valid_date(y, mo, d):
        return None
    zone = _zone(tz)
    offsets = {datetime(int(y), int(mo), int(d), h, mi, se, tzinfo=zone).utcoffset() for h, mi, se in _PROBES}
    if len(offsets) != 1:
        return None
    return _offset_text(offsets.pop() or timedelta(0))


class FhirDateError(ValueError):
    """A FHIR date/dateTime that has the form of one but no SDTM --DTC: an impossible calendar date or clock
    time, an offset beyond +/-14:00, or a time that cannot be moved to the study time zone's clock. The message
    says why, for a data manager (the reader rejects the record naming the element and the value)."""

    def __init__(self, reason: str, value: str):
        super().__init__(reason)
        self.value = value


def _impossible(m: re.Match[str]) -> str | None:
    """Why a FHIR_DATETIME_READ match is not a real date and time (None when it is)."""
    date = m["date"]
    y, mo, d = date[:4], date[5:7] or None, date[8:10] or None
    if not _valid_date(y, mo, d):
        if int(y) < 1:
            return "year 0000 does not exist"
        if mo is not None and not 1 <= int(mo) <= 12:
            return f"month {mo} does not exist"
        return f"day {d} does not exist in {y}-{mo}"
    if m["H"] is not None:
        if int(m["H"]) > 23 or int(m["M"]) > 59:
            return f"time {m['H']}:{m['M']} does not exist"
        if int(m["S"]) > 59:
            return f"second {m['S']} (a leap second) has no SDTM form"
    tz = m["tz"]
    if tz is not None and tz != "Z" and (tz[1:] > "14:00" or int(tz[4:6]) > 59):
        return f"UTC offset {tz} does not exist (offsets run from -14:00 to +14:00)"
    return None


_WRITTEN = iso8601.FHIR_DATETIME_WRITTEN


def _one_fhir_to_dtc(value: object, tz: str | None) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    text = str(value)
    if tz is not None and len(text) == 25:  # the common case first: the study zone's offset of that whole day
        w = _WRITTEN.fullmatch(text)
        if w is not None and _day_offset(w[1], tz) == w[3]:
            return text[:16] if w[2] == "00" else text[:19]
    m = iso8601.FHIR_DATETIME_READ.match(text)
    if m is None:
        raise FhirDateError(f"{text!r} is not a FHIR date or dateTime (YYYY, YYYY-MM, YYYY-MM-DD or "
                            "YYYY-MM-DDThh:mm:ss with a UTC offset)", text)
    why = _impossible(m)
    if why is not None:
        raise FhirDateError(f"{text!r} is not a real {'date' if m['H'] is None else 'date and time'}: {why}", text)
    if m["H"] is None:
        return m["date"]
    date, hh, mm, ss, frac = m["date"], m["H"], m["M"], m["S"], m["f"] or ""
    if tz is not None and m["tz"] is not None and len(date) == 10:
        written = timedelta(0) if m["tz"] == "Z" else _parse_offset(m["tz"])
        clock = datetime.fromisoformat(f"{date}T{hh}:{mm}:{ss}")
        zone = _zone(tz)
        try:
            # compare as the writer wrote it: whole minutes (local mean time offsets such as +08:05:43 have seconds)
            if _offset_text(clock.replace(tzinfo=zone).utcoffset() or timedelta(0)) != _offset_text(written):
                local = clock.replace(tzinfo=timezone(written)).astimezone(zone)
                date, hh, mm, ss = local.strftime("%Y-%m-%d"), f"{local.hour:02d}", f"{local.minute:02d}", \
                    f"{local.second:02d}"
        except (OverflowError, ValueError) as exc:  # e.g. 0001-01-01T00:00:00+08:00 is before year 1 in UTC
            raise FhirDateError(f"{text!r} cannot be put on the clock of the study time zone {tz}: the "
                                "converted time falls outside the years 0001-9999", text) from exc
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
