"""MSC-FHIR-007 with several normal ranges for different populations (appliesTo sex): the interpretation is
judged against the range of the subject (Patient.gender in the same input, decided as from-fhir decides it), else
not at all."""

from __future__ import annotations

import json
from pathlib import Path

from msc_interop.validate.fhir_rules import fhir_rules

UCUM = "http://unitsofmeasure.org"
V3 = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"


def _range(low: float, high: float, snomed: str) -> dict:
    return {"low": {"value": low, "system": UCUM, "code": "g/dL"},
            "high": {"value": high, "system": UCUM, "code": "g/dL"},
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/referencerange-meaning",
                                 "code": "normal"}]},
            "appliesTo": [{"coding": [{"system": "http://snomed.info/sct", "code": snomed}]}]}


def _obs(oid: str, patient: str, value: float, code: str) -> dict:
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "718-7"}]},
            "subject": {"reference": f"Patient/{patient}"}, "effectiveDateTime": "2024-03-05",
            "valueQuantity": {"value": value, "system": UCUM, "code": "g/dL", "unit": "g/dL"},
            "interpretation": [{"coding": [{"system": V3, "code": code}]}],
            "referenceRange": [_range(13.5, 17.5, "248153007"), _range(12.0, 15.5, "248152002")]}  # male, female


PATIENTS = [{"resourceType": "Patient", "id": "m", "gender": "male", "birthDate": "1970-04-02"},
            {"resourceType": "Patient", "id": "f", "gender": "female", "birthDate": "1982-11-20"}]
# male 13.5-17.5, female 12.0-15.5: m1 12.8 N (male: L, wrong), m2 14.0 N (right), f1 12.8 L (female: N, wrong),
# f2 16.0 H (female: H, right; against the male range it would be N)
OBS = [_obs("m1", "m", 12.8, "N"), _obs("m2", "m", 14.0, "N"), _obs("f1", "f", 12.8, "L"), _obs("f2", "f", 16.0, "H")]


def _wrong(paths: list[Path]) -> set[tuple[str, str, str]]:
    return {(f.dataset_or_resource, f.value, f.message.split("(expected ")[1][0]) for f in fhir_rules(paths, "R4")
            if f.rule_id == "MSC-FHIR-007"}


def test_the_subjects_range_judges_the_interpretation(tmp_path: Path) -> None:
    bundle = tmp_path / "b.json"
    bundle.write_text(json.dumps({"resourceType": "Bundle", "type": "collection",
                                  "entry": [{"resource": r} for r in PATIENTS + OBS]}))
    assert _wrong([bundle]) == {("Observation/m1", "N", "L"), ("Observation/f1", "L", "N")}
    ndjson = tmp_path / "all.ndjson"  # the one-pass check (fhir_clean) sends these to the rule too
    ndjson.write_text("".join(json.dumps(r) + "\n" for r in PATIENTS + OBS))
    assert _wrong([ndjson]) == {("Observation/m1", "N", "L"), ("Observation/f1", "L", "N")}


def test_without_the_patient_nothing_is_judged(tmp_path: Path) -> None:
    bundle = tmp_path / "b.json"
    bundle.write_text(json.dumps({"resourceType": "Bundle", "type": "collection",
                                  "entry": [{"resource": r} for r in OBS]}))
    assert _wrong([bundle]) == set()
