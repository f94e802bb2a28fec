"""Read a SAS XPORT v5 file column-wise (numpy), as pyreadstat.read_xport reads it but without its per-cell loop.

pyreadstat took 70% of `summary` on a 1M-row LB and most of every command that reads an SDTM package; the rows
of an XPT v5 file are fixed-width records after the OBS header (SAS TS-140, see xpt_layout.py), so a whole
column is one strided slice of the bytes:

- numbers: IBM System/370 doubles (1 sign bit, 7-bit excess-64 base-16 exponent, 56-bit fraction; a NAMESTR
  length below 8 keeps the leading bytes) -> IEEE float64, the fraction truncated to 53 bits as ReadStat does
  (an unnormalised fraction, which SAS never writes, is read as its value, where ReadStat's may differ); a SAS
  missing value (".", ".A"-".Z", "._": the first byte 0x2E, 0x41-0x5A or 0x5F and the rest zero) -> NaN;
- text: each distinct value's bytes decoded once, trailing blanks stripped (leading ones kept), as pyreadstat.

`decimals=True` (read_xpt) gives the value the writer meant instead: SAS states 15 significant digits for an
8-byte number ("Significant Digits and Largest Integer by Length for SAS Variables", SAS 9.4 Companion for
Windows / UNIX: length 8, 15 digits) and shows no more, but the IBM format holds a decimal inexactly: 8.55
written as the nearest IBM double reads back, truncated to 53 bits, as 8.549999999999999, and the pilot's CMDOSE
0.4 is stored as the IBM pattern of 0.39999999999999997. Every number with a fraction is therefore rounded to 15
significant digits. 15 are enough and never too few for such values: the IBM rounding plus the truncation move
a value by under 2**-51 of itself, less than half the step between 15-digit decimals (at least 5e-16 of it),
so every decimal of up to 15 digits comes back exactly as written. Whole numbers (integers, SAS dates, counts:
exact in both formats below 2**53) are kept bit for bit.

Only what this reader does exactly as pyreadstat is taken here (tests/sdtm/test_xpt_read.py holds the two equal
on every XPT in ../shared/external and on generated files); the rest goes to pyreadstat: the V8/V9 layout, a
numeric variable with a SAS date, time or datetime format (pyreadstat turns those into dates), and options.
"""

from __future__ import annotations

import mmap
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from msc_interop.sdtm.xpt_layout import RECORD, V5_LIBRARY

_MEMBER_AT, _DESCRIPTOR_AT, _NAMESTR_AT, _NAMESTRS_AT = 3 * RECORD, 5 * RECORD, 7 * RECORD, 8 * RECORD
_MISSING_FIRST = np.array([0x2E, 0x5F, *range(0x41, 0x5B)], dtype=np.uint8)


class NotHandled(Exception):
    """The file uses something this reader leaves to pyreadstat (the caller falls back)."""


@dataclass
class XptMeta:
    """What callers read of pyreadstat's metadata object, with the same attribute names."""

    table_name: str
    file_label: str | None
    column_names: list[str]
    column_labels: list[str | None]
    column_names_to_labels: dict[str, str | None]
    variable_storage_width: dict[str, int]
    original_variable_types: dict[str, str] = field(default_factory=dict)
    number_rows: int | None = None


@dataclass(frozen=True)
class _Variable:
    name: str
    numeric: bool
    length: int
    position: int
    label: bytes
    format_name: str


