"""Dataset-JSON rows as bytes, assembled column-wise: each distinct value of a column is JSON-encoded once.

A row of Dataset-JSON is `[v1,v2,...]`. Encoding it row by row (a tuple per row, orjson per chunk) escapes every
text value again in every row and boxes every number: at a million rows of 25 variables that is most of the
writer's time. Here each column becomes (codes, encoded distinct values); neighbouring columns whose value
combinations are few are merged into one piece (their combinations encoded once, `"a","b"` together), and a row
is the join of a few pieces taken by code: the per-row work is a NumPy take per piece and one `bytes.join`.

The bytes are those of `orjson.dumps` of the rows (the reference in tests): every piece is orjson's encoding of
the Python value the row-wise writer would hand it (sdtm/datasetjson.py `_Encoder.slice`), and distinct values
are told apart as orjson would tell them apart (floats by their bits: 0.0 and -0.0 are written differently).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import orjson
import pandas as pd

from msc_interop.distinct import column_codes, factorize_small_ints

Piece = tuple[np.ndarray, np.ndarray]  # (row codes, encoded distinct values: an object array of bytes)
_NULL = b"null"
_TABLE = 1 << 22  # combinations of two pieces tried with a table of at most this many entries (or 4 per row)
_MERGE_SHARE = 8  # merge two pieces while their combinations number at most rows / _MERGE_SHARE


def encoded_text(series: pd.Series) -> Piece | None:
    """A text column's codes and its distinct values as JSON strings (None, NaN: null); None when a value is
    neither text nor missing (a number or a boolean, which equal others across types: 1 == 1.0 == True)."""
    codes, uniques = column_codes(series)
    values = np.asarray(uniques, dtype=object)
    if pd.api.types.infer_dtype(values, skipna=False) == "string":
        texts = values.tolist()
        joined = "\0" + "\0".join(texts) + "\0"
        if '",\0' not in joined and "\0,\0" not in joined:  # (see _each_of)
            return codes, _each_of(texts, b'","', b'"\0"')
        return codes, _object_array([orjson.dumps(v) for v in texts])
    values = values.tolist()
    if not all(type(v) is str or v is None or (type(v) is float and v != v) for v in values):
        return None
    return codes, _object_array([orjson.dumps(v) for v in values])


def encoded_rows(values: list[Any]) -> Piece:
    """Any column, each row encoded on its own (the fallback for a column of mixed kinds)."""
    return np.arange(len(values), dtype=np.int64), _object_array([orjson.dumps(v) for v in values])


def encoded_integers(values: np.ndarray, missing: np.ndarray | None) -> Piece:
    """Whole numbers (int64; rows of `missing` are null)."""
    span = int(values.max()) - int(values.min()) + 1 if len(values) else 0
    low = int(values.min()) if len(values) else 0
    codes, distinct = factorize_small_ints(values - low, span) if 0 < span <= 2 * len(values) else \
        _factorized(values)
    if low and span <= 2 * len(values):
        distinct = distinct + low
    encoded = _each_of(distinct.tolist(), b",", b"\0")
    if missing is not None and missing.any():
        codes = np.where(missing, len(encoded), codes)
        encoded = np.append(encoded, _object_array([_NULL]))
    return codes, encoded


def encoded_floats(values: np.ndarray, as_text: bool = False) -> Piece:
    """float64 numbers, NaN as null; `as_text`: each as the JSON string of its repr (dataType decimal)."""
    nan = np.isnan(values)
    bits = np.where(nan, np.float64(np.nan), values).view(np.int64)  # one NaN; 0.0 and -0.0 kept apart
    codes, distinct = _factorized(bits)
    numbers = distinct.view(np.float64).tolist()
    if as_text:
        return codes, _object_array([_NULL if x != x else orjson.dumps(repr(x)) for x in numbers])
    return codes, _each_of(numbers, b",", b"\0")  # orjson writes NaN as null


def _each_of(values: list[Any], between: bytes, cut: bytes) -> np.ndarray:
    """orjson's encoding of each value, from one orjson call on the list: its items are split where `between`
    stands (replaced by `cut`, which holds a NUL: JSON escapes every NUL in a string, so the byte appears
    nowhere else). `between` must occur only between items. Numbers: "," (no number holds a comma). Strings:
    '","', which stands inside an item in two cases only, both excluded by the caller: the string "," itself
    (`","`) and a string ending in a quote and a comma (`"..\\","`: an escaped quote, the comma, the closing
    quote). Elsewhere inside a string every quote is escaped, so it follows a backslash, never a comma, and the
    opening quote is followed by the string's first character, a comma only when the next quote is escaped."""
    if not values:
        return _object_array([])
    items = orjson.dumps(values)[1:-1].replace(between, cut).split(b"\0")
    if len(items) != len(values):  # pragma: no cover - the reasoning above is wrong
        raise AssertionError("json_encoded: a value's encoding held the separator")
    return _object_array(items)


