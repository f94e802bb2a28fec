"""Check a form's rows against its JSON Schema row schema, column by column.

The row schema (mappings/schema/records.schema.json) is ordinary JSON Schema: one row, read as
{column: text} with empty cells left out, must validate against it. Validating a million rows one by one
with jsonschema takes minutes, so this module applies the same keywords to whole columns: required,
properties.*.{type: string, pattern, enum, minLength, maxLength, $ref}. Any other keyword in a row schema is
refused at load time, so the fast path can never silently skip a rule (tests compare it with jsonschema).
One keyword of our own, `maxBytes`: the length in UTF-8 bytes (SDTM's limit of 200 for a character value is in
bytes, as XPT v5 stores it; maxLength counts characters, so 150 'é' would pass it and fail the XPT writer).
jsonschema ignores it as an unknown keyword.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from msc_interop.distinct import column_codes
from msc_interop.errors import MappingDataError
from msc_interop.patterns import search_each
from msc_interop.records.decimal_comma import decimal_comma_hints

_SUPPORTED_ROW_KEYS = {"type", "required", "properties", "additionalProperties", "description"}
_SUPPORTED_PROP_KEYS = {"type", "pattern", "enum", "minLength", "maxLength", "maxBytes", "description", "$ref"}


@dataclass(frozen=True)
class CellProblem:
    """Rows (by DataFrame index) where `column` breaks a rule, with a message for the reject report."""

    column: str
    mask: pd.Series
    reason: str | pd.Series  # one reason, or one per row (same index as the mask)
    code: str = "REJ-REC-002"  # a value of the wrong form; REJ-REC-001 for an empty required field


def resolve(schema_root: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local `$ref` (#/$defs/...) once; row schemas only use local references."""
    ref = node.get("$ref")
    if ref is None:
        return node
    if not ref.startswith("#/"):
        raise MappingDataError(f"records schema: only local $ref supported, got {ref!r}")
    target: Any = schema_root
    for part in ref[2:].split("/"):
        target = target[part]
    merged = {k: v for k, v in node.items() if k != "$ref"}
    return {**target, **merged}


def check_rows(df: pd.DataFrame, row_schema: dict[str, Any], schema_root: dict[str, Any]) -> Iterator[CellProblem]:
    """Yield the cell problems of `df` (all text, "" for an empty cell) under `row_schema`: each keyword decided on
    the column's distinct values, and a problem yielded (its rows spread from the codes) only where a value
    breaks it: a clean million-row form spreads nothing."""
    unknown = set(row_schema) - _SUPPORTED_ROW_KEYS
    if unknown:
        raise MappingDataError(f"records schema: row keyword(s) {sorted(unknown)} not supported by the table checker")
    properties = row_schema.get("properties", {})
    columns: dict[str, DistinctColumn] = {}

    def distinct(col: str) -> DistinctColumn:  # (only the form's columns: not a reader's row numbers, not a column
        if col not in columns:  # outside the form: a million distinct values for nothing)
            columns[col] = DistinctColumn(df[col])
        return columns[col]

    for col in row_schema.get("required", []):
        if col in df.columns and (rows := distinct(col).rows(~distinct(col).filled)) is not None:
            yield CellProblem(col, rows, f"required field '{col}' is empty", "REJ-REC-001")
    for col, raw in properties.items():
        if col not in df.columns:
            continue
        prop = resolve(schema_root, raw)
        unknown = set(prop) - _SUPPORTED_PROP_KEYS
        if unknown:
            raise MappingDataError(f"records schema: keyword(s) {sorted(unknown)} on '{col}' not supported")
        column = distinct(col)
        values, has = column.values, column.filled
        found: list[tuple[np.ndarray, str | np.ndarray]] = []
        if "pattern" in prop:  # JSON Schema patterns are unanchored (search), like Python's re.search
            ok = search_each(prop["pattern"], values)  # (once per shape of the distinct values where it can)
            found.append((~ok, _pattern_reason(col, prop, values, ok)))
        if "enum" in prop:
            found.append((~values.isin(prop["enum"]).to_numpy(dtype=bool),
                          f"'{col}' must be one of {', '.join(map(str, prop['enum']))}"))
        lengths = column.lengths() if {"minLength", "maxLength", "maxBytes"} & set(prop) else None
        if "minLength" in prop:
            found.append((lengths < prop["minLength"], f"'{col}' is shorter than {prop['minLength']} characters"))
        if "maxLength" in prop:
            found.append((lengths > prop["maxLength"], f"'{col}' is longer than {prop['maxLength']} characters"))
        if "maxBytes" in prop:  # rows already too long in characters are not listed twice
            nbytes = column.utf8_lengths(lengths)
            longer = lengths > prop["maxLength"] if "maxLength" in prop else False
            found.append(((nbytes > prop["maxBytes"]) & ~longer,
                          f"'{col}' is longer than {prop['maxBytes']} bytes in UTF-8 (a character that is not ASCII "
                          "takes 2-4 bytes)"))
        for bad, reason in found:
            if (rows := column.rows(has & bad)) is not None:
                yield CellProblem(col, rows, reason if isinstance(reason, str) else
                                  pd.Series(reason[column.codes], index=column.index).where(rows, ""))


