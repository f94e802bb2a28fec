"""from-fhir on what a hospital sends (issue 13): nothing lost, nothing invented, no hospital identifier in SDTM.

The EHR export is generated once per session (ehr_synth.py: 6 patients, 3 encounters, the LOINCs of LAB_PANEL).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest
from click.testing import CliRunner
from ehr_synth import LAB_LOINCS, LAB_PANEL, SKIPPED_TYPES, VITALS, medication_given, patient_ids, write_ehr

from msc_interop import mappings
from msc_interop.cli import main
from msc_interop.fhir import read_fhir
from msc_interop.fhir.resources.enrolment import load_enrolment
from msc_interop.fhir.resources.lab.sponsor import base_code, component
from msc_interop.study import StudyMeta

PATIENTS, ENCOUNTERS = 6, 3
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def ehr(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The generated export, a study definition (New York time) and an enrolment table for it."""
    base = tmp_path_factory.mktemp("ehr")
    paths = write_ehr(base / "in", PATIENTS)
    ids = patient_ids(paths)
    study = base / "study.yaml"
    text = (ROOT / "fixtures" / "example_study" / "study.yaml").read_text(encoding="utf-8")
    study.write_text(text.replace("timezone: Asia/Shanghai", "timezone: America/New_York")
                     .replace("studyid: MSC-SLE-2009", "studyid: HOSP-01"), encoding="utf-8")
    subjects = base / "subjects.csv"
    subjects.write_text("patient_id,subjid,siteid,armcd\n" + "".join(f"{p},{100 + i},01,UCMSC\n"
                                                                       for i, p in enumerate(ids)), encoding="utf-8")
    return {"base": base, "in": base / "in", "ids": ids, "study": study, "subjects": subjects}


def _run(*args: Any) -> Any:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="session")
def converted(ehr: dict[str, Any]) -> dict[str, Any]:
    out = ehr["base"] / "out"
    res = _run("from-fhir", ehr["in"], "-o", out, "--format", "csv", "--study", ehr["study"],
               "--subjects", ehr["subjects"])
    report = orjson.loads((out / "rejects.json").read_bytes())
    datasets = {p.stem.upper(): pd.read_csv(p, dtype=str, keep_default_na=False) for p in (out / "csv").glob("*.csv")}
    return {"res": res, "out": out, "report": report, "data": datasets}


def test_every_lab_result_is_an_lb_row_and_the_rest_is_skipped_and_counted(converted: dict[str, Any]) -> None:
    res, report, lb = converted["res"], converted["report"], converted["data"]["LB"]
    assert res.exit_code == 0, res.output
    labs = PATIENTS * ENCOUNTERS * len(LAB_PANEL)
    assert len(lb) == labs
    # every LOINC of the panel arrives, each result once; placed (mapped) + carried (sponsor-defined) = all labs.
    # Until the lab catalogue grows most are carried: tighten to `placed == labs` when LAB_LOINCS are all mapped.
    assert lb["LBLOINC"].value_counts().to_dict() == {c: PATIENTS * ENCOUNTERS for c in LAB_LOINCS}
    # every LOINC of the panel is in the lab catalogue: all placed under a CDISC LBTESTCD, none carried
    mapped = {t.testcd for t in mappings.lab_tests().values()}
    assert int(lb["LBTESTCD"].isin(mapped).sum()) == labs
    assert not [n for n in report["notes"] if "SPONSOR-DEFINED" in n]
    assert "SPONSOR-DEFINED" not in res.output
    # nothing rejected; every other resource skipped and counted per type and reason; counts reconcile
    assert report["rejects"] == []
    counts = {c["form"]: c for c in report["counts"]}
    for c in counts.values():
        assert c["read"] == c["converted"] + c["rejected"] + c["skipped"], c
    vitals = PATIENTS * ENCOUNTERS * len(VITALS)
    assert counts["Observation"]["converted"] == labs + vitals  # the vital signs land in VS
    assert counts["Observation"]["skipped"] == PATIENTS * ENCOUNTERS * 2  # a survey, social history
    for rtype in SKIPPED_TYPES:
        assert counts[rtype]["skipped"] == counts[rtype]["read"] > 0
    why = {(s["form"], s["reason"].split(":")[0]): s["count"] for s in report["skipped"]}
    assert ("Observation", "category vital-signs") not in why
    assert why[("Observation", "category survey")] == PATIENTS * ENCOUNTERS
    assert why[("MedicationAdministration", "status not-done")] == 2
    assert "category vital-signs" not in res.output


