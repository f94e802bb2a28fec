"""ADaM rules (scope "adam") over the datasets of an ADaM folder (to-adam output): required variables, one ADSL
record per subject, BASE consistent with ABLFL, TRTEMFL Y or null, every subject in ADSL, population flags Y/N,
the folder's files that are not read, PARAMCD, PARAM and unit one-to-one, CHG and PCHG as computed from AVAL and
BASE, PARAMCD a SAS name of at most 8 characters."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from msc_interop.validate.model import Finding, RuleMeta
from msc_interop.validate.registry import bulk, params, rule


@dataclass
class AdamContext:
    """The ADaM datasets of one folder (by name, canonical frames: text str, numbers float64) and their files."""

    datasets: dict[str, pd.DataFrame]
    files: dict[str, str] = field(default_factory=dict)
    unread: list[tuple[str, str]] = field(default_factory=list)  # (file, why) of the folder's files not read

    def at(self, meta: RuleMeta, ds: str, mask: np.ndarray | pd.Series, variable: str = "", *,
           variant: str | None = None, **columns: object) -> list[Finding]:
        """Findings at the rows of `ds` where `mask` holds (row 1 = the first record), in the message `variant`."""
        df = self.datasets[ds]
        idx = np.flatnonzero(np.asarray(mask, dtype=bool))
        extra = {k: (v.to_numpy()[idx] if isinstance(v, pd.Series) else v[idx] if isinstance(v, np.ndarray) else v)
                 for k, v in columns.items()}
        usubjid = df["USUBJID"].to_numpy(dtype=object)[idx] if "USUBJID" in df else ""
        value = df[variable].to_numpy(dtype=object)[idx] if variable in df else ""
        return bulk(meta, len(idx), variant=variant, file=self.files.get(ds, ""), dataset=ds, row=idx + 1,
                    usubjid=usubjid, variable=variable, value=value, **extra)


def _flag_text(s: pd.Series) -> pd.Series:
    return s.astype(object).where(s.notna(), "").astype(str)


@rule("MSC-ADAM-001")
def required_variables(ctx: AdamContext, meta: RuleMeta) -> Iterable[Finding]:
    from msc_interop.adam.metadata import datasets

    for ds, df in ctx.datasets.items():
        known = datasets().get(ds)
        if known is None:
            continue
        for v in known.variables:
            if v.core == "Req" and v.name not in df.columns:
                yield meta.finding(file=ctx.files.get(ds, ""), dataset=ds, variable=v.name)


@rule("MSC-ADAM-002")
def one_record_per_subject(ctx: AdamContext, meta: RuleMeta) -> Iterable[Finding]:
    adsl = ctx.datasets.get("ADSL")
    if adsl is None or "USUBJID" not in adsl:
        return
    counts = adsl["USUBJID"].map(adsl["USUBJID"].value_counts())
    yield from ctx.at(meta, "ADSL", adsl["USUBJID"].duplicated().to_numpy(), "USUBJID", count=counts)


def _bds(ctx: AdamContext) -> Iterator[tuple[str, pd.DataFrame]]:
    for ds, df in ctx.datasets.items():
        if {"USUBJID", "PARAMCD", "ABLFL"} <= set(df.columns):
            yield ds, df


@rule("MSC-ADAM-003")
def base_is_baseline_aval(ctx: AdamContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in _bds(ctx):
        if not {"BASE", "AVAL"} <= set(df.columns):
            continue
        flagged = df[_flag_text(df["ABLFL"]).eq("Y").to_numpy()].drop_duplicates(["USUBJID", "PARAMCD"])
        ref = flagged.set_index(["USUBJID", "PARAMCD"])["AVAL"]
        keys = pd.MultiIndex.from_frame(df[["USUBJID", "PARAMCD"]])
        expected = pd.Series(ref.reindex(keys).to_numpy(dtype="float64"), index=df.index)
        base = pd.to_numeric(df["BASE"], errors="coerce")
        same = (base == expected) | (base.isna() & expected.isna())
        yield from ctx.at(meta, ds, ~same.to_numpy(), "BASE", paramcd=df["PARAMCD"],
                          expected=expected.map(lambda x: "missing (no baseline record)" if pd.isna(x) else x))


@rule("MSC-ADAM-004")
def one_baseline(ctx: AdamContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in _bds(ctx):
        flagged = _flag_text(df["ABLFL"]).eq("Y")
        dup = df[["USUBJID", "PARAMCD"]].where(flagged).duplicated() & flagged
        yield from ctx.at(meta, ds, dup.to_numpy(), "ABLFL", paramcd=df["PARAMCD"])


@rule("MSC-ADAM-005")
def trtemfl_y_or_null(ctx: AdamContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in ctx.datasets.items():
        if "TRTEMFL" in df:
            v = _flag_text(df["TRTEMFL"])
            yield from ctx.at(meta, ds, ~v.isin(["Y", ""]).to_numpy(), "TRTEMFL")


@rule("MSC-ADAM-006")
def subjects_in_adsl(ctx: AdamContext, meta: RuleMeta) -> Iterable[Finding]:
    adsl = ctx.datasets.get("ADSL")
    if adsl is None or "USUBJID" not in adsl:
        return
    known = set(adsl["USUBJID"])
    for ds, df in ctx.datasets.items():
        if ds != "ADSL" and "USUBJID" in df:
            yield from ctx.at(meta, ds, ~df["USUBJID"].isin(known).to_numpy(), "USUBJID")


@rule("MSC-ADAM-007")
def population_flags(ctx: AdamContext, meta: RuleMeta) -> Iterable[Finding]:
    adsl = ctx.datasets.get("ADSL")
    if adsl is None:
        return
    for var in ("SAFFL", "ITTFL", "FASFL"):
        if var in adsl:
            yield from ctx.at(meta, "ADSL", ~_flag_text(adsl[var]).isin(["Y", "N"]).to_numpy(), var)


@rule("MSC-ADAM-008")
def files_not_read(ctx: AdamContext, meta: RuleMeta) -> Iterable[Finding]:
    for path, reason in ctx.unread:
        yield meta.finding(file=path, reason=reason)


def _unit_column(df: pd.DataFrame) -> str | None:
    """The BDS dataset's unit of AVAL: AVALU, else the copied SDTM standard unit (--STRESU)."""
    if "AVALU" in df:
        return "AVALU"
    return next((c for c in sorted(df.columns) if len(c) == 8 and c.endswith("STRESU")), None)


