"""ECG Observations written by others land in EG (fhir/resources/ecg.py): a 12-lead ECG report whose components
are the intervals (one EG record per component, seconds -> ms), an EKG impression; a vital-sign heart rate does not."""

from __future__ import annotations

import json
from pathlib import Path

from msc_interop.fhir.read import read_fhir

LOINC = "http://loinc.org"


def _q(code: str, value: float, unit: str) -> dict:
    return {"code": {"coding": [{"system": LOINC, "code": code}]},
            "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}}


def test_hospital_ecg_report_with_components_lands_in_eg(tmp_path: Path) -> None:
    panel = {"resourceType": "Observation", "id": "ecg1", "status": "final",
             "code": {"coding": [{"system": LOINC, "code": "11524-6", "display": "EKG study"}]},
             "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2021-11-10T16:48:57+08:00",
             "component": [_q("76282-3", 72, "/min"), _q("44976-9", 0.16, "s"), _q("44973-6", 0.092, "s"),
                           _q("44975-1", 0.4, "s"), _q("76634-5", 431, "ms")]}
    impression = {"resourceType": "Observation", "id": "ecg2", "status": "final",
                  "code": {"coding": [{"system": LOINC, "code": "8601-7", "display": "EKG impression"}]},
                  "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2021-11-10T16:48:57+08:00",
                  "valueCodeableConcept": {"text": "Normal Sinus Rhythm (NSR)"}}
    vital = {"resourceType": "Observation", "id": "hr1", "status": "final",
             "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                       "code": "vital-signs"}]}],
             "code": {"coding": [{"system": LOINC, "code": "8867-4"}]}, "subject": {"reference": "Patient/p1"},
             "effectiveDateTime": "2021-11-10", "valueQuantity": {"value": 80, "unit": "/min"}}
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Patient", "id": "p1"}}, {"resource": panel}, {"resource": impression},
        {"resource": vital}]}
    path = tmp_path / "ecg.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    study, report = read_fhir([path], timezone="Asia/Shanghai")
    eg = study["EG"].set_index("EGTESTCD")
    # hand-checked: 0.16 s = 160 ms, 0.092 s = 92 ms, 0.4 s = 400 ms; QTcF already in ms; HR /min -> beats/min
    assert eg.loc["PRAG", ["EGORRES", "EGORRESU", "EGSTRESN", "EGSTRESU"]].tolist() == ["160", "ms", 160.0, "ms"]
    assert eg.loc["QRSAG", "EGSTRESN"] == 92.0 and eg.loc["QTAG", "EGSTRESN"] == 400.0
    assert eg.loc["QTCFAG", "EGORRES"] == "431" and eg.loc["QTCFAG", "EGTEST"] == "QTcF Interval, Aggregate"
    assert eg.loc["EGHRMN", ["EGORRES", "EGORRESU"]].tolist() == ["72", "beats/min"]
    assert eg.loc["INTP", "EGORRES"] == "Normal Sinus Rhythm (NSR)"
    assert set(eg["EGDTC"]) == {"2021-11-10T16:48:57"}
    assert len(eg) == 6
    assert "LB" not in study.datasets or study["LB"].empty  # neither the ECG values nor the vital sign
    counts = {c["form"]: c for c in report.form_counts()}
    assert counts["Observation"]["read"] == 3
    assert counts["Observation"]["skipped"] == 0  # the vital sign (8867-4): not EG, not a lab result, but VS
    assert study["VS"][["VSTESTCD", "VSORRES", "VSORRESU"]].values.tolist() == [["HR", "80", "beats/min"]]


