"""Read study records: a folder of CSV files (one per form) or an XLSX workbook (one sheet per form), plus the
study definition (study.yaml, read and checked by definition.py). Every cell is read as text; each form is
checked against its JSON Schema row schema (and for control characters, real and plausible dates) before any
mapping. Rows that fail go to the reject report (file, row, field, value, reason): the row is the line of a CSV
file the record starts on (csv_text.py; header = 1, blank lines count), the sheet row of a workbook. Problems
that make a whole file unreadable raise InputError naming the file and line.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from msc_interop import mappings
from msc_interop.distinct import column_codes, known_codes, per_distinct, row_codes, rows_all_distinct, stripped_text
from msc_interop.errors import InputError
from msc_interop.records.csv_text import PreparsedFile, read_csv_text, span_records, utf8_text
from msc_interop.records.definition import check_definition, find_definition, read_definition
from msc_interop.records.empty_rows import without_empty_rows
from msc_interop.records.subject_share import SubjectShare
from msc_interop.records.table_check import CellProblem, check_rows
from msc_interop.records.unread import UNREAD, report_unread_files, report_unread_sheets
from msc_interop.records.value_checks import control_problems, date_problems, plausible_bounds, time_fields
from msc_interop.records.workbook import (
    check_merged,
    definition_values,
    elapsed_problems,
    hidden_date_notes,
    hidden_sheet_note,
    percent_cells,
    percent_units,
    read_sheets,
    shown_text,
)
from msc_interop.records.workbook_cells import check_unknown, unknown_only_rows, unknown_problems, unknown_rows_what
from msc_interop.rejects import RejectReport

SEPARATORS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}  # what a CSV export sometimes uses
ROW = "_row"  # where each record is (CSV line it starts on, sheet row; header = 1), carried to the reject report
# an exact duplicate (the first copy kept): deleted, not corrected, and nothing of it is lost to a derivation
DUPLICATE = "REJ-REC-004"
# a workbook's sheets holding the study definition when no study.yaml is beside it; products is optional, as in
# study.yaml (its columns: the schema's products items, aliases separated by ';')
DEFINITION_SHEETS = ("study", "sites", "arms", "visits")
OPTIONAL_DEFINITION_SHEETS = ("products",)


def _forms() -> dict[str, dict[str, Any]]:
    return mappings.schema("records")["x-forms"]


FORMS: tuple[str, ...] = ("subjects", "exposures", "adverse_events", "labs", "findings", "vital_signs", "ecg",
                          "medical_history", "medications", "disposition")


@dataclass
class RawRecords:
    """Checked study records: text DataFrames per form (with `_row`), the study definition, and rejects."""

    definition: dict[str, Any]
    forms: dict[str, pd.DataFrame]
    files: dict[str, str]
    read_counts: dict[str, int]
    rejects: RejectReport = field(default_factory=RejectReport)
    source: str = ""
    # every subject_id in subjects.csv, rejected or not (a share or partition of the subjects: and those of the
    # others, so that a row of a subject not in it is named alike however the study is loaded)
    subjects_read: frozenset[str] = frozenset()
    where: Mapping[tuple[str, int], str] = field(default_factory=dict)  # (form, row) -> location: ODM OID path
    # the rows rejected so far (not exact duplicates), kept so that a later check of a value (sdtm.common.map_terms)
    # names their bad fields too: one correction round fixes a row; sdtm/lost_records.py names the derivations
    # made without them
    held: dict[str, pd.DataFrame] = field(default_factory=dict)
    # records rejected before they became a row (a line of a value spanning lines, an ODM SubjectData not read), as
    # far as they could be read, with `_row`: sdtm/lost_records.py names the derivations made without them
    unparsed: dict[str, pd.DataFrame] = field(default_factory=dict)
    # the rows (`_row`) of each form rejected because their unscheduled visit cannot be numbered (REJ-REC-016,
    # sdtm/unscheduled.py): that reject says why SV lacks the visit, so sdtm/lost_records.py does not say it again
    unnumbered: dict[str, np.ndarray] = field(default_factory=dict)

    def reject_rows(self, form: str, mask: pd.Series, field_name: str, reason: str | pd.Series, *,
                    code: str) -> pd.DataFrame:
        """Move the rows where `mask` is True from the form to the reject report (with the reason code from
        mappings/reject_codes.yaml); return what remains."""
        df = self.forms[form]
        mask = mask.reindex(df.index, fill_value=False).astype(bool)
        if mask.any():
            self._list(form, df, mask, field_name, reason, code)
            if code != DUPLICATE:
                self._hold(form, df[mask])
            df = df[~mask]
            self.forms[form] = df
        return df

    def check_held(self, form: str, field_name: str, flag: Callable[[pd.Series], pd.Series],
                   reason: Callable[[pd.Series], pd.Series], *, code: str) -> None:
        """A builder's check of `field_name` on the rows already rejected for another field (held): `flag` marks
        the bad distinct values, `reason` says why per distinct value. Those the report does not name yet are
        named; the records stay counted once."""
        held = self.held.get(form)
        if held is None or field_name not in held.columns:
            return
        mask = per_distinct(lambda u: flag(u).astype(bool), held[field_name]).astype(bool)
        if not mask.any():
            return
        named = {r.row for r in self.rejects.rejects if r.form == form and r.field == field_name}
        mask &= ~held[ROW].isin(named)
        if mask.any():
            self._list(form, held, mask, field_name, per_distinct(reason, held[field_name].where(mask, "")), code)

    def _hold(self, form: str, rows: pd.DataFrame) -> None:
        self.held[form] = pd.concat([self.held[form], rows]) if form in self.held else rows

    def reject_problems(self, form: str, problems: Iterable[CellProblem]) -> pd.DataFrame:
        """reject_rows for several problems found on the same rows: every problem of a row is listed (a row with
        a bad date and a bad number names both, so that one correction round fixes both), and the row is removed
        once (one record rejected: read = converted + rejected). A field is named once, with its first problem (a
        date of the wrong form is not also listed as no calendar date). Return what remains."""
        df = self.forms[form]
        bad = np.zeros(len(df), dtype=bool)
        named: dict[str, np.ndarray] = {}  # field -> the rows already listed with a problem of it
        for problem in problems:
            before = named.setdefault(problem.column, np.zeros(len(df), dtype=bool))
            mask = problem.mask.reindex(df.index, fill_value=False).astype(bool).to_numpy() & ~before
            if mask.any():
                self._list(form, df, pd.Series(mask, index=df.index), problem.column, problem.reason, problem.code)
                before |= mask
                bad |= mask
        if bad.any():
            self._hold(form, df[bad])
            df = df[~bad]
            self.forms[form] = df
        return df

    def _list(self, form: str, df: pd.DataFrame, mask: pd.Series, field_name: str, reason: str | pd.Series,
              code: str) -> None:
        """The rows of `df` where `mask` is True, in the reject report (not removed from the form)."""
        bad = df[mask]
        values = bad[field_name] if field_name in bad.columns else pd.Series("", index=bad.index)
        if isinstance(reason, pd.Series):
            reason = reason.reindex(df.index, fill_value="")
            for r, v, why in zip(bad[ROW].tolist(), values.tolist(), reason[mask].tolist(), strict=True):
                self.rejects.add(form, self.files[form], r, field_name, v, why, code=code)
        else:
            self.rejects.add_frame(form, self.files[form], bad[ROW], field_name, values, reason, code=code)


def read_records(path: str | Path, line_maps: Mapping[str, np.ndarray] | None = None, *,
                 share: SubjectShare | None = None, preparsed: Mapping[str, PreparsedFile] | None = None
                 ) -> RawRecords:
    """Read a study-records folder or XLSX workbook, check it against the records schema, return RawRecords.
    `line_maps` (file name -> line of each row in the file it was cut from; records/subject_split.py): the
    rows are named by those lines. `share` (a folder only): the rows of some subjects only (subject_share.py).
    `preparsed` (file name -> its bytes and plain parse, made before a load forked: sdtm/load_in_two.py): those
    files are not read or parsed again."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if share is not None and not path.is_dir():
        raise ValueError("read_records: a share of the subjects is read from a folder only")
    spans, clean, found, unparsed = RejectReport(), set(), {}, {}
    if path.is_dir():
        definition = read_definition(find_definition(path))
        tables, files = _read_csv_folder(path, spans, clean, line_maps, share, preparsed=preparsed, unparsed=unparsed)
        if share is not None and not share.reports_files:
            spans.rejects.clear()  # (the other share reports the lines of a value spanning lines, and the files)
        elif line_maps is None:  # (a partition cut from a folder: load_partitioned reports the folder's files)
            report_unread_files(path, {form: spec["file"] for form, spec in _forms().items()}, spans)
    elif path.suffix.lower() in (".xlsx", ".xlsm"):
        side = find_definition(path.parent, required=False)
        tables, files, sheet_def, found = _read_workbook(path, spans, definition_sheets=side is None)
        if side is not None:
            definition = read_definition(side)
        elif sheet_def is not None:
            named = "/".join([*DEFINITION_SHEETS, *(k for k in OPTIONAL_DEFINITION_SHEETS if k in sheet_def)])
            definition = check_definition(sheet_def, f"{path.name} (sheets {named})")
        else:
            raise InputError(f"{path}: no study definition: put study.yaml beside the workbook or add sheets "
                             "'study', 'sites', 'arms' and 'visits' (and optionally 'products')")
    else:
        raise InputError(f"{path}: study records are a folder of CSV files or an .xlsx workbook")
    read_before = Counter(r.form for r in spans.rejects if r.code != UNREAD)  # (a file not read: no record counted)
    first_checks = (lambda form, _df: found.get(form, ())) if found else None
    records = check_forms(tables, files, definition, source=str(path), rejects=spans, read_before=read_before,
                          clean=frozenset(clean), first_checks=first_checks)
    records.unparsed = unparsed  # (each share keeps the lines of every subject: its DM keeps its own)
    if share is not None and not share.inside:  # (the rows of a subject not in the subjects form are its own: the
        records.subjects_read |= share.subjects  # reject names the other share's subject it is but for zeros)
    return records