@rule("MSC-ADAM-009")
def param_one_to_one(ctx: AdamContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in ctx.datasets.items():
        if not {"PARAMCD", "PARAM"} <= set(df.columns):
            continue
        unit = _unit_column(df)
        for key, other in (("PARAMCD", "PARAM"), ("PARAM", "PARAMCD"), ("PARAMCD", unit)):
            if other is None:
                continue
            pairs = pd.DataFrame({"k": _flag_text(df[key]), "v": _flag_text(df[other])}).drop_duplicates()
            later = pairs[pairs["k"].duplicated()]  # the first record of each further value of `other`
            mask = np.zeros(len(df), dtype=bool)
            mask[later.index.to_numpy()] = True
            first = pairs.drop_duplicates("k").set_index("k")["v"]
            yield from ctx.at(meta, ds, mask, other, key=key, key_value=_flag_text(df[key]),
                              first=_flag_text(df[key]).map(first))


def _numbers(df: pd.DataFrame, col: str) -> np.ndarray:
    return pd.to_numeric(df[col], errors="coerce").to_numpy(dtype="float64")


def _shown(x: np.ndarray, where: np.ndarray) -> np.ndarray:
    """The computed numbers of the rows `where` holds as a report shows them, 10 significant digits (0.1 + 0.2 is
    0.3, not 0.30000000000000004); "" elsewhere (only the rows reported are formatted)."""
    out = np.full(len(x), "", dtype=object)
    out[where] = [f"{v:.10g}" for v in x[where].tolist()]
    return out


def _off(stored: np.ndarray, expected: np.ndarray, scale: np.ndarray, meta: RuleMeta) -> np.ndarray:
    """Where a stored derived number differs from its computation by more than the rule's relative tolerance of
    the magnitude of the numbers it comes from, at least 1 (mappings/validation_rules.yaml: relative_tolerance),
    and by more than half a unit of the stored number's last decimal (a PCHG stored as 12.35 is 12.3456 rounded:
    sponsors round derived values to the precision they report; params max_rounded_decimals)."""
    tolerance = float(params(meta, "relative_tolerance"))
    off = np.abs(stored - expected)
    return (off > tolerance * np.maximum(scale, 1.0)) & (off > _half_last_unit(stored, meta) * (1 + 1e-9))


def _half_last_unit(stored: np.ndarray, meta: RuleMeta) -> np.ndarray:
    """Half a unit of each number's last decimal where it has at most max_rounded_decimals of them (12.35: 0.005,
    40: 0.5), else 0: a number with more decimals than that was not rounded for reporting."""
    most = int(params(meta, "max_rounded_decimals"))
    out = np.zeros(len(stored))
    left = ~np.isnan(stored)
    with np.errstate(invalid="ignore", over="ignore"):
        for d in range(most + 1):
            at = left & (np.abs(np.round(stored, d) - stored) <= 1e-12 * np.maximum(np.abs(stored), 1.0))
            out[at] = 0.5 * 10.0 ** -d
            left &= ~at
    return out


@rule("MSC-ADAM-010")
def chg_is_aval_minus_base(ctx: AdamContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in ctx.datasets.items():
        if not {"CHG", "AVAL", "BASE"} <= set(df.columns):
            continue
        aval, base, chg = _numbers(df, "AVAL"), _numbers(df, "BASE"), _numbers(df, "CHG")
        filled = ~(np.isnan(aval) | np.isnan(base) | np.isnan(chg))
        with np.errstate(invalid="ignore"):
            expected = aval - base
            scale = np.maximum(np.maximum(np.abs(aval), np.abs(base)), np.abs(chg))
            bad = filled & _off(chg, expected, scale, meta)
        paramcd = df.get("PARAMCD", "")
        yield from ctx.at(meta, ds, bad, "CHG", paramcd=paramcd, aval=df["AVAL"], base=df["BASE"],
                          expected=_shown(expected, bad))


@rule("MSC-ADAM-011")
def pchg_is_percent_change(ctx: AdamContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in ctx.datasets.items():
        if not {"PCHG", "AVAL", "BASE"} <= set(df.columns):
            continue
        aval, base, pchg = _numbers(df, "AVAL"), _numbers(df, "BASE"), _numbers(df, "PCHG")
        paramcd = df.get("PARAMCD", "")
        zero = (base == 0) & ~np.isnan(pchg)  # no percent change of a zero baseline
        yield from ctx.at(meta, ds, zero, "PCHG", variant="base_zero", paramcd=paramcd)
        filled = ~(np.isnan(aval) | np.isnan(base) | np.isnan(pchg)) & (base != 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            expected = (aval - base) / base * 100.0
            scale = np.maximum(np.abs(pchg), 100.0 * np.maximum(np.abs(aval), np.abs(base)) / np.abs(base))
            bad = filled & _off(pchg, expected, scale, meta)
        yield from ctx.at(meta, ds, bad, "PCHG", paramcd=paramcd, aval=df["AVAL"], base=df["BASE"],
                          expected=_shown(expected, bad))


_SAS_NAME = r"[A-Za-z_][A-Za-z0-9_]{0,7}"


@rule("MSC-ADAM-012")
def paramcd_is_a_sas_name(ctx: AdamContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in ctx.datasets.items():
        if "PARAMCD" not in df:
            continue
        codes, uniques = pd.factorize(_flag_text(df["PARAMCD"]))
        values = pd.Series(uniques, dtype=object)
        bad = values.ne("") & ~values.str.fullmatch(_SAS_NAME).fillna(False).astype(bool)
        if not bad.any():
            continue
        first = np.full(len(values), -1, dtype=np.int64)
        first[codes[::-1]] = np.arange(len(codes))[::-1]  # each value's first row
        counts = np.bincount(codes, minlength=len(values))
        mask = np.zeros(len(df), dtype=bool)
        mask[first[bad.to_numpy()]] = True
        yield from ctx.at(meta, ds, mask, "PARAMCD", count=counts[codes], length=_flag_text(df["PARAMCD"]).str.len())
