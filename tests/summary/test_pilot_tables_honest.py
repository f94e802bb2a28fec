"""Tables of the original CDISC pilot that must not claim what the data cannot say.

How the expected values were checked: ae.xpt and tv.xpt read with pandas.read_sas (no msc-interop code): AEACN is
empty on all 1191 AE records (action taken was not collected), so "TEAE leading to withdrawal" cannot be 0; TV has
VISITDY but TVSTRL is free text (no window), so no administration can be "outside window"; SV records every
safety subject at SCREENING 1 (VISITNUM 1), and TV plans VISITNUM 3.5 and 8.1 (not 1.1).
"""

from __future__ import annotations

import pandas as pd
import pytest

from msc_interop.api import load_study
from msc_interop.summary import summarize

from .conftest import cell

WITHDRAWN = "TEAE leading to withdrawal (AEACN = DRUG WITHDRAWN)"


@pytest.fixture(scope="module")
def folder(shared_dir):
    return shared_dir / "external" / "cdisc-pilot-original"


@pytest.fixture(scope="module")
def result(folder, tmp_path_factory):
    study, _ = load_study(folder)
    return summarize(study, tmp_path_factory.mktemp("pilot-honest"), formats=["csv"])


@pytest.fixture(scope="module")
def tables(result):
    return result.tables


def test_withdrawal_is_not_collected_when_aeacn_is_empty_everywhere(tables, folder):
    ae = pd.read_sas(folder / "ae.xpt", encoding="utf-8")
    assert len(ae) == 1191 and ae["AEACN"].fillna("").eq("").all()
    ov = tables["ae_overview"]
    for col in ("Placebo (N=86) n (%)", "Total (N=254) n (%)"):
        assert cell(ov, {"Category": WITHDRAWN}, col) == "not collected"
    assert cell(ov, {"Category": WITHDRAWN}, "Total events") == "-"
    assert cell(ov, {"Category": "Serious TEAE (AESER = Y)"}, "Total (N=254) n (%)") == "3 (1.2%)"  # still counted


def test_withdrawal_is_counted_when_aeacn_is_collected(example_tables):
    # fixtures/example_study/adverse_events.csv: the one AE has action_taken "Dose not changed": 0 subjects
    ov = example_tables["ae_overview"]
    col = next(c for c in ov.columns if c.endswith("(N=9) n (%)"))
    assert cell(ov, {"Category": WITHDRAWN}, col) == "0"


def test_no_window_means_nothing_is_outside_it(tables, result, folder):
    tv = pd.read_sas(folder / "tv.xpt", encoding="cp1252")
    assert tv.loc[tv["VISITNUM"].eq(4), "VISITDY"].tolist() == [14]  # WEEK 2: planned day 14, no window
    ex = pd.read_sas(folder / "ex.xpt", encoding="utf-8")
    week2 = ex[ex["VISITNUM"].eq(4)]
    on_day = int(week2["EXSTDY"].eq(14).sum())
    assert (len(week2), on_day) == (226, 8)
    sched = tables["exposure_schedule"]
    assert "Outside window" not in sched.columns and "On schedule" not in sched.columns
    row = sched.set_index("Visit").loc["WEEK 2"]
    assert (row["On the planned day"], row["Another day (no window in the data)"]) == ("8 (3.5%)", "218 (96.5%)")
    notes = " ".join(result.footnotes["exposure_schedule"])
    assert "no administration is judged on schedule or outside a window" in notes
    assert "carries no planned visit days" not in notes  # it has them (TV VISITDY)


def test_a_visit_in_sv_is_attended_and_a_visitnum_in_tv_is_planned(tables, folder):
    sv = pd.read_sas(folder / "sv.xpt", encoding="utf-8")
    tv = pd.read_sas(folder / "tv.xpt", encoding="cp1252")
    dm = pd.read_sas(folder / "dm.xpt", encoding="utf-8")
    safety = set(dm.loc[~dm["ARMCD"].isin(["Scrnfail"]), "USUBJID"])  # the 254 of the treatment columns
    assert len(safety) == 254
    assert safety <= set(sv.loc[sv["VISITNUM"].eq(1), "USUBJID"])  # every one attended SCREENING 1
    assert {3.5, 8.1} <= set(tv["VISITNUM"]) and 1.1 not in set(tv["VISITNUM"])
    disp = tables["disposition"].set_index("Visit number")
    assert (disp.at["1", "Subjects with data"], disp.at["1", "Subjects without data"]) == ("254 (100.0%)", "0")
    week10 = len(safety & set(sv.loc[sv["VISITNUM"].eq(8.1), "USUBJID"]))  # WEEK 10 (T): only SV has it
    assert (disp.at["8.1", "Type"], disp.at["8.1", "Subjects with data"]) == (
        "scheduled", f"{week10} ({100 * week10 / 254:.1f}%)")
    assert disp.at["3.5", "Type"] == "scheduled" and disp.at["1.1", "Type"] == "unscheduled"
    issues = tables["data_issues"].set_index("Issue")
    assert "SCREENING 1" not in issues.at["Scheduled visit without any data", "Detail"]
