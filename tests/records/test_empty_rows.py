"""A row whose every field is empty (`,,,,,,,,` as Excel writes a row it once held; cells of spaces only) is read as a
blank line is: not a record, not counted in `read`, not rejected as five empty required fields; one note per file
names its row(s). Whole, by subject partitions and in two processes alike."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd

from conftest import EXAMPLE, converted_three_ways
from msc_interop.records import read_records
from msc_interop.records.empty_rows import empty_rows_note
from msc_interop.sdtm.build import build_study


def _labs_with(tmp_path: Path, extra: dict[int, str], quoted: bool = False) -> Path:
    """The example records with lines inserted into labs.csv: extra[line] is the text of that line of the file
    (header = line 1). `quoted`: a lab name in quotes (the file is then read by pandas, not Arrow)."""
    folder = tmp_path / "records"
    shutil.copytree(EXAMPLE, folder)
    lines = (folder / "labs.csv").read_text(encoding="utf-8").split("\n")
    if quoted:
        lines[1] = lines[1].replace("Nanjing Drum Tower Hospital Clinical Laboratory",
                                    '"Nanjing Drum Tower Hospital Clinical Laboratory"')
    for line in sorted(extra):
        lines.insert(line - 1, extra[line])
    (folder / "labs.csv").write_text("\n".join(lines), encoding="utf-8")
    return folder


def _read(folder: Path):  # type: ignore[no-untyped-def]
    return build_study(read_records(folder))[1]


def test_a_row_of_separators_is_a_blank_line_named_in_a_note(tmp_path):
    """Line 7 ',,,,,,,,' (the 9 columns' separators), line 10 blank, line 12 of spaces between separators: no
    reject, labs read 494 as without them, and a note naming lines 7 and 12 (not the blank line 10, which says
    nothing). A bad date after them is still named on its own line (14)."""
    folder = _labs_with(tmp_path, {7: ",,,,,,,,", 10: "", 12: " , ,\t,,,,,,"})
    lines = (folder / "labs.csv").read_text(encoding="utf-8").split("\n")
    cells = lines[13].split(",")
    cells[2] = "2009-02-30T08:38"
    lines[13] = ",".join(cells)
    (folder / "labs.csv").write_text("\n".join(lines), encoding="utf-8")
    report = _read(folder)
    assert [(r.row, r.field) for r in report.rejects] == [(14, "collection_datetime")]
    assert (report.counts["labs"].read, report.counts["labs"].converted) == (494, 493)
    assert report.notes[0] == ("labs.csv rows 7, 12 (2 rows): every field empty, read as blank lines (not records: "
                               "not counted in read)")
    assert len(report.notes) == 2 and "(labs.csv row(s) 14)" in report.notes[1]  # (its baseline flag's note)


def test_one_row_of_separators_read_by_pandas(tmp_path):
    """A file Arrow does not read (a quoted value) and a short row of separators (',,' of 9 columns): the same."""
    report = _read(_labs_with(tmp_path, {7: ",,"}, quoted=True))
    assert report.rejects == []
    assert report.counts["labs"].read == 494
    assert report.notes == ["labs.csv row 7: every field empty, read as a blank line (not a record: not counted "
                            "in read)"]


def test_many_rows_of_separators_are_one_note_listing_the_first(tmp_path):
    report = _read(_labs_with(tmp_path, {line: ",,,,,,,," for line in range(490, 498)}))
    assert report.rejects == [] and report.counts["labs"].read == 494
    assert report.notes == ["labs.csv rows 490, 491, 492, 493, 494 and 3 more (8 rows): every field empty, read as "
                            "blank lines (not records: not counted in read)"]


def test_a_row_with_one_field_is_a_record(tmp_path):
    """A row of separators and one value is a record with empty required fields, rejected as before."""
    report = _read(_labs_with(tmp_path, {7: ",,,,,,,,Central Lab"}))
    assert sorted({r.row for r in report.rejects}) == [7] and report.counts["labs"].rejected == 1
    assert report.notes == []


def test_same_note_whole_partitioned_and_in_two(tmp_path, monkeypatch):
    """Rows of separators in two files, one at the end (Excel's trailing rows): the same note, counts and files
    whatever the load."""
    folder = _labs_with(tmp_path, {7: ",,,,,,,,", 20: ",,,,,,,,"})
    with open(folder / "vital_signs.csv", "a", encoding="utf-8") as fh:
        fh.write(",,,,,,,\n,,,,,,,\n")
    whole, parts, two = converted_three_ways(folder, tmp_path / "out", monkeypatch)
    expected = ["labs.csv rows 7, 20 (2 rows): every field empty, read as blank lines (not records: not counted in "
                "read)",
                "vital_signs.csv rows 452, 453 (2 rows): every field empty, read as blank lines (not records: not "
                "counted in read)"]
    for result in (whole, parts, two):
        assert result.rejects.notes == expected
        assert len(result.rejects) == 0 and result.rejects.counts["vital_signs"].read == 450
    for name in ("rejects.json", "csv/lb.csv", "csv/vs.csv"):
        whole_bytes, parts_bytes, two_bytes = ((tmp_path / "out" / way / name).read_bytes()
                                               for way in ("whole", "parts", "two"))
        assert whole_bytes == parts_bytes == two_bytes


def test_sheet_rows_of_spaces_are_blank_rows_named_in_a_note(tmp_path):
    """A workbook's labs: sheet row 4 of cells holding a space, row 5 of no cell (silent, as a CSV blank line), row 6
    of an empty text and a space: none a record, rows 4 and 6 named."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for form in ("subjects", "exposures", "labs"):
        df = pd.read_csv(EXAMPLE / f"{form}.csv", dtype=str, keep_default_na=False)
        df = df[df["subject_id"].eq("01")].head(4)
        ws = wb.create_sheet(form)
        ws.append(list(df.columns))
        for i, row in enumerate(df.itertuples(index=False)):
            ws.append(list(row))
            if form == "labs" and i == 1:
                ws.append([" "] * len(df.columns))
                ws.append([None] * len(df.columns))
                ws.append(["", " "] + [None] * (len(df.columns) - 2))
    wb.save(tmp_path / "records.xlsx")
    shutil.copyfile(EXAMPLE / "study.yaml", tmp_path / "study.yaml")
    report = _read(tmp_path / "records.xlsx")
    assert report.rejects == []
    assert (report.counts["labs"].read, report.counts["labs"].converted) == (4, 4)
    assert report.notes == ["records.xlsx[labs] rows 4, 6 (2 rows): every field empty, read as blank lines (not "
                            "records: not counted in read)"]


def test_rows_of_unknown_values_are_named_as_ranges():
    """The rows of a workbook skipped as holding only formulas with no saved result are named as ranges of
    consecutive rows (20-69), five ranges at most, in the same note as the rows of nothing of that file."""
    unread = (np.array([*range(20, 70), 75, 80, 81, 90, 95, 99, 100]), "no value, only formulas", "save it")
    assert empty_rows_note("records.xlsx[labs]", np.array([], dtype=np.int64), unread) == (
        "records.xlsx[labs] rows 20-69, 75, 80-81, 90, 95 and 2 more rows (57 rows): no value, only formulas, read as "
        "blank lines (not records: not counted in read); if one is a record, save it")
    assert empty_rows_note("records.xlsx[labs]", np.array([7]), (np.array([9]), "no value", "save it")) == (
        "records.xlsx[labs] row 7: every field empty, read as a blank line (not a record: not counted in read); row 9: "
        "no value, read as a blank line (not a record: not counted in read); if it is one, save it")
