"""The rejected records a subject's derivations would have read, found once its DM and SV are built.

What was rejected: the rows a check took out of a form (RawRecords.held: not an exact duplicate, whose first copy
is converted) and the records rejected before they became a row (RawRecords.unparsed: each line of a value that
spans lines, the item groups of an ODM SubjectData not read). Of those, for the subjects of this build's DM: every
infusion (the reference dates), every lab, vital-sign, ECG and findings record not certainly after the subject's
first dose (a baseline flag: dated on or before it, or a date that cannot be read), and every record of a planned
visit that SV does not hold for the subject. They go to the reject report (RejectReport.unsourced / .unvisited),
whose notes are made once the whole study is read (derived_without.settle_derivations): each share of a load in
two and each partition finds those of its own subjects, as each builds their DM and SV.

Column-wise, on the rejected records only: nothing to do (not a pass over any form) when none was rejected.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_interop import dates
from msc_interop.derived_without import EXPOSURES
from msc_interop.distinct import is_in, per_distinct, per_distinct_rows
from msc_interop.records.reader import ROW, RawRecords
from msc_interop.rejects import Unsourced, Unvisited
from msc_interop.sdtm.common import visit_lookup
from msc_interop.study import StudyMeta

# the forms whose records feed a baseline flag -> their date column and clock-time column ("": none), as the
# builders join them (sdtm/lb.py, vs.py, eg.py, pr.py)
BASELINE_DATES: dict[str, tuple[str, str]] = {"labs": ("collection_datetime", ""), "vital_signs": ("date", "time"),
                                              "ecg": ("date", "time"), "findings": ("date", "")}
SUBJECT, VISIT = "subject_id", "visit"


def find_lost(records: RawRecords, meta: StudyMeta, dm: pd.DataFrame, sv: pd.DataFrame | None) -> None:
    """Add to records.rejects the rejected records of the subjects of `dm` that its derivations (and `sv`, this
    build's SV) were made without (module docstring)."""
    forms = sorted({*records.held, *records.unparsed})
    if not forms or not len(dm):
        return
    ref = dm.drop_duplicates("SUBJID").set_index("SUBJID")
    report = records.rejects
    for form in forms:
        lost = _lost(records, form)
        if lost is None:
            continue
        file = records.files.get(form, form)
        subject = lost[SUBJECT]
        known = is_in(subject, ref.index.tolist())
        if form in BASELINE_DATES:  # (each distinct subject, date and time looked at once)
            first = per_distinct(lambda u: u.map(ref["RFXSTDTC"]).fillna("").astype(object), subject).to_numpy()
            known = known & (first != "") & ~dates.certainly_before(first, _when(lost, *BASELINE_DATES[form]))
        if form == EXPOSURES or form in BASELINE_DATES:
            report.unsourced += [Unsourced(s, form, file, int(r)) for s, r in
                                 zip(subject[known].tolist(), lost[ROW][known].tolist(), strict=True)]
        if VISIT in lost.columns:
            _unvisited(records, lost, file, ref, meta, sv)


def _lost(records: RawRecords, form: str) -> pd.DataFrame | None:
    """The rejected records of `form` (held and unparsed) that name a subject: its subject, visit, dates and row."""
    parts = [p for p in (records.held.get(form), records.unparsed.get(form)) if p is not None and len(p)]
    if not parts or any(SUBJECT not in p.columns for p in parts):
        return None
    wanted = [ROW, SUBJECT, VISIT, *BASELINE_DATES.get(form, ())]
    lost = pd.concat([p[[c for c in wanted if c in p.columns]] for p in parts], ignore_index=True)
    return lost[lost[SUBJECT].ne("")].reset_index(drop=True)


def _when(lost: pd.DataFrame, date: str, time: str) -> np.ndarray:
    """The date and time of each record as its builder joins them (a clock time of its own column joins a date
    written without one); "" where the form has no date column."""
    if date not in lost.columns:
        return np.full(len(lost), "", dtype=object)
    if not time or time not in lost.columns:
        return lost[date].fillna("").to_numpy(dtype=object)

    def joined(u: pd.DataFrame) -> pd.Series:
        when, clock = u[date].fillna("").astype(str), u[time].fillna("").astype(str)
        return when.where(clock.eq("") | when.str.len().ne(10), when + "T" + clock).astype(object)

    return per_distinct_rows(joined, lost[[date, time]]).to_numpy(dtype=object)


def _unvisited(records: RawRecords, lost: pd.DataFrame, file: str, ref: pd.DataFrame, meta: StudyMeta,
               sv: pd.DataFrame | None) -> None:
    """The rejected records of a subject of DM at a planned visit (unscheduled ones have no number before they are
    built) that `sv` does not hold for the subject."""
    lookup = visit_lookup(meta)
    visitnum = per_distinct(lambda u: u.fillna("").astype(str).str.strip().str.upper().map(lookup).astype("float64"),
                            lost[VISIT])
    at = pd.Series(is_in(lost[SUBJECT], ref.index.tolist()), index=lost.index) & visitnum.notna()
    if not at.any():
        return
    pairs = pd.MultiIndex.from_arrays([lost.loc[at, SUBJECT].map(ref["USUBJID"]), visitnum[at].astype("float64")])
    held = (pd.MultiIndex.from_arrays([sv["USUBJID"], sv["VISITNUM"].astype("float64")])
            if sv is not None and {"USUBJID", "VISITNUM"} <= set(sv.columns) else pairs[:0])
    missing = ~pairs.isin(held)
    if not missing.any():
        return
    names = meta.visits.set_index("VISITNUM")["VISIT"]
    names.index = names.index.astype("float64")
    rows = lost.loc[at][missing]
    records.rejects.unvisited += [Unvisited(s, float(n), str(names[n]), file, int(r)) for s, n, r in
                                  zip(rows[SUBJECT].tolist(), visitnum[at][missing].tolist(), rows[ROW].tolist(),
                                      strict=True)]
