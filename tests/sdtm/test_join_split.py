"""A package whose LB was split by --max-file-size (LBCH, LBHE, LBTM) reads as the whole package in the commands
that need a domain whole: summary, to-adam, to-fhir (a fresh-eyes run found they saw no lab data at all)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from msc_interop import api
from msc_interop.inputs.load import read_any
from msc_interop.sdtm.formats import read_sdtm
from msc_interop.sdtm.join_split import join_split_pieces

CREATED = "2026-01-01T00:00:00"
EXAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "example_study"


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(whole XPT folder, the same with LB split in three) of the bundled study."""
    root = tmp_path_factory.mktemp("join")
    api.to_sdtm(EXAMPLE, root / "whole", formats=["xpt"], created=CREATED, validate=False)
    api.to_sdtm(EXAMPLE, root / "split", formats=["xpt"], created=CREATED, validate=False,
                max_file_size=100_000)
    split = root / "split" / "xpt"
    assert sorted(p.name for p in split.glob("lb*.xpt")) == ["lbch.xpt", "lbhe.xpt", "lbtm.xpt"]
    return root / "whole" / "xpt", split


def test_pieces_put_together_are_the_whole_dataset(packages: tuple[Path, Path]) -> None:
    whole, split = packages
    joined, notes = join_split_pieces(read_sdtm(split))
    assert "LBCH" not in joined and "LB" in joined
    assert notes == ["LB: read from its split datasets LBCH, LBHE, LBTM (lbch.xpt, lbhe.xpt, lbtm.xpt; SDTMIG 4.1.7)"]
    pd.testing.assert_frame_equal(joined["LB"], read_sdtm(whole)["LB"])
    assert joined.names == read_sdtm(whole).names


def test_summary_of_a_split_package_is_the_whole_package_summary(packages: tuple[Path, Path],
                                                                  tmp_path: Path) -> None:
    whole, split = packages
    a, _ = api.summarize([whole], tmp_path / "a", formats=["csv"])
    b, rejects = api.summarize([split], tmp_path / "b", formats=["csv"])
    assert len(a.tables["lab_stats"]) > 0  # the split run had none before
    for name, table in a.tables.items():
        pd.testing.assert_frame_equal(b.tables[name], table, obj=name)
    assert any(n.startswith("LB: read from its split datasets") for n in rejects.notes)


def test_to_adam_and_to_fhir_of_a_split_package_equal_the_whole_package(packages: tuple[Path, Path],
                                                                        tmp_path: Path) -> None:
    whole, split = packages
    for name, folder in (("a", whole), ("b", split)):
        api.to_adam([folder], tmp_path / f"adam_{name}", formats=["json"], created=CREATED, validate=False)
        api.to_fhir(folder, tmp_path / f"fhir_{name}", ndjson=True, bundle="none", validate=False,
                    timezone="Asia/Shanghai")
    adlb = sorted((tmp_path / "adam_a").rglob("adlb.json"))
    assert adlb and adlb[0].read_bytes() == (tmp_path / "adam_b" / adlb[0].relative_to(tmp_path / "adam_a")
                                            ).read_bytes()
    files_a = sorted(p.relative_to(tmp_path / "fhir_a") for p in (tmp_path / "fhir_a").rglob("*.ndjson"))
    assert Path("Observation.ndjson") in {Path(p.name) for p in files_a}
    for rel in files_a:
        assert (tmp_path / "fhir_b" / rel).read_bytes() == (tmp_path / "fhir_a" / rel).read_bytes(), rel


def test_a_dataset_both_whole_and_split_is_not_joined(packages: tuple[Path, Path], tmp_path: Path) -> None:
    whole, split = packages
    both = tmp_path / "both"
    shutil.copytree(split, both)
    shutil.copy(whole / "lb.xpt", both / "lb.xpt")
    study, rejects = read_any([both])
    assert {"LB", "LBCH", "LBHE", "LBTM"} <= set(study.names)
    assert "LB is both whole and split (LBCH, LBHE, LBTM): read as separate datasets; keep one" in rejects.notes


