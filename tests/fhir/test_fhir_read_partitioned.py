"""from-fhir a range of subjects at a time (fhir/read_partitioned.py) against the oracle: the whole read.

Every file written (XPT, Dataset-JSON, CSV, define.xml, rejects.csv, rejects.json) must be byte-identical, on
msc-interop's own NDJSON (R4 and R5) and on a hospital export with seeded defects, with partitions of one and two
subjects; inputs a cut would read differently are read whole (and still give the whole read's files).
"""

from __future__ import annotations

import filecmp
import shutil
import sys
from pathlib import Path

import orjson
import pandas as pd
import pytest
from click.testing import CliRunner

from msc_interop import api
from msc_interop.cli import main
from msc_interop.errors import InputError
from msc_interop.fhir import read_partitioned
from msc_interop.fhir.read_partitioned import ReadOptions, read_fhir_partitioned
from msc_interop.inputs.load import load_study
from msc_interop.sdtm.formats import write_study
from msc_interop.study import Study

sys.path.insert(0, str(Path(__file__).parent))
from ehr_synth import write_ehr

CREATED = "2026-01-01T00:00:00"


def _ndjson_export(bundles: list[Path], folder: Path) -> Path:
    """A hospital's Bulk Data export of the Bundles: <Type>.ndjson, references by Type/id (not urn:uuid)."""
    by_type: dict[str, list[bytes]] = {}
    for b in bundles:
        doc = orjson.loads(b.read_bytes())
        urls = {e["fullUrl"]: f'{e["resource"]["resourceType"]}/{e["resource"]["id"]}' for e in doc["entry"]}
        for e in doc["entry"]:
            text = orjson.dumps(e["resource"])
            for url, key in urls.items():
                text = text.replace(orjson.dumps(url), orjson.dumps(key))
            by_type.setdefault(e["resource"]["resourceType"], []).append(text)
    folder.mkdir(parents=True)
    for rtype, lines in by_type.items():
        (folder / f"{rtype}.ndjson").write_bytes(b"\n".join(lines) + b"\n")
    return folder


def _lines(path: Path) -> list[dict]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines() if x.strip()]


def _write(path: Path, resources: list[dict], raw: list[bytes] = ()) -> None:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in resources) + b"".join(raw))


