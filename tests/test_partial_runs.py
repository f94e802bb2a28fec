"""Runs that stop part-way: a killed run's temporary files are removed by the next run into the folder (and
only ours, only of processes that are gone), and a run that fails while writing still writes its reject
report and writes no format at all when one format cannot hold the study."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from msc_interop import api
from msc_interop.atomic import atomic_open, remove_stale_parts
from msc_interop.errors import MscInteropError, OutputLimitError

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "fixtures" / "example_study"
SRC = REPO / "src"


def _gone_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _parts(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*.part"))


@pytest.mark.skipif(os.name != "posix", reason="process ids are checked with kill(pid, 0)")
def test_only_our_names_of_gone_processes_are_removed(tmp_path: Path) -> None:
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        gone = _gone_pid()
        names = {
            f".lb.csv.{gone}.abcd_123.part": True,  # a killed run's
            ".dm.csv.k2j4h6g8.part": True,  # named before the process id was added
            f"csv/.ae.csv.{gone}.zz99zz99.part": True,  # one level down: the format folders
            f".ex.csv.{alive.pid}.abcd_123.part": False,  # a run still writing here
            f".ts.csv.{os.getpid()}.abcd_123.part": False,  # this process's own
            ".lb.csv.part": False, "notes.part": False, f"lb.csv.{gone}.abcd_123.part": False,  # not our pattern
            f".lb.csv.{gone}.abc.part": False,
            f"csv/deeper/.lb.csv.{gone}.abcd_123.part": False,  # below the depth asked for
        }
        folders = {f"csv/.lb.json.{gone}.qw_12345.part": True,  # atomic_path's private folder, a killed run's
                   f"csv/.dm.json.{alive.pid}.qw_12345.part": False}  # (a run still writing here)
        for name in names:
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text("half")
        for name in folders:
            (tmp_path / name).mkdir(parents=True)
            (tmp_path / name / "lb.json").write_text("half")
        names.update(folders)
        removed = remove_stale_parts(tmp_path, depth=1)
        assert sorted(str(p.relative_to(tmp_path)) for p in removed) == sorted(n for n, gone in names.items() if gone)
        assert _parts(tmp_path) == sorted(n for n, gone in names.items() if not gone)
    finally:
        alive.kill()
        alive.wait()
    assert remove_stale_parts(tmp_path / "missing") == []


_WRITER = """
import sys, time
from msc_interop.atomic import atomic_open
with atomic_open(sys.argv[1], "wb") as fh:
    fh.write(b"STUDYID,DOMAIN\\n" * 1000)
    fh.flush()
    print("writing", flush=True)
    time.sleep(60)
"""


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_a_killed_run_leaves_a_part_file_the_next_run_removes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(out / "csv" / "lb.csv")], stdout=subprocess.PIPE,
                            env=env)
    assert proc.stdout is not None and proc.stdout.readline() == b"writing\n"
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    proc.stdout.close()
    (left,) = _parts(out)
    assert left.startswith(f"csv/.lb.csv.{proc.pid}.") and not (out / "csv" / "lb.csv").exists()

    result = api.to_sdtm(EXAMPLE, out, formats=["csv"], validate=False)
    assert _parts(out) == []
    assert (out / "csv" / "lb.csv").read_text().count("\n") == 495
    note = f"removed 1 unfinished temporary file(s) an interrupted run left in {out}: {left}"
    assert result.rejects.notes == [note]
    assert json.loads((out / "rejects.json").read_text())["notes"] == [note]


@pytest.mark.skipif(os.name != "posix", reason="process ids are checked with kill(pid, 0)")
def test_a_killed_partitioned_runs_scratch_folder_is_removed_by_the_next_run(tmp_path: Path) -> None:
    """A scratch folder (as big as the input) of a process killed outright: the next run into the folder removes
    it and says so; a running process's and an unrelated hidden folder stay."""
    out = tmp_path / "out"
    gone, alive = _gone_pid(), subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        names = {f".msc-partitions.{gone}.abcd_123": True, ".msc-partitions.k2j4h6g8": True,
                 f".msc-partitions.{alive.pid}.abcd_123": False, ".msc-partitionsX": False, ".cache": False}
        for name in names:
            (out / name / "spill").mkdir(parents=True)
            (out / name / "spill" / "0000.pkl").write_bytes(b"x" * 100)
        result = api.to_sdtm(EXAMPLE, out, formats=["csv"], validate=False, partition_subjects=3)
        assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == sorted(
            n for n, stale in names.items() if not stale)
        assert result.partitions > 1
        (note,) = [n for n in result.rejects.notes if n.startswith("removed ")]
        assert note.startswith(f"removed 2 unfinished temporary file(s) an interrupted run left in {out}: "
                               f".msc-partitions.{gone}.abcd_123, .msc-partitions.k2j4h6g8")
    finally:
        alive.kill()
        alive.wait()


