"""A partitioned to-sdtm splits an XPT dataset over --max-file-size as a whole run does, streamed.

The oracle is the whole run at the same limit: the pieces (LBCH, LBHE, LBTM), every other file, define.xml and
the notes in the reject report must be byte-identical, with every dataset streamed from disk (hold_rows=0) and
with the small ones held. The bundled study's LB (494 rows: 180 CHEMISTRY 50,720 bytes, 135 HEMATOLOGY 39,120,
179 TUMOR MARKERS 50,480; tests/sdtm/test_split.py) is split at 20 KB with each piece still over it; EG and VS
(no --CAT) stay whole with a note. SUPP-- follows its parent's pieces: tested on a SUPPLB made from LB's rows
(as test_split.py does), cut by subject as a partitioned run cuts it, with two records that qualify no LB record.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from msc_interop import api
from msc_interop.records.reader import read_records
from msc_interop.rejects import RejectReport
from msc_interop.sdtm import partitioned
from msc_interop.sdtm.build import build_study
from msc_interop.sdtm.partitioned import PartitionedStudy, load_partitioned, scratch_folder
from msc_interop.sdtm.partitioned_write import write_partitioned
from msc_interop.sdtm.spill import SpilledDataset
from msc_interop.study import Study

from .test_partitioned import _differences

FORMATS = ("xpt", "json", "ndjson", "csv")
STAMP = "2026-01-01T00:00:00"
EXAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "example_study"
LIMIT = 20_000


@pytest.fixture(scope="module")
def whole(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("whole")
    api.to_sdtm(EXAMPLE, out, formats=FORMATS, created=STAMP, validate=False, partition_subjects=0,
                max_file_size=LIMIT)
    return out


@pytest.mark.parametrize("hold_rows", [0, None])
def test_example_split_streamed_is_byte_identical(whole, tmp_path, hold_rows):
    out = tmp_path / "parts"
    with scratch_folder(out) as scratch:
        ps = load_partitioned(EXAMPLE, scratch, 2, hold_rows=hold_rows)
        assert ps is not None and ps.partitions == 5
        assert ("LB" in ps.spilled) == (hold_rows == 0)  # streamed, or held (494 rows) and split as held
        write_partitioned(ps, out, FORMATS, True, STAMP, max_file_size=LIMIT)
        ps.rejects.notes += [n for n in ps.notes if n not in ps.rejects.notes]
        ps.rejects.write(out)
    assert _differences(whole, out) == []
    xpts = sorted(p.name for p in (out / "xpt").glob("*.xpt"))
    assert {"lbch.xpt", "lbhe.xpt", "lbtm.xpt", "eg.xpt", "vs.xpt"} <= set(xpts) and "lb.xpt" not in xpts
    assert (out / "json" / "lb.json").is_file()  # only XPT is split
    assert [(out / "xpt" / f"lb{s}.xpt").stat().st_size for s in ("ch", "he", "tm")] == [50_720, 39_120, 50_480]
    notes = "\n".join(ps.notes)
    assert "LBHE (LBCAT 'HEMATOLOGY', 135 rows): the XPT file is 39,120 bytes, over --max-file-size 20,000" in notes
    assert "VS: the XPT file is 80,240 bytes, over --max-file-size 20,000, and cannot be split" in notes
    assert "partitioned run writes it whole" not in notes


def test_synthetic_study_split_streamed_is_byte_identical(tmp_path):
    """60 synthetic subjects cut 7 a partition (9 partitions, categories spread over all of them)."""
    records = tmp_path / "records"
    api.synth(records, subjects=60, seed=11)
    api.to_sdtm(records, tmp_path / "w", formats=("xpt",), created=STAMP, validate=False, partition_subjects=0,
                max_file_size=200_000)
    out = tmp_path / "p"
    with scratch_folder(out) as scratch:
        ps = load_partitioned(records, scratch, 7, hold_rows=0)
        assert ps is not None and ps.partitions == 9
        write_partitioned(ps, out, ("xpt",), True, STAMP, max_file_size=200_000)
        ps.rejects.notes += [n for n in ps.notes if n not in ps.rejects.notes]
        ps.rejects.write(out)
    assert _differences(tmp_path / "w", out) == []
    assert sorted(p.name for p in (out / "xpt").glob("lb*.xpt")) == ["lbch.xpt", "lbhe.xpt", "lbtm.xpt"]


def _cut_by_subject(study: Study, per: int, scratch: Path) -> PartitionedStudy:
    """The study as load_partitioned leaves it: datasets with subjects spilled `per` subjects a partition in
    USUBJID order (rows about the study first), the others held."""
    subjects = sorted(set(study["DM"]["USUBJID"]))
    groups = [subjects[i:i + per] for i in range(0, len(subjects), per)]
    spilled, held = {}, {}
    scratch.mkdir()
    for name, df in study.datasets.items():
        if "USUBJID" not in df.columns:
            held[name] = df
            continue
        ds = SpilledDataset(name, scratch)
        for k, group in enumerate(groups):
            ds.append(df[df["USUBJID"].isin(group)].reset_index(drop=True), k)
        if (df["USUBJID"] == "").any():
            ds.lead(df[df["USUBJID"] == ""].reset_index(drop=True))
        pd.testing.assert_frame_equal(ds.whole(), df)  # the whole run's row order, partition by partition
        spilled[name] = ds
    return PartitionedStudy(study.meta, held, spilled, RejectReport(), [], dict(study.text_origins), len(groups),
                            {n: s.ranges for n, s in spilled.items()})


def test_supp_follows_its_parent_pieces_streamed(tmp_path):
    study, _ = build_study(read_records(EXAMPLE))
    lb = study["LB"]
    supp = pd.DataFrame({"STUDYID": lb["STUDYID"], "RDOMAIN": "LB", "USUBJID": lb["USUBJID"], "IDVAR": "LBSEQ",
                         "IDVARVAL": lb["LBSEQ"].astype(int).astype(str), "QNAM": "LBCLSIG",
                         "QLABEL": "Clinically Significant", "QVAL": lb["LBCAT"].str[:2], "QORIG": "Assigned",
                         "QEVAL": ""})
    supp.loc[[300, 490], "IDVARVAL"] = "9999"  # qualify no LB record: rows 301 and 491 go with LBCH
    with_supp = Study(study.meta, {**study.datasets, "SUPPLB": supp})
    notes: list[str] = []
    api.write_sdtm(with_supp, tmp_path / "w", ["xpt"], True, STAMP, notes=notes, max_file_size=LIMIT)
    ps = _cut_by_subject(with_supp, 2, tmp_path / "scratch")
    write_partitioned(ps, tmp_path / "p", ["xpt"], True, STAMP, max_file_size=LIMIT)
    assert _differences(tmp_path / "w", tmp_path / "p") == []
    assert ps.notes == notes
    assert "SUPPLB: 2 record(s) (rows 301, 491) do not qualify a LB record by LBSEQ; they go with LBCH" in notes
    assert {"supplbch.xpt", "supplbhe.xpt", "supplbtm.xpt"} <= {p.name for p in (tmp_path / "p" / "xpt").iterdir()}
    assert not (tmp_path / "p" / "xpt" / "supplb.xpt").exists()


def test_validation_of_a_split_partitioned_run_equals_the_whole_runs(tmp_path, monkeypatch):
    """to-sdtm's own validation of the pieces: the whole run's findings, in order (every dataset streamed)."""
    w = api.to_sdtm(EXAMPLE, tmp_path / "w", formats=FORMATS, created=STAMP, partition_subjects=0,
                    max_file_size=LIMIT)
    monkeypatch.setattr(partitioned, "HOLD_ROWS", 0)
    p = api.to_sdtm(EXAMPLE, tmp_path / "p", formats=FORMATS, created=STAMP, partition_subjects=3,
                    max_file_size=LIMIT)
    assert p.partitions == 3
    a = [str(f).replace(str(tmp_path / "w"), "OUT") for f in w.validation.findings]
    b = [str(f).replace(str(tmp_path / "p"), "OUT") for f in p.validation.findings]
    assert a == b and len(a) >= 12  # the example's 12 judged MSC-SDTM-040 warnings at least
    assert tmp_path / "p" / "xpt" / "lbch.xpt" in p.written


def test_cli_wrote_lines_count_the_records_of_each_piece(tmp_path):
    """The "wrote" line of each piece carries its records (180/135/179: test_split.py), as a whole run's does."""
    from click.testing import CliRunner

    from msc_interop.cli import main

    res = CliRunner().invoke(main, ["to-sdtm", str(EXAMPLE), "-o", str(tmp_path), "--format", "xpt", "--created",
                                    STAMP, "--max-file-size", "20KB", "--partition-subjects", "2", "--no-validate"])
    assert res.exit_code == 0, res.output
    assert "converted in 5 subject partitions" in res.output
    for name, n in (("lbch", 180), ("lbhe", 135), ("lbtm", 179)):
        assert f"wrote {tmp_path / 'xpt' / f'{name}.xpt'} ({n} records)" in res.output
