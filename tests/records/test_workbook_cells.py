"""Workbook cells that are not plain values: an empty cell of any type reads empty (as in a CSV), a formula with no
saved result rejects its record naming the cell (its value is unknown), and a hidden sheet read as a form is named
in a note."""

from __future__ import annotations

import datetime
import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from tests.records.test_workbook import _book, _cell, _definition_sheets, _sheets_only

from msc_interop.errors import InputError
from msc_interop.records import read_records
from msc_interop.records.workbook import cell_text, read_sheets
from msc_interop.sdtm.build import build_study

ADVICE = "open and save the workbook in Excel (or LibreOffice) so the value is stored"


def _column(ws, column: str, values: list[object], number_format: str) -> None:
    """The column's cells below the header set to `values` (None: a cell cleared, its format kept, as Excel leaves
    a cleared cell), each with `number_format`."""
    for row, value in enumerate(values, start=2):
        _cell(ws, row, column, value, number_format)


def _cell_xml(book: Path, sheet: int, ref: str, xml: str) -> None:
    """Cell `ref` of the workbook's `sheet`-th sheet (1-based, in the order created) replaced by the XML `xml`:
    what Excel saves (a formula with its result) that openpyxl cannot write."""
    member = f"xl/worksheets/sheet{sheet}.xml"
    with zipfile.ZipFile(book) as z:
        parts = {name: z.read(name) for name in z.namelist()}
    text, n = re.subn(rf'<c r="{ref}"(?: [^>]*)?(?:/>|>.*?</c>)', xml, parts[member].decode("utf-8"), count=1)
    assert n == 1, f"no cell {ref} in {member}"
    parts[member] = text.encode("utf-8")
    with zipfile.ZipFile(book, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)


@pytest.mark.parametrize(("form", "column", "values", "fmt", "shown"), [
    # a column of dates (or date-times) with a cell cleared: pandas made the column datetime64 and the empty cell
    # NaT, which is a date to isinstance (AttributeError: 'NaTType' object has no attribute 'normalize', exit 3)
    ("exposures", "end_datetime", [datetime.datetime(2009, 10, 4, 9, 49), None], "dd/mm/yyyy hh:mm",
     ["2009-10-04T09:49", ""]),
    ("subjects", "consent_date", [None], "dd/mm/yyyy", [""]),
    ("medical_history", "start_date", [None, datetime.datetime(2004, 10, 1)], "mmm-yy", ["", "2004-10"]),
    # a time field of date-times shown as a time only, a time of day, a number, a percent, text, a boolean
    ("vital_signs", "time", [None, datetime.datetime(2009, 9, 30, 8, 58), datetime.datetime(2009, 9, 30, 8, 58)],
     "hh:mm", ["", "08:58", "08:58"]),
    ("vital_signs", "time", [datetime.time(8, 58), None, datetime.time(8, 58)], "hh:mm", ["08:58", "", "08:58"]),
    ("exposures", "body_weight_kg", [58.9, None], "0.0", ["58.9", ""]),
    ("labs", "ref_low", [None, 3.8, None], "0%", ["", "380", ""]),
    ("exposures", "lot_number", [None, "UC09-010"], "@", ["", "UC09-010"]),
    ("exposures", "lot_number", ["", "UC09-010"], "General", ["", "UC09-010"]),
    ("medical_history", "ongoing", [True, None], "General", ["True", ""]),
    ("medical_history", "ongoing", [None, False], "General", ["", "False"]),
])
def test_an_empty_cell_reads_empty_whatever_its_type(tmp_path, form, column, values, fmt, shown):
    """A cleared cell (its number format kept) in a column of dates, date-times, times, numbers, percents, text or
    booleans reads "", as an empty cell of a CSV does; the column's other cells read as before; no note names an
    empty cell (a month-formatted date column's empty cell is no "day hidden")."""
    def edit(wb):
        _column(wb[form], column, values, fmt)

    records = read_records(_book(tmp_path, edit, forms=("subjects", "exposures", "labs", "medical_history",
                                                       "vital_signs")))
    rows = records.forms[form].set_index("_row")[column].to_dict()
    held = records.held[form].set_index("_row")[column].to_dict() if form in records.held else {}
    assert [{**rows, **held}[r] for r in range(2, len(values) + 2)] == shown
    letter = "ABCDEFGHIJ"[list(records.forms[form].columns).index(column) - 1]  # (after _row)
    empty = [rf"\b{letter}{r}\b" for r, v in enumerate(values, start=2) if v is None]
    assert not [n for n in records.rejects.notes for cell in empty if f"column '{column}'" in n and re.search(cell, n)]


