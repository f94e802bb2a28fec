"""A file of a records folder (or a sheet of a workbook) that is no form's is a reject, never skipped silently.

The oracle is by hand: synth writes 55 lab rows per subject (11 tests x 5 visits), so 20 subjects' labs file holds
1,100 lines after its header; renamed, none of them is converted and the reject says so, with the run's exit
status 1 (records not converted) instead of 0.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import force_split_load
from msc_interop import api
from msc_interop.cli import main
from msc_interop.records.reader import read_records

STAMP = "2026-01-01T00:00:00"


@pytest.fixture
def records(synth_records: Path) -> Path:
    return synth_records  # (tests/conftest.py: read, never changed; the tests change copies)


def _copy(records: Path, to: Path, rename: dict[str, str]) -> Path:
    to.mkdir()
    for path in records.iterdir():
        (to / rename.get(path.name, path.name)).write_bytes(path.read_bytes())
    return to


def _unread(report) -> list:
    return [r for r in report.rejects if r.code == "REJ-REC-013"]


@pytest.mark.parametrize("name", ["lab_results.csv", "Labs.CSV"])
def test_a_renamed_form_file_is_a_reject_naming_its_form(records, tmp_path, name):
    folder = _copy(records, tmp_path / "in", {"labs.csv": name})
    result = api.to_sdtm(folder, tmp_path / "out", formats=["csv"], created=STAMP, partition_subjects=0)
    assert "LB" not in result.study.names
    [reject] = _unread(result.rejects)
    assert (reject.form, reject.file, reject.row, reject.field) == ("labs", name, 0, "(file)")
    assert "1100 line(s)" in reject.reason and "rename it labs.csv" in reject.reason
    assert "labs" not in result.rejects.counts  # (no record of it was read: nothing to reconcile)
    assert name in (tmp_path / "out" / "rejects.csv").read_text(encoding="utf-8")


def test_the_command_exits_1_and_prints_the_file(records, tmp_path):
    folder = _copy(records, tmp_path / "in", {"labs.csv": "lab_results.csv"})
    run = CliRunner().invoke(main, ["to-sdtm", str(folder), "-o", str(tmp_path / "out"), "--format", "csv",
                                    "--created", STAMP])
    assert run.exit_code == 1, run.output
    assert "  lab_results.csv: not read: 'lab_results.csv' is not the file of a form" in run.output
    ok = CliRunner().invoke(main, ["to-sdtm", str(records), "-o", str(tmp_path / "ok"), "--format", "csv",
                                   "--created", STAMP])
    assert ok.exit_code == 0, ok.output  # (the same folder with its files named right)


def test_files_that_hold_no_records_are_not_rejects(records, tmp_path):
    """What holds records names subject_id in its header, as every form does: a lab map, notes, a run's reject
    report, Excel's lock file and macOS's ._ file beside a form are not records; a file below the folder is not
    looked at."""
    folder = _copy(records, tmp_path / "in", {})
    (folder / "README.txt").write_text("notes\n", encoding="utf-8")
    (folder / "rejects.csv").write_text("form,file\n", encoding="utf-8")
    (folder / "lab-map.csv").write_text("code,system,testcd\nHGB-X,local,HGB\n", encoding="utf-8")
    (folder / "notes.csv").write_text("what,when\nlock,2026\n", encoding="utf-8")
    (folder / "~$labs.csv").write_bytes(b"\x00owner")
    (folder / "._labs.csv").write_bytes(b"\x00\x05\x16\x07subject_id")
    (folder / "old").mkdir()
    (folder / "old" / "labs_v1.csv").write_text("subject_id,b\n1,2\n", encoding="utf-8")
    assert _unread(read_records(folder).rejects) == []
    (folder / "extra labs.csv").write_text("Subject ID,visit\n01,Day 0\n02,Day 0\n", encoding="utf-8")
    [reject] = _unread(read_records(folder).rejects)
    assert (reject.form, reject.file) == ("labs", "extra labs.csv")
    assert "its 2 line(s) after the header" in reject.reason
    assert "labs.csv is there too: put its records in that file" in reject.reason


def test_a_sheet_no_form_reads_is_a_reject(records, tmp_path):
    book = tmp_path / "records.xlsx"
    sheets = {"subjects": "subjects", "exposures": "exposures", "labs": "Lab Results"}
    with pd.ExcelWriter(book, engine="openpyxl") as xl:
        for form, sheet in sheets.items():
            pd.read_csv(records / f"{form}.csv", dtype=str, keep_default_na=False).to_excel(
                xl, sheet_name=sheet, index=False)
        pd.DataFrame().to_excel(xl, sheet_name="Sheet1", index=False)  # (empty: Excel's default sheet)
        pd.DataFrame({"severity": ["MILD", "SEVERE"]}).to_excel(xl, sheet_name="Lists", index=False)  # (drop-downs)
    (tmp_path / "study.yaml").write_bytes((records / "study.yaml").read_bytes())
    [reject] = _unread(read_records(book).rejects)
    assert (reject.form, reject.file, reject.field, reject.value) == ("labs", "records.xlsx[Lab Results]",
                                                                      "(sheet)", "Lab Results")
    assert "rename it 'labs'" in reject.reason


def test_partitioned_and_two_process_runs_report_it_as_a_whole_run_does(records, tmp_path, monkeypatch):
    """Once each, with the same reject report (byte for byte): a partition's folder holds only the form files, and
    of the two processes of a split load only one reports what is about a file."""
    folder = _copy(records, tmp_path / "in", {"labs.csv": "lab_results.csv"})
    whole = api.to_sdtm(folder, tmp_path / "whole", formats=["csv"], created=STAMP, partition_subjects=0)
    parts = api.to_sdtm(folder, tmp_path / "parts", formats=["csv"], created=STAMP, partition_subjects=6)
    assert parts.partitions > 1
    joins = force_split_load(monkeypatch)
    two = api.to_sdtm(folder, tmp_path / "two", formats=["csv"], created=STAMP, partition_subjects=0)
    assert joins == [True]
    assert len(_unread(whole.rejects)) == len(_unread(parts.rejects)) == len(_unread(two.rejects)) == 1
    for run in ("parts", "two"):
        for name in ("rejects.csv", "rejects.json"):
            assert (tmp_path / run / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), (run, name)
