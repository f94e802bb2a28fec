"""Read the sheets of an XLSX workbook as the data manager sees them. pandas' read_excel gives a cell's stored value
only: 65% is 0.65, a month typed Oct-04 is the date 2004-10-01, 1.50 is 1.5. Here each cell's number format is
read too and the text is what the cell shows where it matters (docs: README, "Study records"): a percent is the
number shown, a date typed without its day is a partial date (one that holds a day keeps it, noted), a date-time
shown as a time only reads in full (noted) but in a time field (the time shown, its date noted), a
fixed-decimal number keeps its decimals, a zero-padded whole number its leading zeros (a site 01). The study
definition's sheets read so too (a date as ISO 8601). A merged range in a form's sheet stops the read (its cells
but the first read empty: a column, or values, would be lost). An empty cell reads empty whatever its format (as
in a CSV); a formula with no saved result (a workbook written by a script: openpyxl, pandas) or an error (#N/A) is
not empty: its value is unknown, and the reader rejects its record (Sheet.unknown: records/workbook_cells.py).

openpyxl's read-only sheet parser is used directly: one pass gives the values, the style of each cell and the
merged ranges (which a read-only worksheet does not expose); the text is made per distinct (value, format).
"""

from __future__ import annotations

import datetime
import functools
import math
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from openpyxl import load_workbook
from openpyxl.styles.numbers import BUILTIN_FORMATS, BUILTIN_FORMATS_MAX_SIZE
from openpyxl.utils.cell import get_column_letter, range_boundaries

from msc_interop.distinct import per_distinct_rows
from msc_interop.errors import InputError
from msc_interop.records.table_check import CellProblem
from msc_interop.records.workbook_cells import CellParser, UnknownCell, recalculated_on_open

PERCENT = "%"  # the CDISC UNIT term (C25613) a percent-formatted result is given when its unit cell is blank


@dataclass
class Sheet:
    """A sheet as read: `values` the stored values (None: empty; the rows and columns up to the last value, as
    pandas' read_excel(header=None) gives them; each column of dtype object, the values as openpyxl gives them),
    `formats` the number format of each (same shape), `merged` the merged ranges ("B1:C1"). `unknown`: the cells whose
    value is unknown (a formula with no saved result, an error); `values` holds the formula (=6.14*1) or the error
    (#N/A) there, not a value. `hidden`: the workbook hides the sheet (hidden or very hidden)."""

    values: pd.DataFrame
    formats: pd.DataFrame
    merged: list[str] = field(default_factory=list)
    unknown: list[UnknownCell] = field(default_factory=list)
    hidden: bool = False


def read_sheets(path: Path) -> dict[str, Sheet]:
    """Every sheet of the workbook (name as the workbook has it -> Sheet); InputError if it cannot be read."""
    try:
        book = load_workbook(path, read_only=True, data_only=True, keep_links=False)
    except Exception as exc:  # openpyxl raises several types for a corrupt workbook
        raise InputError(f"{path.name}: cannot read as an XLSX workbook: {exc}") from None
    try:
        recalculate = recalculated_on_open(book._archive)
        return {ws.title: _read_sheet(book, ws, recalculate) for ws in book.worksheets}
    except Exception as exc:
        raise InputError(f"{path.name}: cannot read as an XLSX workbook: {exc}") from None
    finally:
        book.close()


