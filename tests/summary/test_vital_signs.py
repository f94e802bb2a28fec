"""vs_stats and vs_change, hand-checked against the example study's vital_signs.csv read as plain text (no msc-interop
code on that side): Python's statistics module over the numbers of the CSV, picked by visit label and test."""

from __future__ import annotations

import csv
import statistics

import pandas as pd
import pytest

from msc_interop.summary import summarize

from .conftest import EXAMPLE

ARM = "UC-MSC 1x10^6 cells/kg IV on Days 0 and 7 (N=9)"


def _values(test: str, visit: str) -> dict[str, float]:
    with open(EXAMPLE / "vital_signs.csv", encoding="utf-8", newline="") as fh:
        return {r["subject_id"]: float(r["result"]) for r in csv.DictReader(fh)
                if r["test"] == test and r["visit"] == visit}


def _row(table: pd.DataFrame, test: str, visit: str) -> dict[str, str]:
    hit = table[(table["Test code"] == test) & (table["Visit"] == visit) & (table["Treatment"] == ARM)]
    assert len(hit) == 1
    return hit.iloc[0].to_dict()


def test_sysbp_at_baseline_by_hand(example_tables):
    x = list(_values("SYSBP", "Baseline").values())
    row = _row(example_tables["vs_stats"], "SYSBP", "BASELINE")
    assert row["n"] == len(x) == 9
    # mean one decimal more than the data (0 decimals), SD two more
    assert row["Mean (SD)"] == f"{statistics.mean(x):.1f} ({statistics.stdev(x):.2f})"
    assert row["Median"] == f"{statistics.median(x):.1f}"
    assert row["Min, Max"] == f"{min(x):.0f}, {max(x):.0f}"


def test_change_from_baseline_is_against_the_pre_dose_day_0_value(example_tables):
    # VSLOBXFL: the last value on or before the first infusion is the Day 0 check 15 minutes before it
    base, year1 = _values("TEMP", "Day 0"), _values("TEMP", "Year 1")
    change = [year1[s] - base[s] for s in sorted(base)]
    row = _row(example_tables["vs_change"], "TEMP", "YEAR 1")
    assert row["n"] == 9 and row["Unit"] == "C"
    assert row["Mean (SD)"] == f"{statistics.mean(change):.2f} ({statistics.stdev(change):.3f})"
    assert row["Min, Max"] == f"{min(change):.1f}, {max(change):.1f}"
    # no change row at the baseline visit itself nor before it
    assert not ((example_tables["vs_change"]["Test code"] == "TEMP")
                & example_tables["vs_change"]["Visit"].isin(["BASELINE", "DAY 0 INFUSION"])).any()


def test_subject_06_tachycardia_shows_in_the_pulse_maximum(example_tables):
    pulse = _values("PULSE", "Year 6")
    assert max(pulse, key=pulse.get) == "06"
    row = _row(example_tables["vs_stats"], "PULSE", "YEAR 6")
    assert row["Min, Max"].endswith(f", {pulse['06']:.0f}") and pulse["06"] > 100


def test_the_numbers_are_ard_rows(example_study, tmp_path):
    res = summarize(example_study, tmp_path, formats=["ard"])
    ard = res.ard
    x = list(_values("WEIGHT", "Year 2").values())
    hit = ard[(ard["table"] == "vs_stats") & (ard["group2_level"] == "WEIGHT") & (ard["group3_level"] == "YEAR 2")]
    stats = dict(zip(hit["stat_name"], hit["stat"], strict=True))
    assert stats["N"] == 9 and hit["group1_level"].iloc[0] == "UC-MSC 1x10^6 cells/kg IV on Days 0 and 7"
    assert stats["mean"] == pytest.approx(statistics.mean(x), abs=1e-12)
    assert stats["sd"] == pytest.approx(statistics.stdev(x), abs=1e-12)
    assert (stats["min"], stats["max"]) == (min(x), max(x))