def read_xport_columns(path: Path, encoding: str = "utf-8", metadataonly: bool = False,
                       rows: tuple[int, int] | None = None, columns: Collection[str] | None = None,
                       decimals: bool = False) -> tuple[pd.DataFrame, XptMeta]:
    """(data, metadata) of a one-dataset XPT v5 file; text decoded with `encoding` (UnicodeDecodeError as
    pyreadstat raises it when the bytes are not text in it). Raises NotHandled for what pyreadstat must read.
    `rows` (start, stop): only those records (fixed width: no other is read), as the whole read gives them,
    indexed from 0; meta.number_rows stays the file's. `columns`: only those variables (in the file's order);
    the text of the others is still checked to be `encoding` (the same error as a whole read), not decoded; a
    date-formatted number among the others is no reason for NotHandled. `decimals`: numbers as the writer meant
    them (see the module docstring), not as pyreadstat gives them."""
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as raw:
        if not raw[:RECORD].startswith(V5_LIBRARY):
            raise NotHandled("not the V5 layout")
        variables, obs_at = _variables(raw)
        if any(not v.numeric and v.length < 1 for v in variables) or any(
                v.numeric and not 2 <= v.length <= 8 for v in variables):
            raise NotHandled("a variable length outside what TS-140 allows")
        if any(v.numeric and is_date_format(v.format_name) and (columns is None or metadataonly or v.name in columns)
               for v in variables):
            raise NotHandled("a date/time format (pyreadstat converts those to dates)")
        descriptor = raw[_DESCRIPTOR_AT:_DESCRIPTOR_AT + 2 * RECORD]
        row_len = sum(v.length for v in variables)
        n_rows = _row_count(raw, obs_at, row_len)
        labels = [v.label.rstrip(b" \x00").decode(encoding) or None for v in variables]  # None: as pyreadstat
        meta = XptMeta(
            table_name=descriptor[8:16].rstrip(b" \x00").decode("ascii", "replace"),
            file_label=descriptor[RECORD + 32:RECORD + 72].rstrip(b" \x00").decode(encoding) or None,
            column_names=[v.name for v in variables], column_labels=labels,
            column_names_to_labels={v.name: lab for v, lab in zip(variables, labels, strict=True)},
            variable_storage_width={v.name: v.length for v in variables},
            original_variable_types={v.name: ("NUM" if v.numeric else "CHAR") for v in variables},
            number_rows=n_rows)
        if metadataonly:
            return pd.DataFrame(columns=meta.column_names), meta
        a, b = (0, n_rows) if rows is None else (max(0, min(rows[0], n_rows)), max(0, min(rows[1], n_rows)))
        b = max(a, b)
        wanted = None if columns is None else set(columns)
        data, failed = _columns(raw, obs_at + a * row_len, b - a, row_len, variables, encoding, wanted, decimals)
    if failed is not None:  # raised here, once the map is closed (its traceback held views of the map)
        raise failed
    frame = pd.DataFrame(data, index=pd.RangeIndex(b - a))
    return frame, meta


def _columns(raw: mmap.mmap, obs_at: int, n_rows: int, row_len: int, variables: list[_Variable], encoding: str,
             wanted: set[str] | None = None, decimals: bool = False
             ) -> tuple[dict[str, np.ndarray], UnicodeDecodeError | None]:
    """Every column (those `wanted`) as a new array; text that is not `encoding` is returned as an error without
    traceback, of a column not wanted too."""
    # a view of the mapped file (no copy), gone when this returns: the map can then close
    rows = np.frombuffer(raw, dtype=np.uint8, count=n_rows * row_len, offset=obs_at).reshape(n_rows, row_len)
    columns: dict[str, np.ndarray] = {}
    try:
        for v in variables:
            cells = rows[:, v.position:v.position + v.length]
            if wanted is None or v.name in wanted:
                columns[v.name] = _numbers(cells, decimals) if v.numeric else _texts(cells, encoding)
            elif not v.numeric and n_rows and cells.max() >= 0x80:  # ASCII is text in every encoding read here
                _texts(cells, encoding)
    except UnicodeDecodeError as exc:
        return {}, UnicodeDecodeError(*exc.args)
    return columns, None


