"""The column-wise XPT record writer equals pyreadstat byte for byte (pyreadstat is the reference).

The reference file is pyreadstat.write_xport of the whole frame; ours is `write_conformed` (pyreadstat's header
for a one-row template, then sdtm/xpt_rows.py's records). Compared with pinned creation stamps.
"""

from __future__ import annotations

import struct
from pathlib import Path

import hypothesis.strategies as st
import numpy as np
import pandas as pd
import pyreadstat
import pytest
from hypothesis import given, settings

from msc_interop.api import load_study
from msc_interop.sdtm import xpt, xpt_rows
from msc_interop.sdtm.xpt import variable_labels

REPO = Path(__file__).resolve().parents[2]
CREATED = "2026-01-02T03:04:05"


def _reference(frame: pd.DataFrame, name: str, path: Path) -> bytes:
    labels = variable_labels(name, list(frame.columns))
    pyreadstat.write_xport(frame, str(path), file_format_version=5, table_name=name,
                           file_label=xpt.mappings.dataset_label(name),
                           column_labels=[labels[c] for c in frame.columns])
    xpt._pin_timestamps(path, CREATED)
    return path.read_bytes()


def _ours(frame: pd.DataFrame, name: str, path: Path) -> bytes:
    xpt.write_conformed(frame, name, path, created=CREATED)
    return path.read_bytes()


def _object_text(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for c in out.columns:
        out[c] = out[c].astype("float64") if pd.api.types.is_numeric_dtype(out[c]) else out[c].astype(object)
    return out


@pytest.fixture(scope="module")
def example_datasets() -> dict[str, pd.DataFrame]:
    study, _ = load_study(REPO / "fixtures" / "example_study")
    return {name: _object_text(df) for name, df in study.datasets.items()}


def test_every_example_dataset_byte_identical(example_datasets: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    assert {"DM", "AE", "EX", "LB"} <= set(example_datasets)
    for name, frame in example_datasets.items():
        ref = _reference(frame, name, tmp_path / f"ref_{name}.xpt")
        ours = _ours(frame, name, tmp_path / f"{name.lower()}.xpt")
        assert ours == ref, name


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=12),
                          st.one_of(st.floats(allow_nan=False, allow_infinity=True),
                                    st.just(float("nan")), st.integers(-10**9, 10**9).map(float))),
                min_size=1, max_size=40))
def test_random_frames_byte_identical(tmp_path_factory: pytest.TempPathFactory,
                                      rows: list[tuple[str, float]]) -> None:
    d = tmp_path_factory.mktemp("x")
    frame = pd.DataFrame({"USUBJID": pd.Series([r[0] for r in rows], dtype=object),
                          "LBSTRESN": pd.Series([r[1] for r in rows], dtype="float64")})
    assert _ours(frame, "LB", d / "lb.xpt") == _reference(frame, "LB", d / "ref.xpt")


def test_ibm_doubles_by_hand() -> None:
    """By hand: 1 = 1/16 * 16**1 -> 0x41 100000 00000000; -118.625 = 0x76.A = 0x0.76A * 16**2 -> sign bit +
    0x42, fraction 76A... (the single-precision form C276A000 is the textbook example of IBM floats);
    0.1 is the IEEE double 0x1.999999999999Ap-4 = 0x0.1999999999999A * 16**0 -> 0x40 1999999999999A (the
    IEEE bits moved, not rounded again); missing = 0x2E followed by zeros; zero and -0.0 all zero bytes."""
    got = xpt_rows.ibm_doubles(np.array([1.0, -118.625, 0.1, np.nan, 0.0, -0.0]))
    assert [f"{int(b):016X}" for b in got] == [
        "4110000000000000", "C276A00000000000", "401999999999999A", "2E00000000000000",
        "0000000000000000", "0000000000000000"]
    # and the bits read back as the same double (IBM -> IEEE by the definition: 0.F * 16**(E-64))
    for b, x in zip(got[:3], [1.0, -118.625, 0.1], strict=True):
        raw = struct.pack(">Q", int(b))
        frac = int.from_bytes(raw[1:], "big") / 2**56
        assert (-1 if raw[0] & 0x80 else 1) * frac * 16.0 ** ((raw[0] & 0x7F) - 64) == x


def test_package_lengths_and_windows_1252(tmp_path: Path) -> None:
    """A package's storage length is kept even when every value is shorter; non-ASCII text is written in the
    package's encoding (0x92 for a right single quote in Windows-1252) and reads back unchanged."""
    frame = pd.DataFrame({"TSVAL": pd.Series(["Sponsor\u2019s value", "x"], dtype=object),
                          "TSSEQ": pd.Series([1.0, 2.0])})
    path = tmp_path / "ts.xpt"
    xpt.write_conformed(frame, "TS", path, encoding="cp1252", lengths={"TSVAL": 200}, created=CREATED)
    raw = path.read_bytes()
    assert b"Sponsor\x92s value" in raw
    _, meta = pyreadstat.read_xport(str(path), metadataonly=True)
    assert meta.variable_storage_width["TSVAL"] == 200
    _, back = xpt.read_xpt(path)
    assert back["TSVAL"].tolist() == ["Sponsor\u2019s value", "x"]
    assert len(raw) % 80 == 0


