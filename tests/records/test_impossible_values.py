"""A value no record can hold is a reject naming the field (a dose of -1 became EXDOSE -1.0); a reference range upside
down is converted as collected but gives no LBNRIND (a result of 4.15 in 10 - 1 was HIGH), and a note names its
rows; the checks' words say what is expected."""

from __future__ import annotations

from msc_interop.records import read_records
from msc_interop.sdtm.build import build_study


def _edited(records_copy, form: str, row: int, **cells: str):
    def edit(df):
        for col, value in cells.items():
            df.loc[row, col] = value
        return df
    return records_copy(**{form: edit})


def test_a_negative_dose_is_rejected_with_what_a_dose_must_be(records_copy):
    records = read_records(_edited(records_copy, "exposures", 0, dose="-1"))
    [reject] = [r for r in records.rejects.rejects if r.form == "exposures"]
    assert (reject.row, reject.field, reject.value, reject.code) == (2, "dose", "-1", "REJ-REC-002")
    assert "a number not below 0" in reject.reason and "pattern" not in reject.reason


def test_a_reference_range_upside_down_is_kept_with_no_indicator_and_a_note(records_copy):
    folder = _edited(records_copy, "labs", 0, ref_low="10", ref_high="1")
    study, report = build_study(read_records(folder))
    assert not [r for r in report.rejects if r.form == "labs"]
    assert report.counts["labs"].read == report.counts["labs"].converted == len(study["LB"])
    lb = study["LB"]
    upside_down = lb[(lb["LBORNRLO"] == "10") & (lb["LBORNRHI"] == "1")]
    assert len(upside_down) == 1 and upside_down["LBNRIND"].tolist() == [""]
    assert lb["LBNRIND"].ne("").sum() == len(lb) - 1  # (every other result of the example has its indicator)
    [note] = [n for n in report.notes if "ref_low is above ref_high" in n]
    assert note.startswith("labs.csv row(s) 2 (1 record(s)): ref_low is above ref_high (the first: '10' and '1')")


def test_equal_bounds_and_a_missing_bound_are_not_inverted(records_copy):
    def edit(df):
        df.loc[0, ["ref_low", "ref_high"]] = ["5", "5"]
        df.loc[1, ["ref_low", "ref_high"]] = ["10", ""]
        return df
    study, report = build_study(read_records(records_copy(labs=edit)))
    assert not [r for r in report.rejects if r.form == "labs"]
    assert report.counts["labs"].read == len(study["LB"])


def test_a_number_that_is_not_one_says_what_a_number_is(records_copy):
    records = read_records(_edited(records_copy, "labs", 0, ref_low="3.5 g"))
    [reject] = [r for r in records.rejects.rejects if r.form == "labs"]
    assert reject.reason == ("'ref_low' does not have the expected form (expected: a number such as 5.2 or -0.5, "
                             "with '.' as the decimal mark and no thousands separator)")


def test_a_number_with_a_decimal_comma_says_so(records_copy):
    records = read_records(_edited(records_copy, "labs", 0, ref_low="3,5"))
    [reject] = [r for r in records.rejects.rejects if r.form == "labs"]
    assert reject.reason == "'ref_low' is not a number as written ('3,5'): a decimal comma? write 3.5 ('.' is the " \
                            "decimal mark)"
