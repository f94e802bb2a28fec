"""DM (Demographics, SDTMIG 3.4 section 5.2): one record per subject."""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_interop import dates
from msc_interop.distinct import column_codes
from msc_interop.records.reader import RawRecords
from msc_interop.sdtm.common import codelist_lookup, map_terms, normalize_dates
from msc_interop.study import StudyMeta

FORM = "subjects"
SCREEN_FAILURE = "SCREEN FAILURE"  # ARMNRS of a screen failure (SDTMIG 3.3+: ARMCD, ARM, ACTARMCD, ACTARM null)


def build_dm_base(records: RawRecords, meta: StudyMeta) -> pd.DataFrame:
    """DM without the reference dates (those come from EX). Rejects subjects with unmappable values."""
    sites = {s["siteid"]: s for s in meta.sites}
    arms = {a["armcd"].upper(): a["armcd"] for a in meta.arms}
    arm_names = {a["armcd"]: a["arm"] for a in meta.arms}
    site_lookup = {k.upper(): k for k in sites}

    siteid = map_terms(records, FORM, "site_id", site_lookup, "a site of study.yaml", required=True)
    sex = map_terms(records, FORM, "sex", codelist_lookup("SEX"), "a CDISC SEX term (M, F, U, INTERSEX)",
                    required=True)
    race = map_terms(records, FORM, "race", codelist_lookup("RACE"), "a CDISC RACE term")
    ethnic = map_terms(records, FORM, "ethnicity", codelist_lookup("ETHNIC"), "a CDISC ETHNIC term")
    failed = screen_failure_spellings()
    armcd = map_terms(records, FORM, "arm_code", arms | dict.fromkeys(failed, ""),
                      "an arm code of study.yaml or SCREEN FAILURE", required=True)
    df = records.forms[FORM]
    actual = df["actual_arm_code"] if "actual_arm_code" in df.columns else pd.Series("", index=df.index)
    records.forms[FORM] = df.assign(actual_arm_code=actual.where(actual.ne(""), df["arm_code"]))
    actarmcd = map_terms(records, FORM, "actual_arm_code", arms | dict.fromkeys(failed, ""),
                         "an arm code of study.yaml")
    brthdtc = _dates(records, "birth_date")
    rficdtc = _dates(records, "consent_date")
    rfpendtc = _dates(records, "end_of_participation_date")
    dthdtc = _dates(records, "death_date")

    df = records.forms[FORM]
    idx = df.index
    usubjid = usubjid_of(meta.studyid, siteid[idx], df["subject_id"])
    age_given = pd.to_numeric(df["age"], errors="coerce") if "age" in df.columns else pd.Series(np.nan, index=idx)
    screen_failure = df["arm_code"].str.strip().str.upper().isin(failed)
    return pd.DataFrame({
        "STUDYID": meta.studyid,
        "DOMAIN": "DM",
        "USUBJID": usubjid,
        "SUBJID": df["subject_id"],
        "RFICDTC": rficdtc[idx],
        "RFPENDTC": rfpendtc[idx],
        "DTHDTC": dthdtc[idx],
        "DTHFL": np.where(dthdtc[idx].ne(""), "Y", ""),
        "SITEID": siteid[idx],
        "BRTHDTC": brthdtc[idx],
        "_age_given": age_given,
        "_screen_failure": screen_failure,
        "SEX": sex[idx],
        "RACE": race[idx],
        "ETHNIC": ethnic[idx],
        "ARMCD": armcd[idx],
        "ARM": armcd[idx].map(arm_names).fillna(""),
        "ACTARMCD": actarmcd[idx],
        "ACTARM": actarmcd[idx].map(arm_names).fillna(""),
        "COUNTRY": siteid[idx].map({k: s["country"] for k, s in sites.items()}),
    }, index=idx).reset_index(drop=True)


def screen_failure_spellings() -> set[str]:
    """The arm_code values that say the subject failed screening (never assigned nor treated): the upper-cased
    spellings of CDISC CT Arm Null Reason (ARMNULRS, C142179) SCREEN FAILURE (C49628)."""
    return {k for k, v in codelist_lookup("ARMNULRS").items() if v == SCREEN_FAILURE}


def usubjid_of(studyid: str, siteid: pd.Series, subject_id: pd.Series) -> pd.Series:
    """USUBJID: STUDYID-SITEID-SUBJID (SDTMIG: unique across all of the sponsor's studies); sdtm/load_in_two.py
    ranks the subjects by it before they are read."""
    return studyid + "-" + siteid + "-" + subject_id


