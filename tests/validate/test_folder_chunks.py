"""The range reader (validate/folder_chunks.py) asked for some variables: each range holds those only, each value
as the range of every variable holds it, in XPT, Dataset-JSON and CSV."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from msc_interop.api import to_sdtm
from msc_interop.validate.folder_chunks import ChunkedFile

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def example_sdtm(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("example")
    to_sdtm(REPO / "fixtures" / "example_study", out, formats=["xpt", "json", "csv"], created="2026-01-01T00:00:00",
            validate=False)
    return out


@pytest.mark.parametrize(("fmt", "suffix"), [("xpt", "xpt"), ("json", "json"), ("csv", "csv")])
def test_ranges_of_some_variables_are_those_of_every_variable(example_sdtm, fmt, suffix):
    path = example_sdtm / fmt / f"lb.{suffix}"
    wanted = ["VISIT", "LBSTRESN", "USUBJID", "NOSUCH"]
    every = list(ChunkedFile(fmt, path, 7, check=False).chunks())
    some = list(ChunkedFile(fmt, path, 7, check=False).chunks(wanted))
    assert len(every) == len(some) > 3
    for (a, whole), (b, part) in zip(every, some, strict=True):
        assert a == b
        assert list(part.columns) == [c for c in whole.columns if c in wanted]  # the file's order
        pd.testing.assert_frame_equal(part, whole[list(part.columns)])
    assert ChunkedFile(fmt, path, 7, check=False).column_names == list(every[0][1].columns)


def test_a_checked_range_reads_every_variable(example_sdtm):
    with pytest.raises(ValueError, match="check=False"):
        next(ChunkedFile("xpt", example_sdtm / "xpt" / "lb.xpt", 7).chunks(["USUBJID"]))


def test_xpt_ranges_read_numbers_as_the_whole_read(shared_dir: Path):
    """CDISC's lb.xpt read by ranges (validate of a big folder, summary) gives each number as read_xpt gives the
    whole file: rounded to SAS's 15 significant digits (LBSTRESN 8.55, not the IBM double's 8.549999999999999)."""
    from msc_interop.sdtm.xpt import read_xpt

    path = shared_dir / "external" / "dataset-json" / "examples-v1.1" / "sdtm" / "lb.xpt"
    _, whole = read_xpt(path, note_dates=False)
    ranges = [frame for _, frame in ChunkedFile("xpt", path, 1000, check=False).chunks(["LBSTRESN", "LBSEQ"])]
    assert len(ranges) > 1
    read = pd.concat(ranges, ignore_index=True)
    assert 8.55 in set(read["LBSTRESN"]) and 8.549999999999999 not in set(read["LBSTRESN"])
    pd.testing.assert_frame_equal(read, whole[["LBSEQ", "LBSTRESN"]].reset_index(drop=True), check_exact=True)
