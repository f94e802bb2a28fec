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
from msc_interop.errors import InputError, StudyDefinitionError
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
    # a date-time formatted to show only its time reads in full (a note names it: hidden_date_notes)
    (datetime.datetime(2009, 9, 30, 8, 38), "hh:mm", "2009-09-30T08:38"),
    (datetime.datetime(2009, 9, 30, 20, 38), "h:mm AM/PM", "2009-09-30T20:38"),
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


@pytest.mark.parametrize(("value", "fmt", "text"), [
    (datetime.datetime(2009, 9, 30, 8, 38), "hh:mm", "08:38"),
    (datetime.datetime(2009, 9, 30, 20, 38), "h:mm AM/PM", "20:38"),
    (datetime.datetime(2009, 9, 30, 20, 38), '[$-409]h:mm AM/PM;@', "20:38"),
    (datetime.datetime(2009, 9, 30, 8, 38, 15), "hh:mm:ss", "08:38:15"),
    (datetime.datetime(2009, 9, 30, 8, 38, 15), "mm:ss", "08:38:15"),
    (datetime.datetime(2009, 9, 30, 0, 0), "hh:mm", "00:00"),
    (datetime.time(8, 38), "hh:mm", "08:38"),
    # a format that shows a date shows it: the date-time reads in full (and is no clock time)
    (datetime.datetime(2009, 9, 30, 8, 38), "yyyy-mm-dd hh:mm", "2009-09-30T08:38"),
    (datetime.datetime(2009, 9, 30, 8, 38), "d-mmm hh:mm", "2009-09-30T08:38"),
    (datetime.datetime(2009, 9, 30, 8, 38), "m/d h:mm", "2009-09-30T08:38"),
    (datetime.datetime(2009, 9, 1), "mmm", "2009-09"),  # mmm alone: a month, not minutes
    ("08:38", "@", "08:38"),
])
def test_time_field_takes_the_time_shown(value, fmt, text):
    """In a time field (a vital sign's or ECG's `time`), a date-time formatted to show only its time (hh:mm,
    h:mm AM/PM) reads as the time shown (24-hour, as a CSV holds it)."""
    assert cell_text(value, fmt, time_field=True) == text


def test_time_only_format(tmp_path):
    """labs: WBC's collection_datetime holds 2009-09-30 08:38 but is formatted hh:mm (Excel shows 08:38): read in
    full (nothing lost, as a date whose format hides its day), with a note naming the sheet, column and cell; RBC's
    holds only the time 08:38 (no date typed): not a date, the row is rejected naming the sheet row and column.
    vital_signs: a `time` cell holding the date and time 2009-09-30 08:58 formatted h:mm AM/PM or hh:mm (Excel
    shows 8:58 AM, 08:58) takes the time shown, joined to the row's date as from a CSV (the row was rejected:
    the date-time is no hh:mm), and a note names the cells whose date is not read."""
    def edit(wb):
        _cell(wb["labs"], 2, "collection_datetime", datetime.datetime(2009, 9, 30, 8, 38), "hh:mm")
        _cell(wb["labs"], 3, "collection_datetime", datetime.time(8, 38), "hh:mm")
        _cell(wb["vital_signs"], 2, "time", datetime.datetime(2009, 9, 30, 8, 58), "h:mm AM/PM")
        _cell(wb["vital_signs"], 3, "time", datetime.datetime(2009, 9, 30, 8, 58), "hh:mm")

    study, report = build_study(read_records(_book(tmp_path, edit, forms=("subjects", "exposures", "labs",
                                                                           "vital_signs"))))
    lb = study["LB"].set_index("LBTESTCD")["LBDTC"]
    assert lb.to_dict() == {"WBC": "2009-09-30T08:38", "PLAT": "2009-09-30T08:38"}
    assert [(r.file, r.row, r.field, r.value) for r in report.sorted()] == [
        ("records.xlsx[labs]", 3, "collection_datetime", "08:38")]
    vs = study["VS"].set_index("VSTESTCD")["VSDTC"]
    assert vs.to_dict() == {"SYSBP": "2009-09-30T08:58", "DIABP": "2009-09-30T08:58", "PULSE": "2009-09-30T08:58"}
    lab_notes = [n for n in report.notes if n.startswith("records.xlsx[labs] column 'collection_datetime': ")]
    assert len(lab_notes) == 1 and "1 date cell(s) formatted to show only a time" in lab_notes[0]
    assert "cell C2, format 'hh:mm', shows 08:38, reads 2009-09-30T08:38" in lab_notes[0]
    vs_notes = [n for n in report.notes if n.startswith("records.xlsx[vital_signs] column 'time': ")]
    assert len(vs_notes) == 1 and "2 time cell(s)" in vs_notes[0] and "(D2, D3; first: cell D2" in vs_notes[0]
    assert "holds 2009-09-30T08:58, reads 08:58" in vs_notes[0]


