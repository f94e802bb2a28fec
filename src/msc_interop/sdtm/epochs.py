"""EPOCH of a screen failure's records: the study's first epoch.

EPOCH from a date needs the first dose (common.epoch_by_date), which a screen failure never has, so its AE, DS, CM
and unscheduled-visit records were left without one. SDTMIG 3.4 SE: a subject is in one element at a time and an
element lasts until the next begins; a screen failure never begins the treatment element, so every record of it is
in the first epoch of the trial design (TE/TA; here the epoch of the first planned visit of study.yaml).

A subject assigned but never treated (ARMNRS ASSIGNED, NOT TREATED) is left as it was: it left screening when it
was assigned, on a date the records do not give, and never entered treatment, so no epoch of the design can be
told from its records' dates (a study without an exposures form makes every subject one).
"""

from __future__ import annotations

import pandas as pd

from msc_interop.sdtm.dm import SCREEN_FAILURE
from msc_interop.study import StudyMeta

# CDISC CT EPOCH (C99079) SCREENING (C202487): the first epoch when the schedule names none
DEFAULT_FIRST_EPOCH = "SCREENING"
_DESIGN = ("DM", "TS", "TV", "TA", "TE", "TI")


def first_epoch(meta: StudyMeta) -> str:
    """The epoch of the study's first planned visit (lowest VISITNUM) that names one, else SCREENING."""
    visits = meta.visits.sort_values("VISITNUM", kind="stable")
    named = visits["EPOCH"].fillna("").astype(str).str.strip()
    named = named[named.ne("")]
    return str(named.iloc[0]) if len(named) else DEFAULT_FIRST_EPOCH


def screen_failure_epochs(datasets: dict[str, pd.DataFrame], meta: StudyMeta, dm: pd.DataFrame
                          ) -> dict[str, pd.DataFrame]:
    """The datasets with an empty EPOCH of a screen failure's record (DM ARMNRS SCREEN FAILURE) set to the first
    epoch; an EPOCH already given (a planned visit's, from the schedule) is kept."""
    if "ARMNRS" not in dm.columns:
        return datasets
    failed = dm.loc[dm["ARMNRS"].eq(SCREEN_FAILURE), "USUBJID"]
    if failed.empty:
        return datasets
    epoch = first_epoch(meta)
    out = dict(datasets)
    for name, df in datasets.items():
        if name in _DESIGN or "EPOCH" not in df.columns or "USUBJID" not in df.columns or not len(df):
            continue
        empty = df["EPOCH"].fillna("").astype(str).eq("") & df["USUBJID"].isin(failed)
        if empty.any():
            df = df.copy()
            df.loc[empty, "EPOCH"] = epoch
            out[name] = df
    return out
