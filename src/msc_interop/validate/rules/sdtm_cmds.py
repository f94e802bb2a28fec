"""SDTM rules of the CM, DS and SV domains (scope "sdtm"): CMENRF against the dates it summarises, an ongoing
medication with an end date, an uncoded medication, one disposition event per subject and epoch, and visits in
the data that SV does not hold or whose dates lie outside the SV visit.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from msc_interop import dates
from msc_interop.distinct import row_codes
from msc_interop.validate.columns import combined_codes
from msc_interop.validate.model import Finding, Reach, RuleMeta
from msc_interop.validate.registry import rule
from msc_interop.validate.rules.sdtm_context import SdtmContext, text_of

_SKIP_VISITS = ("SV", "DM", "TV", "TA", "TE", "TI", "TS")


def _text(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df.columns:
        return pd.Series("", index=df.index, dtype=object)
    return text_of(df[col]).fillna("").astype(str).str.strip()


def _by_domain(ctx: SdtmContext, domain: str) -> Iterable[tuple[str, pd.DataFrame]]:
    return ((ds, df) for ds, df in ctx.frames() if ctx.domain_of(ds) == domain)


def _dm_dates(ctx: SdtmContext, df: pd.DataFrame, col: str) -> pd.Series:
    dm = ctx.study.datasets.get("DM")
    if dm is None or col not in dm.columns or "USUBJID" not in df.columns:
        return pd.Series("", index=df.index, dtype=object)
    by_subject = dict(zip(_text(dm, "USUBJID"), _text(dm, col), strict=True))
    return _text(df, "USUBJID").map(lambda u: by_subject.get(u, "")).astype(object)


@rule("MSC-SDTM-160", reach=Reach.SUBJECTS)
def end_relative_to_reference(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in _by_domain(ctx, "CM"):
        if "CMENRF" not in df.columns or "CMENDTC" not in df.columns:
            continue
        end = dates.date_part(_text(df, "CMENDTC"))
        lo = dates.date_part(_dm_dates(ctx, df, "RFSTDTC"))
        hi = dates.date_part(_dm_dates(ctx, df, "RFENDTC"))
        enrf = _text(df, "CMENRF")
        known = end.notna() & lo.notna() & hi.notna()
        expected = pd.Series("", index=df.index, dtype=object)
        expected[known & (end < lo)] = "BEFORE"
        expected[known & (end >= lo) & (end <= hi)] = "DURING"
        expected[known & (end > hi)] = "AFTER"
        bad = known & enrf.isin(["BEFORE", "DURING", "AFTER"]) & enrf.ne(expected)
        yield from ctx.at(meta, ds, bad, "CMENRF", expected=expected, endtc=df["CMENDTC"])


@rule("MSC-SDTM-161", reach=Reach.SUBJECTS)
def ongoing_with_end_date(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in _by_domain(ctx, "CM"):
        bad = (_text(df, "CMENRTPT").eq("ONGOING") | _text(df, "CMENRF").eq("ONGOING")) & _text(df, "CMENDTC").ne("")
        yield from ctx.at(meta, ds, bad, "CMENDTC")


@rule("MSC-SDTM-162", reach=Reach.SUBJECTS)
def medication_not_coded(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in _by_domain(ctx, "CM"):
        if "CMDECOD" not in df.columns:
            continue
        yield from ctx.at(meta, ds, _text(df, "CMDECOD").eq("") & _text(df, "CMTRT").ne(""), "CMDECOD",
                          values=df["CMTRT"])


@rule("MSC-SDTM-163", reach=Reach.SUBJECTS)
def one_disposition_per_epoch(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in _by_domain(ctx, "DS"):
        if "EPOCH" not in df.columns or "USUBJID" not in df.columns:
            continue
        event = _text(df, "DSCAT").eq("DISPOSITION EVENT") if "DSCAT" in df.columns else pd.Series(True, df.index)
        key = pd.DataFrame({"u": _text(df, "USUBJID"), "e": _text(df, "EPOCH")})[event]
        dup = key.duplicated(keep="first") & key["e"].ne("")
        yield from ctx.at(meta, ds, dup.reindex(df.index, fill_value=False), "EPOCH")


def _sv_spans(ctx: SdtmContext) -> pd.DataFrame | None:
    """Each subject visit of SV with its first and last date (one row per USUBJID and VISITNUM); "subject": the
    subject's number among SV's subjects (_sv_subjects), on which the other datasets' rows are matched (_sv_row)."""
    return _sv_visits(ctx)[0]


def _sv_subjects(ctx: SdtmContext) -> pd.Index:
    """The texts of SV's subjects, in the order _sv_spans numbers them."""
    return _sv_visits(ctx)[1]


