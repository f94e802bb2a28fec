"""Bad EDC exports (CDISC ODM 1.3 with its mapping file) and bad workbooks (the study records as .xlsx sheets).

Where a case breaks one record, the place the message must name is worked out here from the input itself (the line
of the ItemGroupData holding the broken ItemData; the sheet row), not copied from a run.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from pathlib import Path

import openpyxl

from .registry import case

ODM = "example_study.odm.xml"
LABS_ONE_REJECTED = {"labs": (494, 493, 1)}
LABS_ALL_CONVERTED = {"labs": (494, 494, 0)}


# --- ODM: one LB ItemGroupData broken ---------------------------------------------------------------------------

def _group_line_of(text: str, at: int) -> int:
    """1-based line of the ItemGroupData that holds the character offset `at`."""
    return text.count("\n", 0, text.rindex("<ItemGroupData ", 0, at)) + 1


def _nth_lb_item(text: str, item: str, n: int) -> re.Match[str]:
    matches = list(re.finditer(rf'<ItemData ItemOID="IT\.LB\.{item}" Value="([^"]*)"', text))
    assert len(matches) == 494, (item, len(matches))
    return matches[n - 1]


def _odm_item_case(id: str, item: str, n: int, new_value: str, field: str) -> None:
    """The n-th LB record's `item` gets `new_value`: that record is rejected at its ItemGroupData's line."""
    path_text = (Path(__file__).resolve().parents[2] / "fixtures" / "example_study_odm" / ODM).read_text("utf-8")
    line = _group_line_of(path_text, _nth_lb_item(path_text, item, n).start())

    def change(d: Path) -> None:
        text = (d / ODM).read_text(encoding="utf-8")
        m = _nth_lb_item(text, item, n)
        (d / ODM).write_text(text[:m.start(1)] + new_value + text[m.end(1):], encoding="utf-8")

    case(id, "odm", "to-sdtm", 1, (ODM, f"line {line}", field, "IG.LB"), LABS_ONE_REJECTED, input=ODM)(change)


for _n in (1, 100, 494):
    _odm_item_case(f"odm/lb-{_n}-test-unknown", "LBTESTCD", _n, "NOPE", "test='NOPE'")
    _odm_item_case(f"odm/lb-{_n}-date-february-30", "LBDTC", _n, "2009-02-30T08:38", "not a valid date")
    _odm_item_case(f"odm/lb-{_n}-date-garbage", "LBDTC", _n, "last Tuesday", "collection_datetime")
    _odm_item_case(f"odm/lb-{_n}-year-0001", "LBDTC", _n, "0001-01-01", "collection_datetime")


UNIT_REF = re.compile(r'<MeasurementUnitRef MeasurementUnitOID="(MU\.\d+)"/>')


def _clinical_unit_refs(text: str) -> list[re.Match[str]]:
    """The MeasurementUnitRefs of lab results (in ClinicalData; those before it are the ItemDefs' allowed units;
    the vital signs' are left out: these cases count lab records)."""
    return [m for m in UNIT_REF.finditer(text, text.index("<ClinicalData"))
            if text.rfind("<ItemData ", 0, m.start()) == text.rfind('<ItemData ItemOID="IT.LB.LBORRES"', 0, m.start())]


def _odm_unit_case(n: int) -> None:
    """The n-th LB result's MeasurementUnitRef points to a unit BasicDefinitions does not define."""
    def change(d: Path) -> None:
        text = (d / ODM).read_text(encoding="utf-8")
        m = _clinical_unit_refs(text)[n - 1]
        (d / ODM).write_text(text[:m.start(1)] + "MU.99" + text[m.end(1):], encoding="utf-8")

    case(f"odm/unit-ref-{n}-undefined", "odm", "to-sdtm", 1, (ODM, "MU.99", "not defined"), LABS_ONE_REJECTED,
         input=ODM)(change)


for _n in (1, 200, 400):
    _odm_unit_case(_n)


def _results_in(unit: str) -> int:
    text = (Path(__file__).resolve().parents[2] / "fixtures" / "example_study_odm" / ODM).read_text("utf-8")
    return sum(1 for m in _clinical_unit_refs(text) if m.group(1) == unit)


@case("odm/itemdef-no-longer-allows-a-unit", "odm", "to-sdtm", 1, (ODM, "'MU.1' is not one of the MeasurementUnitRefs"),
      {"labs": (494, 494 - _results_in("MU.1"), _results_in("MU.1"))}, input=ODM)
def _(d: Path) -> None:
    """The LBORRES ItemDef's list of units loses MU.1: every result given in MU.1 is rejected, the rest kept."""
    text = (d / ODM).read_text(encoding="utf-8")
    metadata_end = text.index("<ClinicalData")
    first = text.index('<MeasurementUnitRef MeasurementUnitOID="MU.1"/>', text.index('OID="IT.LB.LBORRES"'))
    assert first < metadata_end
    (d / ODM).write_text(text[:first] + text[first:metadata_end].replace('"MU.1"', '"MU.99"', 1) +
                         text[metadata_end:], encoding="utf-8")


# --- ODM: the file as a whole cannot be used (exit 2, the file named) ------------------------------------------

def _odm_text(fn: Callable[[str], str]) -> Callable[[Path], None]:
    def change(d: Path) -> None:
        (d / ODM).write_text(fn((d / ODM).read_text(encoding="utf-8")), encoding="utf-8")
    return change


for _name, _fraction in (("quarter", 4), ("half", 2)):
    for _command in ("to-sdtm", "to-fhir", "summary", "validate"):  # validate reports an unreadable input as an
        case(f"odm/cut-at-{_name}-{_command}", "odm", _command, 1 if _command == "validate" else 2,  # error finding
             (ODM, "line"), input=ODM)(_odm_text(lambda t, f=_fraction: t[: len(t) // f]))

case("odm/not-xml", "odm", "to-sdtm", 2, (ODM, "ODM"), input=ODM)(_odm_text(lambda t: "subject_id,visit\n01,Day 0\n"))
case("odm/empty", "odm", "to-sdtm", 2, (ODM,), input=ODM)(_odm_text(lambda t: ""))
case("odm/doctype-with-external-entity", "odm", "to-sdtm", 2, (ODM, "DOCTYPE"), input=ODM)(_odm_text(
    lambda t: t.replace("?>", '?>\n<!DOCTYPE ODM [<!ENTITY x SYSTEM "file:///etc/passwd">]>', 1)))
case("odm/entity-bomb", "odm", "to-sdtm", 2, (ODM, "DOCTYPE"), input=ODM)(_odm_text(
    lambda t: t.replace("?>", '?>\n<!DOCTYPE ODM [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>', 1)))
case("odm/html-entity-in-a-value", "odm", "to-sdtm", 2, (ODM, "nbsp"), input=ODM)(_odm_text(
    lambda t: t.replace('Value="Nanjing Drum Tower Hospital Clinical Laboratory"', 'Value="Nanjing&nbsp;Lab"', 1)))


@case("odm/mapping-file-missing", "odm", "to-sdtm", 2, ("odm-map", "odm-map"), input=ODM)
def _(d: Path) -> None:
    (d / "odm-map.yaml").unlink()


@case("odm/mapping-file-not-yaml", "odm", "to-sdtm", 2, ("odm-map.yaml",), input=ODM)
def _(d: Path) -> None:
    (d / "odm-map.yaml").write_text("study_definition: [unclosed\n", encoding="utf-8")


# --- XLSX: the records as sheets ----------------------------------------------------------------------------------

BOOK = "records.xlsx"
LABS_COLUMNS = ("subject_id", "visit", "collection_datetime", "test", "result", "unit", "ref_low", "ref_high",
                "lab_name")


def _edit_book(fn: Callable[[openpyxl.Workbook], None]) -> Callable[[Path], None]:
    def change(d: Path) -> None:
        book = openpyxl.load_workbook(d / BOOK)
        fn(book)
        book.save(d / BOOK)
    return change


def _set_lab_cell(row: int, column: str, value: object) -> Callable[[Path], None]:
    def fn(book: openpyxl.Workbook) -> None:
        sheet = book["labs"]
        assert tuple(c.value for c in sheet[1]) == LABS_COLUMNS
        sheet.cell(row=row, column=LABS_COLUMNS.index(column) + 1).value = value  # (value=None would not clear)
    return _edit_book(fn)


_BAD_LAB_CELLS = (  # (kind, column, value, words the message must hold)
    ("date-february-30", "collection_datetime", "2009-02-30T08:38", "no day 30"),
    ("date-garbage", "collection_datetime", "soon", "collection_datetime"),
    ("test-unknown", "test", "NOPE", "'NOPE'"),
    ("result-empty", "result", None, "'result' is empty"),
    ("result-text", "result", "six", "result"),
    ("subject-unknown", "subject_id", "99", "subject_id"),
    ("visit-unknown", "visit", "Year 60", "visit"),
)
for _row in (2, 101, 495):  # the first record, one inside, the last (sheet rows: the header is row 1)
    for _kind, _column, _value, _words in _BAD_LAB_CELLS:
        case(f"xlsx/labs-row-{_row}-{_kind}", "xlsx", "to-sdtm", 1, (BOOK, "labs", f"row {_row}", _words),
             LABS_ONE_REJECTED, input=BOOK)(_set_lab_cell(_row, _column, _value))

# cells Excel types itself (a real date-time, a number) are read as the values they show
case("xlsx/labs-date-as-an-excel-date-time", "xlsx", "to-sdtm", 0, ("labs: read 494 = converted 494",),
     LABS_ALL_CONVERTED, input=BOOK)(_set_lab_cell(101, "collection_datetime", datetime.datetime(2010, 3, 1, 8, 38)))
case("xlsx/labs-result-as-a-number", "xlsx", "to-sdtm", 0, ("labs: read 494 = converted 494",),
     LABS_ALL_CONVERTED, input=BOOK)(_set_lab_cell(101, "result", 6.14))


@case("xlsx/subjects-sheet-missing", "xlsx", "to-sdtm", 2, (BOOK, "subjects"), input=BOOK)
def _(d: Path) -> None:
    _edit_book(lambda book: book.remove(book["subjects"]))(d)


@case("xlsx/labs-result-column-twice", "xlsx", "to-sdtm", 2, (BOOK, "result", "more than once"), input=BOOK)
def _(d: Path) -> None:
    _edit_book(lambda book: book["labs"].cell(row=1, column=len(LABS_COLUMNS) + 1, value="result"))(d)


@case("xlsx/not-a-workbook", "xlsx", "to-sdtm", 2, (BOOK,), input=BOOK)
def _(d: Path) -> None:
    (d / BOOK).write_text("subject_id,visit\n01,Day 0\n", encoding="utf-8")


@case("xlsx/cut-at-half", "xlsx", "to-sdtm", 2, (BOOK,), input=BOOK)
def _(d: Path) -> None:
    data = (d / BOOK).read_bytes()
    (d / BOOK).write_bytes(data[: len(data) // 2])


@case("xlsx/study.yaml-missing", "xlsx", "to-sdtm", 2, ("study.yaml",), input=BOOK)
def _(d: Path) -> None:
    (d / "study.yaml").unlink()


# a wholly empty row between records holds no record (as a CSV's blank line): skipped, the rows after it keep
# their sheet numbers (the bad cell on sheet row 103 is named as row 103, not 102)
def _blank_row_then_bad_cell(book: openpyxl.Workbook) -> None:
    sheet = book["labs"]
    sheet.insert_rows(50)
    sheet.cell(row=103, column=LABS_COLUMNS.index("result") + 1).value = "six"


case("xlsx/labs-blank-row-skipped", "xlsx", "to-sdtm", 0, ("labs: read 494 = converted 494",),
     LABS_ALL_CONVERTED, input=BOOK)(_edit_book(lambda book: book["labs"].insert_rows(50)))
case("xlsx/labs-blank-row-then-bad-cell", "xlsx", "to-sdtm", 1, (BOOK, "labs", "row 103", "result"),
     LABS_ONE_REJECTED, input=BOOK)(_edit_book(_blank_row_then_bad_cell))
