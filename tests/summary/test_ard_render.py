"""Every table of the report is rendered from the ARD (summary/ard_tables.py): the cells are the ARD's numbers
formatted, so an ARD changed after the fact, re-rendered, changes every row of every table; nothing in a table is
computed beside the ARD. The only tables without ARD numbers are the listings, the study facts and the data-handling
table (NOT_FROM_ARD): records and metadata, not analysis results."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from msc_interop.api import load_study
from msc_interop.summary import compute_tables, lab_stats, summarize
from msc_interop.summary.ard_tables import NOT_FROM_ARD, Cell, has_cells, render_tables

from .test_arms import two_arm_study

STUDIES = ["example", "two arms", "pilot", "pilot original"]


@pytest.fixture(scope="module")
def results(example_study, pilot_study, shared_dir, tmp_path_factory):
    """The summary of the bundled study (one arm), of it split in two arms with a screen failure, of CDISC's
    Dataset-JSON pilot package (three arms) and of the original pilot (DM, EX, AE, CM, SV, TV: 306 subjects)."""
    original, _ = load_study(shared_dir / "external" / "cdisc-pilot-original")
    out = {}
    for name, study in (("example", example_study), ("two arms", two_arm_study(example_study)),
                        ("pilot", pilot_study), ("pilot original", original)):
        out[name] = summarize(study, tmp_path_factory.mktemp("ard-render"), formats=["csv", "ard"])
    return out


def _plus_1000(ard: pd.DataFrame) -> pd.DataFrame:
    edited = ard.copy()
    edited["stat"] = [None if v is None else v + 1000 for v in edited["stat"]]
    return edited


def _not_collected(row: pd.Series, ard: pd.DataFrame) -> bool:
    """A row whose every ARD cell shows a null statistic (a count of a variable not collected, "not collected"):
    no number, so nothing for the ARD to move."""
    cells = [v for v in row if isinstance(v, Cell)]
    return bool(cells) and all(any(pd.isna(ard["stat"].iloc[i]) for _, i in c.at) for c in cells)


@pytest.mark.parametrize("name", STUDIES)
def test_tables_are_their_layouts_rendered_with_the_ard(results, name):
    res = results[name]
    again = render_tables(res.layouts, res.ard)
    assert list(again) == list(res.tables)
    for table, t in again.items():
        assert t.equals(res.tables[table]), table


@pytest.mark.parametrize("name", STUDIES)
def test_every_row_of_every_table_changes_with_the_ard(results, name):
    res = results[name]
    moved = render_tables(res.layouts, _plus_1000(res.ard))
    checked = set()
    for table, layout in res.layouts.items():
        if table in NOT_FROM_ARD:
            assert not has_cells(layout).any(), f"{table} is said not to come from the ARD but has ARD cells"
            assert moved[table].equals(res.tables[table])
            continue
        if layout.empty:
            continue
        assert has_cells(layout).all(), f"{table}: a row without any ARD number"
        before = res.tables[table].astype(str).to_numpy()
        after = moved[table].astype(str).to_numpy()
        unchanged = [i for i in range(len(before)) if (before[i] == after[i]).all() and not _not_collected(
            layout.iloc[i], res.ard)]
        assert unchanged == [], f"{table}: rows {unchanged[:5]} did not change with the ARD"
        checked.add(table)
    # the tables a study of this kind has, each rendered from the ARD (more are checked when present)
    expect = {"populations", "demographics", "disposition", "exposure_summary", "ae_overview", "ae_soc_pt",
              "ae_characteristics", "lab_stats", "lab_change", "lab_range", "lab_shift", "vs_stats", "vs_change"}
    if name == "pilot original":  # DM, EX, AE, CM: no lab or vital signs; TV without windows
        expect = {t for t in expect if not t.startswith(("lab_", "vs_"))} | {"exposure_schedule", "cm_by_class"}
        assert any("median" in str(c) for c in res.tables["exposure_schedule"]["Planned study day (window)"])
    elif name != "pilot":
        expect |= {"exposure_schedule", "ecg_qtc", "ecg_abnormal", "mh_soc_pt", "cxr_visits", "cm_by_class",
                   "ds_disposition"}
    else:
        expect |= {"cm_by_class"}
    assert expect <= checked, expect - checked


def test_one_ard_number_changes_exactly_its_cell(results):
    res = results["pilot"]
    ard, t = res.ard, res.tables["ae_overview"]
    hit = (ard["table"].eq("ae_overview") & ard["variable_level"].eq("Any TEAE") & ard["group1_level"].eq("Placebo")
           & ard["stat_name"].eq("n"))
    assert hit.sum() == 1
    edited = ard.copy()
    before = int(edited.loc[hit, "stat"].iloc[0])
    edited.loc[hit, "stat"] = before - 1
    again = render_tables(res.layouts, edited)["ae_overview"]
    assert int(again.ne(t).to_numpy().sum()) == 1
    col = next(c for c in again.columns if c.startswith("Placebo (N=") and c.endswith("n (%)"))
    assert again.at[0, col].startswith(f"{before - 1} (")


def test_deaths_are_in_the_ard(pilot_study, tmp_path: Path):
    """The deaths row of the TEAE overview comes from ARD rows too (DM DTHFL = Y in the safety population)."""
    result = summarize(pilot_study, tmp_path, formats=["ard"])
    ard = result.ard
    deaths = ard[ard["variable"].eq("DTHFL") & ard["stat_name"].eq("n")].set_index("group1_level")["stat"]
    row = result.tables["ae_overview"].set_index("Category").loc["Subjects who died (DM DTHFL = Y)"]
    for arm, n in deaths.items():
        cell = next(v for c, v in row.items() if c.startswith(f"{arm} (N=") and c.endswith("n (%)"))
        assert cell == "0" if n == 0 else cell.startswith(f"{n} (")
        assert row[f"{arm} events"] == "-"


def test_lab_statistics_are_the_ard_formatted(example_study, monkeypatch):
    """An ARD record changed as it is made shows in the table: the cells are formatted from the ARD record."""
    plain = compute_tables(example_study)["lab_stats"]
    original = lab_stats._cont

    def shifted(r):
        stats = original(r)
        return {**stats, "max": stats["max"] + 1000.0}

    monkeypatch.setattr(lab_stats, "_cont", shifted)
    moved = compute_tables(example_study)["lab_stats"]
    assert plain["Mean (SD)"].equals(moved["Mean (SD)"])
    changed = plain["Min, Max"].ne(moved["Min, Max"])
    assert changed.all()
    wbc = moved[moved["Test code"].eq("WBC")].iloc[0]
    lo, hi = (float(x) for x in wbc["Min, Max"].split(", "))
    assert hi > 1000 > lo
