"""The rejected records a subject's derivations would have read, found once its DM and SV are built.

What was rejected: the rows a check took out of a form (RawRecords.held: not an exact duplicate, whose first copy
is converted) and the records rejected before they became a row (RawRecords.unparsed: each line of a value that
spans lines, the item groups of an ODM SubjectData not read). Of those, for the subjects of this build's DM: every
infusion (the reference dates), every lab, vital-sign, ECG and findings record not certainly after the subject's
first dose (a baseline flag: dated on or before it, or a date that cannot be read), every record of a planned
visit that SV does not hold for the subject, and every record of an unscheduled visit with a complete date when SV
holds no unscheduled visit of the subject on that date (one per subject and date: sdtm/unscheduled.py; one
without a complete date could not be numbered anyway, and one rejected because its visit cannot be numbered,
REJ-REC-016, is not named again: their rejects say so). They go to the reject report
(RejectReport.unsourced / .unvisited) as summaries per subject and file (per subject, visit or date, and file),
how many they are and their first rows
(rejects.LostRows), whose notes are made once the whole study is read (derived_without.settle_derivations): each
share of a load in two and each partition finds those of its own subjects, as each builds their DM and SV.

Column-wise, on the rejected records only: nothing to do (not a pass over any form) when none was rejected, and no
object per rejected record (a labs export whose every row is rejected gives a few numbers per subject).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_interop import dates, iso8601
from msc_interop.derived_without import EXPOSURES
from msc_interop.distinct import is_in, per_distinct, per_distinct_rows
from msc_interop.records.reader import ROW, RawRecords
from msc_interop.rejects import LISTED, LostRows, add_lost
from msc_interop.sdtm.common import is_unscheduled, visit_lookup
from msc_interop.sdtm.unscheduled import FORM_DATES
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
    unvisited: list[pd.DataFrame] = []
    unscheduled: list[pd.DataFrame] = []
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
            found = pd.DataFrame({SUBJECT: subject[known], ROW: lost[ROW][known]})
            for (s,), summary in _summaries(found, [SUBJECT]):
                add_lost(report.unsourced, (str(s), form, file), summary)
        if VISIT in lost.columns:
            at = _unvisited(lost, file, ref, meta, sv)
            if at is not None:
                unvisited.append(at)
            off = _unscheduled(lost, FORM_DATES.get(form, ""), file, ref, sv, records.unnumbered.get(form))
            if off is not None:
                unscheduled.append(off)
    if unvisited:  # (one summary of the forms' records: two forms of one ODM file may name one line)
        keys = [SUBJECT, "VISITNUM", "VISIT", "file"]
        for (s, n, v, f), summary in _summaries(pd.concat(unvisited, ignore_index=True), keys):
            add_lost(report.unvisited, (str(s), float(n), str(v), str(f)), summary)
    if unscheduled:  # (no VISITNUM: the key names the visit by its date)
        for (s, d, f), summary in _summaries(pd.concat(unscheduled, ignore_index=True), [SUBJECT, "date", "file"]):
            add_lost(report.unvisited, (str(s), None, str(d), str(f)), summary)


def _summaries(found: pd.DataFrame, keys: list[str]) -> list[tuple[tuple, LostRows]]:
    """Per distinct `keys` of `found` (in order), how many distinct rows (ROW) it has and the first LISTED of them:
    each key column factorized once, the records sorted by their codes and row, a Python object per group only."""
    if not len(found):
        return []
    codes, uniques = zip(*(pd.factorize(found[k], sort=True) for k in keys), strict=True)
    rows = found[ROW].to_numpy(dtype="int64")
    order = np.lexsort([rows, *reversed(codes)])  # (by the first key, then the next, ..., then the row)
    codes, rows = [c[order] for c in codes], rows[order]
    start = np.zeros(len(rows), dtype=bool)
    start[0] = True
    for c in codes:
        start[1:] |= c[1:] != c[:-1]
    kept = start.copy()  # (a row counted once per group: held and unparsed may both name it)
    kept[1:] |= rows[1:] != rows[:-1]
    codes, rows, start = [c[kept] for c in codes], rows[kept], start[kept]
    begins = np.flatnonzero(start)
    ends = np.append(begins[1:], len(rows))
    return [(tuple(u[c[b]] for u, c in zip(uniques, codes, strict=True)),
             LostRows(int(e - b), tuple(rows[b:min(e, b + LISTED)].tolist())))
            for b, e in zip(begins.tolist(), ends.tolist(), strict=True)]


def _lost(records: RawRecords, form: str) -> pd.DataFrame | None:
    """The rejected records of `form` (held and unparsed) that name a subject: its subject, visit, dates and row."""
    parts = [p for p in (records.held.get(form), records.unparsed.get(form)) if p is not None and len(p)]
    if not parts or any(SUBJECT not in p.columns for p in parts):
        return None
    wanted = list(dict.fromkeys([ROW, SUBJECT, VISIT, *BASELINE_DATES.get(form, ()), FORM_DATES.get(form, "")]))
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


def _unvisited(lost: pd.DataFrame, file: str, ref: pd.DataFrame, meta: StudyMeta,
               sv: pd.DataFrame | None) -> pd.DataFrame | None:
    """The rejected records of a subject of DM at a planned visit (unscheduled ones have no number before they are
    built) that `sv` does not hold for the subject: their subject, VISITNUM, VISIT, file and row (None: none)."""
    lookup = visit_lookup(meta)
    visitnum = per_distinct(lambda u: u.fillna("").astype(str).str.strip().str.upper().map(lookup).astype("float64"),
                            lost[VISIT])
    at = pd.Series(is_in(lost[SUBJECT], ref.index.tolist()), index=lost.index) & visitnum.notna()
    if not at.any():
        return None
    pairs = pd.MultiIndex.from_arrays([lost.loc[at, SUBJECT].map(ref["USUBJID"]), visitnum[at].astype("float64")])
    held = (pd.MultiIndex.from_arrays([sv["USUBJID"], sv["VISITNUM"].astype("float64")])
            if sv is not None and {"USUBJID", "VISITNUM"} <= set(sv.columns) else pairs[:0])
    missing = ~pairs.isin(held)
    if not missing.any():
        return None
    names = meta.visits.set_index("VISITNUM")["VISIT"]
    names.index = names.index.astype("float64")
    rows = lost.loc[at][missing]
    number = visitnum[at][missing]
    return pd.DataFrame({SUBJECT: rows[SUBJECT].to_numpy(), "VISITNUM": number.to_numpy(),
                         "VISIT": number.map(names).astype(str).to_numpy(), "file": file, ROW: rows[ROW].to_numpy()})


def _unscheduled(lost: pd.DataFrame, date: str, file: str, ref: pd.DataFrame, sv: pd.DataFrame | None,
                 unnumbered: np.ndarray | None = None) -> pd.DataFrame | None:
    """The rejected records of a subject of DM at an unscheduled visit with a complete `date` (the form's date
    column, the one that numbers the visit) when `sv` holds no unscheduled visit of the subject whose SVSTDTC is
    on that date: their subject, date (YYYY-MM-DD), file and row (None: none). Not those whose visit could not be
    numbered (rows `unnumbered`, REJ-REC-016): their reject already says why SV lacks it."""
    if date not in lost.columns:
        return None
    marked = per_distinct(lambda u: pd.Series(is_unscheduled(u), index=u.index), lost[VISIT]).astype(bool)
    at = marked.to_numpy(dtype=bool) & is_in(lost[SUBJECT], ref.index.tolist())
    if unnumbered is not None and len(unnumbered):
        at &= ~np.isin(lost[ROW].to_numpy(), unnumbered)
    if not at.any():
        return None
    rows = lost[at]
    dtc, _bad = dates.normalize_collected(rows[date].fillna("").astype(str))
    day = per_distinct(lambda u: u.astype(str).where(u.astype(str).str.match(iso8601.COMPLETE_DATE).astype(bool), "")
                       .str.slice(0, 10).astype(object), dtc)
    dated = day.ne("").to_numpy(dtype=bool)
    if not dated.any():
        return None
    rows, day = rows[dated], day[dated]
    pairs = pd.MultiIndex.from_arrays([rows[SUBJECT].map(ref["USUBJID"]).to_numpy(dtype=object),
                                       day.to_numpy(dtype=object)])
    missing = ~pairs.isin(_sv_unscheduled(sv, pairs))
    if not missing.any():
        return None
    return pd.DataFrame({SUBJECT: rows[SUBJECT].to_numpy()[missing], "date": day.to_numpy(dtype=object)[missing],
                         "file": file, ROW: rows[ROW].to_numpy()[missing]})


def _sv_unscheduled(sv: pd.DataFrame | None, none: pd.MultiIndex) -> pd.MultiIndex:
    """(USUBJID, SVSTDTC's date) of SV's unscheduled visits (`none`'s empty slice when SV has none)."""
    if sv is None or not {"USUBJID", "VISIT", "SVSTDTC"} <= set(sv.columns) or not len(sv):
        return none[:0]
    mine = per_distinct(lambda u: pd.Series(is_unscheduled(u), index=u.index), sv["VISIT"]).astype(bool)
    visits = sv[mine.to_numpy(dtype=bool)]
    return pd.MultiIndex.from_arrays([visits["USUBJID"].to_numpy(dtype=object),
                                      visits["SVSTDTC"].fillna("").astype(str).str.slice(0, 10).to_numpy(dtype=object)])