def test_every_vital_sign_is_a_vs_row_in_its_unit(converted: dict[str, Any]) -> None:
    vs = converted["data"]["VS"]
    assert len(vs) == PATIENTS * ENCOUNTERS * len(VITALS)
    # UCUM /min: beats/min for the heart rate (8867-4 -> HR), breaths/min for the respiratory rate; Cel -> C
    units = dict(zip(vs["VSTESTCD"], vs["VSORRESU"], strict=False))
    assert units == {"HEIGHT": "cm", "WEIGHT": "kg", "BMI": "kg/m2", "HR": "beats/min", "RESP": "breaths/min",
                     "TEMP": "C"}
    # already in the standard units: VSSTRESN is the value sent (ehr_synth: height 172.0 cm, temperature 36.8 Cel)
    assert (vs["VSSTRESN"].astype(float) == vs["VSORRES"].astype(float)).all() and set(vs["STUDYID"]) == {"HOSP-01"}
    assert set(vs.loc[vs["VSTESTCD"].eq("TEMP"), "VSSTRESC"]) == {"36.8"}


def test_subjects_come_from_the_enrolment_table_never_the_hospital(ehr: dict[str, Any],
                                                                   converted: dict[str, Any]) -> None:
    dm = converted["data"]["DM"].set_index("SUBJID")
    assert list(dm.index) == [str(100 + i) for i in range(PATIENTS)]
    assert dm.loc["100", "USUBJID"] == "HOSP-01-01-100"
    assert set(dm["STUDYID"]) == {"HOSP-01"} and set(dm["SITEID"]) == {"01"} and set(dm["COUNTRY"]) == {"CHN"}
    assert set(dm["ARMCD"]) == {"UCMSC"} and dm.loc["100", "ARM"].startswith("UC-MSC")
    assert (dm.loc["100", "RACE"], dm.loc["101", "RACE"], dm.loc["102", "RACE"]) == \
        ("WHITE", "BLACK OR AFRICAN AMERICAN", "ASIAN")
    assert (dm.loc["100", "ETHNIC"], dm.loc["103", "ETHNIC"]) == ("NOT HISPANIC OR LATINO", "HISPANIC OR LATINO")
    written = " ".join(p.read_text(encoding="utf-8") for p in (converted["out"] / "csv").glob("*.csv"))
    for hospital in (*ehr["ids"], "MRN-1000", "999-10-3456", "Rippin620", "Boston"):
        assert hospital not in written


def test_times_are_the_study_local_time(converted: dict[str, Any]) -> None:
    lb, ex = converted["data"]["LB"], converted["data"]["EX"]
    # 08:10-05:00 in January and 08:10-04:00 in May are 08:10 New York time; the offsets differ, the clock not
    assert set(lb["LBDTC"].str[11:]) == {f"08:{10 + i:02d}" for i in range(PATIENTS)}
    assert (ex["EXSTDTC"].iloc[0], ex["EXENDTC"].iloc[0]) == ("2021-05-10T10:00", "2021-05-10T10:30")


def test_validate_passes_on_the_output(converted: dict[str, Any]) -> None:
    res = _run("validate", converted["out"] / "csv")
    assert res.exit_code == 0, res.output[-3000:]
    assert " 0 error(s)" in res.output


# --- one resource at a time ---------------------------------------------------------------------------------

