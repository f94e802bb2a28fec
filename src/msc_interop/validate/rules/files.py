"""Rules on one SDTM file as stored: XPT v5 limits (scope "xpt") and Dataset-JSON 1.1 (scope "datasetjson").

The data rules run on the Study; these check what only the file shows: the XPT member name and byte lengths,
the Dataset-JSON schema, record count and row shapes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from msc_interop.distinct import column_codes
from msc_interop.sdtm.xpt_layout import V5_LIBRARY
from msc_interop.validate.model import Finding, RuleMeta
from msc_interop.validate.registry import bulk, rule
from msc_interop.validate.schemas import dataset_json_validator

MAX_VALUE_BYTES = 200
_XPT_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,7}$")
# rows given to jsonschema itself (its Row definition only says "an array"); every row's shape and value types
# are checked by MSC-DJSON-003 column-wise, which is what keeps a million-row file fast
_SCHEMA_ROWS = 10
_MAX_SCHEMA_ERRORS = 200
_TYPE_BLOCK = 4096


# --- XPT ---------------------------------------------------------------------------------------------------

@dataclass
class XptFile:
    """One XPT file: the member name and labels as stored, and the data (character values as str)."""

    path: Path
    member: str
    file_label: str
    labels: dict[str, str]
    data: pd.DataFrame
    suspects: list[tuple[str, np.ndarray]] | None = None

    @property
    def dataset(self) -> str:
        return self.member.upper() or self.path.stem.upper()


@rule("MSC-XPT-001")
def xpt_member_is_file_name(ctx: XptFile, meta: RuleMeta) -> Iterable[Finding]:
    if ctx.member.upper() != ctx.path.stem.upper():
        yield meta.finding(file=str(ctx.path), dataset=ctx.dataset, value=ctx.member, file_name=ctx.path.name)


@rule("MSC-XPT-002")
def xpt_names(ctx: XptFile, meta: RuleMeta) -> Iterable[Finding]:
    if not _XPT_NAME.match(ctx.member):
        yield meta.finding(file=str(ctx.path), dataset=ctx.dataset, value=ctx.member, what="dataset name")
    for col in ctx.data.columns:
        if not _XPT_NAME.match(str(col)):
            yield meta.finding(file=str(ctx.path), dataset=ctx.dataset, variable=str(col), value=str(col),
                               what="variable name")


def _suspect_columns(ctx: XptFile) -> list[tuple[str, np.ndarray]]:
    """Character columns that may break a limit, found once per file for MSC-XPT-003 and -004: an all-ASCII
    column whose longest value has at most 200 characters is fine (two C-level passes over its distinct values)."""
    if ctx.suspects is None:
        ctx.suspects = []
        for col in ctx.data.columns:
            s = ctx.data[col]
            if pd.api.types.is_numeric_dtype(s) or not len(s):
                continue
            values = s.to_numpy(dtype=object)
            distinct = [v if isinstance(v, str) else str(v) for v in column_codes(s)[1]]
            if "".join(distinct).isascii() and max(map(len, distinct)) <= MAX_VALUE_BYTES:
                continue
            ctx.suspects.append((str(col), values))
    return ctx.suspects


def _bytes_per_value(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(UTF-8 byte length, is-ASCII) of each value, computed on the distinct values."""
    codes, uniques = pd.factorize(values)
    u = [str(x) for x in uniques]
    nbytes = np.fromiter((len(x.encode("utf-8")) for x in u), dtype=np.int64, count=len(u))
    ascii_ = np.fromiter((x.isascii() for x in u), dtype=bool, count=len(u))
    nbytes = np.append(nbytes, 0)
    ascii_ = np.append(ascii_, True)
    return nbytes[codes], ascii_[codes]


