"""SV (Subject Visits, SDTMIG 3.4 section 5.4): one record per visit a subject actually had.

SV has no form of its own: a visit was held when a dated record of any domain carries its VISITNUM. SVSTDTC
is the earliest and SVENDTC the latest complete date of the visit's records (--DTC, --STDTC, --ENDTC);
VISIT, EPOCH and VISITDY (the planned study day) come from the study's visit schedule (study.yaml), VISIT
and EPOCH from the records for a visit the schedule does not hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from msc_interop import dates, iso8601
from msc_interop.columns_frame import frame_of_columns
from msc_interop.distinct import coded, coded_by_key, column_codes
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
    the visit number, the first VISIT and EPOCH given (into `visits` / `epochs`; NaN: none), and the latest,
    earliest complete and latest complete date (into the sorted `texts`; NaN: none)."""

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


def _span_codes(parts: list[_Dated]) -> _Spans | None:
    """visit_spans' groups, on integer codes (the text is never copied or compared)."""
    if not parts:
        return None
    subject, subjects = _global([p.subject for p in parts])
    dtc, texts = _global([p.dtc for p in parts])
    visitnum, visitnums = _global([(c, np.asarray(u, dtype="float64")) for c, u in (p.visitnum for p in parts)])
    visit, visits = _global([p.visit for p in parts])
    epoch, epochs = _global([p.epoch for p in parts])
    text = pd.Series(texts, dtype=object).fillna("").astype(str)
    present_u = text.ne("").to_numpy()
    complete_u = text.str.match(iso8601.COMPLETE_DATE).astype(bool).to_numpy()
    rank_u, sorted_texts = pd.factorize(text, sort=True)  # ISO 8601 sorts as text: the rank orders the dates
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
    rank = rank_u[dtc].astype("float64")

    def nullable(codes: np.ndarray, values: np.ndarray) -> np.ndarray:  # NaN where the value is null ("first"
        return np.where(pd.isna(values)[codes], np.nan, codes)  # skips nulls)

    frame = pd.DataFrame({"key": key, "visit": nullable(visit, visits), "epoch": nullable(epoch, epochs),
                          "rank": rank, "complete": np.where(complete_u[dtc], rank, np.nan)})
    g = frame.groupby("key", sort=True).agg(visit=("visit", "first"), epoch=("epoch", "first"),
                                            partial=("rank", "max"), start=("complete", "min"),
                                            end=("complete", "max"))
    keys = g.index.to_numpy()
    return _Spans(keys // len(visit_order), np.asarray(subject_order, dtype=object),
                  np.asarray(visit_order, dtype="float64")[keys % len(visit_order)],
                  g["visit"].to_numpy(), np.asarray(visits, dtype=object), g["epoch"].to_numpy(),
                  np.asarray(epochs, dtype=object), g["partial"].to_numpy().astype(np.int64), g["start"].to_numpy(),
                  g["end"].to_numpy(), np.asarray(sorted_texts, dtype=object))


def _text_of(values: np.ndarray, of: np.ndarray) -> np.ndarray:
    """of[values], None where a value is NaN (no value / no date)."""
    missing = np.isnan(values)
    return np.where(missing, None, of[np.nan_to_num(values).astype(np.int64)])


def visit_spans(parts: list[_Dated]) -> pd.DataFrame | None:
    """One row per subject and visit number with a dated record (sorted by both): the first VISIT and EPOCH
    given (in the order of the parts and their rows), the latest date (PARTIAL), the earliest and latest
    complete dates (SVSTDTC, SVENDTC; None without one). As pandas' groupby of the rows would give it (first,
    max, min), on integer codes: the rows' text is never copied or compared (1M LB rows: ~0.6 s -> ~0.1 s).
    build_sv composes SV from the same codes (_span_codes); this frame of them is what the tests compare with
    pandas' groupby (tests/sdtm/test_sv_spans.py)."""
    spans = _span_codes(parts)
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


def build_sv(datasets: dict[str, pd.DataFrame], meta: StudyMeta, dm: pd.DataFrame) -> pd.DataFrame:
    """SV from every dataset with VISITNUM and a date; empty when no record is dated at a visit."""
    parts = []
    for name, df in datasets.items():
        if name in _SKIP or name.startswith("SUPP") or "VISITNUM" not in df.columns or df.empty:
            continue
        for col in (f"{name}DTC", f"{name}STDTC", f"{name}ENDTC"):
            if col in df.columns:
                parts.append(_Dated(df, col))
    spans = _span_codes(parts)
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
    return frame_of_columns({
        "STUDYID": studyid, "DOMAIN": "SV", "USUBJID": usubjid, "VISITNUM": visitnum,
        "VISIT": planned_or_given("VISIT", spans.visit, spans.visits), "VISITDY": visitdy.astype("Int64"),
        "EPOCH": planned_or_given("EPOCH", spans.epoch, spans.epochs),
        "SVSTDTC": svstdtc, "SVENDTC": svendtc,
        "SVSTDY": dates.study_day(svstdtc, rf), "SVENDY": dates.study_day(svendtc, rf),
    }, index)
