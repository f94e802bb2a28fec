"""EG (ECG Test Results, SDTMIG 3.4 section 6.3.4): the intervals of ecg.csv and the ECG rows of findings.csv.

ecg.csv: one record per test per ECG (HR, PR, QRS, QT, QTcF, QTcB; mappings/ecg.yaml names the CDISC
EGTESTCD and the aliases a site writes); the unit is read through the CDISC UNIT synonyms (msec -> ms, bpm ->
beats/min) and must be the test's standard unit (no conversion: ECG machines report ms and beats/min).
findings.csv rows whose exam is an ECG (ecg.yaml `exams`): an INTP record (EGORRES as written, EGSTRESC
NORMAL / ABNORMAL from NORMABNM) and, when the finding names a term of ecg.yaml `findings` (the text before
its first comma), a second record with that term (e.g. SNRARRY = SINUS TACHYCARDIA). Other exams are left in
the form for their own builder. EGLOBXFL marks the last record on or before the first dose per subject and test
(SDTMIG 3.4; EGBLFL until 3.3).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_interop import dates, mappings
from msc_interop.columns_frame import frame_of_columns
from msc_interop.records.reader import RawRecords
from msc_interop.sdtm import ecg_terms
from msc_interop.sdtm.common import last_before_first_dose, map_terms, map_visits, normalize_dates, subject_keys

FORM, FINDINGS = "ecg", "findings"


def build_eg(records: RawRecords, meta, dm: pd.DataFrame) -> pd.DataFrame:
    """EG from ecg.csv and the ECG rows of findings.csv; an empty frame when neither has an ECG."""
    parts = [p for p in (_intervals(records, meta, dm), _interpretations(records, meta, dm)) if len(p)]
    if not parts:
        return pd.DataFrame()
    eg = pd.concat(parts, ignore_index=True)
    eg["EGLOBXFL"] = last_before_exposure(eg)
    eg = eg.drop(columns="_first_dose")
    eg = eg.sort_values(["USUBJID", *mappings.seq_order("EG")], kind="stable").reset_index(drop=True)
    eg["EGSEQ"] = eg.groupby("USUBJID", sort=False).cumcount() + 1
    order = [v.name for v in mappings.sdtm_domain("EG").variables]
    return eg[[c for c in order if c in eg.columns]]


def _timing(records: RawRecords, form: str, meta, dm: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Subject keys + visits + EGDTC of a form's remaining rows (rows that fail are rejected)."""
    keys = subject_keys(records, form, dm)
    visits = map_visits(records, form, meta, date="date")
    dtc = normalize_dates(records, form, "date")
    idx = records.forms[form].index
    ref = keys.loc[idx]
    out = frame_of_columns({
        "STUDYID": ref["STUDYID"], "DOMAIN": "EG", "USUBJID": ref["USUBJID"],
        "VISITNUM": visits.loc[idx, "VISITNUM"], "VISIT": visits.loc[idx, "VISIT"],
        "EPOCH": visits.loc[idx, "EPOCH"], "EGDTC": dtc[idx],
        "EGDY": dates.study_day(dtc[idx], ref["RFSTDTC"]), "_first_dose": ref["RFXSTDTC"],
    }, idx)
    return out, idx


def _intervals(records: RawRecords, meta, dm: pd.DataFrame) -> pd.DataFrame:
    if FORM not in records.forms:
        return pd.DataFrame()
    df = records.forms[FORM]
    if "time" in df.columns:  # a clock time of its own column joins a date written without one
        join = df["time"].ne("") & df["date"].str.len().eq(10)
        date = df["date"].copy()  # a new column, not the old one changed in place (distinct.shared_columns)
        date[join] = df.loc[join, "date"] + "T" + df.loc[join, "time"]
        df["date"] = date
    testcd = map_terms(records, FORM, "test", ecg_terms.test_alias_map(), "an ECG test of mappings/ecg.yaml",
                       required=True, hint=" (use the CDISC EGTESTCD, e.g. QTCFAG, or an alias: HR, PR, QRS, QT, "
                                           "QTcF, QTcB)")
    tests = ecg_terms.test_table()
    df = records.forms[FORM]
    unit = _cdisc_unit(df["unit"] if "unit" in df.columns else pd.Series("", index=df.index, dtype=object))
    want = testcd[df.index].map(tests["unit"])
    wrong = unit.ne(want)
    if wrong.any():
        shown = df["unit"] if "unit" in df.columns else pd.Series("", index=df.index, dtype=object)
        why = ("unit '" + shown + "' is not the unit of " + testcd[df.index] + " (" + want + "; ECG intervals are "
               "reported in ms, the heart rate in beats/min)")
        records.reject_rows(FORM, wrong, "unit", why.where(shown.ne(""), "unit is empty; " + testcd[df.index]
                            + " is reported in " + want), code="REJ-REC-010")
    timing, idx = _timing(records, FORM, meta, dm)
    df = records.forms[FORM]
    tcd = testcd[idx]
    num = pd.to_numeric(df["result"])
    decimals = tcd.map(tests["decimals"]).astype("int64")
    std = num.copy()
    for d in pd.unique(decimals):
        m = decimals.eq(d)
        std[m] = num[m].round(int(d))
    return timing.assign(
        EGTESTCD=tcd, EGTEST=tcd.map(tests["EGTEST"]), EGORRES=df["result"], EGORRESU=unit[idx],
        EGSTRESC=format_number(std), EGSTRESN=std.astype("float64"), EGSTRESU=tcd.map(tests["unit"]))


