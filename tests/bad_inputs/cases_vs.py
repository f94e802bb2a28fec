"""Vital signs (issue 14): a unit that is not the test's, a temperature in F (converted, not rejected), a hospital's
blood-pressure panel (two VS records), a vital sign the mapping has no test for (skipped), a VS unit FHIR cannot
code. The example study has 450 vital signs (vital_signs.csv; VS), 1264 Observations (LB, VS, EG and the
chest X-ray readings).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .example_counts import OBSERVATIONS, VS
from .registry import case, edit_json

OBS = OBSERVATIONS
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
LOINC, UCUM = "http://loinc.org", "http://unitsofmeasure.org"


def _vital_signs_row(index: int, **values: str) -> Callable[[Path], None]:
    """Set cells of data row `index` (0-based; CSV line index + 2) of vital_signs.csv."""
    def change(d: Path) -> None:
        path = d / "vital_signs.csv"
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            names, rows = list(reader.fieldnames or []), list(reader)
        rows[index].update(values)
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=names, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        path.write_text(buf.getvalue(), encoding="utf-8")
    return change


def _append(make: Callable[[str], dict[str, Any]]) -> Callable[[Path], None]:
    """Append make(reference to the Bundle's first Patient) to bundle.json."""
    def change(folder: Path) -> None:
        def add(bundle: dict[str, Any]) -> None:
            patient = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
            bundle["entry"].append({"resource": make(patient.get("fullUrl") or f"Patient/{patient['resource']['id']}")})
        edit_json(folder / "bundle.json", add)
    return change


def _vital(rid: str, code: str, display: str, **value: Any) -> Callable[[str], dict[str, Any]]:
    return lambda ref: {
        "resourceType": "Observation", "id": rid, "status": "final",
        "category": [{"coding": [{"system": CATEGORY, "code": "vital-signs"}]}],
        "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
        "subject": {"reference": ref}, "effectiveDateTime": "2021-03-04T08:15:00+08:00", **value}


def _q(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


# row 19 of the example's vital_signs.csv (line 21) is subject 01's TEMP at Day 7 (36.5 C)
case("records/vital-signs-unit-not-of-the-test", "records", "to-sdtm", 1,
     ("vital_signs.csv row 21, unit='mmHg'", "not a unit of test TEMP (known units: C, F"),
     {"vital_signs": (VS, VS - 1, 1)})(_vital_signs_row(19, unit="mmHg"))
case("records/vital-signs-temperature-in-fahrenheit-converted", "records", "to-sdtm", 0,
     (f"vital_signs: read {VS} = converted {VS} + rejected 0",), {"vital_signs": (VS, VS, 0)})(
    _vital_signs_row(19, result="97.7", unit="°F"))
case("records/vital-signs-time-with-a-partial-date", "records", "to-sdtm", 1,
     ("vital_signs.csv row 21, date='2009-10'", "the time needs a complete date"),
     {"vital_signs": (VS, VS - 1, 1)})(_vital_signs_row(19, date="2009-10"))
case("fhir-bundle/blood-pressure-panel-two-vs-records", "fhir-bundle", "from-fhir", 0,
     (f"Observation: read {OBS + 1} = converted {OBS + 1} + rejected 0",), {"Observation": (OBS + 1, OBS + 1, 0)})(
    _append(_vital("bp1", "85354-9", "Blood pressure panel", component=[
        {"code": {"coding": [{"system": LOINC, "code": "8480-6"}]}, "valueQuantity": _q(128, "mm[Hg]")},
        {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]}, "valueQuantity": _q(81, "mm[Hg]")}])))
case("fhir-bundle/vital-sign-unit-not-of-the-test", "fhir-bundle", "from-fhir", 1,
     ("Observation.valueQuantity.code", "unit 'kg' is not a unit of vital sign TEMP"),
     {"Observation": (OBS + 1, OBS, 1)})(_append(_vital("t1", "8310-5", "Body temperature",
                                                         valueQuantity=_q(36.6, "kg"))))
case("fhir-bundle/vital-sign-without-a-test-skipped", "fhir-bundle", "from-fhir", 0,
     ("skipped 1 Observation: category vital-signs: a vital sign mappings/vital_signs.yaml has no test for",),
     {"Observation": (OBS + 1, OBS, 0)})(_append(_vital("hc1", "9843-4", "Head Occipital-frontal circumference",
                                                          valueQuantity=_q(35, "cm"))))


def _edit_vs_json(row: int, variable: str, value: Any) -> Callable[[Path], None]:
    def change(d: Path) -> None:
        def edit(doc: dict[str, Any]) -> None:
            doc["rows"][row - 1][[c["name"] for c in doc["columns"]].index(variable)] = value
        edit_json(d / "vs.json", edit)
    return change


case("sdtm-json/to-fhir-vsorresu-furlongs", "sdtm-json", "to-fhir", 1,
     ("vs.json row 3, VSORRESU='furlongs'", "not a CDISC UNIT term"), {"VS": (VS, VS - 1, 1)})(
    _edit_vs_json(3, "VSORRESU", "furlongs"))
