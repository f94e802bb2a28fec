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


def test_the_note_is_the_same_from_a_whole_a_split_and_a_partitioned_load(synth_records, tmp_path, monkeypatch):
    """Records kept as collected in several subjects (the first and last of the files: both halves of a load on
    two cores, several partitions) give one note listing them all, as a whole load gives it."""
    import shutil

    from conftest import force_split_load
    from msc_interop import api

    folder = tmp_path / "records"
    shutil.copytree(synth_records, folder)
    for form, cells in (("labs", {"ref_low": "10", "ref_high": "1"}),
                        ("exposures", {"start_datetime": "2009-06-20", "end_datetime": "2009-06-19"})):
        df = pd.read_csv(folder / f"{form}.csv", dtype=str, keep_default_na=False)
        for row in (0, len(df) - 1):
            for col, value in cells.items():
                df.loc[row, col] = value
        df.to_csv(folder / f"{form}.csv", index=False, lineterminator="\n")
    stamp = "2026-01-01T00:00:00"
    whole = api.to_sdtm(folder, tmp_path / "whole", formats=["csv"], created=stamp, partition_subjects=0)
    parts = api.to_sdtm(folder, tmp_path / "parts", formats=["csv"], created=stamp, partition_subjects=6)
    joins = force_split_load(monkeypatch)
    two = api.to_sdtm(folder, tmp_path / "two", formats=["csv"], created=stamp, partition_subjects=0)
    assert joins == [True] and parts.partitions > 1
    assert two.rejects.notes == parts.rejects.notes == whole.rejects.notes
    kept = [n for n in whole.rejects.notes if "(the first:" in n]
    assert len(kept) == 2 and kept[0].startswith("exposures.csv row(s) 2, 41 (2 record(s)): end_datetime is before")
    assert kept[1].startswith("labs.csv row(s) 2, 1101 (2 record(s)): ref_low is above ref_high")
    for run in ("parts", "two"):
        for name in ("rejects.json", "csv/lb.csv", "csv/ex.csv"):
            assert (tmp_path / run / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), (run, name)


def test_a_record_rejected_later_for_another_reason_is_not_said_to_be_converted(records_copy):
    """An exposure ending before it starts whose visit is unknown: rejected for its visit (a later check), so the
    note does not name it as converted."""
    def edit(df):
        df.loc[0, ["start_datetime", "end_datetime", "visit"]] = ["2009-06-20", "2009-06-19", "Day 99"]
        return df
    _study, report = build_study(read_records(records_copy(exposures=edit)))
    assert [(r.form, r.row, r.field) for r in report.rejects if r.form == "exposures"] == [("exposures", 2, "visit")]
    assert not [n for n in report.notes if "end_datetime is before start_datetime" in n]
