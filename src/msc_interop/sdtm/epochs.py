"""EPOCH of a screen failure's records: the study's first epoch.

EPOCH from a date needs the first dose (common.epoch_by_date), which a screen failure never has, so its AE, DS, CM
and unscheduled-visit records were left without one. SDTMIG 3.4 SE: a subject is in one element at a time and an
element lasts until the next begins; a screen failure never begins the treatment element, so every record of it is
in the first epoch of the trial design (TE/TA; here the epoch of the first planned visit of study.yaml), from the
day it entered the study: informed consent (DM RFICDTC). A record dated before consent (a medication taken years
earlier) is in no epoch of the study, and a partial date cannot be placed after consent, so those keep an empty
EPOCH, as a treated subject's partial-date record does (common.epoch_by_date). The date is the record's start
(--STDTC) or, for a finding, its --DTC (SDTMIG 3.4 SE: an event or intervention is placed by its start, a finding by
its collection date); the comparison is on_or_before's, as for the first dose: the consent day counts, times are
compared when both carry one.

A subject assigned but never treated (ARMNRS ASSIGNED, NOT TREATED) is left as it was: it left screening when it
was assigned, on a date the records do not give, and never entered treatment, so no epoch of the design can be
told from its records' dates (a study without an exposures form makes every subject one).
"""

from __future__ import annotations

import pandas as pd

from msc_interop import dates
from msc_interop.sdtm.dm import SCREEN_FAILURE
from msc_interop.study import StudyMeta

# CDISC CT EPOCH (C99079) SCREENING (C202487): the first epoch when the schedule names none
DEFAULT_FIRST_EPOCH = "SCREENING"
_DESIGN = ("DM", "TS", "TV", "TA", "TE", "TI")


def study_epochs(meta: StudyMeta) -> list[str]:
    """The epochs the schedule names, in the order of their first planned visit (lowest VISITNUM first)."""
    visits = meta.visits.sort_values("VISITNUM", kind="stable")
    named = visits["EPOCH"].fillna("").astype(str).str.strip()
    return list(dict.fromkeys(named[named.ne("")].tolist()))


def first_epoch(meta: StudyMeta) -> str:
    """The epoch of the study's first planned visit (lowest VISITNUM) that names one, else SCREENING."""
    named = study_epochs(meta)
    return named[0] if named else DEFAULT_FIRST_EPOCH


def screen_failure_epochs(datasets: dict[str, pd.DataFrame], meta: StudyMeta, dm: pd.DataFrame
                          ) -> dict[str, pd.DataFrame]:
    """The datasets with an empty EPOCH of a screen failure's record (DM ARMNRS SCREEN FAILURE) dated (complete)
    on or after its informed consent (DM RFICDTC) set to the first epoch; an EPOCH already given (a planned visit's,
    from the schedule) is kept, and the rest stay empty."""
    if "ARMNRS" not in dm.columns or "RFICDTC" not in dm.columns:
        return datasets
    consent = dm.loc[dm["ARMNRS"].eq(SCREEN_FAILURE)].set_index("USUBJID")["RFICDTC"]
    if consent.empty:
        return datasets
    epoch = first_epoch(meta)
    out = dict(datasets)
    for name, df in datasets.items():
        dtc = _date_variable(name, df)
        if name in _DESIGN or dtc is None or "EPOCH" not in df.columns or "USUBJID" not in df.columns:
            continue
        empty = df["EPOCH"].fillna("").astype(str).eq("") & df["USUBJID"].isin(consent.index)
        if not empty.any():
            continue
        rows = df.loc[empty].reset_index(drop=True)
        fill = empty.to_numpy().copy()
        fill[fill] = dates.on_or_before(rows["USUBJID"].map(consent).fillna(""), rows[dtc].fillna("")).to_numpy()
        if fill.any():
            df = df.copy()
            df.loc[fill, "EPOCH"] = epoch
            out[name] = df
    return out


def _date_variable(name: str, df: pd.DataFrame) -> str | None:
    """The date a record's epoch is told from: --STDTC (an event's or intervention's start), else --DTC."""
    return next((c for c in (f"{name[:2]}STDTC", f"{name[:2]}DTC") if c in df.columns), None)
