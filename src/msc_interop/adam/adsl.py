"""ADSL: one record per DM subject, with the treatment, dates and population flags the safety summary derives
(summary/populations.py), so an analysis of the ADaM counts the subjects the summary counts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_interop.adam import metadata, supp
from msc_interop.study import Study
from msc_interop.summary._common import Population
from msc_interop.summary.populations import _arm_order, population


def _age_groups(age: pd.Series) -> tuple[pd.Series, pd.Series]:
    x = pd.to_numeric(age, errors="coerce")
    label = pd.Series("", index=age.index, dtype=object)
    n = pd.Series(np.nan, index=age.index, dtype="float64")
    for g in metadata.age_groups():
        sel = x.notna()
        if "min" in g:
            sel &= x >= g["min"]
        if "below" in g:
            sel &= x < g["below"]
        label[sel] = g["label"]
        n[sel] = float(g["n"])
    return label, n


def build_adsl(study: Study, pop: Population | None = None) -> pd.DataFrame:
    """ADSL from DM (every subject, screen failures included with SAFFL = ITTFL = N); DM's variables are copied."""
    dm = study["DM"].drop_duplicates("USUBJID").sort_values("USUBJID", kind="stable").reset_index(drop=True)
    pop = pop or population(study, "actual")
    allsub = pop.all.set_index("USUBJID").reindex(dm["USUBJID"])
    out = supp.merge(study, "DM", dm.drop(columns=[c for c in ("DOMAIN",) if c in dm.columns]))
    qualifiers = out.attrs["supp"]
    if "AGE" in out:
        out["AGEGR1"], out["AGEGR1N"] = _age_groups(out["AGE"])
    itt = allsub["ITTFL"].eq("Y").to_numpy()
    saf = allsub["SAFFL"].eq("Y").to_numpy()
    armcd = allsub["ARMCD"].fillna("").to_numpy(dtype=object)
    planned = _arm_order(study, sorted({a for a, i in zip(armcd, itt, strict=True) if i and a}))
    out["TRT01P"] = np.where(itt, allsub["ARM"].fillna("").to_numpy(dtype=object), "")
    out["TRT01PN"] = [float(planned.index(a) + 1) if i and a in planned else np.nan
                      for a, i in zip(armcd, itt, strict=True)]
    key = pop.subjects.set_index("USUBJID")["ARMCD"]
    act = dm["USUBJID"].map(key)
    out["TRT01A"] = [pop.label(k) if isinstance(k, str) and s else "" for k, s in zip(act, saf, strict=True)]
    out["TRT01AN"] = [float(pop.arms.index(k) + 1) if isinstance(k, str) and s and k in pop.arms else np.nan
                      for k, s in zip(act, saf, strict=True)]
    trtsdt = pd.to_datetime(pd.Series(allsub["TRTSDT"].to_numpy(), index=out.index))
    trtedt = pd.to_datetime(pd.Series(allsub["TRTEDT"].to_numpy(), index=out.index))
    out["TRTSDT"] = metadata.to_sas_date(trtsdt)
    out["TRTEDT"] = metadata.to_sas_date(trtedt)
    out["TRTDURD"] = out["TRTEDT"] - out["TRTSDT"] + 1
    out["SAFFL"] = np.where(saf, "Y", "N")
    out["ITTFL"] = np.where(itt, "Y", "N")
    out["FASFL"] = out["ITTFL"]
    result = metadata.order("ADSL", out).reset_index(drop=True)
    result.attrs["supp"] = qualifiers
    return result


def treatment_of(adsl: pd.DataFrame) -> pd.DataFrame:
    """USUBJID -> TRTA, TRTAN, TRTSDT, TRTEDT (the actual treatment of the safety population) for ADAE/ADLB/ADEX."""
    t = adsl[["USUBJID", "TRT01A", "TRT01AN", "TRTSDT", "TRTEDT"]].rename(columns={"TRT01A": "TRTA",
                                                                                 "TRT01AN": "TRTAN"})
    return t.set_index("USUBJID")