@pytest.mark.parametrize("partition", ["off", 3])
def test_a_rerun_split_another_way_removes_the_earlier_pieces(tmp_path: Path, partition: object) -> None:
    """The same output folder written split, then whole, then split again: only this run's files stay (the
    earlier pieces read as a second LB: LBSEQ twice per subject, thousands of errors), and a note says so."""
    out = tmp_path / "out"
    runs = [(100_000, ["lbch.xpt", "lbhe.xpt", "lbtm.xpt"]), (None, ["lb.xpt"]),
            (100_000, ["lbch.xpt", "lbhe.xpt", "lbtm.xpt"])]
    for i, (limit, expected) in enumerate(runs):
        result = api.to_sdtm(EXAMPLE, out, formats=["xpt"], created=CREATED, max_file_size=limit,
                             partition_subjects=partition)
        assert sorted(p.name for p in (out / "xpt").glob("lb*.xpt")) == expected
        removed = [n for n in result.rejects.notes if "left by an earlier run" in n]
        if i == 0:
            assert not removed
        else:
            gone = "lbch.xpt, lbhe.xpt, lbtm.xpt" if limit is None else "lb.xpt"
            assert len(removed) == 1 and f"removed {gone}, left by an earlier run" in removed[0]
        assert result.validation is not None and result.validation.counts_by_severity().get("error", 0) == 0


def test_from_fhir_splits_by_max_file_size_as_to_sdtm(tmp_path: Path) -> None:
    """from-fhir (and pull, through it) writes XPT too: --max-file-size splits LB there as to-sdtm does."""
    from click.testing import CliRunner

    from msc_interop.cli import main

    api.to_fhir(EXAMPLE, tmp_path / "fhir", ndjson=True, bundle="none", validate=False)
    runner = CliRunner()
    for part in ("off", "3"):
        out = tmp_path / f"sdtm_{part}"
        got = runner.invoke(main, ["from-fhir", str(tmp_path / "fhir"), "-o", str(out), "--format", "xpt",
                                   "--created", CREATED, "--max-file-size", "100KB", "--partition-subjects", part])
        assert got.exit_code == 0, got.output
        assert sorted(p.name for p in (out / "xpt").glob("lb*.xpt")) == ["lbch.xpt", "lbhe.xpt", "lbtm.xpt"]
    assert (tmp_path / "sdtm_off" / "xpt" / "lbhe.xpt").read_bytes() == \
        (tmp_path / "sdtm_3" / "xpt" / "lbhe.xpt").read_bytes()
    bad = runner.invoke(main, ["from-fhir", str(tmp_path / "fhir"), "-o", str(tmp_path / "x"),
                               "--max-file-size", "5XB"])
    assert bad.exit_code == 2 and "--max-file-size '5XB': give a number of bytes" in bad.output


def test_a_missing_piece_is_an_error(tmp_path: Path) -> None:
    """A package whose define.xml describes LBCH, LBHE, LBTM with lbhe.xpt gone (a transfer lost the hematology
    results): an error naming the piece and the pieces that are here, not the notice of a dataset not shipped."""
    from msc_interop.validate import validate_paths

    api.to_sdtm(EXAMPLE, tmp_path / "out", formats=["xpt"], created=CREATED, validate=False, max_file_size=100_000)
    folder = tmp_path / "out" / "xpt"
    assert not [f for f in validate_paths([folder]).findings if f.rule_id in ("MSC-DEF-008", "MSC-DEF-012")]
    (folder / "lbhe.xpt").unlink()
    report = validate_paths([folder])
    (lost,) = [f for f in report.findings if f.rule_id == "MSC-DEF-012"]
    assert (lost.severity, lost.dataset_or_resource) == ("error", "LBHE")
    assert lost.message == ("define.xml describes LBHE (lbhe.xpt) as a piece of LB, but there is no LBHE file while "
                            "LBCH, LBTM are here: part of LB is missing")
    assert not [f for f in report.findings if f.rule_id == "MSC-DEF-008"] and not report.valid


def test_a_dataset_that_only_looks_like_a_piece_is_kept(tmp_path: Path) -> None:
    """lbx.xpt whose DOMAIN is not LB (a sponsor's own dataset someone put in the folder) is not removed by a run
    that writes LB, though its name could be a piece's."""
    import pyreadstat

    out = tmp_path / "out"
    api.to_sdtm(EXAMPLE, out, formats=["xpt"], created=CREATED, validate=False)
    frame = pd.DataFrame({"STUDYID": ["S"], "DOMAIN": ["LX"], "USUBJID": ["S-1"], "LXSEQ": [1.0]})
    pyreadstat.write_xport(frame, str(out / "xpt" / "lbx.xpt"), table_name="LBX", file_format_version=5)
    result = api.to_sdtm(EXAMPLE, out, formats=["xpt"], created=CREATED, validate=False, max_file_size=100_000)
    assert (out / "xpt" / "lbx.xpt").is_file() and not (out / "xpt" / "lb.xpt").exists()
    (note,) = [n for n in result.rejects.notes if "left by an earlier run" in n]
    assert "removed lb.xpt, left by an earlier run" in note
