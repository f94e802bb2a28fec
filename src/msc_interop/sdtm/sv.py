"""SV (Subject Visits, SDTMIG 3.4 section 5.5): one record per visit a subject actually had.

SV has no form of its own: a visit was held when a dated record of any domain carries its VISITNUM. SVSTDTC
is the earliest and SVENDTC the latest complete date of the visit's records (--DTC, --STDTC, --ENDTC);
VISIT, EPOCH and VISITDY (the planned study day) come from the study's visit schedule (study.yaml), VISIT
and EPOCH from the records for a visit the schedule does not hold (an unscheduled visit: sdtm/unscheduled.py).

EPOCH of such a visit: SDTMIG 3.4 section 5.5, SV assumption 15a: "If TAETORD and/or EPOCH are added, then the
values must be those at the start of the visit". So it is the EPOCH of the visit's records at SVSTDTC (its
earliest complete date/time; without one, the latest partial date SVSTDTC takes), whatever order the datasets
and their rows come in: an unscheduled visit whose pre-dose sample at 08:00 is SCREENING and whose infusion at
10:00 is TREATMENT started in SCREENING. A date or time less precise than another contains it: a record dated
without a time cannot be put before or after the timed ones of its day (an infusion's EXSTDTC 2020-01-05 sorts
before a pre-dose sample's 2020-01-05T08:00 as text only), nor one timed to the hour (2020-01-05T08: any minute of
it) before or after 2020-01-05T08:30, nor 08:30 before or after 08:30:15. So the records of a visit that the
date/time of one of its records with an EPOCH contains (right-truncated ISO 8601: it begins theirs) are at that
record's moment, the least precise such record's (a day holds its hours): the start, when it is the start
(SVSTDTC is still the earliest as text, that less precise date or time, which holds the start: 2020-01-05 for a
day's records, 2020-01-05T08 for records at 08 and 08:30). Times that can be ordered still are (09 is after
08:30, 08:15 before 08:30). One with an empty EPOCH tells nothing of the epoch: it leaves the times of the records
it contains to order them (else it would make a tie of them, the epochs' order deciding instead of the times). Two
cases need a choice, each named in a note of the run (subject and visit) worded by the rule applied: records at
the start in different epochs (a date/time on the boundary itself, or a record less precise than the others) give
the earliest epoch in the study's order (the schedule's epochs by their first visit, then the others by name), as
the visit began before it crossed into the next one, the note naming every epoch at the start in that order; no
record at the start giving an EPOCH (an empty one: its epoch unknown) gives the EPOCH of the next records that
give one in the order SVSTDTC is taken by (complete dates earliest first, then partial ones latest first), rather
than none. Records with an empty EPOCH are used only when no record of the visit gives one (SV's EPOCH then empty
too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from msc_interop import dates, iso8601
from msc_interop.columns_frame import frame_of_columns
from msc_interop.distinct import coded, coded_by_key, column_codes
from msc_interop.patterns import search_each
from msc_interop.sdtm.epochs import study_epochs
from msc_interop.study import StudyMeta

_SKIP = ("DM", "SV", "TS", "TV", "TA", "TE", "TI")


class _Dated:
    """One dated column of a dataset with VISITNUM, as codes of its subjects, visits, epochs and dates (shared
    with the builders: distinct.column_codes), not a copy of its rows."""

    def __init__(self, df: pd.DataFrame, dtc: str):
        self.subject = column_codes(df["USUBJID"])
        self.visitnum = column_codes(df["VISITNUM"])
        n = len(df)
        blank = (np.zeros(n, dtype=np.int32), np.array([""], dtype=object))  # (a dataset without VISIT / EPOCH)
        self.visit = column_codes(df["VISIT"]) if "VISIT" in df.columns else blank
        self.epoch = column_codes(df["EPOCH"]) if "EPOCH" in df.columns else blank
        self.dtc = column_codes(df[dtc])


def _global(parts: list[tuple[np.ndarray, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """The rows' codes of several columns in one numbering: (codes of all rows, one after another; the distinct
    values), each part's distinct values factorized together (a few thousand, not a million rows)."""
    values = pd.Series(np.concatenate([np.asarray(u, dtype=object) for _, u in parts]), dtype=object)
    numbering, uniques = pd.factorize(values, use_na_sentinel=False)
    codes, start = [], 0
    for c, u in parts:
        codes.append(numbering[start:start + len(u)][c])
        start += len(u)
    return (np.concatenate(codes) if codes else np.zeros(0, dtype=np.int64)), np.asarray(uniques, dtype=object)


