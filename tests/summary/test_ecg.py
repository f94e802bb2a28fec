"""ECG tables (summary/ecg.py): ICH E14 QTcF categories and abnormal interpretations, hand-checked."""

from __future__ import annotations

from msc_interop.study import Study
from msc_interop.summary import compute_tables

ARM = "UC-MSC 1x10^6 cells/kg IV on Days 0 and 7 (N=9)"


def _cell(table, first_col: str, label: str, timing: str | None = None) -> str:
    rows = table[table[first_col].eq(label)]
    if timing is not None:
        rows = rows[rows["Timing"].eq(timing)]
    assert len(rows) == 1, (label, timing)
    return rows[ARM].iloc[0]


def test_example_study_subject_06_tachycardia_is_present_at_baseline_not_new(example_tables):
    # fixtures/example_study/findings.csv: subject 06's ECG is ABNORMAL (sinus tachycardia) at all five visits,
    # every other ECG NORMAL -> 1 of 9 at baseline, 0 new, 1 present at baseline (the paper: no new abnormality)
    t = example_tables["ecg_abnormal"]
    assert _cell(t, "Finding", "ABNORMAL interpretation", "at baseline") == "1 (11.1%)"
    assert _cell(t, "Finding", "ABNORMAL interpretation", "after baseline, new") == "0"
    assert _cell(t, "Finding", "ABNORMAL interpretation", "after baseline, present at baseline") == "1 (11.1%)"
    assert _cell(t, "Finding", "SINUS TACHYCARDIA", "after baseline, new") == "0"
    # all QTcF of ecg.csv are 372-440 ms (synth_ecg.py): no subject in any category
    q = example_tables["ecg_qtc"]
    assert _cell(q, "Category", "Subjects with a post-baseline QTcF") == "9"
    assert all(_cell(q, "Category", c) == "0" for c in q["Category"].iloc[1:])


def test_qtcf_categories_and_new_abnormality_hand_checked(example_study):
    eg = example_study["EG"].copy()
    qtcf = eg["EGTESTCD"].eq("QTCFAG")
    s01 = eg["USUBJID"].eq("MSC-SLE-2009-01-01")
    s02 = eg["USUBJID"].eq("MSC-SLE-2009-01-02")
    base01 = eg.loc[s01 & qtcf & eg["EGLOBXFL"].eq("Y"), "EGSTRESN"].iloc[0]
    assert base01 == 407  # ecg.csv row "01,Baseline,2009-09-30,09:05,QTcF,407,msec"
    # subject 01 at Year 1: QTcF 485 -> > 450 and > 480, not > 500; increase 485 - 407 = 78 -> > 30 and > 60
    eg.loc[s01 & qtcf & eg["VISIT"].eq("YEAR 1"), "EGSTRESN"] = 485.0
    # subject 02 at Year 2: QTcF 447 -> in no absolute category; its increase is 447 - baseline (> 30 if baseline < 417)
    base02 = eg.loc[s02 & qtcf & eg["EGLOBXFL"].eq("Y"), "EGSTRESN"].iloc[0]
    eg.loc[s02 & qtcf & eg["VISIT"].eq("YEAR 2"), "EGSTRESN"] = base02 + 31
    # subject 02's Year 2 interpretation ABNORMAL, NORMAL at baseline -> a new abnormality
    eg.loc[s02 & eg["EGTESTCD"].eq("INTP") & eg["VISIT"].eq("YEAR 2"), "EGSTRESC"] = "ABNORMAL"
    tables = compute_tables(Study(example_study.meta, {**example_study.datasets, "EG": eg}))
    q = tables["ecg_qtc"]
    assert _cell(q, "Category", "Maximum post-baseline QTcF > 450 ms") == ("2 (22.2%)" if base02 + 31 > 450
                                                                           else "1 (11.1%)")
    assert _cell(q, "Category", "Maximum post-baseline QTcF > 480 ms") == "1 (11.1%)"
    assert _cell(q, "Category", "Maximum post-baseline QTcF > 500 ms") == "0"
    assert _cell(q, "Category", "Maximum increase from baseline > 30 ms") == "2 (22.2%)"  # 01 (+78), 02 (+31)
    assert _cell(q, "Category", "Maximum increase from baseline > 60 ms") == "1 (11.1%)"  # 01 only
    a = tables["ecg_abnormal"]
    assert _cell(a, "Finding", "ABNORMAL interpretation", "after baseline, new") == "1 (11.1%)"
    assert _cell(a, "Finding", "ABNORMAL interpretation", "after baseline, present at baseline") == "1 (11.1%)"


def test_baselines_looked_up_a_slice_at_a_time_give_the_same_tables(example_study, monkeypatch):
    """_timed looks up each record's baseline a slice of records at a time: slices of 4 records, with records
    placed by date (no VISITNUM) and a subject without a flagged baseline, give the tables of one slice."""
    import numpy as np
    import pandas as pd

    from msc_interop.summary import ecg

    eg = example_study["EG"].copy()
    eg["VISITNUM"] = eg["VISITNUM"].astype("float64")
    s03 = eg["USUBJID"].eq("MSC-SLE-2009-01-03")
    eg.loc[s03 & eg["VISIT"].ne("BASELINE"), "VISITNUM"] = np.nan  # placed by EGDTC against the baseline's date
    eg.loc[s03 & eg["EGTESTCD"].eq("INTP") & eg["VISIT"].eq("YEAR 2"), "EGSTRESC"] = "ABNORMAL"
    eg.loc[eg["USUBJID"].eq("MSC-SLE-2009-01-04"), "EGLOBXFL"] = ""
    study = Study(example_study.meta, {**example_study.datasets, "EG": eg})
    whole = compute_tables(study)
    monkeypatch.setattr(ecg, "_SLICE", 4)
    sliced = compute_tables(study)
    for name in (ecg.QTC_TABLE, ecg.ABN_TABLE):
        pd.testing.assert_frame_equal(sliced[name], whole[name])
    assert _cell(whole[ecg.ABN_TABLE], "Finding", "ABNORMAL interpretation", "after baseline, new") == "1 (11.1%)"
