"""A subject who signed consent but failed screening (subjects.csv arm_code SCREEN FAILURE): SDTMIG 3.4 DM
assumption 4 (ARMCD, ARM, ACTARMCD, ACTARM null; ARMNRS SCREEN FAILURE, CDISC CT ARMNULRS C49628), no reference
start (never dosed), AGE at informed consent (RFICDTC); out of the safety population, in the disposition table."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from conftest import EXAMPLE
from msc_interop import api
from msc_interop.sdtm.define_methods import method_text
from msc_interop.sdtm.epochs import first_epoch, screen_failure_epochs
from msc_interop.study import StudyMeta
from msc_interop.summary import compute_tables

SF = "MSC-SLE-2009-01-10"
ADDED = {
    "subjects": ["10", "01", "Female", "1980-05-15", "", "ASIAN", "NOT HISPANIC OR LATINO", "Screen Failure", "",
                 "2009-08-01", "2009-08-10"],
    "disposition": ["10", "SCREEN FAILURE", "2009-08-10", "Did not meet inclusion criterion 3"],
    "labs": ["10", "Baseline", "2009-08-03T08:30", "ALT", "85", "U/L", "7", "40", "Nanjing Drum Tower Hospital"],
    "adverse_events": ["10", "1", "Dizziness", "2009-08-05", "2009-08-06", "Mild", "N", "Not related",
                       "Not applicable", "Recovered/Resolved"],
}
# medications before consent (2009-08-01), one with a partial date, and one from the day of consent
MEDICATIONS = [["10", "Prednisone", "40", "mg", "QD", "ORAL", "2006-04", "2009-06-16", "N",
                "Systemic lupus erythematosus"],
               ["10", "Prednisone", "20", "mg", "QD", "ORAL", "2009-06-17", "2009-07-31", "N",
                "Systemic lupus erythematosus"],
               ["10", "Prednisone", "10", "mg", "QD", "ORAL", "2009-08-01", "", "Y", "Systemic lupus erythematosus"]]


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("screenfail") / "records"
    shutil.copytree(EXAMPLE, folder)
    for form, rows in [*((form, [row]) for form, row in ADDED.items()), ("medications", MEDICATIONS)]:
        path = folder / f"{form}.csv"
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        pd.concat([df, pd.DataFrame(rows, columns=df.columns)]).to_csv(path, index=False, lineterminator="\n")
    return api.to_sdtm(folder, folder.parent / "out", formats=["xpt"], validate=True)


def test_dm_of_a_screen_failure(converted):
    assert not converted.rejects.sorted()
    dm = converted.study["DM"].set_index("USUBJID")
    row = dm.loc[SF]
    assert [row[c] for c in ("ARMCD", "ARM", "ACTARMCD", "ACTARM", "ARMNRS")] == ["", "", "", "", "SCREEN FAILURE"]
    assert [row[c] for c in ("RFSTDTC", "RFENDTC", "RFXSTDTC", "RFXENDTC")] == ["", "", "", ""]
    assert row["RFICDTC"] == "2009-08-01" and row["RFPENDTC"] == "2009-08-10"
    # never dosed: AGE at informed consent, 1980-05-15 -> 2009-08-01 = 29 completed years
    assert row["AGE"] == 29 and row["AGEU"] == "YEARS"
    # the dosed subjects keep AGE at RFSTDTC and their arm (01: 1961-11-24 -> 2009-10-04 = 47)
    assert dm.loc["MSC-SLE-2009-01-01", "AGE"] == 47 and dm.loc["MSC-SLE-2009-01-01", "ARMNRS"] == ""


def test_validation_does_not_flag_the_screen_failure(converted):
    # the example study's only findings are MSC-SDTM-040 (Model Permissible variables); none about the null arm,
    # the missing RFSTDTC, the missing EX, the baseline flags or the AE of the screen failure
    assert {f.rule_id for f in converted.validation.findings} == {"MSC-SDTM-040"}
    assert not [f for f in converted.validation.findings if f.usubjid == SF]


def test_the_summary_counts_the_screen_failure_in_disposition_not_in_the_safety_population(converted):
    tables = compute_tables(converted.study)
    arm = "UC-MSC 1x10^6 cells/kg IV on Days 0 and 7 (N=9)"
    other = "Not treated (screen failure / not dosed) (N=1)"
    ds = tables["ds_disposition"].set_index("Disposition")
    assert ds.loc["COMPLETED", arm] == "9 (100.0%)" and ds.loc["SCREEN FAILURE", arm] == "0"
    assert ds.loc["SCREEN FAILURE", other] == "1 (100.0%)" and ds.loc["COMPLETED", other] == "0"


def test_an_exposure_of_a_screen_failure_is_rejected(tmp_path, records_copy):
    def subjects(df: pd.DataFrame) -> pd.DataFrame:
        df.loc[df["subject_id"].eq("02"), "arm_code"] = "SCREEN FAILURE"  # subject 02 has two infusions
        return df

    result = api.to_sdtm(records_copy(subjects=subjects), tmp_path / "out", formats=["csv"], validate=False)
    rejects = [r for r in result.rejects.sorted() if r.form == "exposures"]
    assert [(r.row, r.field, r.code) for r in rejects] == [(4, "subject_id", "REJ-REC-015"),
                                                            (5, "subject_id", "REJ-REC-015")]
    dm = result.study["DM"].set_index("USUBJID").loc["MSC-SLE-2009-01-02"]
    assert dm["ARMNRS"] == "SCREEN FAILURE" and dm["RFXSTDTC"] == "" and dm["ACTARMCD"] == ""


def test_the_records_of_a_screen_failure_are_in_the_first_epoch(converted):
    # SDTMIG 3.4 SE: a subject is in one element at a time until the next begins; a screen failure never begins
    # treatment, so its AE (2009-08-05), DS (2009-08-10) and LB (BASELINE) are in the study's first epoch: the
    # example's first visit is in SCREENING (CDISC CT EPOCH C99079, term C202487)
    epochs = {name: set(converted.study[name].loc[converted.study[name]["USUBJID"].eq(SF), "EPOCH"])
              for name in ("AE", "DS", "LB", "SV")}
    assert epochs == {"AE": {"SCREENING"}, "DS": {"SCREENING"}, "LB": {"SCREENING"}, "SV": {"SCREENING"}}
    # a dosed subject's epochs still come from the first and last dose (the AEs of the example are on treatment
    # or after it)
    ae = converted.study["AE"]
    assert "" not in set(ae["EPOCH"]) and set(ae.loc[ae["USUBJID"].ne(SF), "EPOCH"]) <= {"TREATMENT", "FOLLOW-UP"}


def test_a_screen_failures_record_before_consent_or_with_a_partial_date_has_no_epoch(converted):
    # the screen failure entered the study at informed consent (RFICDTC 2009-08-01): a medication it took before is
    # in no epoch of the study, and a partial start cannot be placed after consent (null, as for a treated
    # subject's partial date); the one started on the day of consent is in the first epoch (SCREENING)
    cm = converted.study["CM"]
    cm = cm[cm["USUBJID"].eq(SF)]
    assert dict(zip(cm["CMSTDTC"], cm["EPOCH"], strict=True)) == {
        "2006-04": "", "2009-06-17": "", "2009-08-01": "SCREENING"}
    # define.xml says so (the method of CM's EPOCH names its date and the consent)
    assert "CMSTDTC is complete and on or after informed consent (DM.RFICDTC), else null" in method_text(
        "CM", "EPOCH", "Epoch")


def test_the_first_epoch_is_the_schedules_and_a_given_epoch_is_kept():
    # the visit schedule is the trial design here: the first epoch is its first visit's (VISITNUM order, not the
    # order of the rows); PRE-SCREENING is CDISC CT EPOCH C199844
    visits = pd.DataFrame({"VISITNUM": [2.0, 1.0], "VISIT": ["DAY 1", "PRE"], "EPOCH": ["TREATMENT", "PRE-SCREENING"]})
    meta = StudyMeta("S", visits=visits)
    assert first_epoch(meta) == "PRE-SCREENING"
    assert first_epoch(StudyMeta("S")) == "SCREENING"  # no schedule: CDISC CT EPOCH SCREENING (C202487)
    dm = pd.DataFrame({"USUBJID": [SF, "OTHER"], "ARMNRS": ["SCREEN FAILURE", "ASSIGNED, NOT TREATED"],
                       "RFICDTC": ["2009-08-01", "2009-08-01"]})
    ae = pd.DataFrame({"USUBJID": [SF, SF, "OTHER"], "EPOCH": ["", "TREATMENT", ""],
                       "AESTDTC": ["2009-08-05", "2009-07-01", "2009-08-05"]})
    # a finding by its --DTC: the morning of the consent day is on it (RFICDTC has no time), the day before is not,
    # nor is a date without its day
    lb = pd.DataFrame({"USUBJID": [SF, SF, SF], "EPOCH": ["", "", ""],
                       "LBDTC": ["2009-08-01T07:30", "2009-07-31T23:00", "2009-08"]}, index=[5, 3, 9])
    out = screen_failure_epochs({"AE": ae, "LB": lb, "DM": dm}, meta, dm)
    assert list(out["AE"]["EPOCH"]) == ["PRE-SCREENING", "TREATMENT", ""]
    assert list(out["LB"]["EPOCH"]) == ["PRE-SCREENING", "", ""]
    assert list(ae["EPOCH"]) == ["", "TREATMENT", ""]  # the input frame is not changed
