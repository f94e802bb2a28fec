"""SDTM rules of medical history (MH), procedures (PR) and the chest X-ray readings (RE): MSC-SDTM-140..146.

End of an ongoing condition against its end date, coding, reference time points, the procedure's date, a reading
without a result, link ids that point nowhere, history that starts on treatment. A rule whose dataset the
study lacks does not run.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from msc_interop.dates import certainly_before
from msc_interop.validate.model import Finding, Reach, RuleMeta
from msc_interop.validate.registry import rule
from msc_interop.validate.rules.sdtm_context import SdtmContext
from msc_interop.validate.rules.sdtm_events import _filled, _text
from msc_interop.validate.rules.sdtm_subjects import _dm

_ONGOING = {"ENRTPT": {"ONGOING"}, "ENRF": {"ONGOING", "DURING/AFTER", "AFTER"}}


def _of(ctx: SdtmContext, domain: str) -> Iterable[tuple[str, pd.DataFrame]]:
    return ((ds, df) for ds, df in ctx.frames() if ctx.domain_of(ds) == domain and "USUBJID" in df.columns)


@rule("MSC-SDTM-140", reach=Reach.SUBJECTS)
def ongoing_with_end(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in _of(ctx, "MH"):
        end = _filled(df, "MHENDTC")
        for suffix, values in _ONGOING.items():
            var = f"MH{suffix}"
            if var in df.columns:
                yield from ctx.at(meta, ds, _text(df, var).isin(values) & end, var, end=df["MHENDTC"])


@rule("MSC-SDTM-141", reach=Reach.SUBJECTS)
def uncoded_history(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in _of(ctx, "MH"):
        yield from ctx.at(meta, ds, _filled(df, "MHTERM") & ~_filled(df, "MHDECOD"), "MHTERM")


@rule("MSC-SDTM-142", reach=Reach.SUBJECTS)
def relative_end_without_time_point(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for domain in ("MH", "PR"):
        for ds, df in _of(ctx, domain):
            var, tpt = f"{domain}ENRTPT", f"{domain}ENTPT"
            if var in df.columns:
                yield from ctx.at(meta, ds, _filled(df, var) & ~_filled(df, tpt), var, tpt=tpt)


@rule("MSC-SDTM-143", reach=Reach.SUBJECTS)
def procedure_date(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in _of(ctx, "PR"):
        yield from ctx.at(meta, ds, ~_filled(df, "PRSTDTC"), "PRSTDTC", trt=df.get("PRTRT", ""))


@rule("MSC-SDTM-144", reach=Reach.SUBJECTS)
def reading_without_result(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in _of(ctx, "RE"):
        empty = ~_filled(df, "REORRES") & ~_filled(df, "RESTRESC") & _text(df, "RESTAT").ne("NOT DONE")
        yield from ctx.at(meta, ds, empty, "RETESTCD")


@rule("MSC-SDTM-145", reach=Reach.SUBJECTS)
def dangling_link(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    study = ctx.study
    if "PR" not in study or "RE" not in study:
        return
    pairs = (("RE", "RELNKID", "PR", "PRLNKID"), ("PR", "PRLNKID", "RE", "RELNKID"))
    for domain, var, other, other_var in pairs:
        there = study[other]
        if var not in study[domain].columns or other_var not in there.columns:
            continue
        keys = set(zip(_text(there, "USUBJID"), _text(there, other_var), strict=True))
        df = study[domain]
        has = _filled(df, var)
        found = pd.Series([k in keys for k in zip(_text(df, "USUBJID"), _text(df, var), strict=True)],
                          index=df.index, dtype=bool)
        yield from ctx.at(meta, domain, has & ~found, var, other=other)


@rule("MSC-SDTM-146", reach=Reach.SUBJECTS)
def history_after_first_dose(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    dm = _dm(ctx)
    if dm is None or "RFXSTDTC" not in dm.columns:
        return
    first = dict(zip(dm["USUBJID"], _text(dm, "RFXSTDTC"), strict=True))
    for ds, df in _of(ctx, "MH"):
        ref = df["USUBJID"].astype(str).map(first).astype(object).fillna("")
        start = _text(df, "MHSTDTC")
        after = pd.Series(certainly_before(ref, start), index=df.index, dtype=bool)
        yield from ctx.at(meta, ds, after, "MHSTDTC", first=ref)
