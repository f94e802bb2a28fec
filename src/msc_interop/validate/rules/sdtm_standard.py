"""The standard the study was checked against (scope "sdtm"): which SDTMIG version and from where (a notice when
it is not msc-interop's default 3.4 or needed interpreting), and define.xml and TS disagreeing about it."""

from __future__ import annotations

from collections.abc import Iterable

from msc_interop import mappings
from msc_interop.validate.model import Finding, Reach, RuleMeta
from msc_interop.validate.registry import rule
from msc_interop.validate.rules.sdtm_context import SdtmContext
from msc_interop.validate.standard import added_after


@rule("MSC-SDTM-025", reach=Reach.STUDY)
def sdtmig_version_used(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    std = ctx.standard
    if not std.worth_saying and std.source != "--sdtmig":
        return
    later = added_after(std.sdtmig)
    spared = "; ".join(f"{d}: {', '.join(sorted(v))}" for d, v in sorted(later.items())) or "none"
    remark = f" ({'; '.join(std.remarks)})" if std.remarks else ""
    yield meta.finding(file=ctx.source, version=std.sdtmig, source=std.source, remark=remark, spared=spared)


@rule("MSC-SDTM-026", reach=Reach.STUDY)
def sdtmig_version_conflict(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for conflict in ctx.standard_conflicts:
        yield meta.finding(file=ctx.source, conflict=conflict, version=ctx.standard.sdtmig,
                           source=ctx.standard.source)


@rule("MSC-SDTM-039", reach=Reach.STUDY)
def ct_version_used(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    std = ctx.standard
    used = mappings.ct_source().get("package_date", "")
    if std.ct and std.ct != used:
        yield meta.finding(file=ctx.source, used=used, stated=std.ct, source=std.ct_source)
