"""A folder that holds one dataset in several formats (CDISC's Dataset-JSON examples ship ae.json, ae.ndjson and
ae.xpt) is read from one copy, the first of .json, .ndjson, .xpt, .csv: the others are counted and, when a copy
holds another number of records, the folder is refused naming every copy (reading one would drop or invent
records without a word); otherwise a note names what was read and what was not."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from msc_interop import api
from msc_interop.errors import InputError

from .package_define import CREATED, DM_CSV

DM_TWO = DM_CSV + "S1,DM,S1-2,2,01,2024-01-03,M,A,Arm A,USA\n"


def _json_copy(tmp_path: Path, csv_text: str) -> Path:
    """dm.json of `csv_text` as to-sdtm writes it."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "dm.csv").write_text(csv_text, encoding="utf-8")
    api.to_sdtm(src, tmp_path / "src_out", formats=["json"], created=CREATED, validate=False)
    return tmp_path / "src_out" / "json" / "dm.json"


def test_copies_with_other_record_counts_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "pkg"
    folder.mkdir()
    (folder / "dm.csv").write_text(DM_TWO, encoding="utf-8")
    shutil.copy(_json_copy(tmp_path, DM_CSV), folder / "dm.json")
    with pytest.raises(InputError) as err:
        api.to_sdtm(folder, tmp_path / "out", formats=["csv"], created=CREATED, validate=False)
    assert str(err.value).startswith("dataset DM is in dm.json (1 record(s)) and also in dm.csv (2 record(s)): "
                                     "the copies differ")
    assert not (tmp_path / "out" / "csv" / "dm.csv").exists()


def test_copies_with_the_same_record_counts_are_read_once_and_named(tmp_path: Path) -> None:
    folder = tmp_path / "pkg"
    folder.mkdir()
    (folder / "dm.csv").write_text(DM_TWO, encoding="utf-8")
    shutil.copy(_json_copy(tmp_path, DM_TWO), folder / "dm.json")
    result = api.to_sdtm(folder, tmp_path / "out", formats=["csv"], created=CREATED, validate=False)
    assert len(result.study["DM"]) == 2
    assert ("datasets in more than one format, each read from the first of .json, .ndjson, .xpt, .csv (the other "
            "copies only counted, the same number of records): DM from dm.json (also in dm.csv; 2 record(s) each)"
            ) in result.rejects.notes
