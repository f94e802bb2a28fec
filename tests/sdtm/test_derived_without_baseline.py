"""A rejected findings record of a treated subject dated on or before its first dose (or whose date cannot be
read) may have been the baseline record of its test: the baseline flag moves to another record, or to none. One
note per subject and form names the rows and the flag derived without them. A rejected record whose visit SV
then does not hold is named too (SV built without it)."""

from __future__ import annotations

import pandas as pd

from msc_interop.records import read_records
from msc_interop.sdtm.build import build_study


def _notes(report, kind: str) -> list[str]:
    return [n for n in report.notes if n.startswith("subject ") and kind in n]


def _flagged(ds: pd.DataFrame, domain: str, flag: str, subject: str, test: str) -> list[str]:
    """--DTC of the records of `subject` and `test` that carry the baseline `flag`."""
    rows = ds[ds["USUBJID"].str.endswith(f"-{subject}") & ds[f"{domain}TESTCD"].eq(test)]
    return rows.loc[rows[flag].eq("Y"), f"{domain}DTC"].tolist()


def test_a_rejected_record_before_the_first_dose_names_the_baseline_flag_derived_without_it(records_copy):
    def labs(df):
        df.loc[0, "result"] = "6,14"  # subject 01's Baseline WBC (line 2, before its first dose): rejected
        df.loc[1, "unit"] = "furlongs"  # and its Baseline RBC (line 3)
        df.loc[11, "result"] = "6,0"  # its Year 1 WBC (line 13, after the first dose): no baseline lost
        df.loc[55, "collection_datetime"] = "30/09/2009"  # subject 02's (line 57): a date that cannot be read
        return df

    def vital_signs(df):
        df.loc[8, "result"] = "1,21"  # subject 01's Day 0 SYSBP (line 10, 09:04 before the 09:19 infusion)
        df.loc[15, "unit"] = "parsecs"  # its Day 7 SYSBP (line 17): after the first dose
        return df

    study, report = build_study(read_records(records_copy(labs=labs, vital_signs=vital_signs)))
    # the baseline flags did move: subject 01's WBC has none left, its SYSBP is now the Baseline visit's
    assert _flagged(study["LB"], "LB", "LBLOBXFL", "01", "WBC") == []
    assert _flagged(study["VS"], "VS", "VSLOBXFL", "01", "SYSBP") == ["2009-09-30T08:58"]
    lab_one, lab_two = _notes(report, " lab record(s)")
    assert lab_one.startswith("subject 01: 2 lab record(s) rejected (labs.csv row(s) 2, 3), so its baseline flags "
                              "(LBLOBXFL) were derived from its other lab record(s) only")
    assert lab_two.startswith("subject 02: 1 lab record(s) rejected (labs.csv row(s) 57), so")
    (vital,) = _notes(report, "vital-sign record(s)")
    assert vital.startswith("subject 01: 1 vital-sign record(s) rejected (vital_signs.csv row(s) 10), so its "
                            "baseline flags (VSLOBXFL)")
    assert vital.endswith("fix the record(s) and convert again")


def test_ecg_and_findings_rejects_name_their_flags(records_copy):
    def ecg(df):
        df.loc[0, "result"] = "fast"  # subject 01's Baseline HR (line 2)
        return df

    def findings(df):
        df.loc[5, "result"] = "MAYBE"  # subject 01's Baseline ECG interpretation (line 7)
        return df

    _study, report = build_study(read_records(records_copy(ecg=ecg, findings=findings)))
    (from_ecg,) = _notes(report, "ecg.csv")
    (from_findings,) = _notes(report, "findings.csv")
    assert from_ecg.startswith("subject 01: 1 ECG record(s) rejected (ecg.csv row(s) 2), so its baseline flags "
                               "(EGLOBXFL)")
    assert from_findings.startswith("subject 01: 1 findings record(s) rejected (findings.csv row(s) 7), so its "
                                    "baseline flags (EGLOBXFL, RELOBXFL)")


def test_no_note_without_a_baseline_lost(records_copy):
    def labs(df):
        df = pd.concat([df, df.iloc[[0]]], ignore_index=True)  # an exact duplicate of subject 01's Baseline WBC
        df.loc[11, "result"] = "6,0"  # subject 01's Year 1 WBC: after the first dose
        return df

    def subjects(df):
        df.loc[df["subject_id"].eq("03"), ["arm_code", "actual_arm_code"]] = ["SCREEN FAILURE", ""]
        return df

    def vital_signs(df):
        df.loc[df["subject_id"].eq("03") & df["visit"].eq("Baseline") & df["test"].eq("SYSBP"), "result"] = "x"
        return df

    _study, report = build_study(read_records(records_copy(labs=labs, subjects=subjects, vital_signs=vital_signs)))
    assert {r.code for r in report.rejects if r.form == "labs"} == {"REJ-REC-004", "REJ-REC-009"}
    assert any(r.form == "vital_signs" for r in report.rejects)  # a screen failure's: it has no first dose
    assert _notes(report, "") == []


def test_a_visit_left_out_of_sv_is_named(records_copy):
    def exposures(df):
        df.loc[3, "route"] = "ORAL-ISH"  # subject 02's Day 7 infusion (line 5)
        return df

    def vital_signs(df):
        df.loc[df["subject_id"].eq("02") & df["visit"].eq("Day 7"), "result"] = "n/a"  # its other Day 7 records
        df.loc[0, "unit"] = "parsecs"  # subject 01's Baseline SYSBP: its Baseline visit has other records
        return df

    study, report = build_study(read_records(records_copy(exposures=exposures, vital_signs=vital_signs)))
    sv = study["SV"]
    held = set(sv.loc[sv["USUBJID"].str.endswith("-02"), "VISIT"])
    assert "DAY 7 INFUSION" not in held and {"BASELINE", "DAY 0 INFUSION"} <= held
    vs_rows = sorted(r.row for r in report.rejects if r.form == "vital_signs" and r.row > 2)
    (visit,) = _notes(report, "SV holds no visit")
    assert visit == (f"subject 02: SV holds no visit DAY 7 INFUSION (VISITNUM 3), yet record(s) of it were rejected "
                     f"(exposures.csv row(s) 5; vital_signs.csv row(s) {', '.join(map(str, vs_rows[:5]))} and 2 more),"
                     " so SV was built without them; fix the record(s) and convert again")