def check_forms(tables: dict[str, pd.DataFrame], files: dict[str, str], definition: dict[str, Any],
                source: str, first_checks: Callable[[str, pd.DataFrame], Iterable[Any]] | None = None,
                rejects: RejectReport | None = None, read_before: Mapping[str, int] | None = None,
                clean: frozenset[str] = frozenset()) -> RawRecords:
    """The checks every kind of study records goes through (CSV, XLSX, ODM): required forms and columns,
    control characters, row schemas, real and plausible dates, duplicates. `tables` are text DataFrames with
    the `_row` column already in place. `first_checks(form, df)` yields source-specific problems (mask,
    column, reason) checked before the rest. `read_before[form]`: records of the form already rejected (in
    `rejects`) before it became a table. `clean`: forms whose source holds no control character (not looked
    for again cell by cell)."""
    records = RawRecords(definition, {}, files, {}, source=source,
                         rejects=rejects if rejects is not None else RejectReport())
    root = mappings.schema("records")
    bounds = plausible_bounds(definition)
    for form, spec in _forms().items():
        if form not in tables:
            if spec["required"]:
                where = (f"a sheet named '{form}'" if str(source).lower().endswith((".xlsx", ".xlsm"))
                         else spec["file"])
                raise InputError(f"{source}: the required form '{form}' is missing (expected {where})")
            continue
        df = tables[form]
        row_schema = root["$defs"][form]
        _check_columns(df, row_schema, form, files[form], records)
        records.forms[form] = df
        records.read_counts[form] = len(df) + (read_before or {}).get(form, 0)
        if form == "subjects" and "subject_id" in df.columns:
            records.subjects_read = frozenset(df["subject_id"])
        problems = [*(first_checks(form, df) if first_checks else ()),
                    *(control_problems(df) if form not in clean else ()),
                    *check_rows(df, row_schema, root), *date_problems(df, row_schema, bounds)]
        records.reject_problems(form, problems)  # (every bad field of a row named, the row counted once)
        _reject_duplicates(records, form, spec["key"])
    return records


