"""One records CSV file as a text table whose every record knows the line of the file it starts on.

pandas parses the file (C, fast) but does not say where a record was: it skips blank lines, and a quoted value
may run over several lines. A stray '"' at the start of a cell opens such a value, and the rows up to the next
'"' silently become one cell of one row. This module places each record on its line and finds every record
that ran over several lines, so the reader can reject each of those lines by number (nothing swallowed) and
every other reject names the line a person finds in an editor or spreadsheet.

Cost: the common case (the parser found one record per non-blank line) is a numpy scan of the bytes for line
ends; only a file with fewer records than non-blank lines looks for line breaks inside values. Files the parser
refuses (a quote never closed, a row with more values than the header) are read again with Python's csv module
to name the line: those end the run anyway.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from msc_interop.distinct import per_distinct
from msc_interop.errors import InputError
from msc_interop.records.csv_arrow import Parsed, RowsWanted, parse_plain_csv, plain_frame, read_plain_csv

_BOM = b"\xef\xbb\xbf"
_BREAK = r"\r\n|\r|\n"  # a line break inside a value, counted once however it is written (as pandas splits lines)
_NOT_CONTROL = bytes(range(32, 127)) + b"\n\r" + bytes(range(128, 256))  # deleted, what is left is C0 or DEL
_CHUNK = 1 << 24  # bytes scanned at a time: the scan's own memory stays small whatever the file's size


def _positions(arr: np.ndarray, byte: int) -> np.ndarray:
    """Offsets of `byte` in `arr`, a chunk at a time (a whole-file boolean mask would be as big as the file)."""
    parts = [np.flatnonzero(arr[i:i + _CHUNK] == byte) + i for i in range(0, len(arr), _CHUNK)]
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class Span:
    """A record whose quoted value in `column` runs from line `first` to line `last` of the file."""

    first: int
    last: int
    column: str
    lines: tuple[tuple[int, str], ...]  # (line, its text) for each non-blank line of the span

    def reason(self, line: int) -> str:
        where = ("starts on this line" if line == self.first
                 else f"starts on line {self.first}")
        return (f"a quoted value of '{self.column}' {where} and ends on line {self.last}, so lines {self.first}-"
                f"{self.last} ran together into one row (a stray '\"' at the start of a cell, or a line break "
                "inside a value); a value may not span lines: fix the quotes or remove the line break")


@dataclass
class CsvTable:
    """The parsed records (text cells), the line each starts on, the records that spanned lines (left out
    of `frame`; the reader rejects each of their lines), and whether any byte is a control character other
    than a line end (if none, no cell holds one and the cell check can be skipped)."""

    frame: pd.DataFrame
    rows: np.ndarray
    spans: list[Span] = field(default_factory=list)
    control: bool = True
    kept_wanted: bool = False  # only the records `wanted` asked for (read_csv_text); else all of them


def _has_control(raw: bytes) -> bool:
    """Whether the file holds a control character: a C0 byte other than a line end, DEL, or C1 (UTF-8 C2 80..C2
    9F); two C-level passes."""
    return bool(raw.translate(None, _NOT_CONTROL)) or (b"\xc2" in raw and
                                                       re.search(rb"\xc2[\x80-\x9f]", raw) is not None)


def _lines_end_at_newline(raw: bytes) -> bool:
    """Whether every line ends at \n (no \r) and the first is not blank: then, with Arrow's count of the records
    equal to the lines after the header, every line is a record (Arrow skips a blank line: its count is then
    short, and the file is _Lines'). (A line of spaces is not a record for pandas either: in a file of two columns
    or more it has too few values, and Arrow refuses it.)"""
    return bool(raw) and b"\r" not in raw and not raw.startswith((b"\n", _BOM + b"\n"))


class _Lines:
    """Where each line of the file starts and ends (bytes), and which lines are not blank; lines end at
    \\n, \\r\\n or \\r, as pandas reads them; a blank line holds nothing but spaces and tabs (pandas skips it)."""

    def __init__(self, raw: bytes):
        self.raw = raw
        arr = np.frombuffer(raw, dtype=np.uint8)
        ends = _positions(arr, 10)
        crlf = lone = np.zeros(0, dtype=np.int64)
        if b"\r" in raw:
            cr = _positions(arr, 13)
            follow = np.minimum(cr + 1, len(arr) - 1)
            lone = cr[(cr + 1 >= len(arr)) | (arr[follow] != 10)]
            crlf = cr[(cr + 1 < len(arr)) & (arr[follow] == 10)]
            ends = np.union1d(ends, lone)
        self.lone_cr = bool(len(lone))  # a line ended by \r alone (classic Mac OS)
        self.starts = np.concatenate(([0], ends + 1)).astype(np.int64)
        self.ends = np.concatenate((ends, [len(arr)])).astype(np.int64)
        if len(crlf):  # the \r of \r\n is part of the line end, not of the line
            self.ends[np.isin(self.ends - 1, crlf)] -= 1
        length = self.ends - self.starts
        blank = length <= 0
        first = np.zeros(len(length), dtype=np.uint8)
        first[~blank] = arr[self.starts[~blank]]
        for i in np.flatnonzero(~blank & ((first == 32) | (first == 9))).tolist():  # few: look at each
            blank[i] = raw[self.starts[i]:self.ends[i]].strip(b" \t") == b""
        self.nonblank = np.flatnonzero(~blank) + 1  # 1-based line numbers
        self.control = _has_control(raw)

    def text(self, line: int) -> str:
        i = line - 1
        return self.raw[self.starts[i]:self.ends[i]].decode("utf-8", errors="replace").removeprefix("\ufeff")


@dataclass(frozen=True)
class PlainParse:
    """A plain file's records as read_csv_text's first way parses them (csv_arrow.parse_plain_csv), and the line
    each starts on."""

    parsed: Parsed
    lines: np.ndarray


@dataclass(frozen=True)
class PreparsedFile:
    """A form file's bytes and its plain parse, made once before a load forks (sdtm/load_in_two.py), so that
    neither process reads or parses it again."""

    raw: bytes
    plain: PlainParse


def parse_plain_file(raw: bytes, threads: bool = False) -> tuple[PlainParse | None, bool]:
    """read_csv_text's first way: a file with a header of several columns, no control character and one record
    a line, parsed by Arrow (`threads`: on every core). Returns the parse (None: not read so) and whether the file
    looked plain but Arrow refused it or counted fewer records than lines (blank lines)."""
    header = _first_line(raw).split(",") if _lines_end_at_newline(raw) else []
    if len(header) <= 1:
        return None, False
    if threads:  # the scans (~0.12 s of a 96 MB file, holding the GIL) while Arrow parses (not holding it)
        with ThreadPoolExecutor(1, thread_name_prefix="msc-interop-scan") as pool:
            scans = pool.submit(_control_and_lines, raw)
            parsed = parse_plain_csv(raw, header, None, threads)
            control, n_lines = scans.result()
    else:
        control, n_lines, parsed = _has_control(raw), 0, None
        if not control:
            n_lines = _line_count(raw)
            parsed = parse_plain_csv(raw, header, n_lines - 1)
    if control:
        return None, False
    if parsed is None or len(next(iter(parsed.values()))[0]) != n_lines - 1:  # every line a record? (Arrow skips
        return None, True  # a blank line: its count is then short)
    return PlainParse(parsed, np.arange(2, n_lines + 1, dtype=np.int64)), False


def _line_count(raw: bytes) -> int:
    return raw.count(b"\n") + (not raw.endswith(b"\n"))


def _control_and_lines(raw: bytes) -> tuple[bool, int]:
    control = _has_control(raw)
    return control, 0 if control else _line_count(raw)


def utf8_text(raw: bytes, name: str) -> str:
    """UTF-8 (with or without BOM) only; name the line of the first bad byte so the user can fix the export."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(
            f"{name}: not UTF-8 text (line {line}, byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "save the file as UTF-8 (Excel: 'CSV UTF-8 (Comma delimited)')"
        ) from None


