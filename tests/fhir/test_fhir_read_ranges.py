"""Reference ranges of lab Observations written by others (fhir/resources/lab/ranges.py): the normal range is
taken, whatever the order; another type only when it is the only range, with a note; a range in another unit than
the value's is converted with the test's unit factors, else left empty with a note (never relabelled)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

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
    study, report = _read(tmp_path, obs)
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


def _read(tmp_path: Path, obs: list[dict]) -> tuple[Any, Any]:
    """read_fhir of one Bundle holding Patient p1 and the Observations `obs`."""
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": {"resourceType": "Patient", "id": "p1"}}] + [{"resource": o} for o in obs]}
    path = tmp_path / "lb.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    return read_fhir([path])


def _with(obs: dict, **changes: object) -> dict:
    out = {**obs, **changes}
    return {k: v for k, v in out.items() if v is not None}


_TABLE = " 12-14 y Male: 4.4 - 5.2  x  10^12/L ; 12-14 y Female: 4.2 - 4.8  x  10^12/L "


def test_a_range_not_converted_is_listed(tmp_path: Path) -> None:
    """A referenceRange LB cannot hold (text only; several normal ranges for different populations; low and high
    in different units; the range of a result that is no number) leaves LBORNRLO/HI empty and is listed, the
    record counted among those converted without a field; one range for one population is converted."""
    male = {"appliesTo": [{"text": "Male"}]}
    female = {"appliesTo": [{"text": "Female"}]}
    obs = [
        _glucose("t1", 1, [{"text": _TABLE}]),  # text only (HL7's Observation-f004): nothing to put in LBORNRLO/HI
        _glucose("t2", 2, [{**_rr(70, 99), **male}, {**_rr(60, 90), **female}]),  # which is the subject's? not said
        _glucose("t3", 3, [{**_rr(70, 99, typ="normal"), "age": {"low": {"value": 18}}},
                           {**_rr(65, 95, typ="normal"), "age": {"low": {"value": 65}}}]),
        _glucose("t4", 4, [{"low": _q(3.9, "mmol/L"), "high": _q(99, "mg/dL")}]),  # two units: not one range
        _with(_glucose("t5", 5, [_rr(70, 99)]), valueQuantity=None, valueString="see comment"),  # no number
        _glucose("t6", 6, [{**_rr(70, 99), **male}]),  # one range, for one population: the range given
        _glucose("t7", 7, [{**_rr(70, 99), **male}, {**_rr(70, 99), **female}]),  # the same limits for both
        _glucose("t8", 8, [_rr(70, 99, typ="normal"), {"text": "fasting: 70-99"}]),  # the other range: listed
        _glucose("t9", 9, [_rr(80, 130, typ="treatment"), _rr(3.9, 5.5, "furlong", typ="normal")]),  # both said
    ]
    study, report = _read(tmp_path, obs)
    lb = study["LB"].sort_values("LBDTC")
    assert lb[["LBORNRLO", "LBORNRHI"]].fillna("").values.tolist() == [
        ["", ""], ["", ""], ["", ""], ["", ""], ["", ""], ["70", "99"], ["70", "99"], ["70", "99"], ["", ""]]
    assert lb["LBSTNRLO"].isna().tolist() == [True] * 5 + [False] * 3 + [True]
    lines = [(x.row, x.reason, x.value, x.code) for x in report.sorted() if x.field == "Observation.referenceRange"]
    by_row: dict[int, list[str]] = {}
    for row, reason, _value, code in lines:
        assert code == "REJ-FHIR-006"
        by_row.setdefault(row, []).append(reason)
    assert sorted(by_row) == [1, 2, 3, 4, 5, 8, 9]
    assert all(len(v) == 1 for v in by_row.values()), by_row
    assert "converted without LBORNRLO/LBORNRHI" in by_row[1][0] and "text only" in by_row[1][0]
    assert "LBSTNRC" in by_row[1][0]  # why the text is not put there either
    assert "12-14 y Male" in next(v for r, _, v, _ in lines if r == 1)  # the text itself is in the report
    assert "converted without LBORNRLO/LBORNRHI" in by_row[2][0] and "Male" in by_row[2][0] \
        and "Female" in by_row[2][0]
    assert "converted without LBORNRLO/LBORNRHI" in by_row[3][0] and "age" in by_row[3][0]
    assert "converted without LBORNRLO/LBORNRHI" in by_row[4][0] and "'mmol/L'" in by_row[4][0] \
        and "'mg/dL'" in by_row[4][0]
    assert "converted without LBORNRLO/LBORNRHI" in by_row[5][0] and "no number" in by_row[5][0]
    assert "converted without the referenceRange(s) of type untyped" in by_row[8][0]
    assert "of type treatment" in by_row[9][0] and "'furlong'" in by_row[9][0]  # one line, both reasons
    counts = {c["form"]: c for c in report.form_counts()}["Observation"]
    assert (counts["read"], counts["converted"], counts["rejected"], counts["skipped"]) == (9, 9, 0, 0)
    assert counts["converted_without_a_field"] == 7


def _vital(oid: str, extra: dict) -> dict:
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                      "code": "vital-signs"}]}],
            "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2021-07-01T08:00:00", **extra}


def test_a_vital_sign_range_is_listed(tmp_path: Path) -> None:
    """VS has no normal-range variables (SDTMIG 3.4 VS): a vital sign's referenceRange, its own or a panel
    component's, is listed as converted without, the record converted."""
    pulse = _vital("v1", {"code": {"coding": [{"system": LOINC, "code": "8867-4"}]},
                          "valueQuantity": {"value": 72, "unit": "/min", "system": UCUM, "code": "/min"},
                          "referenceRange": [{"low": {"value": 60}, "high": {"value": 100}}]})
    bp = _vital("v2", {"code": {"coding": [{"system": LOINC, "code": "85354-9"}]}, "component": [
        {"code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
         "valueQuantity": {"value": 120, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"},
         "referenceRange": [{"high": {"value": 140, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}}]},
        {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
         "valueQuantity": {"value": 80, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}}]})
    plain = _vital("v3", {"code": {"coding": [{"system": LOINC, "code": "8867-4"}]},
                          "valueQuantity": {"value": 70, "unit": "/min", "system": UCUM, "code": "/min"}})
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": {"resourceType": "Patient", "id": "p1"}}] + [{"resource": o}
                                                                                  for o in (pulse, bp, plain)]}
    path = tmp_path / "vs.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    study, report = read_fhir([path])
    assert sorted(study["VS"]["VSTESTCD"]) == ["DIABP", "HR", "HR", "SYSBP"]
    lines = {(x.row, x.field): x for x in report.sorted() if "referenceRange" in x.field}
    assert set(lines) == {(1, "Observation.referenceRange"), (2, "Observation.component.referenceRange")}
    for x in lines.values():
        assert "converted without" in x.reason and "VS" in x.reason and x.code == "REJ-FHIR-006"
    assert "SYSBP" in lines[(2, "Observation.component.referenceRange")].reason
    counts = {c["form"]: c for c in report.form_counts()}["Observation"]
    assert (counts["read"], counts["converted"], counts["rejected"]) == (3, 3, 0)
    assert counts["converted_without_a_field"] == 2


INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"


def test_lbnrind_from_the_range_where_no_interpretation_is_given(tmp_path: Path) -> None:
    """A hospital's glucose with a range and no interpretation gets LBNRIND as to-sdtm derives it (99 mg/dL
    against 70-99: NORMAL, the limit included; against 100-140: LOW; against 60-90: HIGH); no range or a result
    that is no number: none. An interpretation given is kept, even where the range contradicts it (g5: H for 99
    against 70-99), and a note says so; the derived ones are counted in a note."""
    def flagged(obs: dict, code: str) -> dict:
        return {**obs, "interpretation": [{"coding": [{"system": INTERPRETATION, "code": code}]}]}

    no_number = _with(_glucose("g6", 6, [_rr(70, 99)]), valueQuantity=None, valueString="see comment")
    obs = [_glucose("g1", 1, [_rr(70, 99)]), _glucose("g2", 2, [_rr(100, 140)]), _glucose("g3", 3, [_rr(60, 90)]),
           _glucose("g4", 4, []), flagged(_glucose("g5", 5, [_rr(70, 99)]), "H"), no_number,
           flagged(_glucose("g7", 7, [_rr(100, 140)]), "L")]
    study, report = _read(tmp_path, obs)
    lb = study["LB"].sort_values("LBDTC")
    assert lb["LBNRIND"].fillna("").tolist() == ["NORMAL", "LOW", "HIGH", "", "HIGH", "", "LOW"]
    derived = [n for n in report.notes if "LBNRIND derived from the result and the reference range" in n]
    assert derived and derived[0].startswith("3 lab record(s)")
    against = [n for n in report.notes if "interpretation contradicts" in n]
    assert against and against[0].startswith("1 lab record(s)")
    assert "HIGH for 99 mg/dL against 70 to 99, NORMAL by the range" in against[0]
