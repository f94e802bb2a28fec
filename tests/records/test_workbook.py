"""A workbook reads as the data manager sees it: a cell's number format decides what a percent, a date typed without
its day and a fixed-decimal result mean; a merged range is exit 2 naming the sheet and the cells."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from conftest import EXAMPLE
from msc_interop.errors import InputError
from msc_interop.records import read_records
from msc_interop.records.workbook import cell_text
from msc_interop.sdtm.build import build_study

LAB_NAME = "Nanjing Drum Tower Hospital Clinical Laboratory"


def _book(tmp_path: Path, edit: Callable[[openpyxl.Workbook], None]) -> Path:
    """Subject 01's subjects, exposures, a few labs and medical history as sheets (text, as the CSV files hold
    them), changed by `edit`; study.yaml beside it."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for form in ("subjects", "exposures", "labs", "medical_history"):
        df = pd.read_csv(EXAMPLE / f"{form}.csv", dtype=str, keep_default_na=False)
        df = df[df["subject_id"].eq("01")].head(3)
        ws = wb.create_sheet(form)
        ws.append(list(df.columns))
        for row in df.itertuples(index=False):
            ws.append(list(row))
    edit(wb)
    book = tmp_path / "records.xlsx"
    wb.save(book)
    (tmp_path / "study.yaml").write_bytes((EXAMPLE / "study.yaml").read_bytes())
    return book


def _cell(ws, row: int, column: str, value: object, number_format: str) -> None:
    header = [c.value for c in ws[1]]
    cell = ws.cell(row=row, column=header.index(column) + 1)
    cell.value = value  # (ws.cell(value=None) would leave the cell as it is)
    cell.number_format = number_format


def test_formatted_cells_read_as_shown(tmp_path):
    """labs rows 2-4 (sheet rows): HCT typed 42% (0.42, format 0%) with no unit is LBORRES 42 in % (the CDISC UNIT
    term); WBC typed 1.50 (format 0.00) keeps its two decimals as collected; HCT typed 42% whose unit cell says g/L
    contradicts itself and is rejected naming the row. medical_history: Lupus nephritis typed Oct-04 (Excel stores
    2004-10-01, format mmm-yy) is the partial date 2004-10, as the CSV holds it; a date shown as a year only is
    that year."""
    def edit(wb):
        labs, mh = wb["labs"], wb["medical_history"]
        for row, (test, value, fmt, unit) in enumerate(
                [("HCT", 0.42, "0%", ""), ("WBC", 1.5, "0.00", "10^9/L"), ("HCT", 0.42, "0%", "g/L")], start=2):
            _cell(labs, row, "test", test, "General")
            _cell(labs, row, "result", value, fmt)
            _cell(labs, row, "unit", unit or None, "General")
            _cell(labs, row, "ref_low", None, "General")
            _cell(labs, row, "ref_high", None, "General")
            _cell(labs, row, "collection_datetime", f"2009-09-30T08:{38 + row}", "General")
        assert mh.cell(3, 2).value == "Lupus nephritis" and mh.cell(3, 3).value == "2004-10"
        _cell(mh, 3, "start_date", datetime.datetime(2004, 10, 1), "mmm-yy")
        _cell(mh, 2, "start_date", datetime.datetime(2001, 1, 1), "yyyy")

    study, report = build_study(read_records(_book(tmp_path, edit)))
    lb = study["LB"].set_index("LBDTC")
    assert lb.loc["2009-09-30T08:40", ["LBTESTCD", "LBORRES", "LBORRESU"]].tolist() == ["HCT", "42", "%"]
    assert lb.loc["2009-09-30T08:41", ["LBTESTCD", "LBORRES", "LBORRESU"]].tolist() == ["WBC", "1.50", "10^9/L"]
    assert "2009-09-30T08:42" not in lb.index
    rejected = [r for r in report.sorted() if r.form == "labs"]
    assert [(r.row, r.code) for r in rejected] == [(4, "REJ-REC-130")]
    assert "percent" in rejected[0].reason and "'g/L'" in rejected[0].reason
    assert any("records.xlsx[labs] column 'result'" in n and "percent" in n for n in report.notes)
    mh = study["MH"].set_index("MHTERM")["MHSTDTC"]
    assert mh["Lupus nephritis"] == "2004-10"
    assert mh["Systemic lupus erythematosus"] == "2001"


@pytest.mark.parametrize(("value", "fmt", "text"), [
    (0.65, "0%", "65"),
    (0.655, "0.0%", "65.5"),
    (1, "0%", "100"),
    (1.5, "0.00", "1.50"),
    (2, "0.00", "2.00"),
    (1234.5, "#,##0.00", "1234.50"),  # no thousands separator: a number, as a CSV holds it
    (-1.5, "0.00;[Red]\\(0.00\\)", "-1.50"),
    (1.567, "0.00", "1.567"),  # a digit typed beyond the shown decimals is kept, not rounded away
    (1.5, "0", "1.5"),
    (1.25, "0.0#", "1.25"),
    (2.0, "General", "2"),
    (0.000123, "0.00E+00", "0.000123"),  # scientific: the stored number
    (datetime.datetime(2004, 10, 1), "mmm-yy", "2004-10"),
    (datetime.datetime(2004, 10, 1), "mm/yyyy", "2004-10"),
    (datetime.datetime(2004, 10, 1), '[$-409]mmmm\\ yyyy;@', "2004-10"),
    (datetime.datetime(2004, 1, 1), "yyyy", "2004"),
    (datetime.datetime(2004, 10, 1), "yyyy-mm-dd", "2004-10-01"),
    (datetime.datetime(2004, 10, 1), "d-mmm-yy", "2004-10-01"),
    (datetime.datetime(2004, 10, 1, 8, 30), "yyyy-mm-dd hh:mm", "2004-10-01T08:30"),
    (datetime.time(8, 30), "h:mm", "08:30"),
    ("1.5", "0.00", "1.5"),  # text stays as typed
])
def test_cell_text_follows_the_number_format(value, fmt, text):
    assert cell_text(value, fmt) == text


def test_merged_header_names_the_sheet_and_cells(tmp_path):
    """'result' merged across the result and unit columns (E1:F1 of labs): the unit column has no header, its
    values would be dropped; the read stops naming the sheet, the range and what to do."""
    def edit(wb):
        wb["labs"].merge_cells("E1:F1")

    with pytest.raises(InputError, match=r"records\.xlsx\[labs\]: header cells E1:F1 are merged \('result' across "
                                         r"2 columns\).*unmerge the cells and give each column its own header"):
        read_records(_book(tmp_path, edit))


def test_merged_data_cells_name_the_range(tmp_path):
    """A subject_id merged down rows 2-4 of labs: the rows below the first would read without a subject."""
    def edit(wb):
        wb["labs"].merge_cells("A2:A4")

    with pytest.raises(InputError, match=r"records\.xlsx\[labs\]: cells A2:A4 are merged: only the first holds the "
                                         r"value \('01'\).*unmerge them"):
        read_records(_book(tmp_path, edit))


def test_text_na_reads_as_typed(tmp_path):
    """A cell holding the text NA reads NA, as the same cell of a CSV file does (pandas' read_excel made it empty,
    losing a value typed on purpose)."""
    def edit(wb):
        _cell(wb["medical_history"], 2, "category", "NA", "General")

    records = read_records(_book(tmp_path, edit))
    assert records.forms["medical_history"]["category"].tolist()[0] == "NA"
