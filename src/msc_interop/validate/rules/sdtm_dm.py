"""DM rules on one subject's record (scope "sdtm"): planned and actual arm against the Trial Arms dataset (P21
SD0066, SD0071), ARMCD and ARM one-to-one in TA (SD1033, SD1034), AGE a number not below 0 (SD0084) and not
implausibly high for its unit AGEU. The arm rules run only when the study has a TA dataset.

The values that are not arms of TA (SCRNFAIL, NOTASSGN, NOTTRT, UNPLAN and their descriptions: SDTMIG 3.2 DM
assumptions) and the plausible age per AGEU are the rules' parameters in mappings/validation_rules.yaml. A null
ARMCD / ACTARMCD (SDTMIG 3.3+: the reason is in ARMNRS) is never checked against TA.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from msc_interop.validate.model import Finding, Reach, RuleMeta
from msc_interop.validate.registry import params, rule
from msc_interop.validate.rules.sdtm_context import SdtmContext

_PAIRS = (("ARMCD", "ARM"), ("ACTARMCD", "ACTARM"))


def _ta_pairs(ctx: SdtmContext) -> pd.DataFrame | None:
    """TA's distinct (ARMCD, ARM) pairs as stripped text, or None when the study has no TA with both columns."""
    if "TA" not in ctx.study or not {"ARMCD", "ARM"} <= set(ctx.study["TA"].columns):
        return None
    pairs = pd.DataFrame({"code": ctx.text("TA", "ARMCD"), "name": ctx.text("TA", "ARM")})
    return pairs[pairs["code"].ne("")].drop_duplicates()


def _upper_in(values: pd.Series, terms: Iterable[str]) -> np.ndarray:
    return values.str.upper().isin([t.upper() for t in terms]).to_numpy(dtype=bool)


@rule("MSC-SDTM-042", reach=Reach.SUBJECTS)
def arm_is_a_trial_arm(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    ta = _ta_pairs(ctx)
    if ta is None or "DM" not in ctx.study:
        return
    dm = ctx.study["DM"]
    names_of_code = ta.groupby("code", sort=False)["name"].agg(lambda s: " / ".join(s)).to_dict()
    known = ta.assign(known=True).set_index(["code", "name"])["known"]
    exempt = params(meta, "not_arms")
    for code_var, name_var in _PAIRS:
        if code_var not in dm.columns:
            continue
        code, name = ctx.text("DM", code_var), ctx.text("DM", name_var)
        checked = code.ne("").to_numpy() & ~_upper_in(code, exempt[code_var]) & ~_upper_in(name, exempt[name_var])
        # vectorised join of the DM rows' pairs onto TA's: a left merge keeps DM's order and length
        joined = pd.DataFrame({"code": code.to_numpy(), "name": name.to_numpy()}).merge(
            known.reset_index(), on=["code", "name"], how="left")
        pair_in_ta = joined["known"].notna().to_numpy(dtype=bool)
        code_in_ta = code.isin(names_of_code.keys()).to_numpy(dtype=bool)
        ta_names = code.map(names_of_code).astype(object).fillna("")
        yield from ctx.at(meta, "DM", checked & ~code_in_ta, code_var, variant="code_unknown",
                          name_var=name_var, name=name, codes=", ".join(sorted(names_of_code)))
        if name_var in dm.columns:
            yield from ctx.at(meta, "DM", checked & code_in_ta & ~pair_in_ta, name_var, values=name,
                              code_var=code_var, code=code, ta_name=ta_names)


@rule("MSC-SDTM-043", reach=Reach.SUBJECTS)
def trial_arms_one_to_one(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    ta = _ta_pairs(ctx)
    if ta is None:
        return
    code, name = ctx.text("TA", "ARMCD"), ctx.text("TA", "ARM")
    filled = code.ne("") & name.ne("")
    for key, other, key_var, var in ((code, name, "ARMCD", "ARM"), (name, code, "ARM", "ARMCD")):
        # the first value each key has in TA's order is its own; a row with another one is reported
        first = other[filled].groupby(key[filled], sort=False).first()
        own = key.map(first).astype(object).fillna("")
        yield from ctx.at(meta, "TA", filled & other.ne(own), var, values=other, key_var=key_var, key=key,
                          first=own)


def _age(ctx: SdtmContext) -> tuple[pd.Series, pd.Series, pd.Series] | None:
    """(AGE as text, AGE as a number (NaN where not one), AGEU upper-case) of DM, or None without AGE."""
    if "DM" not in ctx.study or "AGE" not in ctx.study["DM"].columns:
        return None
    text = ctx.text("DM", "AGE")
    number = ctx.spread("DM", "AGE", lambda u: pd.to_numeric(u, errors="coerce")).astype(float)
    return text, number, ctx.text("DM", "AGEU").str.upper()


@rule("MSC-SDTM-044", reach=Reach.SUBJECTS)
def age_is_a_number_not_negative(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    age = _age(ctx)
    if age is None:
        return
    text, number, unit = age
    yield from ctx.at(meta, "DM", text.ne("") & number.isna(), "AGE", values=text, variant="not_number",
                      ageu=unit)
    yield from ctx.at(meta, "DM", number.lt(0), "AGE", values=text, ageu=unit)


@rule("MSC-SDTM-045", reach=Reach.SUBJECTS)
def age_is_plausible(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    age = _age(ctx)
    if age is None:
        return
    _text, number, unit = age
    max_years = float(params(meta, "max_years"))
    per_year = {u.upper(): float(f) for u, f in params(meta, "units_per_year").items()}
    limits = {u: max_years * f for u, f in per_year.items()}
    limit = unit.map(limits).astype(float)  # NaN for a unit not known here: not checked
    yield from ctx.at(meta, "DM", number.gt(limit).to_numpy(dtype=bool), "AGE", values=_text, ageu=unit,
                      limit=unit.map({u: f"{v:g}" for u, v in limits.items()}), max_years=f"{max_years:g}")
