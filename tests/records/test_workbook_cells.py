"""Workbook cells that are not plain values: an empty cell of any type reads empty (as in a CSV), a cell whose value
is unknown (a formula with no saved result, in a workbook asking to be recalculated any formula; an error) rejects
its record naming the cell, a row of nothing else is a blank line, and a hidden sheet read as a form is named in a
note."""

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
    (REJ-REC-017), counted read = converted + rejected, and the subject's reference dates derived without the
    rejected exposure say so in a note. A formula in a column not of the form rejects no record (the column is not
    converted: REJ-REC-003)."""
    def edit(wb):
        _cell(wb["labs"], 2, "result", "=6.14*1", "General")
        _cell(wb["exposures"], 2, "body_weight_kg", "=129.58/2.2", "0.0")
        subjects = wb["subjects"]
        subjects.cell(1, subjects.max_column + 1, "notes")
        subjects.cell(2, subjects.max_column, "=1+1")

    study, report = build_study(read_records(_book(tmp_path, edit)))
    got = [(r.file, r.row, r.field, r.value, r.code) for r in report.sorted() if r.code == "REJ-REC-017"]
    assert got == [("records.xlsx[exposures]", 2, "body_weight_kg", "=129.58/2.2", "REJ-REC-017"),
                   ("records.xlsx[labs]", 2, "result", "=6.14*1", "REJ-REC-017")]
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
    assert report.counts["labs"].read == 3 and report.counts["labs"].rejected == 1
    assert report.counts["exposures"].read == 2 and report.counts["exposures"].rejected == 1
    # the exposure rejected for its weight moves the subject's first dose (RFSTDTC) to the second: a note says so
    assert study["DM"]["RFSTDTC"].tolist() == ["2009-10-11T09:19"]
    assert [n for n in report.notes if n.startswith("subject 01: 1 exposure record(s) rejected (records.xlsx"
                                                   "[exposures] row(s) 2), so its DM RFSTDTC")]


def _saved_by_excel(book: Path, flag: str | None = None) -> None:
    """The workbook's calcPr as Excel or LibreOffice saves it: no fullCalcOnLoad (openpyxl, XlsxWriter and pandas
    write fullCalcOnLoad="1"); `flag`: that value instead."""
    with zipfile.ZipFile(book) as z:
        parts = {name: z.read(name) for name in z.namelist()}
    text = parts["xl/workbook.xml"].decode("utf-8")
    assert ' fullCalcOnLoad="1"' in text
    parts["xl/workbook.xml"] = text.replace(' fullCalcOnLoad="1"', f' fullCalcOnLoad="{flag}"' if flag else "").encode()
    with zipfile.ZipFile(book, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)


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
    _saved_by_excel(book)
    records = read_records(book)
    labs = records.forms["labs"]
    assert labs["result"].tolist()[0] == "6.14" and labs["lab_name"].tolist()[0] == ""
    assert records.forms["exposures"]["body_weight_kg"].tolist() == ["58.9"]
    assert [(r.file, r.row, r.field, r.value, r.code) for r in records.rejects.rejects] == [
        ("records.xlsx[exposures]", 3, "body_weight_kg", "=ROUND(58.9+0*A3,1)", "REJ-REC-017")]


def _placeholder_results(book: Path, weight: str, result: str) -> None:
    """Formulas with stored results as XlsxWriter (pandas' default .xlsx engine) writes them, 0 where Excel would
    have computed the value, or as Excel saves them (`weight`, `result`: the values stored): an exposure's weight
    shared down I2:I3, a lab result, a lab's ref_low as an array formula over G2:G3 (XlsxWriter stores 0 in G3)."""
    _cell_xml(book, 2, "I2", f'<c r="I2"><f t="shared" ref="I2:I3" si="0">ROUND(129.58/2.2+0*A2,1)</f><v>{weight}</v>'
                             '</c>')
    _cell_xml(book, 2, "I3", f'<c r="I3"><f t="shared" si="0"/><v>{weight}</v></c>')
    _cell_xml(book, 3, "E2", f'<c r="E2"><f>6.14*1</f><v>{result}</v></c>')
    _cell_xml(book, 3, "G2", '<c r="G2"><f t="array" ref="G2:G3">G2:G3*0+3.8</f><v>0</v></c>')
    _cell_xml(book, 3, "G3", '<c r="G3"><v>0</v></c>')


@pytest.mark.parametrize("flag", ["1", "true"])
def test_a_workbook_to_be_recalculated_has_no_saved_results(tmp_path, flag):
    """XlsxWriter (pandas' default engine for .xlsx) stores 0 as each formula's result and asks for a recalculation
    on opening (calcPr fullCalcOnLoad): WBC =6.14*1 read as 0 (flagged LOW), a weight =129.58/2.2 as 0 kg. In such a
    workbook no formula's stored result is taken as saved: each record is rejected as a formula with no saved
    result, the cells of an array formula too (G3 holds no formula, only the placeholder 0)."""
    book = _book(tmp_path, lambda wb: None)
    _placeholder_results(book, "0", "0")
    if flag != "1":
        _saved_by_excel(book, flag)
    study, report = build_study(read_records(book))
    got = [(r.file, r.row, r.field, r.value, r.reason) for r in report.sorted() if r.code == "REJ-REC-017"]
    unsaved = "holds a formula with no saved result"
    assert got == [
        ("records.xlsx[exposures]", 2, "body_weight_kg", "=ROUND(129.58/2.2+0*A2,1)",
         f"cell I2 {unsaved} (=ROUND(129.58/2.2+0*A2,1)), so its value is unknown; {ADVICE}"),
        ("records.xlsx[exposures]", 3, "body_weight_kg", "=ROUND(129.58/2.2+0*A3,1)",
         f"cell I3 {unsaved} (=ROUND(129.58/2.2+0*A3,1)), so its value is unknown; {ADVICE}"),
        ("records.xlsx[labs]", 2, "ref_low", "{=G2:G3*0+3.8}", f"cell G2 {unsaved} ({{=G2:G3*0+3.8}}), so its value "
                                                                f"is unknown; {ADVICE}"),
        ("records.xlsx[labs]", 2, "result", "=6.14*1", f"cell E2 {unsaved} (=6.14*1), so its value is unknown; "
                                                       f"{ADVICE}"),
        ("records.xlsx[labs]", 3, "ref_low", "{=G2:G3*0+3.8}", f"cell G3 {unsaved} ({{=G2:G3*0+3.8}}), so its value "
                                                                f"is unknown; {ADVICE}")]
    assert "EX" not in study or study["EX"].empty
    assert study["LB"]["LBTESTCD"].tolist() == ["PLAT"]


def test_a_saved_workbook_or_one_with_no_formula_reads_as_before(tmp_path):
    """The same formulas saved by Excel or LibreOffice (no fullCalcOnLoad: they calculated the results) read their
    results; a workbook asking for a recalculation but holding no formula (as openpyxl writes any) reads all."""
    book = _book(tmp_path, lambda wb: None)
    records = read_records(book)
    assert not records.rejects.rejects and len(records.forms["labs"]) == 3
    with zipfile.ZipFile(book) as z:
        assert 'fullCalcOnLoad="1"' in z.read("xl/workbook.xml").decode()
    _placeholder_results(book, "58.9", "6.14")
    _saved_by_excel(book)
    records = read_records(book)
    assert not records.rejects.rejects
    assert records.forms["exposures"]["body_weight_kg"].tolist() == ["58.9", "58.9"]
    assert records.forms["labs"][["result", "ref_low"]].values.tolist()[:2] == [["6.14", "0"], ["4.15", "0"]]


def test_rows_of_formulas_filled_down_below_the_data_are_blank_lines(tmp_path):
    """Formulas filled down below the data with no saved result (=IF(A4="","",A4*1) in rows 4-53) were 50
    records rejected with 350 problems; a row whose only cells are such formulas or errors (with spaces at most) is
    no record, as a blank line: not read, not rejected, its rows named once, as ranges, in the note on empty rows (a
    row of spaces is named in the same note). A row with a value beside such a formula is a record, rejected."""
    def edit(wb):
        exposures, labs = wb["exposures"], wb["labs"]
        column = [c.value for c in exposures[1]].index("body_weight_kg") + 1
        for row in range(4, 54):
            exposures.cell(row, column, f'=IF(A{row}="","",A{row}*1)')
        labs["E5"], labs["I5"] = "=A5*1", "   "
        labs["E6"] = "#N/A"  # (openpyxl writes an error cell, t="e")
        labs["A7"], labs["E7"] = "01", "=A7*1"
        labs["E8"] = "=A8*1"
        labs["I9"] = "  "

    book = _book(tmp_path, edit)
    study, report = build_study(read_records(book))
    assert report.counts["exposures"].read == 2 and report.counts["exposures"].rejected == 0
    assert len(study["EX"]) == 2
    assert report.counts["labs"].read == 4 and report.counts["labs"].rejected == 1
    assert {r.row for r in report.rejects} == {7}
    assert ("records.xlsx[labs]", 7, "result", "=A7*1", "REJ-REC-017") in [
        (r.file, r.row, r.field, r.value, r.code) for r in report.rejects]
    notes = [n for n in report.notes if "read as blank line" in n]
    assert notes == [
        'records.xlsx[exposures] rows 4-53 (50 rows): no value, only formulas with no saved result or errors (cell I4 '
        'holds a formula with no saved result (=IF(A4="","",A4*1))), read as blank lines (not records: not counted in '
        f"read); if one is a record, {ADVICE}",
        "records.xlsx[labs] row 9: every field empty, read as a blank line (not a record: not counted in read); rows "
        "5-6, 8 (3 rows): no value, only formulas with no saved result or errors (cell E5 holds a formula with no "
        "saved result (=A5*1)), read as blank lines (not records: not counted in read); if one is a record, "
        f"{ADVICE}"]


def test_an_error_cell_rejects_its_record(tmp_path):
    """A formula whose saved result is an error (t="e": #DIV/0!) and an error typed in a cell (#N/A) read as empty
    cells: a lab 'required field result is empty', an exposure converted without its weight. Their value is unknown
    as a formula's with no saved result is: the record is rejected (REJ-REC-017) naming the cell and the error. In a
    header, an error stops the read."""
    def edit(wb):
        _cell(wb["exposures"], 2, "body_weight_kg", "#N/A", "General")

    book = _book(tmp_path, edit)
    _cell_xml(book, 3, "E2", '<c r="E2" t="e"><f>E3/0</f><v>#DIV/0!</v></c>')
    _saved_by_excel(book)
    study, report = build_study(read_records(book))
    got = [(r.file, r.row, r.field, r.value, r.reason, r.code) for r in report.sorted()]
    assert got == [
        ("records.xlsx[exposures]", 2, "body_weight_kg", "#N/A", "cell I2 holds the error #N/A, so its value is "
         "unknown; type the value in the cell (or leave it empty if the value is not known)", "REJ-REC-017"),
        ("records.xlsx[labs]", 2, "result", "#DIV/0!", "cell E2 holds the error #DIV/0! (of its formula =E3/0), so "
         "its value is unknown; correct the formula, or the cells it reads, so that it shows a value", "REJ-REC-017")]
    assert study["EX"]["EXSTDTC"].tolist() == ["2009-10-11T09:19"]

    def header(wb):
        wb["labs"]["E1"] = "#REF!"

    with pytest.raises(InputError, match=re.escape("records.xlsx[labs]: header cell E1 holds the error #REF!, so the "
                                                   "column has no name; type the value in the cell (or leave it empty "
                                                   "if the value is not known) (or type the column's name)")):
        read_records(_book(tmp_path, header))


def test_a_data_table_or_array_formula_with_no_saved_result(tmp_path):
    """A data table's formula (t="dataTable", no text) with no saved result was named by openpyxl's object (<openpyxl
    .worksheet.formula.DataTableFormula object at 0x...>) and the other cells of its range read their stored values;
    it is named by its range, and every cell of the range is unknown. The cells of an array formula with no saved
    result that the sheet does not hold (openpyxl writes only the first) are unknown too, not empty."""
    book = _book(tmp_path, lambda wb: None)
    _cell_xml(book, 3, "E3", '<c r="E3"><f t="dataTable" ref="E3:E4" dt2D="0" dtr="0" r1="A1"/></c>')
    _cell_xml(book, 3, "E4", '<c r="E4"><v>223</v></c>')
    _cell_xml(book, 3, "G2", '<c r="G2"><f t="array" ref="G2:G3">G2:G3*0+3.8</f></c>')
    _cell_xml(book, 3, "G3", "")
    _saved_by_excel(book)
    records = read_records(book)
    got = [(r.row, r.field, r.value, r.reason) for r in records.rejects.sorted()]
    unsaved = "holds a formula with no saved result"
    assert got == [(2, "ref_low", "{=G2:G3*0+3.8}", f"cell G2 {unsaved} ({{=G2:G3*0+3.8}}), so its value is unknown; "
                                                    f"{ADVICE}"),
                   (3, "ref_low", "{=G2:G3*0+3.8}", f"cell G3 {unsaved} ({{=G2:G3*0+3.8}}), so its value is unknown; "
                                                    f"{ADVICE}"),
                   (3, "result", "the data table E3:E4", f"cell E3 {unsaved} (the data table E3:E4), so its value is "
                                                         f"unknown; {ADVICE}"),
                   (4, "result", "the data table E3:E4", f"cell E4 {unsaved} (the data table E3:E4), so its value is "
                                                         f"unknown; {ADVICE}")]


def test_formula_with_no_saved_result_in_a_header_or_definition_stops(tmp_path):
    """Such a formula in a form's header leaves a column with no name, and in a sheet of the study definition a
    value that is not a record: the read stops (exit 2) naming the sheet and the cell."""
    def header(wb):
        wb["labs"]["E1"] = '="res"&"ult"'

    with pytest.raises(InputError, match=re.escape('records.xlsx[labs]: header cell E1 holds a formula with no saved '
                                                   'result (="res"&"ult"), so the column has no name; ' + ADVICE
                                                   + " (or type the column's name)")):
        read_records(_book(tmp_path, header))

    def definition(wb):
        wb["sites"]["A2"] = '=TEXT(1,"00")'

    with pytest.raises(InputError, match=re.escape('records.xlsx[sites]: cell A2 holds a formula with no saved result '
                                                   '(=TEXT(1,"00")), so the value is unknown; ' + ADVICE)):
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
