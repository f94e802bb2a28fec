"""SDTM rules across datasets, per subject (scope "sdtm"): planned and actual arm (P21 SD2236), exposure within
the subject's first and last treatment dates (SD1205-SD1207), a baseline record per subject in the findings
domains (SD0006), RELREC records that point at a record (SD0077), Disposition against Demographics (SD1374,
SD1256). A rule whose datasets the study lacks does not run (DS rules only when DS exists).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import pandas as pd

from msc_interop.dates import certainly_before_codes
from msc_interop.validate.model import Finding, Reach, RuleMeta, as_text
from msc_interop.validate.registry import bulk, params, rule
from msc_interop.validate.rules.sdtm_context import SdtmContext
from msc_interop.validate.rules.sdtm_events import _distinct_text, _filled, _text


def _dm(ctx: SdtmContext) -> pd.DataFrame | None:
    if "DM" not in ctx.study or "USUBJID" not in ctx.study["DM"].columns:
        return None
    return ctx.study["DM"]


@rule("MSC-SDTM-033", reach=Reach.SUBJECTS)
def actual_arm_is_planned(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    dm = _dm(ctx)
    if dm is None or "ARMCD" not in dm.columns or "ACTARMCD" not in dm.columns:
        return
    act = _text(dm, "ACTARMCD")
    yield from ctx.at(meta, "DM", act.ne("") & act.ne(_text(dm, "ARMCD")), "ACTARMCD", armcd=dm["ARMCD"])


@rule("MSC-SDTM-034", reach=Reach.SUBJECTS)
def exposure_within_reference(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    dm = _dm(ctx)
    if dm is None:
        return
    first = dict(zip(dm["USUBJID"], _text(dm, "RFXSTDTC"), strict=True))
    last = dict(zip(dm["USUBJID"], _text(dm, "RFXENDTC"), strict=True))
    for ds, df in ctx.frames():
        if ctx.domain_of(ds) != "EX" or "USUBJID" not in df.columns:
            continue
        # each row's reference dates are those of its subject: looked up per distinct subject, read through the
        # subjects' codes, the EX dates through their own (no text or factorization per row)
        subj_codes, subjects = ctx.distinct(ds, "USUBJID")
        subj = subjects.astype(str)
        refs = {"RFXSTDTC": subj.map(first).astype(object).fillna("").to_numpy(dtype=object),
                "RFXENDTC": subj.map(last).astype(object).fillna("").to_numpy(dtype=object)}
        checks = (("EXSTDTC", "RFXSTDTC", "before"), ("EXSTDTC", "RFXENDTC", "after"),
                  ("EXENDTC", "RFXENDTC", "after"))
        texts = {var: _distinct_text(df[var]) for var in ("EXSTDTC", "EXENDTC") if var in df.columns}
        for var, ref_var, side in checks:
            if var not in texts:
                continue
            codes, values = texts[var]
            ref = refs[ref_var]
            bad = (certainly_before_codes(codes, values, subj_codes, ref) if side == "before"
                   else certainly_before_codes(subj_codes, ref, codes, values))
            yield from ctx.at(meta, ds, bad, var, ref_var=ref_var, ref=ref[subj_codes], side=side)


def _in_arm(dm: pd.DataFrame) -> pd.Series:
    """Subjects P21 expects data of: assigned (ARMCD not SCRNFAIL/NOTASSGN/null) and treated (ACTARMCD not NOTTRT)."""
    arm = _text(dm, "ARMCD").str.upper()
    ok = arm.ne("") & ~arm.isin(["SCRNFAIL", "NOTASSGN"])
    if "ACTARMCD" in dm.columns:
        act = _text(dm, "ACTARMCD").str.upper()
        ok &= act.ne("") & act.ne("NOTTRT")
    return ok


@rule("MSC-SDTM-035", reach=Reach.SUBJECTS)
def baseline_per_subject(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    dm = _dm(ctx)
    if dm is None or "ARMCD" not in dm.columns:
        return
    at = np.flatnonzero(_in_arm(dm).to_numpy(dtype=bool))  # DM rows of the subjects expected, in DM order
    expected = dm["USUBJID"].astype(str).to_numpy()[at]
    by_domain: dict[str, list[str]] = {}
    for ds, _df in ctx.frames():
        if ctx.domain_of(ds) in params(meta, "domains"):
            by_domain.setdefault(ctx.domain_of(ds), []).append(ds)
    for domain, names in sorted(by_domain.items()):
        flagged: set[str] = set()
        for ds in names:
            df = ctx.study[ds]
            if "USUBJID" not in df.columns:
                continue
            y = np.zeros(len(df), dtype=bool)
            for flag in (f"{domain}BLFL", f"{domain}LOBXFL"):
                y |= ctx.text_is(ds, flag, lambda t: t.eq("Y"))
            codes, subjects = ctx.distinct(ds, "USUBJID")  # the subjects of the flagged rows, found on codes
            flagged |= set(subjects.iloc[np.unique(codes[y])].astype(str))
        gone = [i for i, s in enumerate(expected) if s not in flagged]
        missing = [expected[i] for i in gone]
        found = bulk(meta, len(missing), file=ctx.file(names[0]), dataset=", ".join(names), usubjid=missing,
                     variable=f"{domain}BLFL", domain=domain)
        # over partitions, each subject's finding goes where its DM row is
        yield from ctx.placed((", ".join(names), f"{domain}BLFL", None), found, ctx.row_numbers("DM", at[gone]))


def _datasets_of(ctx: SdtmContext, domain: str) -> list[str]:
    return [ds for ds in ctx.study.names if ctx.domain_of(ds) == domain and not ds.startswith("SUPP")]


def _record_keys(ctx: SdtmContext, domain: str, idvar: str) -> set[tuple[str, str]]:
    keys: set[tuple[str, str]] = set()
    for ds in _datasets_of(ctx, domain):
        df = ctx.study[ds]
        if idvar in df.columns and "USUBJID" in df.columns:
            keys |= set(zip(df["USUBJID"].astype(str), (as_text(v) for v in df[idvar]), strict=True))
    return keys


@rule("MSC-SDTM-036", reach=Reach.SUBJECTS)
def relrec_points_at_a_record(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    if "RELREC" not in ctx.study:
        return
    rr = ctx.study["RELREC"]
    if not {"RDOMAIN", "IDVAR", "IDVARVAL", "USUBJID"} <= set(rr.columns):
        return
    rdom, idvar, val, subj = (_text(rr, c) for c in ("RDOMAIN", "IDVAR", "IDVARVAL", "USUBJID"))
    cache: dict[tuple[str, str], set[tuple[str, str]]] = {}
    bad = np.zeros(len(rr), dtype=bool)
    for i, (d, v, x, s) in enumerate(zip(rdom, idvar, val, subj, strict=True)):
        if not d or not v or not s or not x:
            continue  # a dataset-level relationship (RELTYPE) names no record
        keys = cache.setdefault((d, v), _record_keys(ctx, d, v))
        bad[i] = (s, x) not in keys
    yield from ctx.at(meta, "RELREC", bad, "IDVARVAL", rdomain=rdom, idvar=idvar)


def _ds(ctx: SdtmContext) -> Iterator[tuple[str, pd.DataFrame]]:
    for ds in _datasets_of(ctx, "DS"):
        if "USUBJID" in ctx.study[ds].columns:
            yield ds, ctx.study[ds]


@rule("MSC-SDTM-037", reach=Reach.SUBJECTS)
def disposition_of_each_subject(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    dm = _dm(ctx)
    frames = list(_ds(ctx))
    if dm is None or not frames:
        return
    in_ds = set().union(*(set(df["USUBJID"].astype(str)) for _, df in frames))
    expected = _filled(dm, "ACTARMCD") if "ACTARMCD" in dm.columns else pd.Series(True, index=dm.index)
    bad = expected & ~dm["USUBJID"].astype(str).isin(in_ds)
    yield from ctx.at(meta, "DM", bad, "USUBJID")


@rule("MSC-SDTM-038", reach=Reach.SUBJECTS)
def death_in_disposition_and_dm(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    dm = _dm(ctx)
    if dm is None:
        return
    dthfl = dict(zip(dm["USUBJID"].astype(str), _text(dm, "DTHFL"), strict=True))
    for ds, df in _ds(ctx):
        if "DSDECOD" not in df.columns:
            continue
        subj = df["USUBJID"].astype(str)
        death = _text(df, "DSDECOD").str.upper().eq("DEATH")
        flag = subj.map(dthfl).astype(object).fillna("")  # object: no subject of DM here is still text
        bad = death & subj.isin(dthfl.keys()) & flag.ne("Y")
        yield from ctx.at(meta, ds, bad, "DSDECOD", dthfl=flag)
