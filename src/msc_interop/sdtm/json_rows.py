"""Where each row of a Dataset-JSON file starts, found without parsing the file: what lets a reader take a range
of rows of a file too big to parse whole (validate of a big SDTM folder, validate/folder_chunks.py).

- NDJSON: the metadata is line 1, every other non-blank line is one row.
- JSON: the rows are the array under the top-level key "rows"; the file's bytes are scanned a block at a time
  (numpy): quotes not escaped by a backslash open and close strings, and the brackets outside strings give the
  depth; a row starts at each "[" that opens depth 3 inside the rows array.

`RowIndex.rows(a, b)` parses rows a..b-1 (one orjson call). A file whose rows cannot be told apart this way
(a row that is not an array, text between rows) raises NotIndexable: the caller reads the file whole.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from msc_interop.sdtm.xpt_layout import release

_BLOCK = 8 << 20
_BOM = b"\xef\xbb\xbf"
_WHITE = b" \t\r\n"


class NotIndexable(Exception):
    """The file's rows cannot be located without parsing it whole."""


@dataclass
class RowIndex:
    """The rows of one Dataset-JSON file: the metadata (everything but the rows) and where each row starts."""

    path: Path
    ndjson: bool
    header: dict[str, Any]
    starts: np.ndarray  # byte offset of each row
    end: int  # where the last row's text ends (JSON: the "]" closing the rows; NDJSON: the file's end)

    def __len__(self) -> int:
        return len(self.starts)

    def rows(self, a: int, b: int) -> list[Any]:
        """Rows a..b-1, parsed; NotIndexable when their text does not hold exactly those rows."""
        if a >= b:
            return []
        with open(self.path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as raw:
            stop = int(self.starts[b]) if b < len(self.starts) else self.end
            text = raw[int(self.starts[a]):stop]
        if self.ndjson:
            lines = [ln for ln in text.split(b"\n") if ln.strip()]
            body = b",".join(lines)
        else:
            body = text.rstrip(_WHITE).rstrip(b",")
        try:
            got = orjson.loads(b"[" + body + b"]")
        except orjson.JSONDecodeError as exc:
            raise NotIndexable(f"{self.path.name}: rows {a + 1}-{b}: {exc}") from None
        if len(got) != b - a:
            raise NotIndexable(f"{self.path.name}: rows {a + 1}-{b} hold {len(got)} values")
        return got


def index_rows(path: Path, ndjson: bool) -> RowIndex:
    """The row index of a Dataset-JSON (.json) or NDJSON file (NotIndexable: read it whole)."""
    with open(path, "rb") as fh:
        if fh.seek(0, 2) == 0:
            raise NotIndexable(f"{path.name}: empty file")
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as raw:
            begin = 3 if raw[:3] == _BOM else 0
            problem = None
            try:
                return _ndjson(path, raw, begin) if ndjson else _json(path, raw, begin)
            except NotIndexable as exc:  # raised once the map can close (the traceback holds views of it)
                problem = str(exc)
    raise NotIndexable(problem)


def _loads_header(path: Path, text: bytes) -> dict[str, Any]:
    try:
        header = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise NotIndexable(f"{path.name}: metadata: {exc}") from None
    if not isinstance(header, dict):
        raise NotIndexable(f"{path.name}: the metadata is not an object")
    return header


def _ndjson(path: Path, raw: mmap.mmap, begin: int) -> RowIndex:
    size = len(raw)
    first = raw.find(b"\n", begin)
    first = size if first < 0 else first
    header = _loads_header(path, raw[begin:first])
    starts: list[np.ndarray] = []
    firsts: list[np.ndarray] = []  # the first byte of each line (a newline: the line is empty)
    for at in range(first + 1, size, _BLOCK):
        block = np.frombuffer(raw, dtype=np.uint8, count=min(_BLOCK, size - at), offset=at)
        nl = np.flatnonzero(block == 10)
        local = np.concatenate(([0], nl + 1)) if at == first + 1 else nl + 1
        local = local[local + at < size]
        inside = local < len(block)
        first_bytes = np.full(len(local), 10, dtype=np.uint8)
        first_bytes[inside] = block[local[inside]]
        if not inside.all():  # a line starting right after this block
            first_bytes[~inside] = raw[at + len(block)]
        starts.append(local.astype(np.int64) + at)
        firsts.append(first_bytes)
        del block
        release(raw, at + _BLOCK)
    all_starts = np.concatenate(starts) if starts else np.empty(0, dtype=np.int64)
    first_bytes = np.concatenate(firsts) if firsts else np.empty(0, dtype=np.uint8)
    # a line is a row unless blank: empty (its first byte a newline) or, rarely, only white space
    keep = first_bytes != 10
    for i in np.flatnonzero(keep & np.isin(first_bytes, np.frombuffer(b" \t\r", dtype=np.uint8))).tolist():
        end = raw.find(b"\n", int(all_starts[i]))
        keep[i] = bool(raw[int(all_starts[i]):size if end < 0 else end].strip())
    all_starts = all_starts[keep]
    return RowIndex(path, True, header, all_starts, size)


def _json(path: Path, raw: mmap.mmap, begin: int) -> RowIndex:
    size = len(raw)
    depth, in_string = 0, False
    rows_open = rows_close = -1
    starts: list[np.ndarray] = []
    open_sq, close_sq = ord("["), ord("]")
    for at in range(begin, size, _BLOCK):
        block = np.frombuffer(raw, dtype=np.uint8, count=min(_BLOCK, size - at), offset=at)
        quotes = np.flatnonzero(block == 34)
        if len(quotes):
            quotes = quotes[~_escaped(raw, quotes + at)]
        marks = np.flatnonzero((block == open_sq) | (block == close_sq) | (block == 123) | (block == 125))
        # outside a string: an even number of real quotes before it (counting the carried state)
        inside = (np.searchsorted(quotes, marks) + in_string) % 2 == 1
        marks = marks[~inside]
        kinds = block[marks]
        delta = np.where((kinds == open_sq) | (kinds == 123), 1, -1)
        after = depth + np.cumsum(delta)
        pos = marks + at
        if rows_open < 0:
            for k in np.flatnonzero((kinds == open_sq) & (after == 2)).tolist():
                if _keyed_rows(raw, int(pos[k])):
                    rows_open = int(pos[k])
                    break
        if rows_open >= 0:
            inside_rows = pos > rows_open
            closing = np.flatnonzero(inside_rows & (kinds == close_sq) & (after == 1))
            limit = pos[closing[0]] if len(closing) else size
            if len(closing) and rows_close < 0:
                rows_close = int(limit)
            if rows_close < 0 or rows_close >= at:
                row = inside_rows & (pos < limit) & (kinds == open_sq) & (after == 3)
                starts.append(pos[row].astype(np.int64))
                if ((after[inside_rows & (pos < limit)] == 3) & (kinds[inside_rows & (pos < limit)] == 123)).any():
                    del block
                    raise NotIndexable(f"{path.name}: a row is an object, not an array")
        depth = int(after[-1]) if len(after) else depth
        in_string = bool((len(quotes) + in_string) % 2)
        del block
        release(raw, at)  # (the block's last bytes may be looked back at: escapes, the "rows" key)
        if rows_close >= 0:
            break
    if rows_open < 0 or rows_close < 0:
        raise NotIndexable(f"{path.name}: no top-level 'rows' array found")
    header = _loads_header(path, raw[begin:rows_open + 1] + raw[rows_close:])
    header.pop("rows", None)
    all_starts = np.concatenate(starts) if starts else np.empty(0, dtype=np.int64)
    lead = raw[rows_open + 1:int(all_starts[0]) if len(all_starts) else rows_close]
    if lead.strip(_WHITE):
        raise NotIndexable(f"{path.name}: a row is not an array")
    return RowIndex(path, False, header, all_starts, rows_close)


def _escaped(raw: mmap.mmap, quotes: np.ndarray) -> np.ndarray:
    """Whether each quote (file offsets) is escaped: an odd run of backslashes before it."""
    out = np.zeros(len(quotes), dtype=bool)
    if not len(quotes):
        return out
    before = np.frombuffer(raw, dtype=np.uint8)[np.maximum(quotes - 1, 0)]
    for i in np.flatnonzero((before == 92) & (quotes > 0)).tolist():
        k, n = int(quotes[i]) - 1, 0
        while k >= 0 and raw[k] == 92:
            n, k = n + 1, k - 1
        out[i] = n % 2 == 1
    return out


def _keyed_rows(raw: mmap.mmap, at: int) -> bool:
    """Whether the array opening at `at` is the value of the key "rows"."""
    before = raw[max(0, at - 256):at].rstrip(_WHITE)
    return before.endswith(b":") and before[:-1].rstrip(_WHITE).endswith(b'"rows"')