def _obs(loinc: str, display: str, **extra: Any) -> dict[str, Any]:
    res = {"resourceType": "Observation", "id": "o1", "status": "final",
           "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                     "code": "laboratory"}]}],
           "code": {"coding": [{"system": "http://loinc.org", "code": loinc, "display": display}]},
           "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2021-03-04T08:15:00-05:00",
           "valueQuantity": {"value": 1.2, "unit": "ng/mL", "system": "http://unitsofmeasure.org", "code": "ng/mL"}}
    res.update(extra)
    return res


def _read(tmp_path: Path, resources: list[dict[str, Any]], **kw: Any):
    path = tmp_path / "in.ndjson"
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in resources) + b"\n")
    return read_fhir([path], **kw)


def test_one_unknown_loinc_is_carried_not_dropped(tmp_path: Path) -> None:
    # blood lead (LOINC 5671-3 "Lead [Mass/volume] in Blood") is not in the lab catalogue: LBTEST is the LOINC
    # component, LBTESTCD its one word's first 8 letters, LBSPEC the LOINC system (Blood); ng/mL is ug/L
    psa = _obs("5671-3", "Lead [Mass/volume] in Blood")
    study, report = _read(tmp_path, [psa])
    (row,) = study["LB"].to_dict("records")
    assert (row["LBLOINC"], row["LBTESTCD"], row["LBTEST"], row["LBSPEC"]) == \
        ("5671-3", "LEAD", "Lead", "BLOOD")
    assert (row["LBORRES"], row["LBORRESU"]) == ("1.2", "ug/L")
    assert any("LOINC 5671-3 -> LEAD (Lead): 1" in n for n in report.notes)
    assert report.warnings and not report.rejects
    # --strict: rejected, with the reason and code
    study, report = _read(tmp_path, [psa], strict=True)
    (reject,) = report.rejects
    assert reject.code == "REJ-FHIR-005" and "--strict" in reject.reason and "LOINC 5671-3" in reject.value


def test_sponsor_test_codes_are_valid_sdtm_test_codes() -> None:
    for _loinc, display, *_ in LAB_PANEL:
        code = base_code(component(display))
        assert re.fullmatch(r"[A-Z_][A-Z0-9_]{0,7}", code), (display, code)
    assert base_code("17-hydroxyprogesterone") == "X17H"  # "17" + initial H; no leading digit
    assert component("Cholesterol in HDL [Mass/volume] in Serum or Plasma") == "Cholesterol in HDL"


def test_offsets_become_local_time_and_a_period_keeps_its_end(tmp_path: Path) -> None:
    a = _obs("2857-1", "PSA", effectiveDateTime="2021-07-01T12:00:00Z")
    b = _obs("2857-1", "PSA", id="o2", effectiveDateTime="2021-01-15T08:00:00+01:00")
    c = _obs("2857-1", "PSA", id="o3", effectivePeriod={"start": "2021-02-01T22:00:00Z", "end": "2021-02-02T06:30:00Z"})
    del c["effectiveDateTime"]
    study, report = _read(tmp_path, [a, b, c], timezone="Europe/Berlin")
    lb = study["LB"].set_index("LBDTC")
    assert sorted(lb.index) == ["2021-01-15T08:00", "2021-02-01T23:00", "2021-07-01T14:00"]
    assert lb.loc["2021-02-01T23:00", "LBENDTC"] == "2021-02-02T07:30"
    assert any("converted to the local time of Europe/Berlin" in n for n in report.notes)
    study, _ = _read(tmp_path, [a, b], study_meta=StudyMeta(studyid="S", timezone="America/New_York"))
    assert sorted(study["LB"]["LBDTC"]) == ["2021-01-15T02:00", "2021-07-01T08:00"]  # the study's zone by default
    study, report = _read(tmp_path, [a, b])
    assert sorted(study["LB"]["LBDTC"]) == ["2021-01-15T08:00", "2021-07-01T12:00"]  # no zone: clock as written
    assert any("no time zone given" in n for n in report.notes)
    assert len(lb) == 3


def _admin(status: str, **extra: Any) -> dict[str, Any]:
    res = {"resourceType": "MedicationAdministration", "id": f"ma-{status}", "status": status,
           "medicationCodeableConcept": {"text": "vancomycin"}, "subject": {"reference": "Patient/p1"},
           "effectiveDateTime": "2021-05-11T10:00:00-04:00",
           "dosage": {"dose": {"value": 1, "unit": "g", "system": "http://unitsofmeasure.org", "code": "g"}}}
    res.update(extra)
    return res


