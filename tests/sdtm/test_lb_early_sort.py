"""build_lb sorts the lab rows by USUBJID, LBTESTCD and VISITNUM before it derives its columns (lb._in_seq_order):
LB, the rejects, the notes and the form left behind are what the build in file order gives, whatever the rows'
order and defects (ties of LBSEQ's keys in file order)."""

from __future__ import annotations

import random

import pandas as pd
import pytest

from msc_interop.distinct import shared_columns
from msc_interop.records import read_records
from msc_interop.sdtm import lb
from msc_interop.sdtm.build import build_study

DEFECTS = {"subject_id": "99", "test": "XYZ", "result": "5,2", "unit": "furlong", "visit": "Week 99",
           "collection_datetime": "2009-02-30"}


def _damaged(df: pd.DataFrame, seed: int) -> pd.DataFrame:
    rng = random.Random(seed)
    df = df.sample(frac=1, random_state=seed).reset_index(drop=True)
    for i in range(len(df)):
        x = rng.random()
        if x < 0.12:
            column = list(DEFECTS)[int(x / 0.02)]
            df.loc[i, column] = DEFECTS[column]
        elif x < 0.14:
            df.loc[i, "visit"] = "Unscheduled"
        elif x < 0.16:
            df.loc[i, ["ref_low", "ref_high"]] = ["10", "2"]  # a range upside down: a note
        elif x < 0.18:
            df.loc[i, "test"] = df.loc[i, "test"].lower()
        elif x < 0.20:
            df.loc[i, "lab_name"] = "Labor München"
    # LBSEQ's keys repeated (the test's other spelling: not the reader's duplicate): ties, kept in file order
    again = df.sample(n=20, random_state=seed).assign(result="7", test=lambda d: d["test"].str.lower())
    return pd.concat([df, again], ignore_index=True)


def _built(folder, monkeypatch, early: str):
    with monkeypatch.context() as m:
        if early == "none":
            m.setattr(lb, "_in_seq_order", lambda df, meta, dm: df)
        elif early == "any":  # only the speed depends on the early order: LBSEQ's ties stay in file order
            m.setattr(lb, "_in_seq_order", lambda df, meta, dm: df.sample(frac=1, random_state=4))
        with shared_columns():
            records = read_records(folder)
            study, report = build_study(records)
    return study, report, records


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_early_sort_changes_nothing(records_copy, monkeypatch, seed):
    folder = records_copy(labs=lambda df: _damaged(df, seed))
    s1, r1, rec1 = _built(folder, monkeypatch, "none")
    assert len(r1.sorted()) > 20 and r1.notes
    for early in ("seq", "any"):
        s2, r2, rec2 = _built(folder, monkeypatch, early)
        for name in s1.datasets:
            pd.testing.assert_frame_equal(s1.datasets[name], s2.datasets[name], check_exact=True)
        assert r1.sorted() == r2.sorted() and r1.notes == r2.notes and s1.text_origins == s2.text_origins
        pd.testing.assert_frame_equal(rec1.forms["labs"], rec2.forms["labs"], check_exact=True)
