"""`from-fhir --engine dask` against the oracle: the in-process engine (`--engine local`) with the same
--partition-subjects. Every file written (XPT, Dataset-JSON, CSV, define.xml, rejects.csv, rejects.json) must be
byte-identical, with the same notes, warnings and exit status, on a 2-worker LocalCluster: a hospital export with
seeded defects and sponsor-defined tests whose codes depend on the partitions' order (so that a partition is read
again), scanned in byte ranges of a few KB; and msc-interop's own NDJSON.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from test_fhir_read_partitioned import _convert, _same_files, hospital  # noqa: F401 - a fixture

from msc_interop import api, mappings
from msc_interop.cli import main
from msc_interop.engine.cluster import Cluster
from msc_interop.engine.tasks import OnDask
from msc_interop.errors import InputError
from msc_interop.fhir import read_partitioned
from msc_interop.fhir.read_partitioned import ReadOptions, read_fhir_partitioned

RANGE = 3000  # bytes per scanned range: Observation.ndjson in dozens, Patient.ndjson in several


def _objects(path: Path) -> list[dict]:
    """The JSON objects of an NDJSON file (its lines that are not JSON objects left out)."""
    out = []
    for line in path.read_bytes().removeprefix(b"\xef\xbb\xbf").splitlines():
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            out.append(obj)
    return out


@pytest.fixture(scope="module")
def address(cluster: Cluster) -> str:
    return cluster.client().scheduler.address


@pytest.fixture(scope="module")
def sponsors(hospital: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811 - the fixture
    """The hospital export plus a second sponsor-defined test whose name gives the same code as the first's
    ("Local marker", "Local mass": LOCALM), one result for every Patient, after the first test's result: which
    test is LOCALM and which LOCALM01 depends on the partition where each is met first."""
    folder = tmp_path_factory.mktemp("sponsors") / "export"
    shutil.copytree(hospital, folder)
    obs = next(o for o in _objects(folder / "Observation.ndjson") if o.get("id") == "sponsor-1")
    patients = _objects(folder / "Patient.ndjson")
    mass = [{**obs, "id": f"mass-{i}", "subject": {"reference": f"Patient/{p['id']}"},
             "code": {"coding": [{"system": "http://example.org/local-lab", "code": "ZZ-43", "display": "Local mass"}],
                      "text": "Local mass"}} for i, p in enumerate(reversed(patients))]
    with open(folder / "Observation.ndjson", "ab") as fh:
        fh.write(b"".join(orjson.dumps(o) + b"\n" for o in mass))
    return folder


def _both(src: Path, tmp_path: Path, per: int | str, address: str, **kw) -> tuple[api.ConversionResult, ...]:
    local = _convert(src, tmp_path / "local", per, **kw)
    dask = _convert(src, tmp_path / "dask", per, engine="dask", scheduler=address, **kw)
    _same_files(tmp_path / "local", tmp_path / "dask")
    assert dask.partitions == local.partitions and local.partitions > 1
    assert dask.rejects.notes == local.rejects.notes and dask.rejects.warnings == local.rejects.warnings
    assert dask.rejects.reconciliation() == local.rejects.reconciliation()
    return local, dask


@pytest.mark.parametrize("per", [1])  # a partition per subject: the most partitions, every decision replayed
def test_hospital_export_reads_as_the_local_engine(sponsors: Path, tmp_path: Path, address: str, per: int,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(read_partitioned, "RANGE_SIZE", RANGE)
    local, _ = _both(sponsors, tmp_path, per, address)
    # what is compared holds what matters: rejects named by their original lines, both sponsor-defined tests
    reasons = " ".join(r.reason for r in local.rejects.rejects)
    assert "not valid JSON" in reasons and "status cancelled" in reasons and "no subject" in reasons
    notes = " ".join(local.rejects.notes)
    assert "LOCALM (Local" in notes and "LOCALM01 (Local" in notes and "older version" in notes
    not_json = (sponsors / "Observation.ndjson").read_bytes().splitlines().index(b"{not json") + 1
    assert ("Observation.ndjson", not_json) in {(r.file, r.row) for r in local.rejects.rejects}
    assert (sponsors / "Observation.ndjson").stat().st_size > 20 * RANGE  # scanned and cut in many ranges


def _site_files(export: Path, folder: Path) -> dict[str, Path]:
    """An enrolment table of every Patient of the export but the last, a key of keyed pseudonyms, and a site's lab
    map placing the sponsor-defined code ZZ-42 under the CDISC test of the LOINC-coded result it copies."""
    folder.mkdir()
    patients = [p["id"] for p in _objects(export / "Patient.ndjson")]
    subjects = folder / "subjects.csv"
    subjects.write_text("patient_id,subjid\n" + "".join(f"{p},{100 + i}\n" for i, p in enumerate(patients[:-1])),
                        encoding="utf-8")
    key = folder / "pseudonym.key"
    key.write_text("a long random secret only the sponsor has", encoding="utf-8")
    obs = _objects(export / "Observation.ndjson")
    sponsor = next(o for o in obs if o.get("id") == "sponsor-1")
    copied = next(o for o in obs if o.get("id") != "sponsor-1" and o.get("valueQuantity") == sponsor["valueQuantity"]
                  and o.get("effectiveDateTime") == sponsor.get("effectiveDateTime")
                  and o["code"]["coding"][0]["system"] == "http://loinc.org")
    loinc = copied["code"]["coding"][0]["code"]
    testcd = next(t.testcd for t in mappings.lab_tests().values() if loinc in {c.code for c in t.loincs} | {t.loinc})
    lab_map = folder / "lab-map.csv"
    lab_map.write_text(f"code,system,testcd\nZZ-42,http://example.org/local-lab,{testcd}\n", encoding="utf-8")
    return {"subjects": subjects, "key": key, "lab_map": lab_map, "last": Path(patients[-1])}


def test_enrolment_table_pseudonym_key_and_lab_map_reach_the_workers(hospital: Path, tmp_path: Path,  # noqa: F811
                                                                       address: str) -> None:
    """What a worker must be given besides the NDJSON: the enrolment table, the pseudonym key, the site's lab map.
    Each run is byte-identical to the in-process engine, and each option visibly took effect."""
    site = _site_files(hospital, tmp_path / "site")
    local, _ = _both(hospital, tmp_path / "table", 3, address, subjects=site["subjects"], lab_map=site["lab_map"])
    reasons = [r.reason for r in local.rejects.rejects if r.code == "REJ-FHIR-003"]
    last = [r for r in reasons if site["last"].name in r]  # the Patient left out of the table, with its records
    assert len(last) > 1 and all("not in the enrolment table" in r for r in last)
    assert sum(f"Patient '{site['last'].name}' is not in the enrolment table subjects.csv" in r for r in last) == 1
    assert set(local.study["DM"]["SUBJID"]) <= {str(100 + i) for i in range(8)}
    assert not any("ZZ-42" in n for n in local.rejects.notes)  # placed by the lab map, not sponsor-defined
    local, _ = _both(hospital, tmp_path / "keyed", 3, address, pseudonym_key_file=site["key"])
    usubjids = list(local.study["DM"]["USUBJID"])
    assert usubjids and all(re.fullmatch(r".*[0-9A-F]{16}", u) for u in usubjids), usubjids
    everything = b"".join(p.read_bytes() for p in (tmp_path / "keyed" / "dask").rglob("*") if p.is_file())
    assert b"a long random secret" not in everything and site["last"].name.encode() not in everything


def test_a_partition_that_guessed_a_sponsor_code_is_read_again(sponsors: Path, tmp_path: Path,
                                                               cluster: Cluster) -> None:
    """A worker reads its partition knowing no other: where "Local marker" comes before "Local mass" it calls
    the marker LOCALM, which in partition order is the mass's (met first in an earlier partition)."""
    tasks = OnDask(cluster)
    got = read_fhir_partitioned([sponsors], tmp_path / "scratch", ReadOptions(), 1, tasks=tasks)
    assert got is not None
    assert tasks.log and all("read again" in line for line in tasks.log), tasks.log
    note = next(n for n in got[1].notes if "SPONSOR-DEFINED" in n)
    assert "ZZ-43 -> LOCALM (Local mass)" in note and "ZZ-42 -> LOCALM01 (Local marker)" in note