@rule("MSC-XPT-003")
def xpt_value_length(ctx: XptFile, meta: RuleMeta) -> Iterable[Finding]:
    for col, values in _suspect_columns(ctx):
        nbytes, _ = _bytes_per_value(values)
        pos = np.flatnonzero(nbytes > MAX_VALUE_BYTES)
        yield from bulk(meta, len(pos), file=str(ctx.path), dataset=ctx.dataset, row=pos + 1, variable=col,
                        value=values[pos], nbytes=nbytes[pos], start=[str(v)[:30] for v in values[pos]],
                        **_subject_columns(ctx.data, pos))


@rule("MSC-XPT-004")
def xpt_ascii(ctx: XptFile, meta: RuleMeta) -> Iterable[Finding]:
    where = {"file": str(ctx.path), "dataset": ctx.dataset}
    if not ctx.file_label.isascii():
        yield meta.finding(**where, value=ctx.file_label, what="the dataset label")
    for col, label in ctx.labels.items():
        if label and not label.isascii():
            yield meta.finding(**where, variable=col, value=label, what=f"the label of {col}")


@rule("MSC-XPT-006")
def xpt_numeric_dtc(ctx: XptFile, meta: RuleMeta) -> Iterable[Finding]:
    from msc_interop.sdtm.xpt_read import numeric_formats

    for col, fmt in numeric_formats(Path(ctx.path)).items():
        if col.endswith("DTC"):
            yield meta.finding(file=str(ctx.path), dataset=ctx.dataset, variable=col, value=fmt,
                               sas_format=fmt or "none")


@rule("MSC-XPT-007")
def xpt_version_5(ctx: XptFile, meta: RuleMeta) -> Iterable[Finding]:
    try:
        with open(ctx.path, "rb") as fh:
            first = fh.read(80)
    except OSError:  # (read already, or its reader's finding says why not)
        return
    if not first.startswith(V5_LIBRARY):
        yield meta.finding(file=str(ctx.path), dataset=ctx.dataset,
                           value=first[20:28].decode("ascii", "replace").strip())


@rule("MSC-XPT-005")
def xpt_ascii_values(ctx: XptFile, meta: RuleMeta) -> Iterable[Finding]:
    where = {"file": str(ctx.path), "dataset": ctx.dataset}
    for col, values in _suspect_columns(ctx):
        _, ascii_ = _bytes_per_value(values)
        pos = np.flatnonzero(~ascii_)
        yield from bulk(meta, len(pos), **where, row=pos + 1, variable=col, value=values[pos],
                        what=f"{col} value", **_subject_columns(ctx.data, pos))


def _subject_columns(df: pd.DataFrame, pos: np.ndarray) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "USUBJID" in df.columns:
        out["usubjid"] = df["USUBJID"].to_numpy(dtype=object)[pos]
    return out


# --- Dataset-JSON --------------------------------------------------------------------------------------------

_JSON_KIND = {str: "string", bool: "boolean", int: "number", float: "number", type(None): "null",
              list: "array", dict: "object"}
_ALLOWED = {
    "integer": {"number", "null"}, "float": {"number", "null"}, "double": {"number", "null"},
    "boolean": {"boolean", "null"},
}  # every other dataType (string, decimal, date, datetime, time, URI) is carried as a JSON string


@dataclass
class JsonFile:
    """One Dataset-JSON file parsed: the metadata (top level without rows) and the rows."""

    path: Path
    ndjson: bool
    header: dict[str, Any]
    rows: list[Any] = field(default_factory=list)
    row_lines: bool = False  # NDJSON: row i is on line i + 2

    @property
    def dataset(self) -> str:
        name = self.header.get("name")
        return name.upper() if isinstance(name, str) and name else self.path.stem.upper()