@dataclass
class _Spans:
    """visit_spans as integer codes: per subject and visit number (sorted by both), the subject (into `subjects`),
    the visit number, the first VISIT given and the EPOCH at the visit's start (into `visits` / `epochs`; NaN:
    none), and the latest, earliest complete and latest complete date (into the sorted `texts`; NaN: none).
    `epoch_last`: the last, in the epochs' order, of the EPOCHs of the records at the start (another than `epoch`
    when they disagree; `epoch` when only empty ones were given); `epoch_from`: the date (into `texts`) of the
    record `epoch` was taken from (of records a less precise one contains: that one's), when no record at the start
    gave one (NaN otherwise). Of the visits whose EPOCH was a tie (`epoch_last` another): `tie_visit` and
    `tie_epoch`, every epoch (into `epochs`) of the records it was taken from, sorted by visit (an index of the
    spans) and the epochs' order; `finer`, per visit, whether those records hold one more precise than their
    moment's date/time (so they are at one moment because a less precise one contains it)."""

    subject: np.ndarray
    subjects: np.ndarray
    visitnum: np.ndarray
    visit: np.ndarray
    visits: np.ndarray
    epoch: np.ndarray
    epochs: np.ndarray
    partial: np.ndarray
    start: np.ndarray
    end: np.ndarray
    texts: np.ndarray
    epoch_last: np.ndarray
    epoch_from: np.ndarray
    tie_visit: np.ndarray
    tie_epoch: np.ndarray
    finer: np.ndarray


_NONE = np.iinfo(np.int64).max  # the score of a row without an EPOCH (min skips it unless every row is one)


