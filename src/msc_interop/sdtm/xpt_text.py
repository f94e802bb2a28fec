"""Character data of an XPT file as a package had it: the storage length of each variable and the text encoding.

XPT v5 states neither an encoding nor anything but ASCII (FDA Technical Conformance Guide); in practice SAS
writes the session encoding's bytes (Windows-1252 on Windows: CDISC's pilot ts.xpt has 0x92 apostrophes).
The writer (sdtm/xpt_rows.py) encodes each value in the package's encoding and sizes each variable to at
least the package's storage length (XPT pads with blanks and every reader strips them); this module says
which text a target encoding cannot hold and names encodings.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from msc_interop.distinct import known_codes


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


def is_utf8(encoding: str) -> bool:
    return encoding.replace("-", "").replace("_", "").lower() == "utf8"


_DISPLAY = {"utf-8": "UTF-8", "cp1252": "Windows-1252", "latin-1": "Latin-1"}


def display_name(encoding: str) -> str:
    return _DISPLAY.get(encoding, encoding)


def non_ascii_columns(frame: pd.DataFrame) -> Iterator[tuple[str, np.ndarray]]:
    """The text columns holding at least one non-ASCII value, with their values (one join per column: of its
    distinct values where their codes are known, distinct.known_codes, else of its rows)."""
    for col in frame.columns:
        s = frame[col]
        if pd.api.types.is_numeric_dtype(s):
            continue
        known = known_codes(s)
        values = s.to_numpy(dtype=object)
        if not all_ascii(values if known is None else np.asarray(known[1], dtype=object)):
            yield col, values


def all_ascii(values: np.ndarray) -> bool:
    """Whether every str among `values` (an object array; other values ignored) is ASCII: one join in C when
    the values are all str, as SDTM text columns are ("" for null; a generator over 1M values: ~0.7 s)."""
    items = values.tolist()
    try:
        return "".join(items).isascii()
    except TypeError:  # nulls, numbers or other objects among the values
        return "".join(v for v in items if isinstance(v, str)).isascii()
