"""MH (Medical History, SDTMIG 3.4 Events class): one record per condition a subject had before the study.

Coding: a row that carries its own MedDRA coding (decod, pt_code, bodsys, soc_code) keeps it as the coder gave
it; otherwise its term is looked up in mappings/mh_dictionary.yaml. MHDECOD is Permissible in MH, so a term in
neither place is converted uncoded (validate reports it: MSC-SDTM-141) rather than rejected.
End of the condition relative to the history taking (SDTMIG 3.4 section 4.4.7, --ENRTPT/--ENTPT): `ongoing`
Y -> MHENRTPT ONGOING, N -> BEFORE, U -> UNKNOWN, each with MHENTPT the study's first visit (where the history
is taken); an end date without `ongoing` -> BEFORE.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from msc_interop import mappings
from msc_interop.records.reader import RawRecords
from msc_interop.sdtm.common import (
    assign_seq,
    codelist_lookup,
    map_terms,
    normalize_dates,
    note_ending_before_start,
    subject_keys,
)
from msc_interop.study import StudyMeta

FORM = "medical_history"
ENRTPT = {"Y": "ONGOING", "N": "BEFORE", "U": "UNKNOWN"}


def mh_dictionary() -> dict[str, dict[str, Any]]:
    """Upper-cased verbatim alias or PT -> the mh_dictionary.yaml entry."""
    out: dict[str, dict[str, Any]] = {}
    for e in mappings.load("mh_dictionary")["terms"]:
        for alias in (e["pt"], *e["verbatim_aliases"]):
            out.setdefault(alias.strip().upper(), e)
    return out


def _code(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values.replace("", np.nan), errors="coerce")


def build_mh(records: RawRecords, meta: StudyMeta, dm: pd.DataFrame) -> pd.DataFrame:
    """The MH domain from the medical_history form; invalid dates and ongoing values are rejected."""
    if FORM not in records.forms:
        return pd.DataFrame()
    keys = subject_keys(records, FORM, dm)
    yn = codelist_lookup("NY")
    ongoing = map_terms(records, FORM, "ongoing", yn, "Y, N or U (unknown)")
    start = normalize_dates(records, FORM, "start_date") if "start_date" in records.forms[FORM] else None
    end = normalize_dates(records, FORM, "end_date") if "end_date" in records.forms[FORM] else None
    note_ending_before_start(records, FORM, start, end, ("start_date", "end_date"))
    df = records.forms[FORM]
    idx = df.index

    def col(name: str) -> pd.Series:
        return df[name].fillna("").astype(object) if name in df.columns else pd.Series("", index=idx, dtype=object)

    entries = col("reported_term").str.strip().str.upper().map(mh_dictionary())
    looked = {k: entries.map(lambda e, k=k: e[k] if isinstance(e, dict) else "") for k in
              ("pt", "pt_code", "soc", "soc_code")}
    own = col("decod").ne("")  # the coder's own coding is used as a whole, never mixed with the dictionary's
    decod = col("decod").where(own, looked["pt"])
    ptcd = col("pt_code").where(own, looked["pt_code"])
    bodsys = col("bodsys").where(own, looked["soc"])
    soccd = col("soc_code").where(own, looked["soc_code"])
    end_dtc = end[idx] if end is not None else pd.Series("", index=idx, dtype=object)
    flag = ongoing[idx]
    enrtpt = flag.map(ENRTPT).fillna("").astype(object)
    enrtpt = enrtpt.mask(enrtpt.eq("") & end_dtc.ne(""), "BEFORE")
    first_visit = str(meta.visits.sort_values("VISITNUM")["VISIT"].iloc[0]) if len(meta.visits) else ""
    ref = keys.loc[idx]
    mh = pd.DataFrame({
        "STUDYID": ref["STUDYID"], "DOMAIN": "MH", "USUBJID": ref["USUBJID"],
        "MHTERM": col("reported_term"), "MHDECOD": decod, "MHPTCD": _code(ptcd),
        "MHCAT": col("category").str.upper(), "MHBODSYS": bodsys, "MHBDSYCD": _code(soccd),
        "MHSTDTC": start[idx] if start is not None else "", "MHENDTC": end_dtc,
        "MHENRTPT": enrtpt, "MHENTPT": np.where(enrtpt.ne(""), first_visit, ""),
    }, index=idx)
    mh["MHENTPT"] = mh["MHENTPT"].astype(object)
    return assign_seq(mh, "MHSEQ", mappings.seq_order("MH"))
