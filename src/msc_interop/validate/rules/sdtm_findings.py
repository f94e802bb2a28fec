"""SDTM rules on findings results (scope "sdtm"): --STRESN against --STRESC, --NRIND against the result and
range, --TESTCD/--PARMCD/QNAM length and form, one --LOBXFL per subject and test.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

from msc_interop.sdtm.reference_range import INDICATORS, indicator_codes
from msc_interop.validate.model import Finding, Reach, RuleMeta
from msc_interop.validate.registry import rule
from msc_interop.validate.rules.sdtm_context import SdtmContext, text_of

_CODE = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_NUMBER = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"


# --- findings results ------------------------------------------------------------------------------------------

def _number_of(u: pd.Series) -> pd.Series:
    """Numeric value of plain-number text ("39", "0.6", "-1e3"); NaN for "", "<2", "NEGATIVE"."""
    s = text_of(u).astype(str).str.strip()
    plain = s.str.fullmatch(_NUMBER).astype(bool)
    return pd.to_numeric(s.where(plain), errors="coerce").astype("float64")


@rule("MSC-SDTM-015", reach=Reach.SUBJECTS)
def stresn_equals_stresc(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df, (c_var, n_var) in ctx.having("STRESC", "STRESN"):
        expected = ctx.spread(ds, c_var, _number_of).astype("float64")
        stresn = pd.to_numeric(df[n_var], errors="coerce").astype("float64")
        both = stresn.notna() & expected.notna()
        differ = both & ~np.isclose(stresn.fillna(0), expected.fillna(0), rtol=1e-9, atol=1e-12)
        common = {"stresc_var": c_var, "stresc": df[c_var], "expected": expected}
        yield from ctx.at(meta, ds, differ, n_var, values=stresn, **common)
        yield from ctx.at(meta, ds, stresn.isna() & expected.notna(), n_var, values=stresn, variant="missing",
                          **common)
        yield from ctx.at(meta, ds, stresn.notna() & expected.isna(), n_var, values=stresn, variant="not_numeric",
                          **common)


@rule("MSC-SDTM-016", reach=Reach.SUBJECTS)
def nrind_consistent(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df, (nr, sn) in ctx.having("NRIND", "STRESN"):
        p = ctx.prefix(ds)
        lo_v, hi_v, sc = f"{p}STNRLO", f"{p}STNRHI", f"{p}STRESC"
        x = pd.to_numeric(df[sn], errors="coerce")
        lo = pd.to_numeric(df[lo_v], errors="coerce") if lo_v in df.columns else pd.Series(np.nan, index=df.index)
        hi = pd.to_numeric(df[hi_v], errors="coerce") if hi_v in df.columns else pd.Series(np.nan, index=df.index)
        is_normal = ctx.spread(ds, nr, lambda u: u.eq("NORMAL")).astype(bool)
        is_low = ctx.spread(ds, nr, lambda u: u.eq("LOW")).astype(bool)
        is_high = ctx.spread(ds, nr, lambda u: u.eq("HIGH")).astype(bool)
        # the builders' own derivation; --STRESN holds only results without a "<" or ">" qualifier
        codes = indicator_codes(x, None, lo, hi)  # (every --STRESN an exact result)
        exp_normal, exp_low, exp_high = (codes == INDICATORS.index(v) for v in ("NORMAL", "LOW", "HIGH"))
        expected = pd.Series(np.asarray(INDICATORS, dtype=object)[codes], index=df.index)  # shown in a finding
        # a result on a limit in standard units may have been beyond it in the original units (rounding to the
        # standard precision is monotone: it can make a result equal to a limit, never cross it): LOW or HIGH there
        on_lo, on_hi = x.eq(lo).to_numpy(dtype=bool, na_value=False), x.eq(hi).to_numpy(dtype=bool, na_value=False)
        contradict = ((is_normal & (exp_low | exp_high)) | (is_low & (exp_normal & ~on_lo | exp_high))
                      | (is_high & (exp_normal & ~on_hi | exp_low)))
        yield from ctx.at(meta, ds, contradict, nr, stresn_var=sn, stresn=x, lo=lo, hi=hi, expected=expected)
        if sc in df.columns:
            no_result = (ctx.spread(ds, nr, lambda u: u.ne("")).astype(bool) & x.isna()
                         & ctx.spread(ds, sc, lambda u: u.eq("")).astype(bool))
            yield from ctx.at(meta, ds, no_result, nr, variant="no_result", stresc_var=sc)


def _code_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if (c.endswith(("TESTCD", "PARMCD")) or c == "QNAM") and df[c].dtype == object]


@rule("MSC-SDTM-017", reach=Reach.SUBJECTS)
def code_length(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in ctx.frames():
        for col in _code_columns(df):
            length = ctx.spread(ds, col, lambda u: u.str.len().fillna(0).astype("int64"))
            yield from ctx.at(meta, ds, length.gt(8), col, length=length)


def _code_hint(value: str) -> str:
    fixed = re.sub(r"[^A-Z0-9_]", "_", value.strip().upper())
    if fixed and fixed[0].isdigit():
        return ""
    return f"; did you mean {fixed}?" if fixed != value and _CODE.match(fixed) else ""


@rule("MSC-SDTM-018", reach=Reach.SUBJECTS)
def code_form(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in ctx.frames():
        for col in _code_columns(df):
            hint = ctx.spread(ds, col, lambda u: [None if v == "" or _CODE.match(v) else _code_hint(v) for v in u])
            yield from ctx.at(meta, ds, hint.notna(), col, hint=hint)


@rule("MSC-SDTM-019", reach=Reach.SUBJECTS)
def one_lobxfl(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df, (flag, testcd) in ctx.having("LOBXFL", "TESTCD"):
        if "USUBJID" not in df.columns:
            continue
        p = ctx.prefix(ds)
        keys = ["USUBJID", testcd] + [c for c in (f"{p}CAT", f"{p}SPEC", f"{p}METHOD") if c in df.columns]
        ys = df.loc[ctx.spread(ds, flag, lambda u: u.eq("Y")).astype(bool), keys]
        size = ys.groupby(keys, sort=False)[testcd].transform("size") if len(ys) else None
        many = ys[size.gt(1)] if size is not None else ys
        if many.empty:
            yield from ctx.at(meta, ds, np.zeros(len(df), dtype=bool), flag)
            continue
        group = many.groupby(keys, sort=False).ngroup()
        rows = ctx.row_numbers(ds, df.index.get_indexer(many.index))  # the rows of the whole dataset
        listed = pd.Series(rows.astype(str), index=many.index).groupby(group).agg(", ".join)
        row_text = group.map(listed)
        mask = df.index.isin(many.index)
        yield from ctx.at(meta, ds, mask, flag, count=size.reindex(df.index), testcd_var=testcd, testcd=df[testcd],
                          rows=row_text.reindex(df.index, fill_value=""))
