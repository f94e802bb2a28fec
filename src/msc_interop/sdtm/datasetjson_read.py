"""Read CDISC Dataset-JSON 1.1 and its NDJSON form: `read_dataset_json` (the writer is sdtm/datasetjson.py).

Reading is its own job, apart from writing: it takes any producer's file (CDISC's examples, a sponsor's package,
a damaged copy) and must name what is wrong with it (the file, the line or row, the column), while the writer
only encodes a Study it trusts. The two share only the specification's data types (DATA_TYPES, NUMERIC_TYPES).

Values by dataType: integer -> Int64, float/double/decimal -> float64 ("decimal" may come as text), every
other dataType -> str with "" for null (SDTM, like XPT, does not tell empty from missing). Rows are parsed by
orjson (NDJSON a block of lines at a time) and turned into columns a few thousand rows at a time, each text
column's distinct values made once. `frame_of_rows` builds the dataset from rows already parsed (validate reads
a file's rows once for its own checks and the dataset).

    >>> name, df, meta = read_dataset_json(Path("out/lb.json"))
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from msc_interop.errors import InputError
from msc_interop.runtime import gc_paused
from msc_interop.study import as_text

_READ_SLICE = 4096
NDJSON_BLOCK = 64 << 20  # bytes of NDJSON rows parsed by one orjson call
NUMERIC_TYPES = frozenset({"integer", "float", "double", "decimal"})
# Dataset-JSON 1.1 DataTypesEnum (dataset.schema.json)
DATA_TYPES = ("string", "integer", "decimal", "float", "double", "boolean", "datetime", "date", "time", "URI")
MAX_EXACT_INT = 2**53  # larger whole numbers held as float64 are not exact integers


def read_dataset_json(path: Path) -> tuple[str, pd.DataFrame, dict[str, Any]]:
    """Read Dataset-JSON (.json) or its NDJSON form (.ndjson): (dataset name, data, top-level metadata).

    Numbers by dataType: integer -> Int64, float/double/decimal -> float64; every other dataType -> str,
    with "" for null. The metadata dict is the top-level object without `rows` (it keeps `columns`).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read: {exc}") from exc
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    # Parsing a million rows makes tens of millions of objects; the cyclic GC would rescan them all
    # again and again (2-3x slower) although none of them can form a cycle.
    with gc_paused():
        if path.suffix.lower() == ".ndjson":
            end = raw.find(b"\n")
            end = len(raw) if end < 0 else end
            meta = _loads(path, raw[:end], f"{path.name} line 1 (metadata)",
                          "the line ends before the metadata object does" if end < len(raw) else
                          "the file ends inside the metadata line: truncated?")
            chunks: Iterable[Any] = _ndjson_row_chunks(path, raw, end + 1, len(raw))
        else:
            meta = _loads(path, raw, path.name)
            chunks = _json_rows(meta)
        return frame_of_rows(path, meta, chunks)



def _json_rows(doc: Any) -> Iterator[Any]:
    """The rows of a parsed Dataset-JSON document, taken out of it (the metadata keeps the rest)."""
    if isinstance(doc, dict):
        yield doc.pop("rows", [])