def test_a_dose_not_given_never_becomes_an_ex_record(tmp_path: Path) -> None:
    on_hold = _admin("on-hold", statusReason=[{"coding": [{"system": "http://snomed.info/sct", "code": "373147003",
                                                            "display": "Administration of medication not done due "
                                                            "to a contraindication (situation)"}]}])
    stopped = _admin("stopped", dosage={})
    reason = _admin("in-progress", statusReason=[{"text": "patient asleep"}])
    study, report = _read(tmp_path, [_admin("completed"), _admin("not-done"), on_hold, stopped, reason,
                                     _admin("entered-in-error"), _admin("unknown")])
    assert list(study["EX"]["EXTRT"]) == ["vancomycin"] and study["EX"]["EXDOSE"].iloc[0] == 1.0
    why = {k[1].split(":")[0]: n for k, n in report.skipped_why.items() if k[0] == "MedicationAdministration"}
    assert why == {"status not-done": 1, "status on-hold": 1, "status stopped with no dose given (no dosage.dose "
                   "above 0); no EX record (SDTMIG 3.2 section 6.1": 1, "a statusReason with status in-progress": 1}
    assert {r.value for r in report.rejects} == {"entered-in-error", "unknown"}
    assert {r.code for r in report.rejects} == {"REJ-FHIR-004"}
    assert "MedicationAdministration: read 7 = converted 1 + rejected 2 + skipped 4" in report.reconciliation()


def test_the_newest_version_wins_and_the_older_is_counted(tmp_path: Path) -> None:
    old = _obs("2857-1", "PSA", meta={"versionId": "1", "lastUpdated": "2021-03-04T10:00:00-05:00"})
    new = copy.deepcopy(old)
    new["meta"] = {"versionId": "2", "lastUpdated": "2021-03-05T10:00:00+01:00"}
    new["valueQuantity"]["value"] = 2.5
    for order in ([new, old], [old, new]):
        study, report = _read(tmp_path, order)
        assert list(study["LB"]["LBORRES"]) == ["2.5"]
        assert report.skipped == {"Observation": 1}
        assert any("older version" in why for (_f, why) in report.skipped_why)
        assert not report.rejects  # history is not bad data: nothing rejected, exit 0
        (line,) = report.superseded  # the older version is listed with where it was
        assert "meta.versionId 1" in line and "the newest (meta.versionId 2" in line


def test_an_ingredient_only_medication_gives_extrt_from_its_ingredients(tmp_path: Path) -> None:
    r4 = medication_given("ma1", "Patient/p1")
    r5 = copy.deepcopy(r4)
    r5["id"] = "ma2"
    r5["contained"][0]["ingredient"] = [{"item": {"concept": {"coding": [{"system": "http://www.nlm.nih.gov/research/"
                                                                          "umls/rxnorm", "code": "8339",
                                                                          "display": "piperacillin"}]}}},
                                        {"item": {"concept": {"text": "tazobactam"}}}]
    study, _ = _read(tmp_path, [r4, r5])
    assert list(study["EX"]["EXTRT"]) == ["piperacillin / tazobactam"] * 2
    assert list(study["EX"]["EXROUTE"]) == ["INTRAVENOUS"] * 2


