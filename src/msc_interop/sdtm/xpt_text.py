"""Character data of an XPT file as a package had it: the storage length of each variable and the text encoding.

XPT v5 states neither an encoding nor anything but ASCII (FDA Technical Conformance Guide); in practice SAS
writes the session encoding's bytes (Windows-1252 on Windows: CDISC's pilot ts.xpt has 0x92 apostrophes).
pyreadstat writes a value's UTF-8 bytes and sizes each variable to its longest value. So:

- `pad_to_lengths`: the first row's value of a variable is padded with blanks to the package's storage
  length (XPT pads with blanks and every reader strips them), so pyreadstat sizes the variable as the
  package did;
- `placeholders` / `patch_cells`: for an encoding other than UTF-8, values are written as same-length ASCII
  placeholders and their encoded bytes then put in place at the offsets the NAMESTR records give (SAS TS-140).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from msc_interop.sdtm.xpt_layout import RECORD

_MEMBER_AT, _NAMESTR_AT, _NAMESTRS_AT = 3 * RECORD, 7 * RECORD, 8 * RECORD

Patches = list[tuple[str, int, bytes]]  # (variable, 0-based row, encoded bytes)


def encoded_length(value: str, encoding: str) -> int:
    return len(value.encode(encoding))


def unencodable(text: pd.Series, encoding: str) -> list[tuple[int, str]]:
    """(0-based row, value) of the values `encoding` cannot write."""
    out = []
    for i, v in enumerate(text.to_numpy(dtype=object)):
        if isinstance(v, str) and not v.isascii():
            try:
                v.encode(encoding)
            except UnicodeEncodeError:
                out.append((i, v))
    return out


def placeholders(frame: pd.DataFrame, encoding: str) -> tuple[pd.DataFrame, Patches]:
    """The frame with each non-ASCII text value replaced by ASCII of its encoded length; the patches to apply."""
    patches: Patches = []
    if is_utf8(encoding):
        return frame, patches
    out = frame
    for col, values in non_ascii_columns(frame):
        new = values.copy()
        for i in np.flatnonzero([isinstance(v, str) and not v.isascii() for v in values]):
            raw = values[i].encode(encoding)
            new[i] = raw.decode("ascii", errors="replace").replace("\ufffd", "?")
            patches.append((str(col), int(i), raw))
        if out is frame:
            out = frame.copy()
        out[col] = pd.Series(new, index=frame.index, dtype=object)
    return out, patches


def pad_to_lengths(frame: pd.DataFrame, lengths: Mapping[str, int], encoding: str) -> pd.DataFrame:
    """The frame with row 1 of each variable padded so that its stored length is at least `lengths[var]`."""
    if not len(frame):
        return frame
    out = frame
    for col, want in lengths.items():
        if col not in frame.columns or pd.api.types.is_numeric_dtype(frame[col]):
            continue
        values = frame[col].to_numpy(dtype=object)
        longest = max((len(v.encode(encoding)) for v in values if isinstance(v, str)), default=0)
        if longest >= want:
            continue
        first = values[0] if isinstance(values[0], str) else ""
        new = values.copy()
        new[0] = first + " " * (want - len(first.encode(encoding)))
        if out is frame:
            out = frame.copy()
        out[col] = pd.Series(new, index=frame.index, dtype=object)
    return out


def patch_cells(path: Path, patches: Patches) -> None:
    """Write each patch's bytes (blank-padded to the variable's length) into its cell of a one-dataset V5 file."""
    if not patches:
        return
    with open(path, "r+b") as fh:
        head = fh.read(_NAMESTRS_AT)
        namestr_size = int(head[_MEMBER_AT + 74:_MEMBER_AT + 78])
        n_vars = int(head[_NAMESTR_AT + 54:_NAMESTR_AT + 58])
        fh.seek(_NAMESTRS_AT)
        block = fh.read(n_vars * namestr_size)
        place: dict[str, tuple[int, int]] = {}
        row_bytes = 0
        for k in range(n_vars):
            ns = block[k * namestr_size:(k + 1) * namestr_size]
            length = int.from_bytes(ns[4:6], "big")
            name = ns[8:16].decode("ascii").strip()
            place[name] = (int.from_bytes(ns[84:88], "big"), length)
            row_bytes += length
        obs_at = _NAMESTRS_AT + -(-(n_vars * namestr_size) // RECORD) * RECORD + RECORD
        for col, row, raw in patches:
            pos, length = place[col]
            fh.seek(obs_at + row * row_bytes + pos)
            fh.write(raw.ljust(length, b" ")[:length])


def is_utf8(encoding: str) -> bool:
    return encoding.replace("-", "").replace("_", "").lower() == "utf8"


_DISPLAY = {"utf-8": "UTF-8", "cp1252": "Windows-1252", "latin-1": "Latin-1"}


def display_name(encoding: str) -> str:
    return _DISPLAY.get(encoding, encoding)


def non_ascii_columns(frame: pd.DataFrame) -> Iterator[tuple[str, np.ndarray]]:
    """The text columns holding at least one non-ASCII value, with their values (one join per column, so an
    ASCII column costs one pass)."""
    for col in frame.columns:
        s = frame[col]
        if pd.api.types.is_numeric_dtype(s):
            continue
        values = s.to_numpy(dtype=object)
        if not "".join(v for v in values if isinstance(v, str)).isascii():
            yield col, values
