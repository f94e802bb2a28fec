"""A record ending before it starts is a reject naming its row and both dates (REJ-REC-130), in every form with a
start and an end; dates compared at the precision both give, so a partial end in the start's month is kept."""

from __future__ import annotations

import pandas as pd
import pytest

from msc_interop.records import read_records
from msc_interop.sdtm.build import build_study

CASES = [  # form, start column, end column, the dataset and its end variable
    ("adverse_events", "start_datetime", "end_datetime", "AE", "AEENDTC"),
    ("exposures", "start_datetime", "end_datetime", "EX", "EXENDTC"),
    ("medications", "start", "end", "CM", "CMENDTC"),
    ("medical_history", "start_date", "end_date", "MH", "MHENDTC"),
]


@pytest.mark.parametrize(("form", "start", "end", "dataset", "end_var"), CASES)
def test_an_end_before_its_start_is_rejected(records_copy, form, start, end, dataset, end_var):
    def edit(df):
        df.loc[0, [start, end]] = ["2009-06-20T09:26" if "time" in start else "2009-06-20", "2009-06-19"]
        if "ongoing" in df.columns:
            df.loc[0, "ongoing"] = "N"
        return df
    study, report = build_study(read_records(records_copy(**{form: edit})))
    mine = [r for r in report.rejects if r.form == form and r.code == "REJ-REC-130"]
    assert [(r.row, r.field, r.value) for r in mine] == [(2, end, "2009-06-19")]
    assert f"{end} '2009-06-19' is before {start} '2009-06-20" in mine[0].reason
    assert "2009-06-19" not in set(study[dataset][end_var])
    count = report.counts[form]
    assert count.read == count.converted + len([r for r in report.rejects if r.form == form])


@pytest.mark.parametrize(("form", "start", "end", "dataset", "end_var"), CASES)
def test_an_end_on_the_start_day_or_partial_in_its_month_is_kept(records_copy, form, start, end, dataset, end_var):
    def edit(df):
        if len(df) < 2:  # (the example has one adverse event: a second one, numbered 2)
            df = pd.concat([df, df.assign(ae_number="2")], ignore_index=True)
        df.loc[0, [start, end]] = ["2009-06-20", "2009-06"]
        df.loc[1, [start, end]] = ["2009-06-20T09:26" if "time" in start else "2009-06-20", "2009-06-20"]
        if "ongoing" in df.columns:
            df.loc[[0, 1], "ongoing"] = "N"
        return df
    _study, report = build_study(read_records(records_copy(**{form: edit})))
    assert not [r for r in report.rejects if r.form == form and r.code == "REJ-REC-130"]
