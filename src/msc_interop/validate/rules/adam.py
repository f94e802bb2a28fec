"""ADaM rules (scope "adam") over the datasets of an ADaM folder (to-adam output): required variables, one ADSL
record per subject, BASE consistent with ABLFL, TRTEMFL Y or null, every subject in ADSL, population flags Y/N,
the folder's files that are not read, PARAMCD, PARAM and unit one-to-one."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from msc_interop.validate.model import Finding, RuleMeta
from msc_interop.validate.registry import bulk, rule


@dataclass
class AdamContext:
    """The ADaM datasets of one folder (by name, canonical frames: text str, numbers float64) and their files."""

    datasets: dict[str, pd.DataFrame]
    files: dict[str, str] = field(default_factory=dict)
    unread: list[tuple[str, str]] = field(default_factory=list)  # (file, why) of the folder's files not read

    def at(self, meta: RuleMeta, ds: str, mask: np.ndarray | pd.Series, variable: str = "", **columns: object
           ) -> list[Finding]:
        """Findings at the rows of `ds` where `mask` holds (row 1 = the first record)."""
        df = self.datasets[ds]
        idx = np.flatnonzero(np.asarray(mask, dtype=bool))
        extra = {k: (v.to_numpy()[idx] if isinstance(v, pd.Series) else v[idx] if isinstance(v, np.ndarray) else v)
                 for k, v in columns.items()}
        usubjid = df["USUBJID"].to_numpy(dtype=object)[idx] if "USUBJID" in df else ""
        value = df[variable].to_numpy(dtype=object)[idx] if variable in df else ""
        return bulk(meta, len(idx), file=self.files.get(ds, ""), dataset=ds, row=idx + 1, usubjid=usubjid,
                    variable=variable, value=value, **extra)


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
