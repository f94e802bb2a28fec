"""Workbook cells whose value cannot be read (records/workbook.py reads the others): a formula with no saved result,
and a cell holding an error. Neither is an empty cell: the value is unknown, so the reader rejects the record
(REJ-REC-017) naming the cell, stops the read where no record can be rejected (a header, the study definition), and
skips a row holding nothing else (named in the note on empty rows, as a blank line is).

A formula has no saved result when its cell has no value beside it (<f> with no or an empty <v>: openpyxl writes
it so), or when the workbook asks to be recalculated on opening (calcPr fullCalcOnLoad="1" in xl/workbook.xml): its
writer did not compute the results, and the values stored are placeholders (XlsxWriter, pandas' default .xlsx
engine, stores 0: a weight =129.58/2.2 read as 0 kg). Excel clears the flag once it has calculated, LibreOffice never
writes it, so a workbook saved in either holds its results. The cells of an array formula or a data table (one
formula over a range) share its master cell's state.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any
from zipfile import ZipFile

import numpy as np
import pandas as pd
from openpyxl.packaging.manifest import Manifest
from openpyxl.reader.excel import _find_workbook_part
from openpyxl.utils.cell import get_column_letter, range_boundaries
from openpyxl.worksheet._reader import FORMULA_TAG, VALUE_TAG, WorkSheetParser
from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula
from openpyxl.xml.constants import ARC_CONTENT_TYPES
from openpyxl.xml.functions import fromstring

from msc_interop.errors import InputError
from msc_interop.records.table_check import CellProblem

UNKNOWN = "REJ-REC-017"  # a cell whose value is unknown (no saved result, an error): its record is rejected
UNSAVED_ADVICE = "open and save the workbook in Excel (or LibreOffice) so the value is stored"
ERROR_ADVICE = "correct the formula, or the cells it reads, so that it shows a value"
TYPED_ERROR_ADVICE = "type the value in the cell (or leave it empty if the value is not known)"
LISTED = 5  # the cells an error stopping the read names


@dataclass(frozen=True)
class UnknownCell:
    """A cell (1-based row and column) whose value is unknown: `value` is what it reads as (the formula, =6.14*1, or
    the error, #DIV/0!), `what` what it holds, `advice` what to do."""

    row: int
    column: int
    value: str
    what: str
    advice: str

    @property
    def ref(self) -> str:
        return f"{get_column_letter(self.column)}{self.row}"

    @property
    def reason(self) -> str:
        return f"cell {self.ref} holds {self.what}, so its value is unknown; {self.advice}"


def recalculated_on_open(archive: ZipFile) -> bool:
    """Whether the workbook asks to be recalculated when opened (<calcPr fullCalcOnLoad="1"/>): then no formula's
    stored result is taken as saved. (openpyxl's CalcProperties reads a missing attribute as true: read the XML.)"""
    package = Manifest.from_tree(fromstring(archive.read(ARC_CONTENT_TYPES)))
    root = fromstring(archive.read(_find_workbook_part(package).PartName[1:]))
    calc = next((child for child in root if str(child.tag).endswith("}calcPr")), None)
    return calc is not None and calc.get("fullCalcOnLoad", "").strip().lower() in ("1", "true", "on")


def formula_text(formula: Any) -> str:
    """A formula as the report names it: =6.14*1; an array formula as Excel shows it, {=A2:A4*2}; a data table by
    its range (its formula names no value)."""
    if isinstance(formula, DataTableFormula):
        return f"the data table {formula.ref}"
    if isinstance(formula, ArrayFormula):
        return "{" + str(formula.text) + "}"
    return str(formula)


class CellParser(WorkSheetParser):
    """openpyxl's sheet parser (data_only: a formula reads its saved result) noting in `unknown` the cells whose value
    is unknown, which read as their formula or their error text: a formula with no saved result (<f> with no or an
    empty <v>; any formula when `recalculate`, the workbook's fullCalcOnLoad), an error (t="e": #N/A, #DIV/0!, of a
    formula or typed), a number formatted as a date out of the range of dates (openpyxl: #VALUE!). A saved empty text
    (t="str", <v></v>: =IF(A2="","",A2) as Excel saves it) is a value, empty. Call `missing` after parsing."""

    def __init__(self, *args: Any, recalculate: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.recalculate = recalculate
        self.unknown: list[UnknownCell] = []
        self._ranges: list[tuple[tuple[int, int, int, int], UnknownCell]] = []  # (bounds, master): array, data table
        self._seen: set[tuple[int, int]] = set()  # the cells of those ranges found in the sheet

    def parse_cell(self, element: Any) -> dict[str, Any]:
        cell = super().parse_cell(element)
        if self._ranges and self._in_range(cell):
            return cell
        if cell["value"] is not None and len(element) < 2:  # (a value alone: no formula beside it)
            if cell["data_type"] == "e":
                self._error(cell, element, "")
            return cell
        formula = element.find(FORMULA_TAG)
        if formula is None:
            return cell
        saved = element.findtext(VALUE_TAG)
        if self.recalculate or (cell["value"] is None and (saved is None or (saved == ""
                                                                             and element.get("t") != "str"))):
            text = formula_text(self.parse_formula(element))  # (a shared formula: as this cell has it)
            master = self._note(cell, text, f"a formula with no saved result ({text})", UNSAVED_ADVICE)
            ref = formula.get("ref") or ""
            if formula.get("t") in ("array", "dataTable") and ":" in ref:
                self._ranges.append((range_boundaries(ref), master))
        elif (formula.get("t") == "shared" and formula.text) or cell["data_type"] == "e":
            # (the formula others share is kept for them: one of them may have no saved result)
            text = formula_text(self.parse_formula(element))
            if cell["data_type"] == "e":
                self._error(cell, element, text)
        return cell

    def missing(self) -> list[UnknownCell]:
        """The cells of an array formula or a data table with no saved result that the sheet does not hold (openpyxl
        writes the formula's first cell only), noted in `unknown` too: the caller puts their `value` in the grid."""
        out = []
        for (min_col, min_row, max_col, max_row), master in self._ranges:
            for row in range(min_row, max_row + 1):
                for col in range(min_col, max_col + 1):
                    if (row, col) not in self._seen and (row, col) != (master.row, master.column):
                        out.append(UnknownCell(row, col, master.value, master.what, master.advice))
        self.unknown.extend(out)
        return out

    def _in_range(self, cell: dict[str, Any]) -> bool:
        row, col = cell["row"], cell["column"]
        for (min_col, min_row, max_col, max_row), master in self._ranges:
            if min_row <= row <= max_row and min_col <= col <= max_col and (row, col) != (master.row, master.column):
                self._seen.add((row, col))
                self._note(cell, master.value, master.what, master.advice)
                return True
        return False

    def _note(self, cell: dict[str, Any], value: str, what: str, advice: str) -> UnknownCell:
        cell.update(value=value, data_type="f")
        self.unknown.append(UnknownCell(cell["row"], cell["column"], value, what, advice))
        return self.unknown[-1]

    def _error(self, cell: dict[str, Any], element: Any, formula: str) -> None:
        if element.get("t") == "e":
            value = str(cell["value"])
            what = f"the error {value}" + (f" (of its formula {formula})" if formula else "")
            advice = ERROR_ADVICE if formula else TYPED_ERROR_ADVICE
        else:  # (openpyxl reads a date cell whose number is out of the range of dates as #VALUE!)
            value = element.findtext(VALUE_TAG) or ""
            what = f"the number {value} formatted as a date, outside the range of dates (Excel shows ####)"
            advice = "correct the number or the cell's format"
        self._note(cell, value, what, advice)
        cell["data_type"] = "e"


def _listed(cells: list[UnknownCell]) -> str:
    more = f" and {len(cells) - LISTED} more" if len(cells) > LISTED else ""
    return "; ".join(f"cell {u.ref} holds {u.what}" for u in cells[:LISTED]) + more


def _advice(cells: list[UnknownCell]) -> str:
    return "; ".join(dict.fromkeys(u.advice for u in cells))


def unknown_problems(unknown: list[UnknownCell], table: pd.DataFrame, names: list[str], known: Collection[str],
                     where: str, row_column: str) -> list[CellProblem]:
    """A problem per column of a form's sheet (`names`: its normalised header, in sheet order) for the records
    (`table`, whose `row_column` is the sheet row) with a cell whose value is unknown: the record is rejected
    naming the cell and what it holds (it read as an empty cell: "required field is empty", or converted without
    the value). A column not of the form (`known`) is not converted anyway (REJ-REC-003). Such a cell in the header
    row stops the read: the column has no name."""
    header = [u for u in unknown if u.row == 1]
    if header:
        raise InputError(f"{where}: header {_listed(header)}, so the column has no name; {_advice(header)} (or type "
                         "the column's name)")
    by_column: dict[int, dict[int, str]] = {}
    for u in unknown:
        by_column.setdefault(u.column, {})[u.row] = u.reason
    problems = []
    rows = table[row_column]
    for c, reasons in sorted(by_column.items()):
        if names[c - 1] not in known:
            continue
        mask = rows.isin(list(reasons))
        if mask.any():
            reason = pd.Series("", index=table.index, dtype=object)
            reason[mask] = rows[mask].map(reasons)
            problems.append(CellProblem(names[c - 1], mask, reason, UNKNOWN))
    return problems


def check_unknown(unknown: list[UnknownCell], where: str) -> None:
    """A cell whose value is unknown in a sheet of the study definition stops the read (exit 2), naming the cells:
    the definition is not a record that can be rejected."""
    if unknown:
        raise InputError(f"{where}: {_listed(unknown)}, so the value is unknown; {_advice(unknown)}")


def unknown_only_rows(unknown: list[UnknownCell], text: pd.DataFrame) -> np.ndarray:
    """Per row of a sheet's body (`text`: the cells as shown, row 2 first, a column per sheet column), whether its
    only cells that are not blank are cells whose value is unknown: formulas filled down below the data
    (=IF(A20="","",A20*1) with no saved result) are no record, as a blank line is not. Only the rows holding such
    a cell are looked at."""
    out = np.zeros(len(text), dtype=bool)
    cells = [(u.row - 2, u.column - 1) for u in unknown if 2 <= u.row < len(text) + 2]
    if not cells:
        return out
    rows = sorted({r for r, _ in cells})
    position = {r: i for i, r in enumerate(rows)}
    blank = np.array(text.iloc[rows].apply(lambda col: col.astype(str).str.strip().eq("")), dtype=bool)
    for r, c in cells:
        blank[position[r], c] = True
    out[rows] = blank.all(axis=1)
    return out


def unknown_rows_what(unknown: list[UnknownCell], first_row: int) -> tuple[str, str]:
    """What the rows skipped as holding only cells whose value is unknown hold (the first such cell, in sheet row
    `first_row`, named), and what to do if one is a record: for the note on empty rows."""
    first = next(u for u in unknown if u.row == first_row)
    return f"no value, only formulas with no saved result or errors (cell {first.ref} holds {first.what})", first.advice
