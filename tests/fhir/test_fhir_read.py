"""read_fhir on FHIR it did not write (HL7 examples, an EHR-style bundle) and on bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import orjson
import pytest
from fhir_fixtures import DATA, example, written  # noqa: F401

from msc_interop.errors import InputError
from msc_interop.fhir import read_fhir
from msc_interop.study import Study, StudyMeta


def _reconciles(report) -> None:
    for line in report.reconciliation():
        _form, rest = line.split(": read ")
        read, parts = rest.split(" = ")
        parts = parts.split(" (")[0]  # "(N of the converted without a field: ...)"
        conv, rej, skip = (int(x.split()[-1]) for x in parts.split(" + "))
        assert int(read) == conv + rej + skip, line


@pytest.mark.parametrize("release", ["r4", "r4b", "r5"])
def test_hl7_examples(shared_dir: Path, release: str) -> None:
    study, report = read_fhir([shared_dir / "external" / "fhir-examples" / release])
    _reconciles(report)
    lb = study["LB"]
    assert lb[["USUBJID", "LBTESTCD", "LBORRES", "LBORRESU", "LBSTRESN", "LBSTRESU", "LBLOINC", "LBNRIND"]] \
        .fillna({"LBSTRESN": -1.0}).to_dict("records") == [
            # f002: base excess 12.6 mmol/l (11555-0), reference 7.1-11.2 -> HIGH
            {"USUBJID": "f001", "LBTESTCD": "BASEEXCS", "LBORRES": "12.6", "LBORRESU": "mmol/L", "LBSTRESN": 12.6,
             "LBSTRESU": "mmol/L", "LBLOINC": "11555-0", "LBNRIND": "HIGH"},
            # f001: glucose 6.3 mmol/l in Blood (15074-8), reference 3.1-6.2 -> HIGH; LBSPEC from the LOINC's system
            {"USUBJID": "f001", "LBTESTCD": "GLUC", "LBORRES": "6.3", "LBORRESU": "mmol/L", "LBSTRESN": 6.3,
             "LBSTRESU": "mmol/L", "LBLOINC": "15074-8", "LBNRIND": "HIGH"},
            # f005: hemoglobin 7.2 g/dl (718-7), reference 7.5-10 -> LOW; standard g/L = x 10
            {"USUBJID": "f001", "LBTESTCD": "HGB", "LBORRES": "7.2", "LBORRESU": "g/dL", "LBSTRESN": 72.0,
             "LBSTRESU": "g/L", "LBLOINC": "718-7", "LBNRIND": "LOW"},
            # f003: pCO2 6.2 kPa (11557-6), reference 4.8-6.0 -> HIGH
            {"USUBJID": "f001", "LBTESTCD": "PCO2", "LBORRES": "6.2", "LBORRESU": "kPa", "LBSTRESN": 6.2,
             "LBSTRESU": "kPa", "LBLOINC": "11557-6", "LBNRIND": "HIGH"},
            # f004: erythrocytes 4.12 10*12/L (789-8), interpretation L -> LOW (its range is text only: below)
            {"USUBJID": "f001", "LBTESTCD": "RBC", "LBORRES": "4.12", "LBORRESU": "10^12/L",
             "LBSTRESN": 4.12, "LBSTRESU": "10^12/L", "LBLOINC": "789-8", "LBNRIND": "LOW"},
            # f203: bicarbonate 28 mmol/L in serum (1963-8; its unit coded in SNOMED CT, text mmol/L)
            {"USUBJID": "f201", "LBTESTCD": "BICARB", "LBORRES": "28", "LBORRESU": "mmol/L", "LBSTRESN": 28.0,
             "LBSTRESU": "mmol/L", "LBLOINC": "1963-8", "LBNRIND": "NORMAL"},
            # bloodgroup: ABO group (883-9) A, a coded result
            {"USUBJID": "infant", "LBTESTCD": "ABO", "LBORRES": "A", "LBORRESU": "", "LBSTRESN": -1.0,   # (no number)
             "LBSTRESU": "", "LBLOINC": "883-9", "LBNRIND": ""}]
    assert list(lb["LBSPEC"]) == ["BLOOD"] * 5 + ["SERUM OR PLASMA", "BLOOD"]
    assert lb["LBDTC"].iloc[4] == "2013-04-02T10:30:10"          # clock time as written (no study time zone)
    assert lb["LBNAM"].iloc[4] == ""                              # a Practitioner is not a lab name
    # the body-weight Observation (category vital-signs, 185 [lb_av]) lands in VS: by hand 185 x 0.45359237 = 83.9 kg
    vs = study["VS"]
    assert vs[["USUBJID", "VSTESTCD", "VSORRES", "VSORRESU", "VSSTRESN", "VSSTRESU", "VSDTC"]].values.tolist() == [
        ["example", "WEIGHT", "185", "LB", 83.9, "kg", "2016-03-28"]]
    assert not [k for k in report.skipped_why if "vital-signs" in k[1]]
    ex = study["EX"]
    vanco = ex[ex["EXTRT"].str.startswith("Vancomycin")].iloc[0]
    assert (vanco["EXDOSE"], vanco["EXDOSU"], vanco["EXROUTE"]) == (500.0, "mg", "INTRAVENOUS")
    assert vanco["EXSTDTC"] == "2015-01-15T14:30"
    reasons = {r.file: r.reason for r in report.rejects}
    assert "status entered-in-error" in reasons["MedicationAdministration-medadmin0303.json"]
    # f204 is creatinine under the hospital's own code only: placed with a lab map (tests/test_lab_map.py)
    # f004's referenceRange is a text table by age and sex, no low/high: LBORNRLO/HI empty, listed as converted
    # without them (a field of a converted record, not a reject)
    assert lb[["LBORNRLO", "LBORNRHI"]].iloc[4].tolist() == ["", ""]
    obs_lines = [r for r in report.rejects if r.form == "Observation"]
    assert [(r.file, r.field, r.code) for r in obs_lines] == [
        ("Observation-f004.json", "Observation.referenceRange", "REJ-FHIR-006")]
    assert "converted without LBORNRLO/LBORNRHI" in obs_lines[0].reason and "text only" in obs_lines[0].reason
    assert "12-14 y Male: 4.4 - 5.2" in obs_lines[0].value
    counts = {c["form"]: c for c in report.form_counts()}["Observation"]
    assert (counts["rejected"], counts["converted_without_a_field"]) == (0, 1)
    # f203 gives only `issued` (not a collection time): converted with LBDTC empty, and a note says so
    assert any(n.startswith("1 Observation(s) have no effective[x], only `issued`") for n in report.notes)
    if release != "r5":  # the R5 example package has no AdverseEvent
        ae = study["AE"].iloc[0]
        assert (ae["AETERM"], ae["AESEV"], ae["AESER"], ae["AESTDTC"]) == \
            ("This was a mild rash on the left forearm", "MILD", "N", "2017-01-29T12:34:56")
    assert set(study["DM"]["USUBJID"]) >= {"f001", "pat1"}
    assert any("Patient's id" in n for n in report.notes)
    # no names reach SDTM: the HL7 Patient "example" is Peter James Chalmers
    assert not any("Chalmers" in str(v) for df in study.datasets.values() for v in df.to_numpy().ravel())


def test_ehr_style_bundle() -> None:
    meta = StudyMeta(studyid="EHR-IMPORT", timezone="America/New_York")
    study, report = read_fhir([DATA / "synthea_like_bundle.json"], study_meta=meta)
    _reconciles(report)
    assert report.skipped == {"Claim": 1, "ExplanationOfBenefit": 1, "Immunization": 1,
                              "CarePlan": 1}  # the vital-signs Observation (body height) lands in VS
    assert study["VS"][["VSTESTCD", "VSSTRESU"]].values.tolist() == [["HEIGHT", "cm"]]
    # the two Conditions (no category: problem-list entries) are medical history: SNOMED display / code.text
    mh = study["MH"].set_index("MHTERM")
    assert sorted(mh.index) == ["Diabetes", "Hypertension"]
    assert mh.loc["Diabetes", "MHENRTPT"] == "ONGOING" and mh.loc["Hypertension", "MHENRTPT"] == ""
    lb = study["LB"].set_index("LBTESTCD")
    assert lb.loc["WBC", "LBORRESU"] == "10^9/L" and lb.loc["WBC", "LBSTRESN"] == 7.2   # 10*3/uL = 10^9/L
    assert lb.loc["RBC", "LBORRESU"] == "10^12/L"
    assert (lb.loc["BILI", "LBORRES"], lb.loc["BILI", "LBORRESU"]) == ("0.8", "mg/dL")
    assert (lb.loc["BILI", "LBSTRESN"], lb.loc["BILI", "LBSTRESU"]) == (13.7, "umol/L")  # x 17.1, 1 decimal
    assert lb.loc["BILI", "LBLOINC"] == "1975-2"
    assert (lb.loc["AST", "LBSTAT"], lb.loc["AST", "LBREASND"]) == ("NOT DONE", "sample haemolysed")
    assert lb.loc["WBC", "LBNRIND"] == "NORMAL" and lb.loc["WBC", "LBORNRHI"] == "10.5"
    assert lb.loc["WBC", "LBDTC"] == "2015-03-10T09:15"   # -04:00 = New York daylight time: clock kept
    assert set(study["LB"]["STUDYID"]) == {"EHR-IMPORT"}
    reasons = sorted(r.reason for r in report.rejects)
    # glucose 2345-7, 95 mg/dL: now in the catalogue; 95 / 18.016 = 5.27 mmol/L, 1 decimal
    assert (lb.loc["GLUC", "LBSTRESN"], lb.loc["GLUC", "LBSTRESU"], lb.loc["GLUC", "LBLOINC"]) == (5.3, "mmol/L",
                                                                                                  "2345-7")
    assert not any("unknown code" in x or "not a laboratory" in x for x in reasons)
    assert any("no value and no dataAbsentReason" in x for x in reasons)
    assert any("dangling reference" in x and "entry 12" in x for x in reasons)
    dm = study["DM"].set_index("USUBJID")
    assert dm.loc["b2d4e6f8-p2", "DTHFL"] == "Y" and dm.loc["7f3c1a9e-p1", "SEX"] == "F"
    flat = " ".join(str(v) for df in study.datasets.values() for v in df.to_numpy().ravel())
    assert "999-12-3456" not in flat and "Rippin620" not in flat and "Boston" not in flat


def _good_ndjson(folders: dict[str, Path], target: Path) -> None:
    for p in folders["R4"].glob("*.ndjson"):
        shutil.copy(p, target / p.name)


def test_bad_input_is_reported_and_the_rest_converts(written: dict[str, Path],  # noqa: F811
                                                      tmp_path: Path) -> None:
    _good_ndjson(written, tmp_path)
    (tmp_path / "broken.json").write_text('{"resourceType": "Observation", "status": ', encoding="utf-8")
    lines = (tmp_path / "Observation.ndjson").read_bytes().splitlines()
    lines.insert(3, b'["not", "an", "object"]')
    lines.insert(5, b'{"resourceType": "Observatoin", "id": "typo"}')
    (tmp_path / "Observation.ndjson").write_bytes(b"\n".join(lines) + b"\n")
    r5 = {"resourceType": "AdverseEvent", "id": "r5-ae", "status": "completed", "actuality": "actual",
          "code": {"text": "Headache"}, "subject": {"reference": "Patient/x"}}
    (tmp_path / "extra.ndjson").write_bytes(orjson.dumps(r5) + b"\n")
    study, report = read_fhir([tmp_path], version="R4")
    by_file = {(r.file, r.row): r for r in report.rejects}
    assert "not valid JSON" in by_file[("broken.json", 1)].reason
    assert "must be one JSON object" in by_file[("Observation.ndjson", 4)].reason
    assert "'Observatoin' is not a FHIR R4 or R5 resource type" in by_file[("Observation.ndjson", 6)].reason
    msg = by_file[("extra.ndjson", 1)].reason
    assert "looks like FHIR R5" in msg and "AdverseEvent.code" in msg and "--fhir-version R5" in msg
    assert len(study["LB"]) == 494 and len(study["AE"]) == 1    # the rest still converts


def test_dangling_reference_in_a_bundle(written: dict[str, Path], tmp_path: Path) -> None:  # noqa: F811
    bundle = orjson.loads((written["R4"] / "bundle.json").read_bytes())
    for i, e in enumerate(bundle["entry"]):
        if e["resource"]["resourceType"] == "Observation":
            e["resource"]["subject"]["reference"] = "urn:uuid:00000000-0000-4000-8000-00000000dead"
            index = i
            break
    path = tmp_path / "bundle.json"
    path.write_bytes(orjson.dumps(bundle))
    study, report = read_fhir([path])
    [reject] = report.rejects
    assert reject.row == index and f"Bundle entry {index}" in reject.reason and "dangling" in reject.reason
    assert len(study["LB"]) == 493
    assert report.counts["Observation"].rejected == 1


def test_observations_without_a_subject_are_rejected_beside_those_with_one(written: dict[str, Path],  # noqa: F811
                                                                           tmp_path: Path) -> None:
    """Regression: a lab Observation with no subject among others crashed the read (KeyError)."""
    bundle = orjson.loads((written["R4"] / "bundle.json").read_bytes())
    emptied = []
    for i, e in enumerate(bundle["entry"]):
        if e["resource"]["resourceType"] == "Observation" and len(emptied) < 2:
            if emptied:
                e["resource"]["subject"] = {"display": "a name, no reference"}
            else:
                del e["resource"]["subject"]
            emptied.append(i)
    path = tmp_path / "bundle.json"
    path.write_bytes(orjson.dumps(bundle))
    study, report = read_fhir([path])
    assert sorted(r.row for r in report.rejects) == emptied
    assert all("no subject" in r.reason for r in report.rejects)
    assert len(study["LB"]) == 492 and report.counts["Observation"].rejected == 2


def test_searchset_bundle_and_single_resources(written: dict[str, Path], tmp_path: Path) -> None:  # noqa: F811
    obs = [orjson.loads(x) for x in (written["R4"] / "Observation.ndjson").read_bytes().splitlines()[:3]]
    pats = [orjson.loads(x) for x in (written["R4"] / "Patient.ndjson").read_bytes().splitlines()]
    searchset = {"resourceType": "Bundle", "type": "searchset", "total": 3, "entry": [
        {"fullUrl": f"https://fhir.example.org/Observation/{o['id']}", "resource": o, "search": {"mode": "match"}}
        for o in obs] + [{"fullUrl": f"https://fhir.example.org/Patient/{p['id']}", "resource": p,
                          "search": {"mode": "include"}} for p in pats]}
    (tmp_path / "search.json").write_text(json.dumps(searchset), encoding="utf-8")
    study, _report = read_fhir([tmp_path / "search.json"])
    assert len(study["LB"]) == 3 and set(study["LB"]["USUBJID"]) == {"MSC-SLE-2009-01-01"}


def test_nothing_to_read(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no \.json or \.ndjson files"):
        read_fhir([tmp_path])
    with pytest.raises(InputError, match="no such file"):
        read_fhir([tmp_path / "missing.json"])


def test_study_definition_supplies_identity(written: dict[str, Path], example: Study) -> None:  # noqa: F811
    back, _report = read_fhir([written["R4"] / "bundle.json"], study_meta=example.meta)
    assert back.meta is example.meta or back.meta.studyid == example.meta.studyid


def test_foreign_records_get_seq_in_the_mapped_order(written: dict[str, Path], tmp_path: Path) -> None:  # noqa: F811
    """Observations without an sdtm-seq identifier (FHIR written by others) are numbered 1..n per subject in the
    order mappings/sdtm_variables.yaml states (the one to-sdtm and the define.xml use), not by date first."""
    from msc_interop import mappings
    from msc_interop.fhir import terms

    seq_system, cdisc_system = terms.id_system("seq"), terms.system("cdisc_lbtestcd")
    bundle = orjson.loads((written["R4"] / "bundle.json").read_bytes())
    for e in bundle["entry"]:
        res = e["resource"]
        if res["resourceType"] == "Observation":
            res["identifier"] = [i for i in res["identifier"] if i["system"] != seq_system]
            res["code"]["coding"] = [c for c in res["code"]["coding"] if c["system"] != cdisc_system]
    path = tmp_path / "bundle.json"
    path.write_bytes(orjson.dumps(bundle))
    study, _report = read_fhir([path])
    lb = study["LB"]
    order = mappings.seq_order("LB")
    assert order[0] != "LBDTC" and {"USUBJID", *order} <= set(lb.columns)
    expected = lb.sort_values(["USUBJID", *order], kind="stable")
    assert lb.index.equals(expected.index)
    assert lb["LBSEQ"].tolist() == (expected.groupby("USUBJID", sort=False).cumcount() + 1).tolist()
    assert lb.groupby("USUBJID")["LBTESTCD"].apply(lambda s: s.is_monotonic_increasing).all()