def _read_sheet(book: Any, ws: Any, recalculate: bool) -> Sheet:
    rows, cols, values, styles = [], [], [], []
    hidden = ws.sheet_state != "visible"
    with ws._get_source() as src:
        parser = CellParser(src, ws._shared_strings, data_only=True, epoch=book.epoch, recalculate=recalculate,
                            date_formats=book._date_formats, timedelta_formats=book._timedelta_formats)
        for _, cells in parser.parse():
            for cell in cells:
                value = cell["value"]
                if value is None:  # (an error, #N/A, reads its text: it is in parser.unknown)
                    continue
                rows.append(cell["row"])
                cols.append(cell["column"])
                # a boolean as its text: True would otherwise be one distinct value with the number 1
                values.append(str(value) if cell["data_type"] == "b" else value)
                styles.append(cell["style_id"] or 0)
    for u in parser.missing():  # (the cells of an array formula with no saved result that the sheet does not hold)
        rows.append(u.row)
        cols.append(u.column)
        values.append(u.value)
        styles.append(0)
    merged = [str(m.ref) for m in parser.merged_cells.mergeCell] if parser.merged_cells else []
    if not rows:
        return Sheet(pd.DataFrame(), pd.DataFrame(), merged, hidden=hidden)
    r, c = np.asarray(rows) - 1, np.asarray(cols) - 1
    grid = np.full((r.max() + 1, c.max() + 1), None, dtype=object)
    grid[r, c] = values
    style_grid = np.zeros(grid.shape, dtype=np.int64)
    style_grid[r, c] = styles
    names = {s: _number_format(book, s) for s in np.unique(style_grid).tolist()}
    formats = pd.DataFrame(style_grid).apply(lambda col: col.map(names))
    # dtype object: pandas would make a column of dates and empty cells datetime64, an empty cell NaT
    return Sheet(pd.DataFrame(grid, dtype=object), formats, merged, parser.unknown, hidden)


def _number_format(book: Any, style_id: int) -> str:
    """The number format of a style (as openpyxl's ReadOnlyCell.number_format finds it)."""
    fmt_id = book._cell_styles[style_id].numFmtId
    if fmt_id < BUILTIN_FORMATS_MAX_SIZE:
        return BUILTIN_FORMATS.get(fmt_id, "General")
    return book._number_formats[fmt_id - BUILTIN_FORMATS_MAX_SIZE]


def check_merged(sheet: Sheet, where: str) -> None:
    """A merged range in a form's sheet is exit 2: Excel keeps the value of its first cell only, so a header
    merged across columns leaves the others without a name (their values would be dropped as an unknown column)
    and values merged down rows leave the rows below empty."""
    if not sheet.merged:
        return
    listed = ", ".join(sheet.merged[:5]) + (f" and {len(sheet.merged) - 5} more" if len(sheet.merged) > 5 else "")
    bounds = [(ref, range_boundaries(ref)) for ref in sheet.merged]
    across = [(ref, b) for ref, b in bounds if b[1] == 1 and b[2] > b[0]]  # (min_col, min_row, max_col, max_row)
    ref, (col, row, *_rest) = (across or bounds)[0]
    text = _cell_value(sheet, row, col)
    if across:
        raise InputError(f"{where}: header cells {ref} are merged ({text!r} across {_rest[0] - col + 1} columns), "
                         "so only the first of those columns has a name and the values of the others would be lost; "
                         "unmerge the cells and give each column its own header (the form's column names; merged "
                         f"cells of the sheet: {listed})")
    raise InputError(f"{where}: cells {ref} are merged: only the first holds the value ({text!r}), the others read "
                     f"empty; unmerge them and type the value in each cell (merged cells of the sheet: {listed})")


def hidden_sheet_note(where: str, what: str) -> str:
    """The note for a sheet the workbook hides that was read as `what` (the 'labs' form, say): a data manager
    who hid it may not have meant it as data."""
    return (f"{where}: the sheet is hidden in the workbook, but it was read as {what}, as a visible sheet is; if "
            "it is not meant as data (an old copy, a draft), delete it or move it out of the workbook")


def _cell_value(sheet: Sheet, row: int, col: int) -> Any:
    """The value at a 1-based (row, column) of the sheet (None outside the cells read)."""
    inside = row <= sheet.values.shape[0] and col <= sheet.values.shape[1]
    return sheet.values.iat[row - 1, col - 1] if inside else None


