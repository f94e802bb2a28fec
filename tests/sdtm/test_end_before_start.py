"""A record ending before it starts is converted as collected (SDTM submits data so; an adverse event dropped for a
wrong date would be missing from the safety tables) and a note names its row and both dates, in every form with a
start and an end; dates compared at the precision both give, so a partial end in the start's month is no such
record."""

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
def test_an_end_before_its_start_is_kept_and_named_in_a_note(records_copy, form, start, end, dataset, end_var):
    def edit(df):
        df.loc[0, [start, end]] = ["2009-06-20T09:26" if "time" in start else "2009-06-20", "2009-06-19"]
        if "ongoing" in df.columns:
            df.loc[0, "ongoing"] = "N"
        return df
    study, report = build_study(read_records(records_copy(**{form: edit})))
    assert not [r for r in report.rejects if r.form == form]
    assert "2009-06-19" in set(study[dataset][end_var])
    [note] = [n for n in report.notes if f"{end} is before {start}" in n]
    assert note.startswith(f"{form}.csv row(s) 2 (1 record(s)): {end} is before {start} (the first: '2009-06-19' and")
    assert "converted as collected (validate flags them: MSC-SDTM-012)" in note


@pytest.mark.parametrize(("form", "start", "end", "dataset", "end_var"), CASES)
def test_an_end_on_the_start_day_or_partial_in_its_month_is_not_named(records_copy, form, start, end, dataset, end_var):
    def edit(df):
        if len(df) < 2:  # (the example has one adverse event: a second one, numbered 2)
            df = pd.concat([df, df.assign(ae_number="2")], ignore_index=True)
        df.loc[0, [start, end]] = ["2009-06-20", "2009-06"]
        df.loc[1, [start, end]] = ["2009-06-20T09:26" if "time" in start else "2009-06-20", "2009-06-20"]
        if "ongoing" in df.columns:
            df.loc[[0, 1], "ongoing"] = "N"
        return df
    _study, report = build_study(read_records(records_copy(**{form: edit})))
    assert not [n for n in report.notes if f"{end} is before {start}" in n]


@pytest.mark.parametrize(("form", "start", "end", "dataset", "end_var"), CASES)
def test_the_validation_of_what_is_written_flags_it_as_the_note_says(records_copy, tmp_path, form, start, end,
                                                                      dataset, end_var):
    from msc_interop import api

    def edit(df):
        df.loc[0, [start, end]] = ["2009-06-20", "2009-06-19"]
        if "ongoing" in df.columns:
            df.loc[0, "ongoing"] = "N"
        return df
    result = api.to_sdtm(records_copy(**{form: edit}), tmp_path / "out", formats=["csv"],
                         created="2026-01-01T00:00:00")
    flagged = [f for f in result.validation.findings
               if f.rule_id == "MSC-SDTM-012" and f.dataset_or_resource == dataset]
    assert len(flagged) == 1, [f.message for f in result.validation.findings if f.rule_id == "MSC-SDTM-012"]