def read_csv_text(raw: bytes, decode: Callable[[], str], name: str, wanted: RowsWanted | None = None,
                  plain: PlainParse | None = None) -> CsvTable:
    """Parse a records CSV into text cells, with the line each record starts on. `decode()`: `raw` as text, or
    InputError naming the line of a byte that is not UTF-8; called only where pandas reads the file (Arrow checks
    a plain file's UTF-8 itself) or an error message needs the text: a 100 MB file is not copied as text.
    Raises InputError naming the line for a quote never closed or a row with more values than the header.
    `wanted`: the records to keep, where Arrow reads the file (csv_arrow.read_plain_csv; `kept_wanted` says so).
    `plain`: the file's plain parse made already (parse_plain_file)."""
    short = False  # Arrow read the file but counted fewer records than lines after the header: blank lines
    if plain is None:  # a plain file: Arrow's reader, its distinct values known
        plain, short = parse_plain_file(raw)
    if plain is not None:
        return _plain_table(*plain_frame(plain.parsed, wanted), plain.lines)
    header = _first_line(raw).split(",") if _lines_end_at_newline(raw) else []
    lines = _Lines(raw)
    if (len(header) <= 1 or (short and len(lines.nonblank) < len(lines.starts))) and not lines.control \
            and len(lines.nonblank):  # (blank lines, \r line ends, one column: the records counted on _Lines'
        # non-blank lines)
        read = read_plain_csv(raw, _header_cells(lines), len(lines.nonblank) - 1, wanted)
        if read is not None:
            return _plain_table(*read, lines.nonblank[1:].copy())
    text = decode()  # UTF-8 checked (InputError naming the line) before pandas reads the bytes
    if lines.lone_cr:  # pandas' C parser shifts the cells of a record after a blank line ended by a lone \r
        raw = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")  # ('a,b\r\r,1' gave ['1', '']): the same lines
    try:  # from the bytes (already checked to be UTF-8): pandas' C parser reads them without a copy as str
        df = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8-sig")
    except pd.errors.ParserError as exc:
        raise _unparsable(text, name, exc) from None
    if not isinstance(df.index, pd.RangeIndex):  # pandas made the first columns an index: the first row is long
        raise _unparsable(text, name, None)
    header_breaks = [c for c in df.columns if "\n" in str(c) or "\r" in str(c)]
    if header_breaks:
        raise InputError(f"{name} line 1: the header cell {header_breaks[0]!r} spans lines (a stray '\"'?); "
                         "write each column name on the header line")
    if len(lines.nonblank) == len(df) + 1:  # one record per non-blank line: the common case
        return CsvTable(df, lines.nonblank[1:].copy(), control=lines.control)
    breaks = _breaks_per_record(df)
    starts = _record_lines(lines.nonblank, np.concatenate(([0], breaks)))[1:]
    spanned = np.flatnonzero(breaks)
    spans = []
    for i in spanned.tolist():
        first, last = int(starts[i]), int(starts[i] + breaks[i])
        column = next(c for j, c in enumerate(df.columns) if _has_break(df.iat[i, j]))
        inside = lines.nonblank[(lines.nonblank >= first) & (lines.nonblank <= last)].tolist()
        spans.append(Span(first, last, str(column), tuple((n, lines.text(n)) for n in inside)))
    keep = breaks == 0
    return CsvTable(df[keep].reset_index(drop=True), starts[keep], spans, lines.control)


