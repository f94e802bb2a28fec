"""The Report: verdict at a fail-on level, counts, and its renderers (console, JSON, CSV, HTML)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from msc_interop.errors import MscInteropError
from msc_interop.validate import Finding, Report, exit_code, get_rule
from msc_interop.validate.model import FINDING_FIELDS
from msc_interop.validate.report import location

from .conftest import unexpected


def _findings() -> list[Finding]:
    return [
        get_rule("MSC-SDTM-008").finding(file="out/lb.xpt", dataset="LB", row=20, usubjid="S-01", seq=20,
                                         variable="LBDY", value=0),
        get_rule("MSC-SDTM-016").finding(file="out/lb.xpt", dataset="LB", row=5, usubjid="S-01", seq=5,
                                         variable="LBNRIND", value="HIGH", stresn_var="LBSTRESN", stresn=3.52, lo=0,
                                         hi=20, expected="NORMAL"),
        get_rule("MSC-SDTM-023").finding(file="out/cm.xpt", dataset="CM", split="", source="the SDTMIG CM table",
                                         known="DM, LB"),
        get_rule("MSC-SDTM-008").finding(file="out/ex.xpt", dataset="EX", row=1, variable="EXSTDY", value=0.0),
    ]


def test_verdict_and_exit_code_follow_the_fail_on_level() -> None:
    report = Report(_findings())
    assert not report.valid and exit_code(report, "error") == 1
    warnings_only = Report([f for f in _findings() if f.severity != "error"])
    assert warnings_only.valid and exit_code(warnings_only, "error") == 0
    assert exit_code(warnings_only, "warning") == 1
    assert not Report(warnings_only.findings, fail_on="warning").valid
    notices = Report([f for f in _findings() if f.severity == "notice"])
    assert exit_code(notices, "warning") == 0 and exit_code(notices, "notice") == 1
    assert Report().valid and exit_code(Report(), "warning") == 0


def test_unknown_fail_on_level_is_refused() -> None:
    with pytest.raises(MscInteropError, match="fail-on level 'fatal'"):
        Report(fail_on="fatal")
    with pytest.raises(MscInteropError):
        exit_code(Report(), "fatal")


def test_counts_by_severity_and_rule() -> None:
    report = Report(_findings())
    assert report.counts_by_severity() == {"error": 2, "warning": 1, "notice": 1}
    assert list(report.counts_by_rule().items()) == [("MSC-SDTM-008", 2), ("MSC-SDTM-016", 1), ("MSC-SDTM-023", 1)]


def test_finding_values_are_text_and_messages_filled() -> None:
    f = _findings()
    assert (f[0].value, f[3].value) == ("0", "0")
    assert f[1].message == "LBNRIND is 'HIGH' but LBSTRESN 3.52 against the range 0 to 20 is NORMAL"


def test_json_holds_everything(tmp_path: Path) -> None:
    report = Report(_findings(), sources=["out"])
    report.to_json(tmp_path / "r.json")
    doc = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert doc == json.loads(json.dumps(report.to_dict()))
    assert doc["valid"] is False and doc["counts"] == {"error": 2, "warning": 1, "notice": 1}
    assert doc["rules"][0] == {"rule_id": "MSC-SDTM-008", "severity": "error", "count": 2, "title": "Study day is 0",
                               "references": {"p21": ["SD0038"], "sdtmig_cg": ["CG0006"]}}
    assert doc["findings"][0] == {"rule_id": "MSC-SDTM-008", "severity": "error", "file": "out/lb.xpt",
                                  "dataset_or_resource": "LB", "row_or_entry": 20, "usubjid": "S-01", "seq": 20,
                                  "variable_or_path": "LBDY", "value": "0",
                                  "message": doc["findings"][0]["message"]}


def test_csv_has_one_row_per_finding(tmp_path: Path) -> None:
    Report(_findings()).write(tmp_path / "r.csv")
    with open(tmp_path / "r.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == [*FINDING_FIELDS, "references"]
    assert len(rows) == 5
    assert rows[3][:5] == ["MSC-SDTM-023", "notice", "out/cm.xpt", "CM", ""]
    assert rows[1][-1] == "P21 SD0038; SDTMIG CG0006" and rows[3][-1] == ""  # 023 has no counterpart


def test_html_is_self_contained(tmp_path: Path) -> None:
    findings = [*_findings(), get_rule("MSC-SDTM-006").finding(dataset="DM", variable="BRTHDTC",
                                                               value="<script>alert(1)</script>", hint="")]
    Report(findings, sources=["out"]).write(tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "</html>" in page
    assert "<script" not in page.lower() and "&lt;script&gt;" in page
    assert "src=" not in page and 'href="http' not in page and "<link" not in page
    assert "MSC-SDTM-016" in page and "not valid" in page
    assert "P21 SD0003; SDTMIG CG0238" in page  # MSC-SDTM-006's references in the rules table


def test_unknown_report_suffix_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MscInteropError, match=r"\.json, \.csv, \.html or \.xlsx"):
        Report().write(tmp_path / "r.txt")


def test_console_prints_counts_rules_and_first_findings() -> None:
    console = Console(record=True, width=200, color_system=None)
    Report(_findings()).console(console, limit=2)
    text = console.export_text()
    assert "not valid" in text and "2 error(s), 1 warning(s), 1 notice(s)" in text
    assert "MSC-SDTM-016" in text and "Study day is 0" in text
    assert "First 2 of 4 findings" in text and "2 more finding(s)" in text


def test_console_of_a_clean_report() -> None:
    console = Console(record=True, width=120, color_system=None)
    Report().console(console)
    assert "valid (fail on error): 0 error(s), 0 warning(s), 0 notice(s)" in console.export_text()


def test_first_findings_take_turns_between_rules() -> None:
    many = [get_rule("MSC-SDTM-002").finding(dataset="AE", row=i, variable="AEDECOD") for i in range(1, 50)]
    report = Report([*many, *_findings()])
    assert [f.rule_id for f in report.first_findings(5)] == [
        "MSC-SDTM-002", "MSC-SDTM-008", "MSC-SDTM-016", "MSC-SDTM-023", "MSC-SDTM-002"]
    assert len(report.first_findings(100)) == len(report.findings)


def test_location_in_one_line() -> None:
    f = _findings()
    assert location(f[0]) == "lb.xpt LB row 20 USUBJID S-01 seq 20 LBDY"
    assert location(f[2]) == "cm.xpt CM"
    xsd = get_rule("MSC-DEF-001").finding(file="out/define.xml", dataset="define.xml", row=63, error="x")
    assert location(xsd) == "define.xml line 63"
    fhir = get_rule("MSC-FHIR-002").finding(file="out/bundle.json", dataset="Observation/o1", row=3,
                                            variable="Observation.status", value="done", path="", valueset="",
                                            allowed="")
    assert location(fhir) == "bundle.json Observation/o1 entry 3 Observation.status"
    line = get_rule("MSC-FHIR-002").finding(file="out/Observation.ndjson", dataset="Observation/o1", row=3,
                                            variable="Observation.status", path="", valueset="", allowed="")
    assert location(line) == "Observation.ndjson Observation/o1 line 3 Observation.status"


def test_excel_report_has_p21_sheets_and_same_bytes_each_time(sdtm_output: Path, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    from msc_interop.validate import validate_paths

    folder = tmp_path / "xpt"
    shutil.copytree(sdtm_output / "xpt", folder)
    report = validate_paths([folder])
    report.findings = unexpected(report.findings)  # the judged own-output findings (conftest) are not this test's
    report.extend(_findings())
    report.write(tmp_path / "a.xlsx")
    report.write(tmp_path / "b.xlsx")
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()
    wb = load_workbook(tmp_path / "a.xlsx", read_only=True)
    assert wb.sheetnames == ["Dataset Summary", "Issue Summary", "Details", "Rules"]
    summary = {r[1]: r for r in wb["Dataset Summary"].iter_rows(min_row=2, values_only=True)}
    dm = summary[str(folder / "dm.xpt")]
    assert dm[0] == "DM" and dm[2] == 9 and dm[3:] == (0, 0, 0)  # 9 subjects, no findings
    lb = summary["out/lb.xpt"]
    assert lb[3:] == (1, 1, 0)  # the day-0 error and the NRIND warning of _findings()
    issues = list(wb["Issue Summary"].iter_rows(min_row=2, values_only=True))
    assert ("LB", "MSC-SDTM-008", "SD0038", "error", "Study day is 0", 1) in issues
    details = list(wb["Details"].iter_rows(min_row=2, values_only=True))
    assert len(details) == len(report.findings)
    assert details[0][:8] == ("LB", 20, "S-01", 20, "LBDY", "0", "MSC-SDTM-008", "SD0038")
    rules = {r[0]: r for r in wb["Rules"].iter_rows(min_row=2, values_only=True)}
    assert rules["MSC-SDTM-028"][6] == "SD0021" and rules["MSC-SDTM-030"][7] == "CG0041"