def _variables(raw: mmap.mmap) -> tuple[list[_Variable], int]:
    member, names = raw[_MEMBER_AT:_MEMBER_AT + RECORD], raw[_NAMESTR_AT:_NAMESTR_AT + RECORD]
    namestr_size, n_vars = int(member[74:78]), int(names[54:58])
    block = raw[_NAMESTRS_AT:_NAMESTRS_AT + n_vars * namestr_size]
    variables = []
    for k in range(n_vars):
        ns = block[k * namestr_size:(k + 1) * namestr_size]
        variables.append(_Variable(
            name=ns[8:16].rstrip(b" \x00").decode("ascii", "replace"),
            numeric=int.from_bytes(ns[0:2], "big") == 1,
            length=int.from_bytes(ns[4:6], "big"),
            position=int.from_bytes(ns[84:88], "big"),
            label=ns[16:56],
            format_name=ns[56:64].rstrip(b" \x00").decode("ascii", "replace").upper()))
    positions = np.cumsum([0] + [v.length for v in variables[:-1]]).tolist()
    if [v.position for v in variables] != positions:
        raise NotHandled("variables not stored back to back in NAMESTR order")
    obs_at = _NAMESTRS_AT + -(-(n_vars * namestr_size) // RECORD) * RECORD + RECORD
    return variables, obs_at


def numeric_formats(path: Path) -> dict[str, str]:
    """Each numeric variable of a one-dataset XPT v5 file -> its SAS format as SAS writes it ("DATETIME20.",
    "DATE9.", "" for none), from the header alone (a V8 file: as pyreadstat reads its header); {} for a file
    that cannot be read."""
    try:
        with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as raw:
            if not raw[:RECORD].startswith(V5_LIBRARY):
                return _pyreadstat_formats(path)
            variables, _ = _variables(raw)
            widths = {k: (int.from_bytes(raw[at + 64:at + 66], "big"), int.from_bytes(raw[at + 66:at + 68], "big"))
                      for k, at in _namestr_offsets(raw, len(variables))}
    except (OSError, ValueError, NotHandled):
        return {}
    return {v.name: f"{v.format_name}{widths[k][0] or ''}.{widths[k][1] or ''}" if v.format_name else ""
            for k, v in enumerate(variables) if v.numeric}


def _pyreadstat_formats(path: Path) -> dict[str, str]:
    import pyreadstat

    try:
        _, meta = pyreadstat.read_xport(str(path), metadataonly=True, encoding="latin1")
    except (pyreadstat.ReadstatError, pyreadstat.PyreadstatError, OSError, ValueError):
        return {}
    formats = meta.original_variable_types or {}
    return {c: formats.get(c) or "" for c, t in (meta.readstat_variable_types or {}).items() if t == "double"}


def _namestr_offsets(raw: mmap.mmap, n_vars: int) -> Iterator[tuple[int, int]]:
    namestr_size = int(raw[_MEMBER_AT + 74:_MEMBER_AT + 78])
    return ((k, _NAMESTRS_AT + k * namestr_size) for k in range(n_vars))


def _row_count(raw: mmap.mmap, obs_at: int, row_len: int) -> int:
    """Whole rows before the blank padding (xpt_layout.check_xpt_layout has already refused a cut file): the
    padding is fewer than 80 blanks, so a trailing all-blank "row" that starts inside it is padding."""
    if row_len == 0:
        return 0
    size = len(raw)
    n = (size - obs_at) // row_len
    while n > 0 and size - (obs_at + (n - 1) * row_len) < RECORD and \
            not raw[obs_at + (n - 1) * row_len:obs_at + n * row_len].strip(b" "):
        n -= 1
    return n


_DATE_FORMATS = ("DATE", "DDMMYY", "MMDDYY", "YYMMDD", "E8601DA", "B8601DA", "IS8601DA", "WEEKDATE", "MONYY",
                 "DATETIME", "E8601DT", "B8601DT", "IS8601DT", "TIME", "HHMM", "E8601TM", "IS8601TM", "TOD",
                 "NLDATE", "MINGUO", "JULIAN", "YYQ", "WORDDATE", "DTDATE", "DOWNAME", "YEAR", "QTR", "MONTH")


def is_date_format(name: str) -> bool:
    """Whether a SAS format (DATE9., DATETIME20., E8601DA., TIME8., ...) shows a number as a date or time."""
    return bool(name) and name.rstrip("0123456789.").startswith(_DATE_FORMATS)


def _numbers(cells: np.ndarray, decimals: bool = False) -> np.ndarray:
    """(n, length) bytes of IBM doubles -> float64, SAS missing values as NaN; `decimals`: a number with a
    fraction rounded to 15 significant digits (the module docstring says why)."""
    n, length = cells.shape
    full = np.zeros((n, 8), dtype=np.uint8)
    full[:, :length] = cells
    bits = full.view(">u8").reshape(n).astype(np.uint64)
    first = full[:, 0]
    missing = np.isin(first, _MISSING_FIRST) & (bits & np.uint64(0x00FF_FFFF_FFFF_FFFF) == 0)
    fraction = bits & np.uint64(0x00FF_FFFF_FFFF_FFFF)
    # keep the 53 significant bits an IEEE double holds and drop the rest (truncation, as TS-140's xpt2ieee and
    # ReadStat do; SAS writes normalised fractions, whose first hex digit says how many bits to drop)
    top = (fraction >> np.uint64(52)).astype(np.int64)
    drop = np.select([top >= 8, top >= 4, top >= 2], [3, 2, 1], 0).astype(np.uint64)
    fraction = ((fraction >> drop) << drop).astype(np.float64)
    exponent = ((first & 0x7F).astype(np.int64) - 64) * 4 - 56
    value = np.ldexp(fraction, exponent)
    value = np.where(first & 0x80, -value, value)
    value[missing] = np.nan
    if decimals:
        fractional = ~missing & (value != np.trunc(value))
        if fractional.any():
            value[fractional] = significant_15(value[fractional])
    return value


_POW10 = np.array([float(10 ** k) for k in range(23)])  # exact doubles: 10**22 is the largest power held exactly
_DIGITS = 15


def significant_15(x: np.ndarray) -> np.ndarray:
    """Each finite value rounded to 15 significant digits (the double nearest that decimal, as
    float(f"{v:.15g}")); 1e15 and larger (no fraction left at 15 digits) kept. Vectorised and exact: the real
    product |x| * 10**k is p + e exactly (p the double product, e its error, Dekker's two-product: 10**k is an
    exact double for k <= 22), so which integer n of 15 digits it rounds to, half to even as Python's
    formatting, is decided on p + e, not on p; n / 10**k is then correctly rounded as both are exact doubles.
    Only a value below 1e-8 (no exact 10**k) or within 1 of 15 digits' bounds (log10 may be one off there) is
    formatted by Python."""
    x = np.asarray(x, dtype="float64")
    out = x.copy()
    a = np.abs(x)
    todo = np.isfinite(a) & (a > 0) & (a < 1e15)
    if not todo.any():
        return out
    idx = np.flatnonzero(todo)
    a = a[idx]
    k = (_DIGITS - 1) - np.floor(np.log10(a)).astype(np.int64)
    p, e = _two_product(a, _POW10[np.clip(k, 0, 22)])
    n = np.rint(p)  # p's nearest integer, half to even; the exact p + e may lie past n +- 0.5
    t = p - n  # exact: |t| <= 0.5 and p has no bit below 2**-6 from 1e14 on, so 0.5 - t and -0.5 - t are exact
    # past the halfway point on either side: the neighbour. Exactly halfway only when k = 0 (a * 10**k, k > 0, is
    # never a half-integer: 5**k divides no power of two), so p is exact, e = 0 and rint already went to even
    n = n + (e > 0.5 - t) - (e < -0.5 - t)
    fine = (k >= 0) & (k <= 22) & (p >= 1e14 + 1) & (p < 1e15 - 1)
    fast = idx[fine]
    out[fast] = np.copysign(n[fine] / _POW10[k[fine]], x[fast])
    rest = idx[~fine]
    out[rest] = _formatted(x[rest])
    return out


def _two_product(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(p, e): p = a * b as a double and e its rounding error, a * b == p + e exactly (Dekker 1971, the split at
    2**27 + 1; no overflow or underflow for the magnitudes here: 1e-8 to 1e22)."""
    def split(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = 134217729.0 * v
        hi = c - (c - v)
        return hi, v - hi

    p = a * b
    ah, al = split(a)
    bh, bl = split(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _formatted(v: np.ndarray) -> np.ndarray:
    """Python's own 15-digit rounding, per value: for the few values the vectorised path leaves."""
    return np.array([float(f"{f:.{_DIGITS}g}") for f in v.tolist()], dtype="float64")


def _texts(cells: np.ndarray, encoding: str) -> np.ndarray:
    """(n, length) bytes -> object array of str, trailing blanks stripped, each distinct value decoded once."""
    n, length = cells.shape
    if not n:
        return np.array([], dtype=object)
    if length <= 8:  # short codes (DOMAIN, --TESTCD, flags, units): hash them as integers
        padded = np.zeros((n, 8), dtype=np.uint8)
        padded[:, :length] = cells
        codes, keys = pd.factorize(padded.view("<u8").reshape(n))
        raw = np.asarray(keys, dtype="<u8").view(np.uint8).reshape(-1, 8)[:, :length]
        uniques = [bytes(r) for r in raw]
    else:
        fixed = np.ascontiguousarray(cells).view(f"S{length}").reshape(n)
        codes, objs = pd.factorize(fixed.astype(object))  # hashing: far quicker than sorting byte strings
        uniques = objs.tolist()
    # numpy's S dtype drops trailing NULs; pyreadstat stops a value at its first NUL: the same for the
    # blank- or NUL-padded values SAS writes
    decoded = np.array([u.split(b"\x00", 1)[0].rstrip(b" ").decode(encoding) for u in uniques], dtype=object)
    return decoded[codes]
