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

from msc_interop import api
from msc_interop.cli import main
from msc_interop.records.reader import read_records
from msc_interop.sdtm import load_in_two

STAMP = "2026-01-01T00:00:00"


@pytest.fixture(scope="module")
def records(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("unread") / "records"
    api.synth(folder, subjects=20, seed=5)
    return folder


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


def test_other_files_and_the_tools_own_reports_are_not_records(records, tmp_path):
    folder = _copy(records, tmp_path / "in", {})
    (folder / "README.txt").write_text("notes\n", encoding="utf-8")
    (folder / "rejects.csv").write_text("form,file\n", encoding="utf-8")  # (a run written into the folder)
    (folder / "old").mkdir()
    (folder / "old" / "labs_v1.csv").write_text("a,b\n1,2\n", encoding="utf-8")  # (below the folder: not looked at)
    assert _unread(read_records(folder).rejects) == []
    (folder / "notes.csv").write_text("what,when\nlock,2026\n", encoding="utf-8")
    [reject] = _unread(read_records(folder).rejects)
    assert (reject.form, reject.file) == ("", "notes.csv")
    assert "1 line(s)" in reject.reason and "rename it to its form's file name" in reject.reason


def test_a_sheet_no_form_reads_is_a_reject(records, tmp_path):
    book = tmp_path / "records.xlsx"
    sheets = {"subjects": "subjects", "exposures": "exposures", "labs": "Lab Results"}
    with pd.ExcelWriter(book, engine="openpyxl") as xl:
        for form, sheet in sheets.items():
            pd.read_csv(records / f"{form}.csv", dtype=str, keep_default_na=False).to_excel(
                xl, sheet_name=sheet, index=False)
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
    monkeypatch.setattr(load_in_two, "SPLIT_BYTES", 0)
    monkeypatch.setattr(load_in_two, "can_fork", lambda: True)
    monkeypatch.setattr(load_in_two, "core_free", lambda *a, **k: True)
    joins = []
    join = load_in_two.join_halves
    monkeypatch.setattr(load_in_two, "join_halves", lambda mine, theirs: joins.append(1) or join(mine, theirs))
    two = api.to_sdtm(folder, tmp_path / "two", formats=["csv"], created=STAMP, partition_subjects=0)
    assert joins == [1]
    assert len(_unread(whole.rejects)) == len(_unread(parts.rejects)) == len(_unread(two.rejects)) == 1
    for run in ("parts", "two"):
        for name in ("rejects.csv", "rejects.json"):
            assert (tmp_path / run / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), (run, name)
