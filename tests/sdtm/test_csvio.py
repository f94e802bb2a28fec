"""SDTM CSV: plain text that reads back to the same Study data, numbers restored from the SDTM metadata."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from msc_interop.errors import InputError
from msc_interop.records import read_records
from msc_interop.sdtm.build import build_study
from msc_interop.sdtm.csvio import read_csv, write_csv
from msc_interop.study import Study, conform

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def study() -> Study:
    built, _ = build_study(read_records(REPO / "fixtures" / "example_study"))
    return built


def _rows(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def test_round_trip_every_dataset(study: Study, tmp_path: Path) -> None:
    for name in study.names:
        path = tmp_path / f"{name.lower()}.csv"
        write_csv(study[name], name, path)
        back_name, back = read_csv(path)
        assert back_name == name
        pd.testing.assert_frame_equal(conform(name, back), study[name])


def test_text_layout(study: Study, tmp_path: Path) -> None:
    write_csv(study["EX"], "EX", tmp_path / "ex.csv")
    raw = (tmp_path / "ex.csv").read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf") and b"\r\n" not in raw
    rows = _rows(tmp_path / "ex.csv")
    header, first = rows[0], dict(zip(rows[0], rows[1], strict=True))
    assert header == list(study["EX"].columns)
    assert first["EXSEQ"] == "1" and first["EXSTDY"] == "1"  # integers without ".0"
    assert first["EXDOSFRM"] == "INJECTION, SUSPENSION"  # the comma survives (quoted)
    assert b'"INJECTION, SUSPENSION"' in raw


def test_missing_values_are_empty_cells(study: Study, tmp_path: Path) -> None:
    dm = study["DM"].head(2).copy()
    dm["AGE"] = pd.array([47, None], dtype="Int64")
    write_csv(dm, "DM", tmp_path / "dm.csv")
    rows = _rows(tmp_path / "dm.csv")
    age = rows[0].index("AGE")
    assert [r[age] for r in rows[1:]] == ["47", ""]
    _, back = read_csv(tmp_path / "dm.csv")
    assert back["AGE"].dtype == "Int64" and back["AGE"].isna().tolist() == [False, True]
    assert back["DTHDTC"].tolist() == ["", ""]


def test_floats_read_back_exactly(study: Study, tmp_path: Path) -> None:
    lb = study["LB"].head(4).copy()
    lb["LBSTRESN"] = [0.1 + 0.2, 1e-7, 123456.789, float("nan")]
    write_csv(lb, "LB", tmp_path / "lb.csv")
    _, back = read_csv(tmp_path / "lb.csv")
    assert back["LBSTRESN"].iloc[:3].tolist() == [0.1 + 0.2, 1e-7, 123456.789]
    assert pd.isna(back["LBSTRESN"].iloc[3])


def test_unknown_variables_stay_text_and_utf8_survives(study: Study, tmp_path: Path) -> None:
    lb = study["LB"].head(2).copy()
    lb["LBXCOUNT"] = [1.0, 2.0]
    lb["LBORRESU"] = ["μmol/L", "umol/L"]  # CSV is UTF-8: allowed here (XPT would refuse it)
    write_csv(lb, "LB", tmp_path / "lb.csv")
    _, back = read_csv(tmp_path / "lb.csv")
    assert back["LBXCOUNT"].tolist() == ["1", "2"]
    assert back["LBORRESU"].tolist() == ["μmol/L", "umol/L"]


def test_same_input_same_bytes(study: Study, tmp_path: Path) -> None:
    write_csv(study["LB"], "LB", tmp_path / "a.csv")
    write_csv(study["LB"].copy(), "LB", tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_text_in_a_numeric_variable_names_file_row_and_variable(study: Study, tmp_path: Path) -> None:
    write_csv(study["LB"].head(3), "LB", tmp_path / "lb.csv")
    df = pd.read_csv(tmp_path / "lb.csv", dtype=str, keep_default_na=False)
    df.loc[1, "LBSTRESN"] = "high"
    df.to_csv(tmp_path / "lb.csv", index=False)
    with pytest.raises(InputError, match=r"lb\.csv row 2 \(line 3\), LBSTRESN: 'high' is not a number"):
        read_csv(tmp_path / "lb.csv")
    df.loc[1, "LBSTRESN"] = "1"
    df.loc[2, "LBSEQ"] = "2.5"
    df.to_csv(tmp_path / "lb.csv", index=False)
    with pytest.raises(InputError, match=r"row 3 .*LBSEQ: '2.5' is not a whole number"):
        read_csv(tmp_path / "lb.csv")


def test_unreadable_files(tmp_path: Path) -> None:
    (tmp_path / "dm.csv").write_bytes(b"")
    with pytest.raises(InputError, match=r"dm\.csv: empty file"):
        read_csv(tmp_path / "dm.csv")
    # a Latin-1 / Windows-1252 CSV is read as such (sdtm/text_encoding.py), no longer refused as "not UTF-8"
    (tmp_path / "ae.csv").write_bytes("STUDYID\nÄ\n".encode("latin-1"))
    assert read_csv(tmp_path / "ae.csv")[1]["STUDYID"].tolist() == ["Ä"]
    with pytest.raises(InputError, match="no such file"):
        read_csv(tmp_path / "lb.csv")


def test_whole_numbers_of_a_float_variable_have_no_trailing_zero(study: Study, tmp_path: Path) -> None:
    """A package's float variables (VISITNUM beside 1.5, LBSTRESN, a SAS date number) hold whole numbers as
    1.0: CSV writes them as a reader expects them (1, 19734), the fractions as they are, and they read back as
    the same floats."""
    lb = study["LB"].head(4).copy()
    lb["VISITNUM"] = [1.0, 1.5, -2.0, float("nan")]
    lb["LBSTRESN"] = [19734.0, 8.55, 0.0, 1e16 + 0.5]  # (1e16: no longer an exact integer, kept as a float)
    write_csv(lb, "LB", tmp_path / "lb.csv")
    rows = _rows(tmp_path / "lb.csv")
    visit, stresn = rows[0].index("VISITNUM"), rows[0].index("LBSTRESN")
    assert [r[visit] for r in rows[1:]] == ["1", "1.5", "-2", ""]
    assert [r[stresn] for r in rows[1:]] == ["19734", "8.55", "0", "1e+16"]
    _, back = read_csv(tmp_path / "lb.csv")
    assert back["VISITNUM"].iloc[:3].tolist() == [1.0, 1.5, -2.0] and back["VISITNUM"].dtype == "float64"
    assert back["LBSTRESN"].tolist() == [19734.0, 8.55, 0.0, 1e16]