@pytest.mark.parametrize(("value", "fmt", "text"), [
    (datetime.timedelta(hours=8, minutes=58), "[h]:mm", "08:58"),
    (pd.Timedelta(hours=8, minutes=58), "[h]:mm", "08:58"),  # (pandas' own; its str() is 0 days 08:58:00)
    (datetime.timedelta(hours=9, minutes=5, seconds=30), "[h]:mm:ss", "09:05:30"),
    (datetime.timedelta(minutes=5, seconds=7), "[mm]:ss", "00:05:07"),
    (datetime.timedelta(0), "[h]:mm", "00:00"),
    (datetime.timedelta(hours=26, minutes=30), "[h]:mm", "26:30"),  # no time of day: the hours shown
    (datetime.timedelta(days=-1, hours=21, minutes=30), "[h]:mm", "-2:30"),
])
def test_elapsed_time_reads_as_the_time_shown(value, fmt, text):
    assert cell_text(value, fmt) == text
    assert cell_text(value, fmt, time_field=True) == text


def test_elapsed_time_cells_in_a_time_field(tmp_path):
    """vital_signs' `time` typed in cells formatted as elapsed times: 8:58 in [h]:mm and 8:58:30 in [h]:mm:ss read
    as the time of day shown (they read '0 days 08:58:00' and were rejected as no hh:mm); 26:30 in [h]:mm is no
    time of day: its row is rejected naming the cell (D4), its value and format."""
    def edit(wb):
        vs = wb["vital_signs"]
        _cell(vs, 2, "time", datetime.timedelta(hours=8, minutes=58), "[h]:mm")
        _cell(vs, 3, "time", datetime.timedelta(hours=8, minutes=58, seconds=30), "[h]:mm:ss")
        _cell(vs, 4, "time", datetime.timedelta(hours=26, minutes=30), "[h]:mm")

    records = read_records(_book(tmp_path, edit, forms=("subjects", "exposures", "labs", "vital_signs")))
    vs = records.forms["vital_signs"]
    assert vs[["_row", "time"]].values.tolist() == [[2, "08:58"], [3, "08:58:30"]]
    assert records.read_counts["vital_signs"] == 3
    (reject,) = [r for r in records.rejects.sorted() if r.form == "vital_signs"]
    assert (reject.file, reject.row, reject.field, reject.value, reject.code) == (
        "records.xlsx[vital_signs]", 4, "time", "26:30", "REJ-REC-002")
    assert "cell D4 holds the elapsed time 26:30 (format '[h]:mm'), 24 hours or more: no time of day" in (
        reject.reason)
    study, _ = build_study(records)
    assert study["VS"].set_index("VSTESTCD")["VSDTC"].to_dict() == {"SYSBP": "2009-09-30T08:58",
                                                                    "DIABP": "2009-09-30T08:58:30"}


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


def _definition_sheets(wb: openpyxl.Workbook) -> None:
    """study.yaml of the example as sheets study, sites, arms and visits."""
    definition = yaml.safe_load((EXAMPLE / "study.yaml").read_text())
    study = wb.create_sheet("study")
    study.append(["field", "value"])
    for key in ("studyid", "title", "protocol", "sponsor", "timezone"):
        study.append([key, definition[key]])
    sites = wb.create_sheet("sites")
    sites.append(["siteid", "name", "city", "country"])
    for site in definition["sites"]:
        sites.append([site["siteid"], site["name"], site["city"], site["country"]])
    arms = wb.create_sheet("arms")
    arms.append(["armcd", "arm"])
    for arm in definition["arms"]:
        arms.append([arm["armcd"], arm["arm"]])
    visits = wb.create_sheet("visits")
    columns = ["visitnum", "visit", "protocol_day", "window_before", "window_after", "epoch"]
    visits.append([*columns, "aliases"])
    for visit in definition["visits"]:
        visits.append([visit.get(c) for c in columns] + ["; ".join(visit.get("aliases", []))])


