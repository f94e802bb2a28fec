"""`summary` of a folder whose LB, VS and EG stay in their files (read a range of rows at a time, summary/load.py)
writes the same files, byte for byte, as the summary of the whole Study held in memory: on the bundled study, on a
synthetic study with seeded defects (two arms, partial dates, repeats, non-numeric and unknown tests, subjects
outside the population, records without a baseline flag, unscheduled visits), in XPT, Dataset-JSON and CSV, with
ranges of a few rows; and on CDISC's Dataset-JSON example SDTM."""

from __future__ import annotations

import filecmp
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from msc_interop.api import load_study, synth, to_sdtm
from msc_interop.cli import main
from msc_interop.inputs.load import read_any
from msc_interop.sdtm.formats import write_study
from msc_interop.study import Study
from msc_interop.summary import summarize
from msc_interop.summary.dataset_rows import LargeStudy
from msc_interop.summary.load import READ_WHOLE, read_for_summary

REPO = Path(__file__).resolve().parents[2]
FORMATS = ["csv", "ard", "md"]  # md: the lab figures too (html renders the same)


def _files(folder: Path) -> dict[str, Path]:
    return {str(p.relative_to(folder)): p for p in sorted(folder.rglob("*")) if p.is_file()}


def _same_summary(folder: Path, out: Path, chunk_rows: int, findings: set[str]) -> int:
    """Summary of the whole read and of the range read of `folder` (every file on disk but those READ_WHOLE):
    the number of files written, each the same (asserted)."""
    whole, _ = read_any([folder])
    summarize(whole, out / "whole", formats=FORMATS)
    large, _ = read_for_summary([folder], hold_bytes=0, chunk_rows=chunk_rows)
    assert isinstance(large, LargeStudy) and set(large.on_disk) == set(whole.datasets) - READ_WHOLE
    assert findings <= set(large.on_disk) and not set(large.on_disk) & set(dict(large.datasets))  # not held
    summarize(large, out / "large", formats=FORMATS)
    a, b = _files(out / "whole"), _files(out / "large")
    assert sorted(a) == sorted(b)
    differ = [name for name in a if not filecmp.cmp(a[name], b[name], shallow=False)]
    assert differ == []
    return len(a)


