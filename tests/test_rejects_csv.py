"""rejects.csv is opened in Excel or LibreOffice: a text there that the spreadsheet would run as a formula (the formula
of a rejected workbook cell, =129.58/2.2, or a payload typed into the data) is escaped with a leading ' (OWASP: CSV
injection); rejects.json keeps every text as it is."""

from __future__ import annotations

import csv
import json

import pytest

from msc_interop.rejects import RejectReport, csv_cell


@pytest.mark.parametrize(("text", "escaped"), [
    ("=129.58/2.2", "'=129.58/2.2"),
    ('=IF(A20="","",A20*1)', '\'=IF(A20="","",A20*1)'),
    ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-cmd|' /C calc'!A0", "'-cmd|' /C calc'!A0"),
    ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),  # (a digit after the sign, but no number)
    ("-", "'-"),
    # a signed number is a number to the spreadsheet, not a formula: left as it is, as any other text
    ("-5", "-5"), ("+3.2", "+3.2"), ("-.5", "-.5"), ("-1.5e3", "-1.5e3"), ("5-3", "5-3"), ("", ""),
    ("required field 'result' is empty", "required field 'result' is empty"), ("'quoted", "'quoted"),
])
def test_csv_cell(text, escaped):
    assert csv_cell(text) == escaped


def test_rejects_csv_escapes_formulas_and_json_keeps_them(tmp_path):
    """A rejected workbook cell's formula in the value and the reason, and a header typed as a formula (the field
    of an unknown column), are escaped in rejects.csv; a negative value is not; rejects.json holds them as read."""
    report = RejectReport()
    reason = "cell I2 holds a formula with no saved result (=129.58/2.2), so its value is unknown"
    report.add("exposures", "records.xlsx[exposures]", 2, "body_weight_kg", "=129.58/2.2", reason, code="REJ-REC-017")
    report.add("labs", "labs.csv", 3, "result", "-5", "=a reason", code="REJ-REC-002")
    report.add("labs", "labs.csv", 4, "=HYPERLINK(\"x\")", "1", "not a column of the form", code="REJ-REC-003")
    report.write(tmp_path)
    with (tmp_path / "rejects.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(r["field"], r["value"], r["reason"]) for r in rows] == [
        ("body_weight_kg", "'=129.58/2.2", reason),
        ("result", "-5", "'=a reason"),
        ("'=HYPERLINK(\"x\")", "1", "not a column of the form")]
    doc = json.loads((tmp_path / "rejects.json").read_text(encoding="utf-8"))
    assert [(r["field"], r["value"], r["reason"]) for r in doc["rejects"]] == [
        ("body_weight_kg", "=129.58/2.2", reason), ("result", "-5", "=a reason"),
        ("=HYPERLINK(\"x\")", "1", "not a column of the form")]
