"""A form whose every record is rejected (a labs export written with the wrong date format) gives the notes on the
derivations made without them from a summary per subject and file (how many records, the first rows a note lists),
not an object per rejected record; the summaries of the parts of a load merge as the notes need: counts add, and
the rows listed are the first of all the parts'."""

from __future__ import annotations

import pandas as pd

from msc_interop.derived_without import settle_derivations
from msc_interop.records import read_records
from msc_interop.rejects import LISTED, LostRows, RejectReport
from msc_interop.sdtm.build import build_study
from msc_interop.sdtm.merge_parts import merge_report


def test_every_lab_rejected_gives_one_summary_per_subject(records_copy):
    def labs(df):
        df["collection_datetime"] = "09/30/2009 08:38"  # not an ISO 8601 date
        return df

    path = records_copy(labs=labs)
    study, report = build_study(read_records(path), settle=False)
    subject_of = pd.read_csv(path / "labs.csv", dtype=str, keep_default_na=False)["subject_id"]
    rejected = sorted({r.row for r in report.rejects if r.form == "labs"})
    assert len(rejected) == len(subject_of)  # (every lab record, line = index + 2)
    treated = set(study["DM"].loc[study["DM"]["RFXSTDTC"].ne(""), "SUBJID"])  # (a date that cannot be read)
    expected: dict[tuple[str, str, str], LostRows] = {}
    for subject in sorted(treated):
        rows = [row for row in rejected if subject_of[row - 2] == subject]
        if rows:
            expected[(subject, "labs", "labs.csv")] = LostRows(len(rows), tuple(rows[:LISTED]))
    assert len(expected) >= 5 and any(lost.count > LISTED for lost in expected.values())
    assert {k: v for k, v in report.unsourced.items() if k[1] == "labs"} == expected
    settle_derivations(report)
    subject, lost = next((k[0], v) for k, v in expected.items() if v.count > LISTED)
    assert (f"subject {subject}: {lost.count} lab record(s) rejected (labs.csv row(s) "
            f"{', '.join(map(str, lost.first))} and {lost.count - LISTED} more), so its baseline flags") in "\n".join(
        report.notes)
    assert report.unsourced == {} and report.unvisited == {}


def test_the_summaries_of_two_parts_merge_into_the_first_rows_of_both():
    whole = RejectReport(treated={"01": True})
    first = RejectReport(unsourced={("01", "labs", "labs.csv"): LostRows(7, (4, 9, 30, 31, 32))},
                         unvisited={("01", 3.0, "DAY 7 INFUSION", "vital_signs.csv"): LostRows(2, (40, 41))})
    second = RejectReport(unsourced={("01", "labs", "labs.csv"): LostRows(3, (2, 10, 50)),
                                     ("", "exposures", "Exposure.csv"): LostRows(0, ())},
                          unvisited={("01", 3.0, "DAY 7 INFUSION", "vital_signs.csv"): LostRows(1, (12,)),
                                     ("01", 3.0, "DAY 7 INFUSION", "exposures.csv"): LostRows(1, (5,))})
    merge_report(whole, first)
    merge_report(whole, second)
    assert whole.unsourced[("01", "labs", "labs.csv")] == LostRows(10, (2, 4, 9, 10, 30))
    settle_derivations(whole)
    assert [n.split(", so ")[0] for n in whole.notes] == [
        "Exposure.csv: not read (REJ-REC-013; it looks like the 'exposures' form)",
        "subject 01: 10 lab record(s) rejected (labs.csv row(s) 2, 4, 9, 10, 30 and 5 more)",
        "subject 01: SV holds no visit DAY 7 INFUSION (VISITNUM 3), yet record(s) of it were rejected "
        "(exposures.csv row(s) 5; vital_signs.csv row(s) 12, 40, 41)"]