def shown_text(values: pd.Series, formats: pd.Series, time_field: bool = False) -> pd.Series:
    """A column's cells as the text they show (cell_text), made once per distinct (value, format)."""
    both = pd.DataFrame({"value": values.to_numpy(), "format": formats.to_numpy()}, index=values.index)
    return per_distinct_rows(lambda d: pd.Series([cell_text(v, f, time_field) for v, f in
                                                  zip(d["value"], d["format"], strict=True)], dtype=object), both)


def definition_values(sheet: Sheet, keep_numbers: Collection[int] = ()) -> pd.DataFrame:
    """A definition sheet's (study, sites, arms, visits) cells as the text they show, as a form's cells read (a
    site 1 formatted 00 is 01, a date 2020-01-05, not the stored 2020-01-05 00:00:00; a percent with its %, as
    these are texts with no unit cell), empty cells None; the numbers of the columns `keep_numbers` (a visit's
    number and days) stay numbers (a small sheet: cell by cell)."""
    def shown(v: Any, f: str, keep: bool) -> Any:
        if _empty(v):
            return None
        if keep and _is_number(v):
            return v
        return cell_text(v, f) + ("%" if _is_number(v) and _section(f, v < 0).percent else "")

    out = sheet.values.copy()
    for column in out.columns:
        out[column] = pd.Series([shown(v, f, column in keep_numbers)
                                 for v, f in zip(sheet.values[column], sheet.formats[column], strict=True)],
                                index=out.index, dtype=object)
    return out


def percent_cells(values: pd.Series, formats: pd.Series) -> pd.Series:
    """Which cells of a column hold a number shown as a percent."""
    both = pd.DataFrame({"value": values.to_numpy(), "format": formats.to_numpy()}, index=values.index)
    return per_distinct_rows(lambda d: pd.Series([_is_number(v) and _section(f, v < 0).percent
                                                  for v, f in zip(d["value"], d["format"], strict=True)],
                                                 dtype=bool), both)


def cell_text(value: Any, fmt: str, time_field: bool = False) -> str:
    """A cell's text: a number shown as a percent is the number shown (0.65 in 0% is 65); a number in a
    fixed-decimal format has at least those decimals (1.5 in 0.00 is 1.50; digits typed beyond them are kept, not
    rounded away); a whole number in a zero-padded format (00, 000) has its leading zeros (1 in 00 is 01); a date
    typed without its day is a partial date (Oct-04: 2004-10; a year only: 2004), but a date holding more than
    typing the shown text stores (a day, a time: hidden_date_notes) reads in full, as nothing may be lost; so does
    a date-time formatted to show only its time (hh:mm), except in a `time_field` (a clock time of its own), which
    takes the time shown. Else as a CSV would hold it: a midnight date-time is a date, a time cell a clock time
    (hh:mm, :ss when it has seconds)."""
    if _empty(value):
        return ""
    if isinstance(value, datetime.time):
        return _clock(value)
    if isinstance(value, datetime.timedelta):  # (an elapsed-time format: [h]:mm, [mm]:ss; pandas' Timedelta too)
        return _elapsed(value)
    if isinstance(value, datetime.date):
        ts = pd.Timestamp(value)
        if time_field and _time_only(fmt):
            return _clock(ts.time())
        shows = _date_shows(fmt)
        if shows == "year" and not _hides_more(ts, shows):
            return f"{ts.year:04d}"
        if shows == "month" and not _hides_more(ts, shows):
            return f"{ts.year:04d}-{ts.month:02d}"
        return ts.strftime("%Y-%m-%d") if ts == ts.normalize() else ts.strftime("%Y-%m-%dT") + _clock(ts.time())
    if _is_number(value):
        section = _section(fmt, value < 0)
        if section.percent:
            return _decimal_text(Decimal(repr(value)) * 100, section.decimals)
        if section.decimals:
            return _decimal_text(Decimal(repr(value)), section.decimals)
        if float(value).is_integer():
            return ("-" if value < 0 else "") + str(abs(int(value))).zfill(section.width)
    return str(value)


