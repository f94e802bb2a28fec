"""AE (Adverse Events, SDTMIG 3.4 section 6.2.1): one record per reported event.

MedDRA is licensed, so msc-interop ships no dictionary. A row that carries its coder's MedDRA coding (an EDC's
coding module exports it: `decod`, the PT, with any of llt/llt_code, pt_code (or meddra_pt_code), hlt/hlt_code,
hlgt/hlgt_code, bodsys/soc_code, the primary SOC) keeps it as given, as a whole, as MH does. Otherwise a row is
coded from its `meddra_pt_code` (a code that is not in the study dictionary rejects the row: the coder's choice is
not replaced by a guess), else from the verbatim term through mappings/ae_dictionary.yaml. An event that cannot
be coded is rejected (AEDECOD is required) with a reason that says how to code it; so is a row that gives part of
a coding without its PT (which term the rest belongs to is not for the converter to guess).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_interop import dates, mappings
from msc_interop.records.reader import RawRecords
from msc_interop.sdtm.common import (
    assign_seq,
    codelist_lookup,
    epoch_by_date,
    map_terms,
    normalize_dates,
    note_ending_before_start,
    subject_keys,
    unknown_reason,
)

FORM = "adverse_events"
_HIERARCHY = [("AELLT", "llt"), ("AELLTCD", "llt_code"), ("AEDECOD", "pt"), ("AEPTCD", "pt_code"),
              ("AEHLT", "hlt"), ("AEHLTCD", "hlt_code"), ("AEHLGT", "hlgt"), ("AEHLGTCD", "hlgt_code"),
              ("AEBODSYS", "soc"), ("AEBDSYCD", "soc_code"), ("AESOC", "soc"), ("AESOCCD", "soc_code")]


# the coder's own MedDRA coding in the form (field -> the dictionary entry's key); `decod` (the PT) makes a row
# carry its own coding; pt_code falls back to meddra_pt_code
_OWN_CODING = {"llt": "llt", "llt_code": "llt_code", "decod": "pt", "pt_code": "pt_code", "hlt": "hlt",
               "hlt_code": "hlt_code", "hlgt": "hlgt", "hlgt_code": "hlgt_code", "bodsys": "soc",
               "soc_code": "soc_code"}


def build_ae(records: RawRecords, dm: pd.DataFrame) -> pd.DataFrame:
    """The AE domain from the adverse-event form; rows that cannot be coded or mapped are rejected."""
    if FORM not in records.forms:
        return pd.DataFrame()
    keys = subject_keys(records, FORM, dm)
    dictionary = mappings.ae_dictionary()
    by_code = {e["pt_code"]: e["pt"].upper() for e in dictionary.values() if e["pt_code"]}
    _reject_partial_coding(records)
    df = records.forms[FORM]
    own = _own_coding(df)
    if "meddra_pt_code" in df.columns:  # a code the coder gave is used or refused, never silently replaced
        unknown = ~own & df["meddra_pt_code"].ne("") & ~df["meddra_pt_code"].isin(by_code)
        df = records.reject_rows(FORM, unknown, "meddra_pt_code", "meddra_pt_code is not the PT code of a term in "
                                 "the study MedDRA dictionary (mappings/ae_dictionary.yaml): correct the code or "
                                 "add the term with its hierarchy", code="REJ-REC-006")
    own = _own_coding(df)
    coded_key = df["reported_term"].str.upper()
    if "meddra_pt_code" in df.columns:
        coded_key = df["meddra_pt_code"].map(by_code).fillna(coded_key)
    uncoded = ~own & ~coded_key.isin(dictionary)
    if uncoded.any():  # named as the user wrote it: reported_term (the key looked up is internal)
        term_lookup = {k: k for k in dictionary}
        why = df["reported_term"].map(lambda v: unknown_reason(
            v, "reported_term", "a term of the study MedDRA dictionary", term_lookup,
            " (give meddra_pt_code or add the term to mappings/ae_dictionary.yaml)"))
        df = records.reject_rows(FORM, uncoded, "reported_term", why, code="REJ-REC-006")
    records.forms[FORM] = df.assign(_coding=coded_key[df.index])
    sev = map_terms(records, FORM, "severity", codelist_lookup("AESEV"), "a CDISC AESEV term (MILD, MODERATE, SEVERE)")
    ser = map_terms(records, FORM, "serious", codelist_lookup("NY"), "Y or N")
    # AEREL has no CDISC codelist (sponsor-defined): the accepted terms are mappings/adverse_events.yaml's
    relationship = dict(mappings.adverse_event_terms().relationship)
    rel = map_terms(records, FORM, "relationship", relationship, "a causality value (RELATED, NOT RELATED, ...)")
    acn = map_terms(records, FORM, "action_taken", codelist_lookup("ACN"), "a CDISC ACN term")
    out = map_terms(records, FORM, "outcome", codelist_lookup("OUT"), "a CDISC OUT term")
    start = normalize_dates(records, FORM, "start_datetime")
    end = normalize_dates(records, FORM, "end_datetime")
    note_ending_before_start(records, FORM, start, end, ("start_datetime", "end_datetime"))

    df = records.forms[FORM]
    idx = df.index
    ae = pd.DataFrame({
        "STUDYID": keys.loc[idx, "STUDYID"], "DOMAIN": "AE", "USUBJID": keys.loc[idx, "USUBJID"],
        "AESPID": df["ae_number"], "AETERM": df["reported_term"],
    }, index=idx)
    entries = df["_coding"].map(dictionary)
    own = _own_coding(df)
    given = _given_coding(df)
    for var, key in _HIERARCHY:
        values = entries.map(lambda e, k=key: e[k] if isinstance(e, dict) else "").where(~own, given[key])
        ae[var] = pd.to_numeric(values.replace("", np.nan)) if var.endswith("CD") else values
    ae["AESEV"], ae["AESER"], ae["AEACN"] = sev[idx], ser[idx], acn[idx]
    ae["AEREL"], ae["AEOUT"] = rel[idx], out[idx]
    ae["AESTDTC"], ae["AEENDTC"] = start[idx], end[idx]
    ref = keys.loc[idx]
    ae["EPOCH"] = epoch_by_date(ae["AESTDTC"], ref["RFXSTDTC"], ref["RFXENDTC"])
    ae["AESTDY"] = dates.study_day(ae["AESTDTC"], ref["RFSTDTC"])
    ae["AEENDY"] = dates.study_day(ae["AEENDTC"], ref["RFSTDTC"])
    return assign_seq(ae, "AESEQ", mappings.seq_order("AE"))


def _own_coding(df: pd.DataFrame) -> pd.Series:
    """Rows that carry their coder's MedDRA coding (a PT in `decod`)."""
    if "decod" not in df.columns:
        return pd.Series(False, index=df.index)
    return df["decod"].fillna("").astype(str).str.strip().ne("")