def test_an_empty_cell_converts_as_in_a_csv(tmp_path):
    """The tester's workbook: every exposure's end_datetime an Excel date-time, one cleared. to-sdtm converted
    nothing (exit 3); now that exposure has no EXENDTC, as from a CSV with the cell empty, and nothing is rejected.
    A column of dates under an empty header cell is a column with no name ('Unnamed: 10', not 'NaT')."""
    def edit(wb):
        ws = wb["exposures"]
        _column(ws, "end_datetime", [datetime.datetime(2009, 10, 4, 9, 49), None], "dd/mm/yyyy hh:mm")
        for row, value in ((2, datetime.datetime(2009, 10, 4)), (3, datetime.datetime(2009, 10, 11))):
            ws.cell(row=row, column=11, value=value).number_format = "dd/mm/yyyy"

    book = _book(tmp_path, edit)
    assert read_sheets(book)["exposures"].values.iat[0, 10] is None
    study, report = build_study(read_records(book))
    assert study["EX"][["EXSTDTC", "EXENDTC"]].values.tolist() == [["2009-10-04T09:19", "2009-10-04T09:49"],
                                                                   ["2009-10-11T09:19", ""]]
    assert [(r.field, r.code) for r in report.rejects] == [("unnamed:_10", "REJ-REC-003")]


@pytest.mark.parametrize("value", [None, pd.NaT, float("nan"), pd.NA])
@pytest.mark.parametrize("fmt", ["General", "dd/mm/yyyy hh:mm", "mmm-yy", "hh:mm", "0%", "0.00", "00"])
def test_cell_text_of_an_empty_cell(value, fmt):
    assert cell_text(value, fmt) == "" and cell_text(value, fmt, time_field=True) == ""


def test_formula_with_no_saved_result_rejects_its_record(tmp_path):
    """A workbook written by a script (openpyxl: <f> and an empty <v>): labs result =6.14*1 was 'required field
    result is empty' (the cell is not empty), an exposure's body_weight_kg =129.58/2.2 was converted without its
    weight (no SUPPEX WEIGHT, no reject). Each record is now rejected naming the sheet, row, field, cell and formula
    (REJ-REC-017), counted read = converted + rejected; a row holding only such a formula is such a record, not a
    blank line. A formula in a column not of the form rejects no record (the column is not converted:
    REJ-REC-003)."""
    def edit(wb):
        _cell(wb["labs"], 2, "result", "=6.14*1", "General")
        _cell(wb["labs"], 5, "result", "=A4", "General")
        _cell(wb["exposures"], 2, "body_weight_kg", "=129.58/2.2", "0.0")
        subjects = wb["subjects"]
        subjects.cell(1, subjects.max_column + 1, "notes")
        subjects.cell(2, subjects.max_column, "=1+1")

    study, report = build_study(read_records(_book(tmp_path, edit)))
    got = [(r.file, r.row, r.field, r.value, r.code) for r in report.sorted() if r.code == "REJ-REC-017"]
    assert got == [("records.xlsx[exposures]", 2, "body_weight_kg", "=129.58/2.2", "REJ-REC-017"),
                   ("records.xlsx[labs]", 2, "result", "=6.14*1", "REJ-REC-017"),
                   ("records.xlsx[labs]", 5, "result", "=A4", "REJ-REC-017")]
    reasons = {(r.file, r.row): r.reason for r in report.rejects if r.code == "REJ-REC-017"}
    assert reasons[("records.xlsx[labs]", 2)] == (f"cell E2 holds a formula with no saved result (=6.14*1), so its "
                                                  f"value is unknown; {ADVICE}")
    assert "cell I2 holds a formula with no saved result (=129.58/2.2)" in reasons[("records.xlsx[exposures]", 2)]
    assert not [r for r in report.rejects if r.field == "result" and r.code == "REJ-REC-001" and r.row == 2]
    assert [(r.file, r.field) for r in report.rejects if r.code == "REJ-REC-003"] == [("records.xlsx[subjects]",
                                                                                       "notes")]
    assert study["EX"]["EXSTDTC"].tolist() == ["2009-10-11T09:19"]
    assert study["SUPPEX"]["IDVARVAL"].tolist() == study["EX"]["EXSEQ"].astype(str).tolist()
    assert study["LB"].set_index("LBTESTCD")["LBORRES"].to_dict() == {"PLAT": "223", "RBC": "4.15"}
    assert report.counts["labs"].read == 4 and report.counts["labs"].rejected == 2
    assert report.counts["exposures"].read == 2 and report.counts["exposures"].rejected == 1


