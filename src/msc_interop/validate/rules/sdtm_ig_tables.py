"""SDTM rules on the variables a standard domain may hold (scope "sdtm"), from the SDTMIG 3.4 domain tables of
mappings/sdtmig_domains.yaml: a Model Permissible variable added (P21 SD1076) and a variable the SDTM model does
not have for the domain (P21 SD0058). Only domains held there are checked; a sponsor domain is not."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from msc_interop.validate.model import Finding, Reach, RuleMeta
from msc_interop.validate.registry import rule
from msc_interop.validate.rules.sdtm_context import SdtmContext
from msc_interop.validate.standard import ig_table, ig_table_version


def _columns_by_core(ctx: SdtmContext) -> Iterator[tuple[str, str, str, str | None]]:
    """(dataset, domain, column, its Core in the domain's SDTMIG table or None) for each dataset of a held domain."""
    for ds, df in ctx.frames():
        domain = ctx.domain_of(ds)
        table = ig_table(domain)
        if table is None:
            continue
        for col in df.columns:
            yield ds, domain, str(col), table.get(str(col).upper())


def _context(ctx: SdtmContext, ds: str, domain: str) -> dict[str, str]:
    version = ctx.standard.sdtmig
    used = ig_table_version()
    note = "" if version == used else f"; the study is SDTMIG {version}, checked against the {used} table"
    return {"domain": domain, "cls": ctx.spec(ds).sdtm_class or "", "version": used, "note": note}


@rule("MSC-SDTM-040", reach=Reach.STUDY)
def model_permissible_added(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    exempt = set(meta.params.get("exempt", ()))
    suffixes = tuple(meta.params.get("exempt_suffixes", ()))
    for ds, domain, col, core in _columns_by_core(ctx):
        if core == "Model Permissible" and col not in exempt and not col.endswith(suffixes):
            yield meta.finding(file=ctx.file(ds), dataset=ds, variable=col, **_context(ctx, ds, domain))


@rule("MSC-SDTM-041", reach=Reach.STUDY)
def not_in_model(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, domain, col, core in _columns_by_core(ctx):
        if core is None:
            yield meta.finding(file=ctx.file(ds), dataset=ds, variable=col, **_context(ctx, ds, domain))
