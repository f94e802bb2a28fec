"""A workbook reads as the data manager sees it: a cell's number format decides what a percent, a date typed without
its day and a fixed-decimal result mean; a merged range is exit 2 naming the sheet and the cells."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import yaml

from conftest import EXAMPLE
from msc_interop.errors import InputError
from msc_interop.records import read_records
from msc_interop.records.workbook import cell_text
from msc_interop.sdtm.build import build_study

LAB_NAME = "Nanjing Drum Tower Hospital Clinical Laboratory"


def _book(tmp_path: Path, edit: Callable[[openpyxl.Workbook], None], subject: str = "01",
          forms: tuple[str, ...] = ("subjects", "exposures", "labs", "medical_history")) -> Path:
    """A subject's (01) subjects, exposures, a few labs and medical history as sheets (text, as the CSV files hold
    them), changed by `edit`; study.yaml beside it."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for form in forms:
        df = pd.read_csv(EXAMPLE / f"{form}.csv", dtype=str, keep_default_na=False)
        df = df[df["subject_id"].eq(subject)].head(3)
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
    # a date holding more than typing the shown text stores (the 1st at midnight; 1 January) reads in full
    (datetime.datetime(2009, 3, 28, 9, 52), "mmm-yy", "2009-03-28T09:52"),
    (datetime.datetime(2004, 10, 15), "mmm-yy", "2004-10-15"),
    (datetime.datetime(2004, 10, 1, 8, 30), "mm/yyyy", "2004-10-01T08:30"),
    (datetime.datetime(1961, 11, 24), "yyyy", "1961-11-24"),
    (datetime.datetime(2004, 10, 1), "yyyy", "2004-10-01"),
    (datetime.datetime(2004, 10, 1), "yyyy-mm-dd", "2004-10-01"),
    (datetime.datetime(2004, 10, 1), "d-mmm-yy", "2004-10-01"),
    (datetime.datetime(2004, 10, 1, 8, 30), "yyyy-mm-dd hh:mm", "2004-10-01T08:30"),
    (datetime.time(8, 30), "h:mm", "08:30"),
    ("1.5", "0.00", "1.5"),  # text stays as typed
    (1, "00", "01"),  # a zero-padded whole number shows its leading zeros: site 01
    (7, "000", "007"),
    (7.0, "000", "007"),
    (-7, "000", "-007"),
    (123, "00", "123"),  # wider than the format: all its digits
    (1, "0", "1"),
    (1.5, "00", "1.5"),  # a fraction is not a padded whole number: the stored number, as in format 0
    ("1", "00", "1"),  # text stays as typed
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


def test_date_holding_a_day_keeps_it(tmp_path):
    """An AE start 2009-03-28 09:52 formatted mmm-yy (Excel shows Mar-09) is not what typing Mar-09 stores (the
    1st at midnight): it reads in full, so AESTDY is still derived, and a note names the sheet, column and first
    cell. A birth date 1961-11-24 formatted yyyy keeps its day likewise (BRTHDTC, AGE as from the CSV)."""
    def edit(wb):
        _cell(wb["adverse_events"], 2, "start_datetime", datetime.datetime(2009, 3, 28, 9, 52), "mmm-yy")

    study, report = build_study(read_records(_book(tmp_path, edit, "04", ("subjects", "exposures",
                                                                          "adverse_events"))))
    ae = study["AE"].iloc[0]
    assert (ae["AESTDTC"], ae["AESTDY"]) == ("2009-03-28T09:52", 1)
    assert any(n.startswith("records.xlsx[adverse_events] column 'start_datetime': 1 date cell(s)")
               and "cell D2, format 'mmm-yy'" in n and "2009-03-28T09:52" in n for n in report.notes)

    def birth(wb):
        _cell(wb["subjects"], 2, "birth_date", datetime.datetime(1961, 11, 24), "yyyy")

    study, report = build_study(read_records(_book(tmp_path, birth)))
    assert study["DM"].iloc[0]["BRTHDTC"] == "1961-11-24"
    assert any("records.xlsx[subjects] column 'birth_date'" in n and "cell D2, format 'yyyy'" in n
               for n in report.notes)


def test_zero_padded_site_reads_as_shown(tmp_path):
    """site_id stored as the number 1 with format 00 shows 01, the site of study.yaml: the subject is converted
    (it read 1 and every subject was rejected as not at a site of the study). Subject ids padded likewise."""
    def edit(wb):
        for ws in wb.worksheets:
            for row in range(2, ws.max_row + 1):
                _cell(ws, row, "subject_id", 1, "00")
        _cell(wb["subjects"], 2, "site_id", 1, "00")

    study, report = build_study(read_records(_book(tmp_path, edit)))
    assert study["DM"]["USUBJID"].tolist() == ["MSC-SLE-2009-01-01"]
    assert study["DM"]["SITEID"].tolist() == ["01"]
    assert not report.rejects


def test_zero_padded_site_in_a_sites_sheet(tmp_path):
    """The study definition given as sheets: a site 1 formatted 00 in the sites sheet is site 01, as the
    subjects' site_id 01 of the same format."""
    def edit(wb):
        definition = yaml.safe_load((EXAMPLE / "study.yaml").read_text())
        study = wb.create_sheet("study")
        study.append(["field", "value"])
        for key in ("studyid", "title", "protocol", "sponsor", "timezone"):
            study.append([key, definition[key]])
        sites = wb.create_sheet("sites")
        sites.append(["siteid", "name", "city", "country"])
        sites.append([1, "Nanjing Drum Tower Hospital", "Nanjing", "CHN"])
        sites.cell(2, 1).number_format = "00"
        arms = wb.create_sheet("arms")
        arms.append(["armcd", "arm"])
        for arm in definition["arms"]:
            arms.append([arm["armcd"], arm["arm"]])
        visits = wb.create_sheet("visits")
        columns = ["visitnum", "visit", "protocol_day", "window_before", "window_after", "epoch"]
        visits.append([*columns, "aliases"])
        for visit in definition["visits"]:
            visits.append([visit.get(c) for c in columns] + ["; ".join(visit.get("aliases", []))])
        _cell(wb["subjects"], 2, "site_id", 1, "00")

    book = _book(tmp_path, edit)
    (tmp_path / "study.yaml").unlink()
    study, report = build_study(read_records(book))
    assert study["DM"]["SITEID"].tolist() == ["01"]
    assert not report.rejects


def test_text_na_in_a_date_rejects_the_row(tmp_path):
    """N/A typed in an AE's end_datetime is text, read as typed (as in a CSV), so it is not a date: the row is
    rejected naming the sheet, row, column and value (read_excel had made it empty and the AE converted without an
    end). README: leave the cell empty."""
    def edit(wb):
        _cell(wb["adverse_events"], 2, "end_datetime", "N/A", "General")

    study, report = build_study(read_records(_book(tmp_path, edit, "04", ("subjects", "exposures",
                                                                          "adverse_events"))))
    assert [(r.file, r.row, r.field, r.value, r.code) for r in report.sorted()] == [
        ("records.xlsx[adverse_events]", 2, "end_datetime", "N/A", "REJ-REC-002")]
    assert "AE" not in study or study["AE"].empty