_DAY = datetime.timedelta(days=1)


def _elapsed(value: datetime.timedelta) -> str:
    """An elapsed-time cell ([h]:mm, [mm]:ss, [h]:mm:ss): under 24 hours the time of day it shows (08:58, as a time
    cell reads), else the hours it shows (26:30, -2:30: no time of day; a time field rejects it, elapsed_problems)."""
    if datetime.timedelta(0) <= value < _DAY:
        return _clock((datetime.datetime.min + value).time())
    seconds = abs(value) // datetime.timedelta(microseconds=1) / 1e6
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{'-' if value < datetime.timedelta(0) else ''}{int(hours)}:{int(minutes):02d}"
    return text + (f":{secs:09.6f}".rstrip("0").rstrip(".") if secs else "")


def elapsed_problems(body: pd.DataFrame, formats: pd.DataFrame, names: list[str], time_fields: Collection[str],
                     table: pd.DataFrame, row_column: str, where: str) -> list[CellProblem]:
    """A problem per time field (`time_fields`; `names`: the sheet's normalised header, in sheet order) for the
    records (`table`, whose `row_column` is the sheet row) whose cell holds an elapsed time ([h]:mm) of 24 hours or
    more, or below 0: no time of day, so the record is rejected naming the cell (REJ-REC-002). Only columns
    formatted so are looked at, once per distinct value."""
    problems = []
    for name, column in zip(names, body.columns, strict=True):
        if name not in time_fields or name not in table.columns:
            continue
        if not any(_ELAPSED.search(str(f)) for f in pd.unique(formats[column])):
            continue
        bad = per_distinct_rows(lambda d: pd.Series([isinstance(v, datetime.timedelta) and not
                                                     datetime.timedelta(0) <= v < _DAY for v in d["value"]],
                                                    dtype=bool),
                                pd.DataFrame({"value": body[column].to_numpy()})).to_numpy()
        if not bad.any():
            continue
        letter = get_column_letter(column + 1)
        reasons = {int(r) + 2: _elapsed_reason(f"{where} cell {letter}{int(r) + 2}", body[column].iat[r],
                                               formats[column].iat[r]) for r in np.flatnonzero(bad)}
        rows = table[row_column]
        mask = rows.isin(list(reasons))
        if mask.any():
            reason = pd.Series("", index=table.index, dtype=object)
            reason[mask] = rows[mask].map(reasons)
            problems.append(CellProblem(name, mask, reason, "REJ-REC-002"))
    return problems


def _elapsed_reason(cell: str, value: datetime.timedelta, fmt: str) -> str:
    size = "below 0" if value < datetime.timedelta(0) else "24 hours or more"
    return (f"{cell} holds the elapsed time {_elapsed(value)} (format '{fmt}'), {size}: no time of day; type the "
            "clock time (hh:mm) in a cell formatted as a time (hh:mm), not as an elapsed time ([h]:mm)")


def _hides_more(ts: pd.Timestamp, shows: str) -> bool:
    """Whether a date holds more than typing its shown text stores: Oct-04 typed stores 2004-10-01 at midnight, a
    year 1 January at midnight; any other day or time was typed (or computed) and is not the partial date shown."""
    first = pd.Timestamp(ts.year, 1 if shows == "year" else ts.month, 1)
    return ts != first


def _hidden(value: Any, fmt: str, time_field: bool) -> str:
    """What a date cell's format hides of its value: "day" (a format showing no day, a date holding a day or time
    read in full), "date" (a format showing only a time, a date-time read in full) or "dropped" (the same in a
    time field: the time shown is read, not the date); "" when it hides nothing."""
    if not isinstance(value, datetime.date) or _empty(value):
        return ""
    if _time_only(fmt):  # (openpyxl gives a time, not a date, for a value with no date: below 1)
        return "dropped" if time_field else "date"
    shows = _date_shows(fmt)
    return "day" if shows != "day" and _hides_more(pd.Timestamp(value), shows) else ""


