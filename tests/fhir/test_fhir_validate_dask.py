"""`validate --engine dask` (validate/fhir_dask.py) on a real 2-worker LocalCluster (processes): the same findings,
in the same order, as the in-process engine, on NDJSON sets with findings of every kind, cut into partitions
small enough that a duplicate id and a broken reference are split between partitions (so the merge of the
compact indexes in the driver is what finds them); the same report file and exit status from the command line;
a bad scheduler address is a clear exit 2 within the timeout."""

from __future__ import annotations

import atexit
import functools
import itertools
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fhir_clean_cases import cases
from fhir_fixtures import _written

from conftest import EXAMPLE, shared_path
from msc_interop.cli import main
from msc_interop.engine.cluster import Cluster, completed
from msc_interop.engine.partitions import Partition, count_newlines, cut, numbered_lines
from msc_interop.errors import MscInteropError
from msc_interop.validate import fhir_dask, fhir_index
from msc_interop.validate.fhir_dask import DaskNdjson
from msc_interop.validate.fhir_rules import fhir_rules

# seeded findings of every FHIR rule: MSC-IO-001 (lines that are not resources), -001 to -012, ids repeated
# across files and lines, references of every form; detected and given versions, R4 and R5
NAMES = ["mutated-given-R4", "mutated-detected-R5", "seeded-references", "seeded-nested-R4", "hl7-r4",
         "seeded-interpretation"]
SMALL = 1500  # bytes per partition: each file of the sets above is cut in several (Patient.ndjson in 2)
LINES = 60  # lines kept of each file (the mutations of fhir_clean_cases.mutate are in the first 45)


@functools.cache
def _cases() -> dict[str, tuple[list[Path], str | None]]:
    """The sets of fhir_clean_cases, each file cut to its first LINES lines (so that SMALL partitions are few)."""
    root = Path(tempfile.mkdtemp(prefix="msc_fhir_dask_"))
    atexit.register(shutil.rmtree, root, True)
    out = {}
    for name, (paths, version) in cases(root / "full", _written(), shared_path()).items():
        folder = root / name
        folder.mkdir()
        kept = []
        for p in paths:
            lines = p.read_bytes().split(b"\n")
            (folder / p.name).write_bytes(b"\n".join(lines[:LINES]) + (b"\n" if len(lines) > LINES else b""))
            kept.append(folder / p.name)
        out[name] = (kept, version)
    return out


def _line_partition(path: Path, size: int) -> dict[int, int]:
    """Line number -> number of the partition that holds it, for files cut at `size` bytes."""
    out, first = {}, 1
    with open(path, "rb") as fh:
        for k, part in enumerate(cut(0, str(path), size)):
            part = type(part)(part.number, part.name, part.start, part.end, first)
            for line_no, _ in numbered_lines(fh, part):
                out[line_no] = k
            first += count_newlines(part)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_dask_gives_the_findings_of_the_local_engine(name: str, cluster: Cluster) -> None:
    if name not in _cases():  # hl7-r4: HL7's examples are in ../shared/external, not on every machine
        pytest.skip(f"{name}: its files (../shared/external) are not present on this machine")
    paths, version = _cases()[name]
    local = [f.as_dict() for f in fhir_rules(paths, version)]
    engine = DaskNdjson(cluster, partition_size=SMALL)
    assert [f.as_dict() for f in fhir_rules(paths, version, engine=engine)] == local
    assert local  # each set has findings
    assert sorted(engine.distributed) == sorted(str(p) for p in paths if p.suffix == ".ndjson")


