"""PR (Procedures) + RE (Respiratory System Findings) + RELREC from the imaging rows of the `findings` form.

A row of findings.csv whose exam is one of mappings/procedures.yaml's (the chest X-ray) is one procedure (a PR
record) and its reading (one RE record, RETESTCD INTP: SDTMIG 3.3 moved imaging findings from MO to the
body-system domains; docs/sdtm-pr-re-mh.md). PRLNKID = RELNKID links the two and RELREC says so at dataset
level (SDTMIG 3.4 section 8.2). Other exams (the ECG) are left in the form for their own builder: the steps run
on this builder's rows only. RESTRESC is the collected NORMAL / ABNORMAL; REORRES is the finding text when the
reader wrote one (e.g. "Small left pleural effusion"), else the same NORMAL / ABNORMAL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from msc_interop import dates, mappings
from msc_interop.records.reader import RawRecords
from msc_interop.sdtm.common import assign_seq, last_before_first_dose, map_visits, normalize_dates, subject_keys
from msc_interop.study import StudyMeta

FORM = "findings"
RELID = "PRRE"


def procedures() -> dict[str, dict[str, Any]]:
    """Upper-cased exam alias -> its mappings/procedures.yaml entry."""
    out: dict[str, dict[str, Any]] = {}
    for p in mappings.load("procedures")["procedures"]:
        for alias in (p["prtrt"], *p["exam_aliases"]):
            out.setdefault(alias.strip().upper(), p)
    return out


def procedure_by_prtrt() -> dict[str, dict[str, Any]]:
    """PRTRT -> its procedures.yaml entry (FHIR writer and reader)."""
    return {p["prtrt"]: p for p in mappings.load("procedures")["procedures"]}


def _on_own_rows(records: RawRecords, mine: pd.Series, step: Callable[[], Any]) -> Any:
    """Run a common step (it reads records.forms[FORM]) on this builder's rows only; others are kept aside."""
    df = records.forms[FORM]
    others = df[~mine.reindex(df.index, fill_value=False)]
    records.forms[FORM] = df[mine.reindex(df.index, fill_value=False)]
    try:
        return step()
    finally:
        records.forms[FORM] = pd.concat([records.forms[FORM], others]).sort_index()


def build_pr_re(records: RawRecords, meta: StudyMeta, dm: pd.DataFrame
                ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(PR, RE, RELREC) from the findings rows whose exam procedures.yaml lists; empty frames when none."""
    empty = (pd.DataFrame(), pd.DataFrame(), pd.DataFrame())
    if FORM not in records.forms:
        return empty
    terms = procedures()

    def mine() -> pd.Series:
        df = records.forms[FORM]
        return df["exam"].fillna("").str.strip().str.upper().isin(terms)

    if not mine().any():
        return empty
    keys = _on_own_rows(records, mine(), lambda: subject_keys(records, FORM, dm))
    visits = _on_own_rows(records, mine(), lambda: map_visits(records, FORM, meta, date="date"))
    has_date = "date" in records.forms[FORM].columns
    dtc = _on_own_rows(records, mine(), lambda: normalize_dates(records, FORM, "date")) if has_date else None
    df = records.forms[FORM][mine()]
    idx = df.index
    proc = df["exam"].str.strip().str.upper().map(terms)
    field = {k: proc.map(lambda p, k=k: p[k]).astype(object) for k in ("prtrt", "prdecod", "loc", "method",
                                                                         "lnkid_prefix")}
    test = {k: proc.map(lambda p, k=k: p["finding"][k]).astype(object) for k in ("testcd", "test")}
    ref = keys.loc[idx]
    when = dtc[idx] if dtc is not None else pd.Series("", index=idx, dtype=object)
    visitnum = visits.loc[idx, "VISITNUM"]
    lnkid = field["lnkid_prefix"] + "-" + visitnum.map(lambda v: f"{v:g}")
    common = {"STUDYID": ref["STUDYID"], "USUBJID": ref["USUBJID"]}
    timing = {"VISITNUM": visitnum, "VISIT": visits.loc[idx, "VISIT"], "EPOCH": visits.loc[idx, "EPOCH"]}
    pr = pd.DataFrame({**common, "DOMAIN": "PR", "PRLNKID": lnkid, "PRTRT": field["prtrt"],
                       "PRDECOD": field["prdecod"], "PRLOC": field["loc"], **timing, "PRSTDTC": when,
                       "PRSTDY": dates.study_day(when, ref["RFSTDTC"])}, index=idx)
    result = df["result"].fillna("").str.strip().str.upper()
    finding = df["finding"].fillna("").str.strip() if "finding" in df.columns else pd.Series("", index=idx)
    re_ = pd.DataFrame({**common, "DOMAIN": "RE", "RELNKID": lnkid, "RETESTCD": test["testcd"],
                        "RETEST": test["test"], "REORRES": finding.where(finding.ne(""), result).astype(object),
                        "RESTRESC": result.astype(object), "RELOC": field["loc"], "REMETHOD": field["method"],
                        "_first_dose": ref["RFXSTDTC"], **timing, "REDTC": when,
                        "REDY": dates.study_day(when, ref["RFSTDTC"])}, index=idx)
    re_.insert(list(re_.columns).index("VISITNUM"), "RELOBXFL", last_before_exposure(re_))
    re_ = re_.drop(columns="_first_dose")
    pr = pr[["STUDYID", "DOMAIN", *[c for c in pr.columns if c not in ("STUDYID", "DOMAIN")]]]
    re_ = re_[["STUDYID", "DOMAIN", *[c for c in re_.columns if c not in ("STUDYID", "DOMAIN")]]]
    pr = assign_seq(pr, "PRSEQ", mappings.seq_order("PR"))
    re_ = assign_seq(re_, "RESEQ", mappings.seq_order("RE"))
    return pr, re_, relrec(str(ref["STUDYID"].iloc[0]))


def relrec(studyid: str) -> pd.DataFrame:
    """The dataset-level relationship PR.PRLNKID = RE.RELNKID (one procedure, one reading)."""
    return pd.DataFrame({"STUDYID": [studyid, studyid], "RDOMAIN": ["PR", "RE"], "USUBJID": ["", ""],
                         "IDVAR": ["PRLNKID", "RELNKID"], "IDVARVAL": ["", ""], "RELTYPE": ["ONE", "ONE"],
                         "RELID": [RELID, RELID]})


def last_before_exposure(re_: pd.DataFrame) -> pd.Series:
    """RELOBXFL: the last result on or before the first dose, per subject and test (common.last_before_first_dose)."""
    return last_before_first_dose(re_, re_["_first_dose"], dtc="REDTC", result="RESTRESC",
                                  by=["USUBJID", "RETESTCD"])