def _loads(path: Path, text: bytes, where: str, ends: str = "the file ends before the JSON value does: truncated?"
           ) -> Any:
    """orjson.loads, or an InputError naming `where` and the place in `text`; `ends` is added when the text
    ends before the JSON value does."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        cut = f"; {ends}" if exc.pos >= len(text.rstrip()) else ""
        place = f"line {exc.lineno} column {exc.colno}" if text.count(b"\n", 0, exc.pos) else f"column {exc.colno}"
        raise InputError(f"{where}: not valid JSON ({exc.msg} at {place}){cut}") from None


def _ndjson_row_chunks(path: Path, raw: bytes, start: int, stop: int) -> Iterator[list[Any]]:
    """Parse NDJSON row lines a block (~64 MB) at a time: one orjson call per block, bounded memory. A block
    that does not parse as one row per line is parsed again line by line to name the bad line."""
    block = NDJSON_BLOCK
    rows_before = 0
    while start < stop:
        end = raw.find(b"\n", min(start + block, stop))
        end = stop if end < 0 else end
        lines = [ln for ln in raw[start:end].split(b"\n") if ln and not ln.isspace()]
        if lines:
            try:
                rows = orjson.loads(b"[" + b",".join(lines) + b"]")
            except orjson.JSONDecodeError:
                rows = None
            if rows is None or len(rows) != len(lines):  # a line that holds no value, or two
                raise _bad_line(path, raw, start, end, rows_before)
            yield rows
            rows_before += len(lines)
        start = end + 1


def _bad_line(path: Path, raw: bytes, start: int, end: int, rows_before: int) -> InputError:
    """The first line of raw[start:end] that is not one JSON value, named by its line and row number."""
    first = raw.count(b"\n", 0, start) + 1
    row = rows_before
    lines = raw[start:end].split(b"\n")
    for line_no, line in enumerate(lines, start=first):
        if line and not line.isspace():
            row += 1
            at_end = end >= len(raw) and line is lines[-1] and not raw.endswith(b"\n")
            ends = "the file ends inside this line: truncated?" if at_end else "the line ends before its row does"
            try:
                _loads(path, line, f"{path.name} line {line_no} (row {row})", ends)
            except InputError as exc:
                return exc
    return InputError(f"{path.name}: the rows from line {first} on do not parse as one JSON array per line")


def frame_of_rows(path: Path, meta: Any, chunks: Iterable[Any]) -> tuple[str, pd.DataFrame, dict[str, Any]]:
    """The dataset of a parsed file (`meta`: its top-level object; `chunks`: its rows, a list at a time) as
    read_dataset_json gives it; InputError naming `path` and the place when the header or a row is not
    Dataset-JSON 1.1. Validate uses it on rows it parsed already (validate/engine.py, folder_chunks.py)."""
    if not isinstance(meta, dict) or "columns" not in meta or "name" not in meta:
        raise InputError(f"{path.name}: not Dataset-JSON (no top-level object with 'name' and 'columns')")
    if not isinstance(meta["name"], str) or not meta["name"]:
        raise InputError(f"{path.name}: the dataset 'name' is {json.dumps(meta['name'])[:40]}, not a dataset name "
                         "(text such as \"LB\")")
    version = str(meta.get("datasetJSONVersion", ""))
    if not version.startswith("1.1"):
        raise InputError(f"{path.name}: datasetJSONVersion {version!r} is not supported; "
                         "this reader reads Dataset-JSON 1.1")
    columns = meta["columns"]
    _check_columns(path, columns)
    records = stated_records(path, meta)
    names = [c["name"] for c in columns]
    if len(set(names)) != len(names):
        raise InputError(f"{path.name}: duplicate column names in 'columns'")
    n_cols = len(columns)
    parts: list[list[Any]] = [[] for _ in columns]
    n_rows = 0
    for rows in chunks:
        if not isinstance(rows, list):
            raise InputError(f"{path.name}: 'rows' is not an array")
        # A few thousand rows at a time: their freshly parsed objects are still in the CPU cache, which
        # makes the per-column passes several times faster than over the whole column.
        for a in range(0, len(rows), _READ_SLICE):
            some = rows[a:a + _READ_SLICE]
            block = _transpose(path, some, n_cols, n_rows, names)
            for i, (c, values) in enumerate(zip(columns, block, strict=True)):
                parts[i].append(_piece(path, c, values, n_rows))
            n_rows += len(some)
        rows = some = block = None  # let the parsed row lists go before the garbage collector resumes
    if records is not None and records != n_rows:
        held = f"rows (lines 2-{n_rows + 1})" if path.suffix.lower() == ".ndjson" and n_rows else "rows"
        raise InputError(f"{_where(path)}: 'records' says {records} but the file holds {n_rows} {held}: "
                         f"{'truncated' if n_rows < records else 'edited'} file? Dataset-JSON's 'records' is the "
                         "number of rows")
    out = {c["name"]: _join(c, part) for c, part in zip(columns, parts, strict=True)}
    return str(meta["name"]), pd.DataFrame(out, index=pd.RangeIndex(n_rows)), meta


def _json_kind(value: Any) -> str:
    """What a parsed JSON value is, as a person names it: 'an object', 'an array', 'the string "x"', ..."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return f"the string {orjson.dumps(value[:40]).decode()}"
    if value is None:
        return "null"
    return f"the {'boolean' if isinstance(value, bool) else 'number'} {orjson.dumps(value).decode()}"


