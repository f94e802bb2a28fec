"""Per-arm laboratory tables and figures, on the bundled study split into two arms plus a screen failure (a
multi-arm study with labs: the CDISC pilot package has no LB). Expected cells are recomputed here with pandas from
the LB dataset itself and the arm assignment written in this file."""

from __future__ import annotations

import statistics

import pandas as pd
import pytest

from msc_interop.study import Study
from msc_interop.summary import Options, _build, compute_tables
from msc_interop.summary.figures import lab_figures

from .conftest import cell

LOW, HIGH = "Low dose", "High dose"


def two_arm_study(study: Study) -> Study:
    """Subjects 01-04 low dose, 05-09 high dose, and a screen failure (SCRNFAIL) with one lab record."""
    ds = {n: df.copy() for n, df in study.datasets.items()}
    dm = ds["DM"]
    low = dm["USUBJID"].str[-2:].astype(int) <= 4
    for var, lo, hi in (("ARMCD", "LOW", "HIGH"), ("ACTARMCD", "LOW", "HIGH"), ("ARM", LOW, HIGH),
                        ("ACTARM", LOW, HIGH)):
        dm[var] = [lo if x else hi for x in low]
    sf = dm.iloc[[0]].copy()
    sf["USUBJID"], sf["SUBJID"] = "MSC-SLE-2009-01-99", "99"
    sf["ARMCD"] = sf["ACTARMCD"] = "SCRNFAIL"
    sf["ARM"] = sf["ACTARM"] = "Screen Failure"
    sf["RFXSTDTC"] = sf["RFXENDTC"] = ""
    ds["DM"] = pd.concat([dm, sf], ignore_index=True)
    lb = ds["LB"]
    extra = lb.iloc[[0]].copy()
    extra["USUBJID"] = "MSC-SLE-2009-01-99"
    ds["LB"] = pd.concat([lb, extra], ignore_index=True)
    return Study(study.meta, ds)


@pytest.fixture(scope="module")
def arms_study(example_study):
    return two_arm_study(example_study)


@pytest.fixture(scope="module")
def tables(arms_study):
    return compute_tables(arms_study)


def test_screen_failure_is_in_no_column(tables):
    cols = [c for c in tables["demographics"].columns if "(N=" in c]
    assert cols == [f"{HIGH} (N=5)", f"{LOW} (N=4)", "Total (N=9)"]
    issues = tables["data_issues"].set_index("Issue")
    assert issues.loc["LB records of subjects outside the safety population", "Records"] == 1
    assert tables["population_listing"]["Subject"].tolist() == ["MSC-SLE-2009-01-99"]


def test_lab_stats_and_change_per_arm(tables, arms_study):
    lb = arms_study.datasets["LB"]
    alt = lb[(lb["LBTESTCD"] == "ALT") & (lb["LBLOBXFL"] == "Y")]
    low = alt[alt["USUBJID"].str[-2:].astype(int) <= 4]["LBSTRESN"].tolist()
    assert len(low) == 4
    stats = tables["lab_stats"]
    got = cell(stats, {"Test code": "ALT", "Visit": "Baseline", "Treatment": f"{LOW} (N=4)"}, "Mean (SD)")
    assert got == f"{statistics.mean(low):.1f} ({statistics.stdev(low):.2f})"
    # arms side by side within each test and visit: High, Low, Total rows in a row
    rows = stats[(stats["Test code"] == "ALT") & (stats["Visit"] == "Baseline")]["Treatment"].tolist()
    assert rows == [f"{HIGH} (N=5)", f"{LOW} (N=4)", "Total (N=9)"]
    assert cell(stats, {"Test code": "ALT", "Visit": "Baseline", "Treatment": "Total (N=9)"}, "n") == 9
    change = tables["lab_change"]
    assert set(change["Treatment"]) == {f"{HIGH} (N=5)", f"{LOW} (N=4)", "Total (N=9)"}


def test_shift_counts_each_subject_once_per_arm(tables):
    shift = tables["lab_shift"]
    alt = shift[shift["Test code"] == "ALT"].groupby("Treatment")["n"].sum()
    assert alt.to_dict() == {f"{HIGH} (N=5)": 5, f"{LOW} (N=4)": 4, "Total (N=9)": 9}


def test_figures_are_coloured_by_arm(arms_study):
    s = _build(arms_study, Options())
    figs = lab_figures(s.labs)
    svg = figs[0].svg
    assert LOW in svg and HIGH in svg  # legend entries
    assert "#1f77b4" in svg and "#d62728" in svg  # one colour per arm
    assert "coloured by treatment arm" in figs[0].caption


def test_lbblfl_is_the_baseline_before_lblobxfl(example_study):
    ds = {n: df.copy() for n, df in example_study.datasets.items()}
    lb = ds["LB"]
    # flag the first post-baseline visit as the study's baseline (LBBLFL) for ALT: it must win over LBLOBXFL
    vn = sorted(lb["VISITNUM"].dropna().unique())
    lb["LBBLFL"] = ""
    chosen = (lb["LBTESTCD"] == "ALT") & (lb["VISITNUM"] == vn[2])
    lb.loc[chosen, "LBBLFL"] = "Y"
    t = compute_tables(Study(example_study.meta, ds))
    want = lb.loc[chosen, "LBSTRESN"]
    got = cell(t["lab_stats"], {"Test code": "ALT", "Visit": "Baseline"}, "Mean (SD)")
    assert got.startswith(f"{want.mean():.1f} (")


def test_demographics_arm_row_is_the_planned_arm(arms_study):
    """Columns are the treatment received (ACTARM); the "Arm" row counts the planned arm (DM ARM). Subject 04,
    planned low dose, received the high dose: High dose column N = 5 + 1 = 6, Low dose N = 3."""
    ds = {n: df.copy() for n, df in arms_study.datasets.items()}
    dm = ds["DM"]
    moved = dm["USUBJID"].eq("MSC-SLE-2009-01-04")
    dm.loc[moved, "ACTARMCD"], dm.loc[moved, "ACTARM"] = "HIGH", HIGH
    t = compute_tables(Study(arms_study.meta, ds))["demographics"]
    assert [c for c in t.columns if "(N=" in c] == [f"{HIGH} (N=6)", f"{LOW} (N=3)", "Total (N=9)"]
    arm = t[t["Characteristic"].eq("Arm")].set_index("Category")
    # planned high dose: subjects 05-09, all in the High dose column: 5/6 = 83.3%, 5/9 = 55.6%
    assert arm.loc[HIGH].tolist()[1:] == ["5 (83.3%)", "0", "5 (55.6%)"]
    # planned low dose: 01-04; 04 is in the High dose column: 1/6 = 16.7%, 3/3 = 100.0%, 4/9 = 44.4%
    assert arm.loc[LOW].tolist()[1:] == ["1 (16.7%)", "3 (100.0%)", "4 (44.4%)"]
