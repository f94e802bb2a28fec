"""Tables of the original CDISC pilot that must not claim what the data cannot say.

How the expected values were checked: ae.xpt and tv.xpt read with pandas.read_sas (no msc-interop code): AEACN is
empty on all 1191 AE records (action taken was not collected), so "TEAE leading to withdrawal" cannot be 0; TV has
VISITDY but TVSTRL is free text (no window), so no administration can be "outside window".
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