def _cdisc_unit(text: pd.Series) -> pd.Series:
    """The CDISC UNIT submission value of each spelling (its CT synonyms: msec -> ms, bpm -> beats/min)."""
    lookup = mappings.codelist("UNIT").synonym_map
    return text.fillna("").str.strip().str.upper().map(lookup).fillna("").astype(object)


def format_number(values: pd.Series) -> pd.Series:
    """EGSTRESC of a numeric result: the shortest text of the number (412.0 -> "412"); "" for NaN."""
    text = pd.Series(values.to_numpy(dtype="float64").astype(str), index=values.index, dtype=object)
    return text.str.replace(r"\.0$", "", regex=True).where(values.notna(), "").astype(object)


def _interpretations(records: RawRecords, meta, dm: pd.DataFrame) -> pd.DataFrame:
    if FINDINGS not in records.forms:
        return pd.DataFrame()
    full = records.forms[FINDINGS]
    ecg = full["exam"].str.strip().str.upper().isin(ecg_terms.exams())
    if not ecg.any():
        return pd.DataFrame()
    # only the ECG rows are checked and mapped here (other exams belong to their own builder): they are the
    # form while this runs; the rows that remain go back beside the others, in their order
    records.forms[FINDINGS] = full[ecg]
    try:
        return _ecg_findings(records, meta, dm)
    finally:
        kept = records.forms[FINDINGS]
        records.forms[FINDINGS] = pd.concat([full[~ecg], kept]).sort_index(kind="stable")


def _ecg_findings(records: RawRecords, meta, dm: pd.DataFrame) -> pd.DataFrame:
    df = records.forms[FINDINGS]
    text = df["finding"].fillna("") if "finding" in df.columns else pd.Series("", index=df.index, dtype=object)
    head = text.str.split(",", n=1).str[0].str.strip().str.upper()
    found = head.map(ecg_terms.finding_map())
    unknown = head.ne("") & found.isna()
    if unknown.any():
        known = ", ".join(sorted({r for _, r in ecg_terms.finding_map().values()}))
        records.reject_rows(FINDINGS, unknown, "finding", "ECG finding '" + text + "' is not a term of "
                            f"mappings/ecg.yaml (known: {known}; the text before the first comma is looked up; "
                            "add the CDISC ECG Result term there)", code="REJ-REC-006")
    timing, idx = _timing(records, FINDINGS, meta, dm)
    df = records.forms[FINDINGS]
    intp = ecg_terms.interpretation()
    rows = timing.assign(EGTESTCD=intp["testcd"], EGTEST=intp["test"], EGORRES=df.loc[idx, "result"],
                         EGORRESU="", EGSTRESC=df.loc[idx, "result"].str.strip().str.upper(), EGSTRESN=np.nan,
                         EGSTRESU="")
    hit = found.reindex(idx).notna()
    pairs = found.reindex(idx)[hit]
    extra = timing[hit].assign(
        EGTESTCD=[p[0] for p in pairs], EGTEST=[ecg_terms.test_names()[p[0]] for p in pairs],
        EGORRES=text[idx][hit], EGORRESU="", EGSTRESC=[p[1] for p in pairs], EGSTRESN=np.nan, EGSTRESU="")
    return pd.concat([rows, extra]) if len(extra) else rows


def last_before_exposure(eg: pd.DataFrame) -> pd.Series:
    """EGLOBXFL: the last result on or before the first dose, per subject and test (common.last_before_first_dose)."""
    return last_before_first_dose(eg, eg["_first_dose"], dtc="EGDTC", result="EGSTRESC",
                                  by=["USUBJID", "EGTESTCD"])
