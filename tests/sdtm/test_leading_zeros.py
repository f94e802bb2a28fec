"""Leading zeros a spreadsheet dropped (a site '01' saved as 1, a subject '01' as 1): the reject says which value it
is once zero-padded, per distinct value, as a misspelt visit name gets its "did you mean"; the same reason however
the study is loaded; and a run whose every record is rejected says so and exits 1 (its reject report written)."""

from __future__ import annotations

import json

import pandas as pd
from click.testing import CliRunner

from conftest import converted_three_ways
from msc_interop.cli import main
from msc_interop.records import read_records
from msc_interop.sdtm.build import build_study
from msc_interop.sdtm.common import zero_padded_matches

HINT = "(a spreadsheet drops leading zeros: keep the column as text)"


def _unpadded(column: str, only: str | None = None):  # type: ignore[no-untyped-def]
    """A form edit dropping the leading zeros of `column` (of the subject `only`, else every row)."""
    def edit(df: pd.DataFrame) -> pd.DataFrame:
        rows = df["subject_id"].eq(only) if only is not None else slice(None)
        df.loc[rows, column] = df.loc[rows, column].str.lstrip("0")
        return df
    return edit


def _reasons(report, form: str, field: str) -> dict[str, set[str]]:  # type: ignore[no-untyped-def]
    out: dict[str, set[str]] = {}
    for r in report.rejects:
        if r.form == form and r.field == field:
            out.setdefault(r.value, set()).add(r.reason)
    return out


def test_matches_only_by_leading_zeros():
    known = ["01", "001", "10", "A1", "2"]
    assert zero_padded_matches(["1", "10", "3", "02", "A1", "01", "0"], known) == {"1": "01"}
    assert zero_padded_matches(["02", "010", "1"], known, shorter_only=False) == {"02": "2", "010": "10", "1": "01"}
    assert zero_padded_matches(["x"], known) == {}


def test_site_without_its_leading_zero_suggests_the_site(records_copy):
    """subjects.csv site_id 1 (study.yaml: '01') on every row: each subject rejected naming '01'; a site 2 (no
    such site, once padded or not) gets no such hint."""
    def sites(df: pd.DataFrame) -> pd.DataFrame:
        df = _unpadded("site_id")(df)
        df.loc[df["subject_id"].eq("09"), "site_id"] = "2"
        return df

    report = build_study(read_records(records_copy(subjects=sites)))[1]
    assert _reasons(report, "subjects", "site_id") == {
        "1": {f"'1' is not a site of study.yaml; did you mean '01'? {HINT}"},
        "2": {"'2' is not a site of study.yaml"}}
    assert report.counts["subjects"].converted == 0


def test_subject_ids_without_leading_zeros_name_the_subject(records_copy):
    """labs.csv subject 1 for subjects.csv's 01: 'did you mean 01'; subjects.csv's 2 (saved by a spreadsheet) for the
    other forms' 02: each of those names subjects.csv's '2'; 03 rejected in subjects.csv: that reject, as before."""
    def subjects(df: pd.DataFrame) -> pd.DataFrame:
        df = _unpadded("subject_id", only="02")(df)
        df.loc[df["subject_id"].eq("03"), "sex"] = "Woman"
        return df

    report = build_study(read_records(records_copy(subjects=subjects, labs=_unpadded("subject_id", only="01"))))[1]
    labs = _reasons(report, "labs", "subject_id")
    assert labs == {
        "1": {f"subject is not in subjects.csv; did you mean '01'? {HINT}"},
        "02": {"subject is not in subjects.csv, which has '2' (a spreadsheet drops leading zeros: keep the subject_id "
               "column of subjects.csv as text)"},
        "03": {"the subject's row in subjects.csv was rejected (see that reject)"}}
    assert report.counts["labs"].rejected == 3 * 55 - 1  # (subject 03 has no CA 19-9)
    assert _reasons(report, "exposures", "subject_id").keys() == {"02", "03"}


def test_same_reason_whole_partitioned_and_in_two(records_copy, tmp_path, monkeypatch):
    """Subject 09 saved as 9 in subjects.csv: subject 9 is of the last partition (and of the other process), the
    other forms' rows of 09 of the first (and of this process): each load names subjects.csv's '9'."""
    folder = records_copy(subjects=_unpadded("subject_id", only="09"))
    whole, parts, two = converted_three_ways(folder, tmp_path / "out", monkeypatch)
    reason = ("subject is not in subjects.csv, which has '9' (a spreadsheet drops leading zeros: keep the subject_id "
              "column of subjects.csv as text)")
    for result in (whole, parts, two):
        assert _reasons(result.rejects, "labs", "subject_id") == {"09": {reason}}
    texts = {way: (tmp_path / "out" / way / "rejects.json").read_bytes() for way in ("whole", "parts", "two")}
    assert texts["whole"] == texts["parts"] == texts["two"]


def test_every_subject_rejected_says_nothing_converted_and_exits_1(records_copy, tmp_path):
    """Every site 1: no record of the study converted. Exit 1 (records rejected, their report written), not 2 (the
    input could not be used: nothing written), with a line saying that nothing was converted."""
    folder = records_copy(subjects=_unpadded("site_id"))
    res = CliRunner().invoke(main, ["to-sdtm", str(folder), "-o", str(tmp_path / "out"), "--no-validate",
                                    "--created", "2026-01-01T00:00:00"], catch_exceptions=False)
    assert res.exit_code == 1, res.output
    assert ("nothing converted: every one of the 1347 record(s) read was rejected, so what was written holds none of "
            "them (exit status 1, as for any reject: the reject report says why for each)") in res.output
    counts = json.loads((tmp_path / "out" / "rejects.json").read_text())["counts"]
    assert sum(c["read"] for c in counts) == sum(c["rejected"] for c in counts) == 1347


def test_some_converted_no_nothing_converted_line(records_copy, tmp_path):
    folder = records_copy(subjects=_unpadded("site_id", only="01"))
    res = CliRunner().invoke(main, ["to-sdtm", str(folder), "-o", str(tmp_path / "out"), "--no-validate"],
                             catch_exceptions=False)
    assert res.exit_code == 1 and "nothing converted" not in res.output