_BOM = b"\xef\xbb\xbf"
_ASCII_SPACE = frozenset(c for c in range(128) if chr(c).isspace())  # str.isspace's, incl. \x1c-\x1f


def _blank(raw: bytes, text: Callable[[], str]) -> bool:
    """Whether a file holds only white space as str.isspace() sees it (after a BOM; `text()` decodes it, called
    only when the first byte is white space or not ASCII, as a space that is would be)."""
    first = raw[len(_BOM)] if raw.startswith(_BOM) and len(raw) > len(_BOM) else (raw[0] if raw else None)
    if first is None or raw == _BOM:
        return True
    if first not in _ASCII_SPACE and first < 0x80:
        return False
    content = text().removeprefix("\ufeff")
    return not content or content.isspace()


def _check_csv_header(text: str, name: str) -> None:
    """A column named twice in a CSV header is exit 2 naming it (pandas would rename the second 'result.1' and
    the second column's values would be reported as an unknown column, then dropped); so is a header separated by
    semicolons, tabs or bars (Excel's 'CSV' in many locales), which would otherwise be reported as missing columns
    or rows of the wrong length (their decimal commas)."""
    header = next(csv.reader(io.StringIO(text[:1 << 20])), [])  # the header, not the file
    sep = next((d for d in SEPARATORS if len(header) == 1 and d in header[0]), None)
    if sep is not None:
        raise InputError(f"{name}: the header row is separated by {SEPARATORS[sep]} ({header[0][:60]!r}), not by "
                         "commas: save the file as 'CSV UTF-8 (Comma delimited)' (with '.' as the decimal mark)")
    _check_header(header, name)