def row_chunks(pieces: list[Piece], n_rows: int, row_end: bytes, chunk_bytes: int) -> Iterator[bytes]:
    """The `n_rows` rows `[v1,...,vk]` + `row_end`, about `chunk_bytes` a bytes object (at most: by the longest
    encoding of each piece). Small chunks: their memory is reused, where fresh memory costs page faults."""
    merged = merged_pieces(pieces, n_rows)
    framed = _framed(merged, row_end) if merged else [(np.zeros(n_rows, np.int8), _object_array([b"[]" + row_end]))]
    widest = sum(max(map(len, encoded.tolist()), default=0) for _, encoded in framed)
    step = max(1, min(n_rows, chunk_bytes // max(1, widest)))
    for a in range(0, n_rows, step):
        b = min(a + step, n_rows)
        cells = np.empty((b - a, len(framed)), dtype=object)
        for j, (codes, encoded) in enumerate(framed):
            cells[:, j] = encoded[codes[a:b]]
        yield b"".join(cells.ravel().tolist())


def merged_pieces(pieces: list[Piece], n_rows: int) -> list[Piece]:
    """Neighbouring pieces merged while their combinations stay few (at most n_rows / 8): each merge saves a
    take and a join item per row and costs a pass over the codes plus the encoding of the combinations."""
    out: list[Piece] = []
    limit = max(1, n_rows // _MERGE_SHARE)
    for piece in pieces:
        if out:
            joined = _merged(out[-1], piece, limit)
            if joined is not None:
                out[-1] = joined
                continue
        out.append(piece)
    return out


def _merged(left: Piece, right: Piece, limit: int) -> Piece | None:
    """The two pieces as one (their encodings joined by a comma), or None when they have more than `limit`
    combinations or so many possible ones that finding out would cost more than it saves."""
    (lc, le), (rc, re) = left, right
    if len(re) == 1:  # a constant: nothing to combine
        return lc, _object_array([x + b"," + re[0] for x in le.tolist()])
    if len(le) == 1:
        return rc, _object_array([le[0] + b"," + y for y in re.tolist()])
    span = len(le) * len(re)
    if span > max(_TABLE, 4 * len(lc)) or len(le) > limit or len(re) > limit:
        return None
    wide = np.int64 if span >= 2**31 else np.int32
    combined = lc.astype(wide) * wide(len(re)) + rc
    used = np.zeros(span, dtype=bool)
    used[combined] = True
    order = np.flatnonzero(used)
    if len(order) > limit:
        return None
    number = np.zeros(span, dtype=np.int32)
    number[order] = np.arange(len(order), dtype=np.int32)
    left_enc = le[order // len(re)].tolist()
    right_enc = re[order % len(re)].tolist()
    return number[combined], _object_array([x + b"," + y for x, y in zip(left_enc, right_enc, strict=True)])


def _framed(pieces: list[Piece], row_end: bytes) -> list[Piece]:
    """The pieces with the row's punctuation in their encodings: `[` before the first, `,` after every piece
    but the last, `]` and the row's end after the last."""
    out = []
    last = len(pieces) - 1
    for j, (codes, encoded) in enumerate(pieces):
        head = b"[" if j == 0 else b""
        tail = b"]" + row_end if j == last else b","
        out.append((codes, _object_array([head + e + tail for e in encoded.tolist()])))
    return out


def _factorized(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    codes, distinct = pd.factorize(values)
    return codes, np.asarray(distinct)


def _object_array(items: list[bytes]) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out
