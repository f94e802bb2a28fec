"""A rejected record of an unscheduled visit whose subject has no other unscheduled record of that date left: SV
(one unscheduled visit per subject and date) is built without that visit, and a note names the subject, the date
and the rejected record(s), whichever path loads the folder (whole, in two processes, by partitions)."""

from __future__ import annotations

import pandas as pd

from conftest import converted_three_ways
from msc_interop.records import read_records
from msc_interop.sdtm.build import build_study

LAB = "Nanjing Drum Tower Hospital Clinical Laboratory"
STAMP = "2026-01-01T00:00:00"


def _labs(*rows: tuple[str, str, str, str]):
    """labs.csv with unscheduled ALT rows (subject, visit text, collection date, unit) added after its 494 rows."""
    def edit(df: pd.DataFrame) -> pd.DataFrame:
        extra = pd.DataFrame([[s, visit, when, "ALT", "41", unit, "", "", LAB] for s, visit, when, unit in rows],
                             columns=df.columns)
        return pd.concat([df, extra], ignore_index=True)
    return edit


def _vs(df: pd.DataFrame) -> pd.DataFrame:  # subject 01's unscheduled SYSBP on 2010-03-05: converted
    extra = pd.DataFrame([["01", "Unscheduled", "2010-03-05", "10:00", "SYSBP", "131", "mmHg", "SITTING"]],
                         columns=df.columns)
    return pd.concat([df, extra], ignore_index=True)


def _sv_notes(report) -> list[str]:
    return [n for n in report.notes if n.startswith("subject ") and "SV holds no" in n]


def _unscheduled_dates(sv: pd.DataFrame, subject: str) -> set[str]:
    mine = sv[sv["USUBJID"].str.endswith(f"-{subject}") & sv["VISIT"].str.startswith("UNSCHEDULED")]
    return set(mine["SVSTDTC"].str.slice(0, 10))


def _lab_rejects(report) -> dict[int, set[str]]:
    """labs.csv row -> the reject codes naming it."""
    rows: dict[int, set[str]] = {}
    for r in report.rejects:
        if r.form == "labs":
            rows.setdefault(r.row, set()).add(r.code)
    return rows


def test_a_rejected_unscheduled_record_whose_visit_sv_lacks_is_named(records_copy):
    labs = _labs(("01", "Unscheduled", "2010-03-05T09:00", "furlongs"),  # line 496: its unit is unknown
                 ("01", "UNSCHEDULED visit", "2010-04-20T09:00", "U/L"))  # line 497: converted, its own visit
    study, report = build_study(read_records(records_copy(labs=labs)))
    assert list(_lab_rejects(report)) == [496]
    assert _unscheduled_dates(study["SV"], "01") == {"2010-04-20"}  # SV was built without 2010-03-05
    assert _sv_notes(report) == [
        "subject 01: SV holds no unscheduled visit on 2010-03-05, yet record(s) of it were rejected (labs.csv "
        "row(s) 496), so SV was built without them; fix the record(s) and convert again"]


def test_no_note_when_another_record_of_that_subject_and_date_holds_the_visit(records_copy):
    labs = _labs(("01", "Unscheduled", "2010-03-05T09:00", "furlongs"))
    study, report = build_study(read_records(records_copy(labs=labs, vital_signs=_vs)))
    assert list(_lab_rejects(report)) == [496]
    assert _unscheduled_dates(study["SV"], "01") == {"2010-03-05"}  # the vital sign's visit: SV holds it
    assert _sv_notes(report) == []


def test_an_unscheduled_record_without_a_complete_date_gets_no_sv_note(records_copy):
    # its visit could not be numbered whatever its other fields (REJ-REC-014 says so when nothing else is wrong)
    labs = _labs(("01", "Unscheduled", "2010-03", "furlongs"), ("01", "Unscheduled", "2010-04", "U/L"))
    _study, report = build_study(read_records(records_copy(labs=labs)))
    rejected = _lab_rejects(report)
    assert list(rejected) == [496, 497] and rejected[497] == {"REJ-REC-014"}
    assert _sv_notes(report) == []


def test_the_notes_are_the_same_in_two_processes_and_by_partitions(records_copy, tmp_path, monkeypatch):
    # subject 01 (first half and partition): a rejected unscheduled lab before its first dose (a baseline note
    # too), subject 09 (second half, last partition): two rejected on one date, one on another date
    labs = _labs(("01", "Unscheduled", "2009-09-28T09:00", "furlongs"),
                 ("09", "Unscheduled", "2010-05-02T09:00", "furlongs"),
                 ("09", "unscheduled", "2010-05-02T10:00", "parsecs"),
                 ("09", "Unscheduled", "2010-06-01T09:00", "furlongs"))
    records = records_copy(labs=labs)
    whole, parts, two = converted_three_ways(records, tmp_path, monkeypatch)
    notes = [n for n in whole.rejects.notes if n.startswith("subject ")]
    assert [n.split(", so ")[0] for n in notes] == [
        "subject 01: 1 lab record(s) rejected (labs.csv row(s) 496)",
        "subject 01: SV holds no unscheduled visit on 2009-09-28, yet record(s) of it were rejected (labs.csv "
        "row(s) 496)",
        "subject 09: SV holds no unscheduled visit on 2010-05-02, yet record(s) of it were rejected (labs.csv "
        "row(s) 497, 498)",
        "subject 09: SV holds no unscheduled visit on 2010-06-01, yet record(s) of it were rejected (labs.csv "
        "row(s) 499)"]
    assert two.rejects.notes == whole.rejects.notes == parts.rejects.notes


def test_a_record_whose_unscheduled_visit_could_not_be_numbered_gets_no_sv_note(records_copy, tmp_path,
                                                                                monkeypatch):
    """Subject 01's 100th unscheduled visit between Day 7 (3) and Year 1 (4), 2010-04-10 (labs.csv row 595), cannot
    be numbered: its record is rejected with REJ-REC-016, which says why SV lacks that visit; no note repeats it.
    Its ALT of 2010-04-11 (row 596, a unit not known) and subject 09's of 2010-05-02 (row 597) are rejected for
    their unit: SV lacks their visits too, and a note says so for each."""
    days = pd.date_range("2010-01-01", periods=100, freq="D").strftime("%Y-%m-%dT09:00")
    labs = _labs(*[("01", "Unscheduled", d, "U/L") for d in days],
                 ("01", "Unscheduled", "2010-04-11T09:00", "furlongs"),
                 ("09", "Unscheduled", "2010-05-02T09:00", "furlongs"))
    whole, parts, two = converted_three_ways(records_copy(labs=labs), tmp_path, monkeypatch)
    rejected = _lab_rejects(whole.rejects)
    assert rejected == {595: {"REJ-REC-016"}, 596: {"REJ-REC-010"}, 597: {"REJ-REC-010"}}
    assert len(_unscheduled_dates(whole.study["SV"], "01")) == 99  # (2010-01-01 to 2010-04-09)
    assert _sv_notes(whole.rejects) == [
        "subject 01: SV holds no unscheduled visit on 2010-04-11, yet record(s) of it were rejected (labs.csv "
        "row(s) 596), so SV was built without them; fix the record(s) and convert again",
        "subject 09: SV holds no unscheduled visit on 2010-05-02, yet record(s) of it were rejected (labs.csv "
        "row(s) 597), so SV was built without them; fix the record(s) and convert again"]
    assert two.rejects.notes == whole.rejects.notes == parts.rejects.notes
