"""Bad-input cases of medical history (medical_history.csv, Condition), the chest X-ray rows of findings.csv
(PR + RE) and Procedure / imaging Observation resources: each names file, row or entry and field."""

from __future__ import annotations

from pathlib import Path

from .registry import case, edit_bundle_entry, edit_csv_rows


def _mh_row(field: str, value: str, row: int = 0):
    def change(d: Path) -> None:
        def fn(rows: list[dict[str, str]]) -> None:
            rows[row][field] = value
        edit_csv_rows(d / "medical_history.csv", fn)
    return change


case("records/medical_history-ongoing-not-yes-no", "records", "to-sdtm", 1,
     ("medical_history.csv row 2", "ongoing", "maybe"), {"medical_history": (15, 14, 1)})(_mh_row("ongoing", "maybe"))

case("records/medical_history-start-date-not-a-date", "records", "to-sdtm", 1,
     ("medical_history.csv row 4", "start_date", "2004-02-30"),
     {"medical_history": (15, 14, 1)})(_mh_row("start_date", "2004-02-30", row=2))

case("records/medical_history-term-empty", "records", "to-sdtm", 1,
     ("medical_history.csv row 3", "reported_term"), {"medical_history": (15, 14, 1)})(_mh_row("reported_term", "", 1))


@case("records/findings-chest-xray-visit-not-in-schedule", "records", "to-sdtm", 1,
      ("findings.csv row 2", "visit", "Year 3", "not a visit of the study schedule"), {"findings": (90, 89, 1)})
def _(d: Path) -> None:
    def fn(rows: list[dict[str, str]]) -> None:
        assert rows[0]["exam"] == "CHEST X-RAY"
        rows[0]["visit"] = "Year 3"
    edit_csv_rows(d / "findings.csv", fn)


@case("fhir/condition-entered-in-error", "fhir-bundle", "from-fhir", 1,
      ("bundle.json", "Condition.verificationStatus", "entered-in-error"), {"Condition": (15, 14, 1)})
def _(d: Path) -> None:
    edit_bundle_entry(d, "Condition", lambda e: e["resource"].update(verificationStatus={"coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "entered-in-error"}]}))


@case("fhir/procedure-without-a-name", "fhir-bundle", "from-fhir", 1,
      ("bundle.json", "Procedure.code", "no procedure name"), {"Procedure": (45, 44, 1)})
def _(d: Path) -> None:
    edit_bundle_entry(d, "Procedure", lambda e: e["resource"].update(code={"coding": [{"code": "x"}]}), nth=3)


@case("fhir/procedure-date-impossible", "fhir-bundle", "from-fhir", 1,
      ("bundle.json", "Procedure.performed", "2009-02-30"), {"Procedure": (45, 44, 1)})
def _(d: Path) -> None:
    edit_bundle_entry(d, "Procedure", lambda e: e["resource"].update(performedDateTime="2009-02-30"))