_HIDDEN_NOTES = {
    "day": ("date cell(s) formatted to show no day hold a day or time, read in full, not as the partial date "
            "shown", "if only the month or year is known, type it as text (2009-03)"),
    "date": ("date cell(s) formatted to show only a time hold a date as well, read in full, not as the time shown",
             "check the date and give the cells a format that shows it (yyyy-mm-dd hh:mm)"),
    "dropped": ("time cell(s) formatted to show only a time hold a date as well: the time shown is read, not the "
                "date, which is the row's date cell", "check that the row's date is the one meant"),
}


def hidden_date_notes(body: pd.DataFrame, formats: pd.DataFrame, names: list[str], where: str,
                      time_fields: Collection[str] = ()) -> list[str]:
    """A note per column of `body` (the sheet's cells below the header, columns in sheet order) and kind of what
    the format of its date cells hides (_hidden), naming the column, the cells and the first one: the data manager
    sees a month (Mar-09) or a time (09:52) where the file gets a day and time (2009-03-28T09:52); in a time field
    (`time_fields`) sees a time that is read where the cell also holds a date that is not."""
    notes = []
    for name, column in zip(names, body.columns, strict=True):
        if all(_date_shows(f) == "day" and not _time_only(f) for f in pd.unique(formats[column])):
            continue  # (no format of the column hides a day or a date: nothing to look at)
        time_field = name in time_fields
        both = pd.DataFrame({"value": body[column].to_numpy(), "format": formats[column].to_numpy()})
        kinds = per_distinct_rows(lambda d, t=time_field: pd.Series(
            [_hidden(v, f, t) for v, f in zip(d["value"], d["format"], strict=True)], dtype=object), both).to_numpy()
        for kind, (what, advice) in _HIDDEN_NOTES.items():
            rows = np.flatnonzero(kinds == kind)
            if not len(rows):
                continue
            letter = get_column_letter(column + 1)
            cells = ", ".join(f"{letter}{r + 2}" for r in rows[:5]) + (f" and {len(rows) - 5} more"
                                                                       if len(rows) > 5 else "")
            value, fmt = body[column].iat[rows[0]], formats[column].iat[rows[0]]
            shown = "" if kind == "day" else f"shows {_clock(pd.Timestamp(value).time())}, "
            held = f"holds {cell_text(value, fmt)}, " if kind == "dropped" else ""
            notes.append(f"{where} column '{name}': {len(rows)} {what} ({cells}; first: cell {letter}{rows[0] + 2}, "
                         f"format '{fmt}', {shown}{held}reads {cell_text(value, fmt, time_field)}); {advice}")
    return notes


def _empty(value: Any) -> bool:
    """Whether a value read from a cell is an empty cell: None as openpyxl gives it, or what pandas makes of one in a
    column it infers a type for (NaT among dates, NaN among numbers; NaT is a datetime.date to isinstance)."""
    return value is None or value is pd.NaT or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and not _empty(value)


def _clock(t: datetime.time) -> str:
    """hh:mm, hh:mm:ss when the time has seconds, hh:mm:ss.fff... when it has a fraction of one."""
    if t.microsecond:
        return t.strftime("%H:%M:%S.%f").rstrip("0")
    return t.strftime("%H:%M:%S") if t.second else t.strftime("%H:%M")


def _decimal_text(number: Decimal, places: int) -> str:
    """The number with at least `places` decimals, and every digit it has beyond them."""
    exponent = number.normalize().as_tuple().exponent
    digits = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return f"{number:.{max(places, digits)}f}"


_ELAPSED = re.compile(r"\[(h+|m+|s+)\]", re.IGNORECASE)  # an elapsed-time format's unit: [h]:mm, [mm]:ss

