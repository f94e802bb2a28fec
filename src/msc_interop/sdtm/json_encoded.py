"""Dataset-JSON rows as bytes, assembled column-wise: each distinct value of a column is JSON-encoded once.

A row of Dataset-JSON is `[v1,v2,...]`. Encoding it row by row (a tuple per row, orjson per chunk) escapes every
text value again in every row and boxes every number: at a million rows of 25 variables that is most of the
writer's time. Here each column becomes (codes, encoded distinct values); neighbouring columns whose value
combinations are few are merged into one piece (their combinations encoded once, `"a","b"` together), and a row
is the join of a few pieces taken by code: the per-row work is a NumPy take per piece and one `bytes.join`.

A column of many distinct values (more than MANY: an identifier a row) is not encoded whole up front
(a million encodings at once would hold hundreds of megabytes): it stays a `Deferred` piece, whose values in each
chunk of rows are encoded as the chunk is assembled. Memory stays bounded by the chunk and MANY.

The bytes are those of `orjson.dumps` of the rows (the reference in tests): every piece is orjson's encoding of
the Python value the row-wise writer would hand it (sdtm/datasetjson.py `_Encoder.slice`), and distinct values
are told apart as orjson would tell them apart (floats by their bits: 0.0 and -0.0 are written differently).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from msc_interop.distinct import column_codes, factorize_small_ints

Encoded = tuple[np.ndarray, np.ndarray]  # (row codes, encoded distinct values: an object array of bytes)
MANY = 1 << 18  # a column with more distinct values than this is encoded a chunk of rows at a time (Deferred)
_NULL = b"null"
_NOTHING = pa.scalar(b"", type=pa.large_binary())  # what the pieces of a row are joined by
_COMMA = pa.scalar(b",", type=pa.large_binary())  # what two merged pieces' encodings are joined by
_TABLE = 1 << 22  # combinations of two pieces tried with a table of at most this many entries (or 4 per row)
_MERGE_SHARE = 8  # merge two pieces while their combinations number at most rows / _MERGE_SHARE


@dataclass
class Deferred:
    """A column of many distinct values: its rows (`rows(a, b)`: the values of rows a..b-1) and how to encode a
    list of them (orjson's bytes, in order). Each chunk's rows are encoded as it is assembled."""

    rows: Callable[[int, int], list[Any]]
    encode: Callable[[list[Any]], np.ndarray]


Piece = Encoded | Deferred


def _piece(codes: np.ndarray, values: np.ndarray, encode: Callable[[list[Any]], np.ndarray]) -> Piece:
    """Encoded whole when the column has at most MANY distinct values, else Deferred (the rows values[codes])."""
    if len(values) > MANY:
        return Deferred(lambda a, b: values[codes[a:b]].tolist(), encode)
    return codes, encode(values.tolist())


def encoded_text(series: pd.Series) -> Piece | None:
    """A text column's codes and its distinct values as JSON strings (None, NaN: null); None when a value is
    neither text nor missing (a number or a boolean, which equal others across types: 1 == 1.0 == True)."""
    codes, uniques = column_codes(series)
    values = np.asarray(uniques, dtype=object)
    if pd.api.types.infer_dtype(values, skipna=False) == "string":
        return _piece(codes, values, _texts)
    if not all(type(v) is str or v is None or (type(v) is float and v != v) for v in values.tolist()):
        return None
    return _piece(codes, values, _one_by_one)


def _texts(texts: list[str]) -> np.ndarray:
    """JSON strings of texts: by one orjson call where no text holds '","' in its encoding (see _each_of)."""
    joined = "\0" + "\0".join(texts) + "\0"
    if '",\0' not in joined and "\0,\0" not in joined:
        return _each_of(texts, b'","', b'"\0"')
    return _one_by_one(texts)


def _one_by_one(values: list[Any]) -> np.ndarray:
    return _object_array([orjson.dumps(v) for v in values])


def _numbers(values: list[Any]) -> np.ndarray:
    """JSON numbers (None and NaN: null) by one orjson call."""
    return _each_of(values, b",", b"\0")


def _decimals(values: list[float]) -> np.ndarray:
    """Numbers as the JSON strings of their repr (dataType decimal); NaN: null."""
    return _object_array([_NULL if x != x else orjson.dumps(repr(x)) for x in values])


def encoded_rows(values: list[Any]) -> Piece:
    """Any column, each row encoded on its own (the fallback for a column of mixed kinds)."""
    return _piece(np.arange(len(values), dtype=np.int64), _object_array(values), _one_by_one)


def encoded_integers(values: np.ndarray, missing: np.ndarray | None) -> Piece:
    """Whole numbers (int64; rows of `missing` are null)."""
    span = int(values.max()) - int(values.min()) + 1 if len(values) else 0
    low = int(values.min()) if len(values) else 0
    codes, distinct = factorize_small_ints(values - low, span) if 0 < span <= 2 * len(values) else \
        _factorized(values)
    if low and span <= 2 * len(values):
        distinct = distinct + low
    distinct = distinct.astype(object)
    if missing is not None and missing.any():
        codes = np.where(missing, len(distinct), codes)
        distinct = np.append(distinct, None)
    return _piece(codes, distinct, _numbers)


def encoded_floats(values: np.ndarray, as_text: bool = False) -> Piece:
    """float64 numbers, NaN as null; `as_text`: each as the JSON string of its repr (dataType decimal)."""
    nan = np.isnan(values)
    bits = np.where(nan, np.float64(np.nan), values).view(np.int64)  # one NaN; 0.0 and -0.0 kept apart
    codes, distinct = _factorized(bits)
    return _piece(codes, distinct.view(np.float64), _decimals if as_text else _numbers)


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


def row_chunks(pieces: list[Piece], n_rows: int, row_end: bytes, chunk_bytes: int) -> Iterator[memoryview]:
    """The `n_rows` rows `[v1,...,vk]` + `row_end`, about `chunk_bytes` a chunk (by the longest encoding of each
    piece; a Deferred piece's by its first chunk), each chunk a memoryview of the bytes Arrow made.
    A chunk is assembled by Arrow (a take of each piece's framed encodings by the rows' codes, then one
    element-wise join of the pieces): no Python object a row. The rows of the to-sdtm LB of a million lab rows
    took 0.30 s as a bytes.join of object takes, 0.16 s so (the whole write: bench_json_writer.py, column/row
    time 0.70 -> 0.67 on its LB-like frame). The pieces' encodings are merged and framed by Arrow too, a distinct
    value (or combination) at a time. Small chunks: their memory is reused, where fresh memory costs page
    faults."""
    merged = merged_pieces(pieces, n_rows)
    if not merged:
        merged = [(np.zeros(n_rows, np.int8), _arrow([b"[]"]))]
        heads, tails = [b""], [row_end]
    else:
        heads = [b"[" if j == 0 else b"" for j in range(len(merged))]
        tails = [b"]" + row_end if j == len(merged) - 1 else b"," for j in range(len(merged))]
    framed = [p if isinstance(p, Deferred) else (p[0], _framed(p[1], h, t))
              for p, h, t in zip(merged, heads, tails, strict=True)]
    widest = sum(_widest(p, n_rows) for p in framed) + len(row_end) + 2
    step = max(1, min(n_rows, chunk_bytes // widest))
    for a in range(0, n_rows, step):
        b = min(a + step, n_rows)
        cells = [_framed(p.encode(p.rows(a, b)), heads[j], tails[j]) if isinstance(p, Deferred)
                 else p[1].take(pa.array(p[0][a:b])) for j, p in enumerate(framed)]
        rows = pc.binary_join_element_wise(*cells, _NOTHING)
        _, offsets, data = rows.buffers()
        at = np.frombuffer(offsets, dtype=np.int64, count=len(rows) + 1, offset=8 * rows.offset)
        yield memoryview(data)[int(at[0]):int(at[-1])]


def _arrow(encoded: np.ndarray | list[bytes] | pa.Array) -> pa.Array:
    """Encodings (bytes) as an Arrow array of them (64-bit offsets: no chunk can overflow)."""
    if isinstance(encoded, pa.Array):
        return encoded
    return pa.array(encoded.tolist() if isinstance(encoded, np.ndarray) else encoded, type=pa.large_binary())


def _widest(piece: Piece, n_rows: int) -> int:
    """The longest encoding of a piece (a Deferred one: of the values of its first rows)."""
    if isinstance(piece, Deferred):
        return max(map(len, piece.encode(piece.rows(0, min(n_rows, 256))).tolist()), default=0) + 2
    return int(pc.max(pc.binary_length(piece[1])).as_py() or 0) if len(piece[1]) else 0


def merged_pieces(pieces: list[Piece], n_rows: int) -> list[Piece]:
    """Neighbouring pieces merged while their combinations stay few (at most n_rows / 8 and MANY): each merge saves a
    take and a join item per row and costs a pass over the codes plus the encoding of the combinations. The
    encodings of the pieces returned are Arrow arrays."""
    out: list[Piece] = []
    limit = max(1, min(n_rows // _MERGE_SHARE, MANY))
    for piece in pieces:
        if not isinstance(piece, Deferred):
            piece = (piece[0], _arrow(piece[1]))
        if out:
            joined = _merged(out[-1], piece, limit)
            if joined is not None:
                out[-1] = joined
                continue
        out.append(piece)
    return out


def _merged(left: Piece, right: Piece, limit: int) -> Piece | None:
    """The two pieces as one (their encodings joined by a comma), or None when they have more than `limit`
    combinations or so many possible ones that finding out would cost more than it saves (a Deferred piece:
    never)."""
    if isinstance(left, Deferred) or isinstance(right, Deferred):
        return None
    (lc, le), (rc, re) = left, right
    if len(re) == 1:  # a constant: nothing to combine
        return lc, pc.binary_join_element_wise(le, re[0], _COMMA)
    if len(le) == 1:
        return rc, pc.binary_join_element_wise(le[0], re, _COMMA)
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
    pairs = pc.binary_join_element_wise(le.take(pa.array(order // len(re))), re.take(pa.array(order % len(re))),
                                        _COMMA)
    return number[combined], pairs


def _framed(encoded: np.ndarray | pa.Array, head: bytes, tail: bytes) -> pa.Array:
    """Encodings with the row's punctuation around them: `[` before the first piece, `,` after every piece but the
    last, `]` and the row's end after the last."""
    return pc.binary_join_element_wise(_scalar(head), _arrow(encoded), _scalar(tail), _NOTHING)


def _scalar(text: bytes) -> pa.Scalar:
    return pa.scalar(text, type=pa.large_binary())


def _factorized(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    codes, distinct = pd.factorize(values)
    return codes, np.asarray(distinct)


def _object_array(items: list[bytes]) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out
