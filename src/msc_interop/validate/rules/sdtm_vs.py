"""SDTM rules of the VS domain (scope "sdtm", MSC-SDTM-100..119): standard units per test, results without units,
units that are not the test's, values outside what a human body can show, standard results that are not the
conversion of the original one. Test knowledge (units, conversions, plausible ranges) is mappings/vital_signs.yaml;
tests it does not know are left alone by the rules that need it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import pandas as pd

from msc_interop import vital_signs
from msc_interop.validate.model import Finding, Reach, RuleMeta
from msc_interop.validate.registry import rule
from msc_interop.validate.rules.sdtm_context import SdtmContext, fact, text_of
from msc_interop.validate.rules.sdtm_events import _add_series


def _vs(ctx: SdtmContext) -> Iterator[tuple[str, pd.DataFrame]]:
    for ds, df in ctx.frames():
        if ctx.domain_of(ds) == "VS" and "VSTESTCD" in df.columns:
            yield ds, df


def _text(df: pd.DataFrame, col: str) -> pd.Series:
    return text_of(df[col]).astype(str) if col in df.columns else pd.Series("", index=df.index, dtype=object)


def _vs_unit_counts(ctx: SdtmContext) -> dict[str, pd.Series]:
    """Per dataset with VSTESTCD and VSSTRESU (whatever its domain): records per (test, standard unit)."""
    out = {}
    for ds, df in ctx.frames():
        if {"VSTESTCD", "VSSTRESU"} <= set(df.columns) and ctx.owns(ds):
            testcd, unit = _text(df, "VSTESTCD"), _text(df, "VSSTRESU")
            given = unit.ne("")
            counts = pd.DataFrame({"t": testcd[given], "u": unit[given]}).value_counts()
            if len(counts):
                out[ds] = counts
    return out


# a test's unit is the one most of its records in the whole dataset hold
VS_UNIT_COUNTS = fact("vs_unit_counts", _vs_unit_counts, _add_series)


@rule("MSC-SDTM-100", reach=Reach.SUBJECTS)
def stresu_consistent_per_test(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in _vs(ctx):
        if "VSSTRESU" not in df.columns or ds not in ctx.fact(VS_UNIT_COUNTS):
            continue
        testcd, unit = _text(df, "VSTESTCD"), _text(df, "VSSTRESU")
        given = unit.ne("")
        counts = ctx.fact(VS_UNIT_COUNTS)[ds].rename("count")
        units = counts.groupby(level="t").size()
        mixed = set(units[units > 1].index)
        if not mixed:
            continue
        # the unit most records of the test use (first in text order on a tie) is the test's
        major = (counts.reset_index().sort_values(["t", "count", "u"], ascending=[True, False, True])
                 .drop_duplicates("t").set_index("t")["u"])
        bad = given & testcd.isin(mixed) & unit.ne(testcd.map(major))
        listed = testcd.map(counts.reset_index().groupby("t")["u"].agg(lambda u: ", ".join(sorted(u))))
        yield from ctx.at(meta, ds, bad, "VSSTRESU", testcd=testcd, usual=testcd.map(major), units=listed)


@rule("MSC-SDTM-101", reach=Reach.SUBJECTS)
def result_without_unit(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    known = vital_signs.tests()
    for ds, df in _vs(ctx):
        testcd, orres, orresu = _text(df, "VSTESTCD"), _text(df, "VSORRES"), _text(df, "VSORRESU")
        number = pd.to_numeric(orres.str.strip(), errors="coerce").notna()
        bad = number & orresu.eq("") & testcd.isin(list(known))
        units = testcd.map(vital_signs.known_units)
        yield from ctx.at(meta, ds, bad, "VSORRESU", values=orres, testcd=testcd, units=units)


@rule("MSC-SDTM-102", reach=Reach.SUBJECTS)
def unit_not_of_the_test(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    known = vital_signs.tests()
    for ds, df in _vs(ctx):
        testcd = _text(df, "VSTESTCD")
        for col in ("VSORRESU", "VSSTRESU"):
            unit = _text(df, col)
            ok = _ok_pairs(pd.DataFrame({"t": testcd, "u": unit}), known)
            yield from ctx.at(meta, ds, ~ok, col, testcd=testcd,
                              units=testcd.map(vital_signs.known_units))


def _ok_pairs(pairs: pd.DataFrame, known: dict) -> np.ndarray:
    """Per row whether (test, unit) is fine, worked out once per distinct pair."""
    codes, uniq = pd.factorize(pairs["t"] + "\x1f" + pairs["u"])
    ok = np.array([u == "" or t not in known or vital_signs.unit_of(t, u) is not None
                   for t, u in (k.split("\x1f", 1) for k in uniq)] + [True], dtype=bool)
    return ok[codes]


@rule("MSC-SDTM-103", reach=Reach.SUBJECTS)
def implausible_value(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    tests = vital_signs.tests()
    for ds, df in _vs(ctx):
        if "VSSTRESN" not in df.columns:
            continue
        testcd, unit = _text(df, "VSTESTCD"), _text(df, "VSSTRESU")
        x = pd.to_numeric(df["VSSTRESN"], errors="coerce")
        std = testcd.map({k: t.standard_unit for k, t in tests.items()})
        lo = testcd.map({k: t.plausible[0] for k, t in tests.items()})
        hi = testcd.map({k: t.plausible[1] for k, t in tests.items()})
        bad = x.notna() & std.notna() & unit.eq(std) & ((x < lo) | (x > hi))
        yield from ctx.at(meta, ds, bad, "VSSTRESN", values=x, testcd=testcd, low=lo, high=hi, unit=unit)


@rule("MSC-SDTM-104", reach=Reach.SUBJECTS)
def stresn_not_the_conversion(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in _vs(ctx):
        if not {"VSORRES", "VSORRESU", "VSSTRESN", "VSSTRESU"} <= set(df.columns):
            continue
        std = vital_signs.standardize(_text(df, "VSTESTCD"), _text(df, "VSORRES"), _text(df, "VSORRESU"))
        x = pd.to_numeric(df["VSSTRESN"], errors="coerce")
        same_unit = std["VSSTRESU"].ne("") & std["VSSTRESU"].eq(_text(df, "VSSTRESU"))
        expected = std["VSSTRESN"].astype("float64")
        # a record rounded differently than mappings/vital_signs.yaml rounds is not wrong: 1 % of the value
        bad = same_unit & x.notna() & expected.notna() & ~np.isclose(x.fillna(0), expected.fillna(0), rtol=0.01)
        yield from ctx.at(meta, ds, bad, "VSSTRESN", values=x, expected=expected, orres=_text(df, "VSORRES"),
                          orresu=_text(df, "VSORRESU"), stresu=_text(df, "VSSTRESU"))
