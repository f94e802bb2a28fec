"""The AE count tables and the lab statistics are rendered from the ARD (summary/ard_tables.py): the cells are the
ARD's numbers formatted, so a number changed in the ARD changes the cell, and nothing in those tables is computed
apart from the ARD."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from msc_interop.summary import compute_tables, lab_stats, summarize
from msc_interop.summary.ard_tables import count_rows


def _lead_overview(key):
    return {"Category": "Subjects who died (DM DTHFL = Y)" if key[0] == "DTHFL" else key[1]}


def test_ae_tables_are_the_ard_formatted(pilot_study, tmp_path: Path):
    result = summarize(pilot_study, tmp_path, formats=["ard"])
    ard, tables = result.ard, result.tables
    arms = [c.split(" (N=")[0] for c in tables["ae_overview"].columns if c.endswith("n (%)")]
    assert arms[-1] == "Total" and len(arms) == 4
    assert pd.DataFrame(count_rows(ard, "ae_overview", arms, _lead_overview)).equals(tables["ae_overview"])
    # one number changed in the ARD changes exactly its cell
    edited = ard.copy()
    hit = (edited["table"].eq("ae_overview") & edited["variable_level"].eq("Any TEAE")
           & edited["group1_level"].eq(arms[0]) & edited["stat_name"].eq("n"))
    assert hit.sum() == 1
    before = int(edited.loc[hit, "stat"].iloc[0])
    edited.loc[hit, "stat"] = before - 1
    again = pd.DataFrame(count_rows(edited, "ae_overview", arms, _lead_overview))
    diff = again.ne(tables["ae_overview"])
    assert int(diff.to_numpy().sum()) == 1
    col = next(c for c in again.columns if c.startswith(f"{arms[0]} (N=") and c.endswith("n (%)"))
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
