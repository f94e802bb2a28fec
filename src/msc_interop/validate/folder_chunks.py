"""One big SDTM dataset file read a range of rows at a time, each range as the whole read gives those rows,
with the file-level findings a whole read makes (validate/engine.py `_read_group`), placed at whole rows.

- XPT: the records are fixed width, so a range is read straight from the file (sdtm/xpt_read.py), its numbers
  rounded to SAS's 15 significant digits as read_xpt rounds the whole file's; the XPT rules run on each range,
  their row findings placed at whole rows and put in the whole run's order.
- Dataset-JSON / NDJSON: the rows are located without parsing the file (sdtm/json_rows.py) and parsed a range
  at a time by the reader's own frame builder; the metadata rules run once on the metadata with the first rows
  and the row count (as validate/written.py checks a file just written); the row-type rule on every range.
- CSV: pandas reads it in chunks; the columns read as numbers only when all their values are (csvio) are
  decided over the whole file first.

What a range cannot show as the whole read would (text not in UTF-8 or --encoding given, an XPT layout
pyreadstat must read, a row that does not parse or whose type is wrong, a count that differs, ...) raises
Declined: the caller reads the folder whole, which reports it exactly.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from msc_interop.errors import InputError
from msc_interop.sdtm import csvio
from msc_interop.sdtm.datasetjson_read import frame_of_rows, stated_records
from msc_interop.sdtm.json_rows import NotIndexable, index_rows
from msc_interop.sdtm.xpt_layout import check_xpt_layout
from msc_interop.sdtm.xpt_read import NotHandled, read_xport_columns
from msc_interop.study import as_text
from msc_interop.validate.model import Finding, Scope
from msc_interop.validate.registry import list_rules, run
from msc_interop.validate.rules import JsonFile, XptFile
from msc_interop.validate.written import _SCHEMA_ROWS, _HeadRows

# rows read at a time: XPT columns are numpy arrays; a parsed JSON or CSV row is a Python object per cell
CHUNK_ROWS = {"xpt": 200_000, "json": 50_000, "ndjson": 50_000, "csv": 50_000}


class Declined(Exception):
    """This file (and so its folder) must be read whole to be validated exactly."""


class ChunkedFile:
    """A dataset file given as consecutive row ranges (`chunks`); `findings` are complete once they are read."""

    def __init__(self, fmt: str, path: Path, chunk_rows: int | None = None, *, check: bool = True):
        """`check=False`: the rows only, no XPT rule run on them (a reader that is not validating, e.g. summary)."""
        self.fmt, self.path, self.chunk_rows = fmt, Path(path), chunk_rows or CHUNK_ROWS[fmt]
        self.check = check
        self.findings: list[Finding] = []
        self.header: dict[str, Any] | None = None
        self.name = ""
        self._open()

    def _open(self) -> None:
        if self.fmt == "xpt":
            try:
                check_xpt_layout(self.path)
                _, self._meta = read_xport_columns(self.path, "utf-8", metadataonly=True)
            except (InputError, NotHandled, UnicodeDecodeError, OSError, ValueError) as exc:
                raise Declined(f"{self.path.name}: {exc}") from None
            self.name = (self._meta.table_name or self.path.stem).upper()
        elif self.fmt in ("json", "ndjson"):
            try:
                self._index = index_rows(self.path, self.fmt == "ndjson")
            except (NotIndexable, OSError) as exc:
                raise Declined(str(exc)) from None
            self.header = self._index.header
            name = self.header.get("name")
            self.name = str(name) if isinstance(name, str) else ""
            try:
                records = stated_records(self.path, self.header)
            except InputError as exc:
                raise Declined(str(exc)) from None
            if records is not None and records != len(self._index):
                raise Declined(f"{self.path.name}: 'records' {records}, {len(self._index)} rows")
        else:
            self.name = self.path.stem.upper()
            self._numeric = self._csv_numeric()

    @property
    def column_names(self) -> list[str]:
        """The file's variables, in its order."""
        if self.fmt == "xpt":
            return list(self._meta.column_names or [])
        if self.fmt in ("json", "ndjson"):
            return [str(c.get("name")) for c in (self.header or {}).get("columns") or []
                    if isinstance(c, dict)]
        return list(self._header)

    def chunks(self, columns: Collection[str] | None = None) -> Iterator[tuple[int, pd.DataFrame]]:
        """(first row, frame) of each range, in order; the file's findings are in `findings` at the end.
        `columns`: only those variables in each frame (an XPT range then decodes no other text; every range is
        refused, Declined, as it would be with them all). Not with `check`: the XPT rules look at every variable."""
        if columns is not None and self.check:
            raise ValueError("a range of some variables cannot be checked: open the file with check=False")
        if self.fmt == "xpt":
            yield from self._xpt(columns)
            return
        keep = None if columns is None else set(columns)
        for a, frame in self._json() if self.fmt in ("json", "ndjson") else self._csv():
            yield a, frame if keep is None else frame[[c for c in frame.columns if c in keep]]

    # --- XPT --------------------------------------------------------------------------------------------

    def _xpt(self, columns: Collection[str] | None) -> Iterator[tuple[int, pd.DataFrame]]:
        meta = self._meta
        n = int(meta.number_rows or 0)
        found: list[Finding] = []
        for a in range(0, max(n, 1), self.chunk_rows):
            try:
                # numbers as read_xpt gives the whole file: as their writer meant them (xpt_read `decimals`)
                df, _ = read_xport_columns(self.path, "utf-8", rows=(a, a + self.chunk_rows), columns=columns,
                                           decimals=True)
            except (UnicodeDecodeError, NotHandled) as exc:  # not UTF-8: decoded per file by the whole read
                raise Declined(f"{self.path.name}: {exc}") from None
            frame = pd.DataFrame({c: df[c] if pd.api.types.is_numeric_dtype(df[c]) else as_text(df[c])
                                  for c in df.columns}, index=pd.RangeIndex(len(df)))
            if self.check:
                xpt = XptFile(self.path, meta.table_name or "", meta.file_label or "",
                              dict(meta.column_names_to_labels or {}), frame)
                got = run(Scope.XPT, xpt, file=str(self.path), dataset=self.name)
                found += [replace(f, row=f.row + a) if f.row is not None else f
                          for f in got if f.row is not None or a == 0]
            yield a, frame
        # as one run over the whole rows gives them: rule by rule, variable by variable, row by row
        order = {r.id: i for i, r in enumerate(list_rules())}
        columns = list(meta.column_names or [])
        found.sort(key=lambda f: (order.get(f.rule_id, len(order)), f.row is not None,
                                  columns.index(f.variable) if f.variable in columns else -1, f.row or 0))
        self.findings += found

    # --- Dataset-JSON --------------------------------------------------------------------------------------

    def _json(self) -> Iterator[tuple[int, pd.DataFrame]]:
        index, header = self._index, dict(self._index.header)
        header.pop("records", None)  # checked against the whole count in _open
        ndjson = self.fmt == "ndjson"
        row_rule = [r for r in list_rules() if r.id == "MSC-DJSON-003"]
        first: list[Any] = []
        for a in range(0, max(len(index), 1), self.chunk_rows):
            try:
                rows = index.rows(a, min(a + self.chunk_rows, len(index)))
            except NotIndexable as exc:
                raise Declined(str(exc)) from None
            if run(Scope.DATASETJSON, JsonFile(self.path, ndjson, header, rows, row_lines=ndjson),
                   file=str(self.path), rules=row_rule):
                raise Declined(f"{self.path.name}: a row of the wrong shape or type")  # placed by the whole read
            if len(first) < _SCHEMA_ROWS:
                first += rows[:_SCHEMA_ROWS - len(first)]
            try:
                name, frame, _ = frame_of_rows(self.path, header, [rows])
            except InputError as exc:
                raise Declined(str(exc)) from None
            del rows
            yield a, frame
        parsed = JsonFile(self.path, ndjson, self._index.header, _HeadRows(first, len(index)), row_lines=ndjson)
        self.findings += run(Scope.DATASETJSON, parsed, file=str(self.path), dataset=parsed.dataset,
                             rules=[r for r in list_rules() if r.id != "MSC-DJSON-003"])
        self.name = name if len(index) else self.name

    # --- CSV -------------------------------------------------------------------------------------------------

    def _read(self, **kwargs: Any) -> Iterator[pd.DataFrame]:
        try:
            yield from pd.read_csv(self.path, dtype=str, keep_default_na=False, na_filter=False,
                                   encoding="utf-8-sig", chunksize=self.chunk_rows, **kwargs)
        except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, OSError) as exc:
            raise Declined(f"{self.path.name}: {exc}") from None

    def _csv_numeric(self) -> dict[str, bool]:
        """For each column read as numbers only if all its values are: whether they all are, in the whole file."""
        try:
            header = list(pd.read_csv(self.path, dtype=str, nrows=0, encoding="utf-8-sig").columns)
        except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, OSError) as exc:
            raise Declined(f"{self.path.name}: {exc}") from None
        if len(set(header)) != len(header):
            raise Declined(f"{self.path.name}: repeated column names")
        self._header = header
        cols = csvio.numbers_if_all_columns(self.path, header)
        out = dict.fromkeys(cols, True)
        if cols:
            for chunk in self._read(usecols=cols):
                for c in cols:
                    out[c] = out[c] and csvio.all_numbers(as_text(chunk[c]))
        return out

    def _csv(self) -> Iterator[tuple[int, pd.DataFrame]]:
        a = 0
        for raw in self._read():
            try:
                frame = csvio.csv_frame(self.path, raw.reset_index(drop=True), self._numeric)
            except InputError as exc:
                raise Declined(str(exc)) from None
            yield a, frame
            a += len(raw)