def _per_subject(subject: pd.Series, dtc: pd.Series, latest: bool) -> pd.Series:
    """Per subject (not null), its earliest (or `latest`) date as text (ISO 8601 sorts so), nulls skipped; a
    subject with none gets NaN: the rows sorted by subject and date and grouped, first (last) taken, as this was
    (half of 1M lab rows' 20k EX rows: ~20 ms), from the ranks of the distinct dates instead (a few ms)."""
    subject_codes, subjects = pd.factorize(subject)  # (null: -1, no subject)
    codes, uniques = column_codes(dtc)
    rank_u, ordered = pd.factorize(pd.Series(uniques, dtype=object), sort=True)  # (null: -1, skipped)
    rank = rank_u[codes]
    ok = (rank >= 0) & (subject_codes >= 0)
    best = np.full(len(subjects), -1 if latest else len(ordered), dtype=np.int64)
    (np.maximum if latest else np.minimum).at(best, subject_codes[ok], rank[ok])
    found = (best >= 0) & (best < len(ordered))
    values = np.full(len(subjects), np.nan, dtype=object)
    values[found] = np.asarray(ordered, dtype=object)[best[found]]
    return pd.Series(values, index=pd.Index(subjects, name=subject.name), dtype=object)


def _dates(records: RawRecords, column: str) -> pd.Series:
    df = records.forms[FORM]
    if column not in df.columns:
        return pd.Series("", index=df.index, dtype=object)
    return normalize_dates(records, FORM, column)


def complete_dm(dm: pd.DataFrame, ex: pd.DataFrame) -> pd.DataFrame:
    """Add reference dates from EX and derive AGE; the rows sorted by USUBJID.

    RFXSTDTC/RFXENDTC: first EXSTDTC and last EXENDTC (else EXSTDTC). RFSTDTC = RFXSTDTC (the reference start
    is the first infusion, so protocol day 0 is study day 1). RFENDTC = RFXENDTC (end of treatment; the
    follow-up end is RFPENDTC). Subjects never dosed keep empty reference dates and ARMNRS
    "ASSIGNED, NOT TREATED" with empty ACTARMCD/ACTARM (SDTMIG 3.4 5.2); a screen failure (arm_code SCREEN
    FAILURE) ARMNRS "SCREEN FAILURE" with ARMCD, ARM, ACTARMCD and ACTARM empty (SDTMIG 3.4 DM assumption 4).
    AGE is at RFSTDTC, or at RFICDTC (informed consent) for a subject never dosed.
    """
    dm = dm.copy()
    if len(ex):
        end_dtc = ex["EXENDTC"].where(ex["EXENDTC"].ne(""), ex["EXSTDTC"])
        first, last = _per_subject(ex["USUBJID"], ex["EXSTDTC"], latest=False), \
            _per_subject(ex["USUBJID"], end_dtc, latest=True)
    else:
        first = last = pd.Series(dtype=object)
    dm["RFXSTDTC"] = dm["USUBJID"].map(first).astype(object).fillna("")
    dm["RFXENDTC"] = dm["USUBJID"].map(last).astype(object).fillna("")
    dm["RFSTDTC"] = dm["RFXSTDTC"]
    dm["RFENDTC"] = dm["RFXENDTC"]
    treated = dm["RFXSTDTC"].ne("")
    failed = dm.pop("_screen_failure").astype(bool)
    dm["ARMNRS"] = np.where(failed, SCREEN_FAILURE, np.where(treated, "", "ASSIGNED, NOT TREATED"))
    dm.loc[~treated | failed, ["ACTARMCD", "ACTARM"]] = ""
    dm.loc[failed, ["ARMCD", "ARM"]] = ""
    dm["ACTARMUD"] = ""
    # AGE in completed years at RFSTDTC (at RFICDTC, informed consent, for a subject never dosed: SDTMIG 3.4 DM
    # AGE may be at another reference, said in define.xml) from a complete birth date; else the collected age
    birth = dates.date_part(dm["BRTHDTC"])
    ref = dates.date_part(dm["RFSTDTC"].where(treated, dm["RFICDTC"]))
    years = ref.dt.year - birth.dt.year - (
        (ref.dt.month < birth.dt.month) | ((ref.dt.month == birth.dt.month) & (ref.dt.day < birth.dt.day))
    ).astype("Int64")
    age = years.astype("Float64").where(years.notna(), dm.pop("_age_given"))
    dm["AGE"] = age.astype("Float64").round().astype("Int64")
    dm["AGEU"] = np.where(dm["AGE"].notna(), "YEARS", "")
    # in the order of DM's key (STUDYID, USUBJID), as every other dataset is sorted by USUBJID first: not the order
    # of subjects.csv, which a partitioned run (sdtm/partitioned.py) cannot keep when it is not USUBJID's
    return dm.sort_values("USUBJID", kind="stable", ignore_index=True)