def _check_header(names: list[Any], name: str) -> None:
    """Exit 2 naming a column that the header row (CSV or sheet) names twice, with both positions."""
    header = _normalize_header(names)
    seen: dict[str, int] = {}
    for number, column in enumerate(header, 1):
        if column in seen:
            raise InputError(f"{name}: column '{column}' appears more than once in the header row (columns "
                             f"{seen[column]} and {number}); keep one")
        seen[column] = number


def _normalize_header(cols: list[Any]) -> list[str]:
    """'Subject ID' and 'subject_id' both become subject_id: people write headers both ways."""
    return [str(c).strip().lower().replace(" ", "_").replace("-", "_") for c in cols]


def as_form_frame(df: pd.DataFrame, name: str, rows: Any = None) -> pd.DataFrame:
    """Normalise headers and cells (text, stripped) and add `_row`: the spreadsheet row (header = row 1) unless
    `rows` gives the locations (e.g. the XML line of each record)."""
    df.columns = _normalize_header(list(df.columns))
    dup = df.columns[df.columns.duplicated()].tolist()
    if dup:
        raise InputError(f"{name}: column(s) {dup} appear more than once in the header row")
    for c in df.columns:
        s = df[c]
        if not _all_text(s):
            s = s.astype(object).where(s.notna(), "").map(str)
        df[c] = _stripped(s)  # text's empty cells on the distinct values (no pass over the rows)
    # header is row 1; a CSV gives the line each record starts on (blank lines count, as a spreadsheet shows them)
    df.insert(0, ROW, pd.RangeIndex(2, len(df) + 2) if rows is None else rows)
    return df