@rule("MSC-DJSON-001")
def djson_schema(ctx: JsonFile, meta: RuleMeta) -> Iterable[Finding]:
    validator = dataset_json_validator(ndjson=ctx.ndjson)
    doc = dict(ctx.header) if ctx.ndjson else {**ctx.header, "rows": ctx.rows[:_SCHEMA_ROWS]}
    errors = sorted(validator.iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
    for e in errors[:_MAX_SCHEMA_ERRORS]:
        path = list(e.absolute_path)
        row = int(path[1]) + 1 if len(path) > 1 and path[0] == "rows" and isinstance(path[1], int) else None
        variable = ""
        if len(path) > 1 and path[0] == "columns" and isinstance(path[1], int) and path[1] < len(ctx.header.get(
                "columns", [])) and isinstance(ctx.header["columns"][path[1]], dict):
            variable = str(ctx.header["columns"][path[1]].get("name", ""))
        yield meta.finding(file=str(ctx.path), dataset=ctx.dataset, row=row, variable=variable,
                           value=_short_json(e.instance), path="/" + "/".join(map(str, path)), error=e.message)
    if len(errors) > _MAX_SCHEMA_ERRORS:
        yield meta.finding(file=str(ctx.path), dataset=ctx.dataset, path="/",
                           error=f"... and {len(errors) - _MAX_SCHEMA_ERRORS} more schema errors")


def _short_json(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:79] + "…"


@rule("MSC-DJSON-002")
def djson_records(ctx: JsonFile, meta: RuleMeta) -> Iterable[Finding]:
    records = ctx.header.get("records")
    if isinstance(records, int) and not isinstance(records, bool) and records != len(ctx.rows):
        yield meta.finding(file=str(ctx.path), dataset=ctx.dataset, variable="records", value=records,
                           count=len(ctx.rows))


@rule("MSC-DJSON-003")
def djson_rows(ctx: JsonFile, meta: RuleMeta) -> Iterable[Finding]:
    columns = ctx.header.get("columns")
    if not isinstance(columns, list) or not all(isinstance(c, dict) for c in columns):
        return  # the schema rule reports it
    n = len(columns)
    where = {"file": str(ctx.path), "dataset": ctx.dataset}
    rows = ctx.rows
    if all(type(r) is list for r in rows) and set(map(len, rows)) <= {n}:
        good, good_at = rows, None
    else:
        lengths = np.fromiter((len(r) if isinstance(r, list) else -1 for r in rows), dtype=np.int64, count=len(rows))
        bad = np.flatnonzero(lengths != n)
        yield from bulk(meta, len(bad), **where, row=bad + 1, value="", count=lengths[bad], ncols=n)
        good_at = np.flatnonzero(lengths == n)
        good = [rows[i] for i in good_at]
    if not good:
        return
    # Python types per column, a few thousand rows at a time (freshly parsed rows are still in the CPU cache,
    # which makes this several times faster than whole columns); the first offending row is found afterwards
    types: list[set[type]] = [set() for _ in columns]
    for a in range(0, len(good), _TYPE_BLOCK):
        for seen, values in zip(types, zip(*good[a:a + _TYPE_BLOCK], strict=True), strict=True):
            seen.update(map(type, values))
    for j, (col, seen) in enumerate(zip(columns, types, strict=True)):
        dtype = str(col.get("dataType", "string"))
        allowed = _ALLOWED.get(dtype, {"string", "null"})
        wrong = {_JSON_KIND.get(k, "other") for k in seen} - allowed
        if not wrong:
            continue
        kind = sorted(wrong)[0]
        first = next(i for i, r in enumerate(good) if _JSON_KIND.get(type(r[j]), "other") == kind)
        row = (int(good_at[first]) if good_at is not None else first) + 1
        yield meta.finding(**where, row=row, variable=str(col.get("name", j)), value=_short_json(good[first][j]),
                           variant="type", datatype=dtype, kind=kind)


@rule("MSC-DJSON-004")
def djson_name(ctx: JsonFile, meta: RuleMeta) -> Iterable[Finding]:
    name = ctx.header.get("name")
    if isinstance(name, str) and name.upper() != ctx.path.stem.upper():
        yield meta.finding(file=str(ctx.path), dataset=ctx.dataset, variable="name", value=name,
                           file_name=ctx.path.name, expected=ctx.path.stem.upper())