# what a format shows literally: "text", \x, _x (a space as wide as x), *x (fill), [Red] / [$-409] / [>100]
_LITERAL = re.compile(r'"[^"]*"|\\.|_.|\*.|\[[^\]]*\]')


@dataclass(frozen=True)
class _Section:
    percent: bool
    decimals: int  # the decimals always shown (the 0s after the point; a # shows a digit only when there is one)
    width: int = 0  # the digits always shown by a zero-padded whole-number format (00: 2), else 0


@functools.lru_cache(maxsize=256)
def _sections(fmt: str) -> tuple[str, ...]:
    return tuple(_LITERAL.sub("", part) for part in fmt.split(";"))


@functools.lru_cache(maxsize=1024)
def _section(fmt: str, negative: bool) -> _Section:
    """How a number format shows a number (its section for the sign: positive;negative;zero;text). Scientific
    and fraction formats are left as the stored number."""
    parts = _sections(fmt)
    part = parts[1] if negative and len(parts) > 1 else parts[0]
    if re.search(r"[eE][+-]|/|@", part) or part.strip().lower() == "general":
        return _Section(False, 0)
    decimals = re.search(r"\.([0#?]*)", part)
    padded = re.fullmatch(r"\s*(0+)\s*", part)
    return _Section("%" in part, decimals.group(1).count("0") if decimals else 0,
                    len(padded.group(1)) if padded else 0)


@functools.lru_cache(maxsize=256)
def _time_only(fmt: str) -> bool:
    """Whether a date format shows a time of day and no part of the date (hh:mm, h:mm AM/PM, mm:ss): an m is
    a minute after an h or before an s, else a month."""
    part = re.sub(r"am/pm|a/p", "", _sections(fmt)[0].lower())
    if any(c in part for c in "dye") or not any(c in part for c in "hs"):
        return False
    units = [u[0] for u in re.findall(r"h+|m+|s+", part)]
    return all(u != "m" or (i > 0 and units[i - 1] == "h") or (i + 1 < len(units) and units[i + 1] == "s")
               for i, u in enumerate(units))


@functools.lru_cache(maxsize=256)
def _date_shows(fmt: str) -> str:
    """The finest part of a date a date format shows: "day" (a day or a time of day is shown), "month" (mmm-yy,
    mm/yyyy) or "year" (yyyy)."""
    part = _sections(fmt)[0].lower()
    if any(c in part for c in "dhs"):
        return "day"
    if "m" in part:
        return "month"
    return "year" if "y" in part else "day"


def percent_units(frame: pd.DataFrame, percent: pd.DataFrame, where: str
                  ) -> tuple[pd.DataFrame, list[CellProblem], list[str]]:
    """What a percent cell means for its row: a `result` shown as 65% in a form with a `unit` column is 65 with
    the unit % (a blank unit cell becomes %; a unit cell holding another unit contradicts it: the row is
    rejected). Any column's percent cells are named in a note (the number read is the number shown)."""
    problems, notes = [], []
    for column in percent.columns:
        mask = percent[column]
        if not mask.any():
            continue
        n = int(mask.sum())
        note = f"{where} column '{column}': {n} cell(s) formatted as a percent read as the number shown (65% reads 65)"
        if column == "result" and "unit" in frame.columns:
            unit = frame["unit"]
            frame["unit"] = unit.where(~(mask & unit.eq("")), PERCENT)
            clash = mask & ~frame["unit"].eq(PERCENT)
            if clash.any():
                reason = ("the result cell is formatted as a percent (" + frame["result"] + "%) but the unit is '"
                          + frame["unit"] + "': which is right? give the number in the result cell and its unit in "
                          "the unit cell")
                problems.append(CellProblem("result", clash, reason.where(clash, ""), "REJ-REC-130"))
            note += f", with the unit '{PERCENT}' where the unit cell is blank"
        notes.append(note)
    return frame, problems, notes