def test_keyed_pseudonyms_and_the_enrolment_table(tmp_path: Path, ehr: dict[str, Any]) -> None:
    key = tmp_path / "key"
    key.write_text("a long random secret only the sponsor has", encoding="utf-8")
    out = tmp_path / "out"
    res = _run("from-fhir", ehr["in"], "-o", out, "--format", "csv", "--study", ehr["study"],
               "--pseudonym-key-file", key)
    assert res.exit_code == 0, res.output
    dm = pd.read_csv(out / "csv" / "dm.csv", dtype=str)
    assert all(re.fullmatch(r"HOSP-01-[0-9A-F]{16}", u) for u in dm["USUBJID"])
    secret = "a long random secret"
    everything = res.output + "".join(p.read_text(encoding="utf-8") for p in out.rglob("*.csv")) + \
        (out / "rejects.json").read_text(encoding="utf-8")
    assert secret not in everything and not any(pid in everything for pid in ehr["ids"])
    again = load_enrolment("HOSP-01", key_file=key).subject(ehr["ids"][0])
    other = load_enrolment("HOSP-01", environ={"MSC_PSEUDONYM_KEY": "another secret of some length"}).subject(
        ehr["ids"][0])
    assert again is not None and other is not None
    assert again["usubjid"] in set(dm["USUBJID"]) and other["usubjid"] != again["usubjid"]
    # neither: the Patient id, said in a warning
    res = _run("from-fhir", ehr["in"] / "patient-0.json", "-o", tmp_path / "plain", "--format", "csv")
    assert res.exit_code == 0 and "hospital's Patient ids" in res.output
    # a Patient not in the table: rejected, with its records
    table = tmp_path / "one.csv"
    table.write_text(f"patient_id,subjid\n{ehr['ids'][0]},7\n", encoding="utf-8")
    res = _run("from-fhir", ehr["in"] / "patient-0.json", ehr["in"] / "patient-1.json", "-o", tmp_path / "one",
               "--format", "csv", "--subjects", table, "--study", ehr["study"])
    assert res.exit_code == 1
    rejects = orjson.loads((tmp_path / "one" / "rejects.json").read_bytes())["rejects"]
    patient = [r for r in rejects if r["form"] == "Patient"]
    assert len(patient) == 1 and "is not in the enrolment table one.csv" in patient[0]["reason"]
    assert {r["code"] for r in rejects} == {"REJ-FHIR-003"}  # its records go with it
    dm = pd.read_csv(tmp_path / "one" / "csv" / "dm.csv", dtype=str)
    assert list(dm["USUBJID"]) == ["HOSP-01-7"]


def test_a_bad_enrolment_table_is_refused_naming_the_line(tmp_path: Path, ehr: dict[str, Any]) -> None:
    table = tmp_path / "t.csv"
    table.write_text("patient_id,subjid\na,1\nb,\n", encoding="utf-8")
    res = _run("from-fhir", ehr["in"] / "patient-0.json", "-o", tmp_path / "o", "--subjects", table)
    assert res.exit_code == 2 and "t.csv line 3: subjid is empty" in res.output
    res = _run("from-fhir", ehr["in"] / "patient-0.json", "-o", tmp_path / "o", "--timezone", "Mars/Olympus")
    assert res.exit_code == 2 and "--timezone 'Mars/Olympus': not an IANA time zone name" in res.output
    short = tmp_path / "short.key"
    short.write_text("tiny", encoding="utf-8")
    res = _run("from-fhir", ehr["in"] / "patient-0.json", "-o", tmp_path / "o", "--pseudonym-key-file", short)
    assert res.exit_code == 2 and "shorter than 16 bytes" in res.output and "tiny" not in res.output


