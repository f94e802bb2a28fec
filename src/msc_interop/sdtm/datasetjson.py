"""CDISC Dataset-JSON 1.1 and its NDJSON form: `write_dataset_json` / `read_dataset_json`.

Specification: CDISC Dataset-JSON v1.1 (final 2024-12-05), cdisc-org/DataExchange-DatasetJson. One dataset
per file; top-level attributes in the order the specification recommends (so streaming readers can find
`columns` before `rows`); NDJSON puts the metadata object on line 1 and one row array per further line.

Value encoding follows CDISC's own SDTM examples (examples/sdtm/*.json, made from XPT): a missing character
value is "" (SDTM, like XPT, does not tell empty from missing), a missing number is null; integer variables
are JSON integers, float/double variables JSON numbers; "decimal" would be a string (spec, Decimal Variables).

Rows are assembled column-wise (sdtm/json_encoded.py: each column's distinct values encoded once, a few
megabytes of rows at a time), so memory stays flat and a million rows take about a second. Same input and same
`created` give byte-identical files.

    >>> write_dataset_json(study["LB"], "LB", Path("out/lb.json"), study_meta=study.meta,
    ...                    created="2026-01-01T00:00:00")
    >>> name, df, meta = read_dataset_json(Path("out/lb.json"))
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from msc_interop import iso8601, mappings
from msc_interop.atomic import atomic_open
from msc_interop.distinct import column_codes, shared_columns, sharing
from msc_interop.errors import InputError, MscInteropError
from msc_interop.runtime import gc_paused
from msc_interop.sdtm import json_encoded
from msc_interop.sdtm.package import package_keys
from msc_interop.study import StudyMeta, as_text, conform

DATASET_JSON_VERSION = "1.1.0"
ORIGINATOR = "msc-interop"
ROW_CHUNK_BYTES = 4 << 20  # rows are written about this many bytes at a time
_READ_SLICE = 4096
NDJSON_BLOCK = 64 << 20  # bytes of NDJSON rows parsed by one orjson call
NUMERIC_TYPES = frozenset({"integer", "float", "double", "decimal"})
# Dataset-JSON 1.1 DataTypesEnum (dataset.schema.json)
DATA_TYPES = ("string", "integer", "decimal", "float", "double", "boolean", "datetime", "date", "time", "URI")
_CREATED = iso8601.DATASET_JSON_CREATED
_MAX_EXACT_INT = 2**53  # larger whole numbers held as float64 are not exact integers


def creation_datetime(created: str | None = None) -> str:
    """`created` checked against the Dataset-JSON pattern, or the current UTC time to the second (no suffix)."""
    if created is None:
        return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if not _CREATED.match(created):
        raise MscInteropError(f"creation date/time {created!r} is not of the form YYYY-MM-DDThh:mm:ss "
                              "(optionally .fraction and +hh:mm/-hh:mm/Z), as Dataset-JSON 1.1 requires; "
                              "e.g. 2026-01-01T00:00:00")
    return created


def write_dataset_json(df: pd.DataFrame, name: str, path: Path, *, ndjson: bool = False,
                       study_meta: StudyMeta | None = None, created: str | None = None) -> None:
    """Write one dataset as Dataset-JSON 1.1 (`ndjson=True`: the NDJSON form).

    Column dataTypes come from the SDTM metadata; a variable it does not know is "integer" when all its
    values are whole numbers, "double" when numeric otherwise, else "string". `created` pins
    datasetJSONCreationDateTime (default: now, UTC) so that runs can be byte-identical.

        >>> write_dataset_json(study["DM"], "DM", Path("out/dm.ndjson"), ndjson=True, created="2026-01-01T00:00:00")
    """
    write_conformed(_conformed(name, df), name, path, ndjson=ndjson, study_meta=study_meta, created=created)


def write_conformed(data: pd.DataFrame, name: str, path: Path, *, ndjson: bool = False,
                    study_meta: StudyMeta | None = None, created: str | None = None,
                    column_attrs: Mapping[str, Mapping[str, Any]] | None = None,
                    header_attrs: Mapping[str, Any] | None = None) -> None:
    """`write_dataset_json` for a frame already in the Study's canonical form (a `Study` dataset).
    `column_attrs` (by column) and `header_attrs` replace what the SDTM metadata would state (ADaM's writer)."""
    write_frames(data, lambda: iter([data]), len(data), name, path, ndjson=ndjson, study_meta=study_meta,
                 created=created, column_attrs=column_attrs, header_attrs=header_attrs)


def write_frames(shape: pd.DataFrame, frames: Callable[[], Iterable[pd.DataFrame]], n_rows: int, name: str,
                 path: Path, *, ndjson: bool = False, study_meta: StudyMeta | None = None,
                 created: str | None = None, column_attrs: Mapping[str, Mapping[str, Any]] | None = None,
                 header_attrs: Mapping[str, Any] | None = None) -> None:
    """`write_conformed` for a dataset given as consecutive frames (a partitioned run: sdtm/spill.py) of
    `n_rows` rows in all: `shape` holds every distinct value of each variable (column lengths and data types
    come from it), `frames()` the rows in order. The bytes are those of write_conformed on the whole."""
    # a text column's codes serve both its length (max_bytes) and its rows' encoding: found once
    with contextlib.nullcontext() if sharing() else shared_columns():
        _write_frames(shape, frames, n_rows, name, path, ndjson, study_meta, created, column_attrs, header_attrs)


def _write_frames(shape: pd.DataFrame, frames: Callable[[], Iterable[pd.DataFrame]], n_rows: int, name: str,
                  path: Path, ndjson: bool, study_meta: StudyMeta | None, created: str | None,
                  column_attrs: Mapping[str, Mapping[str, Any]] | None, header_attrs: Mapping[str, Any] | None
                  ) -> None:
    stamp = creation_datetime(created)
    pkg = getattr(study_meta, "package", None)
    lay = pkg.layouts.get(name) if pkg is not None else None
    columns, _ = _columns(name, shape, lay)
    types = [c["dataType"] for c in columns]  # the values are encoded as these (before column_attrs)
    for item in columns:
        item.update((column_attrs or {}).get(item["name"], {}))
    header = _header(name, shape, columns, study_meta, stamp)
    header["records"] = n_rows
    header.update(header_attrs or {})
    if lay is not None and lay.label is not None:
        header["label"] = lay.label  # the package's own dataset label (blank in CDISC's pilot XPT files)
    if lay is not None and lay.db_modified:  # the source data's own date, after the file's (spec order)
        header = {k: v for k, v in [*list(header.items())[:3], ("dbLastModifiedDateTime", lay.db_modified),
                                    *list(header.items())[3:]]}
    # rows as bytes, each column's distinct values encoded once (sdtm/json_encoded.py); NDJSON: a row a line
    row_end = b"\n" if ndjson else b","
    with atomic_open(path, "wb") as fh, gc_paused():
        if ndjson:
            fh.write(orjson.dumps(header))
            fh.write(b"\n")
        else:
            head = orjson.dumps({**header, "rows": []})
            fh.write(head[:-2])  # everything up to the opening "[" of rows
        sep = b""
        for data in frames():
            pieces = [_Encoder(data[c["name"]], t).piece() for c, t in zip(columns, types, strict=True)]
            for blob in json_encoded.row_chunks(pieces, len(data), row_end, ROW_CHUNK_BYTES):
                if ndjson:
                    fh.write(blob)
                else:  # rows are separated by commas: each chunk's last one is held back
                    fh.write(sep)
                    fh.write(memoryview(blob)[:-1])
                    sep = b","
        if not ndjson:
            fh.write(b"]}")


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
        return _frame(path, meta, chunks)


# --- writing --------------------------------------------------------------------------------------------

def _conformed(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """The Study's canonical dtypes (conform), keeping the caller's column order."""
    out = conform(name, df)
    cols = [str(c) for c in df.columns]
    return out if list(out.columns) == cols else out[cols]


def _columns(name: str, data: pd.DataFrame, lay: Any = None) -> tuple[list[dict[str, Any]], list[_Encoder]]:
    """Column metadata (spec attribute order) and one value encoder per column. `lay` (sdtm/package.py
    DatasetLayout): an existing package's own labels and lengths, and its Dataset-JSON column metadata
    (itemOID, dataType, length, displayFormat, keySequence) kept as it was where it fits the data."""
    domain = mappings.sdtm_domain(name)
    known = domain.by_name if domain else {}
    keys = package_keys(lay, data.columns) or [k for k in (domain.keys if domain else ()) if k in data.columns]
    columns: list[dict[str, Any]] = []
    encoders: list[_Encoder] = []
    for col in data.columns:
        s = data[col]
        v = known.get(col)
        numeric = pd.api.types.is_numeric_dtype(s)
        if v is not None:
            dtype = v.datatype
        elif numeric:
            dtype = "integer" if _whole(s) else "double"
        else:
            dtype = "string"
        if dtype in NUMERIC_TYPES and not numeric:
            dtype = "string"  # conform() keeps Num variables numeric; this only guards odd metadata
        enc = _Encoder(s, dtype)
        item: dict[str, Any] = {"itemOID": f"IT.{name}.{col}", "name": col,
                                "label": v.label if v is not None else col, "dataType": dtype}
        if dtype == "decimal":
            item["targetDataType"] = "decimal"
        if not numeric:
            item["length"] = enc.max_bytes()
        if col in keys:
            item["keySequence"] = keys.index(col) + 1
        if lay is not None:
            item = _as_package_states(item, lay, col, numeric, enc)
            item.pop("keySequence", None)  # the keys define.xml gets too (package_keys), not the source's as is
            item.update({"keySequence": keys.index(col) + 1} if col in keys else {})
            stated = lay.define_types.get(col)
            if numeric and v is None and stated in ("integer", "float", "double") and (
                    stated != "integer" or _whole(s)):
                item["dataType"] = stated  # XPT has one numeric type: the package's define.xml says which
            enc = _Encoder(s, item["dataType"]) if item["dataType"] != dtype else enc
        columns.append(item)
        encoders.append(enc)
    return columns, encoders


def _as_package_states(item: dict[str, Any], lay: Any, col: str, numeric: bool, enc: _Encoder) -> dict[str, Any]:
    """A column's metadata as the package states it: its Dataset-JSON column (when read from Dataset-JSON and
    its dataType fits the data), else its label and length (from XPT: the storage length)."""
    source = lay.json_columns.get(col)
    if source and source.get("dataType") in DATA_TYPES and (source["dataType"] in NUMERIC_TYPES) == numeric:
        out = dict(source)
        if not numeric and isinstance(out.get("length"), int):
            out["length"] = max(out["length"], enc.max_bytes())
        return out
    out = dict(item)
    if col in lay.labels:
        out["label"] = lay.labels[col]
    if not numeric and col in lay.lengths:
        out["length"] = max(int(lay.lengths[col]), enc.max_bytes())
    return out


def _header(name: str, data: pd.DataFrame, columns: list[dict[str, Any]], study_meta: StudyMeta | None,
            stamp: str) -> dict[str, Any]:
    studyid = study_meta.studyid if study_meta is not None else _first_value(data, "STUDYID")
    head: dict[str, Any] = {"datasetJSONCreationDateTime": stamp, "datasetJSONVersion": DATASET_JSON_VERSION}
    if studyid:
        head["fileOID"] = f"{studyid}.SDTM.{name}"
    head["originator"] = ORIGINATOR
    head["sourceSystem"] = {"name": ORIGINATOR, "version": _package_version()}
    if studyid:
        # the OIDs of the Study and MetaDataVersion in the define.xml msc-interop writes (sdtm/define.py)
        head["studyOID"] = f"STDY.{studyid}"
        head["metaDataVersionOID"] = (study_meta.metadata_version_oid() if study_meta is not None else
                                      f"MDV.{studyid}.SDTMIG.{mappings.sdtmig_version()}")
    head["itemGroupOID"] = f"IG.{name}"
    head["records"] = len(data)
    head["name"] = name
    head["label"] = mappings.dataset_label(name)
    head["columns"] = columns
    return head


class _Encoder:
    """One column as NumPy data, turned into JSON-ready Python values a slice at a time."""

    def __init__(self, s: pd.Series, dtype: str):
        self.kind = "text"
        self.mask: np.ndarray | None = None
        if dtype == "integer":
            self.kind = "int"
            na = s.isna().to_numpy()
            x = s.to_numpy("float64", na_value=0)
            frac = np.flatnonzero((x % 1 != 0) | (np.abs(x) >= _MAX_EXACT_INT))
            if len(frac):
                row = int(frac[0])
                raise MscInteropError(f"variable {s.name}: value {s.iloc[row]!r} in row {row + 1} is not a "
                                      "whole number that JSON can carry exactly, but the variable is an integer")
            self.values = x.astype(np.int64)
            self.mask = na if na.any() else None
        elif dtype in ("float", "double"):
            self.kind = "float"  # NaN -> null (orjson writes non-finite floats as null)
            self.values = s.to_numpy("float64", na_value=np.nan)
        elif dtype == "decimal":
            self.kind = "decimal"
            self.values = s.to_numpy("float64", na_value=np.nan)
        else:
            self.values = s.to_numpy(dtype=object)
        self.series = s

    def max_bytes(self) -> int:
        """The longest text value's UTF-8 bytes (at least 1), measured on the distinct values."""
        uniques = np.asarray(column_codes(self.series)[1], dtype=object)
        vals = uniques.tolist() if pd.api.types.infer_dtype(uniques, skipna=False) == "string" else \
            [v for v in uniques.tolist() if isinstance(v, str)]
        if not vals:
            return 1
        if "".join(vals).isascii():
            return max(1, max(map(len, vals)))
        return max(1, max(len(v.encode("utf-8")) for v in vals))

    def piece(self) -> json_encoded.Piece:
        """The column for json_encoded.row_chunks: its codes and its distinct values JSON-encoded, or Deferred
        (many distinct values); the bytes orjson gives the values `slice` gives."""
        if self.kind == "text":
            return json_encoded.encoded_text(self.series) or json_encoded.encoded_rows(self.values.tolist())
        if self.kind == "int":
            return json_encoded.encoded_integers(self.values, self.mask)
        return json_encoded.encoded_floats(self.values, as_text=self.kind == "decimal")

    def slice(self, a: int, b: int) -> list[Any]:
        part = self.values[a:b].tolist()
        if self.kind == "int" and self.mask is not None:
            for i in np.flatnonzero(self.mask[a:b]):
                part[i] = None
        elif self.kind == "decimal":
            part = [None if x != x else repr(x) for x in part]
        return part


def rows_as_read(data: pd.DataFrame, columns: list[dict[str, Any]], stop: int) -> list[list[Any]]:
    """The first `stop` rows of `data` as `write_conformed` writes them under `columns` (their dataTypes) and
    a JSON parser gives them back (NaN as null, decimals as text): what validate's schema check of a file just
    written would read, without reading it (validate/written.py)."""
    encoders = [_Encoder(data[c["name"]].iloc[:stop], c["dataType"]) for c in columns]
    rows = list(zip(*(e.slice(0, min(stop, len(data))) for e in encoders), strict=True))
    return orjson.loads(orjson.dumps(rows))


def _whole(s: pd.Series) -> bool:
    """True when the column has at least one value and every value is a whole number held exactly."""
    x = s.to_numpy("float64", na_value=np.nan)
    x = x[~np.isnan(x)]
    return bool(len(x)) and bool(np.isfinite(x).all()) and bool(np.all((x % 1 == 0) & (np.abs(x) < _MAX_EXACT_INT)))


def _first_value(data: pd.DataFrame, col: str) -> str:
    if col not in data.columns:
        return ""
    vals = data[col][data[col] != ""]
    return str(vals.iloc[0]) if len(vals) else ""


def _package_version() -> str:
    try:
        return importlib_metadata.version("msc-interop")
    except importlib_metadata.PackageNotFoundError:  # pragma: no cover - running from an unpacked tree
        return "0+unknown"


# --- reading --------------------------------------------------------------------------------------------

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


def _frame(path: Path, meta: Any, chunks: Iterable[Any]) -> tuple[str, pd.DataFrame, dict[str, Any]]:
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
    records = _records(path, meta)
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


def _records(path: Path, meta: dict[str, Any]) -> int | None:
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
    if (np.abs(num) >= _MAX_EXACT_INT).any():  # beyond 2**53 a float64 detour would change the number
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