def _all_text(column: pd.Series) -> bool:
    """pd.api.types.is_string_dtype(column): every value text (a null is not), asked of the distinct values where
    the column's codes are known (Arrow's read, shared_columns): not a look at each of a million objects (~45 ms
    for half of 1M lab rows)."""
    known = known_codes(column) if isinstance(column.dtype, np.dtype) and column.dtype == object else None
    return pd.api.types.is_string_dtype(column if known is None else pd.Series(known[1], dtype=object))


def _stripped(column: pd.Series) -> pd.Series:
    """The column as stripped text ("" for null): the column itself (its codes known) when every distinct value is
    text already stripped, as a clean export's are (no million-row copy of what it holds)."""
    _codes, uniques = column_codes(column)
    distinct = pd.Series(uniques, dtype=object)
    if isinstance(column.dtype, np.dtype) and column.dtype == object and stripped_text(distinct).equals(distinct):
        return column
    return per_distinct(stripped_text, column)


def read_form_table(folder: Path, form: str) -> pd.DataFrame | None:
    """The text table of one form's CSV file in `folder` as the reader makes it (stripped, headers normalised,
    `_row`), unchecked (None: no such file): a glance at the subjects before the study is read (a value
    spanning lines is left out here; the read reports it)."""
    return _read_csv_folder(folder, RejectReport(), only=(form,))[0].get(form)


def _read_csv_folder(folder: Path, spans: RejectReport | None = None, clean: set[str] | None = None,
                     line_maps: Mapping[str, np.ndarray] | None = None, share: SubjectShare | None = None,
                     only: Collection[str] | None = None, preparsed: Mapping[str, PreparsedFile] | None = None,
                     unparsed: dict[str, pd.DataFrame] | None = None) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """The text table of each form's CSV file (of the forms `only` names), `_row` the line each record starts on,
    the rows of the subjects of `share` only. Lines of a value that spans lines (csv_text.Span) go to `spans`, one
    reject per line; without `spans` they stop the read; `unparsed` receives those lines as far as each reads as a
    record. `clean` receives the forms whose file holds no control character at all."""
    tables, files = {}, {}
    for form, spec in _forms().items():
        if only is not None and form not in only:
            continue
        path = folder / spec["file"]
        if not path.exists():
            continue
        if not path.is_file():
            raise InputError(f"{path}: the '{form}' form must be a CSV file; this is a folder or another "
                             "kind of file")
        made = (preparsed or {}).get(path.name)
        try:
            raw = made.raw if made is not None else path.read_bytes()
        except OSError as exc:
            raise InputError(f"{path}: cannot read the '{form}' form: {exc.strerror or exc}") from None
        # the file is not copied as text (100 MB at 1M lab rows: 0.2 s, twice as much memory if not ASCII): the
        # readers take the bytes, and the text is made where pandas must read the file or an error needs it
        ascii_only = raw.isascii()

        def text(raw: bytes = raw, name: str = path.name, ascii_only: bool = ascii_only) -> str:
            return raw.decode("ascii") if ascii_only else utf8_text(raw, name)

        if _blank(raw, text):
            raise InputError(f"{path.name}: the file is empty (not even a header row); "
                             f"delete it or write the header of the '{form}' form")
        _check_csv_header(raw[:1 << 20].decode("utf-8-sig", errors="replace"), path.name)
        table = read_csv_text(raw, text, path.name, None if share is None else share.wanted(_normalize_header),
                              made.plain if made is not None else None)
        for span in table.spans:
            if spans is None:
                raise InputError(f"{path.name} line {span.first}: {span.reason(span.first)}")
            for line, content in span.lines:
                spans.add(form, path.name, line, span.column, content, span.reason(line), code="REJ-REC-011")
        if table.spans and unparsed is not None:
            frame, lines = span_records(table.spans, list(table.frame.columns))
            unparsed[form] = as_form_frame(frame, path.name, rows=lines)
        rows = table.rows if line_maps is None or path.name not in line_maps else line_maps[path.name][table.rows - 2]
        tables[form] = as_form_frame(table.frame, path.name, rows=rows)
        if share is not None and not table.kept_wanted:
            tables[form] = share.rows_of(tables[form])
        tables[form], _kept, note = without_empty_rows(tables[form], path.name, ROW)  # (`,,,,`: a blank line)
        if note is not None and spans is not None:
            spans.notes.append(note)
        if clean is not None and not table.control:
            clean.add(form)
        files[form] = path.name
    return tables, files


