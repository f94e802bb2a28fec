"""Fields of FHIR written by others that the reader used to drop with no word: each now reaches its SDTM variable
or is named in the report ("converted without ...", REJ-FHIR-006); the record is converted either way."""

from __future__ import annotations

import json
from pathlib import Path

from msc_interop.fhir.read import read_fhir

UCUM = "http://unitsofmeasure.org"
LAB = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}]


def _read(tmp_path: Path, resources: list[dict]):
    path = tmp_path / "in.json"
    entries = [{"resource": {"resourceType": "Patient", "id": "p1"}}] + [{"resource": r} for r in resources]
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}), encoding="utf-8")
    study, report = read_fhir([path])
    return study, report, {(x.form, x.row): (x.field, x.reason) for x in report.sorted()}


def test_periods_issued_timing_age_and_rate_are_read_or_said(tmp_path: Path) -> None:
    subject = {"subject": {"reference": "Patient/p1"}}
    condition = {"resourceType": "Condition", "id": "c1", "code": {"text": "Past surgery"}, **subject,
                 "onsetPeriod": {"start": "2010-01", "end": "2010-02"}}
    condition_age = {"resourceType": "Condition", "id": "c2", "code": {"text": "Asthma"}, **subject,
                     "onsetAge": {"value": 12, "unit": "a", "system": UCUM, "code": "a"}}
    procedure = {"resourceType": "Procedure", "id": "pr1", "status": "completed", "code": {"text": "Biopsy"},
                 **subject, "performedPeriod": {"start": "2021-07-02T09:00:00", "end": "2021-07-02T09:30:00"}}
    urea = {"resourceType": "Observation", "status": "final", "category": LAB, **subject,
            "code": {"coding": [{"system": "http://loinc.org", "code": "3094-0"}]},
            "valueQuantity": {"value": 15, "unit": "mg/dL", "system": UCUM, "code": "mg/dL"}}
    issued = {**urea, "id": "o1", "issued": "2021-07-03T10:00:00Z"}
    timing = {**urea, "id": "o2", "effectiveTiming": {"event": ["2021-07-04"]}}
    infusion = {"resourceType": "MedicationAdministration", "id": "m1", "status": "completed", **subject,
                "medicationCodeableConcept": {"text": "saline"}, "effectiveDateTime": "2021-07-03",
                "dosage": {"rateQuantity": {"value": 100, "unit": "mL/h", "system": UCUM, "code": "mL/h"}}}
    study, report, lines = _read(tmp_path, [condition, condition_age, procedure, issued, timing, infusion])
    # entries: 1 c1, 2 c2, 3 pr1, 4 o1, 5 o2, 6 m1
    mh = study["MH"].set_index("MHTERM")
    assert mh.loc["Past surgery", "MHSTDTC"] == "2010-01" and mh.loc["Asthma", "MHSTDTC"] == ""
    assert lines[("Condition", 1)][0] == "Condition.onsetPeriod.end"
    assert lines[("Condition", 2)] == ("Condition.onsetAge",
                                       "Bundle entry 2: converted without MHSTDTC: onsetAge is not a date")
    pr = study["PR"].iloc[0]
    assert (pr["PRSTDTC"], pr["PRENDTC"]) == ("2021-07-02T09:00", "2021-07-02T09:30")
    assert ("Procedure", 3) not in lines
    assert list(study["LB"]["LBDTC"]) == ["", ""]  # issued is not the collection time
    assert ("Observation", 4) not in lines  # issued only: no problem line (LBDTC is Expected), one note
    assert any(n.startswith("1 Observation(s) have no effective[x], only `issued`") for n in report.notes)
    assert lines[("Observation", 5)] == ("Observation.effectiveTiming", "Bundle entry 5: converted without LBDTC: "
                                         "effectiveTiming (a schedule, not a date) is not read")
    assert lines[("MedicationAdministration", 6)][0] == "MedicationAdministration.dosage.rateQuantity"
    assert "EXDOSE is the dose given, not a rate" in lines[("MedicationAdministration", 6)][1]
    counts = {c["form"]: c for c in report.form_counts()}
    assert all(c["rejected"] == 0 for c in counts.values())
    assert counts["Observation"]["converted_without_a_field"] == 1
