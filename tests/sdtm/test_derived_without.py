"""A subject whose infusion is rejected is still converted, its reference dates (and every study day, EPOCH and
baseline flag) from its other infusions: one note per subject says so, naming the file and row of the rejected
record, whichever path loads the folder (whole, in two processes, by partitions)."""

from __future__ import annotations

import pandas as pd

from conftest import converted_three_ways
from msc_interop.derived_without import settle_derivations
from msc_interop.records import read_records
from msc_interop.rejects import LostRows, RejectReport
from msc_interop.sdtm.build import build_study

STAMP = "2026-01-01T00:00:00"


def _edit(df):
    df.loc[0, "body_weight_kg"] = "59,8"  # subject 01's Day 0 infusion (line 2) rejected: its Day 7 one is left
    df.loc[16, "route"] = "ORAL-ISH"  # subject 09's two infusions (lines 18, 19) rejected: none is left
    df.loc[17, "dose_unit"] = "cells"
    return df


def _notes(report) -> list[str]:
    return [n for n in report.notes if n.startswith("subject ")]


def test_a_rejected_infusion_is_named_with_what_was_derived_without_it(records_copy):
    study, report = build_study(read_records(records_copy(exposures=_edit)))
    dm = study["DM"].set_index("SUBJID")
    # SDTMIG 3.4 DM: RFXSTDTC is the first study treatment: subject 01's is now its Day 7 infusion
    assert dm.loc["01", "RFXSTDTC"] == "2009-10-11T09:19" and dm.loc["09", "ARMNRS"] == "ASSIGNED, NOT TREATED"
    one, nine = _notes(report)  # one note per subject, not one per rejected row or per derived record
    assert one.startswith("subject 01: 1 exposure record(s) rejected (exposures.csv row(s) 2), so its DM RFSTDTC")
    for derived in ("RFXSTDTC", "RFXENDTC", "AGE", "(--DY)", "EPOCH", "--LOBXFL", "other exposure record(s) only",
                    "fix the record(s) and convert again"):
        assert derived in one
    assert nine.startswith("subject 09: 2 exposure record(s) rejected (exposures.csv row(s) 18, 19), so no exposure "
                           "record of it is left: it is ASSIGNED, NOT TREATED (ARMNRS)")
    assert report.counts["exposures"].rejected == 3


def test_a_subject_rejected_itself_has_no_derivation_note(records_copy):
    def subjects(df):
        df.loc[0, "sex"] = "X"  # subject 01 rejected: its infusions are rejected with that reason, no DM row
        return df

    _study, report = build_study(read_records(records_copy(exposures=_edit, subjects=subjects)))
    assert [n[:11] for n in _notes(report)] == ["subject 09:"]


def test_the_notes_are_the_same_in_two_processes_and_by_partitions(records_copy, tmp_path, monkeypatch):
    def exposures(df):
        df.loc[11, "dose"] = "one"  # subject 06's Day 7 infusion (line 13)
        return _edit(df)

    def labs(df):
        df.loc[df["subject_id"].eq("06") & df["visit"].eq("Baseline") & df["test"].eq("WBC"), "result"] = "6,1"
        return df

    def vital_signs(df):  # subject 06's other Day 7 records: SV holds no DAY 7 INFUSION for it
        df.loc[df["subject_id"].eq("06") & df["visit"].eq("Day 7"), "unit"] = "parsecs"
        return df

    records = records_copy(exposures=exposures, labs=labs, vital_signs=vital_signs)
    # (subject 01 in the first half and partition, 06 in the second half and partition, 09 in the second half and
    # the last partition: each path meets its rejected records)
    whole, parts, two = converted_three_ways(records, tmp_path, monkeypatch)
    assert [n.split(" rejected")[0] for n in _notes(whole.rejects)] == [
        "subject 01: 1 exposure record(s)", "subject 06: 1 exposure record(s)", "subject 06: 1 lab record(s)",
        "subject 06: SV holds no visit DAY 7 INFUSION (VISITNUM 3), yet record(s) of it were",
        "subject 09: 2 exposure record(s)"]
    assert _notes(two.rejects) == _notes(whole.rejects) == _notes(parts.rejects)
    assert two.rejects.notes == whole.rejects.notes == parts.rejects.notes


def test_an_odm_record_is_named_by_its_line_and_many_rows_are_cut_short():
    report = RejectReport(treated={"01": True, "02": True})
    report.unsourced = {("01", "exposures", "export.odm.xml"): LostRows(1, (120,)),
                        ("02", "exposures", "exposures.csv"): LostRows(6, (3, 5, 7, 9, 11))}
    settle_derivations(report)
    assert [n.split(", so ")[0] for n in report.notes] == [
        "subject 01: 1 exposure record(s) rejected (export.odm.xml line(s) 120)",
        "subject 02: 6 exposure record(s) rejected (exposures.csv row(s) 3, 5, 7, 9, 11 and 1 more)"]
    assert report.unsourced == {}


def test_a_screen_failures_rejected_exposures_change_no_derivation(records_copy):
    def subjects(df):
        df.loc[df["subject_id"].eq("03"), ["arm_code", "actual_arm_code"]] = ["SCREEN FAILURE", ""]
        return df

    def exposures(df):
        df.loc[4, "start_datetime"] = "2009-13-45T09:58"  # subject 03's Day 0 infusion (line 6): not a date
        return df

    study, report = build_study(read_records(records_copy(subjects=subjects, exposures=exposures)))
    # SDTMIG 3.4 DM assumption 4: a screen failure's ARMNRS is SCREEN FAILURE whatever its exposures; its rejected
    # exposures (one not a date, one as a screen failure's) are named by their rejects, and no note says it became
    # ASSIGNED, NOT TREATED or was derived without them
    assert study["DM"].set_index("SUBJID").loc["03", "ARMNRS"] == "SCREEN FAILURE"
    assert sorted((r.row, r.code) for r in report.rejects if r.form == "exposures") == [
        (6, "REJ-REC-007"), (7, "REJ-REC-015")]
    assert _notes(report) == []


def test_an_exact_duplicate_infusion_changes_no_derivation(records_copy):
    def exposures(df):
        return pd.concat([df, df.iloc[[0]]], ignore_index=True)  # line 20: subject 01's Day 0 infusion again

    _study, report = build_study(read_records(records_copy(exposures=exposures)))
    assert [(r.row, r.code) for r in report.rejects] == [(20, "REJ-REC-004")]  # the first copy (line 2) is kept
    assert _notes(report) == []


def test_conflicting_infusions_are_named_as_derived_without(records_copy):
    def conflicting(df):
        other = df.iloc[[0]].copy()
        other["lot_number"] = "UC09-099"  # same subject, start and product, another lot: which one is right?
        return pd.concat([df, other], ignore_index=True)

    _study, report = build_study(read_records(records_copy(exposures=conflicting)))
    assert sorted((r.row, r.code) for r in report.rejects) == [(2, "REJ-REC-005"), (20, "REJ-REC-005")]
    assert [n.split(", so ")[0] for n in _notes(report)] == [
        "subject 01: 2 exposure record(s) rejected (exposures.csv row(s) 2, 20)"]
