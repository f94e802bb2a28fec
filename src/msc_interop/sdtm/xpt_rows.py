"""The observation records of an XPT v5 file, written column-wise (numpy), in chunks.

pyreadstat writes a frame row by row from Python objects and needs the whole frame at once; a 1M-row LB spent
most of its write time there. The header (library, member, NAMESTR records: SAS TS-140) still comes from
pyreadstat, written for a one-row template whose text values have each variable's storage length, so names,
labels, types and lengths are stated exactly as pyreadstat states them; the rows after it are built here:

- character values: the encoded bytes of each distinct value, blank-padded to the variable's length;
- numbers: IBM System/370 double precision (TS-140), exact for every IEEE double in the IBM range (an IEEE
  significand has 53 bits, the IBM fraction 56, so the conversion only moves the binary point); NaN is the SAS
  missing value "." (0x2E then seven zero bytes); -0.0, underflow and overflow as ReadStat writes them;
- the file ends blank-padded to a whole 80-byte record.

tests/sdtm/test_xpt_rows.py holds it to pyreadstat byte for byte (pyreadstat stays the reference).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import BinaryIO

import numpy as np
import pandas as pd

from msc_interop.distinct import column_codes
from msc_interop.sdtm.xpt_layout import RECORD

CHUNK_ROWS = 65_536  # rows encoded at once at most: bounds the memory of a write to a few tens of MB
CHUNK_BYTES = 1 << 20  # records assembled at once: each variable's bytes are copied into rows of a block this
# size, which stays in the processor's cache while every variable is written into it (17 MB blocks of 1M LB rows:
# each 8-byte piece of each variable went to memory and back; XPT write 1.3 -> 0.85 s)
TABLE_BYTES = 16 << 20  # a column whose distinct values encode in at most this many bytes is encoded once
_MISSING = np.uint64(0x2E << 56)
IBM_SATURATES = 2.0 ** 249  # from here on ReadStat (the reference writer) writes the largest IBM pattern


def storage_widths(frame: pd.DataFrame, encoding: str, least: Mapping[str, int] | None = None) -> dict[str, int]:
    """Bytes each variable takes in a record: 8 for a number; for text its longest encoded value (at least 1,
    and at least `least[var]`, a package's own storage length)."""
    out = {}
    for col in frame.columns:
        s = frame[col]
        if pd.api.types.is_numeric_dtype(s):
            out[str(col)] = 8
            continue
        uniques = column_codes(s)[1]
        longest = max((len(v.encode(encoding)) for v in uniques if isinstance(v, str)), default=0)
        out[str(col)] = max(1, longest, int((least or {}).get(str(col), 0)))
    return out


def template_row(frame: pd.DataFrame, widths: Mapping[str, int]) -> pd.DataFrame:
    """One ASCII row with each text variable exactly as long as its width: pyreadstat sizes the header from it."""
    data = {}
    for col in frame.columns:
        s = frame[col]
        data[col] = [0.0] if pd.api.types.is_numeric_dtype(s) else ["x" * widths[str(col)]]
    out = pd.DataFrame(data)
    for col in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[col]):
            out[col] = out[col].astype(object)
    return out