def _read_workbook(path: Path, rejects: RejectReport, definition_sheets: bool = True
                   ) -> tuple[dict[str, pd.DataFrame], dict[str, str], dict[str, Any] | None, dict[str, list[Any]]]:
    """The forms' sheets as text tables (each cell the text it shows: records/workbook.py), the study definition
    of the sheets study/sites/arms/visits if there (and `definition_sheets`: no study.yaml is read instead), and
    per form the problems found in reading it (a cell whose value is unknown: a formula with no saved result, an
    error; a percent result whose unit cell says another unit). A hidden sheet read is named in a note."""
    raw_sheets = read_sheets(path)
    report_unread_sheets(path.name, {k: [] if v.values.empty else v.values.iloc[0].tolist()
                                     for k, v in raw_sheets.items()}, _forms(), rejects)
    sheets = {k.strip().lower(): (k.strip(), v) for k, v in raw_sheets.items()}
    tables, files, problems = {}, {}, {}
    root = mappings.schema("records")
    for form in _forms():
        if form not in sheets:
            continue
        name, sheet = sheets[form]
        where = f"{path.name}[{name}]"
        check_merged(sheet, where)
        names: list[str] = []
        if sheet.values.empty:
            df, percent, hidden = pd.DataFrame(), pd.DataFrame(), []
        else:
            names = _header_names(sheet.values.iloc[0].tolist(), where)
            normal, times = _normalize_header(names), time_fields(root["$defs"][form])
            body, formats = sheet.values.iloc[1:].reset_index(drop=True), sheet.formats.iloc[1:].reset_index(drop=True)
            df = pd.DataFrame({n: shown_text(body[c], formats[c], k in times)
                               for n, k, c in zip(names, normal, body.columns, strict=True)})
            percent = pd.DataFrame({n: percent_cells(body[c], formats[c])
                                    for n, c in zip(normal, body.columns, strict=True)})
            hidden = hidden_date_notes(body, formats, normal, where, times)
        # a row of no cell holds no record (a CSV's blank line, which pandas skips): drop it, keep the sheet row
        # numbers of the others (header = row 1); one whose cells hold only spaces, or only cells whose value is
        # unknown (formulas filled down below the data), is dropped too, named in a note
        filled = df.ne("").any(axis=1).to_numpy() if len(df.columns) else np.zeros(len(df), dtype=bool)
        unknown_only = unknown_only_rows(sheet.unknown, df)
        unread = np.arange(2, len(df) + 2)[unknown_only]
        filled = filled & ~unknown_only
        rows = np.arange(2, len(df) + 2)[filled]
        files[form] = f"{path.name}[{form}]"
        table = as_form_frame(df[filled].reset_index(drop=True), files[form], rows=rows)
        what, then = unknown_rows_what(sheet.unknown, int(unread[0])) if len(unread) else ("", "")
        table, kept, note = without_empty_rows(table, files[form], ROW, (unread, what, then))
        rejects.notes.extend([note] if note is not None else [])
        percent = percent[filled].reset_index(drop=True)[kept].reset_index(drop=True)
        table, percent_problems, notes = percent_units(table, percent, files[form])
        problems[form] = [*unknown_problems(sheet.unknown, table, _normalize_header(names),
                                            root["$defs"][form]["properties"], where, ROW), *percent_problems]
        if names:
            problems[form] += elapsed_problems(body, formats, _normalize_header(names), times, table, ROW, where)
        rejects.notes.extend(notes + hidden)
        if sheet.hidden:
            rejects.notes.append(hidden_sheet_note(where, f"the '{form}' form ({len(table)} record(s))"))
        tables[form] = table
    definition = None
    if definition_sheets and set(DEFINITION_SHEETS) <= set(sheets):
        kinds = [*DEFINITION_SHEETS, *(k for k in OPTIONAL_DEFINITION_SHEETS if k in sheets)]
        for k in kinds:
            check_unknown(sheets[k][1].unknown, f"{path.name}[{sheets[k][0]}]")
            if sheets[k][1].hidden:
                rejects.notes.append(hidden_sheet_note(f"{path.name}[{sheets[k][0]}]",
                                                       "a sheet of the study definition"))
        # each cell as shown, as a form's cells read (a site 1 formatted 00 is 01, as its subjects' site_id; a date
        # 2020-01-05); the visits' numbers and days stay numbers
        visit_props = mappings.schema("study_definition")["properties"]["visits"]["items"]["properties"]
        header = [] if sheets["visits"][1].values.empty else _normalize_header(
            sheets["visits"][1].values.iloc[0].tolist())
        numbers = [i for i, n in enumerate(header) if visit_props.get(n, {}).get("type") in ("number", "integer")]
        shown = {k: definition_values(sheets[k][1], numbers if k == "visits" else ()) for k in kinds}
        definition = _definition_from_sheets({k: _with_header(v.map(lambda x: np.nan if x is None else x),
                                                              f"{path.name}[{sheets[k][0]}]")
                                              for k, v in shown.items()})
    return tables, files, definition, problems


