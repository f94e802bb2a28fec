"""DS <-> ResearchSubject (status / period / R5 progress) and SV <-> Encounter (period): the elements written for
hand-checked records of the example study, the round trips, and an R5 ResearchSubject of others read into DS."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest
from fhir_fixtures import assert_same, example, written  # noqa: F401

from msc_interop.api import load_study, synth
from msc_interop.fhir import read_fhir, write_fhir
from msc_interop.study import Study

SUBJECT = "MSC-SLE-2009-01-01"
RECORD = "https://msc-interop.github.io/fhir/StructureDefinition/sdtm-record"
NCIT = "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"


def _resources(folder: Path, rtype: str) -> list[dict[str, Any]]:
    return [orjson.loads(x) for x in (folder / f"{rtype}.ndjson").read_bytes().splitlines()]


def _subject(folder: Path, usubjid: str) -> dict[str, Any]:
    return next(r for r in _resources(folder, "ResearchSubject")
                if any(i["value"] == usubjid for i in r["identifier"]))


def _record(element: dict[str, Any]) -> dict[str, Any]:
    """The sdtm-record extension of an element as {dataset, row}."""
    found = next(e for e in element["extension"] if e["url"] == RECORD)
    return {s["url"]: s.get("valueCode", s.get("valueInteger")) for s in found["extension"]}


def _round_trip(study: Study, folder: Path, version: str, names: tuple[str, ...] = ("DM", "DS", "SV")) -> Study:
    result = write_fhir(study, folder, version=version, ndjson=True)
    assert result.valid, result.findings[:3]
    for files in ([folder / "bundle.json"], sorted(folder.glob("*.ndjson"))):
        back, _ = read_fhir(files)
        assert_same(study, back, names)
    return back


# --- the elements, hand-checked against fixtures/example_study ------------------------------------------------

def test_r4_research_subject_has_the_disposition(written: dict[str, Path]) -> None:  # noqa: F811
    rs = _subject(written["R4"], SUBJECT)
    # disposition.csv: subject 01 COMPLETED on 2015-11-08 (DM RFPENDTC is the same day)
    assert rs["status"] == "off-study"
    assert rs["period"]["end"] == "2015-11-08"
    assert _record(rs["_status"]) == {"dataset": "DS", "row": 1}
    carried = next(e for e in rs["_status"]["extension"] if e["url"].endswith("/sdtm-variables"))["extension"]
    assert {"url": "DSDECOD", "valueString": "COMPLETED"} in carried
    assert {"url": "DSTERM", "valueString": "Completed the 6-year follow-up"} in carried


def test_r5_research_subject_has_a_progress_reason(written: dict[str, Path]) -> None:  # noqa: F811
    rs = _subject(written["R5"], SUBJECT)
    assert rs["status"] == "active"  # R5 status is the resource's publication state
    (entry,) = rs["progress"]
    assert entry["subjectState"]["coding"][0]["code"] == "off-study"
    # research-subject-state-type (THO; HL7 xver-r5.r4 0.1.0 publishes it): Enrollment = one state at a time
    assert entry["type"] == {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/research-subject-state-type",
                                         "code": "Enrollment", "display": "Enrollment status"}], "text": "state"}
    # NCOMPLT COMPLETED = NCI C25250 (codelists.json), DSTERM as the text
    assert entry["reason"] == {"coding": [{"system": NCIT, "code": "C25250", "display": "Complete"}],
                               "text": "Completed the 6-year follow-up"}
    assert entry["startDate"] == "2015-11-08"
    assert _record(entry) == {"dataset": "DS", "row": 1}
    assert rs["period"]["end"] == "2015-11-08"


@pytest.mark.parametrize(("version", "period", "status"), [("R4", "period", "finished"),
                                                          ("R5", "actualPeriod", "completed")])
def test_encounter_has_the_visit_period(written: dict[str, Path], version: str, period: str,  # noqa: F811
                                        status: str) -> None:
    encounters = {e["id"]: e for e in _resources(written[version], "Encounter")}
    assert len(encounters) == 63  # one per SV record: 9 subjects x 7 visits, as before SV was mapped
    first = next(e for e in encounters.values() if e["id"].endswith(f"{SUBJECT}-v1"))
    # SV row 1: BASELINE, SVSTDTC 2009-09-30, SVENDTC 2009-09-30T09:05 (Asia/Shanghai, +08:00)
    assert first[period] == {"start": "2009-09-30", "end": "2009-09-30T09:05:00+08:00"}
    assert first["status"] == status and first["type"] == [{"text": "BASELINE"}]
    assert _record(first) == {"dataset": "SV", "row": 1}
    second = next(e for e in encounters.values() if e["id"].endswith(f"{SUBJECT}-v2"))
    assert second[period] == {"start": "2009-10-04T09:04:00+08:00", "end": "2009-10-04T09:49:00+08:00"}


# --- round trips -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["R4", "R5"])
def test_example_ds_and_sv_come_back(written: dict[str, Path], example: Study, version: str) -> None:  # noqa: F811
    for files in ([written[version] / "bundle.json"], sorted(written[version].glob("*.ndjson"))):
        back, _ = read_fhir(files)
        assert_same(example, back, ("DM", "DS", "SV"))


@functools.cache
def _scale_study(root: str) -> Study:
    synth(Path(root), subjects=30, seed=1, profile="scale")  # seed 1: subject 05 withdrew, 07 lost to follow-up
    study, _ = load_study(Path(root))
    return study


@pytest.mark.parametrize("version", ["R4", "R5"])
def test_discontinued_subjects_round_trip(tmp_path_factory: pytest.TempPathFactory, version: str) -> None:
    study = _scale_study(str(tmp_path_factory.getbasetemp() / "scale_ds"))
    ds = study["DS"]
    assert set(ds["DSDECOD"]) == {"COMPLETED", "LOST TO FOLLOW-UP", "WITHDRAWAL BY SUBJECT"}
    out = tmp_path_factory.mktemp(f"ds_{version}")
    _round_trip(study, out, version)
    lost = ds.loc[ds["DSDECOD"] == "LOST TO FOLLOW-UP"].iloc[0]
    rs = _subject(out, lost["USUBJID"])
    if version == "R4":
        assert rs["status"] == "off-study"
        assert rs["period"]["end"] == lost["DSSTDTC"]
    else:
        reason = rs["progress"][0]["reason"]
        assert reason["coding"][0]["code"] == "C48227"  # NCOMPLT LOST TO FOLLOW-UP
        assert reason["text"] == lost["DSTERM"]


@pytest.mark.parametrize("version", ["R4", "R5"])
def test_records_without_an_element_still_come_back(example: Study, tmp_path: Path,  # noqa: F811
                                                    version: str) -> None:
    """A second DS record of a subject (then neither is placed), a DS protocol milestone, an SV record of a visit
    no other record has (it gets its own Encounter), an SV record repeating a visit (rides on the subject), and
    dates FHIR cannot hold as they are (kept in sdtm-dtc)."""
    ds, sv = example["DS"].copy(), example["SV"].copy()
    ds.loc[2, "DSSTDTC"] = "2015---08"  # subject 03: a day without its month
    sv.loc[2, "SVSTDTC"], sv.loc[3, "SVENDTC"] = "2009-10", "2010---17"
    extra_ds = ds.iloc[[0, 1]].assign(DSSEQ=pd.array([2, 2], dtype="Int64"),
                                      DSCAT=["DISPOSITION EVENT", "PROTOCOL MILESTONE"],
                                      DSDECOD=["DEATH", "INFORMED CONSENT OBTAINED"], DSTERM=["Died", "Consented"])
    new_visit = sv.iloc[[0]].assign(VISITNUM=99.0, VISIT="UNSCHEDULED", SVSTDTC="2012-01-02", SVENDTC="")
    repeat = sv.iloc[[1]]
    study = Study(example.meta, {**example.datasets, "DS": pd.concat([ds, extra_ds], ignore_index=True),
                                 "SV": pd.concat([sv, new_visit, repeat], ignore_index=True)})
    _round_trip(study, tmp_path, version)
    assert len(_resources(tmp_path, "Encounter")) == 64  # the 63 visits and the unscheduled one
    two = _subject(tmp_path, SUBJECT)  # two disposition events: no status from DS, both in sdtm-supplemental
    assert "_status" not in two and all("reason" not in p for p in two.get("progress", []))
    one = _subject(tmp_path, "MSC-SLE-2009-01-02")  # its milestone rides along; its one disposition is placed
    assert "_status" in one or "reason" in one["progress"][0]
    if version == "R5":
        gap = _subject(tmp_path, "MSC-SLE-2009-01-03")["progress"][0]
        assert gap["startDate"] == "2015" and gap["_startDate"]["extension"][0]["valueString"] == "2015---08"


def test_cdisc_pilot_sv_round_trip(shared_dir: Path, tmp_path: Path) -> None:
    study, _ = load_study(shared_dir / "external" / "cdisc-pilot-original")
    sv = study["SV"]
    for version in ("R4", "R5"):
        back = _round_trip(study, tmp_path / version, version, ("DM", "SV"))
        assert len(back["SV"]) == len(sv)


# --- FHIR written by others ----------------------------------------------------------------------------------

def test_r5_progress_reason_of_others_becomes_a_ds_record(tmp_path: Path) -> None:
    patient = {"resourceType": "Patient", "id": "p1", "gender": "female"}
    subject = {"resourceType": "ResearchSubject", "id": "s1", "status": "active",
               "subject": {"reference": "Patient/p1"}, "study": {"reference": "ResearchStudy/elsewhere"},
               "progress": [{"subjectState": {"coding": [{
                   "system": "http://terminology.hl7.org/CodeSystem/research-subject-state", "code": "off-study"}]},
                   "reason": {"coding": [{"system": NCIT, "code": "C48227"}], "text": "Moved, no forwarding address"},
                   "startDate": "2015-03-19"}]}
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"fullUrl": "urn:uuid:1", "resource": patient}, {"fullUrl": "urn:uuid:2", "resource": subject}]}
    path = tmp_path / "bundle.json"
    path.write_bytes(orjson.dumps(bundle))
    study, _ = read_fhir([path])
    ds = study["DS"]
    assert len(ds) == 1
    row = ds.iloc[0]
    assert (row["USUBJID"], row["DSDECOD"], row["DSTERM"], row["DSCAT"], row["DSSTDTC"]) == (
        "p1", "LOST TO FOLLOW-UP", "Moved, no forwarding address", "DISPOSITION EVENT", "2015-03-19")
    assert row["DSSEQ"] == 1