class DistinctColumn:
    """A column's distinct values (distinct.column_codes: shared with the reader and the builders) and the rows
    holding those a check flags."""

    def __init__(self, values: pd.Series):
        self.codes, uniques = column_codes(values)
        self.values = pd.Series(uniques, dtype=object)
        self.filled = self.values.ne("").to_numpy(dtype=bool)
        self.index = values.index

    def lengths(self) -> np.ndarray:
        """Each distinct value's length in characters: values.str.len(), one len() per value when all are text
        (not pandas' call per value)."""
        items = self.values.tolist()
        if pd.api.types.infer_dtype(items, skipna=False) == "string":
            return np.fromiter(map(len, items), dtype=np.int64, count=len(items))
        return self.values.str.len().to_numpy()

    def utf8_lengths(self, lengths: np.ndarray) -> np.ndarray:
        """Each distinct value's length in UTF-8 bytes (values.str.encode("utf-8").str.len()): its `lengths` in
        characters where it is ASCII, only the others encoded."""
        items = self.values.tolist()
        if pd.api.types.infer_dtype(items, skipna=False) != "string":
            return self.values.str.encode("utf-8").str.len().to_numpy()
        wide = np.flatnonzero(~np.fromiter(map(str.isascii, items), dtype=bool, count=len(items)))
        out = np.array(lengths, dtype=np.int64)
        if len(wide):
            out[wide] = self.values.iloc[wide].str.encode("utf-8").str.len().to_numpy()
        return out

    def rows(self, flagged: np.ndarray) -> pd.Series | None:
        """The rows' mask of the flagged distinct values; None when none is flagged."""
        flagged = np.asarray(flagged, dtype=bool)
        return pd.Series(flagged[self.codes], index=self.index) if flagged.any() else None


def _pattern_reason(col: str, prop: dict[str, Any], values: pd.Series, ok: np.ndarray) -> str | np.ndarray:
    """Why the distinct values not matching the pattern fail: one reason, or one per distinct value when some is a
    number written with a decimal comma that the pattern takes with a '.' (59,8 for 59.8): that is named."""
    reason = _describe(col, prop, "does not have the expected form")
    failing = values[~ok]
    if not any("," in str(v) for v in failing.tolist()):  # (no comma: no hint; most failing values are empty
        return reason  # cells, and the hints' dozen string passes cost more than the pattern)
    hints = decimal_comma_hints(col, failing)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        hints = hints.where(failing.str.replace(",", ".", regex=False).str.contains(prop["pattern"], regex=True)
                            .astype(bool), "")
    if not hints.ne("").any():
        return reason
    out = np.full(len(values), reason, dtype=object)
    out[np.flatnonzero(~ok)] = hints.where(hints.ne(""), reason).to_numpy(dtype=object)
    return out


def _describe(col: str, prop: dict[str, Any], fallback: str) -> str:
    desc = prop.get("description")
    return f"'{col}' {fallback}" + (f" (expected: {desc})" if desc else f" (pattern {prop['pattern']})")