def test_own_ndjson_reads_as_the_local_engine(example_dir: Path, tmp_path: Path, address: str) -> None:
    fhir = tmp_path / "fhir"
    api.to_fhir(example_dir, fhir, bundle="none", ndjson=True, validate=False)
    local, _ = _both(fhir, tmp_path, 2, address)
    assert local.partitions == 5


def test_what_cannot_be_cut_is_read_whole_with_a_note(hospital: Path, tmp_path: Path,  # noqa: F811
                                                      address: str) -> None:
    folder = tmp_path / "two-subjects"
    shutil.copytree(hospital, folder)
    first = _objects(folder / "Observation.ndjson")[0]
    other = next(o for o in _objects(folder / "Patient.ndjson")
                 if f"Patient/{o['id']}" != first["subject"]["reference"])
    moved = {**first, "meta": {"versionId": "9"}, "subject": {"reference": f"Patient/{other['id']}"}}
    (folder / "Extra.ndjson").write_bytes(orjson.dumps(moved) + b"\n")
    _convert(folder, tmp_path / "whole", "off")
    dask = _convert(folder, tmp_path / "dask", 1, engine="dask", scheduler=address)
    said = [n for n in dask.rejects.notes if n.startswith("--engine dask: read whole in this process (")]
    assert dask.partitions == 0 and len(said) == 1 and "under two subjects" in said[0]
    dask.rejects.notes.remove(said[0])
    dask.rejects.write(tmp_path / "dask")
    _same_files(tmp_path / "whole", tmp_path / "dask")