def _where(path: Path) -> str:
    """The place of the metadata: NDJSON keeps it on line 1."""
    return f"{path.name} line 1 (metadata)" if path.suffix.lower() == ".ndjson" else path.name


def _row_place(path: Path, row: int) -> str:
    """Row `row` (1-based) as a person finds it: NDJSON rows start on line 2."""
    return f"row {row} (line {row + 1})" if path.suffix.lower() == ".ndjson" else f"row {row}"


def stated_records(path: Path, meta: dict[str, Any]) -> int | None:
    """The header's `records` (Dataset-JSON 1.1: required, an integer >= 0, the number of rows); None when
    absent (the reader then cannot tell a cut NDJSON file; `validate` reports the missing attribute)."""
    if "records" not in meta:
        return None
    records = meta["records"]
    if isinstance(records, bool) or not isinstance(records, (int, float)) or records < 0 or records % 1:
        raise InputError(f"{_where(path)}: 'records' is {_json_kind(records)}; Dataset-JSON 1.1 requires the "
                         "number of rows, a whole number >= 0")
    return int(records)


def _check_columns(path: Path, columns: Any) -> None:
    """The header's shape, before any row is read: `columns` is an array of objects, each with a non-empty
    string `name` and a `dataType` of Dataset-JSON 1.1."""
    if not isinstance(columns, list):
        raise InputError(f"{_where(path)}: 'columns' is {_json_kind(columns)}, but Dataset-JSON needs an array "
                         "of column objects (each with 'name' and 'dataType')")
    for i, col in enumerate(columns, start=1):
        if not isinstance(col, dict):
            raise InputError(f"{_where(path)}: column {i} in 'columns' is {_json_kind(col)}, not an object with "
                             "'name' and 'dataType'")
        name = col.get("name")
        if "name" not in col:
            raise InputError(f"{_where(path)}: column {i} in 'columns' has no 'name' (the variable name)")
        if not isinstance(name, str) or not name:
            raise InputError(f"{_where(path)}: column {i} in 'columns' has 'name' {_json_kind(name)}; it must be "
                             "the variable name, a non-empty string")
        dtype = col.get("dataType")
        if "dataType" not in col:
            raise InputError(f"{_where(path)}: column {i} ({name}) in 'columns' has no 'dataType'; "
                             f"Dataset-JSON 1.1 requires one of {', '.join(DATA_TYPES)}")
        if dtype not in DATA_TYPES:
            raise InputError(f"{_where(path)}: column {i} ({name}) in 'columns' has 'dataType' {_json_kind(dtype)}; "
                             f"Dataset-JSON 1.1 allows {', '.join(DATA_TYPES)}")


def _not_scalar(path: Path, name: str, values: Any, offset: int) -> None:
    """Raise InputError at the first cell that is an object or array (only called once a column failed)."""
    for i, v in enumerate(values):
        if isinstance(v, (dict, list)):
            raise InputError(f"{path.name}: {_row_place(path, offset + i + 1)}, column {name}: the value is "
                             f"{_json_kind(v)}; a Dataset-JSON cell holds a string, a number, a boolean or null")