@pytest.fixture(scope="module")
def hospital(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 patients' export with defects: a line not JSON and a blank line, a byte-order mark, an identical copy
    and an older version of an Observation, an Observation of a Patient not in the export (its subject derived)
    and one naming its subject by an identifier only, one without a subject, a rejected status, a lab test not
    in the mapping (a sponsor-defined code), an Encounter reference to nothing."""
    base = tmp_path_factory.mktemp("hospital")
    folder = _ndjson_export(write_ehr(base / "bundles", patients=8), base / "export")
    obs_path = folder / "Observation.ndjson"
    obs = _lines(obs_path)
    patients = _lines(folder / "Patient.ndjson")
    lab = next(o for o in obs if o.get("category", [{}])[0].get("coding", [{}])[0].get("code") == "laboratory"
               and "valueQuantity" in o)
    copy = orjson.loads(orjson.dumps(lab))
    alone = {k: v for k, v in lab.items() if k != "encounter"}  # lab without the visit of its subject
    old = {**orjson.loads(orjson.dumps(obs[5])), "meta": {"versionId": "1"}, "status": "preliminary"}
    newer = {**orjson.loads(orjson.dumps(obs[5])), "meta": {"versionId": "2"}}
    stranger = {**alone, "id": "stranger-1", "subject": {"reference": "Patient/not-here"}}
    by_ident = {**alone, "id": "by-ident-1",
                "subject": {"identifier": patients[3]["identifier"][1]}}
    orphan = {k: v for k, v in alone.items() if k != "subject"} | {"id": "orphan-1"}
    wrong = {**alone, "id": "cancelled-1", "status": "cancelled"}
    sponsor = {**alone, "id": "sponsor-1",
               "code": {"coding": [{"system": "http://example.org/local-lab", "code": "ZZ-42",
                                    "display": "Local marker"}], "text": "Local marker"},
               "encounter": {"reference": "Encounter/gone"}}
    obs[5] = newer
    _write(obs_path, [*obs[:40], old, *obs[40:], copy, stranger, by_ident, orphan, wrong, sponsor],
           [b"{not json\n", b"\n", b'["a list"]\n'])
    pat = folder / "Patient.ndjson"
    pat.write_bytes(b"\xef\xbb\xbf" + pat.read_bytes())
    return folder


def _convert(src: Path | list[Path], out: Path, partition: int | str, **kw) -> api.ConversionResult:
    inputs = src if isinstance(src, list) else [src]
    return api.from_fhir(inputs, out, formats=["xpt", "json", "csv"], created=CREATED, partition_subjects=partition,
                         **kw)


def _same_files(a: Path, b: Path) -> None:
    left = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    right = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert left == right
    differ = [str(p) for p in left if not filecmp.cmp(a / p, b / p, shallow=False)]
    assert not differ, f"differ from the whole read: {differ}"


@pytest.mark.parametrize(("per", "stream"), [(1, False), (2, True)])
def test_hospital_export_with_defects_reads_as_a_whole_read(hospital: Path, tmp_path: Path, per: int, stream: bool,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """(stream: every dataset written from the spill, as from-fhir does; else each held whole and written so)"""
    if not stream:
        monkeypatch.setattr(read_partitioned, "HOLD_ROWS", 10**9)
    whole = _convert(hospital, tmp_path / "whole", "off")
    part = _convert(hospital, tmp_path / "part", per)
    assert whole.partitions == 0 and part.partitions == (9 if per == 1 else 5)  # 8 Patients + the derived one
    _same_files(tmp_path / "whole", tmp_path / "part")
    assert part.rejects.reconciliation() == whole.rejects.reconciliation()
    assert part.rejects.notes == whole.rejects.notes and part.rejects.warnings == whole.rejects.warnings
    # the defects were met (else the comparison proves little)
    reasons = " ".join(r.reason for r in whole.rejects.rejects)
    assert "not valid JSON" in reasons and "must be one JSON object" in reasons and "status cancelled" in reasons
    assert "no subject" in reasons
    notes = " ".join(whole.rejects.notes)
    assert "older version" in notes and "identical copies" in notes and "SPONSOR-DEFINED" in notes
    assert "name their subject by a reference to a Patient that is not in the input" in notes
    lines = {(r.file, r.row) for r in part.rejects.rejects}
    not_json = (hospital / "Observation.ndjson").read_bytes().splitlines().index(b"{not json") + 1
    assert ("Observation.ndjson", not_json) in lines and not_json > 1000  # named by its original line


def test_own_ndjson_r4_and_r5_read_as_a_whole_read(example_dir: Path, tmp_path: Path) -> None:
    for version in ("R4", "R5"):
        fhir = tmp_path / version / "fhir"
        api.to_fhir(example_dir, fhir, fhir_version=version, bundle="none", ndjson=True, validate=False)
        whole = _convert(fhir, tmp_path / version / "whole", "off")
        part = _convert(fhir, tmp_path / version / "part", 2)
        assert whole.partitions == 0 and part.partitions == 5  # 9 subjects, 2 a partition
        _same_files(tmp_path / version / "whole", tmp_path / version / "part")


def test_what_a_cut_would_read_differently_is_read_whole(hospital: Path, tmp_path: Path) -> None:
    """A Bundle among the files, one resource id under two subjects, a record whose Encounter is another
    subject's: read whole (partitions 0), the same files as with partitioning off."""
    cases: dict[str, Path] = {}
    bundle = tmp_path / "bundle"
    shutil.copytree(hospital, bundle)
    (bundle / "extra.json").write_bytes(orjson.dumps({"resourceType": "Bundle", "type": "collection", "entry": []}))
    cases["bundle"] = bundle
    for name, change in (("two subjects", "subject"), ("other encounter", "encounter")):
        folder = tmp_path / name.replace(" ", "-")
        shutil.copytree(hospital, folder)
        lines = [x for x in (folder / "Observation.ndjson").read_bytes().splitlines() if x.strip()]
        first = orjson.loads(lines[0])
        other = next(orjson.loads(x) for x in lines[1:] if x.startswith(b"{")
                     and orjson.loads(x).get("subject", {}).get("reference") != first["subject"]["reference"])
        moved = {**first, "meta": {"versionId": "9"}}
        if change == "subject":
            moved["subject"] = other["subject"]
        else:
            moved = {**first, "id": "cross-1", "encounter": other["encounter"]}
        (folder / "Extra.ndjson").write_bytes(orjson.dumps(moved) + b"\n")
        cases[name] = folder
    for name, folder in cases.items():
        assert read_fhir_partitioned([folder], tmp_path / f"scratch-{name}", ReadOptions(), 1) is None, name
        whole = _convert(folder, tmp_path / name / "whole", "off")
        asked = _convert(folder, tmp_path / name / "asked", 1)
        assert asked.partitions == 0
        said = [n for n in asked.rejects.notes if n.startswith("--partition-subjects 1: read whole (")]
        assert len(said) == 1, asked.rejects.notes  # the user asked for a cut: told why there was none
        assert {"bundle": "extra.json is not NDJSON", "two subjects": "under two subjects",
                "other encounter": "Encounter of another subject"}[name] in said[0]
        asked.rejects.notes.remove(said[0])
        whole.rejects.write(tmp_path / name / "whole")  # the same report but for that note
        asked.rejects.write(tmp_path / name / "asked")
        _same_files(tmp_path / name / "whole", tmp_path / name / "asked")
        assert whole.rejects.reconciliation() == asked.rejects.reconciliation()


def test_partition_option_is_checked_and_auto_leaves_small_exports_whole(hospital: Path, tmp_path: Path) -> None:
    assert _convert(hospital, tmp_path / "auto", "auto").partitions == 0
    with pytest.raises(InputError, match="not a number of subjects"):
        _convert(hospital, tmp_path / "bad", -3)
    res = CliRunner().invoke(main, ["from-fhir", str(hospital), "-o", str(tmp_path / "cli"), "--format", "csv",
                                    "--partition-subjects", "3"])
    assert res.exit_code == 1, res.output  # records were rejected (the seeded defects)
    assert "converted in 3 subject partitions (--partition-subjects)" in res.output
    res = CliRunner().invoke(main, ["from-fhir", str(hospital), "-o", str(tmp_path / "cli"),
                                    "--partition-subjects", "some"])
    assert res.exit_code == 2 and "--partition-subjects" in res.output
    for out in ("auto", "cli"):
        assert not list((tmp_path / out).glob(".msc-partitions.*"))  # the scratch folder is gone


def test_own_rows_in_another_order_come_in_usubjid_order_when_cut(example_dir: Path, tmp_path: Path) -> None:
    """msc-interop's own FHIR of datasets not in USUBJID order: a whole read keeps their order, a cut read gives
    USUBJID order with each subject's rows in theirs (the whole read's rows, stably sorted)."""
    study, _ = load_study(example_dir)
    lb = study["LB"]
    backwards = pd.concat([g for _, g in sorted(lb.groupby("USUBJID", sort=False), reverse=True)], ignore_index=True)
    shuffled = Study(study.meta, {**study.datasets, "LB": backwards})
    sdtm = tmp_path / "sdtm"
    write_study(shuffled, sdtm / "csv", ["csv"])
    fhir = tmp_path / "fhir"
    api.to_fhir(sdtm / "csv", fhir, bundle="none", ndjson=True, validate=False, timezone="Asia/Shanghai")
    whole, cut = _convert(fhir, tmp_path / "whole", "off"), _convert(fhir, tmp_path / "cut", 2)
    assert whole.partitions == 0 and cut.partitions == 5
    got_whole = pd.read_csv(tmp_path / "whole" / "csv" / "lb.csv", dtype=str, keep_default_na=False)
    got_cut = pd.read_csv(tmp_path / "cut" / "csv" / "lb.csv", dtype=str, keep_default_na=False)
    assert not got_whole["USUBJID"].is_monotonic_increasing  # the whole read kept the backwards order
    assert got_whole["USUBJID"].tolist() == backwards["USUBJID"].tolist()
    pd.testing.assert_frame_equal(got_cut, got_whole.sort_values("USUBJID", kind="stable", ignore_index=True))
