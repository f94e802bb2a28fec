"""SV's EPOCH of an unscheduled visit whose records at the start are dated to different precisions (SDTMIG 3.4 SV
assumption 15a: the epoch at the visit's start). A time less precise than another of its day contains it
(2009-10-04T09:19 is any second of that minute, so it is neither before nor after 09:19:45): such records are one
moment, as a record dated without a time is with its day's timed ones, a tie the earlier epoch wins with a note.
Times that can be ordered still are (09:46 is before 09:47:10; 09:57:50 before 09:58). Through a records folder,
whole, by partitions and in two processes; the tie of three epochs or more, which records cannot give (an
unscheduled record's EPOCH is SCREENING before the first dose, FOLLOW-UP after the last dose's day: never two of
them in one day), through build_sv."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import converted_three_ways
from msc_interop.sdtm.sv import build_sv

LAB = "Nanjing Drum Tower Hospital Clinical Laboratory"
RULE = ("(SDTMIG 3.4 SV assumption 15a: the epoch at the start of the visit); check the records' dates, times and "
        "EPOCH")


def _labs(df: pd.DataFrame) -> pd.DataFrame:
    """Unscheduled labs: subject 01 (first dose 2009-10-04T09:19:30, exposures.csv edited to the second) at 09:19
    (to the minute: as an instant 09:19:00, before the dose, SCREENING) and 09:19:45 (TREATMENT); subject 02
    (first dose 2009-06-22T09:47) at 09:47:10 (TREATMENT) and 09:46 (SCREENING), the earlier one to the minute;
    subject 03 (first dose 2009-10-14T09:58) at 09:58 (TREATMENT) and 09:57:50 (SCREENING), the earlier one to
    the second."""
    rows = [("01", "2009-10-04T09:19:45", "WBC", "5.0", "10^9/L"), ("01", "2009-10-04T09:19", "ALT", "20", "U/L"),
            ("02", "2009-06-22T09:47:10", "ALT", "21", "U/L"), ("02", "2009-06-22T09:46", "WBC", "5.1", "10^9/L"),
            ("03", "2009-10-14T09:58", "ALT", "22", "U/L"), ("03", "2009-10-14T09:57:50", "WBC", "5.2", "10^9/L")]
    extra = pd.DataFrame([[s, "Unscheduled", when, test, value, unit, "", "", LAB]
                          for s, when, test, value, unit in rows], columns=df.columns)
    return pd.concat([df, extra], ignore_index=True)


def _exposures(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out.loc[out["subject_id"].eq("01") & out["visit"].eq("Day 0"), "start_datetime"] = "2009-10-04T09:19:30"
    return out


def test_a_time_to_the_minute_and_one_to_the_second_of_that_minute_are_one_moment(records_copy, tmp_path,
                                                                                   monkeypatch):
    records = records_copy(labs=_labs, exposures=_exposures)
    whole, parts, two = converted_three_ways(records, tmp_path, monkeypatch)
    assert not whole.rejects.sorted()
    lb = whole.study["LB"]
    un = lb[lb["VISIT"].str.startswith("UNSCHEDULED")].sort_values(["USUBJID", "LBDTC"])
    assert un[["LBDTC", "EPOCH"]].values.tolist() == [  # (each record's own epoch, from its date and time)
        ["2009-10-04T09:19", "SCREENING"], ["2009-10-04T09:19:45", "TREATMENT"],
        ["2009-06-22T09:46", "SCREENING"], ["2009-06-22T09:47:10", "TREATMENT"],
        ["2009-10-14T09:57:50", "SCREENING"], ["2009-10-14T09:58", "TREATMENT"]]
    sv = whole.study["SV"]
    un = sv[sv["VISIT"].str.startswith("UNSCHEDULED")]
    # SVSTDTC: the earliest date as text, the less precise one (the minute that holds the start)
    assert un[["USUBJID", "VISITNUM", "EPOCH", "SVSTDTC", "SVENDTC"]].values.tolist() == [
        ["MSC-SLE-2009-01-01", 2.01, "SCREENING", "2009-10-04T09:19", "2009-10-04T09:19:45"],
        ["MSC-SLE-2009-01-02", 2.01, "SCREENING", "2009-06-22T09:46", "2009-06-22T09:47:10"],
        ["MSC-SLE-2009-01-03", 2.01, "SCREENING", "2009-10-14T09:57:50", "2009-10-14T09:58"]]
    assert [n for n in whole.rejects.notes if n.startswith("subject ")] == [
        "subject 01: visit UNSCHEDULED 2.01 (VISITNUM 2.01) starting 2009-10-04T09:19: its records of the start "
        "minute, one of them timed to the minute only (so it cannot be put before or after the others: all are at "
        "the start), are in different epochs (SCREENING, TREATMENT): SV's EPOCH is SCREENING, the earlier in "
        f"study.yaml's visit schedule (each epoch's place: its first planned visit) {RULE}"]
    assert two.rejects.notes == whole.rejects.notes == parts.rejects.notes
    for run in ("parts", "two"):
        assert (tmp_path / run / "csv" / "sv.csv").read_bytes() == (tmp_path / "whole" / "csv" / "sv.csv").read_bytes()


_SCHEDULE = pd.DataFrame({"VISITNUM": [1.0, 2.0, 3.0], "VISIT": ["SCREEN", "DAY 1", "YEAR 1"],
                          "EPOCH": ["SCREENING", "TREATMENT", "FOLLOW-UP"], "planned_dy": [-7, 1, 365]})


def _meta():  # type: ignore[no-untyped-def]
    import types

    return types.SimpleNamespace(studyid="ST", visits=_SCHEDULE)


def _lb(rows: list[tuple[str, str, str | None]]) -> pd.DataFrame:
    """Unscheduled visit 1.1 records: (subject, LBDTC, EPOCH) each."""
    return pd.DataFrame({"USUBJID": pd.Series([r[0] for r in rows], dtype=object), "VISITNUM": 1.1,
                         "VISIT": "UNSCHEDULED 1.1", "LBDTC": pd.Series([r[1] for r in rows], dtype=object),
                         "EPOCH": pd.Series([r[2] for r in rows], dtype=object)})


def _notes(lb: pd.DataFrame, subjects: list[str]) -> tuple[pd.DataFrame, dict[tuple[str, float], str]]:
    dm = pd.DataFrame({"STUDYID": "ST", "USUBJID": subjects, "SUBJID": [s[1:] for s in subjects],
                       "RFSTDTC": "2020-01-05"}, dtype=object)
    notes: dict[tuple[str, float], str] = {}
    sv = build_sv({"LB": lb}, _meta(), dm, notes)
    return sv, notes


def test_an_hour_contains_its_minutes_and_ties_with_them_while_ordered_times_stay_ordered() -> None:
    """S1: 08 (the hour only, TREATMENT) contains 08:30 (SCREENING): a tie, SCREENING (the schedule's earlier);
    as text 08 comes first, which alone gave TREATMENT. S2: 09 is after 08:30 (SCREENING first, no note). S3:
    08:15 is before 08:30 (to the second: still orderable). S4: 08 (FOLLOW-UP) contains 08:30 (TREATMENT) and
    08:30:15 (SCREENING), and 08:30 contains 08:30:15: all one moment. S5: 08:30 (TREATMENT) contains 08:30:15
    (SCREENING), and 08:29:59 (FOLLOW-UP) is before them both."""
    lb = _lb([("S1", "2020-01-05T08", "TREATMENT"), ("S1", "2020-01-05T08:30", "SCREENING"),
              ("S2", "2020-01-05T09", "TREATMENT"), ("S2", "2020-01-05T08:30", "SCREENING"),
              ("S3", "2020-01-05T08:30:00", "TREATMENT"), ("S3", "2020-01-05T08:15", "SCREENING"),
              ("S4", "2020-01-05T08:30", "TREATMENT"), ("S4", "2020-01-05T08", "FOLLOW-UP"),
              ("S4", "2020-01-05T08:30:15", "SCREENING"), ("S4", "2020-01-05T09:10", "SCREENING"),
              ("S5", "2020-01-05T08:30:15", "SCREENING"), ("S5", "2020-01-05T08:30", "TREATMENT"),
              ("S5", "2020-01-05T08:29:59", "FOLLOW-UP")])
    sv, notes = _notes(lb, ["S1", "S2", "S3", "S4", "S5"])
    assert sv[["USUBJID", "EPOCH", "SVSTDTC"]].values.tolist() == [
        ["S1", "SCREENING", "2020-01-05T08"], ["S2", "SCREENING", "2020-01-05T08:30"],
        ["S3", "SCREENING", "2020-01-05T08:15"], ["S4", "SCREENING", "2020-01-05T08"],
        ["S5", "FOLLOW-UP", "2020-01-05T08:29:59"]]
    assert sorted(notes) == [("1", 1.1), ("4", 1.1)]
    assert notes[("1", 1.1)] == (
        "subject 1: visit UNSCHEDULED 1.1 (VISITNUM 1.1) starting 2020-01-05T08: its records of the start hour, one "
        "of them timed to the hour only (so it cannot be put before or after the others: all are at the start), are "
        "in different epochs (SCREENING, TREATMENT): SV's EPOCH is SCREENING, the earlier in study.yaml's visit "
        f"schedule (each epoch's place: its first planned visit) {RULE}")
    assert notes[("4", 1.1)] == (
        "subject 4: visit UNSCHEDULED 1.1 (VISITNUM 1.1) starting 2020-01-05T08: its records of the start hour, one "
        "of them timed to the hour only (so it cannot be put before or after the others: all are at the start), are "
        "in different epochs (SCREENING, TREATMENT, FOLLOW-UP): SV's EPOCH is SCREENING, the earliest in study.yaml's "
        f"visit schedule (each epoch's place: its first planned visit) {RULE}")


def test_records_of_one_time_to_the_same_precision_keep_the_wording_of_the_start() -> None:
    """Two records at 08:30 exactly (no less precise one): the start is that time, not a minute holding others."""
    lb = _lb([("S1", "2020-01-05T08:30", "TREATMENT"), ("S1", "2020-01-05T08:30", "SCREENING"),
              ("S1", "2020-01-05T08:45:10", "FOLLOW-UP")])
    _sv, notes = _notes(lb, ["S1"])
    assert notes[("1", 1.1)] == (
        "subject 1: visit UNSCHEDULED 1.1 (VISITNUM 1.1) starting 2020-01-05T08:30: its records at the start are in "
        "different epochs (SCREENING, TREATMENT): SV's EPOCH is SCREENING, the earlier in study.yaml's visit "
        f"schedule (each epoch's place: its first planned visit) {RULE}")


@pytest.mark.parametrize("epochs, chosen, named", [
    (("FOLLOW-UP", "SCREENING", "TREATMENT"), "SCREENING",
     "(SCREENING, TREATMENT, FOLLOW-UP): SV's EPOCH is SCREENING, the earliest in study.yaml's visit schedule (each "
     "epoch's place: its first planned visit)"),
    (("RUN-IN", "TREATMENT", "WASHOUT", "FOLLOW-UP"), "TREATMENT",
     "(TREATMENT, FOLLOW-UP, RUN-IN, WASHOUT): SV's EPOCH is TREATMENT, the earliest in study.yaml's visit schedule "
     "(each epoch's place: its first planned visit; RUN-IN, WASHOUT are not among its epochs)"),
    (("WASHOUT", "SCREENING", "RUN-IN"), "SCREENING",
     "(SCREENING, RUN-IN, WASHOUT): SV's EPOCH is SCREENING, the one study.yaml's visit schedule names (RUN-IN, "
     "WASHOUT are not among its epochs)"),
    (("WASHOUT", "RUN-IN", "BREAK"), "BREAK",
     "(BREAK, RUN-IN, WASHOUT): SV's EPOCH is BREAK, the first by name, as none is an epoch of study.yaml's visit "
     "schedule")])
def test_a_tie_of_three_epochs_or_more_names_them_all_in_the_rules_order(epochs: tuple[str, ...], chosen: str,
                                                                          named: str) -> None:
    """Every epoch at the start, in the order the rule ranks them (the schedule's first, in its order, then the
    others by name), each once (TREATMENT twice: named once); the rule's wording as for two."""
    lb = _lb([("S1", "2020-01-05T08:00", e) for e in (*epochs, epochs[1])]
             + [("S1", "2020-01-05T09:00", "SCREENING"), ("S2", "2020-01-05T07:00", None)])
    sv, notes = _notes(lb, ["S1", "S2"])
    assert sv["EPOCH"].iloc[0] == chosen and list(notes) == [("1", 1.1)]
    assert notes[("1", 1.1)] == (f"subject 1: visit UNSCHEDULED 1.1 (VISITNUM 1.1) starting 2020-01-05T08:00: its "
                                 f"records at the start are in different epochs {named} {RULE}")


def test_three_epochs_at_the_first_records_that_give_one_are_all_named() -> None:
    """No record at the start (07:00) gives an EPOCH; the earliest that give one (the day 2020-01-06, one of them
    without a time) are in three epochs: all named."""
    lb = _lb([("S1", "2020-01-05T07:00", ""), ("S1", "2020-01-06", "FOLLOW-UP"),
              ("S1", "2020-01-06T10:00", "TREATMENT"), ("S1", "2020-01-06T11:00", "SCREENING")])
    sv, notes = _notes(lb, ["S1"])
    assert sv[["EPOCH", "SVSTDTC"]].values.tolist() == [["SCREENING", "2020-01-05T07:00"]]
    assert notes[("1", 1.1)] == (
        "subject 1: visit UNSCHEDULED 1.1 (VISITNUM 1.1) starting 2020-01-05T07:00: no record of it at the start "
        "gives an EPOCH, and its earliest records that give one (2020-01-06) are in different epochs (SCREENING, "
        "TREATMENT, FOLLOW-UP): SV's EPOCH is SCREENING, the earliest in study.yaml's visit schedule (each epoch's "
        f"place: its first planned visit) {RULE}")
