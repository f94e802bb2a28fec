"""SDTM rules within a record of an Events, Interventions or Findings dataset (scope "sdtm"), the common P21
checks: an end time point for what started (P21 SD0021), a unit beside a numeric result (SD0026, SD0029), AE
seriousness against its criteria (SD1132), AE outcome against the end date (SD1332, SD1333), one standard unit
per test (SD0007). The cross-domain rules (DM, EX, DS, RELREC, baseline) are in sdtm_subjects.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from msc_interop.distinct import column_codes
from msc_interop.validate.model import Finding, Reach, RuleMeta
from msc_interop.validate.registry import params, rule
from msc_interop.validate.rules.sdtm_context import SdtmContext, fact, text_of


def _text(df: pd.DataFrame, col: str) -> pd.Series:
    """A column as stripped text ("" for null); an all-"" Series when the column is absent (for a frame outside
    the context's datasets; a rule on a dataset of the context asks `ctx.text`, which factorizes once per run).

    Converted on the distinct values and spread back (a million LB rows hold a few thousand)."""
    if col not in df.columns:
        return pd.Series("", index=df.index, dtype=object)
    codes, text = _distinct_text(df[col])
    return pd.Series(text[codes], index=df.index, dtype=object)


def _distinct_text(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(the rows' codes, each distinct value as _text makes it): the codes shared where to-sdtm found them
    already (distinct.column_codes)."""
    codes, uniques = column_codes(s)
    distinct = pd.Series(uniques, dtype=object if s.dtype == object else s.dtype)
    return codes, text_of(distinct).fillna("").astype(str).str.strip().to_numpy(dtype=object)


def _filled(df: pd.DataFrame, col: str) -> pd.Series:
    return _text(df, col).ne("")


def _has_text(ctx: SdtmContext, ds: str, col: str) -> np.ndarray:
    return ctx.text_is(ds, col, lambda t: t.ne(""))


@rule("MSC-SDTM-028", reach=Reach.SUBJECTS)
def end_time_point(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    classes = set(params(meta, "classes"))
    for ds, df in ctx.frames():
        p = ctx.prefix(ds)
        if ctx.spec(ds).sdtm_class not in classes or f"{p}ENDTC" not in df.columns or f"{p}STDTC" not in df.columns:
            continue
        ok = (_has_text(ctx, ds, f"{p}ENDTC") | _has_text(ctx, ds, f"{p}ENRTPT") | _has_text(ctx, ds, f"{p}ENRF")
              | _has_text(ctx, ds, f"{p}DUR") | _has_text(ctx, ds, f"{p}STAT") | ctx.text(ds, f"{p}OCCUR").eq("N"))
        yield from ctx.at(meta, ds, ~ok, f"{p}ENDTC", prefix=p)


def _numeric(s: pd.Series) -> pd.Series:
    """Whether each text value is a plain decimal number (matched on the distinct values)."""
    codes, uniques = pd.factorize(s, use_na_sentinel=False)
    match = pd.Series(uniques, dtype=object).str.fullmatch(r"[-+]?[0-9]*\.?[0-9]+").astype(bool).to_numpy()
    return pd.Series(match[codes], index=s.index, dtype=bool)


@rule("MSC-SDTM-029", reach=Reach.SUBJECTS)
def unit_with_result(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    unitless_codes = set(params(meta, "unitless_testcd"))
    unitless_names = re.compile("|".join(params(meta, "unitless_test_patterns")))
    for ds, df in ctx.frames():
        p = ctx.prefix(ds)
        if f"{p}TESTCD" not in df.columns:
            continue
        exempt = (ctx.text_is(ds, f"{p}TESTCD", lambda t: t.isin(unitless_codes))
                  | ctx.text_is(ds, f"{p}TEST", lambda t: t.str.fullmatch(unitless_names).astype(bool))
                  | ctx.text_is(ds, f"{p}STAT", lambda t: t.eq("NOT DONE")))
        for res, unit, variant in ((f"{p}ORRES", f"{p}ORRESU", None), (f"{p}STRESC", f"{p}STRESU", "std")):
            if res not in df.columns or unit not in df.columns:
                continue
            if variant is None:  # a plain decimal number, not zero
                number = ctx.text_is(ds, res, lambda t: _numeric(t).to_numpy() & t.ne("0").to_numpy())
            else:
                stresn = (pd.to_numeric(df[f"{p}STRESN"], errors="coerce").to_numpy(dtype="float64")
                          if f"{p}STRESN" in df.columns else np.full(len(df), np.nan))
                number = ctx.text_is(ds, res, _numeric) & ~(stresn == 0)
            has_unit = _has_text(ctx, ds, unit)
            # a test without a unit on any record has none by nature here (grades 1+, fractions): not a gap
            with_units = ctx.fact(TESTS_WITH_UNITS).get((ds, f"{p}TESTCD", unit), set())
            bad = number & ~exempt & ~has_unit & ctx.text_is(ds, f"{p}TESTCD", lambda t, w=with_units: t.isin(w))
            yield from ctx.at(meta, ds, bad, unit, values=df[res], variant=variant, result_var=res)


def _test_columns(df: pd.DataFrame, *suffixes: str) -> Iterable[tuple[str, str, list[str]]]:
    """(prefix, its --TESTCD, [its --<suffix> ...]) for each --TESTCD column with all the suffixes: by the column
    names, whatever the dataset's domain (a whole-study fact cannot ask the domain)."""
    for col in df.columns:
        if str(col).endswith("TESTCD"):
            p = str(col)[:-6]
            if all(f"{p}{s}" in df.columns for s in suffixes):
                yield p, str(col), [f"{p}{s}" for s in suffixes]


def _texts(ctx: SdtmContext, ds: str, col: str) -> tuple[np.ndarray, np.ndarray]:
    """(codes, distinct values as _text makes them), without a text per row; not kept in ctx.distinct (a
    whole-study fact needs them once), shared where to-sdtm found them already (distinct.column_codes)."""
    s = ctx.study[ds][col]
    codes, uniques = column_codes(s)
    distinct = pd.Series(uniques, dtype=object if s.dtype == object else s.dtype)
    return codes, text_of(distinct).fillna("").astype(str).str.strip().to_numpy(dtype=object)


def _tests_with_units(ctx: SdtmContext) -> dict[tuple[str, str, str], set[str]]:
    """Per (dataset, --TESTCD, unit variable): the tests with a unit on some record."""
    out = {}
    for ds, df in ctx.frames():
        for _p, testcd, (unit,) in (t for s in ("ORRESU", "STRESU") for t in _test_columns(df, s)):
            if ctx.owns(ds):
                (ct, tt), (cu, tu) = _texts(ctx, ds, testcd), _texts(ctx, ds, unit)
                out[(ds, testcd, unit)] = set(tt[np.unique(ct[(tu != "")[cu]])].tolist())
    return out


TESTS_WITH_UNITS = fact("tests_with_units", _tests_with_units,
                        lambda a, b: {k: a.get(k, set()) | b.get(k, set()) for k in {*a, *b}})


_CRITERIA = ("AESCAN", "AESCONG", "AESDISAB", "AESDTH", "AESHOSP", "AESLIFE", "AESMIE")


@rule("MSC-SDTM-030", reach=Reach.SUBJECTS)
def serious_when_a_criterion_is(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in ctx.frames():
        if ctx.domain_of(ds) != "AE" or "AESER" not in df.columns:
            continue
        present = [c for c in _CRITERIA if c in df.columns]
        if not present:
            continue
        yes = pd.concat([ctx.text(ds, c).str.upper().eq("Y") for c in present], axis=1)
        named = pd.Series([", ".join(c for c, v in zip(present, row, strict=True) if v)
                           for row in yes.itertuples(index=False)], index=df.index, dtype=object)
        bad = yes.any(axis=1) & ctx.text(ds, "AESER").ne("Y")
        yield from ctx.at(meta, ds, bad, "AESER", criteria=named)


@rule("MSC-SDTM-031", reach=Reach.SUBJECTS)
def outcome_and_end_date(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in ctx.frames():
        if ctx.domain_of(ds) != "AE" or "AEOUT" not in df.columns or "AEENDTC" not in df.columns:
            continue
        out, end = ctx.text(ds, "AEOUT"), _has_text(ctx, ds, "AEENDTC")
        yield from ctx.at(meta, ds, out.eq("NOT RECOVERED/NOT RESOLVED") & end, "AEOUT", end=df["AEENDTC"])
        no_end = out.eq("RECOVERED/RESOLVED") & ~end & ~_has_text(ctx, ds, "AEDUR")
        yield from ctx.at(meta, ds, no_end, "AEOUT", variant="recovered_no_end")


def _unit_keys(df: pd.DataFrame, p: str, testcd: str) -> list[str]:
    """What one test is: --TESTCD and the qualifiers that make two records of it different tests."""
    return [testcd] + [f"{p}{s}" for s in ("OBJ", "TSTDTL", "CAT", "SPEC", "METHOD", "MRKSTR")
                       if f"{p}{s}" in df.columns]


def _units_of(ctx: SdtmContext, ds: str, keys: list[str], stresu: str) -> pd.DataFrame:
    unit = ctx.text(ds, stresu)
    return pd.DataFrame({k: ctx.text(ds, k) for k in keys}).assign(_u=unit)[unit.ne("")]


def _unit_counts(ctx: SdtmContext) -> dict[tuple[str, str], pd.Series]:
    """Per (dataset, --TESTCD): records per test and standard unit (counted on the columns' codes)."""
    out = {}
    for ds, df in ctx.frames():
        for p, testcd, (stresu,) in _test_columns(df, "STRESU"):
            if not ctx.owns(ds) or not len(df):
                continue
            keys = _unit_keys(df, p, testcd)
            cols = [_texts(ctx, ds, c) for c in (*keys, stresu)]
            size = pd.DataFrame({i: c for i, (c, _t) in enumerate(cols)}).groupby(list(range(len(cols))),
                                                                                   sort=False).size()
            at = size.index.to_frame(index=False)
            text = pd.DataFrame({k: t[at[i].to_numpy()] for i, (k, (_c, t)) in enumerate(zip([*keys, "_u"], cols,
                                                                                             strict=True))})
            text["n"] = size.to_numpy()
            text = text[text["_u"].ne("")]
            if len(text):
                out[(ds, testcd)] = text.groupby([*keys, "_u"], sort=True)["n"].sum().rename(None)
    return out


def _add_series(a: dict[Any, pd.Series], b: dict[Any, pd.Series]) -> dict[Any, pd.Series]:
    both = {k: [s for s in (a.get(k), b.get(k)) if s is not None] for k in {*a, *b}}
    return {k: s[0] if len(s) == 1 else pd.concat(s).groupby(level=list(range(s[0].index.nlevels))).sum()
            for k, s in both.items()}


# the usual unit of a test is the one most records of the whole dataset hold
UNIT_COUNTS = fact("unit_counts", _unit_counts, _add_series)


@rule("MSC-SDTM-032", reach=Reach.SUBJECTS)
def one_unit_per_test(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df, (testcd, stresu) in ctx.having("TESTCD", "STRESU"):
        keys = _unit_keys(df, ctx.prefix(ds), testcd)
        counts = ctx.fact(UNIT_COUNTS).get((ds, testcd))
        if counts is None:
            continue  # no standard unit anywhere in the dataset
        counts = counts.rename("n").reset_index()
        counts = counts.sort_values([*keys, "n", "_u"], ascending=[True] * len(keys) + [False, True])
        usual = counts.drop_duplicates(keys).set_index(keys)["_u"]
        n_units = counts.groupby(keys).size()
        mixed = n_units[n_units.gt(1)].index
        if not len(mixed):
            continue
        frame = _units_of(ctx, ds, keys, stresu)  # the rows' texts only when a test has more than one unit
        if frame.empty:
            yield from ctx.at(meta, ds, np.zeros(len(df), dtype=bool), stresu)
            continue
        idx = pd.MultiIndex.from_frame(frame[keys]) if len(keys) > 1 else pd.Index(frame[keys[0]])
        in_mixed = idx.isin(mixed)
        expected = pd.Series(usual.reindex(idx).to_numpy(), index=frame.index)
        odd = pd.Series(False, index=df.index)
        odd.loc[frame.index] = in_mixed & (frame["_u"].to_numpy() != expected.to_numpy())
        yield from ctx.at(meta, ds, odd.to_numpy(), stresu, testcd_var=testcd, testcd=df[testcd],
                          usual=expected.reindex(df.index, fill_value=""))