def ibm_doubles(values: np.ndarray) -> np.ndarray:
    """IEEE doubles -> IBM double bit patterns (uint64, to be written big-endian), as ReadStat writes them
    outside the IBM range: a magnitude below 16**-65 is 0; one of 2 * 16**62 (2**249) or more, or an infinity,
    is the largest pattern with its sign (0x7FFF... / 0xFFFF..., which reads back as an infinity). ReadStat saturates
    from 2**249 on, below the IBM format's own 16**63 (seen by writing 16**62 * 1.5 -> 7F18..., 16**62 * 2 ->
    7FFF...; tests/sdtm/test_xpt_rows.py's random frames found it)."""
    x = np.asarray(values, dtype="float64")
    missing = np.isnan(x)
    infinite = np.isinf(x)
    mag = np.where(missing | infinite, 0.0, np.abs(x))
    m, e = np.frexp(mag)  # mag = m * 2**e, 0.5 <= m < 1
    e = e.astype(np.int64)
    exp16 = -((-e) // 4)  # ceil(e / 4): mag = f * 16**exp16 with 1/16 <= f < 1
    shift = e - 4 * exp16  # 0, -1, -2 or -3
    biased = exp16 + 64
    fraction = np.ldexp(m, 56 + shift).astype(np.uint64)  # an integer < 2**56, exactly representable
    bits = (np.clip(biased, 0, 127).astype(np.uint64) << np.uint64(56)) | fraction
    sign = np.where(x < 0, np.uint64(1) << np.uint64(63), np.uint64(0)).astype(np.uint64)
    bits = np.where((mag == 0) | (biased < 0), np.uint64(0), bits | sign)
    bits = np.where(infinite | (biased > 127) | (mag >= IBM_SATURATES), sign | np.uint64(0x7FFF_FFFF_FFFF_FFFF), bits)
    return np.where(missing, _MISSING, bits).astype(np.uint64)


def _value_table(uniques: object, width: int, encoding: str) -> np.ndarray:
    """(distinct values + 1, width) uint8: each value's encoded bytes, blank-padded; the last row (and a value
    that is not text) blank, for a missing value."""
    encoded = [v.encode(encoding) if isinstance(v, str) else b"" for v in list(uniques)] + [b""]
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    if len(lengths) and int(lengths.max()) > width:  # numpy would cut it silently (a character in half)
        raise ValueError(f"a value of {int(lengths.max())} bytes does not fit the variable's {width} bytes")
    table = np.array(encoded, dtype=f"S{max(width, 1)}").view(np.uint8).reshape(len(encoded), -1)[:, :width].copy()
    table[np.arange(width)[None, :] >= lengths[:, None]] = 0x20  # numpy pads with NUL: blanks, after the value only
    return table


def _text_bytes(s: pd.Series, width: int, encoding: str) -> np.ndarray:
    """(n, width) uint8: each value's encoded bytes, blank-padded (distinct values encoded once)."""
    codes, uniques = pd.factorize(s.to_numpy(dtype=object), use_na_sentinel=True)
    return _value_table(uniques, width, encoding)[codes]  # a missing value's code -1 is the last (blank) row


class _TextColumn:
    """The encoded records of one character variable: its distinct values encoded once for the whole column
    (shared with the storage widths and the checks: distinct.column_codes) when their table is small, else a
    chunk at a time (a column of a million distinct values).

    A table's rows are copied into the records in pieces of 8, 4, 2 and 1 bytes, each piece an unsigned integer
    per value: numpy gathers integers column-wise, where a row of, say, 10 bytes is copied one row at a time
    (1M LB rows: ~1 s of the write, ~0.4 s in pieces)."""

    def __init__(self, s: pd.Series, width: int, encoding: str, whole: bool):
        self.series, self.width, self.encoding = s, width, encoding
        self.codes, self.pieces = None, None
        if not whole:
            return  # one chunk: encoded as it comes
        codes, uniques = column_codes(s)
        if (len(uniques) + 1) * width <= TABLE_BYTES:
            table = _value_table(uniques, width, encoding)
            self.codes, self.pieces = codes, _pieces(table) if width <= _PIECES_UP_TO else [(0, width, table)]

    def write(self, out: np.ndarray, start: int, stop: int) -> None:
        """The encoded values of rows start:stop into their place in the records (`out`: that chunk's bytes of this
        variable, a view)."""
        if self.pieces is None:
            out[:] = _text_bytes(self.series.iloc[start:stop], self.width, self.encoding)
            return
        codes = self.codes[start:stop]  # never negative: NA is a value of column_codes
        for at, size, piece in self.pieces:
            if piece.ndim == 2:  # a wide variable: whole rows
                np.take(piece, codes, axis=0, out=out, mode="wrap")
            else:
                out[:, at:at + size].view(piece.dtype)[:, 0] = piece[codes]


_PIECES_UP_TO = 32  # wider variables (text of 200 bytes, say) are copied a row at a time: fewer passes
_UINT = {8: np.uint64, 4: np.uint32, 2: np.uint16, 1: np.uint8}


def _pieces(table: np.ndarray) -> list[tuple[int, int, np.ndarray]]:
    """(offset, bytes, the table's bytes there as one unsigned integer per value) covering each row."""
    out, at, width = [], 0, table.shape[1]
    for size in (8, 4, 2, 1):
        while width - at >= size:
            out.append((at, size, np.ascontiguousarray(table[:, at:at + size]).view(_UINT[size])[:, 0]))
            at += size
    return out


class _NumberColumn:
    """The records' bytes of one numeric variable: IBM doubles, big-endian, converted a chunk at a time."""

    def __init__(self, s: pd.Series):
        self.values = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)

    def write(self, out: np.ndarray, start: int, stop: int) -> None:
        out.view(">u8")[:, 0] = ibm_doubles(self.values[start:stop])


def record_chunks(frame: pd.DataFrame, widths: Mapping[str, int], encoding: str,
                  chunk_rows: int = CHUNK_ROWS) -> Iterator[np.ndarray]:
    """The observation records, `chunk_rows` rows at a time, in column order: (rows, record length) uint8 arrays
    (written as they are: a file's write takes any buffer, so no bytes copy is made). Columns are read as
    arrays, never sliced as a frame per chunk."""
    cols = [str(c) for c in frame.columns]
    row_len = sum(widths[c] for c in cols)
    chunk_rows = max(1, min(chunk_rows, CHUNK_BYTES // max(row_len, 1)))
    whole = len(frame) > chunk_rows  # (more than one block: each text column's values encoded once)
    columns = [_NumberColumn(frame[c]) if pd.api.types.is_numeric_dtype(frame[c])
               else _TextColumn(frame[c], widths[c], encoding, whole) for c in cols]
    for start in range(0, len(frame), chunk_rows):
        stop = min(start + chunk_rows, len(frame))
        out = np.empty((stop - start, row_len), dtype=np.uint8)
        at = 0
        for col, column in zip(cols, columns, strict=True):
            column.write(out[:, at:at + widths[col]], start, stop)
            at += widths[col]
        yield out


def append_records(fh: BinaryIO, frame: pd.DataFrame, widths: Mapping[str, int], encoding: str) -> None:
    """Write the records after the header (`fh` positioned at its end) and blank-pad to a whole record."""
    pad_records(fh, write_records(fh, frame, widths, encoding))


def write_records(fh: BinaryIO, frame: pd.DataFrame, widths: Mapping[str, int], encoding: str) -> int:
    """Write the frame's records (no padding: more may follow); return the bytes written."""
    written = 0
    for chunk in record_chunks(frame, widths, encoding):
        fh.write(chunk.data)
        written += chunk.nbytes
    return written


def pad_records(fh: BinaryIO, written: int) -> None:
    """Blank-pad the records (`written` bytes in all) to a whole 80-byte record, as XPT v5 ends."""
    fh.write(b" " * (-written % RECORD))
