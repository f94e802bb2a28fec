"""LB's result check: a result is a number written in ASCII digits (with an optional comparator); any other text
is rejected (REJ-REC-009), never an internal error."""

from __future__ import annotations

import pytest

from msc_interop.records import read_records
from msc_interop.sdtm.build import build_study


@pytest.mark.parametrize("result", ["٥", "<٥", "５.2", "१२"])
def test_result_in_digits_of_another_script_is_rejected(records_copy, result):
    """A result in Arabic-Indic, fullwidth or Devanagari digits matched the result pattern's \\d, then
    pd.to_numeric refused it: to-sdtm stopped with an internal error (ValueError: Unable to parse string)."""
    folder = records_copy(labs=lambda df: df.assign(result=df["result"].where(df.index != 3, result)))
    study, report = build_study(read_records(folder))
    bad = [r for r in report.sorted() if r.form == "labs"]
    assert [(r.row, r.field, r.value, r.code) for r in bad] == [(5, "result", result, "REJ-REC-009")]
    assert "not a number" in bad[0].reason
    assert len(study.datasets["LB"]) == report.counts["labs"].converted == report.counts["labs"].read - 1
