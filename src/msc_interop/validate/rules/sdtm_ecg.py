"""EG rules (scope "sdtm", MSC-SDTM-120..139): plausible intervals, the test's standard unit, interpretation
and finding terms. The terms come from mappings/ecg.yaml and codelists.json (sdtm/ecg_terms.py)."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from msc_interop import mappings
from msc_interop.sdtm import ecg_terms
from msc_interop.validate.model import Finding, Reach, RuleMeta
from msc_interop.validate.registry import rule
from msc_interop.validate.rules.sdtm_context import SdtmContext


def _eg(ctx: SdtmContext) -> Iterable[tuple[str, pd.DataFrame]]:
    for ds, df in ctx.frames():
        if ctx.domain_of(ds) == "EG" and "EGTESTCD" in df.columns:
            yield ds, df


def _text(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df.columns:
        return pd.Series("", index=df.index, dtype=object)
    return df[col].astype(object).where(df[col].notna(), "").astype(str)


@rule("MSC-SDTM-120", reach=Reach.SUBJECTS)
def plausible_interval(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    tests = ecg_terms.test_table()
    for ds, df in _eg(ctx):
        if "EGSTRESN" not in df.columns:
            continue
        testcd = _text(df, "EGTESTCD")
        x = pd.to_numeric(df["EGSTRESN"], errors="coerce")
        low, high = testcd.map(tests["low"]), testcd.map(tests["high"])
        bad = x.notna() & low.notna() & ((x < low) | (x > high))
        yield from ctx.at(meta, ds, bad, "EGSTRESN", testcd=testcd, unit=_text(df, "EGSTRESU"),
                          low=low.map(lambda v: f"{v:g}" if v == v else ""),
                          high=high.map(lambda v: f"{v:g}" if v == v else ""))


@rule("MSC-SDTM-121", reach=Reach.SUBJECTS)
def interval_unit(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    tests = ecg_terms.test_table()
    for ds, df in _eg(ctx):
        if "EGSTRESU" not in df.columns:
            continue
        testcd = _text(df, "EGTESTCD")
        expected = testcd.map(tests["unit"])
        unit = _text(df, "EGSTRESU")
        bad = expected.notna() & unit.ne("") & unit.ne(expected)
        yield from ctx.at(meta, ds, bad, "EGSTRESU", testcd=testcd, expected=expected.fillna(""))


@rule("MSC-SDTM-122", reach=Reach.SUBJECTS)
def result_terms(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    intp = ecg_terms.interpretation()
    normabnm = mappings.codelist(intp["codelist"]).values
    results = mappings.codelist("EGSTRESC").values
    tests = ecg_terms.test_table()
    for ds, df in _eg(ctx):
        testcd, stresc = _text(df, "EGTESTCD"), _text(df, "EGSTRESC")
        numeric = (pd.to_numeric(df["EGSTRESN"], errors="coerce").notna() if "EGSTRESN" in df.columns
                   else pd.Series(False, index=df.index))
        is_intp = testcd.eq(intp["testcd"])
        bad_intp = is_intp & stresc.ne("") & ~stresc.isin(normabnm)
        coded = ~is_intp & ~numeric & ~testcd.isin(tests.index) & stresc.ne("")
        bad_found = coded & ~stresc.isin(results)
        yield from ctx.at(meta, ds, bad_intp, "EGSTRESC", testcd=testcd,
                          codelist=f"{intp['codelist']} (Normal Abnormal Response)")
        yield from ctx.at(meta, ds, bad_found, "EGSTRESC", testcd=testcd, codelist="EGSTRESC (ECG Result, C71150)")