@pytest.mark.parametrize("release", ["r4", "r4b", "r5"])
def test_hl7_example_observations(shared_dir: Path, release: str, tmp_path: Path) -> None:
    files = sorted((shared_dir / "external" / "fhir-examples" / release).glob("Observation-*.json"))
    res = _run("from-fhir", *files, "-o", tmp_path, "--format", "csv")
    # exit 1: f004's referenceRange (text only) is listed as converted without LBORNRLO/HI (tests/fhir/test_fhir_read)
    assert res.exit_code == 1, res.output
    report = orjson.loads((tmp_path / "rejects.json").read_bytes())
    (obs,) = [c for c in report["counts"] if c["form"] == "Observation"]
    assert (obs["read"], obs["converted"], obs["rejected"], obs["skipped"]) == (9, 8, 0, 1)  # body weight: VS
    assert obs["converted_without_a_field"] == 1
    assert [(x["file"], x["field"]) for x in report["rejects"]] == [("Observation-f004.json",
                                                                     "Observation.referenceRange")]
    lb = pd.read_csv(tmp_path / "csv" / "lb.csv", dtype=str, keep_default_na=False)
    # every one placed under its catalogue test (values checked by hand in tests/fhir/test_fhir_read.py)
    assert sorted(zip(lb["LBLOINC"], lb["LBTESTCD"], strict=True)) == [
        ("11555-0", "BASEEXCS"), ("11557-6", "PCO2"), ("15074-8", "GLUC"), ("1963-8", "BICARB"), ("718-7", "HGB"),
        ("789-8", "RBC"), ("883-9", "ABO")]
    assert not [n for n in report["notes"] if "SPONSOR-DEFINED" in n]
    why = {s["reason"].split(":")[0]: s["count"] for s in report["skipped"]}
    assert why == {"no laboratory category and no LOINC or mapped code": 1}
    vs = pd.read_csv(tmp_path / "csv" / "vs.csv", dtype=str, keep_default_na=False)
    assert vs[["VSTESTCD", "VSORRES", "VSORRESU", "VSSTRESC", "VSSTRESU"]].values.tolist() == [
        ["WEIGHT", "185", "LB", "83.9", "kg"]]


def test_routes_map_to_cdisc_ct_through_snomed_and_edqm_codes_else_are_flagged(tmp_path: Path) -> None:
    def with_route(rid: str, route: dict[str, Any]) -> dict[str, Any]:
        res = _admin("completed", id=rid)
        res["dosage"]["route"] = route
        return res

    study, report = _read(tmp_path, [
        with_route("a", {"coding": [{"system": "http://snomed.info/sct", "code": "26643006"}], "text": "by mouth"}),
        with_route("b", {"coding": [{"system": "http://standardterms.edqm.eu", "code": "20066000"}]}),
        with_route("c", {"text": "i.v."}),
        with_route("d", {"coding": [{"system": "http://example.org/routes", "code": "XYZ"}], "text": "via PEG tube"})])
    assert list(study["EX"]["EXROUTE"]) == ["ORAL", "SUBCUTANEOUS", "INTRAVENOUS", "via PEG tube"]
    note = next(n for n in report.notes if "not CDISC CT" in n)
    assert "EXROUTE 'via PEG tube' (http://example.org/routes|XYZ): 1" in note and note in report.warnings


def test_dose_units_map_to_cdisc_unit_else_are_flagged(tmp_path: Path, shared_dir: Path) -> None:
    """EXDOSU through units.yaml (the table LB uses): UCUM meq -> mEq, [iU] -> IU, text tablet -> TABLET; a unit
    with no CT term is kept as sent and flagged NOT CT, as routes and forms are."""
    def with_dose(rid: str, dose: dict[str, Any]) -> dict[str, Any]:
        return _admin("completed", id=rid, dosage={"dose": {"value": 2, **dose}})

    ucum = "http://unitsofmeasure.org"
    study, report = _read(tmp_path, [
        with_dose("a", {"unit": "meq", "system": ucum, "code": "meq"}),
        with_dose("b", {"unit": "[iU]", "system": ucum, "code": "[iU]"}),
        with_dose("c", {"unit": "tablet"}),
        with_dose("d", {"unit": "scoop", "system": ucum, "code": "{scoop}"})])
    assert list(study["EX"]["EXDOSU"]) == ["mEq", "IU", "TABLET", "scoop"]
    assert all(mappings.codelist("UNIT").term(u) is not None for u in ("mEq", "IU", "TABLET"))
    note = next(n for n in report.notes if "not CDISC CT" in n)
    assert "EXDOSU 'scoop' (http://unitsofmeasure.org|{scoop}): 1" in note and note in report.warnings
    # the HL7 R4 example: potassium chloride 20 meq
    ex = tmp_path / "hl7"
    example = shared_dir / "external" / "fhir-examples" / "r4" / "MedicationAdministration-medadmin0302.json"
    res = _run("from-fhir", example, "-o", ex, "--format", "csv")
    assert pd.read_csv(ex / "csv" / "ex.csv", dtype=str)["EXDOSU"].tolist() == ["mEq"], res.output