@pytest.mark.parametrize("name", ["mutated-given-R4", "seeded-references"])
def test_the_merged_indexes_spilled_by_bucket_give_the_same_findings(name: str, cluster: Cluster,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Here the partitions' ids and references go into batches of 4, spilled to 3 buckets (fhir_index.py) as
    they are merged: the findings of the local engine (default batch, nothing spilled)."""
    paths, version = _cases()[name]
    local = [f.as_dict() for f in fhir_rules(paths, version)]
    monkeypatch.setattr(fhir_index, "BATCH", 4)
    monkeypatch.setattr(fhir_index, "BUCKETS", 3)
    assert [f.as_dict() for f in fhir_rules(paths, version, engine=DaskNdjson(cluster, partition_size=SMALL))] == local
    assert {f["rule_id"] for f in local} >= {"MSC-FHIR-008", "MSC-FHIR-009"}


def test_the_sets_compared_hold_findings_of_every_fhir_rule() -> None:
    if set(NAMES) - set(_cases()):
        pytest.skip("HL7's examples (../shared/external) are not present on this machine")
    found = {f.rule_id for name in NAMES for f in fhir_rules(*_cases()[name])}
    assert found == {f"MSC-FHIR-{n:03}" for n in range(1, 15)} | {"MSC-IO-001"}


def test_cross_partition_findings_come_from_the_merge(cluster: Cluster) -> None:
    """In the mutated set the repeated Patient (first line, copied to the last) and the repeated Observation
    ids are in different partitions, and the broken reference points at a resource type read in others."""
    paths, version = _cases()["mutated-given-R4"]
    found = fhir_rules(paths, version, engine=DaskNdjson(cluster, partition_size=SMALL))
    patients = next(p for p in paths if p.name == "Patient.ndjson")
    where = _line_partition(patients, SMALL)
    dup = [f for f in found if f.rule_id == "MSC-FHIR-009" and f.file == str(patients)]
    assert [f.row_or_entry for f in dup] == [1, max(where)]
    assert where[1] != where[max(where)]
    broken = [f for f in found if f.rule_id == "MSC-FHIR-008" and f.value == "Patient/nobody"]
    assert len(broken) == 1 and broken[0].file.endswith("Observation.ndjson")
    assert len({*_line_partition(Path(broken[0].file), SMALL).values()}) > 3


def test_partitions_cover_every_line_once(tmp_path: Path) -> None:
    path = tmp_path / "x.ndjson"
    lines = [b'{"a": %d}' % i + b" " * (i % 7) for i in range(200)] + [b"", b"last-without-newline"]
    path.write_bytes(b"\n".join(lines))
    for size in (1, 5, 64, 1000, 10**6):
        parts = cut(0, str(path), size)
        assert parts[0].start == 0 and parts[-1].end == path.stat().st_size
        assert all(a.end == b.start for a, b in itertools.pairwise(parts))
        got = [line.rstrip(b"\n") for _, line in _lines(path, size)]
        assert got == lines
        assert [n for n, _ in _lines(path, size)] == list(range(1, len(lines) + 1))


def _lines(path: Path, size: int) -> Iterator[tuple[int, bytes]]:
    first = 1
    with open(path, "rb") as fh:
        for part in cut(0, str(path), size):
            part = type(part)(part.number, part.name, part.start, part.end, first)
            yield from numbered_lines(fh, part)
            first += count_newlines(part)


def _folder(tmp_path: Path) -> Path:
    paths, _ = _cases()["mutated-detected-R5"]
    folder = tmp_path / "ndjson"
    folder.mkdir()
    for p in paths:
        shutil.copy(p, folder / p.name)
    return folder


def test_cli_report_and_exit_status_are_those_of_local(tmp_path: Path, cluster: Cluster) -> None:
    folder = _folder(tmp_path)
    runner = CliRunner()
    local = runner.invoke(main, ["validate", str(folder), "--report", str(tmp_path / "local.json")])
    address = cluster.client().scheduler.address
    dask = runner.invoke(main, ["validate", str(folder), "--report", str(tmp_path / "dask.json"), "--engine", "dask",
                                "--scheduler", address, "--partition-size", str(SMALL)])
    assert local.exit_code == dask.exit_code == 1, dask.output
    assert (tmp_path / "dask.json").read_bytes() == (tmp_path / "local.json").read_bytes()
    assert dask.stdout.replace("dask.json", "local.json") == local.stdout
    assert "note:" not in dask.stderr


def test_cli_with_its_own_local_cluster(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    runner = CliRunner()
    local = runner.invoke(main, ["validate", str(folder), "--report", str(tmp_path / "local.csv")])
    dask = runner.invoke(main, ["validate", str(folder), "--report", str(tmp_path / "dask.csv"), "--engine", "dask",
                                "--workers", "2"])
    assert local.exit_code == dask.exit_code == 1, dask.output
    assert (tmp_path / "dask.csv").read_bytes() == (tmp_path / "local.csv").read_bytes()


@pytest.mark.parametrize("what", ["records", "bundle"])
def test_input_dask_does_not_partition_runs_here_with_a_note(what: str, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Study records (or SDTM) and a FHIR Bundle are validated in this process: same output, a one-line note, and
    no local cluster started for them (it starts only when there is NDJSON to cut)."""
    monkeypatch.setattr(Cluster, "_start", lambda self: pytest.fail("a local cluster was started"))
    if what == "records":
        path = EXAMPLE
    else:  # a Bundle with a finding, so that the output compared is not only "valid"
        path = tmp_path / "bundle.json"
        path.write_bytes((_written()["R4"] / "bundle.json").read_bytes().replace(b'"final"', b'"done"', 1))
    runner = CliRunner()
    local = runner.invoke(main, ["validate", str(path)])
    dask = runner.invoke(main, ["validate", str(path), "--engine", "dask", "--workers", "2"])
    assert dask.exit_code == local.exit_code == (0 if what == "records" else 1)
    assert dask.stdout == local.stdout
    assert dask.stderr == (f"note: --engine dask: {path} holds no FHIR NDJSON for the Dask workers; validated "
                           "in this process\n")


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:9", "not-an-address", "ftp://127.0.0.1:8786"])
def test_a_bad_scheduler_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, address: str) -> None:
    monkeypatch.setenv("MSC_INTEROP_DASK_TIMEOUT", "2")
    folder = _folder(tmp_path)
    t = time.perf_counter()
    result = CliRunner().invoke(main, ["validate", str(folder), "--engine", "dask", "--scheduler", address])
    assert time.perf_counter() - t < 15
    assert result.exit_code == 2, result.output
    assert f"--scheduler {address}: no Dask scheduler answers there" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("args", [["--workers", "2"], ["--scheduler", "tcp://127.0.0.1:8786"],
                                  ["--engine", "dask", "--workers", "0"],
                                  ["--engine", "dask", "--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"]])
def test_options_that_do_not_go_together(args: list[str]) -> None:
    result = CliRunner().invoke(main, ["validate", str(EXAMPLE), *args])
    assert result.exit_code == 2
    assert "--" in result.stderr and "Traceback" not in result.output


def test_a_file_a_worker_cannot_read_is_a_clear_error(cluster: Cluster) -> None:
    """With --scheduler the workers may not see the driver's paths: the error names the file and says why."""
    client = cluster.client()
    part = Partition(0, "/nonexistent/Observation.ndjson", 0, 10)
    futures = {client.submit(fhir_dask._check, part, [part.name], "R4", False, pure=False): 0}
    with pytest.raises(MscInteropError, match=r"a Dask worker could not read /nonexistent/Observation.ndjson: "
                                              r"No such file or directory \(with --scheduler, every worker must"):
        list(completed(client, futures))
