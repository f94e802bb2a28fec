"""to-fhir from SDTM: a record repeating the key of a dataset with one record per key (DM: USUBJID; SV: USUBJID,
VISITNUM; what validate reports as MSC-SDTM-021) is rejected with its place and the row it repeats, not folded
silently into the first record's resource; and every dataset to-fhir writes (SV and DS included) gets its
`read = converted + rejected` line.

Found on the CDISC pilot: SV holds 01-711-1143 VISITNUM 9.2 twice (2013-06-22 and 2013-09-22); the bundle had
one Encounter for both, no reject, no SV count line."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import EXAMPLE
from msc_interop import api
from msc_interop.cli import main

SUBJECT = "MSC-SLE-2009-01-01"


def run_cli(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def sdtm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("keys") / "sdtm"
    api.to_sdtm(EXAMPLE, out, formats=["csv"], validate=False, created="2026-01-01T00:00:00")
    return out / "csv"


def _copy(sdtm: Path, dest: Path) -> Path:
    shutil.copytree(sdtm, dest)
    return dest


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _resources(bundle: Path) -> list[dict[str, Any]]:
    return [e["resource"] for e in orjson.loads(bundle.read_bytes())["entry"]]


def _repeat_row(path: Path, row: int, **changes: str) -> pd.DataFrame:
    """Append a copy of data row `row` (0-based) of a CSV dataset with `changes`; the frame as written."""
    df = _csv(path)
    extra = df.iloc[[row]].assign(**changes)
    df = pd.concat([df, extra], ignore_index=True)
    df.to_csv(path, index=False)
    return df


def test_a_second_sv_record_of_a_visit_is_rejected_naming_the_row_it_repeats(sdtm: Path, tmp_path: Path) -> None:
    folder = _copy(sdtm, tmp_path / "sdtm")
    sv = _csv(folder / "sv.csv")
    first = sv.index[(sv.USUBJID == SUBJECT) & (sv.VISITNUM == "2")][0]
    sv = _repeat_row(folder / "sv.csv", first, SVSTDTC="2009-12-01", SVENDTC="2009-12-01")
    res = run_cli("to-fhir", folder, "-o", tmp_path / "fhir", "--timezone", "Asia/Shanghai", "--no-validate")
    assert res.exit_code == 1, res.output  # records rejected
    n = len(sv)
    assert f"SV: read {n} = converted {n - 1} + rejected 1" in res.output
    rejects = _csv(tmp_path / "fhir" / "rejects.csv")
    (rej,) = rejects.loc[rejects.form == "SV"].to_dict("records")
    # the appended record is data row n: line n + 1 of the CSV (the header is line 1)
    assert (rej["file"], rej["row"], rej["field"], rej["value"], rej["code"]) == (
        "sv.csv", str(n), "VISITNUM", "2", "REJ-SDTM-005")
    assert f"USUBJID '{SUBJECT}', VISITNUM 2" in rej["reason"] and f"row {first + 1}" in rej["reason"]
    assert "MSC-SDTM-021" in rej["reason"]
    resources = _resources(tmp_path / "fhir" / "bundle.json")
    encounters = [r for r in resources if r["resourceType"] == "Encounter"]
    assert len(encounters) == n - 1 == len({e["id"] for e in encounters})
    visit = next(e for e in encounters if e["id"].endswith(f"{SUBJECT}-v2"))
    # the first record's visit (Shanghai's offset stated on its clock time)
    assert visit["period"]["start"] == f"{sv.SVSTDTC[first]}:00+08:00" != "2009-12-01"
    # the rejected record is not carried anywhere either (it was on the ResearchSubject before)
    assert b"2009-12-01" not in (tmp_path / "fhir" / "bundle.json").read_bytes()
    # the records of other domains at that visit are named in a note: they refer to the first record's Encounter
    vs = _csv(folder / "vs.csv")  # (LB has no visit 2)
    at_visit = int(((vs.USUBJID == SUBJECT) & (vs.VISITNUM == "2")).sum())
    assert at_visit > 0
    notes = orjson.loads((tmp_path / "fhir" / "rejects.json").read_bytes())["notes"]
    (note,) = [x for x in notes if x.startswith("SV:")]
    assert f"VS {at_visit}" in note and f"row {first + 1}" in note and visit["id"] in note
    refs = Counter(r["encounter"]["reference"] for r in resources
                   if r["resourceType"] == "Observation" and "encounter" in r)
    full = next(e["fullUrl"] for e in orjson.loads((tmp_path / "fhir" / "bundle.json").read_bytes())["entry"]
                if e["resource"]["id"] == visit["id"])
    assert refs[full] >= at_visit


def test_sv_read_back_has_the_records_converted(sdtm: Path, tmp_path: Path) -> None:
    folder = _copy(sdtm, tmp_path / "sdtm")
    sv = _csv(folder / "sv.csv")
    _repeat_row(folder / "sv.csv", 3, SVSTDTC="2011-01-01", SVENDTC="")
    assert run_cli("to-fhir", folder, "-o", tmp_path / "fhir", "--timezone", "Asia/Shanghai",
                   "--no-validate").exit_code == 1
    back, _ = api.read_any([tmp_path / "fhir" / "bundle.json"])
    got = back["SV"][["USUBJID", "VISITNUM", "SVSTDTC"]].astype(str).values.tolist()
    assert len(got) == len(sv) and "2011-01-01" not in {x[2] for x in got}


def test_a_second_dm_record_of_a_subject_is_rejected_and_its_records_kept(sdtm: Path, tmp_path: Path) -> None:
    folder = _copy(sdtm, tmp_path / "sdtm")
    dm = _repeat_row(folder / "dm.csv", 0, AGE="99")
    ae = _csv(folder / "ae.csv")
    res = run_cli("to-fhir", folder, "-o", tmp_path / "fhir", "--timezone", "Asia/Shanghai", "--no-validate")
    assert res.exit_code == 1, res.output
    n = len(dm)
    assert f"DM: read {n} = converted {n - 1} + rejected 1" in res.output
    assert f"AE: read {len(ae)} = converted {len(ae)} + rejected 0" in res.output  # the subject's records stay
    rejects = _csv(tmp_path / "fhir" / "rejects.csv")
    (rej,) = rejects.to_dict("records")
    assert (rej["form"], rej["row"], rej["field"], rej["value"], rej["code"]) == (
        "DM", str(n), "USUBJID", dm.USUBJID[0], "REJ-SDTM-005")
    assert "row 1" in rej["reason"] and "MSC-SDTM-021" in rej["reason"]
    resources = _resources(tmp_path / "fhir" / "bundle.json")
    for rtype in ("Patient", "ResearchSubject"):
        found = [r["id"] for r in resources if r["resourceType"] == rtype]
        assert len(found) == n - 1 == len(set(found)), rtype  # one per subject: no id written twice
    subject = next(r for r in resources if r["resourceType"] == "ResearchSubject"
                   and r["identifier"][0]["value"] == dm.USUBJID[0])
    ages = [e["valueInteger"] for x in subject["extension"] if x["url"].endswith("/sdtm-variables")
            for e in x["extension"] if e["url"] == "AGE"]
    assert ages == [int(dm.AGE[0])] and ages != [99]


def test_every_dataset_written_has_its_count_line_and_output_is_deterministic(sdtm: Path, tmp_path: Path) -> None:
    outs = []
    for run in ("a", "b"):
        res = run_cli("to-fhir", sdtm, "-o", tmp_path / run, "--timezone", "Asia/Shanghai", "--no-validate")
        assert res.exit_code == 0, res.output
        outs.append(res.output)
    for name in ("SV", "DS"):
        n = len(_csv(sdtm / f"{name.lower()}.csv"))
        assert f"{name}: read {n} = converted {n} + rejected 0" in outs[0]
    assert (tmp_path / "a" / "bundle.json").read_bytes() == (tmp_path / "b" / "bundle.json").read_bytes()
    assert (tmp_path / "a" / "rejects.json").read_bytes() == (tmp_path / "b" / "rejects.json").read_bytes()


def test_cdisc_pilot_every_sv_record_is_an_encounter_or_a_reject(shared_dir: Path, tmp_path: Path) -> None:
    pilot = shared_dir / "external" / "cdisc-pilot-original"
    res = run_cli("to-fhir", pilot, "-o", tmp_path / "fhir", "--timezone", "UTC", "--no-validate")
    assert res.exit_code == 1, res.output
    assert "SV: read 3559 = converted 3558 + rejected 1" in res.output
    rejects = _csv(tmp_path / "fhir" / "rejects.csv")
    (rej,) = rejects.loc[rejects.form == "SV"].to_dict("records")
    assert (rej["file"], rej["field"], rej["value"]) == ("sv.xpt", "VISITNUM", "9.2")
    assert "USUBJID '01-711-1143', VISITNUM 9.2" in rej["reason"]
    encounters = [r for r in _resources(tmp_path / "fhir" / "bundle.json") if r["resourceType"] == "Encounter"]
    assert len(encounters) == 3558 == len({e["id"] for e in encounters})


# --- SV and DS admitted as every other dataset: a subject DM has, dates FHIR can hold --------------------------

def _the_one_reject(folder: Path, out: Path, name: str, n: int) -> dict[str, str]:
    """to-fhir of `folder`: exit 1, dataset `name`'s count line read n = converted n - 1 + rejected 1, and the one
    reject of the run."""
    res = run_cli("to-fhir", folder, "-o", out, "--timezone", "Asia/Shanghai", "--no-validate")
    assert res.exit_code == 1, res.output
    assert f"{name}: read {n} = converted {n - 1} + rejected 1" in res.output
    (rej,) = _csv(out / "rejects.csv").to_dict("records")
    return rej


@pytest.mark.parametrize("name", ["SV", "DS"])
def test_a_record_of_a_subject_not_in_dm_is_rejected_not_carried_on_the_study(sdtm: Path, tmp_path: Path,
                                                                              name: str) -> None:
    """Before: carried on the ResearchStudy in sdtm-supplemental and counted as converted, where an LB or AE record
    of the same subject is rejected (REJ-SDTM-001); no FHIR reader looks for a visit or a disposition there."""
    folder = _copy(sdtm, tmp_path / "sdtm")
    path = folder / f"{name.lower()}.csv"
    df = _repeat_row(path, 0, USUBJID="MSC-SLE-2009-99-99")
    rej = _the_one_reject(folder, tmp_path / "fhir", name, len(df))
    assert (rej["form"], rej["file"], rej["row"], rej["field"], rej["value"], rej["code"]) == (
        name, path.name, str(len(df)), "USUBJID", "MSC-SLE-2009-99-99", "REJ-SDTM-001")
    assert "not a subject in DM (dm.csv)" in rej["reason"]
    assert b"MSC-SLE-2009-99-99" not in (tmp_path / "fhir" / "bundle.json").read_bytes()


@pytest.mark.parametrize(("name", "variable"), [("SV", "SVSTDTC"), ("SV", "SVENDTC"), ("DS", "DSSTDTC")])
def test_a_date_fhir_cannot_hold_is_rejected_as_in_other_datasets(sdtm: Path, tmp_path: Path, name: str,
                                                                  variable: str) -> None:
    """2009-13-45 (no month 13): FHIR could hold only its year (the Encounter's period.start "2009" before, the
    text in an extension); LBDTC and AESTDTC so are rejected with REJ-SDTM-002, and now SV's and DS's dates too.
    A partial date SDTM allows (2010---17: the month unknown) is not rejected (test_fhir_ds_sv.py)."""
    folder = _copy(sdtm, tmp_path / "sdtm")
    path = folder / f"{name.lower()}.csv"
    df = _csv(path)
    row = int(df.index[(df.USUBJID == SUBJECT) & df[variable].ne("")][0])
    df.loc[row, variable] = "2009-13-45"
    df.to_csv(path, index=False)
    rej = _the_one_reject(folder, tmp_path / "fhir", name, len(df))
    assert (rej["form"], rej["row"], rej["field"], rej["value"], rej["code"]) == (
        name, str(row + 1), variable, "2009-13-45", "REJ-SDTM-002")
    assert b"2009-13-45" not in (tmp_path / "fhir" / "bundle.json").read_bytes()
