"""A small Synthea-like EHR export for from-fhir tests: one transaction Bundle per patient, as a hospital sends.

Each Bundle: a Patient (names, MRN and SSN identifiers, address: none of them may reach SDTM; US Core race and
ethnicity), Encounters, at each encounter the lab results of a hospital CBC / CMP / lipid / coagulation /
urinalysis panel (LAB_PANEL: the LOINC codes, module level so that the assertions can be tightened once the lab
catalogue grows), vital signs, survey and social-history Observations, a DiagnosticReport, Claims and
ExplanationOfBenefits, an Immunization, a problem-list Condition (essential hypertension, active since 2015), a
CarePlan; for some patients MedicationAdministrations (one completed with an ingredient-only Medication, one not
done with a statusReason); at the end an encounter-diagnosis Condition (acute bronchitis) and a chest X-ray
Procedure (SNOMED CT 399208008) at the first encounter. Times carry a UTC offset
(-05:00 / -04:00, New York) as Synthea writes them. Deterministic (seeded).
"""

from __future__ import annotations

import random
import uuid
from pathlib import Path
from typing import Any

import orjson

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBS_CAT = "http://terminology.hl7.org/CodeSystem/observation-category"
OMB = "urn:oid:2.16.840.1.113883.6.238"
US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"

# (LOINC, display (LOINC long common name), UCUM unit or None for a coded result, typical value, low, high).
# The LOINCs of a hospital safety panel as Synthea and US hospitals send them.
LAB_PANEL: list[tuple[str, str, str | None, float | str, float | None, float | None]] = [
    # CBC with indices
    ("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "10*3/uL", 7.1, 4.5, 11.0),
    ("789-8", "Erythrocytes [#/volume] in Blood by Automated count", "10*6/uL", 4.6, 4.2, 5.9),
    ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", 14.1, 13.5, 17.5),
    ("4544-3", "Hematocrit [Volume Fraction] of Blood by Automated count", "%", 42.0, 41.0, 53.0),
    ("787-2", "MCV [Entitic volume] by Automated count", "fL", 90.0, 80.0, 100.0),
    ("785-6", "MCH [Entitic mass] by Automated count", "pg", 30.0, 26.0, 34.0),
    ("786-4", "MCHC [Mass/volume] by Automated count", "g/dL", 33.0, 31.0, 37.0),
    ("788-0", "Erythrocyte distribution width [Ratio] by Automated count", "%", 13.0, 11.5, 14.5),
    ("777-3", "Platelets [#/volume] in Blood by Automated count", "10*3/uL", 250.0, 150.0, 400.0),
    # comprehensive metabolic panel
    ("2345-7", "Glucose [Mass/volume] in Serum or Plasma", "mg/dL", 92.0, 70.0, 99.0),
    ("3094-0", "Urea nitrogen [Mass/volume] in Serum or Plasma", "mg/dL", 14.0, 7.0, 20.0),
    ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 0.9, 0.6, 1.3),
    ("17861-6", "Calcium [Mass/volume] in Serum or Plasma", "mg/dL", 9.4, 8.5, 10.2),
    ("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", 140.0, 136.0, 145.0),
    ("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", 4.2, 3.5, 5.1),
    ("2075-0", "Chloride [Moles/volume] in Serum or Plasma", "mmol/L", 102.0, 98.0, 107.0),
    ("2028-9", "Carbon dioxide, total [Moles/volume] in Serum or Plasma", "mmol/L", 25.0, 22.0, 29.0),
    ("2885-2", "Protein [Mass/volume] in Serum or Plasma", "g/dL", 7.0, 6.0, 8.3),
    ("1751-7", "Albumin [Mass/volume] in Serum or Plasma", "g/dL", 4.2, 3.5, 5.0),
    ("1975-2", "Bilirubin.total [Mass/volume] in Serum or Plasma", "mg/dL", 0.7, 0.1, 1.2),
    ("6768-6", "Alkaline phosphatase [Enzymatic activity/volume] in Serum or Plasma", "U/L", 70.0, 44.0, 147.0),
    ("1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "U/L", 22.0, 7.0, 56.0),
    ("1920-8", "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "U/L", 24.0, 10.0,
     40.0),
    ("33914-3", "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum or Plasma by "
                "Creatinine-based formula (MDRD)", "mL/min/{1.73_m2}", 88.0, 60.0, None),
    # lipids, HbA1c
    ("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", 180.0, None, 200.0),
    ("2571-8", "Triglyceride [Mass/volume] in Serum or Plasma", "mg/dL", 120.0, None, 150.0),
    ("2085-9", "Cholesterol in HDL [Mass/volume] in Serum or Plasma", "mg/dL", 55.0, 40.0, None),
    ("18262-6", "Cholesterol in LDL [Mass/volume] in Serum or Plasma by Direct assay", "mg/dL", 100.0, None,
     130.0),
    ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 5.4, 4.0, 5.6),
    # coagulation
    ("5902-2", "Prothrombin time (PT)", "s", 12.0, 11.0, 13.5),
    ("6301-6", "INR in Platelet poor plasma by Coagulation assay", "{INR}", 1.0, 0.8, 1.1),
    ("14979-9", "aPTT in Platelet poor plasma by Coagulation assay", "s", 30.0, 25.0, 35.0),
    ("3255-7", "Fibrinogen [Mass/volume] in Platelet poor plasma by Coagulation assay", "mg/dL", 300.0, 200.0,
     400.0),
    # urinalysis (dipstick)
    ("5811-5", "Specific gravity of Urine by Test strip", "{SG}", 1.015, 1.005, 1.030),
    ("5803-2", "pH of Urine by Test strip", "[pH]", 6.0, 5.0, 8.0),
    ("5804-0", "Protein [Mass/volume] in Urine by Test strip", "mg/dL", 10.0, None, 30.0),
    ("5792-7", "Glucose [Mass/volume] in Urine by Test strip", "mg/dL", 0.0, None, 15.0),
    ("5802-4", "Nitrite [Presence] in Urine by Test strip", None, "Negative", None, None),
    ("5799-2", "Leukocyte esterase [Presence] in Urine by Test strip", None, "Negative", None, None),
]
LAB_LOINCS = [row[0] for row in LAB_PANEL]

