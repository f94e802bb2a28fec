"""A rejected row names every bad field (one correction round, not one per field), and is counted once; a number
written with a decimal comma is named as such."""

from __future__ import annotations

from msc_interop.records import read_records
from msc_interop.sdtm.build import build_study


def _report(path):
    return build_study(read_records(path))[1]


def test_a_row_with_a_bad_date_and_a_bad_number_names_both_and_counts_once(records_copy):
    def edit(df):
        df.loc[0, "end_datetime"] = "2009-10-34T09:49"  # no day 34 in October
        df.loc[0, "body_weight_kg"] = "59,8"  # a decimal comma
        return df

    report = _report(records_copy(exposures=edit))
    rows = report.to_frame()
    assert rows[["file", "row", "field", "code"]].values.tolist() == [
        ["exposures.csv", 2, "body_weight_kg", "REJ-REC-002"], ["exposures.csv", 2, "end_datetime", "REJ-REC-007"]]
    counts = report.counts["exposures"]
    assert (counts.read, counts.converted, counts.rejected) == (18, 17, 1)  # one record, two reasons


def test_a_field_is_named_once_with_its_first_problem(records_copy):
    def edit(df):
        df.loc[0, "end_datetime"] = "abc"  # neither the form of a date nor a calendar date: one reason
        return df

    rows = _report(records_copy(exposures=edit)).to_frame()
    assert rows[["row", "field", "code"]].values.tolist() == [[2, "end_datetime", "REJ-REC-002"]]


def test_a_decimal_comma_is_named_with_the_number_to_write(records_copy):
    def exposures(df):
        df.loc[0, "body_weight_kg"] = "59,8"
        df.loc[1, "body_weight_kg"] = "1,234"  # a decimal comma or a thousands separator: both readings named
        return df

    def labs(df):
        df.loc[0, "result"] = "5,2"
        return df

    rows = _report(records_copy(exposures=exposures, labs=labs)).to_frame().set_index(["file", "row"])["reason"]
    assert "a decimal comma? write 59.8" in rows[("exposures.csv", 2)]
    assert "write 1.234 or 1234" in rows[("exposures.csv", 3)]
    assert "a decimal comma? write 5.2" in rows[("labs.csv", 2)]


def test_a_term_not_of_its_codelist_is_named_on_a_row_rejected_for_another_field(records_copy):
    def edit(df):
        df.loc[0, "end_datetime"] = "2009-10-34T09:49"  # rejected by the records check ...
        df.loc[0, "route"] = "IVX"  # ... and by the EX builder's ROUTE look-up (not a CDISC ROUTE term)
        df.loc[1, "product"] = "UC-MSCX"  # two terms of the builder on one row
        df.loc[1, "route"] = "ORALX"
        return df

    report = _report(records_copy(exposures=edit))
    assert report.to_frame()[["row", "field", "code"]].values.tolist() == [
        [2, "end_datetime", "REJ-REC-007"], [2, "route", "REJ-REC-006"],
        [3, "product", "REJ-REC-006"], [3, "route", "REJ-REC-006"]]
    counts = report.counts["exposures"]
    assert (counts.read, counts.converted, counts.rejected) == (18, 16, 2)


def test_a_result_that_is_not_a_number_is_named_on_a_row_rejected_for_another_field(records_copy):
    def labs(df):
        df.loc[0, "collection_datetime"] = "2009-02-30"  # no 30 February ...
        df.loc[0, "result"] = "5,2"  # ... and a decimal comma in LB's numeric result
        return df

    def vital_signs(df):
        df.loc[0, "visit"] = "Day 99"  # not a visit of the schedule ...
        df.loc[0, "result"] = "high"  # ... and not a number
        return df

    rows = _report(records_copy(labs=labs, vital_signs=vital_signs)).to_frame()
    got = rows[["file", "row", "field", "code"]].values.tolist()
    assert got == [["labs.csv", 2, "collection_datetime", "REJ-REC-007"], ["labs.csv", 2, "result", "REJ-REC-009"],
                   ["vital_signs.csv", 2, "result", "REJ-REC-009"], ["vital_signs.csv", 2, "visit", "REJ-REC-006"]]
    assert "a decimal comma? write 5.2" in rows.reason[1] and "result is not a number" in rows.reason[2]
