"""Treatment-emergent on the day of the first dose: when both the AE start and the first dose carry a clock time
(to the minute at least), the date-times are compared; otherwise the dates (the same day counts as emergent).

Expected values by hand: the bundled study's subject 05 has its first infusion at 2009-09-23T09:26
(fixtures/example_study/exposures.csv, `05,Day 0,2009-09-23T09:26,...`); subject 04's one AE (2009-03-28T09:52)
starts after its first infusion at 09:47 the same day.
"""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from msc_interop.adam.build import build_adam
from msc_interop.api import load_study
from msc_interop.summary import compute_tables
from msc_interop.summary.teae import flag

from .conftest import EXAMPLE, cell

FIRST = pd.Timestamp("2009-09-23")


@pytest.mark.parametrize(("aestdtc", "first_dtc", "te", "why"), [
    ("2009-09-23T09:00", "2009-09-23T09:26", "N", "before first dose"),  # 26 minutes before the infusion
    ("2009-09-23T09:25:59", "2009-09-23T09:26", "N", "before first dose"),  # before 09:26:00, the earliest 09:26
    ("2009-09-23T09:26", "2009-09-23T09:26", "Y", ""),  # on: counts (on or after)
    ("2009-09-23T09:26:30", "2009-09-23T09:26", "Y", ""),  # within the dose's minute: not known to be before
    ("2009-09-23T10:00", "2009-09-23T09:26", "Y", ""),
    ("2009-09-23", "2009-09-23T09:26", "Y", ""),  # the AE has no time: dates compared, same day counts
    ("2009-09-23T09", "2009-09-23T09:26", "Y", ""),  # an hour only is no clock time: dates compared
    ("2009-09-23T09:00", "2009-09-23", "Y", ""),  # the first dose has no time: dates compared
    ("2009-09-22T23:00", "2009-09-23T09:26", "N", "before first dose"),  # the day before
    ("2009-09", "2009-09-23T09:26", "Y", ""),  # partial: imputed to the first dose date (D), as documented
    ("2009-08", "2009-09-23T09:26", "N", "before first dose"),  # partial: 2009-08-01 (D)
    ("", "2009-09-23T09:26", "Y", ""),  # no start, no end: the first dose date (Y)
])
def test_same_day_compares_times_when_both_have_one(aestdtc, first_dtc, te, why):
    ae = pd.DataFrame({"USUBJID": ["S-05"], "AESTDTC": [aestdtc], "AEENDTC": [""]})
    doses = pd.DataFrame({"USUBJID": ["S-05"], "first": [FIRST], "last": [pd.Timestamp("2009-09-30")],
                          "first_dtc": [first_dtc]})
    out = flag(ae, doses, None)
    assert (out["TEAE"].iloc[0], out["TEREASON"].iloc[0]) == (te, why)


@pytest.fixture(scope="module")
def study_with_predose_ae(tmp_path_factory):
    """The bundled study with a second AE: subject 05, Dizziness 2009-09-23T09:00-09:20, before the first infusion
    (09:26 that day)."""
    folder = tmp_path_factory.mktemp("teae-time") / "records"
    shutil.copytree(EXAMPLE, folder)
    path = folder / "adverse_events.csv"
    path.write_text(path.read_text(encoding="utf-8") + "05,1,Dizziness,2009-09-23T09:00,2009-09-23T09:20,Mild,N,"
                    "Related,,Recovered/Resolved\n", encoding="utf-8")
    study, rejects = load_study(folder)
    assert len(rejects) == 0
    return study


def test_summary_and_adae_leave_out_an_ae_before_the_first_infusion(study_with_predose_ae):
    t = compute_tables(study_with_predose_ae)
    col = next(c for c in t["ae_overview"].columns if c.endswith("n (%)"))
    events = next(c for c in t["ae_overview"].columns if c.endswith("events"))
    # only subject 04's AE is treatment-emergent: 1 of 9 subjects (11.1%), 1 event
    assert cell(t["ae_overview"], {"Category": "Any TEAE"}, col) == "1 (11.1%)"
    assert cell(t["ae_overview"], {"Category": "Any TEAE"}, events) == "1"
    pre = t["ae_pretreatment"]
    assert pre["Subject"].tolist() == ["MSC-SLE-2009-01-05"]
    assert pre["Why not treatment-emergent"].tolist() == ["before first dose"]
    listing = t["ae_listing"].set_index("Subject")
    assert listing.at["MSC-SLE-2009-01-05", "TEAE"] == "N" and listing.at["MSC-SLE-2009-01-04", "TEAE"] == "Y"
    adae = build_adam(study_with_predose_ae)["ADAE"].set_index("USUBJID")
    assert adae.at["MSC-SLE-2009-01-05", "TRTEMFL"] == "" and adae.at["MSC-SLE-2009-01-04", "TRTEMFL"] == "Y"
