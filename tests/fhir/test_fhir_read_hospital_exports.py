"""from-fhir on what hospitals export: transaction Bundles of POST entries (urn:uuid references), lab panels
whose results are components, the 12-lead ECG report's heart rate, Patient.gender, and the TS variable order."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest
from fhir_fixtures import example  # noqa: F401

from msc_interop.fhir import read_fhir, write_fhir
from msc_interop.fhir.resources.enrolment import load_enrolment
from msc_interop.lab_precision import kept_round, resolution_decimals
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


# --- 1. a transaction Bundle of POST entries --------------------------------------------------------------------

def _transaction(tmp_path: Path, patient_uuid: str, patient: dict[str, Any], *more: dict[str, Any],
                 name: str = "tx.json") -> Path:
    """A transaction Bundle as a hospital posts it: resources without id, each entry a POST with a urn:uuid
    fullUrl, the Observation's subject the Patient's fullUrl."""
    glucose = {"resourceType": "Observation", "status": "final",
               "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                         "code": "laboratory"}]}],
               "code": {"coding": [{"system": LOINC, "code": "2345-7"}]},
               "subject": {"reference": f"urn:uuid:{patient_uuid}"}, "effectiveDateTime": "2021-03-04",
               "valueQuantity": {"value": 95, "unit": "mg/dL", "system": UCUM, "code": "mg/dL"}}
    entries = [{"fullUrl": f"urn:uuid:{patient_uuid}", "resource": patient,
                "request": {"method": "POST", "url": "Patient"}},
               *({"fullUrl": f"urn:uuid:{i:08d}-0000-4000-8000-000000000000", "resource": r,
                  "request": {"method": "POST", "url": r["resourceType"]}} for i, r in enumerate([glucose, *more]))]
    path = tmp_path / name
    path.write_bytes(orjson.dumps({"resourceType": "Bundle", "type": "transaction", "entry": entries}))
    return path


MRN = "http://hospital.example.org/mrn"
SSN = "http://hl7.org/fhir/sid/us-ssn"  # FHIR NamingSystem registry: United States Social Security Number


def test_a_posted_patient_is_found_by_its_hospital_identifier_never_its_urn_uuid(tmp_path: Path) -> None:
    # FHIR R4 Bundle: a reference equal to an entry's fullUrl points to that entry; the urn:uuid names the entry
    # in this Bundle only, so two exports of one patient give one subject (the enrolment table's)
    table = tmp_path / "subjects.csv"
    table.write_text("patient_id,subjid\nMRN-778,101\n")
    patient = {"resourceType": "Patient", "identifier": [{"system": MRN, "value": "MRN-778"}], "gender": "male"}
    for i, uuid in enumerate(("61ebe359-bfdc-4613-8bf2-c5e300945f0a", "0b6b2a4e-3f1d-4c55-9d5e-2f8e8c0c1a77")):
        study, report = read_fhir([_transaction(tmp_path, uuid, patient, name=f"tx{i}.json")],
                                  enrolment=load_enrolment("S1", subjects=table))
        assert list(study["DM"]["USUBJID"]) == ["S1-101"] and list(study["LB"]["USUBJID"]) == ["S1-101"]
        assert not report.rejects
        assert any("never by the Bundle-local urn:uuid" in n and f"system {MRN}: 1" in n for n in report.notes)


def test_a_posted_patients_national_identifier_is_never_its_subject(tmp_path: Path) -> None:
    # review: identifier[0] a US SSN became USUBJID = SUBJID = 123-45-6789 without a table or key
    uuid = "11111111-1111-4111-8111-111111111111"
    patient = {"resourceType": "Patient", "identifier": [{"system": SSN, "value": "123-45-6789"},
                                                         {"system": MRN, "value": "MRN-42"}]}
    study, report = read_fhir([_transaction(tmp_path, uuid, patient)], enrolment=load_enrolment("S1", environ={}))
    assert "DM" not in study.datasets or study["DM"].empty
    by_form = {x.form: x for x in report.rejects}
    assert by_form["Patient"].code == "REJ-FHIR-003" and by_form["Observation"].code == "REJ-FHIR-003"
    reason = by_form["Patient"].reason
    assert f"{SSN} (a national identifier: never used)" in reason and MRN in reason and "--subjects" in reason
    assert "123-45-6789" not in reason and "123-45-6789" not in by_form["Patient"].value
    # a pseudonym key: the hospital's MRN is pseudonymised, never the SSN (HMAC-SHA256 of the MRN, enrolment.py)
    key = "a secret of at least sixteen bytes"
    keyed = load_enrolment("S1", environ={"MSC_PSEUDONYM_KEY": key})
    study, report = read_fhir([_transaction(tmp_path, uuid, patient)], enrolment=keyed)
    subjid = hmac.new(key.encode(), b"MRN-42", hashlib.sha256).hexdigest()[:16].upper()
    assert list(study["DM"]["USUBJID"]) == [f"S1-{subjid}"] and not report.rejects


def test_a_posted_patient_with_only_a_national_identifier_is_refused_even_with_a_key(tmp_path: Path) -> None:
    # HL7 v2 table 0203 NI "National unique individual identifier" as the identifier's type
    patient = {"resourceType": "Patient", "identifier": [{
        "system": "urn:oid:9.9.9", "value": "X1", "type": {"coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "NI"}]}}]}
    keyed = load_enrolment("S1", environ={"MSC_PSEUDONYM_KEY": "a secret of at least sixteen bytes"})
    study, report = read_fhir([_transaction(tmp_path, "11111111-1111-4111-8111-111111111111", patient)],
                              enrolment=keyed)
    assert "DM" not in study.datasets or study["DM"].empty
    [reason] = [x.reason for x in report.rejects if x.form == "Patient"]
    assert "urn:oid:9.9.9 (a national identifier: never used)" in reason


def test_a_posted_patients_bsn_or_country_typed_national_id_is_never_pseudonymised_and_mr_is_taken_first(
        tmp_path: Path) -> None:
    """Final review: a Dutch BSN (urn:oid:2.16.840.1.113883.2.4.6.3) and a v2-0203 NNxxx national person identifier
    (NNCHN: a Chinese resident ID) listed before the MRN were pseudonymised; and the identifier pseudonymised was
    the export's first, so the same patient's subject changed with the order. Now only the MRN (typed MR) is."""
    v2 = "http://terminology.hl7.org/CodeSystem/v2-0203"
    bsn = {"system": "urn:oid:2.16.840.1.113883.2.4.6.3", "value": "999999990"}
    nn = {"system": "urn:oid:9.9.9", "value": "11010519491231002X", "type": {"coding": [{"system": v2,
                                                                                          "code": "NNCHN"}]}}
    visit = {"system": "https://hospital.example/visit", "value": "V-7"}
    mr = {"system": "https://hospital.example/zz-mrn", "value": "MRN-42", "type": {"coding": [{"system": v2,
                                                                                              "code": "MR"}]}}
    key = "a secret of at least sixteen bytes"
    subjid = hmac.new(key.encode(), b"MRN-42", hashlib.sha256).hexdigest()[:16].upper()
    for order in ([bsn, nn, visit, mr], [mr, visit, nn, bsn]):
        keyed = load_enrolment("S1", environ={"MSC_PSEUDONYM_KEY": key})
        patient = {"resourceType": "Patient", "identifier": order}
        study, report = read_fhir([_transaction(tmp_path, "11111111-1111-4111-8111-111111111111", patient)],
                                  enrolment=keyed)
        assert list(study["DM"]["USUBJID"]) == [f"S1-{subjid}"] and not report.rejects


@pytest.mark.parametrize(("type_system", "code"), [
    ("http://hl7.org/fhir/v2/0203", "SS"),  # an STU3-era export: table 0203 under its STU3 URI
    ("http://terminology.hl7.org/CodeSystem/v2-0203", "VS"),  # a VISA number
    ("http://terminology.hl7.org/CodeSystem/v2-0203", "BCT"),  # a birth certificate
])
def test_a_posted_patients_state_issued_identifier_is_never_pseudonymised(tmp_path: Path, type_system: str,
                                                                          code: str) -> None:
    """Review (session 29): identifier types were recognised under the THO URI of table 0203 only, so an SSN typed
    with the STU3 URI http://hl7.org/fhir/v2/0203 was pseudonymised; and the table's other documents a state
    issues to a person (VISA, birth certificate, ...) were not listed. The MRN is taken, whatever the order."""
    key = "a secret of at least sixteen bytes"
    state = {"system": "urn:oid:9.9.9", "value": "078-05-1120", "type": {"coding": [{"system": type_system,
                                                                                    "code": code}]}}
    mr = {"system": "https://hospital.example/mrn", "value": "MRN-42"}
    subjid = hmac.new(key.encode(), b"MRN-42", hashlib.sha256).hexdigest()[:16].upper()
    for order in ([state, mr], [mr, state]):
        keyed = load_enrolment("S1", environ={"MSC_PSEUDONYM_KEY": key})
        study, report = read_fhir([_transaction(tmp_path, "11111111-1111-4111-8111-111111111111",
                                                {"resourceType": "Patient", "identifier": order})], enrolment=keyed)
        assert list(study["DM"]["USUBJID"]) == [f"S1-{subjid}"] and not report.rejects
    alone = load_enrolment("S1", environ={"MSC_PSEUDONYM_KEY": key})
    study, report = read_fhir([_transaction(tmp_path, "11111111-1111-4111-8111-111111111111",
                                            {"resourceType": "Patient", "identifier": [state]})], enrolment=alone)
    assert "DM" not in study.datasets or study["DM"].empty
    [reason] = [x.reason for x in report.rejects if x.form == "Patient"]
    assert "urn:oid:9.9.9 (a national identifier: never used)" in reason and "078-05-1120" not in reason


def test_a_posted_patient_takes_the_study_subject_identifier_of_its_research_subject(tmp_path: Path) -> None:
    uuid = "61ebe359-bfdc-4613-8bf2-c5e300945f0a"
    subject = {"resourceType": "ResearchSubject", "status": "on-study",
               "identifier": [{"system": "https://msc-interop.github.io/fhir/sid/usubjid", "value": "STUDY1-001"}],
               "individual": {"reference": f"urn:uuid:{uuid}"}, "study": {"reference": "ResearchStudy/s1"}}
    study, report = read_fhir([_transaction(tmp_path, uuid, {"resourceType": "Patient", "gender": "female"},
                                            subject)])
    assert list(study["DM"]["USUBJID"]) == ["STUDY1-001"] and list(study["LB"]["USUBJID"]) == ["STUDY1-001"]
    assert not report.rejects


def test_a_posted_patient_with_nothing_but_its_urn_uuid_is_rejected_with_its_records(tmp_path: Path) -> None:
    uuid = "61ebe359-bfdc-4613-8bf2-c5e300945f0a"
    study, report = read_fhir([_transaction(tmp_path, uuid, {"resourceType": "Patient", "gender": "female"})])
    assert "LB" not in study.datasets or study["LB"].empty
    assert not any("urn:uuid" in u for name in study.datasets if "USUBJID" in study[name].columns
                   for u in study[name]["USUBJID"])
    by_form = {x.form: x for x in report.rejects}
    assert by_form["Patient"].code == "REJ-FHIR-003" and "Bundle-local fullUrl" in by_form["Patient"].reason
    assert by_form["Observation"].code == "REJ-FHIR-003"
    assert "Patient: read 1 = converted 0 + rejected 1 + skipped 0" in report.reconciliation()


# --- 2. lab panels whose results are components -----------------------------------------------------------------

def _urinalysis(*components: dict[str, Any]) -> dict[str, Any]:
    """A urinalysis dipstick panel (LOINC 24357-6) with its results as components, no value of its own."""
    return {"resourceType": "Observation", "id": "ua1", "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                      "code": "laboratory"}]}],
            "code": {"coding": [{"system": LOINC, "code": "24357-6",
                                 "display": "Urinalysis macro (dipstick) panel - Urine"}]},
            "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2021-03-04T08:30:15",
            "component": list(components)}


PH = {"code": {"coding": [{"system": LOINC, "code": "5803-2", "display": "pH of Urine by Test strip"}]},
      "valueQuantity": {"value": 6.5, "unit": "[pH]", "system": UCUM, "code": "[pH]"}}
SG = {"code": {"coding": [{"system": LOINC, "code": "5811-5", "display": "Specific gravity of Urine by Test strip"}]},
      "valueQuantity": {"value": 1.015}}
ODD = {"code": {"coding": [{"system": LOINC, "code": "5778-6", "display": "Color of Urine"}]}, "valueString": "Yellow"}


def test_each_component_of_a_lab_panel_is_an_lb_record_with_the_panels_date_and_subject(tmp_path: Path) -> None:
    # lab_tests.yaml: 5803-2 -> PH (CDISC CT C45997), 5811-5 -> SPGRAV (C64832), both LBSPEC URINE (SPECTYPE C13283)
    path = _bundle(tmp_path, [{"resourceType": "Patient", "id": "p1"}, _urinalysis(PH, SG)])
    study, report = read_fhir([path], strict=True)
    lb = study["LB"].set_index("LBTESTCD")
    assert sorted(lb.index) == ["PH", "SPGRAV"]
    assert lb.loc["PH", ["USUBJID", "LBORRES", "LBSPEC", "LBLOINC", "LBDTC"]].tolist() == [
        "p1", "6.5", "URINE", "5803-2", "2021-03-04T08:30:15"]
    assert lb.loc["SPGRAV", ["LBORRES", "LBLOINC"]].tolist() == ["1.015", "5811-5"]
    assert not report.rejects
    assert "Observation: read 1 = converted 1 + rejected 0 + skipped 0" in report.reconciliation()


def test_urine_protein_of_a_panel_keeps_its_precision_in_g_per_l(tmp_path: Path) -> None:
    # review: 5804-0 (Protein [Mass/volume] in Urine by Test strip) at 30 mg/dL gave LBSTRESN 0 g/L, serum PROT's
    # 0 decimals. CDISC CT: PROT C64858 with LBSPEC URINE C13283; UCUM: 30 mg/dL = 0.30 g/L (1 mg/dL = 0.01 g/L)
    protein = {"code": {"coding": [{"system": LOINC, "code": "5804-0"}]},
               "valueQuantity": {"value": 30, "unit": "mg/dL", "system": UCUM, "code": "mg/dL"},
               "referenceRange": [{"high": {"value": 15, "unit": "mg/dL", "system": UCUM, "code": "mg/dL"}}]}
    path = _bundle(tmp_path, [{"resourceType": "Patient", "id": "p1"}, _urinalysis(PH, protein)])
    study, report = read_fhir([path], strict=True)
    prot = study["LB"].set_index("LBTESTCD").loc["PROT"]
    assert prot[["LBORRES", "LBORRESU", "LBSTRESC", "LBSTRESN", "LBSTRESU", "LBSTNRHI", "LBSPEC"]].tolist() == [
        "30", "mg/dL", "0.3", 0.3, "g/L", 0.15, "URINE"]
    assert not report.rejects


def test_lab_precision_keeps_the_originals_last_digit() -> None:
    # 1 mg/dL = 0.01 g/L (2 decimals); 0.5 mg/dL = 0.005 g/L (3); 1 mg/dL glucose = 0.0555 mmol/L (2)
    assert [resolution_decimals(o, f) for o, f in (("30", 0.01), ("0.5", 0.01), ("90", 0.0555), ("<30", 0.01))] \
        == [2, 3, 2, 2]
    assert kept_round(0.3, 0, "30", 0.01) == 0.3 and kept_round(1.49, 0, "149", 0.01) == 1.0


def test_a_panel_component_the_lab_map_does_not_know_is_listed_as_an_unmapped_test(tmp_path: Path) -> None:
    path = _bundle(tmp_path, [{"resourceType": "Patient", "id": "p1"}, _urinalysis(PH, ODD)])
    study, report = read_fhir([path], strict=True)  # --strict: an unmapped test is rejected, not carried
    assert list(study["LB"]["LBTESTCD"]) == ["PH"]
    [listed] = report.rejects
    assert listed.code == "REJ-FHIR-005" and "5778-6" in listed.value
    assert "converted without one of its components" in listed.reason
    assert report.reconciliation()[0].startswith("Observation: read 1 = converted 1 + rejected 0 + skipped 0")
    study, report = read_fhir([path])  # without --strict it is carried with a sponsor test code, as a lone result
    assert len(study["LB"]) == 2 and "5778-6" in set(study["LB"]["LBLOINC"]) and not report.rejects
    path = _bundle(tmp_path, [{"resourceType": "Patient", "id": "p1"}, _urinalysis(ODD)], name="odd.json")
    study, report = read_fhir([path], strict=True)
    assert "Observation: read 1 = converted 0 + rejected 1 + skipped 0" in report.reconciliation()
    assert [x.field for x in report.rejects] == ["Observation.component.code"]
