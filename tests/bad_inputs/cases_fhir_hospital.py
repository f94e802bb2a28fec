"""What a hospital sends beside the study's own FHIR (issue 13): lab results of tests the mapping does not know
(carried, exit 0), Observations of other categories and resource types no domain reads (skipped and counted, exit
0), doses that were not given (never an EX record: skipped, or rejected when the status says nothing usable),
routes that are not CDISC CT (kept and flagged). Each case appends one hospital resource to the to-fhir Bundle.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .registry import case, edit_json

OBS, MA = 494 + 450 + 275 + 45, 18  # Observations (LB, VS, EG, RE) and MedicationAdministrations of the source Bundle
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


def _append(make: Callable[[str], dict[str, Any]]) -> Callable[[Path], None]:
    """Append the resource make(reference to the Bundle's first Patient) to bundle.json."""
    def change(folder: Path) -> None:
        def add(bundle: dict[str, Any]) -> None:
            patient = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
            ref = patient.get("fullUrl") or f"Patient/{patient['resource']['id']}"
            bundle["entry"].append({"resource": make(ref)})
        edit_json(folder / "bundle.json", add)
    return change


def _observation(category: str, loinc: str, display: str, unit: str, value: float) -> Callable[[str], dict[str, Any]]:
    return lambda ref: {
        "resourceType": "Observation", "id": f"hosp-{loinc}", "status": "final",
        "category": [{"coding": [{"system": CATEGORY, "code": category}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": loinc, "display": display}]},
        "subject": {"reference": ref}, "effectiveDateTime": "2021-03-04T08:15:00+01:00",
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}}


def _administration(status: str, **extra: Any) -> Callable[[str], dict[str, Any]]:
    def make(ref: str) -> dict[str, Any]:
        res = {"resourceType": "MedicationAdministration", "id": f"hosp-{status}", "status": status,
               "medicationCodeableConcept": {"text": "vancomycin"}, "subject": {"reference": ref},
               "effectiveDateTime": "2021-05-11T10:00:00-04:00",
               "dosage": {"dose": {"value": 1, "unit": "g", "system": "http://unitsofmeasure.org", "code": "g"}}}
        res.update(extra)
        return res
    return make


case("fhir-hospital/unknown-loinc-carried", "fhir-bundle", "from-fhir", 0,
     ("SPONSOR-DEFINED", "LOINC 5671-3 -> LEAD (Lead): 1"),
     {"Observation": (OBS + 1, OBS + 1, 0)})(
    _append(_observation("laboratory", "5671-3", "Lead [Mass/volume] in Blood", "ng/mL", 1.2)))
case("fhir-hospital/unknown-unit-of-a-carried-test-kept", "fhir-bundle", "from-fhir", 0,
     ("SPONSOR-DEFINED", "LOINC 5671-3"), {"Observation": (OBS + 1, OBS + 1, 0)})(
    _append(_observation("laboratory", "5671-3", "Lead [Mass/volume] in Blood", "[ppb]", 12)))
case("fhir-hospital/vital-signs-land-in-vs", "fhir-bundle", "from-fhir", 0,
     (f"Observation: read {OBS + 1} = converted {OBS + 1} + rejected 0 + skipped 0",),
     {"Observation": (OBS + 1, OBS + 1, 0)})(
    _append(_observation("vital-signs", "29463-7", "Body weight", "kg", 74)))
case("fhir-hospital/survey-skipped-not-rejected", "fhir-bundle", "from-fhir", 0,
     ("skipped 1 Observation: category survey",), {"Observation": (OBS + 1, OBS, 0)})(
    _append(_observation("survey", "44261-6", "PHQ-9 total score", "{score}", 3)))
case("fhir-hospital/claim-skipped", "fhir-bundle", "from-fhir", 0,
     ("skipped 1 Claim: no SDTM domain is read from this resource type yet",), {"Claim": (1, 0, 0)})(
    _append(lambda ref: {"resourceType": "Claim", "id": "c1", "status": "active", "use": "claim",
                         "patient": {"reference": ref}}))
case("fhir-hospital/dose-not-done-is-no-ex-record", "fhir-bundle", "from-fhir", 0,
     ("skipped 1 MedicationAdministration: status not-done: the dose was not given", "ECOCCUR N"),
     {"MedicationAdministration": (MA + 1, MA, 0)})(_append(_administration("not-done")))
case("fhir-hospital/dose-on-hold-with-a-contraindication", "fhir-bundle", "from-fhir", 0,
     ("status on-hold",), {"MedicationAdministration": (MA + 1, MA, 0)})(
    _append(_administration("on-hold", statusReason=[{"coding": [{"system": "http://snomed.info/sct",
                                                                   "code": "373147003"}]}])))
case("fhir-hospital/dose-stopped-before-any-dose", "fhir-bundle", "from-fhir", 0,
     ("status stopped with no dose given",), {"MedicationAdministration": (MA + 1, MA, 0)})(
    _append(_administration("stopped", dosage={})))
case("fhir-hospital/dose-status-unknown-rejected", "fhir-bundle", "from-fhir", 1,
     ("bundle.json entry", "status unknown: whether the dose was given is not known"),
     {"MedicationAdministration": (MA + 1, MA, 1)})(_append(_administration("unknown")))
case("fhir-hospital/route-not-ct-kept-and-flagged", "fhir-bundle", "from-fhir", 0,
     ("EXROUTE 'via PEG tube'", "NOT CT"), {"MedicationAdministration": (MA + 1, MA + 1, 0)})(
    _append(_administration("completed", dosage={"route": {"text": "via PEG tube"}})))