def _sheets_only(tmp_path: Path, edit: Callable[[openpyxl.Workbook], None]) -> Path:
    """The workbook of _book with the study definition as sheets (edited by `edit`), no study.yaml beside it."""
    def with_definition(wb):
        _definition_sheets(wb)
        edit(wb)

    book = _book(tmp_path, with_definition)
    (tmp_path / "study.yaml").unlink()
    return book


def test_zero_padded_site_in_a_sites_sheet(tmp_path):
    """The study definition given as sheets: a site 1 formatted 00 in the sites sheet is site 01, as the
    subjects' site_id 01 of the same format."""
    def edit(wb):
        wb["sites"].cell(2, 1).value = 1
        wb["sites"].cell(2, 1).number_format = "00"
        _cell(wb["subjects"], 2, "site_id", 1, "00")

    study, report = build_study(read_records(_sheets_only(tmp_path, edit)))
    assert study["DM"]["SITEID"].tolist() == ["01"]
    assert not report.rejects


def test_definition_sheets_read_dates_as_shown(tmp_path):
    """A date in a definition sheet reads as a form's date cell does, ISO 8601 as shown, not the stored
    date-time's str() (2020-01-05 00:00:00): the protocol typed 2020-01-05, a site name that Excel turned into a
    date-time, a visit alias typed Jan-20 (mmm-yy: the partial date 2020-01). An arm typed 50% (0.5, format 0%)
    is 50% (these are texts: no unit cell takes the %). The visits' numbers stay numbers (visitnum 7 formatted
    0.0 is 7, not the text 7.0)."""
    def edit(wb):
        wb["arms"].cell(2, 2).value = 0.5
        wb["arms"].cell(2, 2).number_format = "0%"
        wb["study"].cell(4, 2).value = datetime.datetime(2020, 1, 5)
        wb["study"].cell(4, 2).number_format = "yyyy-mm-dd"
        assert wb["study"].cell(4, 1).value == "protocol"
        wb["sites"].cell(2, 2).value = datetime.datetime(2020, 1, 5, 8, 30)
        wb["sites"].cell(2, 2).number_format = "d-mmm-yy h:mm"
        visits = wb["visits"]
        assert visits.cell(8, 2).value == "YEAR 6"
        visits.cell(8, 7).value = datetime.datetime(2020, 1, 1)
        visits.cell(8, 7).number_format = "mmm-yy"
        visits.cell(8, 1).number_format = "0.0"

    definition = read_records(_sheets_only(tmp_path, edit)).definition
    assert definition["protocol"] == "2020-01-05"
    assert definition["sites"][0]["name"] == "2020-01-05T08:30"
    assert definition["visits"][6]["aliases"] == ["2020-01"]
    assert definition["arms"][0]["arm"] == "50%"
    assert definition["visits"][6]["visitnum"] == 7 and not isinstance(definition["visits"][6]["visitnum"], str)


def _products(wb: openpyxl.Workbook, *rows: list[object], header: tuple[str, ...] = (
        "name", "extrt", "aliases", "dose_form")) -> None:
    products = wb.create_sheet("products")
    products.append(list(header))
    for row in rows:
        products.append(row)


