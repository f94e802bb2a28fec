"""The ADaM datasets of a Study: ADSL first (every other dataset takes the treatment and dates from it)."""

from __future__ import annotations

import pandas as pd

from msc_interop.adam.adae import build_adae
from msc_interop.adam.adex import build_adex
from msc_interop.adam.adlb import build_adlb
from msc_interop.adam.adsl import build_adsl
from msc_interop.errors import InputError
from msc_interop.study import Study

__all__ = ["build_adam"]


def build_adam(study: Study, te_window: int | None = None) -> dict[str, pd.DataFrame]:
    """The ADaM datasets of `study` (ADSL always; ADAE, ADLB, ADEX when AE, LB, EX have records)."""
    if "DM" not in study or study["DM"].empty:
        raise InputError("ADaM needs the subjects: the input has no DM (demographics) records, so ADSL, the "
                         "one-record-per-subject dataset every other ADaM dataset refers to, cannot be made")
    adsl = build_adsl(study)
    out = {"ADSL": adsl}
    if "AE" in study and len(study["AE"]):
        out["ADAE"] = build_adae(study, adsl, te_window)
    if "LB" in study and len(study["LB"]):
        out["ADLB"] = build_adlb(study, adsl)
    if "EX" in study and len(study["EX"]):
        out["ADEX"] = build_adex(study, adsl)
    return out
