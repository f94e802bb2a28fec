"""from-fhir on what hospitals export: transaction Bundles of POST entries (urn:uuid references), lab panels
whose results are components, the 12-lead ECG report's heart rate, Patient.gender, and the TS variable order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pandas as pd
from fhir_fixtures import example  # noqa: F401

from msc_interop.fhir import read_fhir, write_fhir
from msc_interop.study import Study


def _bundle(tmp_path: Path, resources: list[dict[str, Any]], name: str = "in.json") -> Path:
    """The resources as one collection Bundle, each with a urn:uuid fullUrl."""
    entries = [{"fullUrl": f"urn:uuid:00000000-0000-0000-0000-{i:012d}", "resource": r}
               for i, r in enumerate(resources)]
    path = tmp_path / name
    path.write_bytes(orjson.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}))
    return path


# --- 4. Patient.gender -> SEX ---------------------------------------------------------------------------------

def test_administrative_gender_other_is_sex_u_not_intersex(tmp_path: Path) -> None:
    # Joint Mapping IG (cdiscMaps.csv, Patient.gender): male -> M, female -> F, other -> U, unknown -> U;
    # CDISC CT SEX (C66731) INTERSEX (C45908) is a biological sex, which administrative gender does not say
    genders = {"p1": "male", "p2": "female", "p3": "other", "p4": "unknown"}
    path = _bundle(tmp_path, [{"resourceType": "Patient", "id": p, "gender": g} for p, g in genders.items()])
    study, report = read_fhir([path])
    sex = dict(zip(study["DM"]["USUBJID"], study["DM"]["SEX"], strict=True))
    assert sex == {"p1": "M", "p2": "F", "p3": "U", "p4": "U"}
    assert not report.rejects


def test_intersex_written_by_msc_interop_comes_back_intersex(example: Study, tmp_path: Path) -> None:  # noqa: F811
    dm = example["DM"].copy()
    dm.loc[0, "SEX"] = "INTERSEX"
    study = Study(example.meta, {"DM": dm})
    write_fhir(study, tmp_path, version="R4", bundle="collection")
    back, _ = read_fhir([tmp_path / "bundle.json"])
    pd.testing.assert_series_equal(back["DM"]["SEX"].reset_index(drop=True), dm["SEX"].reset_index(drop=True),
                                   check_dtype=False)


# --- 5. TS variable order -----------------------------------------------------------------------------------

def test_ts_keeps_the_sdtmig_variable_order_through_fhir(example: Study, tmp_path: Path) -> None:  # noqa: F811
    # SDTMIG 3.4 TS (and CDISC's Dataset-JSON 1.1 ts.json): TSGRPID after TSSEQ, TSVALNF after TSVAL
    order = ["STUDYID", "DOMAIN", "TSSEQ", "TSGRPID", "TSPARMCD", "TSPARM", "TSVAL", "TSVALNF", "TSVALCD",
             "TSVCDREF", "TSVCDVER"]
    ts = pd.DataFrame({"STUDYID": example.meta.studyid, "DOMAIN": "TS", "TSSEQ": [1, 1], "TSGRPID": ["", "G1"],
                       "TSPARMCD": ["TITLE", "SPONSOR"], "TSPARM": ["Trial Title", "Clinical Study Sponsor"],
                       "TSVAL": ["A title", ""], "TSVALNF": ["", "NI"], "TSVALCD": "", "TSVCDREF": "",
                       "TSVCDVER": ""})
    study = Study(example.meta, {"DM": example["DM"], "TS": ts})
    assert list(study["TS"].columns) == order
    write_fhir(study, tmp_path, version="R4", bundle="collection")
    back, _ = read_fhir([tmp_path / "bundle.json"])
    assert list(back["TS"].columns) == order
    assert list(back["TS"]["TSGRPID"]) == ["", "G1"] and list(back["TS"]["TSVALNF"]) == ["", "NI"]


# --- 3. the 12-lead ECG report's heart rate ---------------------------------------------------------------------

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"


def _component(loinc: str, display: str, value: float, unit: str) -> dict[str, Any]:
    return {"code": {"coding": [{"system": LOINC, "code": loinc, "display": display}]},
            "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit}}


def test_the_ecg_reports_heart_rate_component_is_eghrmn_and_an_unknown_component_is_listed(tmp_path: Path) -> None:
    # CDISC CT EGTESTCD C71153: EGHRMN (C119259) "ECG Mean Heart Rate", "usually the mean ventricular rate";
    # PRAG / QTAG the aggregate PR and QT (ecg.yaml: LOINC 8625-6, 8634-8); 8626-4 (P wave axis) is no EG test here
    ecg = {"resourceType": "Observation", "id": "ecg1", "status": "final",
           "code": {"coding": [{"system": LOINC, "code": "11524-6", "display": "EKG study"}]},
           "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2021-03-04T08:30:15",
           "component": [_component("8867-4", "Heart rate", 72, "/min"),
                         _component("8625-6", "P-R interval", 160, "ms"),
                         _component("8634-8", "Q-T interval", 380, "ms"),
                         _component("8626-4", "P wave axis", 50, "deg")]}
    study, report = read_fhir([_bundle(tmp_path, [{"resourceType": "Patient", "id": "p1"}, ecg])])
    eg = study["EG"].set_index("EGTESTCD")
    assert sorted(eg.index) == ["EGHRMN", "PRAG", "QTAG"]
    assert eg.loc["EGHRMN", ["EGTEST", "EGORRES", "EGORRESU", "EGSTRESN", "EGSTRESU", "EGDTC"]].tolist() == [
        "ECG Mean Heart Rate", "72", "beats/min", 72.0, "beats/min", "2021-03-04T08:30:15"]
    [listed] = report.rejects
    assert listed.value == "http://loinc.org|8626-4" and listed.code == "REJ-FHIR-005"
    assert "converted without" in listed.reason
    assert "Observation: read 1 = converted 1 + rejected 0 + skipped 0" in report.reconciliation()[0]


def test_a_heart_rate_observation_alone_stays_a_vital_sign(tmp_path: Path) -> None:
    hr = {"resourceType": "Observation", "id": "hr1", "status": "final",
          "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                    "code": "vital-signs"}]}],
          "code": {"coding": [{"system": LOINC, "code": "8867-4", "display": "Heart rate"}]},
          "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2021-03-04",
          "valueQuantity": {"value": 72, "unit": "/min", "system": UCUM, "code": "/min"}}
    study, _ = read_fhir([_bundle(tmp_path, [{"resourceType": "Patient", "id": "p1"}, hr])])
    assert "EG" not in study.datasets and list(study["VS"]["VSTESTCD"]) == ["HR"]