@pytest.mark.skipif(os.name != "posix", reason="SIGTERM")
def test_sigterm_ends_a_partitioned_run_through_its_cleanup(tmp_path: Path) -> None:
    """`kill` (SIGTERM, also a batch scheduler's time limit) mid-run: exit 143 and no scratch folder or temporary
    file left (Python's default would end the process without its cleanup)."""
    records, out = tmp_path / "records", tmp_path / "out"
    assert api.synth(records, 120, 3, "scale")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "msc_interop.cli", "to-sdtm", str(records), "-o", str(out),
                             "--partition-subjects", "5", "--no-validate"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(3000):  # until the run is inside its partitions (its scratch folder has a spill)
            if list(out.glob(".msc-partitions.*/spill/*")) or proc.poll() is not None:
                break
            time.sleep(0.01)
        assert proc.poll() is None, "the run ended before it could be stopped"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    finally:
        proc.kill()
    assert not list(out.glob(".msc-partitions.*")) and _parts(out) == []


def test_an_output_that_cannot_be_written_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "csv").write_text("a file where the folder goes")
    with (pytest.raises(MscInteropError, match=r"cannot write .*csv/lb\.csv: File exists"),
          atomic_open(tmp_path / "csv" / "lb.csv") as fh):
        fh.write(b"x")
    (tmp_path / "bundle.json").mkdir()
    with (pytest.raises(MscInteropError, match=r"cannot write .*bundle\.json: Is a directory"),
          atomic_open(tmp_path / "bundle.json") as fh):
        fh.write(b"x")
    assert _parts(tmp_path) == []


def _records_with(tmp_path: Path, changes: dict[int, dict[str, str]]) -> Path:
    """The example study with labs.csv rows changed: {spreadsheet row (header = 1): {column: value}}."""
    folder = tmp_path / "records"
    shutil.copytree(EXAMPLE, folder)
    path = folder / "labs.csv"
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row, values in changes.items():
        rows[row - 2].update(values)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return folder


def test_a_run_refused_by_one_format_writes_no_format_but_its_reject_report(tmp_path: Path) -> None:
    records = _records_with(tmp_path, {
        101: {"lab_name": "é" * 150},  # 300 bytes: a row reject
        22: {"lab_name": "Zentrallabor Köln"},  # fits every limit but ASCII, asked for: the XPT writer refuses the run
    })
    out = tmp_path / "out"
    with pytest.raises(OutputLimitError, match="ascii cannot hold") as info:
        api.to_sdtm(records, out, formats=["json", "xpt"], validate=False, xpt_encoding="ascii")
    assert sorted(p.name for p in out.iterdir()) == ["rejects.csv", "rejects.json"]  # no json/ before xpt/ failed
    report = json.loads((out / "rejects.json").read_text())
    assert [(r["file"], r["row"], r["field"]) for r in report["rejects"]] == [("labs.csv", 101, "lab_name")]
    assert {c["form"]: (c["read"], c["rejected"]) for c in report["counts"]}["labs"] == (494, 1)
    assert report["notes"][0].startswith("the run stopped before its output was complete: 1 value(s) do not fit")
    assert info.value.__notes__ == [f"the reject report of the input read (1 record rejected) is in "
                                    f"{out / 'rejects.csv'} and rejects.json"]


def test_records_to_xpt_a_300_byte_utf8_value_is_a_row_reject(tmp_path: Path) -> None:
    """It aborted the whole XPT run ("dataset LB row 110"); 300 ASCII characters were a row reject already."""
    for value in ("é" * 150, "a" * 300):
        out = tmp_path / f"out-{len(value)}"
        result = api.to_sdtm(_records_with(tmp_path / str(len(value)), {101: {"lab_name": value}}), out,
                             formats=["xpt"], validate=False)
        assert [(r.file, r.row, r.field) for r in result.rejects.rejects] == [("labs.csv", 101, "lab_name")]
        assert len(result.study["LB"]) == 493 and (out / "xpt" / "lb.xpt").exists()


def test_a_folder_that_could_not_be_removed_is_not_said_removed(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A stale temporary folder rmtree cannot remove (another user's, immutable) stays out of what the run says it
    removed."""
    from msc_interop import atomic

    gone = _gone_pid()
    kept = tmp_path / f".lb.json.{gone}.abcd_123.part"
    kept.mkdir()
    (kept / "lb.json").write_text("half")
    scratch = tmp_path / f".msc-partitions.{gone}.abcd_123"
    scratch.mkdir()
    monkeypatch.setattr(atomic.shutil, "rmtree", lambda *args, **kwargs: None)  # (removes nothing)
    assert remove_stale_parts(tmp_path) == []
    assert kept.is_dir() and scratch.is_dir()