def test_formula_with_a_saved_result_reads_it(tmp_path):
    """A formula Excel saved with its result reads the result: =6.14*1 saved 6.14 is LBORRES 6.14; a formula whose
    saved result is empty text (=IF(1,"",""), t="str", <v></v>) reads empty, as the cell shows nothing; a formula
    shared from another cell with its result (I2) whose own cell has none (I3) is rejected naming the formula as
    that cell has it (=ROUND(58.9+0*A3,1))."""
    book = _book(tmp_path, lambda wb: None)
    _cell_xml(book, 3, "E2", '<c r="E2"><f>6.14*1</f><v>6.14</v></c>')
    _cell_xml(book, 3, "I2", '<c r="I2" t="str"><f>IF(1,"","")</f><v></v></c>')
    _cell_xml(book, 2, "I2", '<c r="I2"><f t="shared" ref="I2:I3" si="0">ROUND(58.9+0*A2,1)</f><v>58.9</v></c>')
    _cell_xml(book, 2, "I3", '<c r="I3"><f t="shared" si="0"/></c>')
    records = read_records(book)
    labs = records.forms["labs"]
    assert labs["result"].tolist()[0] == "6.14" and labs["lab_name"].tolist()[0] == ""
    assert records.forms["exposures"]["body_weight_kg"].tolist() == ["58.9"]
    assert [(r.file, r.row, r.field, r.value, r.code) for r in records.rejects.rejects] == [
        ("records.xlsx[exposures]", 3, "body_weight_kg", "=ROUND(58.9+0*A3,1)", "REJ-REC-017")]


def test_formula_with_no_saved_result_in_a_header_or_definition_stops(tmp_path):
    """Such a formula in a form's header leaves a column with no name, and in a sheet of the study definition a
    value that is not a record: the read stops (exit 2) naming the sheet and the cell."""
    def header(wb):
        wb["labs"]["E1"] = '="res"&"ult"'

    with pytest.raises(InputError, match=re.escape('records.xlsx[labs]: header cell(s) E1 (="res"&"ult") hold a '
                                                   "formula with no saved result, so the column has no name; "
                                                   + ADVICE)):
        read_records(_book(tmp_path, header))

    def definition(wb):
        wb["sites"]["A2"] = '=TEXT(1,"00")'

    with pytest.raises(InputError, match=re.escape('records.xlsx[sites]: cell(s) A2 (=TEXT(1,"00")) hold a formula '
                                                   "with no saved result, so the value is unknown; " + ADVICE)):
        read_records(_sheets_only(tmp_path, definition))


def test_hidden_form_sheet_is_named_in_a_note(tmp_path):
    """A hidden sheet named as a form (medical_history) is read, as before, and a note names it: the data manager
    who hid it may not have meant it as data. A visible sheet gets no such note; nor does a study.yaml's study
    whose definition sheets are hidden but not read; a hidden definition sheet that is read is named."""
    def hide(wb):
        wb["medical_history"].sheet_state = "hidden"

    records = read_records(_book(tmp_path, hide))
    assert len(records.forms["medical_history"]) == 2
    hidden = [n for n in records.rejects.notes if "hidden" in n]
    assert hidden == ["records.xlsx[medical_history]: the sheet is hidden in the workbook, but it was read as the "
                      "'medical_history' form (2 record(s)), as a visible sheet is; if it is not meant as data (an "
                      "old copy, a draft), delete it or move it out of the workbook"]

    def very_hidden_visits(wb):
        wb["visits"].sheet_state = "veryHidden"

    records = read_records(_sheets_only(tmp_path, very_hidden_visits))
    assert [n.split(":")[0] for n in records.rejects.notes if "hidden" in n] == ["records.xlsx[visits]"]
    def beside_study_yaml(wb):
        _definition_sheets(wb)
        very_hidden_visits(wb)

    assert not [n for n in read_records(_book(tmp_path, beside_study_yaml)).rejects.notes if "hidden" in n]
