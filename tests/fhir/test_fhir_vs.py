"""Hospital vital signs -> VS: a blood-pressure panel (two records), a temperature in [degF] (converted by hand:
(98.6 - 32) x 5/9 = 37.0 C), a heart rate in UCUM /min (beats/min for HR), a lab Observation beside them (LB)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from msc_interop.fhir import read_fhir

LOINC, UCUM = "http://loinc.org", "http://unitsofmeasure.org"
CAT = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}]


def _obs(rid: str, code: str, **extra) -> dict:
    return {"resourceType": "Observation", "id": rid, "status": "final", "category": CAT,
            "code": {"coding": [{"system": LOINC, "code": code}]}, "subject": {"reference": "Patient/p1"},
            "effectiveDateTime": "2021-03-04T08:15:00", **extra}


def _q(value: float, code: str) -> dict:
    return {"value": value, "unit": code, "system": UCUM, "code": code}


@pytest.mark.parametrize("version", ["R4", "R5"])
def test_hospital_vital_signs_land_in_vs(tmp_path: Path, version: str) -> None:
    resources = [
        {"resourceType": "Patient", "id": "p1", "gender": "female"},
        _obs("bp", "85354-9", component=[
            {"code": {"coding": [{"system": LOINC, "code": "8480-6"}]}, "valueQuantity": _q(128, "mm[Hg]")},
            {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]}, "valueQuantity": _q(81, "mm[Hg]")}]),
        _obs("t", "8310-5", valueQuantity=_q(98.6, "[degF]")),
        _obs("hr", "8867-4", valueQuantity=_q(72, "/min")),
        {**_obs("hb", "718-7", valueQuantity=_q(13.2, "g/dL")),
         "category": [{"coding": [{"system": CAT[0]["coding"][0]["system"], "code": "laboratory"}]}]},
    ]
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection",
                                "entry": [{"resource": r} for r in resources]}), encoding="utf-8")
    study, report = read_fhir([path], version=version)
    assert report.n_rejected_records == 0
    vs = study["VS"].set_index("VSTESTCD")
    assert sorted(vs.index) == ["DIABP", "HR", "SYSBP", "TEMP"]
    assert vs.loc["SYSBP", ["VSORRES", "VSORRESU", "VSSTRESN"]].tolist() == ["128", "mmHg", 128.0]
    assert vs.loc["DIABP", ["VSORRES", "VSSTRESU"]].tolist() == ["81", "mmHg"]
    assert vs.loc["TEMP", ["VSORRES", "VSORRESU", "VSSTRESN", "VSSTRESU"]].tolist() == ["98.6", "F", 37.0, "C"]
    assert vs.loc["HR", ["VSORRESU", "VSTEST"]].tolist() == ["beats/min", "Heart Rate"]
    assert set(vs["VSDTC"]) == {"2021-03-04T08:15"} and list(study["LB"]["LBTESTCD"]) == ["HGB"]
    counts = {c["form"]: c for c in report.form_counts()}
    assert (counts["Observation"]["read"], counts["Observation"]["converted"]) == (4, 4)  # the panel is one


def test_vital_signs_not_done_as_lb(tmp_path: Path) -> None:
    """SDTMIG 4.5.1.2, as LB: a dataAbsentReason (of the Observation or of a panel's component) gives VSSTAT NOT DONE
    and VSREASND; a panel with both components absent gives two such records; a vital sign with no value and no
    dataAbsentReason (status registered) is rejected; a component with neither is named in the report."""
    dar = {"dataAbsentReason": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                                            "code": "not-performed", "display": "Not Performed"}]}}
    sys_, dia = ({"coding": [{"system": LOINC, "code": c}]} for c in ("8480-6", "8462-4"))
    resources = [
        {"resourceType": "Patient", "id": "p1"},
        _obs("hr", "8867-4", dataAbsentReason={"text": "Patient refused"}),
        _obs("bp1", "85354-9", component=[{"code": sys_, "valueQuantity": _q(130, "mm[Hg]")}, {"code": dia, **dar}]),
        _obs("bp2", "85354-9", effectiveDateTime="2021-03-05", component=[{"code": sys_, **dar}, {"code": dia, **dar}]),
        _obs("bp3", "85354-9", effectiveDateTime="2021-03-06",
             component=[{"code": sys_, "valueQuantity": _q(120, "mm[Hg]")}, {"code": dia}]),
        {**_obs("reg", "8867-4"), "status": "registered"},
    ]
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection",
                                "entry": [{"resource": r} for r in resources]}), encoding="utf-8")
    study, report = read_fhir([path])
    vs = study["VS"].sort_values(["VSDTC", "VSTESTCD"])
    got = vs[["VSDTC", "VSTESTCD", "VSORRES", "VSSTAT", "VSREASND"]].values.tolist()
    assert got == [
        ["2021-03-04T08:15", "DIABP", "", "NOT DONE", "Not Performed"],
        ["2021-03-04T08:15", "HR", "", "NOT DONE", "Patient refused"],
        ["2021-03-04T08:15", "SYSBP", "130", "", ""],
        ["2021-03-05", "DIABP", "", "NOT DONE", "Not Performed"],
        ["2021-03-05", "SYSBP", "", "NOT DONE", "Not Performed"],
        ["2021-03-06", "SYSBP", "120", "", ""],
    ]
    lines = [(x.field, x.reason) for x in report.sorted()]
    assert ("Observation.value[x]", "Bundle entry 5: no value and no dataAbsentReason") in lines
    assert any(f == "Observation.component.value[x]" and "converted without DIABP" in why for f, why in lines)
    counts = {c["form"]: c for c in report.form_counts()}["Observation"]
    assert (counts["converted"], counts["rejected"], counts["skipped"]) == (4, 1, 0)


def test_a_panel_component_is_matched_by_system_and_code(tmp_path: Path) -> None:
    """A component coded 8480-6 under a local code system is not LOINC's systolic pressure: the panel is converted
    without it (listed, REJ-FHIR-005, with its index and coding), and a panel none of whose components is coded
    under LOINC is skipped, not read as SYSBP/DIABP. LOINC under a known non-canonical URI (its OID) is LOINC, and
    the read says so in its notes."""
    local = "http://hospital.example.org/CodeSystem/vitals"
    loinc_oid = "urn:oid:2.16.840.1.113883.6.1"
    sys_local, dia_local = ({"coding": [{"system": local, "code": c}]} for c in ("8480-6", "8462-4"))
    sys_oid = {"coding": [{"system": loinc_oid, "code": "8480-6"}]}
    dia = {"coding": [{"system": LOINC, "code": "8462-4"}]}
    resources = [
        {"resourceType": "Patient", "id": "p1"},
        _obs("bp1", "85354-9", component=[{"code": sys_local, "valueQuantity": _q(140, "mm[Hg]")},
                                          {"code": dia, "valueQuantity": _q(90, "mm[Hg]")}]),
        _obs("bp2", "85354-9", effectiveDateTime="2021-03-05",
             component=[{"code": sys_local, "valueQuantity": _q(141, "mm[Hg]")},
                        {"code": dia_local, "valueQuantity": _q(91, "mm[Hg]")}]),
        _obs("bp3", "85354-9", effectiveDateTime="2021-03-06",
             component=[{"code": sys_oid, "valueQuantity": _q(142, "mm[Hg]")},
                        {"code": dia, "valueQuantity": _q(92, "mm[Hg]")}]),
    ]
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection",
                                "entry": [{"resource": r} for r in resources]}), encoding="utf-8")
    study, report = read_fhir([path])
    got = study["VS"].sort_values(["VSDTC", "VSTESTCD"])[["VSDTC", "VSTESTCD", "VSORRES"]].values.tolist()
    assert got == [["2021-03-04T08:15", "DIABP", "90"],
                   ["2021-03-06", "DIABP", "92"], ["2021-03-06", "SYSBP", "142"]]
    [listed] = report.rejects  # bp1 (entry 1) converted without its local component 0
    assert (listed.row, listed.field, listed.value, listed.code) == (
        1, "Observation.component.code", f"{local}|8480-6", "REJ-FHIR-005")
    assert listed.reason.startswith("Bundle entry 1: converted without component[0]: ")
    assert "http://loinc.org" in listed.reason
    counts = {c["form"]: c for c in report.form_counts()}["Observation"]
    assert (counts["read"], counts["converted"], counts["rejected"], counts["skipped"]) == (3, 2, 0, 1)
    assert any("85354-9" in line and "http://loinc.org" in line for line in report.skipped_lines())
    assert any(loinc_oid in note and "LOINC" in note for note in report.notes)
