"""SDTM rules on dates, study days and visits (scope "sdtm"): --DTC in extended ISO 8601, --DY against the
study day of its --DTC, start not after end, VISITNUM and VISIT one to one.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from msc_interop import dates, iso8601
from msc_interop.validate.model import Finding, Reach, RuleMeta, as_text
from msc_interop.validate.registry import rule
from msc_interop.validate.rules.sdtm_context import SdtmContext, fact

# --- dates and study days ------------------------------------------------------------------------------------

_SMALL = 256  # below this many distinct values, a Python loop beats the fixed cost of pandas string methods

def _dtc_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c.endswith("DTC") and df[c].dtype == object]


@rule("MSC-SDTM-006", reach=Reach.SUBJECTS)
def iso8601_extended(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in ctx.frames():
        for col in _dtc_columns(df):
            codes, hints = ctx.columns.answer(ds, col, dates.dtc_hints)  # per distinct value
            flagged = hints != ""
            if not flagged.any():  # (the common case: no row's value to spread)
                yield from ctx.at(meta, ds, np.zeros(len(df), dtype=bool), col)
                continue
            yield from ctx.at(meta, ds, flagged[codes], col, hint=pd.Series(hints[codes], index=df.index))


def _dy_pairs(df: pd.DataFrame) -> list[tuple[str, str]]:
    """(--DY variable, its --DTC variable): LBDY/LBDTC, EXSTDY/EXSTDTC, AEENDY/AEENDTC ..."""
    return [(c, c[:-2] + "DTC") for c in df.columns if c.endswith("DY") and c[:-2] + "DTC" in df.columns]


def _day_numbers(u: pd.Series) -> np.ndarray:
    """Days since 1970-01-01 of the complete dates (YYYY-MM-DD, with or without a time); NaN otherwise."""
    if len(u) >= _SMALL:
        parsed = dates.each_date_part(u).to_numpy(dtype="datetime64[us]")  # (ns wraps past 2262: a year typo)
        return (parsed - np.datetime64("1970-01-01", "us")) / np.timedelta64(1, "D")
    out = np.full(len(u), np.nan)
    for i, v in enumerate(u):
        m = iso8601.COMPLETE_DATE_PARTS.match(v) if isinstance(v, str) else None
        if m:
            y, mo, d = (int(g) for g in m.groups())
            if 1 <= mo <= 12 and 1 <= d <= calendar.monthrange(y, mo)[1]:
                out[i] = (date(y, mo, d) - date(1970, 1, 1)).days
    return out


@dataclass
class _StudyDays:
    """One --DY and its --DTC, as numbers per row (what the rules flag from); the text a finding shows is made
    only for a rule that flags a row (dtc, rf, expected)."""

    index: pd.Index
    dy: np.ndarray  # float64, NaN: no number
    expected: np.ndarray  # float64: the study day of --DTC; NaN where either date is partial or missing
    in_dm: np.ndarray  # bool: the subject is in DM
    dtc_complete: np.ndarray  # bool: --DTC is a complete date
    dtc: pd.Series
    rf_u: np.ndarray  # each distinct subject's RFSTDTC ("" where none)
    subject_codes: np.ndarray

    def rf(self) -> pd.Series:
        return pd.Series(self.rf_u[self.subject_codes], index=self.index, dtype=object)

    def expected_days(self) -> pd.Series:
        return pd.Series(self.expected, index=self.index).astype("Int64")


def _study_days(ctx: SdtmContext) -> list[tuple[str, str, str, _StudyDays]]:
    return ctx.cached("study_days", lambda: list(_compute_study_days(ctx)))


def _compute_study_days(ctx: SdtmContext) -> Iterator[tuple[str, str, str, _StudyDays]]:
    """--DY against the study day of its --DTC (SDTMIG 4.4.4), all on distinct values: dates per distinct --DTC,
    RFSTDTC per distinct subject; the rows compare float64 day numbers in numpy."""
    ref = ctx.dm_rfstdtc
    if ref is None:
        return
    for ds, df in ctx.frames():
        if "USUBJID" not in df.columns:
            continue
        pairs = _dy_pairs(df)
        if not pairs:
            continue
        subj_codes, subjects = ctx.distinct(ds, "USUBJID")
        rf_u = subjects.map(ref).astype(object).fillna("").to_numpy(dtype=object)
        in_dm = subjects.isin(ref.index).to_numpy()[subj_codes]
        rf_day = _day_numbers(pd.Series(rf_u, dtype=object))[subj_codes]
        for dy_var, dtc_var in pairs:
            dtc_codes, dtc_dates = ctx.complete_dates(ds, dtc_var)
            dtc_day = ((dtc_dates - np.datetime64("1970-01-01", "us")) / np.timedelta64(1, "D"))[dtc_codes]
            days = dtc_day - rf_day  # NaN where either date is partial or missing
            expected = np.where(days >= 0, days + 1, days)
            dy = pd.to_numeric(df[dy_var], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
            yield ds, dy_var, dtc_var, _StudyDays(df.index, dy, expected, in_dm, ~np.isnan(dtc_day), df[dtc_var],
                                                  rf_u, subj_codes)


@rule("MSC-SDTM-007", reach=Reach.SUBJECTS)
def study_day_matches(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, dy_var, dtc_var, s in _study_days(ctx):
        with np.errstate(invalid="ignore"):
            bad = ~np.isnan(s.dy) & ~np.isnan(s.expected) & (s.dy != 0) & (s.dy != s.expected)
        if not bad.any():
            yield from ctx.at(meta, ds, bad, dy_var)
            continue
        yield from ctx.at(meta, ds, bad, dy_var, dtc_var=dtc_var, dtc=s.dtc, rfstdtc=s.rf(),
                          expected=s.expected_days())


@rule("MSC-SDTM-008", reach=Reach.SUBJECTS)
def no_day_zero(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in ctx.frames():
        for dy_var in (c for c in df.columns if c.endswith("DY") and pd.api.types.is_numeric_dtype(df[c])):
            yield from ctx.at(meta, ds, df[dy_var].eq(0).fillna(False), dy_var)


@rule("MSC-SDTM-009", reach=Reach.SUBJECTS)
def no_day_from_partial_date(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, dy_var, dtc_var, s in _study_days(ctx):
        bad = ~np.isnan(s.dy) & np.isnan(s.expected) & s.in_dm
        if not bad.any():
            yield from ctx.at(meta, ds, bad, dy_var)
            continue
        rows = s.dtc.index[bad]
        dtc, rf = s.dtc[rows], s.rf()[rows]
        complete = pd.Series(s.dtc_complete, index=s.index)[rows]
        reason = (dtc_var + " '" + dtc.astype(str) + "' is not a complete date").where(dtc.ne(""),
                                                                                         f"{dtc_var} is missing")
        rf_reason = ("the subject's RFSTDTC '" + rf.astype(str) + "' is partial").where(
            rf.ne(""), "the subject's RFSTDTC is missing")
        yield from ctx.at(meta, ds, bad, dy_var, reason=reason.where(~complete, rf_reason))


# --- start and end, visits ------------------------------------------------------------------------------------

def _start_end_pairs(df: pd.DataFrame, prefix: str) -> list[tuple[str, str]]:
    pairs = [(f"{prefix}STDTC", f"{prefix}ENDTC"), ("RFSTDTC", "RFENDTC"), ("RFXSTDTC", "RFXENDTC")]
    return [(a, b) for a, b in pairs if a in df.columns and b in df.columns]


def _as_str(values: pd.Series) -> np.ndarray:
    """Each value as str() makes it (the rules compare a number of a year-only column as its text)."""
    return np.array([str(v) for v in values.tolist()], dtype=object)


def _distinct_str(ctx: SdtmContext, ds: str, col: str) -> tuple[np.ndarray, np.ndarray]:
    """(the rows' codes, each distinct value as _as_str makes it): all text, the distinct values themselves (the
    array dates.certainly_before_codes keeps its analysis of, shared with MSC-SDTM-006's)."""
    codes, u = ctx.distinct(ds, col)
    arr = u.to_numpy(dtype=object)
    return codes, arr if pd.api.types.infer_dtype(arr, skipna=False) == "string" else _as_str(u)


@rule("MSC-SDTM-012", reach=Reach.SUBJECTS)
def start_not_after_end(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in ctx.frames():
        for st, en in _start_end_pairs(df, ctx.prefix(ds)):
            (c1, starts), (c2, ends) = _distinct_str(ctx, ds, st), _distinct_str(ctx, ds, en)
            bad = dates.certainly_before_codes(c2, ends, c1, starts)  # a start after its end: the end before it
            yield from ctx.at(meta, ds, bad, st, end_var=en, end=df[en])


_AFTER_BIRTH = ("RFICDTC", "RFSTDTC", "RFXSTDTC", "DTHDTC")


@rule("MSC-SDTM-027", reach=Reach.SUBJECTS)
def born_before(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    if "DM" not in ctx.study or "BRTHDTC" not in ctx.study["DM"].columns:
        return
    dm = ctx.study["DM"]
    found = np.zeros(len(dm), dtype=bool)
    birth_codes, births = _distinct_str(ctx, "DM", "BRTHDTC")
    for other in (c for c in _AFTER_BIRTH if c in dm.columns):  # one finding per subject: the first date
        bad = ~found & dates.certainly_before_codes(*_distinct_str(ctx, "DM", other), birth_codes, births)
        found |= bad
        yield from ctx.at(meta, "DM", bad, "BRTHDTC", other_var=other, other=dm[other])


def _visit_pairs(ctx: SdtmContext) -> list[tuple[str, list[tuple[float, str]], np.ndarray, np.ndarray]]:
    """Per dataset with VISITNUM and VISIT: its distinct (VISITNUM, VISIT) pairs, their counts and each row's pair."""
    def make() -> list[tuple[str, list[tuple[float, str]], np.ndarray, np.ndarray]]:
        out = []
        for ds, df in ctx.frames():
            if "VISITNUM" not in df.columns or "VISIT" not in df.columns:
                continue
            cn, un = ctx.distinct(ds, "VISITNUM")
            cv, uv = ctx.distinct(ds, "VISIT")
            width = len(uv) + 1
            codes, inverse, counts = np.unique(cn.astype(np.int64) * width + cv, return_inverse=True,
                                               return_counts=True)
            nums = pd.to_numeric(un, errors="coerce").to_numpy(dtype="float64")
            pairs = [(float(nums[k // width]), str(uv.iloc[k % width])) for k in codes.tolist()]
            out.append((ds, pairs, counts, inverse.ravel()))
        return out

    return ctx.cached("visit_pairs", make)


def _visit_totals(ctx: SdtmContext) -> dict[tuple[float, str], int]:
    """How many records hold each (VISITNUM, VISIT) pair, over every dataset with both."""
    totals: dict[tuple[float, str], int] = {}
    for ds, pairs, counts, _inv in _visit_pairs(ctx):
        if not ctx.owns(ds):
            continue
        for pair, n in zip(pairs, counts.tolist(), strict=True):
            if pair[0] == pair[0] and pair[1] != "":  # VISITNUM not missing, VISIT not empty
                totals[pair] = totals.get(pair, 0) + n
    return totals


def _add_counts(a: dict[Any, int], b: dict[Any, int]) -> dict[Any, int]:
    return {k: a.get(k, 0) + b.get(k, 0) for k in {*a, *b}}


# the usual VISIT of a VISITNUM (and the reverse) is the one most records of the whole study hold
VISIT_TOTALS = fact("visit_totals", _visit_totals, _add_counts)


def _one_to_one(ctx: SdtmContext, meta: RuleMeta, key: str) -> Iterator[Finding]:
    """Rows whose VISIT (key VISITNUM) or VISITNUM (key VISIT) differs from the usual one of their key."""
    parts = _visit_pairs(ctx)
    totals = ctx.fact(VISIT_TOTALS)
    k = 0 if key == "VISITNUM" else 1
    by_key: dict[Any, list[tuple[int, Any, tuple[float, str]]]] = {}
    for pair, n in totals.items():
        by_key.setdefault(pair[k], []).append((-n, str(pair[1 - k]), pair))
    usual: dict[Any, tuple[Any, int]] = {}
    bad: set[tuple[float, str]] = set()
    for kv, options in by_key.items():
        if len(options) > 1:
            options.sort()
            usual[kv] = (options[0][2][1 - k], -options[0][0])
            bad.update(o[2] for o in options[1:])
    if not bad:
        return
    for ds, pairs, _counts, inverse in parts:
        flags = np.array([p in bad for p in pairs], dtype=bool)
        mask = flags[inverse]
        rows = np.flatnonzero(mask)
        chosen = [pairs[i] for i in inverse[rows].tolist()]
        df = ctx.study[ds]
        idx = df.index[rows]
        other_name = "visit" if key == "VISITNUM" else "visitnum"
        yield from ctx.at(
            meta, ds, mask, key, values=pd.Series([as_text(p[k]) for p in chosen], index=idx),
            **{other_name: pd.Series([as_text(p[1 - k]) for p in chosen], index=idx),
               "usual": pd.Series([as_text(usual[p[k]][0]) for p in chosen], index=idx),
               "count": pd.Series([usual[p[k]][1] for p in chosen], index=idx)})


@rule("MSC-SDTM-013", reach=Reach.SUBJECTS)
def visitnum_one_visit(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    return _one_to_one(ctx, meta, "VISITNUM")


@rule("MSC-SDTM-014", reach=Reach.SUBJECTS)
def visit_one_visitnum(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    return _one_to_one(ctx, meta, "VISIT")