def _sv_visits(ctx: SdtmContext) -> tuple[pd.DataFrame | None, pd.Index]:
    def make() -> tuple[pd.DataFrame | None, pd.Index]:
        sv = next((ds for ds, _df in ctx.frames() if ctx.domain_of(ds) == "SV"), None)
        if sv is None or "VISITNUM" not in ctx.study[sv].columns:
            return None, pd.Index([])
        codes, text = ctx.distinct_text(sv, "USUBJID")
        number, subjects = pd.factorize(text)  # (distinct values may strip to one text)
        return pd.DataFrame({
            "USUBJID": ctx.text(sv, "USUBJID"), "VISITNUM": pd.to_numeric(ctx.study[sv]["VISITNUM"], errors="coerce"),
            "start": _dates(ctx, sv, "SVSTDTC"), "end": _dates(ctx, sv, "SVENDTC"), "subject": number[codes],
        }).drop_duplicates(["subject", "VISITNUM"]).reset_index(drop=True), pd.Index(subjects)
    return ctx.cached("sv_spans", make)


def _dates(ctx: SdtmContext, ds: str, col: str) -> pd.Series:
    """datetime64 of the complete dates of a --DTC column (NaT otherwise; ctx.complete_dates)."""
    df = ctx.study[ds]
    if col not in df.columns:
        return pd.Series(pd.NaT, index=df.index, dtype="datetime64[us]")
    codes, parsed = ctx.complete_dates(ds, col)
    return pd.Series(parsed[codes], index=df.index)


def _sv_row(ctx: SdtmContext, ds: str, df: pd.DataFrame, spans: pd.DataFrame) -> np.ndarray:
    """For each row of a dataset, the row of `spans` holding its USUBJID and VISITNUM (-1: SV has none), as a
    left merge on the two would match them (a null VISITNUM matches a null)."""
    def make() -> np.ndarray:
        # the rows' distinct (USUBJID, VISITNUM) pairs from the columns' codes, matched to SV on those only: a
        # subject by its number in SV (-1: none), a visit by its number
        subject_codes, subjects = ctx.distinct_text(ds, "USUBJID")
        visit_codes, visits = ctx.distinct(ds, "VISITNUM")
        pair, first = combined_codes([(subject_codes, len(subjects)), (visit_codes, len(visits))])
        in_sv = _sv_subjects(ctx).get_indexer(subjects)
        keys = pd.DataFrame({"subject": in_sv[subject_codes[first]],
                             "VISITNUM": pd.to_numeric(visits, errors="coerce").to_numpy()[visit_codes[first]]})
        both = pd.concat([spans[["subject", "VISITNUM"]], keys], ignore_index=True)
        codes, _ = row_codes(both)
        lookup = np.full(int(codes.max()) + 1 if len(codes) else 0, -1, dtype=np.int64)
        lookup[codes[:len(spans)]] = np.arange(len(spans))
        return lookup[codes[len(spans):]][pair]
    return ctx.cached(("sv_row", ds), make)


@rule("MSC-SDTM-164", reach=Reach.SUBJECTS)
def visit_not_in_sv(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    spans = _sv_spans(ctx)
    if spans is None:
        return
    for ds, df in ctx.frames():
        if ctx.domain_of(ds) in _SKIP_VISITS or ds.startswith("SUPP") or "VISITNUM" not in df.columns:
            continue
        num = pd.to_numeric(df["VISITNUM"], errors="coerce")
        bad = num.notna() & (_sv_row(ctx, ds, df, spans) < 0)
        yield from ctx.at(meta, ds, bad, "VISITNUM")


@rule("MSC-SDTM-165", reach=Reach.SUBJECTS)
def date_outside_sv_visit(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    spans = _sv_spans(ctx)
    if spans is None:
        return
    for ds, df in ctx.frames():
        p = ctx.prefix(ds)
        col = f"{p}DTC"
        if ctx.domain_of(ds) in _SKIP_VISITS or "VISITNUM" not in df.columns or col not in df.columns:
            continue
        at = _sv_row(ctx, ds, df, spans)
        span = pd.DataFrame({edge: pd.Series(np.append(spans[edge].to_numpy(), np.datetime64("NaT"))[at],
                                             index=df.index) for edge in ("start", "end")})
        d = _dates(ctx, ds, col)
        bad = d.notna() & span["start"].notna() & span["end"].notna() & ((d < span["start"]) | (d > span["end"]))
        flagged = span[bad.to_numpy(dtype=bool)]  # the dates as text only where a finding shows them
        yield from ctx.at(meta, ds, bad, col, svstdtc=flagged["start"].dt.strftime("%Y-%m-%d"),
                          svendtc=flagged["end"].dt.strftime("%Y-%m-%d"))