def test_out_of_range_as_readstat_writes_them(tmp_path: Path) -> None:
    """Below 16**-65 a magnitude is 0; 1e-78 (= 0.1157 * 16**-64) is still normal with exponent byte 0; above
    16**63 or infinite it is the largest pattern with its sign (seen from pyreadstat 1.2: reads back as inf)."""
    values = [1e-79, -1e-100, 1e-78, -3e-78, 1e80, -1e80, float("inf"), -float("inf")]
    got = [f"{int(b):016X}" for b in xpt_rows.ibm_doubles(np.array(values))]
    assert got[:2] == ["0000000000000000"] * 2
    assert got[2].startswith("001DA4") and got[3].startswith("8058ED")
    assert got[4:] == ["7FFFFFFFFFFFFFFF", "FFFFFFFFFFFFFFFF"] * 2
    frame = pd.DataFrame({"LBSTRESN": values})
    assert _ours(frame, "LB", tmp_path / "lb.xpt") == _reference(frame, "LB", tmp_path / "ref.xpt")


def test_saturates_where_readstat_does() -> None:
    """ReadStat (pyreadstat.write_xport, the reference) writes 16**62 * 1.5 as 0x7F18... (exact: 0.09375 * 16**63)
    but 16**62 * 2 = 2**249 and above as the largest pattern 0x7FFF..., below the IBM format's own 16**63; seen by
    writing those values with pyreadstat (a random frame of the test above found the difference)."""
    got = xpt_rows.ibm_doubles(np.array([16.0**62 * 1.5, 16.0**62 * 2, -(16.0**62 * 2), 7.2e75]))
    assert [f"{int(b):016X}" for b in got] == [
        "7F18000000000000", "7FFFFFFFFFFFFFFF", "FFFFFFFFFFFFFFFF", "7FFFFFFFFFFFFFFF"]


@pytest.mark.parametrize("table_bytes", [xpt_rows.TABLE_BYTES, 0])
def test_records_encoded_per_column_as_per_chunk(monkeypatch: pytest.MonkeyPatch, table_bytes: int) -> None:
    """A frame of many chunks encodes each text column's distinct values once (or, over TABLE_BYTES, a chunk at
    a time): the records equal those of one chunk (the path pyreadstat is held to above), for text with trailing
    blanks, an inner NUL, non-ASCII characters and missing values, inside shared_columns() and outside it."""
    from msc_interop.distinct import shared_columns

    monkeypatch.setattr(xpt_rows, "TABLE_BYTES", table_bytes)
    rng = np.random.default_rng(7)
    pool = np.array(["A", "b ", "x\x00y", "μmol/L", "", None, np.nan, "long value " * 3], dtype=object)
    short = np.array(["", "a", "bc d", "ü", None, "x\x00", "abcdefghijk", "7 bytes"], dtype=object)
    frame = pd.DataFrame({"T": pool[rng.integers(0, len(pool), 103)],
                          "N": rng.normal(size=103), "U": [f"S{i:03d}" for i in range(103)],
                          "W": short[rng.integers(0, len(short), 103)],  # 11 bytes: pieces of 8, 2 and 1
                          "V": short[rng.integers(0, 4, 103)]})  # 4 bytes
    widths = xpt_rows.storage_widths(frame, "utf-8")
    assert widths == {"T": 33, "N": 8, "U": 4, "W": 11, "V": 4}  # "long value " * 3 is 33 bytes, "μmol/L" 7
    whole = b"".join(xpt_rows.record_chunks(frame, widths, "utf-8", chunk_rows=10**6))
    assert len(whole) == 103 * 60
    assert whole == b"".join(frame_row_bytes(row, widths) for _, row in frame.iterrows())
    assert b"".join(xpt_rows.record_chunks(frame, widths, "utf-8", chunk_rows=10)) == whole
    monkeypatch.setattr(xpt_rows, "CHUNK_BYTES", 7 * 60)  # records assembled 7 at a time (blocks of CHUNK_BYTES)
    blocks = list(xpt_rows.record_chunks(frame, widths, "utf-8", chunk_rows=50))
    assert [len(b) for b in blocks] == [7] * 14 + [5] and b"".join(blocks) == whole
    with shared_columns():
        assert xpt_rows.storage_widths(frame, "utf-8") == widths
        assert b"".join(xpt_rows.record_chunks(frame, widths, "utf-8", chunk_rows=10)) == whole


def frame_row_bytes(row: pd.Series, widths: dict[str, int]) -> bytes:
    """One record by hand: text encoded and blank-padded (missing: blanks), numbers as IBM doubles."""
    out = b""
    for col, w in widths.items():
        v = row[col]
        if col == "N":
            out += int(xpt_rows.ibm_doubles(np.array([v]))[0]).to_bytes(8, "big")
        else:
            out += (v.encode("utf-8") if isinstance(v, str) else b"").ljust(w, b" ")
    return out


def test_a_value_longer_than_its_variable_is_refused_not_cut() -> None:
    """numpy's fixed-width bytes would cut "abcdef" to "abc" (or a character in half): the encoder refuses."""
    with pytest.raises(ValueError, match="6 bytes does not fit the variable's 3 bytes"):
        xpt_rows._text_bytes(pd.Series(["abcdef", "xy"], dtype=object), 3, "utf-8")
    with pytest.raises(ValueError, match="does not fit"):
        xpt_rows._text_bytes(pd.Series(["μ"], dtype=object), 1, "utf-8")  # 2 bytes in UTF-8
    assert xpt_rows._text_bytes(pd.Series(["ab", None], dtype=object), 3, "utf-8").tobytes() == b"ab    "
