"""Several normal (else untyped) referenceRanges for different populations (appliesTo sex, age): LBORNRLO/HI from
the one for the subject's sex and age at the Observation's date (fhir/resources/lab/population.py); none or several
left: empty, with a note naming why. Expected values worked out by hand from the dates and ranges below."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from msc_interop.fhir.read import read_fhir

LOINC, UCUM, SCT = "http://loinc.org", "http://unitsofmeasure.org", "http://snomed.info/sct"
GENDER = "http://hl7.org/fhir/administrative-gender"
MALE, FEMALE, PREGNANCY = "248153007", "248152002", "77386006"  # HL7 referencerange-appliesto (SNOMED CT)


def _q(value: float, unit: str) -> dict:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def _rr(low: float, high: float, unit: str = "g/dL", sex: str | None = None, age: tuple | None = None,
        applies: list[dict] | None = None) -> dict:
    rr: dict[str, Any] = {"low": _q(low, unit), "high": _q(high, unit)}
    given = list(applies or [])
    if sex is not None:
        given.append({"coding": [{"system": SCT, "code": sex}]})
    if given:
        rr["appliesTo"] = given
    if age is not None:  # (low, high, UCUM unit); None: no limit
        rr["age"] = {k: _q(v, age[2]) for k, v in (("low", age[0]), ("high", age[1])) if v is not None}
    return rr


def _hgb(oid: str, patient: str, when: str, ranges: list[dict], value: float = 14) -> dict:
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                      "code": "laboratory"}]}],
            "code": {"coding": [{"system": LOINC, "code": "718-7"}]}, "subject": {"reference": f"Patient/{patient}"},
            "effectiveDateTime": when, "valueQuantity": _q(value, "g/dL"), "referenceRange": ranges}


def _patient(pid: str, gender: str | None = None, born: str | None = None) -> dict:
    out = {"resourceType": "Patient", "id": pid, "gender": gender, "birthDate": born}
    return {k: v for k, v in out.items() if v is not None}


def _read(tmp_path: Path, resources: list[dict]) -> tuple[pd.DataFrame, Any, dict[str, str]]:
    """LB by Observation id (the ids are the USUBJID's Observations in date order), the report, and the range
    notes by Observation id."""
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": x} for x in resources]}
    path = tmp_path / "lb.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    study, report = read_fhir([path])
    obs = {(x["subject"]["reference"].split("/")[1], x["effectiveDateTime"][:16]): x["id"] for x in resources
           if x["resourceType"] == "Observation"}
    entry = {i: x["id"] for i, x in enumerate(resources)}  # the report's row: the entry's index; LBDTC: to minutes
    lb = study["LB"].set_axis([obs[k] for k in zip(study["LB"]["USUBJID"], study["LB"]["LBDTC"], strict=True)])
    notes = {entry[x.row]: x.reason for x in report.sorted() if x.field == "Observation.referenceRange"}
    return lb, report, notes


def _limits(lb: pd.DataFrame) -> dict[str, list[str]]:
    return {str(k): [str(v) for v in row] for k, row in lb[["LBORNRLO", "LBORNRHI"]].fillna("").iterrows()}


SEXED = [_rr(13.5, 17.5, sex=MALE), _rr(12.1, 15.1, sex=FEMALE)]


def test_the_range_for_the_subjects_sex(tmp_path: Path) -> None:
    """A male and a female subject each get their sex's range (SNOMED CT or AdministrativeGender codings); a subject
    with no gender, or gender other (DM SEX U), keeps LBORNRLO/HI empty, the note saying the sex is not known."""
    by_gender = [{**_rr(13.5, 17.5), "appliesTo": [{"coding": [{"system": GENDER, "code": "male"}]}]},
                 {**_rr(12.1, 15.1), "appliesTo": [{"coding": [{"system": GENDER, "code": "female"}]}]}]
    lb, report, notes = _read(tmp_path, [
        _patient("m", "male"), _patient("f", "female"), _patient("u"), _patient("o", "other"),
        _hgb("m1", "m", "2021-07-01", SEXED), _hgb("m2", "m", "2021-07-02", by_gender),
        _hgb("f1", "f", "2021-07-01", SEXED), _hgb("f2", "f", "2021-07-02", by_gender),
        _hgb("u1", "u", "2021-07-01", SEXED), _hgb("o1", "o", "2021-07-01", SEXED),
        {**_hgb("x1", "m", "2021-07-03", SEXED), "valueQuantity": _q(14, "furlong")}])  # rejected: not counted
    assert _limits(lb) == {"f1": ["12.1", "15.1"], "f2": ["12.1", "15.1"], "m1": ["13.5", "17.5"],
                           "m2": ["13.5", "17.5"], "o1": ["", ""], "u1": ["", ""]}
    assert lb.loc["m1", "LBSTNRLO"] == 135 and lb.loc["f1", "LBSTNRHI"] == 151  # g/dL x 10 = g/L
    assert set(notes) == {"u1", "o1"} and "x1" not in lb.index
    for why in notes.values():
        assert ": converted without LBORNRLO/LBORNRHI: 2 untyped referenceRanges with different limits" in why
        assert "the subject's sex is not known" in why
    said = [n for n in report.notes if "referenceRanges with different limits for different populations" in n]
    assert len(said) == 1 and said[0].startswith("4 Observation(s) ")


AGED = [_rr(11, 16, age=(0, 17, "a")), _rr(12, 17, age=(18, 64, "a")), _rr(11.5, 16.5, age=(65, None, "a"))]


def test_the_range_for_the_subjects_age_at_each_edge(tmp_path: Path) -> None:
    """Born 2000-03-15: 17 on 2018-03-14, 18 on 2018-03-15 (its birthday), 64 on 2065-03-14, 65 on 2065-03-15;
    limits inclusive, in completed years. Months and days: born 2021-01-31, 5 months on 2021-07-30, 6 on
    2021-07-31; 6 days on 2021-02-06, 7 on 2021-02-07."""
    by_month = [_rr(9.5, 14, age=(0, 5, "mo")), _rr(10.5, 13.5, age=(6, 11, "mo"))]
    by_day = [_rr(14.5, 22.5, age=(0, 6, "d")), _rr(13, 20, age=(7, 30, "d"))]
    lb, report, notes = _read(tmp_path, [
        _patient("a", "female", "2000-03-15"), _patient("b", "male", "2021-01-31"),
        _hgb("a1", "a", "2018-03-14T08:00:00", AGED), _hgb("a2", "a", "2018-03-15T08:00:00", AGED),
        _hgb("a3", "a", "2065-03-14T08:00:00", AGED), _hgb("a4", "a", "2065-03-15T08:00:00", AGED),
        _hgb("b1", "b", "2021-02-06", by_day), _hgb("b2", "b", "2021-02-07", by_day),
        _hgb("b3", "b", "2021-07-30", by_month), _hgb("b4", "b", "2021-07-31", by_month)])
    assert _limits(lb) == {"a1": ["11", "16"], "a2": ["12", "17"], "a3": ["12", "17"], "a4": ["11.5", "16.5"],
                           "b1": ["14.5", "22.5"], "b2": ["13", "20"], "b3": ["9.5", "14"], "b4": ["10.5", "13.5"]}
    assert notes == {}
    assert any(n.startswith("8 Observation(s) have several") for n in report.notes)


def test_what_is_not_known_leaves_the_range_empty(tmp_path: Path) -> None:
    """No birthDate: the age bands are not decided; a birth year only decides a band it is wholly inside (born in
    1980: 40 or 41 on 2021-06-01, within 18-64) but not one it straddles (born in 2003: 17 or 18); sex and age
    together (a male aged 41: the male 18-64 range of four)."""
    both = [_rr(13.5, 17.5, sex=MALE, age=(18, 64, "a")), _rr(12.1, 15.1, sex=FEMALE, age=(18, 64, "a")),
            _rr(12.6, 17.4, sex=MALE, age=(65, 120, "a")), _rr(11.7, 16.1, sex=FEMALE, age=(65, 120, "a"))]
    lb, _, notes = _read(tmp_path, [
        _patient("n", "male"), _patient("y", "male", "1980"), _patient("t", "female", "2003"),
        _patient("s", "male", "1980-05-10"),
        _hgb("n1", "n", "2021-06-01", AGED), _hgb("y1", "y", "2021-06-01", AGED), _hgb("t1", "t", "2021-06-01", AGED),
        _hgb("s1", "s", "2021-06-01", both), _hgb("n2", "n", "2021-06-01T09:00:00", both),
        _hgb("s2", "s", "2021-06-02", both[1::2])])  # the female ranges only: none is his
    assert _limits(lb) == {"n1": ["", ""], "n2": ["", ""], "s1": ["13.5", "17.5"], "s2": ["", ""], "t1": ["", ""],
                           "y1": ["12", "17"]}
    assert set(notes) == {"n1", "n2", "s2", "t1"}
    assert "none is for the subject (sex M, age 41 a at 2021-06-02 (from DM BRTHDTC))" in notes["s2"]
    assert "the subject's age at the Observation's date is not known (no BRTHDTC" in notes["n1"]
    assert "3 of them may be for the subject" in notes["n1"]
    assert "2 of them may be for the subject" in notes["n2"]  # the female ranges excluded by sex
    assert "not known to the unit of its ages" in notes["t1"] and "17-18 a at 2021-06-01" in notes["t1"]


def test_an_applies_to_that_is_no_sex(tmp_path: Path) -> None:
    """A range for pregnancy (SNOMED CT 77386006) or a race, or given as text, is not decided by sex or age: it is
    not excluded, so it leaves the Observation undecided, unless its own sex excludes it (a female pregnancy range
    for a male subject) or it has the other range's limits."""
    pregnant = {"coding": [{"system": SCT, "code": PREGNANCY}]}
    race = {"coding": [{"system": "urn:oid:2.16.840.1.113883.6.238", "code": "2054-5"}]}
    with_female_pregnancy = [*SEXED, _rr(11, 14, sex=FEMALE, applies=[pregnant])]
    with_pregnancy = [*SEXED, _rr(11, 14, applies=[pregnant])]
    with_race_same_limits = [*SEXED, _rr(13.5, 17.5, sex=MALE, applies=[race])]
    with_text = [*SEXED, _rr(11, 14, applies=[{"text": "athletes"}])]
    lb, _, notes = _read(tmp_path, [
        _patient("m", "male"), _patient("f", "female"),
        _hgb("m1", "m", "2021-07-01", with_female_pregnancy), _hgb("m2", "m", "2021-07-02", with_pregnancy),
        _hgb("m3", "m", "2021-07-03", with_race_same_limits), _hgb("m4", "m", "2021-07-04", with_text),
        _hgb("f1", "f", "2021-07-01", with_female_pregnancy)])
    assert _limits(lb) == {"f1": ["", ""], "m1": ["13.5", "17.5"], "m2": ["", ""], "m3": ["13.5", "17.5"],
                           "m4": ["", ""]}
    assert set(notes) == {"f1", "m2", "m4"}
    assert f"appliesTo '{PREGNANCY}' is no sex" in notes["f1"] and "2 of them may be" in notes["f1"]
    assert f"appliesTo '{PREGNANCY}' is no sex" in notes["m2"]
    assert "appliesTo 'athletes' is no sex" in notes["m4"]


def test_the_chosen_range_in_another_unit_and_ages_not_read(tmp_path: Path) -> None:
    """The subject's range given in g/L beside a value in g/dL is converted as any range (135 g/L -> 13.5 g/dL);
    an age in hours or with a fractional limit cannot be read (a date gives no hours), so it decides nothing."""
    in_gl = [_rr(135, 175, "g/L", sex=MALE), _rr(121, 151, "g/L", sex=FEMALE)]
    hours = [_rr(14.5, 22.5, age=(0, 72, "h")), _rr(13, 20, age=(73, 720, "h"))]
    fraction = [_rr(9.5, 14, age=(0, 0.5, "a")), _rr(10.5, 13.5, age=(0.5, 1, "a"))]
    lb, _, notes = _read(tmp_path, [
        _patient("m", "male", "1980-05-10"),
        _hgb("m1", "m", "2021-07-01", in_gl), _hgb("m2", "m", "2021-07-02", hours),
        _hgb("m3", "m", "2021-07-03", fraction)])
    assert _limits(lb) == {"m1": ["13.5", "17.5"], "m2": ["", ""], "m3": ["", ""]}
    assert (lb.loc["m1", "LBSTNRLO"], lb.loc["m1", "LBSTNRHI"], lb.loc["m1", "LBSTRESU"]) == (135, 175, "g/L")
    assert set(notes) == {"m2", "m3"}
    assert all("its age limits are not whole numbers of UCUM a, mo, wk or d" in n for n in notes.values())


def test_age_from_dm_age_at_rfstdtc() -> None:
    """Without BRTHDTC, AGE 41 YEARS at RFSTDTC 2021-05-10 means born from 1979-05-11 (41 on 2021-05-10, 42 the
    next day; born a day earlier, 42 already) to 1980-05-10 (41 that day); AGE 7 MONTHS: born 2020-09-11 to
    2020-10-10; no RFSTDTC or no AGEU: not known. SEX other than M / F: not known."""
    from msc_interop.fhir.resources.lab.population import Subjects  # here: the read tests run without it too

    dm = pd.DataFrame({"USUBJID": ["a", "b", "c", "d", "e"], "SEX": ["M", "F", "U", "", "M"],
                       "BRTHDTC": ["", "", "", "2000-03", ""], "AGE": [41, 7.0, 41, None, 41],
                       "AGEU": ["YEARS", "MONTHS", "", "", "YEARS"],
                       "RFSTDTC": ["2021-05-10", "2021-05-10T08:00", "2021-05-10", "", ""]})
    people = Subjects(dm)
    assert people.facts("a") == ("M", (date(1979, 5, 11), date(1980, 5, 10)), "AGE at RFSTDTC")
    assert people.facts("b") == ("F", (date(2020, 9, 11), date(2020, 10, 10)), "AGE at RFSTDTC")
    assert people.facts("c") == ("", None, "AGE at RFSTDTC")
    assert people.facts("d") == ("", (date(2000, 3, 1), date(2000, 3, 31)), "BRTHDTC")
    assert people.facts("e")[1] is None and people.facts("zz") == ("", None, "AGE at RFSTDTC")


def test_from_fhir_a_subject_at_a_time_chooses_the_same(tmp_path: Path) -> None:
    """from-fhir on an NDJSON export, whole and one subject a partition (each partition's DM decides its
    Observations): the same LB ranges and the same note, counting the 2 Observations given their subject's range."""
    from msc_interop import api

    export = tmp_path / "export"
    export.mkdir()
    patients = [_patient("m", "male", "1980-05-10"), _patient("f", "female", "1990-01-01"), _patient("u")]
    obs = [_hgb("m1", "m", "2021-07-01", SEXED), _hgb("f1", "f", "2021-07-01", SEXED),
           _hgb("u1", "u", "2021-07-01", SEXED)]
    for name, rows in (("Patient", patients), ("Observation", obs)):
        (export / f"{name}.ndjson").write_text("".join(json.dumps(x) + "\n" for x in rows), encoding="utf-8")
    runs = {}
    for partition in ("off", 1):
        out = tmp_path / f"out-{partition}"
        result = api.from_fhir([export], out, formats=["csv"], created="2026-01-01T00:00:00",
                               partition_subjects=partition)
        lb = pd.read_csv(out / "csv" / "lb.csv", dtype=str, keep_default_na=False).sort_values("USUBJID")
        runs[partition] = (lb[["USUBJID", "LBORNRLO", "LBORNRHI"]].values.tolist(),
                           [n for n in result.rejects.notes if "for different populations" in n])
    assert runs["off"] == runs[1]
    assert runs[1][0] == [["f", "12.1", "15.1"], ["m", "13.5", "17.5"], ["u", "", ""]]
    assert len(runs[1][1]) == 1 and runs[1][1][0].startswith("2 Observation(s) ")