@pytest.fixture(scope="module")
def example_sdtm(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("example")
    to_sdtm(REPO / "fixtures" / "example_study", out, formats=["xpt", "json", "csv"], created="2026-01-01T00:00:00")
    return out


@pytest.mark.parametrize("fmt", ["xpt", "json", "csv"])
def test_bundled_study_in_ranges_of_13_rows_gives_the_same_files(example_sdtm, tmp_path, fmt):
    n = _same_summary(example_sdtm / fmt, tmp_path, 13, {"LB", "VS", "EG"})
    assert n > 30  # every table's CSV, the ARD, the Markdown with its figures


def _seeded(study: Study) -> Study:
    """The synthetic study with what real data hold (each a case the range read must decide as the whole read)."""
    d = {name: df.copy() for name, df in study.datasets.items()}
    dm = d["DM"]
    second = dm["USUBJID"].isin(dm["USUBJID"].iloc[1::2])  # two arms: a Total column, arm-by-arm tables
    for col, value in (("ARMCD", "PBO"), ("ARM", "Placebo"), ("ACTARMCD", "PBO"), ("ACTARM", "Placebo")):
        if col in dm:
            dm.loc[second, col] = value
    lb = d["LB"]
    first = lb["USUBJID"].iloc[0]
    lb.loc[lb.index[3], "LBDTC"] = lb.loc[lb.index[3], "LBDTC"][:7]  # partial date
    i = lb.index[lb["LBSTRESN"].notna()][10]
    lb.loc[i, ["LBSTRESN", "LBSTRESC"]] = [np.nan, "<0.5"]  # non-numeric result of a numeric test
    lb.loc[lb.index[20:40], "LBNRIND"] = ""  # derived from the range
    for flag in ("LBBLFL", "LBLOBXFL"):
        if flag in lb:
            lb.loc[lb["USUBJID"].eq(first), flag] = ""  # no baseline for one subject
    repeat = lb.iloc[[50, 51]].copy()
    repeat["LBSEQ"] = lb["LBSEQ"].max() + np.arange(1, 3)
    repeat["LBSTRESN"] = repeat["LBSTRESN"] + 1  # repeated at the same visit
    unscheduled = lb.iloc[[60]].copy()
    unscheduled["VISITNUM"] = unscheduled["VISITNUM"] + 0.1
    unscheduled["LBSEQ"] = lb["LBSEQ"].max() + 3
    outside = lb[lb["USUBJID"].eq(first)].head(5).copy()
    outside["USUBJID"] = "NOT-IN-DM"  # a subject outside the population
    unknown = lb.iloc[[70, 71, 72]].copy()
    unknown[["LBTESTCD", "LBTEST", "LBSTRESC", "LBSTRESN"]] = ["ZZTEST", "Unknown test", "1.234", 1.234]
    unknown["LBSEQ"] = lb["LBSEQ"].max() + np.arange(4, 7)
    d["LB"] = pd.concat([lb, repeat, unscheduled, outside, unknown], ignore_index=True)
    vs = d["VS"]
    again = vs.iloc[[5, 6]].copy()
    again["VSDTC"] = again["VSDTC"].str[:10] + "T23:59"  # later the same day: the last by VSDTC counts
    again["VSSTRESN"] = again["VSSTRESN"] + 2
    again["VSSEQ"] = vs["VSSEQ"].max() + np.arange(1, 3)
    for flag in ("VSBLFL", "VSLOBXFL"):
        if flag in vs:
            vs.loc[vs["USUBJID"].eq(first), flag] = ""
    d["VS"] = pd.concat([vs, again], ignore_index=True)
    eg = d["EG"]
    for flag in ("EGBLFL", "EGLOBXFL"):
        if flag in eg:
            eg.loc[eg["USUBJID"].eq(first), flag] = ""
    # a subject dosed in no administration (EXOCCUR N, no RFXSTDTC): outside the safety population
    undosed = dm["USUBJID"].iloc[2]
    d["EX"]["EXOCCUR"] = np.where(d["EX"]["USUBJID"].eq(undosed), "N", "Y")
    dm.loc[dm["USUBJID"].eq(undosed), ["RFXSTDTC", "RFXENDTC"]] = ""
    ae = d["AE"]  # AE with the visit of its onset (permissible): the disposition table counts it
    ae["VISITNUM"], ae["VISIT"] = 2.0, "WEEK 1"
    return Study(study.meta, d)


@pytest.fixture(scope="module")
def seeded_sdtm(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("seeded")
    synth(base / "records", subjects=24, seed=7)
    study, _ = load_study(base / "records")
    seeded = _seeded(study)
    for fmt in ("xpt", "json", "csv"):
        write_study(seeded, base / "sdtm" / fmt, [fmt], created="2026-01-01T00:00:00")
    return base / "sdtm"


@pytest.mark.parametrize("fmt", ["xpt", "json", "csv"])
def test_seeded_defects_two_arms_in_ranges_give_the_same_files(seeded_sdtm, tmp_path, fmt):
    folder = seeded_sdtm / fmt
    assert _same_summary(folder, tmp_path, 97, {"LB", "VS", "EG"}) > 30  # asserts each file alike
    issues = pd.read_csv(tmp_path / "large" / "csv" / "data_issues.csv", dtype=str, keep_default_na=False)
    seen = set(issues["Issue"])
    # the seeded cases reached the tables (so the equality above covers them)
    assert {"Partial LBDTC", "LB records of subjects outside the safety population", "No baseline value",
            "Repeated result at a visit", "LB record at an unscheduled visit"} <= seen
    assert any(i.startswith("Non-numeric result") for i in seen)
    stats = pd.read_csv(tmp_path / "large" / "csv" / "lab_stats.csv", dtype=str, keep_default_na=False)
    assert "ZZTEST" in set(stats["Test code"])
    assert stats["Treatment"].str.startswith("Placebo").any() and stats["Treatment"].str.startswith("Total").any()
    populations = pd.read_csv(tmp_path / "large" / "csv" / "populations.csv", dtype=str, keep_default_na=False)
    assert "23" in populations.to_csv()  # 24 subjects, one never dosed (EXOCCUR N)
    disposition = pd.read_csv(tmp_path / "large" / "csv" / "disposition.csv", dtype=str, keep_default_na=False)
    assert "AE subjects" in disposition.columns


def test_one_row_ranges_on_a_slice_give_the_same_files(seeded_sdtm, tmp_path):
    """Ranges of one row: every record its own range (a first row of a test, a visit, a subject in each)."""
    study, _ = read_any([seeded_sdtm / "xpt"])
    small = {n: df for n, df in study.datasets.items()}
    keep = set(small["DM"]["USUBJID"].iloc[:2]) | {"NOT-IN-DM"}
    for name in ("LB", "VS", "EG"):
        small[name] = small[name][small[name]["USUBJID"].isin(keep)].reset_index(drop=True)
    write_study(Study(study.meta, small), tmp_path / "in", ["json"], created="2026-01-01T00:00:00")
    assert _same_summary(tmp_path / "in", tmp_path / "out", 1, {"LB", "VS", "EG"}) > 30  # asserts each file alike


def test_cdisc_dataset_json_example_in_ranges(shared_dir, tmp_path):
    folder = shared_dir / "external" / "dataset-json" / "examples-v1.1" / "sdtm"
    assert _same_summary(folder, tmp_path, 1500, {"LB", "VS"}) > 20  # asserts each file alike


def test_files_up_to_the_hold_size_are_read_whole(example_sdtm):
    study, _ = read_for_summary([example_sdtm / "xpt"])  # the bundled study's files are far below 16 MB
    assert not isinstance(study, LargeStudy) and {"LB", "VS", "EG"} <= set(study.datasets)


def test_a_file_that_cannot_be_read_in_ranges_is_read_whole(example_sdtm, tmp_path):
    """LB in Windows-1252 (not UTF-8): the range reader declines, the whole read decodes it per file."""
    study, _ = read_any([example_sdtm / "xpt"])
    d = dict(study.datasets)
    d["LB"] = d["LB"].copy()
    d["LB"].loc[0, "LBTEST"] = "Leucocytes (é)"
    folder = tmp_path / "cp1252"
    write_study(Study(study.meta, d), folder, ["xpt"], created="2026-01-01T00:00:00", xpt_encoding="cp1252")
    large, _ = read_for_summary([folder], hold_bytes=0, chunk_rows=5)
    assert isinstance(large, LargeStudy) and {"VS", "EG"} <= set(large.on_disk) and "LB" not in large.on_disk
    assert large.datasets["LB"].loc[0, "LBTEST"] == "Leucocytes (é)"


def test_cli_summary_names_every_dataset_with_its_rows(example_sdtm, tmp_path, monkeypatch):
    """The CLI reads big files in ranges (here: every file, MSC_INTEROP_SUMMARY_HOLD_MB=0); the study table
    still lists LB, VS and EG with their row counts."""
    monkeypatch.setenv("MSC_INTEROP_SUMMARY_HOLD_MB", "0")
    result = CliRunner().invoke(main, ["summary", str(example_sdtm / "xpt"), "-o", str(tmp_path / "s"),
                                       "--format", "csv"])
    assert result.exit_code == 0, result.output
    whole, _ = read_any([example_sdtm / "xpt"])
    table = pd.read_csv(tmp_path / "s" / "csv" / "study.csv", dtype=str, keep_default_na=False)
    listed = table.set_index("Item").at["Datasets read", "Value"]
    for name in ("LB", "VS", "EG"):
        assert f"{name} ({len(whole.datasets[name])})" in listed


def test_asking_the_held_datasets_for_one_on_disk_is_refused(example_sdtm):
    """A table that forgot rows_of would see "no LB" and say nothing: it fails instead."""
    large, _ = read_for_summary([example_sdtm / "xpt"], hold_bytes=0)
    with pytest.raises(AssertionError, match="rows_of"):
        large.datasets.get("LB")
    with pytest.raises(AssertionError, match="rows_of"):
        _ = "VS" in large.datasets
    assert "DM" in large.datasets and "LB" in large.names


def test_held_datasets_of_a_large_study_keep_the_variables_the_tables_read(example_sdtm):
    """A large study holds DM, EX, SUPPEX and AE with HELD_VARIABLES only; every variable of those domains that
    the summary's code names is among them (a table reading a variable left out would see it absent)."""
    import re

    from msc_interop import mappings
    from msc_interop.summary.load import HELD_VARIABLES

    code = "".join(p.read_text() for p in (REPO / "src" / "msc_interop" / "summary").glob("*.py")
                   if p.name != "load.py")
    named = set(re.findall(r"\b[A-Z][A-Z0-9_]{1,7}\b", code))
    sdtmig = mappings.load("sdtmig_domains")["domains"]  # every variable SDTMIG 3.4 lists for the domain
    for name, keep in HELD_VARIABLES.items():
        domain = sdtmig.get(name, {"variables": []})  # SUPPEX: SUPPQUAL's, in sdtm_variables.yaml
        variables = {v["name"] for v in domain["variables"]} | {v.name for v in mappings.sdtm_domain(name).variables}
        assert "EXOCCUR" in variables or name != "EX"
        assert variables & named <= set(keep), (name, sorted(variables & named - set(keep)))
        if name != "SUPPEX":  # the disposition table counts the subject-visits of every dataset with these
            assert {"USUBJID", "VISITNUM", "VISIT"} <= set(keep), name
    whole, _ = read_any([example_sdtm / "xpt"])
    large, _ = read_for_summary([example_sdtm / "xpt"], hold_bytes=0)
    assert isinstance(large, LargeStudy)
    for name, keep in HELD_VARIABLES.items():
        held = dict(large.datasets)[name]
        assert list(held.columns) == [c for c in whole.datasets[name].columns if c in keep], name
        assert len(held) == len(whole.datasets[name])
    assert "BRTHDTC" in whole.datasets["DM"] and "BRTHDTC" not in dict(large.datasets)["DM"]


def test_visit_codes_asked_twice_are_the_same(example_sdtm):
    """The first pass's subject-visits are handed over (not kept); asked again, a new pass gives the same."""
    from msc_interop.summary.codes import Codes

    large, _ = read_for_summary([example_sdtm / "xpt"], hold_bytes=0, chunk_rows=7)
    whole, _ = read_any([example_sdtm / "xpt"])
    for name in ("LB", "VS", "EG"):
        rows = large.on_disk[name]
        texts = Codes()
        first, again = rows.visit_codes(texts), rows.visit_codes(texts)
        assert first is not None and again is not None and len(first["s"]) > 0
        for k in ("s", "vn", "v"):
            np.testing.assert_array_equal(first[k], again[k])
        held = whole.datasets[name].drop_duplicates(["USUBJID", "VISITNUM"])
        held = held[held["VISITNUM"].notna()]
        got = pd.DataFrame({"USUBJID": texts.values()[first["s"]], "VISITNUM": first["vn"],
                            "VISIT": texts.values()[first["v"]]})
        assert got.to_dict("records") == held[["USUBJID", "VISITNUM", "VISIT"]].to_dict("records"), name


def test_a_value_the_whole_read_refuses_is_refused_by_the_range_read(example_sdtm, tmp_path):
    """A non-integer EGSEQ in a variable no table reads: the range read's first pass conforms every variable
    conform could refuse, so the large path refuses the dataset as the whole read does (not a summary without it)."""
    from msc_interop.errors import MscInteropError

    study, _ = read_any([example_sdtm / "xpt"])
    eg = study.datasets["EG"].copy()
    eg["EGSEQ"] = eg["EGSEQ"].astype("float64")
    eg.loc[3, "EGSEQ"] += 0.5
    study.datasets["EG"] = eg  # as a package may hold it (past conform)
    write_study(study, tmp_path / "xpt", ["xpt"], created="2026-01-01T00:00:00")
    with pytest.raises(MscInteropError, match="EGSEQ: non-integer value"):
        read_any([tmp_path / "xpt"])
    with pytest.raises(MscInteropError, match="EGSEQ: non-integer value"):
        read_for_summary([tmp_path / "xpt"], hold_bytes=0, chunk_rows=5)


def test_a_dataset_json_header_the_whole_read_refuses_is_read_whole(example_sdtm, tmp_path):
    """A Dataset-JSON column without a name: the range reader declines the file, the whole read names the fault."""
    import json
    import shutil

    from msc_interop.errors import MscInteropError

    folder = tmp_path / "json"
    shutil.copytree(example_sdtm / "json", folder)
    doc = json.loads((folder / "eg.json").read_text())
    del doc["columns"][5]["name"]
    (folder / "eg.json").write_text(json.dumps(doc))
    with pytest.raises(MscInteropError) as whole:
        read_any([folder])
    with pytest.raises(MscInteropError) as large:
        read_for_summary([folder], hold_bytes=0, chunk_rows=5)
    assert str(large.value) == str(whole.value) and "name" in str(whole.value)
