"""DS (Disposition, SDTMIG 3.4 section 6.2.4): one record per disposition event per subject.

The event is the CDISC NCOMPLT term (COMPLETED, or the reason for not completing: ADVERSE EVENT, LOST TO
FOLLOW-UP, ...) or one of its synonyms; the reason as written is DSTERM (the event itself when no reason is
given). DSCAT is DISPOSITION EVENT (DSCAT codelist); EPOCH is the epoch the event's date falls in.
"""

from __future__ import annotations

import pandas as pd

from msc_interop import dates, mappings
from msc_interop.records.reader import RawRecords
from msc_interop.sdtm.common import assign_seq, codelist_lookup, epoch_by_date, map_terms, normalize_dates, subject_keys

FORM = "disposition"
CATEGORY = "DISPOSITION EVENT"


def build_ds(records: RawRecords, dm: pd.DataFrame) -> pd.DataFrame:
    """The DS domain from the disposition form; an event that is not an NCOMPLT term is rejected."""
    if FORM not in records.forms:
        return pd.DataFrame()
    keys = subject_keys(records, FORM, dm)
    decod = map_terms(records, FORM, "event", codelist_lookup("NCOMPLT"), "a CDISC NCOMPLT term (COMPLETED, "
                      "or the reason for not completing, e.g. ADVERSE EVENT, LOST TO FOLLOW-UP, WITHDRAWAL BY SUBJECT)",
                      required=True)
    start = normalize_dates(records, FORM, "date")
    df = records.forms[FORM]
    idx = df.index
    ref = keys.loc[idx]
    reason = df["reason"] if "reason" in df.columns else pd.Series("", index=idx, dtype=object)
    ds = pd.DataFrame({
        "STUDYID": ref["STUDYID"], "DOMAIN": "DS", "USUBJID": ref["USUBJID"],
        "DSTERM": reason.where(reason.ne(""), decod[idx]), "DSDECOD": decod[idx], "DSCAT": CATEGORY,
        "EPOCH": epoch_by_date(start[idx], ref["RFXSTDTC"], ref["RFXENDTC"]),
        "DSSTDTC": start[idx], "DSSTDY": dates.study_day(start[idx], ref["RFSTDTC"]),
    }, index=idx)
    return assign_seq(ds, "DSSEQ", mappings.seq_order("DS"))
