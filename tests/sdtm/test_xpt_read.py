"""The column-wise XPT reader returns what pyreadstat.read_xport returns (pyreadstat is the reference).

On every XPT file in ../shared/external (CDISC's pilot and Dataset-JSON example packages, SAS-written, some
Windows-1252) and on files made here with what SAS writes and pyreadstat never does: arbitrary IBM fraction bits
(SAS rounds to 56 bits, so the low bits are not an IEEE double's), SAS special missing values .A-.Z and ._,
numbers stored in fewer than 8 bytes, NUL-padded text, rows shorter than an 80-byte record ending in blanks.
"""

from __future__ import annotations

import glob
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from msc_interop.sdtm import xpt
from msc_interop.sdtm.xpt_read import read_xport_columns

EXTERNAL = Path(__file__).resolve().parents[3] / "shared" / "external"
CREATED = "2026-01-02T03:04:05"


def _assert_same(path: Path, encoding: str = "utf-8") -> pd.DataFrame:
    ref, ref_meta = pyreadstat.read_xport(str(path), **({} if encoding == "utf-8" else {"encoding": "latin1"}))
    got, meta = read_xport_columns(path, "utf-8" if encoding == "utf-8" else "latin-1")
    assert list(got.columns) == list(ref.columns)
    assert len(got) == len(ref)
    for c in ref.columns:
        if pd.api.types.is_numeric_dtype(ref[c]):
            np.testing.assert_array_equal(got[c].to_numpy(float), ref[c].to_numpy(float), err_msg=c)
        else:
            assert got[c].tolist() == ref[c].tolist(), c
    assert meta.table_name == ref_meta.table_name
    assert meta.file_label == ref_meta.file_label
    assert meta.column_names_to_labels == ref_meta.column_names_to_labels
    assert meta.variable_storage_width == ref_meta.variable_storage_width
    return got


def _external_xpt() -> list[Path]:
    return [Path(p) for p in sorted(glob.glob(str(EXTERNAL / "**" / "*.xpt"), recursive=True))]


@pytest.mark.skipif(not _external_xpt(), reason="../shared/external is not beside the clone")
def test_every_external_xpt_as_pyreadstat_reads_it() -> None:
    files = _external_xpt()
    assert len(files) >= 12
    for path in files:
        try:
            pyreadstat.read_xport(str(path))
            encoding = "utf-8"
        except UnicodeDecodeError:
            encoding = "latin-1"  # the pilot's Windows-1252 bytes: compare the bytes, decoded alike
        _assert_same(path, encoding)


def _written(tmp_path: Path, frame: pd.DataFrame) -> Path:
    path = tmp_path / "lb.xpt"
    xpt.write_conformed(frame, "LB", path, created=CREATED)
    return path


def _data_at(raw: bytes) -> int:
    return raw.index(b"HEADER RECORD*******OBS     HEADER RECORD") + 80


def test_sas_bits_special_missing_and_nul_padding(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    n = 400
    frame = pd.DataFrame({"LBTESTCD": pd.Series(["ABCDEFGHIJ"] * n, dtype=object),
                          "LBSTRESN": np.arange(n, dtype="float64"),
                          "USUBJID": pd.Series(["S-1"] * n, dtype=object)})
    path = _written(tmp_path, frame)
    raw = bytearray(path.read_bytes())
    at, row = _data_at(bytes(raw)), 10 + 8 + 3
    for i in range(n):
        cell = at + i * row + 10
        exponent = int(rng.integers(0x30, 0x50)) | (0x80 if rng.random() < 0.3 else 0)
        fraction = rng.integers(0, 256, 7, dtype=np.uint8)
        fraction[0] |= 0x10 << int(rng.integers(0, 4))  # normalised: the first hex digit is not 0, as SAS writes
        raw[cell:cell + 8] = bytes([exponent]) + fraction.tobytes()
    for i, first in enumerate((0x2E, 0x41, 0x5A, 0x5F)):  # ., .A, .Z, ._
        cell = at + (300 + i) * row + 10
        raw[cell:cell + 8] = bytes([first]) + bytes(7)
    text = at + 5 * row
    raw[text:text + 10] = b"AB\x00CD\x00\x00\x00\x00\x00"  # a NUL inside, NULs after
    path.write_bytes(bytes(raw))
    got = _assert_same(path)
    assert got["LBSTRESN"].iloc[300:304].isna().all()


def test_short_numbers_and_short_rows(tmp_path: Path) -> None:
    """SAS may store a number in 3-7 bytes (the leading bytes of its IBM double); a 4-byte row is shorter than
    an 80-byte record, so the padding after the last row holds blank 'rows' that are not data."""
    frame = pd.DataFrame({"A": pd.Series(["x", "y", "", "z", "w"], dtype=object),
                          "B": pd.Series(["p", "", "q", "r", "s"], dtype=object)})
    path = _written(tmp_path, frame)
    _assert_same(path)
    frame = pd.DataFrame({"VISITNUM": [1.0, 2.5, np.nan, 1e6, -3.25]})
    path = _written(tmp_path, frame)
    raw = bytearray(path.read_bytes())
    head = _data_at(bytes(raw))
    namestr = raw.index(b"VISITNUM") - 8
    raw[namestr + 4:namestr + 6] = (4).to_bytes(2, "big")  # the variable now 4 bytes long
    data = b"".join(bytes(raw[head + i * 8:head + i * 8 + 4]) for i in range(5))
    raw = raw[:head] + data + b" " * (-len(data) % 80)
    path.write_bytes(bytes(raw))
    got = _assert_same(path)
    assert got["VISITNUM"].iloc[:2].tolist() == [1.0, 2.5]


def test_some_columns_of_a_range_as_the_whole_read_gives_them(tmp_path: Path) -> None:
    """`columns` reads only those variables (in the file's order), each value as the whole read gives it; a
    value that is not text in the encoding fails the read even in a variable not asked for (as a whole read
    would: the caller then reads the file another way)."""
    frame = pd.DataFrame({"USUBJID": pd.Series(["S-1", "S-2", "S-3", "S-4"], dtype=object),
                          "LBTEST": pd.Series(["Hemoglobin", "Leukocytes", "", "Platelets"], dtype=object),
                          "LBSTRESN": [13.2, np.nan, 4.5, 250.0],
                          "VISIT": pd.Series(["WEEK 1", "WEEK 1", "WEEK 2", ""], dtype=object)})
    path = _written(tmp_path, frame)
    whole, _ = read_xport_columns(path)
    got, meta = read_xport_columns(path, rows=(1, 3), columns=["VISIT", "LBSTRESN", "NOSUCH"])
    assert list(got.columns) == ["LBSTRESN", "VISIT"] and meta.column_names == list(whole.columns)
    assert got["VISIT"].tolist() == ["WEEK 1", "WEEK 2"]
    np.testing.assert_array_equal(got["LBSTRESN"].to_numpy(), [np.nan, 4.5])
    raw = bytearray(path.read_bytes())
    at = raw.index(b"Leukocytes", _data_at(bytes(raw)))
    raw[at + 1] = 0xE9  # "L\xe9ukocytes": Windows-1252, not UTF-8
    path.write_bytes(bytes(raw))
    with pytest.raises(UnicodeDecodeError):
        read_xport_columns(path, columns=["USUBJID"])
    assert read_xport_columns(path, "cp1252", columns=["USUBJID"])[0]["USUBJID"].tolist() == frame["USUBJID"].tolist()