def _transpose(path: Path, rows: list[Any], n_cols: int, offset: int, names: list[str]) -> list[np.ndarray]:
    """A block of row arrays -> one contiguous object array per column."""
    if set(map(type, rows)) != {list}:
        bad = next(i for i, r in enumerate(rows) if type(r) is not list)
        raise InputError(f"{path.name}: {_row_place(path, offset + bad + 1)} is {_json_kind(rows[bad])}, not an "
                         f"array of {n_cols} values")
    if set(map(len, rows)) != {n_cols}:
        bad = next(i for i, r in enumerate(rows) if len(r) != n_cols)
        raise InputError(f"{path.name}: {_row_place(path, offset + bad + 1)} has {len(rows[bad])} values but "
                         f"there are {n_cols} columns")
    block = np.empty((len(rows), n_cols), dtype=object)
    try:
        block[:] = rows
    except ValueError as exc:  # a value that is itself an array (NumPy tries to make it a dimension)
        for j, name in enumerate(names):
            _not_scalar(path, name, (r[j] for r in rows), offset)
        raise InputError(f"{path.name}: rows {offset + 1}-{offset + len(rows)} hold a value that is not a "
                         f"string, number, boolean or null ({exc})") from exc
    return [np.ascontiguousarray(block[:, i]) for i in range(n_cols)]


def _piece(path: Path, col: dict[str, Any], values: np.ndarray, offset: int) -> Any:
    """A block of one column's values (object array) converted by the column's dataType."""
    dtype = col["dataType"]
    if dtype == "boolean":
        if not set(map(type, values)) <= {bool, type(None)}:
            _not_scalar(path, col["name"], values, offset)
        return values
    if dtype not in NUMERIC_TYPES:
        # Same text -> one shared str object: JSON parsing makes a new object per cell; sharing them cuts
        # memory several-fold and speeds every later pass. Null -> "" (SDTM does not tell them apart).
        try:
            codes, uniques = pd.factorize(values)
        except TypeError:  # unhashable: an object (or array) among the values
            _not_scalar(path, col["name"], values, offset)
            raise
        uniq = np.asarray(uniques, dtype=object)
        if len(uniq) and pd.api.types.infer_dtype(uniq, skipna=False) != "string":
            uniq = as_text(pd.Series(uniq, dtype=object)).to_numpy(dtype=object)
        return np.append(uniq, "")[codes]  # code -1 (null) takes the appended ""
    try:
        num = values.astype("float64")
    except (TypeError, ValueError):
        num = _numbers(path, col, values, offset)
    if dtype != "integer":
        return num
    frac = np.flatnonzero(~np.isnan(num) & (num % 1 != 0))
    if len(frac):
        row = int(frac[0])
        raise InputError(f"{path.name}: column {col['name']}, row {offset + row + 1}: {values[row]!r} is not a "
                         "whole number, but the column's dataType is integer")
    if (np.abs(num) >= MAX_EXACT_INT).any():  # beyond 2**53 a float64 detour would change the number
        return pd.array(values, dtype="Int64")
    return num


def _join(col: dict[str, Any], part: list[Any]) -> pd.Series:
    dtype = col["dataType"]
    if dtype == "integer":
        if all(isinstance(p, np.ndarray) for p in part):
            return pd.Series(np.concatenate(part) if part else np.empty(0)).astype("Int64")
        return pd.concat([pd.Series(p).astype("Int64") for p in part], ignore_index=True)
    if dtype in NUMERIC_TYPES:
        return pd.Series(np.concatenate(part) if part else np.empty(0), dtype="float64")
    return pd.Series(np.concatenate(part) if part else np.empty(0, dtype=object), dtype=object)


def _numbers(path: Path, col: dict[str, Any], values: np.ndarray, offset: int) -> np.ndarray:
    """Numbers given as text (decimal dataType, or a sloppy writer): "" and null are missing."""
    if not set(map(type, values)).isdisjoint((dict, list)):
        _not_scalar(path, col["name"], values, offset)
    s = pd.Series(values, dtype=object)
    blank = s.isna() | (s == "")
    num = pd.to_numeric(s.where(~blank, np.nan), errors="coerce")
    bad = num.isna() & ~blank
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"{path.name}: column {col['name']}, row {offset + row + 1}: {values[row]!r} is not a "
                         f"number, but the column's dataType is {col.get('dataType')}")
    return num.to_numpy(dtype="float64")
