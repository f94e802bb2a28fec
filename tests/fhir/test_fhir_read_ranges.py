"""Reference ranges of lab Observations written by others (fhir/resources/lab/ranges.py): the normal range is
taken, whatever the order; another type only when it is the only range, with a note; a range in another unit than
the value's is converted with the test's unit factors, else left empty with a note (never relabelled)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from msc_interop.fhir.read import read_fhir

LOINC, UCUM = "http://loinc.org", "http://unitsofmeasure.org"
MEANING = "http://terminology.hl7.org/CodeSystem/referencerange-meaning"


def _q(value: float, unit: str) -> dict:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def _rr(low: float, high: float, unit: str = "mg/dL", typ: str | None = None) -> dict:
    rr = {"low": _q(low, unit), "high": _q(high, unit)}
    if typ:
        rr["type"] = {"coding": [{"system": MEANING, "code": typ}]}
    return rr


def _glucose(oid: str, day: int, ranges: list[dict]) -> dict:
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                      "code": "laboratory"}]}],
            "code": {"coding": [{"system": LOINC, "code": "2345-7"}]}, "subject": {"reference": "Patient/p1"},
            "effectiveDateTime": f"2021-07-{day:02d}T08:00:00", "valueQuantity": _q(99, "mg/dL"),
            "referenceRange": ranges}


def test_the_normal_range_in_the_value_unit(tmp_path: Path) -> None:
    obs = [
        _glucose("g1", 1, [_rr(70, 140, typ="treatment"), _rr(70, 99, typ="normal")]),  # normal second
        _glucose("g2", 2, [_rr(80, 130, typ="treatment"), _rr(65, 100)]),  # untyped beats another type
        _glucose("g3", 3, [_rr(80, 130, typ="treatment")]),  # the only range: used, with a note
        _glucose("g4", 4, [_rr(80, 130, typ="treatment"), _rr(90, 120, typ="therapeutic")]),  # none: empty, note
        _glucose("g5", 5, [_rr(3.9, 5.5, "mmol/L")]),  # mmol/L -> mg/dL: 3.9 x 18.016 = 70.3 -> 70; 5.5 -> 99
        _glucose("g6", 6, [_rr(3.9, 5.5, "furlong")]),  # no factor: empty, note
        _glucose("g7", 7, [_rr(70, 99)]),  # same unit: as it was
    ]
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": {"resourceType": "Patient", "id": "p1"}}] + [{"resource": o} for o in obs]}
    path = tmp_path / "lb.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    study, report = read_fhir([path])
    lb = study["LB"].sort_values("LBDTC")
    assert lb[["LBORNRLO", "LBORNRHI"]].values.tolist() == [
        ["70", "99"], ["65", "100"], ["80", "130"], ["", ""], ["70", "99"], ["", ""], ["70", "99"]]
    assert set(lb["LBORRESU"]) == {"mg/dL"}
    g5 = lb.iloc[4]
    assert (g5["LBSTNRLO"], g5["LBSTNRHI"], g5["LBSTRESU"]) == (3.9, 5.5, "mmol/L")  # not converted twice
    assert math.isnan(lb.iloc[5]["LBSTNRLO"]) and math.isnan(lb.iloc[3]["LBSTNRHI"])
    notes = {x.row: x.reason for x in report.sorted() if x.field == "Observation.referenceRange"}
    assert "converted without the referenceRange(s) of type treatment" in notes[1]  # entry 1: g1
    assert "converted without the referenceRange(s) of type treatment" in notes[2]
    assert "type treatment as LBORNRLO/LBORNRHI" in notes[3] and "the only range given" in notes[3]
    assert "converted without LBORNRLO/LBORNRHI" in notes[4] and "treatment, therapeutic" in notes[4]
    assert "'furlong'" in notes[6] and "converted without LBORNRLO/LBORNRHI" in notes[6]
    assert set(notes) == {1, 2, 3, 4, 6}
    counts = {c["form"]: c for c in report.form_counts()}["Observation"]
    assert (counts["converted"], counts["rejected"]) == (7, 0)
