"""Write CDISC Dataset-JSON 1.1 and its NDJSON form: `write_dataset_json` (the reader is sdtm/datasetjson_read.py).

Specification: CDISC Dataset-JSON v1.1 (final 2024-12-05), cdisc-org/DataExchange-DatasetJson. One dataset
per file; top-level attributes in the order the specification recommends (so streaming readers can find
`columns` before `rows`); NDJSON puts the metadata object on line 1 and one row array per further line.

Value encoding follows CDISC's own SDTM examples (examples/sdtm/*.json, made from XPT): a missing character
value is "" (SDTM, like XPT, does not tell empty from missing), a missing number is null; integer variables
are JSON integers, float/double variables JSON numbers; "decimal" would be a string (spec, Decimal Variables).

Rows are assembled column-wise (sdtm/json_encoded.py: each column's distinct values encoded once, a few
megabytes of rows at a time), so memory stays flat and a million rows take about a second. Same input and same
`created` give byte-identical files. This module only encodes a Study it trusts; reading any producer's file,
and naming what is wrong in it, is datasetjson_read.py's job (the two share the specification's data types).

    >>> write_dataset_json(study["LB"], "LB", Path("out/lb.json"), study_meta=study.meta,
    ...                    created="2026-01-01T00:00:00")
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping
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
from msc_interop.errors import MscInteropError
from msc_interop.runtime import gc_paused
from msc_interop.sdtm import json_encoded
from msc_interop.sdtm.datasetjson_read import DATA_TYPES, MAX_EXACT_INT, NUMERIC_TYPES
from msc_interop.sdtm.package import package_keys
from msc_interop.study import StudyMeta, conform

DATASET_JSON_VERSION = "1.1.0"
ORIGINATOR = "msc-interop"
ROW_CHUNK_BYTES = 4 << 20  # rows are written about this many bytes at a time
_CREATED = iso8601.DATASET_JSON_CREATED


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
                    header_attrs: Mapping[str, Any] | None = None, metadata_ref: str | None = None) -> None:
    """`write_dataset_json` for a frame already in the Study's canonical form (a `Study` dataset).
    `column_attrs` (by column) and `header_attrs` replace what the SDTM metadata would state (ADaM's writer).
    `metadata_ref`: the file's metaDataRef (to-sdtm: "define.xml", written beside it)."""
    write_frames(data, lambda: iter([data]), len(data), name, path, ndjson=ndjson, study_meta=study_meta,
                 created=created, column_attrs=column_attrs, header_attrs=header_attrs, metadata_ref=metadata_ref)


def write_frames(shape: pd.DataFrame, frames: Callable[[], Iterable[pd.DataFrame]], n_rows: int, name: str,
                 path: Path, *, ndjson: bool = False, study_meta: StudyMeta | None = None,
                 created: str | None = None, column_attrs: Mapping[str, Mapping[str, Any]] | None = None,
                 header_attrs: Mapping[str, Any] | None = None, metadata_ref: str | None = None) -> None:
    """`write_conformed` for a dataset given as consecutive frames (a partitioned run: sdtm/spill.py) of
    `n_rows` rows in all: `shape` holds every distinct value of each variable (column lengths and data types
    come from it), `frames()` the rows in order. The bytes are those of write_conformed on the whole."""
    # a text column's codes serve both its length (max_bytes) and its rows' encoding: found once
    with contextlib.nullcontext() if sharing() else shared_columns():
        _write_frames(shape, frames, n_rows, name, path, ndjson, study_meta, created, column_attrs, header_attrs,
                      metadata_ref)


def _write_frames(shape: pd.DataFrame, frames: Callable[[], Iterable[pd.DataFrame]], n_rows: int, name: str,
                  path: Path, ndjson: bool, study_meta: StudyMeta | None, created: str | None,
                  column_attrs: Mapping[str, Mapping[str, Any]] | None, header_attrs: Mapping[str, Any] | None,
                  metadata_ref: str | None = None) -> None:
    stamp = creation_datetime(created)
    pkg = getattr(study_meta, "package", None)
    lay = pkg.layouts.get(name) if pkg is not None else None
    columns, _ = _columns(name, shape, lay)
    types = [c["dataType"] for c in columns]  # the values are encoded as these (before column_attrs)
    for item in columns:
        item.update((column_attrs or {}).get(item["name"], {}))
    header = _header(name, shape, columns, study_meta, stamp, metadata_ref)
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
            stamp: str, metadata_ref: str | None = None) -> dict[str, Any]:
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
    if metadata_ref:  # (where Dataset-JSON 1.1's examples put it: after metaDataVersionOID)
        head["metaDataRef"] = metadata_ref
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
            frac = np.flatnonzero((x % 1 != 0) | (np.abs(x) >= MAX_EXACT_INT))
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
    return bool(len(x)) and bool(np.isfinite(x).all()) and bool(np.all((x % 1 == 0) & (np.abs(x) < MAX_EXACT_INT)))


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
