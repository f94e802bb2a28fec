"""PR + RE (the chest X-ray of the findings form) and MH (medical_history.csv): builders, terms, rejects.

Expected values were read by hand from fixtures/example_study (findings.csv, medical_history.csv, subjects.csv)."""

from __future__ import annotations

import pandas as pd

from msc_interop import mappings
from msc_interop.records import read_records
from msc_interop.sdtm.build import build_study


def _build(path):
    return build_study(read_records(path))


def test_terms_files_use_ct_values():
    proc = mappings.load("procedures")["procedures"][0]
    assert mappings.codelist("PROCEDUR").term(proc["prdecod"]).nci_code == proc["prdecod_nci"] == "C38101"
    assert mappings.codelist("RETESTCD").term(proc["finding"]["testcd"]).nci_code == "C41255"
    assert mappings.codelist("RETEST").term(proc["finding"]["test"]) is not None
    assert mappings.codelist("NORMABNM").values >= {"NORMAL", "ABNORMAL"}


def test_example_chest_xray_becomes_pr_and_re(example_dir):
    study, _ = _build(example_dir)
    pr, re_, rel = study["PR"], study["RE"], study["RELREC"]
    # 9 subjects x 5 visits (Baseline, Years 1, 2, 4, 6); ECG rows are not taken
    assert len(pr) == len(re_) == 45
    assert set(pr["PRTRT"]) == {"CHEST X-RAY"} and set(pr["PRDECOD"]) == {"X-RAY"} and set(pr["PRLOC"]) == {"CHEST"}
    assert set(re_["RETESTCD"]) == {"INTP"} and set(re_["RESTRESC"]) == {"NORMAL"}
    # subject 01's baseline chest X-ray: 2009-09-30, first infusion 2009-10-04 -> day -4, last before exposure
    first = re_[(re_.USUBJID == "MSC-SLE-2009-01-01") & (re_.VISITNUM == 1)].iloc[0]
    assert (first.REDTC, first.REDY, first.RELOBXFL, first.EPOCH) == ("2009-09-30", -4, "Y", "SCREENING")
    assert re_["RELOBXFL"].eq("Y").sum() == 9  # one baseline per subject
    # linked one to one
    assert sorted(pr["USUBJID"] + pr["PRLNKID"]) == sorted(re_["USUBJID"] + re_["RELNKID"])
    assert rel[["RDOMAIN", "IDVAR", "RELTYPE"]].values.tolist() == [["PR", "PRLNKID", "ONE"], ["RE", "RELNKID", "ONE"]]


def test_bad_chest_xray_row_and_bad_ecg_row_each_rejected_once(records_copy):
    def edit(df: pd.DataFrame) -> pd.DataFrame:
        df.loc[(df.subject_id == "02") & (df.exam == "CHEST X-RAY") & (df.visit == "Year 2"), "visit"] = "Year 3"
        df.loc[(df.subject_id == "02") & (df.exam == "ECG") & (df.visit == "Year 4"), "visit"] = "Year 5"
        return df

    study, report = _build(records_copy(findings=edit))
    rej = [r for r in report.rejects if r.form == "findings"]
    # the chest X-ray row by the PR/RE builder, the ECG row by the EG builder: one reject each
    assert sorted((r.field, r.value) for r in rej) == [("visit", "Year 3"), ("visit", "Year 5")]
    assert all("not a visit of the study schedule" in r.reason for r in rej)
    assert len(study["PR"]) == len(study["RE"]) == 44
    assert int(study["EG"]["EGTESTCD"].eq("INTP").sum()) == 44  # 45 ECG readings less the rejected one
    assert study.carried == {} and not report.carried  # findings.csv is mapped: nothing "carried"


def test_abnormal_reading_keeps_its_text(records_copy):
    def edit(df: pd.DataFrame) -> pd.DataFrame:
        m = (df.subject_id == "03") & (df.exam == "CHEST X-RAY") & (df.visit == "Year 4")
        df.loc[m, ["result", "finding"]] = ["ABNORMAL", "Small left pleural effusion"]
        return df

    study, _ = _build(records_copy(findings=edit))
    row = study["RE"][study["RE"].RESTRESC.eq("ABNORMAL")]
    assert row[["USUBJID", "REORRES", "VISIT"]].values.tolist() == [
        ["MSC-SLE-2009-01-03", "Small left pleural effusion", "YEAR 4"]]


def test_example_medical_history(example_dir):
    study, _ = _build(example_dir)
    mh = study["MH"]
    assert len(mh) == 15
    sle = mh[mh.MHDECOD.eq("Systemic lupus erythematosus")]
    assert len(sle) == 9 and set(sle.MHPTCD) == {10042945} and set(sle.MHBDSYCD) == {10028395}
    assert set(sle.MHCAT) == {"PRIMARY DIAGNOSIS"} and set(sle.MHENRTPT) == {"ONGOING"}
    # subject 06: hypertension 2003 to 2007-06, resolved before the study
    htn = mh[(mh.USUBJID == "MSC-SLE-2009-01-06") & mh.MHTERM.eq("Hypertension")].iloc[0]
    assert (htn.MHSTDTC, htn.MHENDTC, htn.MHENRTPT, htn.MHENTPT) == ("2003", "2007-06", "BEFORE", "BASELINE")
    # subject 08 wrote "SLE nephritis": coded through its alias; lupus nephritis has no verified codes
    ln = mh[mh.MHTERM.eq("SLE nephritis")].iloc[0]
    assert ln.MHDECOD == "Lupus nephritis" and pd.isna(ln.MHPTCD) and ln.MHBODSYS == ""


def test_medical_history_coder_terms_uncoded_terms_and_bad_values(records_copy):
    def edit(df: pd.DataFrame) -> pd.DataFrame:
        extra = pd.DataFrame([
            ["01", "Raynaud phenomenon", "2006", "", "Y", "", "Raynaud's phenomenon", "10037912", "Vascular disorders",
             "10047065"],
            ["02", "Appendicectomy scar", "1990", "", "", "", "", "", "", ""],
            ["03", "Migraine", "2004-13", "", "Y", "", "", "", "", ""],
            ["04", "Asthma", "2000", "", "maybe", "", "", "", "", ""],
        ], columns=[*df.columns, "decod", "pt_code", "bodsys", "soc_code"])
        return pd.concat([df.assign(decod="", pt_code="", bodsys="", soc_code=""), extra], ignore_index=True)

    study, report = _build(records_copy(medical_history=edit))
    mh = study["MH"]
    coder = mh[mh.MHTERM.eq("Raynaud phenomenon")].iloc[0]
    assert (coder.MHDECOD, coder.MHPTCD, coder.MHBODSYS) == ("Raynaud's phenomenon", 10037912, "Vascular disorders")
    uncoded = mh[mh.MHTERM.eq("Appendicectomy scar")].iloc[0]
    assert uncoded.MHDECOD == "" and uncoded.MHENRTPT == ""
    rej = sorted((r.field, r.value) for r in report.rejects if r.form == "medical_history")
    assert rej == [("ongoing", "maybe"), ("start_date", "2004-13")]
    counts = report.counts["medical_history"]
    assert (counts.read, counts.converted, counts.rejected) == (19, 17, 2)
