"""CM (Concomitant/Prior Medications, SDTMIG 3.4 section 6.1.2): one record per medication interval.

WHO Drug is licensed, so the standardized name and class come from the study's own small dictionary
(mappings/medications.yaml: substance name, ATC code, ATC 4th-level class). A row's atc_code is the coder's
choice: one not in the dictionary rejects the row (never replaced by a guess); a medication the dictionary
does not know and that has no atc_code stays as reported (CMTRT) with CMDECOD empty (validate says so).
CMENRF places the end against the reference period RFSTDTC..RFENDTC (BEFORE, DURING, AFTER); an ongoing
medication has no end: CMENRTPT ONGOING against CMENTPT END OF STUDY.
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
)

FORM = "medications"
END_POINT = "END OF STUDY"


def build_cm(records: RawRecords, dm: pd.DataFrame) -> pd.DataFrame:
    """The CM domain from the medications form; rows with unknown terms or contradictions are rejected."""
    if FORM not in records.forms:
        return pd.DataFrame()
    keys = subject_keys(records, FORM, dm)
    dictionary = mappings.medication_dictionary()
    df = records.forms[FORM]
    if "atc_code" in df.columns:
        unknown = df["atc_code"].ne("") & ~df["atc_code"].isin(dictionary)
        df = records.reject_rows(FORM, unknown, "atc_code", "atc_code is not the ATC code of a substance of the "
                                 "study medication dictionary (mappings/medications.yaml): correct the code or "
                                 "add the substance with its ATC class", code="REJ-REC-006")
    ongoing = map_terms(records, FORM, "ongoing", codelist_lookup("NY"), "Y or N")
    df = records.forms[FORM]
    if "end" in df.columns:
        both = ongoing.reindex(df.index).eq("Y") & df["end"].ne("")
        records.reject_rows(FORM, both, "ongoing", "the medication is marked ongoing but has an end date: leave "
                            "'end' empty for an ongoing medication, or set ongoing to N", code="REJ-REC-130")
    unit = map_terms(records, FORM, "unit", codelist_lookup("UNIT"), "a CDISC UNIT term (e.g. mg, g, mg/kg)")
    freq = map_terms(records, FORM, "frequency", codelist_lookup("FREQ"), "a CDISC FREQ term (e.g. QD, BID, ONCE)")
    route = map_terms(records, FORM, "route", codelist_lookup("ROUTE"), "a CDISC ROUTE term (e.g. ORAL, INTRAVENOUS)")
    start = normalize_dates(records, FORM, "start")
    end = normalize_dates(records, FORM, "end") if "end" in records.forms[FORM].columns else None
    note_ending_before_start(records, FORM, start, end, ("start", "end"))

    df = records.forms[FORM]
    idx = df.index
    ref = keys.loc[idx]
    key = df["medication"].str.strip().str.upper()
    if "atc_code" in df.columns:
        key = df["atc_code"].where(df["atc_code"].ne(""), key)
    entries = key.map(dictionary)
    field = {name: entries.map(lambda e, k=name: e[k] if isinstance(e, dict) else "") for name in
             ("name", "class", "class_code")}
    cmend = end[idx] if end is not None else pd.Series("", index=idx, dtype=object)
    is_ongoing = ongoing[idx].eq("Y")
    cm = pd.DataFrame({
        "STUDYID": ref["STUDYID"], "DOMAIN": "CM", "USUBJID": ref["USUBJID"],
        "CMTRT": df["medication"], "CMDECOD": field["name"], "CMCLAS": field["class"],
        "CMCLASCD": field["class_code"],
        "CMINDC": df["indication"] if "indication" in df.columns else "",
        "CMDOSE": pd.to_numeric(df["dose"].replace("", np.nan)) if "dose" in df.columns else np.nan,
        "CMDOSU": unit[idx], "CMDOSFRQ": freq[idx], "CMROUTE": route[idx],
        "EPOCH": epoch_by_date(start[idx], ref["RFXSTDTC"], ref["RFXENDTC"]),
        "CMSTDTC": start[idx], "CMENDTC": cmend,
        "CMSTDY": dates.study_day(start[idx], ref["RFSTDTC"]),
        "CMENDY": dates.study_day(cmend, ref["RFSTDTC"]),
        "CMENRF": end_relative(cmend, ref["RFSTDTC"], dm.set_index("USUBJID")["RFENDTC"].reindex(
            ref["USUBJID"]).set_axis(idx)),
        "CMENRTPT": pd.Series("", index=idx, dtype=object).where(~is_ongoing, "ONGOING"),
        "CMENTPT": pd.Series("", index=idx, dtype=object).where(~is_ongoing, END_POINT),
    }, index=idx)
    return assign_seq(cm, "CMSEQ", mappings.seq_order("CM"))


def end_relative(end: pd.Series, ref_start: pd.Series, ref_end: pd.Series) -> pd.Series:
    """--ENRF (SDTMIG 4.4.7): BEFORE the reference period, DURING it or AFTER it; "" when a date is partial."""
    out = pd.Series("", index=end.index, dtype=object)
    d, lo, hi = dates.date_part(end), dates.date_part(ref_start), dates.date_part(ref_end)
    known = d.notna() & lo.notna() & hi.notna()
    out[known & (d < lo)] = "BEFORE"
    out[known & (d >= lo) & (d <= hi)] = "DURING"
    out[known & (d > hi)] = "AFTER"
    return out
