"""Records at unplanned visits (visit "Unscheduled"): numbered per subject by date after the last planned visit
before them (SDTMIG 3.4 section 4.4.5: decimal VISITNUM, VISITDY null; TV planned visits only; SV holds them)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import EXAMPLE, force_split_load
from msc_interop import api, mappings
from msc_interop.errors import MscInteropError
from msc_interop.sdtm.common import assign_seq

LAB = "Nanjing Drum Tower Hospital Clinical Laboratory"
S01 = "MSC-SLE-2009-01-01"  # subject 01: Baseline 2009-09-30, doses 2009-10-04 and 2009-10-11, Year 1 2010-09-17


def _labs(rows: list[list[str]]):
    def edit(df: pd.DataFrame) -> pd.DataFrame:
        extra = pd.DataFrame([[*r[:3], r[3], r[4], r[5], "", "", LAB] for r in rows], columns=df.columns)
        return pd.concat([df, extra], ignore_index=True)
    return edit


def _vs(df: pd.DataFrame) -> pd.DataFrame:
    extra = pd.DataFrame([["01", "unscheduled visit", "2010-03-05", "10:00", "SYSBP", "131", "mmHg", "SITTING"]],
                         columns=df.columns)
    return pd.concat([df, extra], ignore_index=True)


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("unsched") / "records"
    shutil.copytree(EXAMPLE, folder)
    for form, edit in {"labs": _labs([
            ["01", "Unscheduled", "2010-04-20T09:00", "ALT", "41", "U/L"],
            ["01", "Unscheduled", "2010-03-05T09:00", "ALT", "55", "U/L"],
            ["01", "UNSCHEDULED", "2010-03-05T09:00", "WBC", "5.1", "10^9/L"],
            ["01", "Unscheduled", "2009-09-28T09:00", "ALT", "20", "U/L"]]), "vital_signs": _vs}.items():
        path = folder / f"{form}.csv"
        edit(pd.read_csv(path, dtype=str, keep_default_na=False)).to_csv(path, index=False, lineterminator="\n")
    out = folder.parent / "out"
    return api.to_sdtm(folder, out, formats=["xpt"], validate=True), out


def test_unscheduled_records_are_kept_and_numbered_after_the_last_planned_visit(converted):
    result, _ = converted
    assert not result.rejects.sorted()
    lb = result.study["LB"]
    un = lb[lb["VISIT"].str.startswith("UNSCHEDULED")].sort_values(["LBDTC", "LBTESTCD"])
    # 2009-09-28: before any planned visit (Baseline, VISITNUM 1) -> 0.01, before the first dose: SCREENING;
    # 2010-03-05 and 2010-04-20: after Day 7 (VISITNUM 3, the last dose), before Year 1 -> 3.01, 3.02, FOLLOW-UP
    assert un[["LBDTC", "LBTESTCD", "VISITNUM", "VISIT", "EPOCH"]].values.tolist() == [
        ["2009-09-28T09:00", "ALT", 0.01, "UNSCHEDULED 0.01", "SCREENING"],
        ["2010-03-05T09:00", "ALT", 3.01, "UNSCHEDULED 3.01", "FOLLOW-UP"],
        ["2010-03-05T09:00", "WBC", 3.01, "UNSCHEDULED 3.01", "FOLLOW-UP"],
        ["2010-04-20T09:00", "ALT", 3.02, "UNSCHEDULED 3.02", "FOLLOW-UP"]]
    vs = result.study["VS"]  # the same subject and date in another form: the same visit
    assert vs.loc[vs["VSDTC"].eq("2010-03-05T10:00"), ["VISITNUM", "VISIT", "EPOCH"]].values.tolist() == [
        [3.01, "UNSCHEDULED 3.01", "FOLLOW-UP"]]
    # LBSEQ follows the LB order (LBTESTCD, VISITNUM, LBDTC) with the unplanned visits in it
    alt = lb[lb["USUBJID"].eq(S01) & lb["LBTESTCD"].eq("ALT")].sort_values("LBSEQ")
    assert alt["VISITNUM"].tolist() == sorted(alt["VISITNUM"].tolist())
    assert alt["VISITNUM"].tolist()[:3] == [0.01, 1.0, 3.01]


def test_sv_holds_the_unplanned_visits_without_a_planned_day_and_tv_does_not(converted):
    result, _ = converted
    sv = result.study["SV"]
    un = sv[sv["USUBJID"].eq(S01) & sv["VISIT"].str.startswith("UNSCHEDULED")]
    assert un[["VISITNUM", "VISIT", "EPOCH", "SVSTDTC", "SVENDTC"]].values.tolist() == [
        [0.01, "UNSCHEDULED 0.01", "SCREENING", "2009-09-28T09:00", "2009-09-28T09:00"],
        [3.01, "UNSCHEDULED 3.01", "FOLLOW-UP", "2010-03-05T09:00", "2010-03-05T10:00"],
        [3.02, "UNSCHEDULED 3.02", "FOLLOW-UP", "2010-04-20T09:00", "2010-04-20T09:00"]]
    assert un["VISITDY"].isna().all()
    assert sorted(result.study["TV"]["VISITNUM"].tolist()) == [1, 2, 3, 4, 5, 6, 7]


def test_the_output_with_unplanned_visits_validates_as_the_example_does(converted):
    result, _ = converted
    # the example study's only findings are MSC-SDTM-040 (EX VISITNUM/VISIT, MH MHPTCD/MHBDSYCD: Model
    # Permissible); none about VISITNUM/VISIT (one to one), SV against the data, or dates outside their SV visit
    assert {f.rule_id for f in result.validation.findings} == {"MSC-SDTM-040"}


def test_an_unscheduled_record_without_a_complete_date_is_rejected(tmp_path: Path, records_copy):
    folder = records_copy(labs=_labs([["01", "Unscheduled", "2010-03", "ALT", "55", "U/L"]]))
    result = api.to_sdtm(folder, tmp_path / "out", formats=["csv"], validate=False)
    rejects = result.rejects.sorted()
    assert [(r.field, r.code) for r in rejects] == [("collection_datetime", "REJ-REC-014")]
    assert "complete date" in rejects[0].reason
    assert not result.study["LB"]["VISIT"].str.startswith("UNSCHEDULED").any()


def test_an_unscheduled_record_rejected_for_another_field_is_not_also_an_unknown_visit(tmp_path: Path,
                                                                                       records_copy):
    """A record of an unscheduled visit rejected for its unit (the only one so spelled) is listed for its unit
    only: the visit check of the rejected rows knew the unscheduled spellings of the rows left alone, and called
    'Unscheduled' not a visit of the schedule while suggesting 'Unscheduled'."""
    folder = records_copy(labs=_labs([["02", "UNSCHEDULED visit", "2010-03-05T07:00", "ALT", "31", "furlongs"]]))
    result = api.to_sdtm(folder, tmp_path / "out", formats=["csv"], validate=False)
    rejects = result.rejects.sorted()
    assert [(r.field, r.code) for r in rejects] == [("unit", "REJ-REC-010")]
    assert "furlongs" in rejects[0].reason


def test_a_planned_visit_named_unscheduled_is_refused(tmp_path: Path, records_copy):
    folder = records_copy()
    definition = yaml.safe_load((folder / "study.yaml").read_text(encoding="utf-8"))
    definition["visits"][3]["aliases"].append("Unscheduled")
    (folder / "study.yaml").write_text(yaml.safe_dump(definition, sort_keys=False), encoding="utf-8")
    with pytest.raises(MscInteropError, match="unscheduled"):
        api.to_sdtm(folder, tmp_path / "out", formats=["csv"], validate=False)



def _schedule(folder: Path, visitnums: dict[str, float]) -> None:
    """study.yaml with the visits named (by their visit name) renumbered."""
    definition = yaml.safe_load((folder / "study.yaml").read_text(encoding="utf-8"))
    for v in definition["visits"]:
        v["visitnum"] = visitnums.get(v["visit"], v["visitnum"])
    (folder / "study.yaml").write_text(yaml.safe_dump(definition, sort_keys=False), encoding="utf-8")


def _unscheduled(result) -> list[list]:
    lb = result.study["LB"]
    un = lb[lb["VISIT"].str.startswith("UNSCHEDULED")].sort_values(["LBDTC", "LBTESTCD"])
    return un[["LBDTC", "VISITNUM", "VISIT"]].values.tolist()


def test_before_a_first_visit_below_1_the_number_stays_non_negative(tmp_path: Path, records_copy):
    folder = records_copy(labs=_labs([["01", "Unscheduled", "2009-09-20T09:00", "ALT", "20", "U/L"]]))
    _schedule(folder, {"BASELINE": 0.5})  # 0.5 rounded down is 0: numbered from 0 up, below 0.5 (0.001 to 0.099)
    result = api.to_sdtm(folder, tmp_path / "out", formats=["csv"], validate=False)
    assert _unscheduled(result) == [["2009-09-20T09:00", 0.001, "UNSCHEDULED 0.001"]]


def test_before_a_first_visit_numbered_0_the_records_are_rejected_the_rest_converted(tmp_path: Path, records_copy):
    folder = records_copy(labs=_labs([["01", "Unscheduled", "2009-09-20T09:00", "ALT", "20", "U/L"],
                                      ["01", "Unscheduled", "2010-03-05T09:00", "ALT", "55", "U/L"]]))
    _schedule(folder, {"BASELINE": 0})  # no non-negative VISITNUM is below visit 0
    result = api.to_sdtm(folder, tmp_path / "out", formats=["csv"], validate=False)
    rejects = result.rejects.sorted()
    assert [(r.row, r.field, r.code) for r in rejects] == [(496, "collection_datetime", "REJ-REC-016")]
    assert "before the subject's first planned visit" in rejects[0].reason and "visit 0 (BASELINE)" in rejects[0].reason
    assert _unscheduled(result) == [["2010-03-05T09:00", 3.01, "UNSCHEDULED 3.01"]]
    assert result.rejects.reconciliation()  # read = converted + rejected for every form
    assert (result.study["LB"]["VISITNUM"] >= 0).all()


def test_a_small_gap_between_planned_visits_takes_more_decimal_places(tmp_path: Path, records_copy):
    folder = records_copy(labs=_labs([["01", "Unscheduled", "2009-10-02T09:00", "ALT", "20", "U/L"],
                                      ["01", "Unscheduled", "2009-10-01T09:00", "ALT", "21", "U/L"],
                                      ["02", "Unscheduled", "2010-03-05T09:00", "ALT", "22", "U/L"]]))
    _schedule(folder, {"DAY 0 INFUSION": 1.02})  # after Baseline (1) before 1.02: 1.0001 ... 1.0099
    result = api.to_sdtm(folder, tmp_path / "out", formats=["csv"], validate=False)
    assert not result.rejects.sorted()
    assert _unscheduled(result) == [["2009-10-01T09:00", 1.0001, "UNSCHEDULED 1.0001"],
                                    ["2009-10-02T09:00", 1.0002, "UNSCHEDULED 1.0002"],
                                    ["2010-03-05T09:00", 3.01, "UNSCHEDULED 3.01"]]


def test_visit_numbers_in_the_hundreds_give_visit_names_without_float_noise(tmp_path: Path, records_copy):
    """A schedule numbered 100, 200, 300 ... (common): the unscheduled visit after 300 is 300.01 and its VISIT
    'UNSCHEDULED 300.01' (15 fixed decimals of the double gave 'UNSCHEDULED 300.009999999999991')."""
    folder = records_copy(labs=_labs([["01", "Unscheduled", "2010-03-05T09:00", "ALT", "55", "U/L"]]))
    definition = yaml.safe_load((folder / "study.yaml").read_text(encoding="utf-8"))
    _schedule(folder, {v["visit"]: v["visitnum"] * 100 for v in definition["visits"]})
    result = api.to_sdtm(folder, tmp_path / "out", formats=["csv"], validate=False)
    assert _unscheduled(result) == [["2010-03-05T09:00", 300.01, "UNSCHEDULED 300.01"]]
    assert "300.01,UNSCHEDULED 300.01," in (tmp_path / "out" / "csv" / "sv.csv").read_text(encoding="utf-8")


def test_past_the_99th_unscheduled_visit_between_two_planned_visits_the_records_are_rejected(tmp_path: Path,
                                                                                             records_copy):
    days = pd.date_range("2010-01-01", periods=100, freq="D").strftime("%Y-%m-%dT09:00")
    folder = records_copy(labs=_labs([["01", "Unscheduled", d, "ALT", "20", "U/L"] for d in days]))
    result = api.to_sdtm(folder, tmp_path / "out", formats=["csv"], validate=False)
    rejects = result.rejects.sorted()
    assert [(r.row, r.value, r.code) for r in rejects] == [(595, "2010-04-10T09:00", "REJ-REC-016")]
    assert ("no. 100 between visit 3 (DAY 7 INFUSION) and visit 4 (YEAR 1): at most 99" in rejects[0].reason)
    numbers = [n for _, n, _ in _unscheduled(result)]
    assert numbers[0] == 3.01 and numbers[-1] == 3.99 and len(numbers) == 99


def test_an_unscheduled_record_before_the_dose_on_its_day_is_in_screening(tmp_path: Path, records_copy):
    # subject 01's first dose: 2009-10-04T09:19 (exposures.csv); a sample at 07:00 that day is before it (its
    # LBLOBXFL says so), one at 11:00 after it: EPOCH from the record's date and time, as for an event (both after
    # Day 0 infusion, VISITNUM 2, that day: 2.01)
    folder = records_copy(labs=_labs([["01", "Unscheduled", "2009-10-04T07:00", "ALT", "20", "U/L"],
                                      ["01", "Unscheduled", "2009-10-04T11:00", "WBC", "5.0", "10^9/L"]]))
    result = api.to_sdtm(folder, tmp_path / "out", formats=["csv"], validate=False)
    lb = result.study["LB"]
    un = lb[lb["VISIT"].str.startswith("UNSCHEDULED")].sort_values("LBDTC")
    assert un[["LBDTC", "VISITNUM", "EPOCH", "LBLOBXFL"]].values.tolist() == [
        ["2009-10-04T07:00", 2.01, "SCREENING", "Y"], ["2009-10-04T11:00", 2.01, "TREATMENT", ""]]


def test_a_misspelt_or_abbreviated_unscheduled_is_rejected_proposing_unscheduled(tmp_path: Path, records_copy):
    folder = records_copy(labs=_labs([["01", "Unschedueled", "2010-03-05T09:00", "ALT", "20", "U/L"],
                                      ["01", "UNS", "2010-03-06T09:00", "ALT", "20", "U/L"]]))
    result = api.to_sdtm(folder, tmp_path / "out", formats=["csv"], validate=False)
    reasons = [r.reason for r in result.rejects.sorted()]
    assert len(reasons) == 2 and all("; did you mean Unscheduled?" in r for r in reasons), reasons


def test_lbseq_renumbered_within_the_subjects_with_an_unplanned_visit_is_the_whole_sort(converted):
    lb = converted[0].study["LB"]
    again = assign_seq(lb.drop(columns="LBSEQ"), "LBSEQ", mappings.seq_order("LB"))[list(lb.columns)]
    pd.testing.assert_frame_equal(lb.reset_index(drop=True), again.reset_index(drop=True), check_dtype=False)


def test_partitioned_and_two_process_runs_number_the_same(tmp_path: Path, records_copy, monkeypatch):
    folder = records_copy(labs=_labs([["01", "Unscheduled", "2009-10-04T07:00", "ALT", "20", "U/L"],
                                      ["05", "Unscheduled", "2010-03-05T09:00", "ALT", "55", "U/L"]]))
    _schedule(folder, {"BASELINE": 0})
    stamp = "2026-01-01T00:00:00"
    whole = api.to_sdtm(folder, tmp_path / "whole", formats=["csv"], created=stamp, partition_subjects=0)
    parts = api.to_sdtm(folder, tmp_path / "parts", formats=["csv"], created=stamp, partition_subjects=3)
    joins = force_split_load(monkeypatch)
    api.to_sdtm(folder, tmp_path / "two", formats=["csv"], created=stamp, partition_subjects=0)
    assert joins == [True] and parts.partitions > 1
    # 01's is on its Day 0 infusion's day (visit 2), before the dose; 05's between Day 7 (3) and Year 1
    assert _unscheduled(whole) == [["2009-10-04T07:00", 2.01, "UNSCHEDULED 2.01"],
                                   ["2010-03-05T09:00", 3.01, "UNSCHEDULED 3.01"]]
    for run in ("parts", "two"):
        for name in ("rejects.json", "csv/lb.csv", "csv/sv.csv"):
            assert (tmp_path / run / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), (run, name)


def test_sv_epoch_of_an_unscheduled_visit_across_the_first_dose_is_the_epoch_at_its_start(tmp_path: Path,
                                                                                          records_copy):
    """SDTMIG 3.4 SV assumption 15a: SV's EPOCH is the one at the start of the visit (SVSTDTC), not that of the
    record the builder met first. Subject 01 (first dose 2009-10-04T09:19): a WBC sample at 07:00 (SCREENING) and
    an ALT one at 11:00 (TREATMENT) that day; LB is sorted by LBTESTCD, so the later ALT comes first. Subject 02
    (first dose 2009-06-22T09:47): a vital sign at 07:30 (SCREENING; VS comes after LB) and an ALT at 11:00."""
    def vs(df: pd.DataFrame) -> pd.DataFrame:
        extra = pd.DataFrame([["02", "Unscheduled", "2009-06-22", "07:30", "SYSBP", "131", "mmHg", "SITTING"]],
                             columns=df.columns)
        return pd.concat([df, extra], ignore_index=True)

    folder = records_copy(labs=_labs([["01", "Unscheduled", "2009-10-04T11:00", "ALT", "20", "U/L"],
                                      ["01", "Unscheduled", "2009-10-04T07:00", "WBC", "5.0", "10^9/L"],
                                      ["02", "Unscheduled", "2009-06-22T11:00", "ALT", "22", "U/L"]]),
                          vital_signs=vs)
    result = api.to_sdtm(folder, tmp_path / "out", formats=["csv"], validate=False)
    assert not result.rejects.sorted()
    lb = result.study["LB"]
    un = lb[lb["VISIT"].str.startswith("UNSCHEDULED")]
    assert un[["USUBJID", "LBDTC", "EPOCH"]].values.tolist() == [  # (each record's own epoch, in LB's order)
        [S01, "2009-10-04T11:00", "TREATMENT"], [S01, "2009-10-04T07:00", "SCREENING"],
        ["MSC-SLE-2009-01-02", "2009-06-22T11:00", "TREATMENT"]]
    sv = result.study["SV"]
    un = sv[sv["VISIT"].str.startswith("UNSCHEDULED")]
    assert un[["USUBJID", "VISITNUM", "EPOCH", "SVSTDTC", "SVENDTC"]].values.tolist() == [
        [S01, 2.01, "SCREENING", "2009-10-04T07:00", "2009-10-04T11:00"],
        ["MSC-SLE-2009-01-02", 2.01, "SCREENING", "2009-06-22T07:30", "2009-06-22T11:00"]]