def _header_names(first_row: list[Any], name: str) -> list[str]:
    """A sheet's first row as its column names (as pandas names them: an empty cell is 'Unnamed: i'), checked for
    a name given twice (pandas would rename it 'result.1' and the values would then be dropped as an unknown
    column)."""
    names = [f"Unnamed: {i}" if x is None or (isinstance(x, float) and pd.isna(x)) else str(x)
             for i, x in enumerate(first_row)]
    _check_header(names, name)
    return names


def _with_header(raw: pd.DataFrame, name: str) -> pd.DataFrame:
    """A sheet read without a header: its first row names the columns (_header_names)."""
    if raw.empty:
        return pd.DataFrame()
    names = _header_names(raw.iloc[0].tolist(), name)
    body = raw.iloc[1:].reset_index(drop=True)
    body.columns = names
    return body


def _definition_from_sheets(sheets: dict[str, pd.DataFrame]) -> dict[str, Any]:
    def rows(name: str) -> list[dict[str, Any]]:
        """The sheet's rows with their filled cells; a row of no cell (a blank line between two) holds nothing."""
        df = sheets[name]
        df.columns = _normalize_header(list(df.columns))
        filled = ({k: v for k, v in r.items() if not (isinstance(v, float) and pd.isna(v))}
                  for r in df.to_dict("records"))
        return [r for r in filled if r]

    study = {str(r["field"]).strip(): r.get("value") for r in rows("study")}
    visits = []
    for v in rows("visits"):
        v = dict(v)
        for k in ("protocol_day", "window_before", "window_after"):
            if isinstance(v.get(k), float) and v[k].is_integer():  # (a column with an empty cell reads as floats)
                v[k] = int(v[k])  # others (7.5, text) are left for the schema to refuse, not cut to a whole day
        if "aliases" in v:
            v["aliases"] = _aliases(v["aliases"])
        visits.append(v)
    out = {k: str(v) for k, v in study.items() if v is not None}
    out.update(sites=[{k: str(x) for k, x in s.items()} for s in rows("sites")],
               arms=[{k: str(x) for k, x in a.items()} for a in rows("arms")], visits=visits)
    if "products" in sheets:  # (optional, as study.yaml's products; checked by the same schema and rules)
        out["products"] = [{k: _aliases(x) if k == "aliases" else str(x) for k, x in p.items()}
                           for p in rows("products")]
    return out