def test_ecg_8xxx_loincs_are_read_as_the_aggregate_tests(tmp_path: Path) -> None:
    """US Core's clinical-test LOINCs 8625-6 / 8633-0 / 8634-8 / 8636-3 (category procedure, alone or as components
    of a 12-lead report) land in EG as PRAG / QRSAG / QTAG / QTCUNSAG (QTc with no method: not QTcF); the writer
    keeps writing ecg.yaml's own LOINCs."""
    from msc_interop.fhir.resources.ecg import _loinc_of

    proc = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                         "code": "procedure"}]}]

    def obs(oid: str, code: str, value: float, unit: str) -> dict:
        return {"resourceType": "Observation", "id": oid, "status": "final", "category": proc,
                "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2021-07-02T10:00:00",
                **_q(code, value, unit)}

    report = {"resourceType": "Observation", "id": "r1", "status": "final", "category": proc,
              "code": {"coding": [{"system": LOINC, "code": "11524-6"}]}, "subject": {"reference": "Patient/p1"},
              "effectiveDateTime": "2021-07-01T10:00:00",
              "component": [_q("8625-6", 0.16, "s"), _q("8633-0", 90, "ms"), _q("8634-8", 400, "ms")]}
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Patient", "id": "p1"}}, {"resource": report},
        {"resource": obs("e1", "8625-6", 170, "ms")}, {"resource": obs("e2", "8633-0", 95, "ms")},
        {"resource": obs("e3", "8634-8", 410, "ms")}, {"resource": obs("e4", "8636-3", 430, "ms")}]}
    path = tmp_path / "ecg.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    study, report_ = read_fhir([path])
    eg = study["EG"]
    got = sorted(zip(eg["EGDTC"].str[:10], eg["EGTESTCD"], eg["EGORRES"], strict=True))
    assert got == [("2021-07-01", "PRAG", "160"), ("2021-07-01", "QRSAG", "90"), ("2021-07-01", "QTAG", "400"),
                   ("2021-07-02", "PRAG", "170"), ("2021-07-02", "QRSAG", "95"), ("2021-07-02", "QTAG", "410"),
                   ("2021-07-02", "QTCUNSAG", "430")]
    assert set(eg.loc[eg["EGTESTCD"] == "QTCUNSAG", "EGTEST"]) == {"QTc Corr Method Unspecified, Aggregate"}
    counts = {c["form"]: c for c in report_.form_counts()}
    assert counts["Observation"]["converted"] == 5 and counts["Observation"]["skipped"] == 0
    # read-only alternatives: the writer's LOINC per test is unchanged
    assert {t: _loinc_of()[t][0] for t in ("PRAG", "QRSAG", "QTAG")} == {
        "PRAG": "44976-9", "QRSAG": "44973-6", "QTAG": "44975-1"}


def test_an_ecg_reference_range_is_listed_not_dropped(tmp_path: Path) -> None:
    """EG as msc-interop writes it holds no normal range: an ECG Observation's referenceRange, or an ECG
    component's, is listed as converted without it (REJ-FHIR-006, the range shown), no longer dropped silently;
    the values still land in EG and the counts reconcile."""
    qt = {**_q("44975-1", 0.4, "s"), "referenceRange": [{"low": {"value": 0.35, "unit": "s"},
                                                         "high": {"value": 0.44, "unit": "s"}}]}
    panel = {"resourceType": "Observation", "id": "ecg1", "status": "final",
             "code": {"coding": [{"system": LOINC, "code": "11524-6", "display": "EKG study"}]},
             "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2021-11-10",
             "component": [_q("76282-3", 72, "/min"), qt]}
    hr = {"resourceType": "Observation", "id": "ecg2", "status": "final", **_q("76282-3", 70, "/min"),
          "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2021-11-11",
          "referenceRange": [{"text": "60-100 /min"}]}
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Patient", "id": "p1"}}, {"resource": panel}, {"resource": hr}]}
    path = tmp_path / "ecg.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    study, report = read_fhir([path], timezone="UTC")
    assert len(study["EG"]) == 3
    lines = sorted((x.row, x.field, x.reason, x.value, x.code) for x in report.sorted()
                   if x.field.endswith("referenceRange"))
    assert [(row, field, code) for row, field, _, _, code in lines] == [
        (1, "Observation.component.referenceRange", "REJ-FHIR-006"), (2, "Observation.referenceRange", "REJ-FHIR-006")]
    assert lines[0][2].startswith("Bundle entry 1: converted without the referenceRange of QTAG: EG as msc-interop "
                                  "writes it holds no normal range")
    assert lines[1][3] == '[{"text":"60-100 /min"}]'
    counts = {c["form"]: c for c in report.form_counts()}["Observation"]
    assert (counts["read"], counts["converted"], counts["rejected"]) == (2, 2, 0)
