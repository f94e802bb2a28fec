"""ADEX: every EX record with the actual treatment and numeric dates, so that a summary read from the ADaM has
the administrations (exposure tables, infusion timing) the SDTM has."""

from __future__ import annotations

import pandas as pd

from msc_interop import dates
from msc_interop.adam import metadata, supp
from msc_interop.adam.adsl import treatment_of
from msc_interop.study import Study


def build_adex(study: Study, adsl: pd.DataFrame) -> pd.DataFrame:
    ex = study["EX"].reset_index(drop=True)
    out = supp.merge(study, "EX", ex.drop(columns=[c for c in ("DOMAIN",) if c in ex.columns]))
    qualifiers = out.attrs["supp"]
    trt = treatment_of(adsl)
    out["TRTA"] = out["USUBJID"].map(trt["TRTA"]).fillna("")
    out["TRTAN"] = out["USUBJID"].map(trt["TRTAN"]).astype("float64")
    for var, src in (("ASTDT", "EXSTDTC"), ("AENDT", "EXENDTC")):
        dt = dates.date_part(out[src]) if src in out else pd.Series(pd.NaT, index=out.index)
        out[var] = metadata.to_sas_date(dt)
    result = metadata.order("ADEX", out).reset_index(drop=True)
    result.attrs["supp"] = qualifiers
    return result
