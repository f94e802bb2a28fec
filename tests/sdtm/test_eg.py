"""EG from ecg.csv and the ECG rows of findings.csv (sdtm/eg.py), checked by hand against the example study."""

from __future__ import annotations

import pandas as pd
import pytest

from msc_interop.records import read_records
from msc_interop.sdtm.build import build_study


@pytest.fixture(scope="module")
def eg(example_dir_module):
    study, report = build_study(read_records(example_dir_module))
    assert len(report) == 0
    return study["EG"]


@pytest.fixture(scope="module")
def example_dir_module():
    from conftest import EXAMPLE
    return EXAMPLE


def test_shape_45_ecgs_of_five_intervals_and_an_interpretation(eg):
    # 9 subjects x 5 visits = 45 ECGs: 5 intervals each (225), 45 INTP, 5 SINUS TACHYCARDIA (subject 06)
    assert len(eg) == 275
    assert eg["EGTESTCD"].value_counts().to_dict() == {
        "INTP": 45, "EGHRMN": 45, "PRAG": 45, "QRSAG": 45, "QTAG": 45, "QTCFAG": 45, "SNRARRY": 5}
    assert list(eg.columns[:6]) == ["STUDYID", "DOMAIN", "USUBJID", "EGSEQ", "EGTESTCD", "EGTEST"]
    assert eg.groupby("USUBJID")["EGSEQ"].apply(lambda s: list(s) == list(range(1, len(s) + 1))).all()


def test_subject_01_baseline_by_hand(eg):
    # ecg.csv: 01,Baseline,2009-09-30,09:05,HR,58,bpm / QTcF,407,msec; first dose 2009-10-04 -> EGDY -4
    s = eg[eg["USUBJID"].eq("MSC-SLE-2009-01-01") & eg["VISITNUM"].eq(1.0)].set_index("EGTESTCD")
    hr, qtcf, intp = s.loc["EGHRMN"], s.loc["QTCFAG"], s.loc["INTP"]
    assert (hr["EGORRES"], hr["EGORRESU"], hr["EGSTRESC"], hr["EGSTRESN"], hr["EGSTRESU"]) == (
        "58", "beats/min", "58", 58.0, "beats/min")
    assert (qtcf["EGTEST"], qtcf["EGORRESU"], qtcf["EGSTRESN"], qtcf["EGDTC"], qtcf["EGDY"]) == (
        "QTcF Interval, Aggregate", "ms", 407.0, "2009-09-30T09:05", -4)
    assert (intp["EGTEST"], intp["EGORRES"], intp["EGSTRESC"], intp["EGDTC"]) == (
        "Interpretation", "NORMAL", "NORMAL", "2009-09-30")
    assert s["EGLOBXFL"].eq("Y").all() and s["VISIT"].eq("BASELINE").all() and s["EPOCH"].eq("SCREENING").all()


def test_subject_06_sinus_tachycardia_from_baseline(eg):
    s = eg[eg["USUBJID"].eq("MSC-SLE-2009-01-06")]
    assert s.loc[s["EGTESTCD"].eq("INTP"), "EGSTRESC"].eq("ABNORMAL").all()
    tach = s[s["EGTESTCD"].eq("SNRARRY")]
    assert len(tach) == 5 and tach["EGSTRESC"].eq("SINUS TACHYCARDIA").all()
    assert tach["EGTEST"].eq("Sinus Node Rhythms and Arrhythmias").all()
    assert tach["EGORRES"].iloc[1] == "Sinus tachycardia, present since baseline"  # kept as written
    assert (s.loc[s["EGTESTCD"].eq("EGHRMN"), "EGSTRESN"] > 100).all()
    assert (eg.loc[eg["EGTESTCD"].eq("QTCFAG"), "EGSTRESN"] <= 450).all()


def test_partial_date_has_no_study_day_and_no_time(eg):
    s = eg[eg["USUBJID"].eq("MSC-SLE-2009-01-09") & eg["VISIT"].eq("YEAR 6")]
    assert s["EGDTC"].str.len().eq(7).all() and s["EGDY"].isna().all()


def test_aliases_units_and_rejects(records_copy):
    def edit(df: pd.DataFrame) -> pd.DataFrame:
        df.loc[0, "test"] = "QT Interval"      # an alias -> QTAG
        df.loc[0, "unit"] = "ms"               # the CDISC unit itself
        df.loc[1, "unit"] = "s"                # not the test's unit: rejected
        df.loc[2, "test"] = "QTcX"             # unknown test: rejected, with a suggestion
        df.loc[3, "time"] = ""                 # no time: EGDTC is the date
        return df

    study, report = build_study(read_records(records_copy(ecg=edit)))
    eg = study["EG"]
    row0 = eg[eg["USUBJID"].eq("MSC-SLE-2009-01-01") & eg["EGTESTCD"].eq("QTAG") & eg["VISITNUM"].eq(1.0)]
    assert len(row0) == 2 and set(row0["EGORRES"]) == {"58", "412"}  # the relabelled HR row and the real QT
    rejects = {(r.row, r.field): r for r in report.rejects if r.form == "ecg"}
    assert set(rejects) == {(3, "unit"), (4, "test")}
    assert "'s' is not the unit of PRAG (ms" in rejects[(3, "unit")].reason
    assert rejects[(3, "unit")].code == "REJ-REC-010" and rejects[(4, "test")].code == "REJ-REC-006"
    assert "'QTcX' is not an ECG test" in rejects[(4, "test")].reason
    by_value = row0.set_index("EGORRES")["EGDTC"]
    assert by_value["412"] == "2009-09-30"  # the QT row whose time was blanked: the date alone
    assert by_value["58"] == "2009-09-30T09:05"  # date + time of the time column
    counts = {c.form: (c.read, c.converted, c.rejected) for c in report.counts.values()}
    assert counts["ecg"] == (225, 223, 2)