def _given_coding(df: pd.DataFrame) -> dict[str, pd.Series]:
    """The coder's coding by dictionary key (pt, pt_code, soc, ...): "" where a field is not given; the PT code
    from pt_code, else meddra_pt_code."""
    def col(name: str) -> pd.Series:
        if name not in df.columns:
            return pd.Series("", index=df.index, dtype=object)
        return df[name].fillna("").astype(str).str.strip().astype(object)

    out = {key: col(field) for field, key in _OWN_CODING.items()}
    out["pt_code"] = out["pt_code"].where(out["pt_code"].ne(""), col("meddra_pt_code"))
    return out


def _reject_partial_coding(records: RawRecords) -> None:
    """A row giving MedDRA coding fields (bodsys, hlt_code, ...) but no PT in `decod`: rejected, the fields named."""
    df = records.forms[FORM]
    fields = [f for f in _OWN_CODING if f != "decod" and f in df.columns]
    if not fields:
        return
    given = pd.DataFrame({f: df[f].fillna("").astype(str).str.strip().ne("") for f in fields}, index=df.index)
    partial = given.any(axis=1) & ~_own_coding(df)
    if partial.any():
        named = given[partial].apply(lambda row: ", ".join(f for f in fields if row[f]), axis=1)
        why = ("the row gives MedDRA coding (" + named + ") but no PT in decod: give the coder's PT (AEDECOD) with "
               "it, or leave the coding fields empty to code the term through meddra_pt_code or "
               "mappings/ae_dictionary.yaml")
        records.reject_rows(FORM, partial, "decod", why.reindex(df.index, fill_value=""), code="REJ-REC-006")