@pytest.mark.parametrize(("name", "key", "codelist"), [("routes_forms", "routes", "ROUTE"),
                                                       ("loinc_systems", "systems", "SPECTYPE")])
def test_mapped_terms_are_cdisc_ct(name: str, key: str, codelist: str) -> None:
    terms = {t.value: t.nci_code for t in mappings.codelist(codelist).terms}
    for entry in mappings.load(name)[key]:
        value = entry.get("cdisc") or entry["spectype"]
        assert terms.get(value) == entry["nci_code"], entry


def test_race_and_ethnicity_terms_are_cdisc_ct() -> None:
    data = mappings.load("race_ethnicity")
    for var, entries in data["codes"].items():
        terms = {t.value: t.nci_code for t in mappings.codelist(var).terms}
        for entry in entries:
            assert terms.get(entry["cdisc"]) == entry["nci_code"], entry


def test_conditions_land_in_mh_and_procedures_in_pr(converted: dict[str, Any]) -> None:
    """The problem-list Condition of each patient is an MH record, the encounter diagnosis is skipped with its
    reason, the chest X-ray Procedure is a PR record coded through mappings/procedures.yaml (SNOMED 399208008)."""
    report, data = converted["report"], converted["data"]
    counts = {c["form"]: c for c in report["counts"]}
    assert (counts["Condition"]["read"], counts["Condition"]["converted"], counts["Condition"]["skipped"]) == (
        2 * PATIENTS, PATIENTS, PATIENTS)
    why = {(s["form"], s["reason"].split(":")[0]): s["count"] for s in report["skipped"]}
    assert why[("Condition", "category encounter-diagnosis")] == PATIENTS
    mh = data["MH"]
    assert len(mh) == PATIENTS and set(mh["MHTERM"]) == {"Essential hypertension"}
    assert set(mh["MHSTDTC"]) == {"2015-03"} and set(mh["MHENRTPT"]) == {"ONGOING"}
    # ongoing as of when: the Conditions have no recordedDate, so as of the extract (SDTMIG 4.4.7 needs MHENTPT)
    assert set(mh["MHENTPT"]) == {"FHIR DATA EXTRACTION"}
    pr = data["PR"]
    assert (counts["Procedure"]["read"], counts["Procedure"]["converted"]) == (PATIENTS, PATIENTS)
    assert set(pr["PRTRT"]) == {"Plain chest X-ray"} and set(pr["PRDECOD"]) == {"X-RAY"}
    assert set(pr["PRLOC"]) == {"CHEST"}
    # 10:30 at -05:00 is 10:30 New York time (the study's time zone)
    assert set(pr["PRSTDTC"]) == {"2021-01-11T10:30"}


def test_without_a_study_identifier_a_note_says_studyid_is_empty(ehr: dict[str, Any], tmp_path: Path) -> None:
    """A hospital export has no ResearchStudy: without --study, every dataset's STUDYID is empty (SDTM requires
    it), and a note says so and what to give; with --study (the converted fixture) there is no such note."""
    out = tmp_path / "out"
    res = _run("from-fhir", ehr["in"], "-o", out, "--format", "csv", "--subjects", ehr["subjects"])
    notes = orjson.loads((out / "rejects.json").read_bytes())["notes"]
    assert [n for n in notes if n.startswith("no study identifier")] == [
        "no study identifier: the input has no ResearchStudy with one and no --study was given, so STUDYID is "
        "empty in every dataset (SDTM requires it): give --study study.yaml"], res.output
    dm = pd.read_csv(out / "csv" / "dm.csv", dtype=str, keep_default_na=False)
    assert set(dm["STUDYID"]) == {""}


def test_with_a_study_definition_there_is_no_such_note(converted: dict[str, Any]) -> None:
    assert not [n for n in converted["report"]["notes"] if n.startswith("no study identifier")]
    assert set(converted["data"]["DM"]["STUDYID"]) == {"HOSP-01"}
