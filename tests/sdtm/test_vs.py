"""VS from vital_signs.csv: CT test codes, unit conversions (checked by hand), the baseline flag, rejects."""

from __future__ import annotations

import pandas as pd
import pytest

from msc_interop.records import read_records
from msc_interop.sdtm.build import build_study
from msc_interop.sdtm.vs import baseline_flag_name

ROWS = [  # subject 01: first infusion 2009-10-04T09:19 (exposures.csv)
    ("01", "Baseline", "2009-09-30", "08:58", "systolic", "124", "mm[Hg]", "sitting"),
    ("01", "Baseline", "2009-09-30", "08:58", "Temperature", "98.6", "°F", ""),
    ("01", "Baseline", "2009-09-30", "08:58", "WEIGHT", "130", "lbs", ""),
    ("01", "Baseline", "2009-09-30", "08:58", "HEIGHT", "62", "in", ""),
    ("01", "Baseline", "2009-09-30", "08:58", "RESP", "16", "/min", ""),
    ("01", "Day 0", "2009-10-04", "09:04", "PULSE", "72", "/min", "SITTING"),
    ("01", "Day 0", "2009-10-04", "09:04", "SYSBP", "120", "mmHg", "SITTING"),
    ("01", "Year 1", "2010-09-17", "", "SYSBP", "118", "mmHg", "SITTING"),
]


def _study(records_copy, rows):
    def edit(_df: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(rows, columns=["subject_id", "visit", "date", "time", "test", "result", "unit",
                                           "position"])
    return build_study(read_records(records_copy(vital_signs=edit)))


def test_conversions_names_and_units_by_hand(records_copy):
    study, report = _study(records_copy, ROWS)
    vs = study["VS"].set_index(["VSTESTCD", "VISIT"])
    # by hand: (98.6 - 32) * 5/9 = 37.0 C; 130 lb * 0.45359237 = 58.967 -> 59.0 kg; 62 in * 2.54 = 157.48 -> 157.5 cm
    assert vs.loc[("TEMP", "BASELINE"), ["VSORRES", "VSORRESU", "VSSTRESN", "VSSTRESU"]].tolist() == [
        "98.6", "F", 37.0, "C"]
    assert vs.loc[("WEIGHT", "BASELINE"), ["VSORRESU", "VSSTRESC", "VSSTRESN", "VSSTRESU"]].tolist() == [
        "LB", "59", 59.0, "kg"]
    assert vs.loc[("HEIGHT", "BASELINE"), ["VSSTRESN", "VSSTRESU"]].tolist() == [157.5, "cm"]
    # the alias and the CT name are mapped; UCUM "/min" is breaths/min for RESP and beats/min for PULSE
    assert vs.loc[("SYSBP", "BASELINE"), ["VSTEST", "VSPOS", "VSORRESU"]].tolist() == [
        "Systolic Blood Pressure", "SITTING", "mmHg"]
    assert vs.loc[("RESP", "BASELINE"), "VSORRESU"] == "breaths/min"
    assert vs.loc[("PULSE", "DAY 0 INFUSION"), "VSORRESU"] == "beats/min"
    # date + time -> VSDTC; VSDY from RFSTDTC 2009-10-04 (day 1)
    assert vs.loc[("PULSE", "DAY 0 INFUSION"), ["VSDTC", "VSDY", "EPOCH"]].tolist() == [
        "2009-10-04T09:04", 1, "TREATMENT"]
    assert not [r for r in report.rejects if r.form == "vital_signs"]


def test_baseline_flag_is_the_last_result_before_the_first_dose(records_copy):
    study, _ = _study(records_copy, ROWS)
    flag = baseline_flag_name()
    assert flag == "VSLOBXFL"  # SDTMIG 3.4
    vs = study["VS"]
    flagged = vs.loc[vs[flag].eq("Y"), ["VSTESTCD", "VISIT"]].values.tolist()
    # SYSBP: Day 0 pre-dose (09:04 before the 09:19 infusion) wins over Baseline; Year 1 is after
    assert ["SYSBP", "DAY 0 INFUSION"] in flagged and ["SYSBP", "BASELINE"] not in flagged
    assert len(flagged) == 6  # one per test (6 tests measured before the dose)
    assert vs["VSSEQ"].tolist() == list(range(1, len(vs) + 1))


@pytest.mark.parametrize("row, field, words", [
    (("01", "Baseline", "2009-09-30", "", "TEMP", "36.8", "kg", ""), "unit", "not a unit of test TEMP"),
    (("01", "Baseline", "2009-09-30", "", "TEMP", "36.8", "", ""), "unit", "unit is empty"),
    (("01", "Baseline", "2009-09-30", "", "BLOODPR", "120", "mmHg", ""), "test", "not a vital-sign test"),
    (("01", "Baseline", "2009-09-30", "", "SYSBP", "12O", "mmHg", ""), "result", "not a number"),
    # digits of another script (Arabic-Indic, fullwidth): taken as text, VSSTRESN left empty, no reject
    (("01", "Baseline", "2009-09-30", "", "SYSBP", "١٢٠", "mmHg", ""), "result", "not a number"),
    (("01", "Baseline", "2009-09-30", "", "SYSBP", "１２０", "mmHg", ""), "result", "not a number"),
    (("01", "Baseline", "2009-09", "08:00", "SYSBP", "120", "mmHg", ""), "date", "needs a complete date"),
    (("01", "Baseline", "2009-09-30", "", "SYSBP", "120", "mmHg", "LYING"), "position", "POSITION"),
])
def test_rejects_name_the_field(records_copy, row, field, words):
    study, report = _study(records_copy, [ROWS[0], row])
    rejected = [r for r in report.rejects if r.form == "vital_signs"]
    assert len(rejected) == 1 and rejected[0].field == field and words in rejected[0].reason
    assert len(study["VS"]) == 1


@pytest.mark.parametrize("source", ["vs.xpt", "vs.json"])
def test_cdisc_example_vs_converts_between_formats_cell_identical(shared_dir, tmp_path, source):
    """CDISC's example vs (1414 records; temperatures in F, weights in LB, VSSTAT, VSLOC, VSREPNUM) read from XPT or
    Dataset-JSON, written as XPT, Dataset-JSON and CSV, read back: every cell, type and column order the same."""
    import shutil

    from msc_interop.sdtm.formats import read_sdtm, write_study

    src = shared_dir / "external" / "dataset-json" / "examples-v1.1" / "sdtm"
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(src / source, folder / source)
    original = read_sdtm(folder)
    assert len(original["VS"]) == 1414
    for fmt in ("xpt", "json", "csv"):
        write_study(original, tmp_path / fmt, [fmt], created="2026-01-01T00:00:00")
        back = read_sdtm(tmp_path / fmt)
        pd.testing.assert_frame_equal(original["VS"], back["VS"], check_exact=True, obj=f"{source} -> {fmt}")
