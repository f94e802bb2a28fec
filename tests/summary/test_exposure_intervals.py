"""Exposure totals when EX records are dosing intervals (SDTMIG EX: one record per constant dosing interval).

How the expected numbers were computed: the CDISC pilot's ex.xpt read with pandas.read_sas (no msc-interop code),
every record EXDOSFRQ QD: total = EXDOSE x (EXENDTC - EXSTDTC + 1 days). Six records have no EXENDTC (subjects
01-704-1233, 01-705-1018, 01-705-1031, 01-705-1303, 01-705-1377, 01-705-1382): no total, and those subjects are
left out of the per-subject total. High dose by actual arm: 70 of 72 subjects, mean 8749.93 mg (the old code
summed EXDOSE alone: 156.00 mg).
"""

from __future__ import annotations

import pandas as pd
import pytest

from msc_interop.api import load_study
from msc_interop.summary import compute_tables
from msc_interop.summary.dosing import NO_FREQUENCY, PARTIAL_DATES, UNKNOWN_FREQUENCY, doses

from .conftest import cell

HIGH = "Xanomeline High Dose (N=72)"


@pytest.fixture(scope="module")
def pilot(shared_dir):
    folder = shared_dir / "external" / "cdisc-pilot-original"
    study, _ = load_study(folder)
    ex = pd.read_sas(folder / "ex.xpt", encoding="utf-8")
    dm = pd.read_sas(folder / "dm.xpt", encoding="utf-8")
    return compute_tables(study), ex.merge(dm[["USUBJID", "ACTARM"]], on="USUBJID")


def test_pilot_total_is_dose_times_days_of_each_interval(pilot):
    tables, ex = pilot
    assert set(ex["EXDOSFRQ"]) == {"QD"}
    days = (pd.to_datetime(ex["EXENDTC"].replace("", None)) - pd.to_datetime(ex["EXSTDTC"])).dt.days + 1
    ex = ex.assign(total=ex["EXDOSE"] * days, days=days)
    open_ended = ex.loc[ex["total"].isna(), "USUBJID"]
    assert len(open_ended) == 6
    high = ex[ex["ACTARM"].eq("Xanomeline High Dose") & ~ex["USUBJID"].isin(open_ended)]
    per_subject = high.groupby("USUBJID")["total"].sum()
    assert (len(per_subject), round(per_subject.mean(), 2)) == (70, 8749.93)
    t = tables["exposure_summary"]
    per = "Total given per subject (mg)"
    assert cell(t, {"Characteristic": per, "Statistic": "n"}, HIGH) == "70"
    assert cell(t, {"Characteristic": per, "Statistic": "Mean (SD)"}, HIGH).startswith("8749.93 (")
    assert cell(t, {"Characteristic": per, "Statistic": "Min, Max"}, HIGH) == \
        f"{per_subject.min():.1f}, {per_subject.max():.1f}"
    all_high = ex.loc[ex["ACTARM"].eq("Xanomeline High Dose"), "total"].sum()  # NaN (open-ended) skipped
    assert cell(t, {"Characteristic": "Total given, all subjects (mg)"}, HIGH) == f"{all_high:.1f}"
    # the records are intervals: the rows say so, and the doses are counted apart
    assert cell(t, {"Characteristic": "EX records (dosing intervals)"}, HIGH) == "172"
    assert "Administrations (EX records)" not in set(t["Characteristic"])
    doses_high = int(ex.loc[ex["ACTARM"].eq("Xanomeline High Dose"), "days"].sum())
    assert cell(t, {"Characteristic": "Doses (doses per day x days of each interval)"}, HIGH) == str(doses_high)
    issues = tables["data_issues"]
    row = issues[issues["Issue"].eq("EX record with no derivable number of doses")].iloc[0]
    assert (row["Records"], row["Subjects"], row["Detail"]) == (6, 6, f"{PARTIAL_DATES}: 6")


@pytest.mark.parametrize(("freq", "start", "end", "n", "why"), [
    ("QD", "2014-01-02", "2014-01-16", 15, ""),  # both days counted
    ("BID", "2014-01-02", "2014-01-02", 2, ""),
    ("TID", "2014-01-02T08:00", "2014-01-04T20:00", 9, ""),
    ("ONCE", "2014-01-02", "2014-01-09", 1, ""),  # one dose, whatever the dates
    ("", "2009-09-23T09:26", "2009-09-23T10:26", 1, ""),  # the bundled study's infusion without EXDOSFRQ
    ("", "2009-09-23", "", 1, ""),
    ("", "2014-01-02T23:00", "2014-01-03T01:00", 1, ""),  # one infusion past midnight
    ("", "2014-01-02T23:00", "2014-01-03T23:00", None, NO_FREQUENCY),  # a day or more: not one administration
    ("", "2014-01-02", "2014-01-09", None, NO_FREQUENCY),
    ("QOD", "2014-01-02", "2014-01-09", None, UNKNOWN_FREQUENCY),  # no fixed number per day
    ("PRN", "2014-01-02", "2014-01-02", None, UNKNOWN_FREQUENCY),
    ("QD", "2014-01-02", "", None, PARTIAL_DATES),
    ("QD", "2014-01", "2014-02-03", None, PARTIAL_DATES),
])
def test_doses_of_one_record(freq, start, end, n, why):
    got, reason, _ = doses(pd.Series([freq]), pd.Series([start]), pd.Series([end]))
    assert (None if pd.isna(got.iloc[0]) else got.iloc[0], reason.iloc[0]) == (n, why)