def _epoch_ranks(epochs: np.ndarray, order: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each distinct EPOCH's place (0, 1, ...: `order` first, then the others by text), whether it is null, and
    whether it is empty (null or blank); a handful of values, not the rows."""
    values = pd.Series(epochs, dtype=object)
    raw = values.fillna("").astype(str)
    text = raw.str.strip()
    known = {e: i for i, e in enumerate(order)}
    place = pd.DataFrame({"known": text.map(known).fillna(len(known)).to_numpy(), "text": text.to_numpy(),
                          "raw": raw.to_numpy()})
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[place.sort_values(["known", "text", "raw"], kind="stable").index.to_numpy()] = np.arange(len(values))
    return ranks, values.isna().to_numpy(), text.eq("").to_numpy()


def _containers(text: pd.Series, complete: np.ndarray, sorted_texts: Any) -> tuple[np.ndarray, list[np.ndarray]]:
    """Per distinct text (`text`; `complete`: a complete date), whether it may contain others (a date/time less
    precise than another: its length is that of a complete text while a longer one exists), and, per such length
    from the shortest, each text's beginning of that length as a rank among `sorted_texts` (-1: no text is that
    beginning, or the text is not longer). Right-truncated ISO 8601: 2020-01-05 begins the times of its day,
    2020-01-05T08 the minutes of that hour, 08:30 its seconds. Complete texts of one length (a study timed to the
    minute throughout): none, and no text is cut (a million distinct times)."""
    length = text.str.len().to_numpy()
    lengths = np.unique(length[complete])[:-1]
    coarse = complete & np.isin(length, lengths)
    index = pd.Index(sorted_texts)
    within = []
    for n in lengths.tolist():
        longer = np.flatnonzero(complete & (length > n))
        at = np.full(len(text), -1, dtype=np.int64)
        at[longer] = index.get_indexer(text.iloc[longer].str[:n])
        within.append(at)
    return coarse, within


def _moments(key: np.ndarray, rank: np.ndarray, dtc: np.ndarray, within: list[np.ndarray], anchor: np.ndarray,
             n_texts: int) -> np.ndarray:
    """Each row's moment within its visit (`key`), as a rank among the texts: its date's (`rank`), except that a
    date/time a less precise one of a record of its visit that gives an EPOCH (`anchor`: the caller leaves out
    those with an empty one, which could only make the records it contains a tie of no use) contains is that
    one's, the least precise such (`within`: _containers' beginnings of each distinct text, `dtc` the rows' codes
    into them): it cannot be put before or after the records it contains, so they are all at one moment.
    Column-wise: per length, the rows whose beginning is the text of an anchor (a boolean per text), then the
    (visit, beginning) pairs of the anchors looked up for those (np.isin); the shortest length last, so it wins."""
    if not within or not anchor.any():
        return rank
    is_anchor = np.zeros(n_texts + 1, dtype=bool)  # (the last one stays False: a beginning of -1, none, reads it)
    is_anchor[rank[anchor]] = True
    pairs = np.unique(key[anchor] * n_texts + rank[anchor])
    moment = rank
    for at in reversed(within):
        rows = np.flatnonzero(is_anchor[at][dtc])
        if not len(rows):
            continue
        begins = at[dtc[rows]]
        hit = np.isin(key[rows] * n_texts + begins, pairs)
        moment = moment.copy() if moment is rank else moment
        moment[rows[hit]] = begins[hit]
    return moment


def _text_ranks(text: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """pd.factorize(text, sort=True) of distinct text (each value's rank, the values sorted), for ASCII text as
    numbers: each value's bytes, padded with NULs, read as big-endian 8-byte words and sorted by them in turn
    (numpy's lexsort), which orders as Python orders text (62k dates of half of 1M lab rows: 15 ms against 39 ms).
    Other text (not ASCII, holding a NUL, long, a value twice): pandas as before."""
    items = text.tolist()
    joined = "".join(items)
    width = max(8, -(-max(map(len, items), default=0) // 8) * 8)
    if not items or width > 64 or not joined.isascii() or "\0" in joined:
        return _factorized_sorted(text)
    words = np.asarray(items, dtype=f"S{width}").view(">u8").reshape(len(items), width // 8)
    order = np.lexsort(words.T[::-1])
    if (words[order[1:]] == words[order[:-1]]).all(axis=1).any():  # (a value twice: "" of a null and of a text)
        return _factorized_sorted(text)
    rank = np.empty(len(items), dtype=np.intp)
    rank[order] = np.arange(len(items))
    return rank, np.asarray(items, dtype=object)[order]


def _factorized_sorted(text: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    codes, uniques = pd.factorize(text, sort=True)
    return codes, np.asarray(uniques, dtype=object)


def _span_codes(parts: list[_Dated], epoch_order: list[str] | None = None) -> _Spans | None:
    """visit_spans' groups, on integer codes (the text is never copied or compared). `epoch_order`: the study's
    epochs in order (study_epochs), which breaks a tie between records at a visit's start."""
    if not parts:
        return None
    subject, subjects = _global([p.subject for p in parts])
    dtc, texts = _global([p.dtc for p in parts])
    visitnum, visitnums = _global([(c, np.asarray(u, dtype="float64")) for c, u in (p.visitnum for p in parts)])
    visit, visits = _global([p.visit for p in parts])
    epoch, epochs = _global([p.epoch for p in parts])
    text = pd.Series(texts, dtype=object).fillna("").astype(str)
    present_u = text.ne("").to_numpy()
    complete_u = search_each(iso8601.COMPLETE_DATE, text)  # (anchored by its ^: a search is a match)
    rank_u, sorted_texts = _text_ranks(text)  # ISO 8601 sorts as text: the rank orders the dates
    coarse_u, within_u = _containers(text, complete_u, sorted_texts)  # (a less precise date/time contains others)
    visitnums = visitnums.astype("float64")
    keep = present_u[dtc] & ~np.isnan(visitnums)[visitnum]
    if not keep.any():
        return None
    keep &= pd.notna(subjects)[subject]  # (a record without a subject is in no group: SV is empty, not absent)
    subject, dtc, visitnum, visit, epoch = subject[keep], dtc[keep], visitnum[keep], visit[keep], epoch[keep]
    # each row's rank among the subjects and visit numbers, from the ranks of the distinct values (sorted once)
    subject_rank_u, subject_order = pd.factorize(subjects, sort=True)
    visit_rank_u, visit_order = pd.factorize(visitnums, sort=True)
    key = subject_rank_u.astype(np.int64)[subject] * len(visit_order) + visit_rank_u[visitnum]
    row_rank = rank_u[dtc].astype(np.int64)
    rank = row_rank.astype("float64")
    # the EPOCH at the start as the min of one integer per row, no sort of the rows: its date's place (complete
    # dates earliest first, the records a less precise date/time of one that gives an EPOCH contains at its
    # moment; then partial ones latest first, as SVSTDTC takes them; an empty EPOCH after every given one), then
    # the epoch's place in the study's order (reversed in `last`: the other end of a tie)
    n_texts, n_epochs = len(sorted_texts), len(epochs)
    epoch_rank_u, null_u, empty_u = _epoch_ranks(np.asarray(epochs, dtype=object), epoch_order or [])
    moment = (_moments(key, row_rank, dtc, within_u, coarse_u[dtc] & ~empty_u[epoch], n_texts) if within_u
              else row_rank)
    place = np.where(complete_u[dtc], moment, 2 * n_texts - 1 - row_rank) + np.where(empty_u[epoch], 2 * n_texts, 0)
    first = np.where(null_u[epoch], _NONE, place * n_epochs + epoch_rank_u[epoch])
    last = np.where(null_u[epoch], _NONE, place * n_epochs + (n_epochs - 1 - epoch_rank_u[epoch]))

    def nullable(codes: np.ndarray, values: np.ndarray) -> np.ndarray:  # NaN where the value is null ("first"
        return np.where(pd.isna(values)[codes], np.nan, codes)  # skips nulls)

    keys, g = _per_visit(key, nullable(visit, visits), first, last, rank, np.where(complete_u[dtc], rank, np.nan))
    code_of_rank = np.empty(n_epochs, dtype=np.int64)
    code_of_rank[epoch_rank_u] = np.arange(n_epochs)
    first_g, last_g = g["first"], g["last"]
    given = first_g != _NONE
    at = np.where(given, first_g, 0)
    epoch_g = np.where(given, code_of_rank[at % n_epochs], np.nan)
    where = at // n_epochs  # (2 * n_texts and above: only empty EPOCHs given, none to choose between)
    epoch_last = np.where(given & (where < 2 * n_texts),
                          code_of_rank[n_epochs - 1 - np.where(given, last_g, 0) % n_epochs], epoch_g)
    # the date the EPOCH was taken from, where it is not the start's (SVSTDTC: the earliest complete date, else
    # the latest partial one; records a less precise date/time contains: that one's, so they are at it);
    # none when only empty EPOCHs were given
    taken = np.where(where < n_texts, where, 2 * n_texts - 1 - where)
    start_g, partial_g = g["start"], g["partial"]
    starts = np.where(np.isnan(start_g), partial_g, np.nan_to_num(start_g))
    epoch_from = np.where(given & (where < 2 * n_texts) & (taken != starts), taken, np.nan)
    tie = given & (where < 2 * n_texts) & (at % n_epochs != n_epochs - 1 - np.where(given, last_g, 0) % n_epochs)
    ties = _ties(tie, where, keys, key, first, n_epochs, (moment, row_rank, complete_u, dtc))
    return _Spans(keys // len(visit_order), np.asarray(subject_order, dtype=object),
                  np.asarray(visit_order, dtype="float64")[keys % len(visit_order)],
                  g["visit"], np.asarray(visits, dtype=object), epoch_g,
                  np.asarray(epochs, dtype=object), partial_g.astype(np.int64), start_g,
                  g["end"], np.asarray(sorted_texts, dtype=object), epoch_last, epoch_from,
                  ties[0], code_of_rank[ties[1]], ties[2])


def _per_visit(key: np.ndarray, visit: np.ndarray, first: np.ndarray, last: np.ndarray, rank: np.ndarray,
               complete: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The visits' keys (sorted) and, per visit, what pandas' groupby(key, sort=True).agg gives of the rows: the
    first VISIT code not NaN (NaN: none), the min of `first` and of `last`, the max of `rank` (partial), the min and
    max of `complete` skipping NaN (start, end). By ufunc.at on the visits' numbers, not a hash or sort of the rows
    (580k rows: ~14 ms against ~24 ms)."""
    span = int(key.max()) + 1 if len(key) else 0
    if span <= 4 * len(key) + 4096:  # (subjects x visit numbers: the visits' numbers from a mark per key)
        seen = np.zeros(span, dtype=bool)
        seen[key] = True
        keys = np.flatnonzero(seen)
        group = (np.cumsum(seen) - 1)[key]
    else:
        group, keys = pd.factorize(key, sort=True)
    n, rows = len(keys), np.arange(len(key))
    given = ~np.isnan(visit)
    at = np.full(n, len(key), dtype=np.int64)
    np.minimum.at(at, group[given], rows[given])
    out = {"visit": np.where(at < len(key), np.append(visit, np.nan)[at], np.nan)}
    for name, values, fold, start in (("first", first, np.minimum, _NONE), ("last", last, np.minimum, _NONE),
                                      ("partial", rank, np.maximum, -np.inf), ("start", complete, np.fmin, np.nan),
                                      ("end", complete, np.fmax, np.nan)):
        out[name] = np.full(n, start, dtype=values.dtype)
        fold.at(out[name], group, values)
    return np.asarray(keys, dtype=np.int64), out


def _ties(tie: np.ndarray, where: np.ndarray, keys: np.ndarray, key: np.ndarray, first: np.ndarray, n_epochs: int,
          moments: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Of the visits whose EPOCH was a tie (`tie`, per visit; `where`: the place of the records it was taken from;
    `keys`: the visits' keys, sorted), every epoch of those records (each row's `first`: its place and epoch rank)
    as (visit, epoch rank) pairs sorted by both, and per visit whether one of them is at a less precise one's
    moment (`moments`: each row's moment and its date's rank, whether each text is complete, each row's text).
    The rows of those visits only (np.isin on a few keys): none without a tie."""
    finer = np.zeros(len(tie), dtype=bool)
    if not tie.any():
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), finer
    rows = np.flatnonzero(np.isin(key, keys[tie]))
    visit = np.searchsorted(keys, key[rows])
    at = first[rows] // n_epochs == where[visit]  # (a row without an EPOCH: _NONE, at no place a tie is)
    rows, visit = rows[at], visit[at]
    pairs = np.unique(visit * n_epochs + first[rows] % n_epochs)
    moment, rank, complete, dtc = moments
    finer[visit[complete[dtc[rows]] & (moment[rows] != rank[rows])]] = True
    return pairs // n_epochs, pairs % n_epochs, finer


def _text_of(values: np.ndarray, of: np.ndarray) -> np.ndarray:
    """of[values], None where a value is NaN (no value / no date)."""
    missing = np.isnan(values)
    return np.where(missing, None, of[np.nan_to_num(values).astype(np.int64)])


def visit_spans(parts: list[_Dated], epoch_order: list[str] | None = None) -> pd.DataFrame | None:
    """One row per subject and visit number with a dated record (sorted by both): the first VISIT given (in the
    order of the parts and their rows), the EPOCH at the start (the module's docstring says which), the latest
    date (PARTIAL), the earliest and latest complete dates (SVSTDTC, SVENDTC; None without one). As pandas'
    groupby of the rows would give it (first, max, min; the EPOCH as the first of the rows sorted by date), on
    integer codes: the rows' text is never copied or compared (1M LB rows: ~0.6 s -> ~0.1 s). build_sv composes
    SV from the same codes (_span_codes); this frame of them is what the tests compare with pandas' groupby
    (tests/sdtm/test_sv_spans.py)."""
    spans = _span_codes(parts, epoch_order)
    if spans is None:
        return None
    return pd.DataFrame({
        "USUBJID": pd.Series(spans.subjects[spans.subject], dtype=object),
        "VISITNUM": spans.visitnum,
        "VISIT": pd.Series(_text_of(spans.visit, spans.visits), dtype=object),
        "EPOCH": pd.Series(_text_of(spans.epoch, spans.epochs), dtype=object),
        "PARTIAL": pd.Series(spans.texts[spans.partial], dtype=object),
        "SVSTDTC": pd.Series(_text_of(spans.start, spans.texts), dtype=object),
        "SVENDTC": pd.Series(_text_of(spans.end, spans.texts), dtype=object),
    })


def build_sv(datasets: dict[str, pd.DataFrame], meta: StudyMeta, dm: pd.DataFrame,
             notes: dict[tuple[str, float], str] | None = None) -> pd.DataFrame:
    """SV from every dataset with VISITNUM and a date; empty when no record is dated at a visit. `notes`: given,
    (SUBJID, VISITNUM) -> a note for each visit off the schedule whose EPOCH was a choice (_epoch_notes)."""
    parts = []
    for name, df in datasets.items():
        if name in _SKIP or name.startswith("SUPP") or "VISITNUM" not in df.columns or df.empty:
            continue
        for col in (f"{name}DTC", f"{name}STDTC", f"{name}ENDTC"):
            if col in df.columns:
                parts.append(_Dated(df, col))
    order = study_epochs(meta)
    spans = _span_codes(parts, order)
    if spans is None:
        return pd.DataFrame()
    # the columns composed from the spans' codes (distinct.coded): their codes known to define.xml, the writers
    # and the rules, which would otherwise each factorize them again (~0.07 s for 130k visits, in each process)
    n = len(spans.subject)
    index = pd.RangeIndex(n)
    usubjid = coded(spans.subject, list(spans.subjects), index)
    visitnum = pd.Series(spans.visitnum, index=index)
    texts = list(spans.texts)
    # a visit known only to the month or year: that partial date is its start (and no end is claimed)
    svstdtc = coded(np.where(np.isnan(spans.start), spans.partial, np.nan_to_num(spans.start)).astype(np.int64),
                    texts, index)
    blank = texts.index("") if "" in texts else len(texts)
    svendtc = coded(np.where(np.isnan(spans.end), blank, np.nan_to_num(spans.end)).astype(np.int64),
                    texts if blank < len(texts) else [*texts, ""], index)
    sched = meta.visits.set_index("VISITNUM")
    visit_key = pd.factorize(spans.visitnum)[0].astype(np.int64)  # (a handful of visit numbers)

    def planned_or_given(var: str, codes: np.ndarray, given: np.ndarray) -> pd.Series:
        """The schedule's value for the visit number, else the records' first (None: none)."""
        planned = visitnum.map(sched[var]) if len(sched) else pd.Series(np.nan, index=index)
        given_text = pd.Series(_text_of(codes, given), index=index, dtype=object)  # (None kept: not str's NaN)
        values = planned.where(planned.notna(), given_text).astype(object)
        given_code = np.where(np.isnan(codes), len(given), np.nan_to_num(codes)).astype(np.int64)
        key = visit_key * (len(given) + 1) + given_code
        return coded_by_key(values.to_numpy(), key, (int(visit_key.max(initial=-1)) + 1) * (len(given) + 1), index)

    visitdy = visitnum.map(sched["planned_dy"]) if len(sched) else pd.Series(np.nan, index=index)
    rf_of_subject = dm.set_index("USUBJID")["RFSTDTC"]
    rf = coded_by_key(rf_of_subject.reindex(spans.subjects).to_numpy(dtype=object)[spans.subject], spans.subject,
                      len(spans.subjects), index)
    studyid = dm["STUDYID"].iloc[0] if len(dm) else meta.studyid
    sv = frame_of_columns({
        "STUDYID": studyid, "DOMAIN": "SV", "USUBJID": usubjid, "VISITNUM": visitnum,
        "VISIT": planned_or_given("VISIT", spans.visit, spans.visits), "VISITDY": visitdy.astype("Int64"),
        "EPOCH": planned_or_given("EPOCH", spans.epoch, spans.epochs),
        "SVSTDTC": svstdtc, "SVENDTC": svendtc,
        "SVSTDY": dates.study_day(svstdtc, rf), "SVENDY": dates.study_day(svendtc, rf),
    }, index)
    if notes is not None:
        unplanned = ~visitnum.isin(sched.index).to_numpy()
        notes.update(_epoch_notes(spans, sv, unplanned, dm, order))
    return sv


def _epoch_notes(spans: _Spans, sv: pd.DataFrame, unplanned: np.ndarray, dm: pd.DataFrame, order: list[str]
                 ) -> dict[tuple[str, float], str]:
    """(SUBJID, VISITNUM) -> a note for each visit off the schedule (`unplanned`) whose EPOCH was a choice: its
    records at the start in different epochs, or none of them giving one; each worded by the rule that applied
    (a few visits: a loop over them)."""
    tie = ~np.isnan(spans.epoch) & (spans.epoch_last != spans.epoch)
    later = ~np.isnan(spans.epoch_from)
    subjid = dm.set_index("USUBJID")["SUBJID"] if "SUBJID" in dm.columns else pd.Series(dtype=object)
    out: dict[tuple[str, float], str] = {}
    for i in np.flatnonzero(unplanned & (tie | later)):
        row = sv.iloc[i]
        subject = str(subjid.get(row["USUBJID"], row["USUBJID"]))
        name = f"{row['VISIT']} " if isinstance(row["VISIT"], str) and row["VISIT"] else ""
        visit = f"visit {name}(VISITNUM {row['VISITNUM']:g}) starting {row['SVSTDTC']}"
        epoch = str(row["EPOCH"])
        lo, hi = np.searchsorted(spans.tie_visit, [i, i + 1])  # (every epoch of the tie, in the rule's order)
        others = [str(spans.epochs[c]) for c in spans.tie_epoch[lo:hi]][1:]
        differ = (f"in different epochs ({', '.join([epoch, *others])}): SV's EPOCH is {epoch}, "
                  f"{_tie_rule(epoch, others, order)}")
        if later[i]:
            taken = str(spans.texts[int(spans.epoch_from[i])])
            if _complete(taken):
                none, which = "at the start", f"its earliest record{{}} that give{{}} one ({taken})"
            else:  # (a partial date is placed as SVSTDTC takes one: the latest first, after every complete date)
                none = "at the start" if np.isnan(spans.start[i]) else "with a complete date"
                which = f"its record{{}} of the latest partial date among those that give one ({taken})"
            none = f"no record of it {none} gives an EPOCH"
            why = (f"{none}, and {which.format('s', '')} are {differ}" if tie[i]
                   else f"{none}: SV's EPOCH is {epoch}, that of {which.format('', 's')}")
        elif _date_only(str(row["SVSTDTC"])):
            why = ("its records of the start day, one of them dated without a time (so it cannot be put before or "
                   f"after the others: all are at the start), are {differ}")
        elif spans.finer[i]:
            unit = _unit(str(row["SVSTDTC"]))
            why = (f"its records of the start {unit}, one of them timed to the {unit} only (so it cannot be put "
                   f"before or after the others: all are at the start), are {differ}")
        else:
            why = f"its records at the start are {differ}"
        out[(subject, float(row["VISITNUM"]))] = (f"subject {subject}: {visit}: {why} (SDTMIG 3.4 SV assumption "
                                                  "15a: the epoch at the start of the visit); check the records' "
                                                  "dates, times and EPOCH")
    return out


def _tie_rule(chosen: str, others: list[str], order: list[str]) -> str:
    """Why `chosen` beat `others` at a visit's start: _epoch_ranks' order, as it applied to these."""
    known = set(order)
    if chosen.strip() not in known:  # (the schedule's epochs rank first: none of the others is one either)
        which = "neither" if len(others) == 1 else "none"
        return f"the first by name, as {which} is an epoch of study.yaml's visit schedule"
    unknown = [o for o in others if o.strip() not in known]
    not_among = f"{', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not among its epochs"
    if len(unknown) == len(others):
        return f"the one study.yaml's visit schedule names ({not_among})"
    place = "each epoch's place: its first planned visit" + (f"; {not_among}" if unknown else "")
    return f"the {'earlier' if len(others) == 1 else 'earliest'} in study.yaml's visit schedule ({place})"


def _unit(text: str) -> str:
    """What a date/time with a time is known to (2020-01-05T08: the hour; 08:30:15.5: the 0.1 second)."""
    if len(text) > 20:
        return f"{10.0 ** (20 - len(text)):g} second"
    return {13: "hour", 16: "minute", 19: "second"}.get(len(text), "time given")


def _complete(text: str) -> bool:
    return re.match(iso8601.COMPLETE_DATE, text) is not None


def _date_only(text: str) -> bool:
    return _complete(text) and len(text) == 10