VITALS = [("8302-2", "Body height", "cm", 172.0), ("29463-7", "Body weight", "kg", 74.0),
          ("39156-5", "Body mass index (BMI) [Ratio]", "kg/m2", 25.0), ("8867-4", "Heart rate", "/min", 72.0),
          ("9279-1", "Respiratory rate", "/min", 14.0), ("8310-5", "Body temperature", "Cel", 36.8)]
RACES = [("2106-3", "White"), ("2054-5", "Black or African American"), ("2028-9", "Asian")]
SKIPPED_TYPES = ("Claim", "ExplanationOfBenefit", "Immunization", "CarePlan", "DiagnosticReport")
CONDITION_CAT = "http://terminology.hl7.org/CodeSystem/condition-category"
SNOMED = "http://snomed.info/sct"


def _uid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _cat(code: str) -> list[dict[str, Any]]:
    return [{"coding": [{"system": OBS_CAT, "code": code}]}]


def _race(code: str, display: str, hispanic: bool) -> list[dict[str, Any]]:
    eth = ("2135-2", "Hispanic or Latino") if hispanic else ("2186-5", "Not Hispanic or Latino")
    return [
        {"url": US_CORE + "us-core-race", "extension": [
            {"url": "ombCategory", "valueCoding": {"system": OMB, "code": code, "display": display}},
            {"url": "text", "valueString": display}]},
        {"url": US_CORE + "us-core-ethnicity", "extension": [
            {"url": "ombCategory", "valueCoding": {"system": OMB, "code": eth[0], "display": eth[1]}},
            {"url": "text", "valueString": eth[1]}]},
    ]