def span_records(spans: list[Span], header: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """Each line of `spans` read as the record it would be on its own, and its line: its cells by the header's
    columns ("" for a cell it does not hold, a cell holding a quote, and the rest of a line an unclosed quote runs
    to). What a rejected line's subject, visit and date can be told from (sdtm/lost_records.py)."""
    rows, lines = [], []
    for span in spans:
        for line, text in span.lines:
            cells = next(csv.reader([text]), [])
            if text.count('"') % 2 and cells:
                cells[-1] = ""
            cells = [c if '"' not in c else "" for c in cells[:len(header)]]
            rows.append(cells + [""] * (len(header) - len(cells)))
            lines.append(line)
    return pd.DataFrame(rows, columns=header, dtype=object), np.asarray(lines, dtype=np.int64)


def _plain_table(frame: pd.DataFrame, kept: np.ndarray | None, lines: np.ndarray) -> CsvTable:
    """The CsvTable of a file Arrow read (no control character), `lines` those of all its records."""
    return CsvTable(frame, lines if kept is None else lines[kept], control=False, kept_wanted=kept is not None)


def _first_line(raw: bytes) -> str:
    """The first line of a file whose lines end at \n ("" where it is not UTF-8: the file is then pandas')."""
    end = raw.find(b"\n")
    try:
        return raw[:end if end >= 0 else len(raw)].decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        return ""


def _header_cells(lines: _Lines) -> list[str]:
    """The first non-blank line split at commas (what a file without quotes names its columns); [] where it is
    not UTF-8 (the file is then pandas', whose reading reports the byte)."""
    i = int(lines.nonblank[0]) - 1
    try:
        return lines.raw[lines.starts[i]:lines.ends[i]].decode("utf-8").removeprefix("\ufeff").split(",")
    except UnicodeDecodeError:
        return []


def _has_break(value: object) -> bool:
    return isinstance(value, str) and ("\n" in value or "\r" in value)


def _breaks_per_record(df: pd.DataFrame) -> np.ndarray:
    """Line breaks inside the values of each record (per distinct value of each column)."""
    total = np.zeros(len(df), dtype=np.int64)
    for c in df.columns:
        total += per_distinct(lambda u: u.str.count(_BREAK).astype("int64"), df[c]).to_numpy(dtype=np.int64)
    return total


def _record_lines(nonblank: np.ndarray, breaks: np.ndarray) -> np.ndarray:
    """The line each record starts on: records without line breaks take the next non-blank lines in order; a
    record with k breaks covers k more lines, and the next record starts on the first non-blank line after."""
    n = len(breaks)
    starts = np.empty(n, dtype=np.int64)
    k = done = 0
    for s in np.flatnonzero(breaks).tolist():
        count = s - done + 1
        starts[done:s + 1] = _take(nonblank, k, count)
        k = int(np.searchsorted(nonblank, starts[s] + breaks[s], side="right"))
        done = s + 1
    starts[done:] = _take(nonblank, k, n - done)
    return starts


def _take(nonblank: np.ndarray, k: int, count: int) -> np.ndarray:
    out = nonblank[k:k + count]
    if len(out) != count:  # the parser and the line scan disagree: a bug here, not the user's problem
        raise RuntimeError(f"records CSV: {count} records but {len(out)} non-blank lines left from line index {k}")
    return out


# --- files the parser refuses -------------------------------------------------------------------------------

def _unparsable(text: str, name: str, exc: Exception | None) -> InputError:
    """The InputError for a file pandas cannot tabulate, naming the line: read again with Python's csv module
    (same quoting rules), which says on which line each record starts."""
    records = list(_records_with_lines(text))
    if records:
        header = records[0][1]
        for line, cells in records[1:]:
            if len(cells) > len(header):
                return InputError(
                    f"{name} line {line}: {len(cells)} values but the header has {len(header)} columns (a value "
                    "holding a comma must be in double quotes; or a comma too many); fix the row")
        line, cells = records[-1]
        if exc is not None and "EOF inside string" in str(exc):
            last = len(re.findall(_BREAK, text)) + (not text.endswith(("\n", "\r")))
            start = next((c for c in cells if _has_break(c)), "")[:60]
            return InputError(
                f"{name} line {line}: a quoted value starts on this line and is never closed (a stray '\"' at the "
                f"start of a cell?), so lines {line}-{last} would be one value ({start!r}...); remove the quote "
                "or close it")
    return InputError(f"{name}: cannot parse as CSV: {exc}")


def _records_with_lines(text: str) -> Iterator[tuple[int, list[str]]]:
    """(line it starts on, cells) of each non-blank record."""
    with _field_limit():
        reader = csv.reader(io.StringIO(text, newline=""))
        before = 0
        for cells in reader:
            start, before = before + 1, reader.line_num
            if not cells or (len(cells) == 1 and cells[0].strip(" \t") == ""):
                continue
            yield start, cells


@contextlib.contextmanager
def _field_limit() -> Iterator[None]:
    """A value that runs to the end of a big file is longer than csv's default field limit (128 KiB)."""
    old = csv.field_size_limit()
    csv.field_size_limit(sys.maxsize)
    try:
        yield
    finally:
        csv.field_size_limit(old)