def _aliases(cell: Any) -> list[str]:
    """A definition sheet's aliases cell: the names separated by ';'."""
    return [a.strip() for a in str(cell).split(";") if a.strip()]


def _check_columns(df: pd.DataFrame, row_schema: dict[str, Any], form: str, file: str,
                   records: RawRecords) -> None:
    cols = [c for c in df.columns if c != ROW]
    missing = [c for c in row_schema.get("required", []) if c not in cols]
    if missing:
        raise InputError(f"{file}: required column(s) {', '.join(missing)} missing from the header row "
                         f"(found: {', '.join(cols)}); see the '{form}' form in the README")
    for c in cols:
        if c not in row_schema.get("properties", {}):
            records.rejects.add(form, file, 1, c, "", f"column '{c}' is not part of the '{form}' form, so its "
                                f"values were not converted; known columns: "
                                f"{', '.join(row_schema['properties'])}", code="REJ-REC-003")


def _repeats(frame: pd.DataFrame, keep_first: bool) -> pd.Series:
    """frame.duplicated(keep="first" or False), from the columns' shared codes (distinct.row_codes) instead of
    another factorization of every column of a million rows."""
    codes, first = row_codes(frame)
    if keep_first:
        repeat = np.ones(len(codes), dtype=bool)
        repeat[first] = False
    else:
        repeat = np.bincount(codes)[codes] > 1 if len(codes) else np.zeros(0, dtype=bool)
    return pd.Series(repeat, index=frame.index)


def _rising(frame: pd.DataFrame) -> bool:
    """Whether each row's values come after the row before's, compared column by column on their codes (numbered in
    order of appearance: distinct.column_codes): then no two rows are alike. A form written in the order of its key
    (an export sorted by subject, visit, date) is told so in one pass over the codes, without rows_all_distinct's
    sort (half of 1M lab rows: ~3 ms against ~25 ms); any other answers False (the sort decides)."""
    undecided = np.ones(max(len(frame) - 1, 0), dtype=bool)  # (rows equal to the row before in every column so far)
    for col in frame.columns:
        codes = column_codes(frame[col])[0]
        step = np.diff(codes.astype(np.int64, copy=False))
        if (undecided & (step < 0)).any():
            return False
        undecided &= step == 0
    return not undecided.any()


def _reject_duplicates(records: RawRecords, form: str, key: list[str]) -> None:
    """Exact repeats: keep the first, reject the rest. Same key, different values: reject all (which is right?)."""
    df = records.forms[form]
    key = [k for k in key if k in df.columns]
    if not key or df.empty:
        return
    if _rising(df[key]) or rows_all_distinct(df[key]):  # every key once (the common case): no row repeats another
        return  # either, and the million-row combination of every column is not made
    data_cols = [c for c in df.columns if c != ROW]
    exact = _repeats(df[data_cols], keep_first=True)
    if exact.any():
        first_row = df.groupby(data_cols, sort=False)[ROW].transform("min")
        reason = "exact duplicate of row " + first_row.astype(str)
        df = records.reject_rows(form, exact, key[-1], reason, code=DUPLICATE)
    clash = _repeats(df[key], keep_first=False)
    if clash.any():
        rows_of = df[clash].groupby(key, sort=False)[ROW].transform(lambda r: ", ".join(map(str, r)))
        reason = (f"conflicting records with the same {'/'.join(key)} (rows " + rows_of + "); "
                  "keep the right one and delete the others")
        records.reject_rows(form, clash, key[-1], reason.reindex(df.index, fill_value=""), code="REJ-REC-005")
