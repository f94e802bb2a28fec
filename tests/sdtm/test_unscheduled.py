"""Records at unplanned visits (visit "Unscheduled"): numbered per subject by date after the last planned visit
before them (SDTMIG 3.4 section 4.4.5: decimal VISITNUM, VISITDY null; TV planned visits only; SV holds them)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import EXAMPLE
from msc_interop import api
from msc_interop.errors import MscInteropError

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


def test_a_planned_visit_named_unscheduled_is_refused(tmp_path: Path, records_copy):
    folder = records_copy()
    definition = yaml.safe_load((folder / "study.yaml").read_text(encoding="utf-8"))
    definition["visits"][3]["aliases"].append("Unscheduled")
    (folder / "study.yaml").write_text(yaml.safe_dump(definition, sort_keys=False), encoding="utf-8")
    with pytest.raises(MscInteropError, match="unscheduled"):
        api.to_sdtm(folder, tmp_path / "out", formats=["csv"], validate=False)