def test_products_sheet_is_the_studys_products(tmp_path):
    """A `products` sheet beside study/sites/arms/visits is study.yaml's `products`: aliases split at ';', and the
    exposures' product (UC-MSC, an alias here) becomes the EXTRT and dose form it gives (before: the sheet was not
    read, and EX took mappings/exposure.yaml's product)."""
    def edit(wb):
        _products(wb, ["Cells", "ALLOGENEIC UC-MSC", "UC-MSC; ucmsc ", "INJECTION, SUSPENSION"],
                  ["Placebo", "PLACEBO", None, "INJECTION, SUSPENSION"])

    records = read_records(_sheets_only(tmp_path, edit))
    assert records.definition["products"] == [
        {"name": "Cells", "extrt": "ALLOGENEIC UC-MSC", "aliases": ["UC-MSC", "ucmsc"],
         "dose_form": "INJECTION, SUSPENSION"},
        {"name": "Placebo", "extrt": "PLACEBO", "dose_form": "INJECTION, SUSPENSION"}]
    study, report = build_study(records)
    assert set(study["EX"]["EXTRT"]) == {"ALLOGENEIC UC-MSC"}
    assert set(study["EX"]["EXDOSFRM"]) == {"INJECTION, SUSPENSION"}
    assert not report.rejects


@pytest.mark.parametrize(("rows", "header", "message"), [
    ([["Cells", "ALLOGENEIC UC-MSC", "", "INJECTABLE"]], ("name", "extrt", "aliases", "dose_form"),
     r"products/0/dose_form: 'INJECTABLE' is not a CDISC Pharmaceutical Dosage Form"),
    ([["Cells", None, "", ""]], ("name", "extrt", "aliases", "dose_form"), r"products/0: 'extrt' is a required"),
    ([["Cells", "X", "2"]], ("name", "extrt", "strength"), r"products/0: Additional properties are not allowed"),
    ([["Cells", "X", "A"], ["Other", "Y", "a"]], ("name", "extrt", "aliases"),
     r"products: 'a' names product 'Cells' and product 'Other'"),
    # two products of one name: EX took the last one's EXTRT for an alias of the first (an exposure of UC-MSC read
    # as OTHER), silently
    ([["Cells", "ALLOGENEIC UC-MSC", "UC-MSC"], ["Cells", "OTHER", ""]], ("name", "extrt", "aliases"),
     r"products/1: the name 'Cells' is products/0's too; each product needs a name of its own"),
])
def test_products_sheet_is_checked_as_study_yaml(tmp_path, rows, header, message):
    """The products sheet goes through study.yaml's schema and rules: a dose form not a CDISC FRM term, a product
    without its extrt, a column not of products, a name naming two products stop the read naming the sheets and
    the place (exit 2)."""
    with pytest.raises(StudyDefinitionError, match=r"(?s)records\.xlsx \(sheets study/sites/arms/visits/products\).*"
                                                   + message):
        read_records(_sheets_only(tmp_path, lambda wb: _products(wb, *rows, header=header)))


@pytest.mark.parametrize("sheet", ["study", "visits", "products"])
def test_a_blank_row_in_a_definition_sheet_holds_nothing(tmp_path, sheet):
    """A blank row between two rows of a definition sheet is no row, as in a form's sheet: the study sheet's stopped
    the read with 'internal error: KeyError', the visits' and products' with "visits/1: 'visitnum' is a required
    property" naming no sheet row."""
    def products(wb):
        _products(wb, ["Cells", "ALLOGENEIC UC-MSC", "UC-MSC", "INJECTION, SUSPENSION"], ["Placebo", "PLACEBO"])

    def blank(wb):
        products(wb)
        wb[sheet].insert_rows(3)

    (tmp_path / "plain").mkdir()
    (tmp_path / "blank").mkdir()
    want = read_records(_sheets_only(tmp_path / "plain", products)).definition
    assert read_records(_sheets_only(tmp_path / "blank", blank)).definition == want


@pytest.mark.parametrize("day", [7.5, "abc"])
def test_definition_sheet_day_not_a_whole_number(tmp_path, day):
    """A visit's protocol_day of 7.5 (or text) in the visits sheet is refused naming the visit and field (exit 2),
    not cut to day 7 (nor a Python error)."""
    def edit(wb):
        wb["visits"].cell(3, 3).value = day

    with pytest.raises(StudyDefinitionError, match=r"(?s)records\.xlsx \(sheets study/sites/arms/visits\).*"
                                                   r"visits/1/protocol_day: .* is not of type 'integer'"):
        read_records(_sheets_only(tmp_path, edit))


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