def patient_bundle(i: int, rng: random.Random, encounters: int = 3, with_meds: bool = False) -> dict[str, Any]:
    """One patient's transaction Bundle (see the module's docstring)."""
    entries: list[dict[str, Any]] = []

    def add(res: dict[str, Any]) -> str:
        url = f"urn:uuid:{res['id']}"
        entries.append({"fullUrl": url, "resource": res,
                        "request": {"method": "POST", "url": res["resourceType"]}})
        return url

    pid = _uid(rng)
    race = RACES[i % len(RACES)]
    patient = add({
        "resourceType": "Patient", "id": pid, "extension": _race(*race, hispanic=i % 4 == 3),
        "identifier": [{"system": "https://github.com/synthetichealth/synthea", "value": pid},
                       {"type": {"text": "Medical Record Number"}, "system": "http://hospital.smarthealthit.org",
                        "value": f"MRN-{1000 + i}"},
                       {"type": {"text": "Social Security Number"}, "system": "http://hl7.org/fhir/sid/us-ssn",
                        "value": f"999-{10 + i}-{3456 + i}"}],
        "name": [{"use": "official", "family": f"Rippin{620 + i}", "given": [f"Given{i}"]}],
        "gender": "female" if i % 2 else "male", "birthDate": f"19{60 + i}-0{1 + i % 9}-1{i % 9}",
        "address": [{"line": [f"{100 + i} Main St"], "city": "Boston", "state": "MA"}]})
    for e in range(encounters):
        month = 1 + (e * 4 + i) % 12
        offset = "-04:00" if 4 <= month <= 10 else "-05:00"  # New York daylight / standard time
        when = f"2021-{month:02d}-{10 + e:02d}T08:{10 + i:02d}:00{offset}"
        enc = add({"resourceType": "Encounter", "id": _uid(rng), "status": "finished",
                   "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                   "subject": {"reference": patient},
                   "period": {"start": when, "end": f"2021-{month:02d}-{10 + e:02d}T09:00:00{offset}"}})
        results = []
        for loinc, display, unit, value, low, high in LAB_PANEL:
            obs: dict[str, Any] = {
                "resourceType": "Observation", "id": _uid(rng), "status": "final", "category": _cat("laboratory"),
                "code": {"coding": [{"system": LOINC, "code": loinc, "display": display}], "text": display},
                "subject": {"reference": patient}, "encounter": {"reference": enc},
                "effectiveDateTime": when, "issued": when.replace("T08", "T10")}
            if unit is None:
                obs["valueCodeableConcept"] = {"text": str(value)}
            else:
                v = round(float(value) * rng.uniform(0.9, 1.1), 3 if float(value) < 2 else 1)
                obs["valueQuantity"] = {"value": v, "unit": unit, "system": UCUM, "code": unit}
                rr: dict[str, Any] = {}
                if low is not None:
                    rr["low"] = {"value": low, "unit": unit, "system": UCUM, "code": unit}
                if high is not None:
                    rr["high"] = {"value": high, "unit": unit, "system": UCUM, "code": unit}
                if rr:
                    obs["referenceRange"] = [rr]
            results.append({"reference": add(obs)})
        for loinc, display, unit, value in VITALS:
            add({"resourceType": "Observation", "id": _uid(rng), "status": "final", "category": _cat("vital-signs"),
                 "code": {"coding": [{"system": LOINC, "code": loinc, "display": display}], "text": display},
                 "subject": {"reference": patient}, "encounter": {"reference": enc}, "effectiveDateTime": when,
                 "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit}})
        add({"resourceType": "Observation", "id": _uid(rng), "status": "final", "category": _cat("survey"),
             "code": {"coding": [{"system": LOINC, "code": "44261-6", "display": "Patient Health Questionnaire 9 "
                                  "item (PHQ-9) total score [Reported]"}]},
             "subject": {"reference": patient}, "encounter": {"reference": enc}, "effectiveDateTime": when,
             "valueQuantity": {"value": 3, "unit": "{score}", "system": UCUM, "code": "{score}"}})
        add({"resourceType": "Observation", "id": _uid(rng), "status": "final", "category": _cat("social-history"),
             "code": {"coding": [{"system": LOINC, "code": "72166-2", "display": "Tobacco smoking status"}]},
             "subject": {"reference": patient}, "encounter": {"reference": enc}, "effectiveDateTime": when,
             "valueCodeableConcept": {"text": "Never smoked tobacco"}})
        add({"resourceType": "DiagnosticReport", "id": _uid(rng), "status": "final",
             "code": {"coding": [{"system": LOINC, "code": "58410-2", "display": "CBC panel - Blood by Automated "
                                  "count"}]}, "subject": {"reference": patient}, "encounter": {"reference": enc},
             "effectiveDateTime": when, "result": results[:9]})
        claim = add({"resourceType": "Claim", "id": _uid(rng), "status": "active", "use": "claim",
                     "patient": {"reference": patient}, "created": when})
        add({"resourceType": "ExplanationOfBenefit", "id": _uid(rng), "status": "active", "use": "claim",
             "patient": {"reference": patient}, "claim": {"reference": claim}, "created": when})
    add({"resourceType": "Immunization", "id": _uid(rng), "status": "completed", "vaccineCode": {"text": "Influenza"},
         "patient": {"reference": patient}, "occurrenceDateTime": "2021-10-01T09:00:00-04:00"})
    add({"resourceType": "Condition", "id": _uid(rng), "code": {"text": "Essential hypertension"},
         "subject": {"reference": patient},
         "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                        "code": "active"}]},
         "category": [{"coding": [{"system": CONDITION_CAT, "code": "problem-list-item"}]}],
         "onsetDateTime": "2015-03"})
    add({"resourceType": "CarePlan", "id": _uid(rng), "status": "active", "intent": "plan",
         "subject": {"reference": patient}})
    if with_meds:
        add(medication_given(_uid(rng), patient))
        add(medication_not_given(_uid(rng), patient))
    add({"resourceType": "Condition", "id": _uid(rng), "code": {"text": "Acute bronchitis"},
         "category": [{"coding": [{"system": CONDITION_CAT, "code": "encounter-diagnosis"}]}],
         "subject": {"reference": patient}, "onsetDateTime": "2021-01-11"})
    add({"resourceType": "Procedure", "id": _uid(rng), "status": "completed",
         "code": {"coding": [{"system": SNOMED, "code": "399208008", "display": "Plain chest X-ray"}]},
         "subject": {"reference": patient}, "performedDateTime": "2021-01-11T10:30:00-05:00"})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def medication_given(rid: str, patient: str) -> dict[str, Any]:
    """A completed IV administration of a Medication that has ingredients and no code."""
    return {"resourceType": "MedicationAdministration", "id": rid, "status": "completed",
            "contained": [{"resourceType": "Medication", "id": "m1", "ingredient": [
                {"itemCodeableConcept": {"text": "piperacillin"}}, {"itemCodeableConcept": {"text": "tazobactam"}}]}],
            "medicationReference": {"reference": "#m1"}, "subject": {"reference": patient},
            "effectivePeriod": {"start": "2021-05-10T10:00:00-04:00", "end": "2021-05-10T10:30:00-04:00"},
            "dosage": {"route": {"coding": [{"system": "http://snomed.info/sct", "code": "47625008",
                                             "display": "Intravenous route"}]},
                       "dose": {"value": 4.5, "unit": "g", "system": UCUM, "code": "g"}}}


def medication_not_given(rid: str, patient: str) -> dict[str, Any]:
    """An administration that did not happen (status not-done, with the reason)."""
    return {"resourceType": "MedicationAdministration", "id": rid, "status": "not-done",
            "statusReason": [{"text": "patient refused"}],
            "medicationCodeableConcept": {"text": "vancomycin 1 g"}, "subject": {"reference": patient},
            "effectiveDateTime": "2021-05-11T10:00:00-04:00"}


def write_ehr(folder: Path, patients: int = 6, seed: int = 13) -> list[Path]:
    """One Bundle file per patient in `folder` (patient-<n>.json); the first two have MedicationAdministrations."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(patients):
        path = folder / f"patient-{i}.json"
        path.write_bytes(orjson.dumps(patient_bundle(i, rng, with_meds=i < 2)))
        paths.append(path)
    return paths


def patient_ids(paths: list[Path]) -> list[str]:
    """The Patient id of each Bundle (for an enrolment table)."""
    out = []
    for p in paths:
        bundle = orjson.loads(p.read_bytes())
        out += [e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
    return out