def test_the_cli_says_what_dask_reads(hospital: Path, tmp_path: Path, address: str) -> None:  # noqa: F811
    out = str(tmp_path / "out")
    runner = CliRunner()
    local = runner.invoke(main, ["from-fhir", str(hospital), "-o", out, "--format", "csv", "--partition-subjects", "3"])
    dask = runner.invoke(main, ["from-fhir", str(hospital), "-o", out + "2", "--format", "csv", "--partition-subjects",
                                "3", "--engine", "dask", "--scheduler", address])
    assert local.exit_code == dask.exit_code == 1, dask.output  # records were rejected (the seeded defects)
    assert "converted in 3 subject partitions" in dask.output
    assert [x for x in dask.output.splitlines() if not x.startswith("wrote ")] == \
        [x for x in local.output.splitlines() if not x.startswith("wrote ")]
    bundle = tmp_path / "bundle.json"
    bundle.write_bytes(orjson.dumps({"resourceType": "Bundle", "type": "collection", "entry": []}))
    res = runner.invoke(main, ["from-fhir", str(hospital), str(bundle), "-o", out + "3", "--engine", "dask",
                               "--scheduler", address])
    assert res.exit_code == 2 and "--engine dask reads FHIR NDJSON only" in res.output
    assert "bundle.json is not" in res.output and "--engine local" in res.output
    for args, said in ((["--workers", "2"], "--scheduler and --workers go with --engine dask"),
                       (["--engine", "dask", "--partition-subjects", "off"],
                        "does not go with --partition-subjects off"),
                       (["--engine", "dask", "--scheduler", address, "--workers", "2"], "has its own workers")):
        res = runner.invoke(main, ["from-fhir", str(hospital), "-o", out + "4", *args])
        assert res.exit_code == 2 and said in res.output, res.output


def test_api_refuses_an_unknown_engine(hospital: Path, tmp_path: Path) -> None:  # noqa: F811
    with pytest.raises(InputError, match="engine 'spark' is not known"):
        api.from_fhir([hospital], tmp_path / "out", engine="spark")
