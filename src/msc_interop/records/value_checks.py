"""Checks on cell values that a row schema cannot state: no control characters in any cell; dates that are
real calendar dates, within the study's plausible dates (study.yaml `plausible_dates`).

Both run column-wise on distinct values, as table_check does. A date column is one whose row schema property
is a `$ref` to the records schema's partial_date or partial_datetime.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd

from msc_interop import dates
from msc_interop.distinct import per_distinct
from msc_interop.records.table_check import CellProblem, DistinctColumn

DATE_DEFS = ("#/$defs/partial_date", "#/$defs/partial_datetime")
TIME_DEF = "#/$defs/clock_time"  # a clock time of its own (a vital sign's or ECG's `time`), joined to a date
CONTROL = r"[\x00-\x1f\x7f-\x9f]"  # C0 (tab, line breaks, ...), DEL and C1: invisible, and SDTM cannot hold them
EARLIEST = "1900-01-01"
_DATE_FORMS = ("ISO 8601 YYYY-MM-DD, optionally Thh:mm; partial YYYY-MM or YYYY; UN for an unknown day or "
               "month")


def control_problems(df: pd.DataFrame) -> Iterator[CellProblem]:
    """Cells holding a control character (a tab, a line break, a NUL, an escape ...), column by column."""
    for col in df.columns:
        if col.startswith("_"):
            continue
        found = per_distinct(lambda u: u.str.contains(CONTROL, regex=True).astype(bool), df[col])
        if found.any():
            why = per_distinct(lambda u, c=col: u.map(lambda v: _control_reason(c, v)).astype(object),
                               df[col].where(found, ""))
            yield CellProblem(col, found, why)


def _control_reason(col: str, value: str) -> str:
    ch = next((c for c in value if unicodedata.category(c) == "Cc"), "")
    if not ch:
        return ""
    name = {"\t": "a tab", "\n": "a line break", "\r": "a carriage return", "\x00": "a NUL"}.get(ch, "a control "
                                                                                                    "character")
    return (f"'{col}' holds {name} (U+{ord(ch):04X}) at position {value.index(ch) + 1}: an invisible character "
            "that SDTM cannot hold; remove it")


def date_problems(df: pd.DataFrame, row_schema: Mapping[str, Any], bounds: tuple[str, str]
                  ) -> Iterator[CellProblem]:
    """Dates that are not real (2021-02-30, month 13, 25:00) and dates outside `bounds` (earliest, latest)."""
    earliest, latest = bounds
    for col, prop in row_schema.get("properties", {}).items():
        if col not in df.columns or prop.get("$ref") not in DATE_DEFS:
            continue
        column = DistinctColumn(df[col])  # decided on the distinct values; rows spread only where one fails
        wrong, outside = _check_dates(column.values, earliest, latest)
        if (bad := column.rows(wrong)) is not None:
            why = per_distinct(lambda u, c=col: u.map(lambda v: _date_reason(c, v)).astype(object),
                               df[col].where(bad, ""))
            yield CellProblem(col, bad, why, "REJ-REC-007")
        if (out := column.rows(outside)) is not None:
            yield CellProblem(col, out, f"'{col}' is outside the plausible dates of the study, {earliest} to "
                              f"{latest} (plausible_dates in study.yaml): a typing error?", "REJ-REC-012")


def _check_dates(values: pd.Series, earliest: str, latest: str) -> tuple[np.ndarray, np.ndarray]:
    """dates.check_distinct_collected's (bad, outside) of distinct values: the complete dates of a plain shape (most
    of a file's: dates.collected_complete_shapes) here in numpy, only the others through it (its pattern, then
    their parts)."""
    items = values.tolist()
    plain = (dates.collected_complete_shapes(items)[0] if pd.api.types.infer_dtype(items, skipna=False) == "string"
             else None)
    if plain is None or not plain.any():
        found = dates.check_distinct_collected(values, earliest, latest)
        return found["bad"].to_numpy(dtype=bool), found["outside"].to_numpy(dtype=bool)
    bad = np.zeros(len(items), dtype=bool)
    out = np.zeros(len(items), dtype=bool)
    day = np.asarray(items, dtype=object)[plain].astype("U10")
    bad[plain] = ~dates.real_days(day)
    out[plain] = ~bad[plain] & ((day < earliest) | (day > latest))
    if not plain.all():
        rest = dates.check_distinct_collected(values[~plain].reset_index(drop=True), earliest, latest)
        bad[~plain] = rest["bad"].to_numpy(dtype=bool)
        out[~plain] = rest["outside"].to_numpy(dtype=bool)
    return bad, out


def _date_reason(col: str, value: str) -> str:
    if value == "":
        return ""
    return f"'{col}' is not a valid date: {dates.collected_problem(value) or 'not a date'} ({_DATE_FORMS})"


def time_fields(row_schema: Mapping[str, Any]) -> frozenset[str]:
    """The columns of a row schema that hold a clock time of their own (a `$ref` to the records schema's
    clock_time)."""
    return frozenset(c for c, prop in row_schema.get("properties", {}).items() if prop.get("$ref") == TIME_DEF)


def plausible_bounds(definition: Mapping[str, Any], today: dt.date | None = None) -> tuple[str, str]:
    """(earliest, latest) date a record may carry: study.yaml `plausible_dates`, by default 1900-01-01 to a
    year after today (a birth date, a visit, a sample: none is earlier, and none is in the far future)."""
    given = definition.get("plausible_dates") or {}
    today = today or dt.date.today()
    year_on = today.replace(year=today.year + 1) if (today.month, today.day) != (2, 29) else \
        today.replace(year=today.year + 1, day=28)
    return str(given.get("earliest", EARLIEST)), str(given.get("latest", year_on.isoformat()))
