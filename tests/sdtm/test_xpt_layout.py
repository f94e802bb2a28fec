"""XPT byte layout (xpt_layout.py): a cut or joined file is refused before pyreadstat reads it as a shorter or
garbled dataset; what the bytes cannot tell (a cut on a row and record boundary at once) is exactly that."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest

from msc_interop.errors import InputError
from msc_interop.records import read_records
from msc_interop.sdtm import xpt_layout
from msc_interop.sdtm.build import build_study
from msc_interop.sdtm.xpt import read_xpt, write_xpt
from msc_interop.sdtm.xpt_layout import check_xpt_layout

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def lb_xpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    study, _ = build_study(read_records(REPO / "fixtures" / "example_study"))
    path = tmp_path_factory.mktemp("xpt") / "lb.xpt"
    write_xpt(study["LB"], "LB", path, created="2026-01-01T00:00:00")
    return path


def _layout(raw: bytes) -> tuple[int, int]:
    """(offset of the first row, bytes per row) of a one-member V5 file, read off its headers by hand."""
    obs = raw.index(b"HEADER RECORD*******OBS     HEADER RECORD")
    n_vars = int(raw[7 * 80 + 54:7 * 80 + 58])
    row = sum(int.from_bytes(raw[640 + i * 140 + 4:640 + i * 140 + 6], "big") for i in range(n_vars))
    return obs + 80, row


def _refusal(path: Path, raw: bytes) -> str | None:
    path.write_bytes(raw)
    try:
        check_xpt_layout(path)
    except InputError as exc:
        return str(exc)
    return None


def test_every_record_boundary_cut_is_refused_unless_it_is_also_a_row_boundary(lb_xpt: Path, tmp_path: Path) -> None:
    raw = lb_xpt.read_bytes()
    start, row = _layout(raw)
    assert len(raw) % 80 == 0 and row == 257
    undetected = []
    for cut in range(80, len(raw), 80):
        message = _refusal(tmp_path / "lb.xpt", raw[:cut])
        if message is None:
            undetected.append(cut)
            continue
        assert "lb.xpt" in message and "truncated?" in message
        if cut >= start:
            whole = (cut - start) // row
            assert f"ends inside row {whole + 1} ({whole} whole row{'' if whole == 1 else 's'} of 257" in message
    # exactly the cuts the module docstring names: row boundaries that are record boundaries (and the empty data)
    assert undetected == [cut for cut in range(start, len(raw), 80) if (cut - start) % row == 0]
    assert len(undetected) == math.ceil(494 / (math.lcm(80, row) // row))  # rows 0, 80, 160, ..., 480


def test_every_cut_inside_the_last_rows_is_refused(lb_xpt: Path, tmp_path: Path) -> None:
    raw = lb_xpt.read_bytes()
    start, row = _layout(raw)
    for cut in range(len(raw) - 2 * row, len(raw)):
        message = _refusal(tmp_path / "lb.xpt", raw[:cut])
        assert message is not None, cut
        whole, rest = divmod(cut - start, row)
        if rest == 0 or whole == 494:  # the cut ends a row, not on a record boundary (494: only padding cut)
            assert "not a whole number of 80-byte records" in message and f"{whole} whole rows" in message
        else:
            assert f"ends inside row {whole + 1}" in message


def test_cuts_inside_the_header_say_so(lb_xpt: Path, tmp_path: Path) -> None:
    raw = lb_xpt.read_bytes()
    start, _ = _layout(raw)
    for cut in (1, 79, 80, 320, 639, 640, 700, start - 81, start - 1):
        message = _refusal(tmp_path / "lb.xpt", raw[:cut])
        assert message is not None and "ends inside its header" in message, (cut, message)


@pytest.mark.parametrize("window", [None, 4096, 97])
def test_a_second_member_is_refused_and_named(lb_xpt: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              window: int | None) -> None:
    """Also when the file is searched in windows (of a page, of 97 bytes: the header across two windows)."""
    if window is not None:
        monkeypatch.setattr(xpt_layout, "_WINDOW", window)
    other = tmp_path / "dm.xpt"
    write_xpt(pd.DataFrame({"STUDYID": ["S"], "USUBJID": ["S-1"]}), "DM", other)
    joined = lb_xpt.read_bytes() + other.read_bytes()[240:]
    message = _refusal(tmp_path / "lb.xpt", joined)
    assert message is not None and "more than one dataset" in message and "DM" in message
    # the member header's text inside a value, off a record boundary, is data
    assert _refusal(tmp_path / "x.xpt", _with_value("HEADER RECORD*******MEMBER  HEADER RECORD", tmp_path)) is None


def _with_value(text: str, tmp_path: Path) -> bytes:
    path = tmp_path / "v.xpt"
    pyreadstat.write_xport(pd.DataFrame({"A": ["x" + text]}), str(path), file_format_version=5, table_name="V")
    return path.read_bytes()


def test_short_rows_with_padding_longer_than_a_row_read_whole(tmp_path: Path) -> None:
    """Rows of 1 byte: 3 rows and 77 bytes of blanks; the padding holds whole 'rows' of blanks, which is no cut."""
    path = tmp_path / "sh.xpt"
    pyreadstat.write_xport(pd.DataFrame({"A": ["x", "y", "z"]}), str(path), file_format_version=5, table_name="SH")
    check_xpt_layout(path)
    assert read_xpt(path)[1]["A"].tolist() == ["x", "y", "z"]


def test_not_xpt_and_v8(tmp_path: Path) -> None:
    path = tmp_path / "lb.xpt"
    for content, says in ((b"", "empty"), (b"STUDYID,DOMAIN\n", "not a SAS XPORT"), (b"\x00" * 800, "not a SAS XPORT")):
        assert says in (_refusal(path, content) or ""), content
    v8 = tmp_path / "v8.xpt"
    pyreadstat.write_xport(pd.DataFrame({"A": ["x"]}), str(v8), file_format_version=8, table_name="V")
    check_xpt_layout(v8)  # V8 files: only their 80-byte records are checked
    assert "80-byte records" in (_refusal(path, v8.read_bytes()[:-1]) or "")


def test_read_xpt_refuses_before_reading_rows(lb_xpt: Path, tmp_path: Path) -> None:
    cut = tmp_path / "lb.xpt"
    cut.write_bytes(lb_xpt.read_bytes()[:65_680])
    with pytest.raises(InputError, match=re.escape("lb.xpt: the file ends inside row 239 (238 whole rows of 257 "
                                                   "bytes, then 114 bytes of the next): truncated?")):
        read_xpt(cut)


def test_files_sas_wrote_pass(shared_dir: Path) -> None:
    """Real SAS-written XPORT files (CDISC pilot, Dataset-JSON examples) have the layout the check expects."""
    files = sorted((shared_dir / "external").rglob("*.xpt"))
    assert len(files) > 10
    for path in files:
        check_xpt_layout(path)
