"""XPT numbers as the writer meant them: an IBM double holds a decimal inexactly, so read_xpt rounds a number
with a fraction to the 15 significant digits SAS states for an 8-byte number (8.55, not 8.549999999999999);
whole numbers (integers, SAS dates) stay exact. The IBM patterns here are computed exactly (fractions.Fraction),
as a writer converting a decimal to the IBM format (TS-140: 7-bit excess-64 base-16 exponent, 56-bit fraction)
stores it."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from msc_interop.sdtm import xpt, xpt_read

CREATED = "2026-01-02T03:04:05"


def _ibm_nearest(text: str) -> bytes:
    """The IBM double nearest the decimal `text` (round half up on the 56-bit fraction), as 8 bytes."""
    value = Fraction(text)
    sign, value = (0x80 if value < 0 else 0), abs(value)
    if value == 0:
        return bytes(8)
    exponent = 0
    while value >= 1:
        value, exponent = value / 16, exponent + 1
    while value < Fraction(1, 16):
        value, exponent = value * 16, exponent - 1
    fraction = int(value * 2**56 + Fraction(1, 2))
    if fraction == 2**56:  # rounded up to 1.0: one hex digit more
        fraction, exponent = 2**52, exponent + 1
    return bytes([sign | (exponent + 64)]) + fraction.to_bytes(7, "big")


def _xpt_with(tmp_path: Path, values: list[str]) -> Path:
    """A one-variable LB.xpt whose LBSTRESN records hold the IBM doubles nearest `values`."""
    path = tmp_path / "lb.xpt"
    xpt.write_conformed(pd.DataFrame({"LBSTRESN": np.zeros(len(values))}), "LB", path, created=CREATED)
    raw = bytearray(path.read_bytes())
    at = raw.index(b"HEADER RECORD*******OBS     HEADER RECORD") + 80
    for i, v in enumerate(values):
        raw[at + 8 * i:at + 8 * i + 8] = _ibm_nearest(v)
    path.write_bytes(bytes(raw))
    return path


def test_ibm_decimals_read_as_written_and_whole_numbers_exact(tmp_path: Path) -> None:
    values = ["8.55", "-8.55", "0.4", "4.03", "9.24694", "0.075", "1.5e-10", "123456789.012345",
              "19734", "1234567890123456", "9007199254740991", "0", "-7", "1899590400"]
    path = _xpt_with(tmp_path, values)
    assert pyreadstat.read_xport(str(path))[0]["LBSTRESN"].iloc[0] == 8.549999999999999  # the noise, raw
    _, df = xpt.read_xpt(path)
    assert df["LBSTRESN"].tolist() == [float(v) for v in values]


def test_significant_15_is_pythons_15_digit_rounding() -> None:
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.uniform(-1e6, 1e6, 20_000), 10.0 ** rng.uniform(-20, 14.9, 20_000),
                        [0.1 + 0.2, 999.9999999999999, 1e-300, 5e-324, 9.999999999999999e14, 1e15 + 0.5,
                         np.inf, -np.inf]])
    expected = np.array([float(f"{v:.15g}") if np.isfinite(v) and abs(v) < 1e15 else v for v in x])
    np.testing.assert_array_equal(xpt_read.significant_15(x), expected)


def _near_ties(rng: np.random.Generator, count: int) -> np.ndarray:
    """Doubles at and beside the halfway points between 15-digit decimals: the nearest double of a 16-digit
    decimal ending in 5 (a tie in decimal, a hair off it in binary), its neighbours, and the exact binary ties
    (m + 0.5 from 1e14 to 1e15, where k = 0 so the tie is a double itself: Python rounds those half to even)."""
    digits = rng.integers(10**14, 10**15, count)
    exponents = rng.integers(-8, 15, count)
    decimal_ties = np.array([float(f"{d}5e{x - 15}") for d, x in zip(digits.tolist(), exponents.tolist(),
                                                                            strict=True)])
    exact_ties = rng.integers(10**14 + 2, 10**15 - 2, count).astype(np.float64) + 0.5
    both = np.concatenate([decimal_ties, exact_ties])
    return np.concatenate([both, np.nextafter(both, np.inf), np.nextafter(both, 0), -both])


def test_significant_15_near_ties_is_pythons_rounding_without_a_python_loop(monkeypatch) -> None:
    """The halfway cases, where the double product |x| * 10**k may round across the tie, are decided exactly
    and vectorised: Python's per-value formatting is left only for values below 1e-8 or at 15 digits' bounds."""
    x = _near_ties(np.random.default_rng(11), 25_000)
    expected = np.array([float(f"{v:.15g}") for v in x])
    formatted: list[int] = []
    python_rounding = xpt_read._formatted
    monkeypatch.setattr(xpt_read, "_formatted", lambda v: (formatted.append(len(v)), python_rounding(v))[1])
    np.testing.assert_array_equal(xpt_read.significant_15(x), expected)
    assert sum(formatted) == 0
    # the exact binary ties go half to even, as Python does
    assert xpt_read.significant_15(np.array([123456789012344.5, 123456789012345.5])).tolist() == [
        123456789012344.0, 123456789012346.0]


def test_cdisc_lb_xpt_reads_as_its_dataset_json_twin(shared_dir: Path) -> None:
    """CDISC's Dataset-JSON example LB is given as .json and .xpt with identical content: LBSTRESN 8.55 ..."""
    base = shared_dir / "external" / "dataset-json" / "examples-v1.1" / "sdtm"
    if not (base / "lb.xpt").is_file():
        pytest.skip("CDISC's Dataset-JSON examples are not in ../shared/external")
    theirs = json.loads((base / "lb.json").read_bytes())
    _, ours = xpt.read_xpt(base / "lb.xpt")
    for k, col in enumerate(theirs["columns"]):
        if col["dataType"] in ("float", "integer"):
            want = [np.nan if r[k] is None else float(r[k]) for r in theirs["rows"]]
            np.testing.assert_array_equal(ours[col["name"]].to_numpy(float), want, err_msg=col["name"])


def test_decimals_in_a_file_with_a_sas_date_format(tmp_path: Path) -> None:
    """A file with a DATE9. variable is read by pyreadstat (which turns it into dates); its other numbers are
    still given as written."""
    path = tmp_path / "lb.xpt"
    frame = pd.DataFrame({"LBDT": [19734.0, 19735.0], "LBSTRESN": [0.0, 0.0]})
    pyreadstat.write_xport(frame, str(path), table_name="LB", variable_format={"LBDT": "DATE9."},
                         file_format_version=5)
    raw = bytearray(path.read_bytes())
    at = raw.index(b"HEADER RECORD*******OBS     HEADER RECORD") + 80
    for i, v in enumerate(["8.55", "4.03"]):
        raw[at + 16 * i + 8:at + 16 * i + 16] = _ibm_nearest(v)
    path.write_bytes(bytes(raw))
    _, df = xpt.read_xpt(path, note_dates=False)
    assert df["LBSTRESN"].tolist() == [8.55, 4.03]
    assert df["LBDT"].tolist() == ["2014-01-11", "2014-01-12"]  # SAS day 19734 = 1960-01-01 + 19734 days
