"""ADAE: every AE record with the actual treatment, imputed analysis dates and the treatment-emergent flag of the
safety summary (summary/teae.py: the same function flags both), plus the first-occurrence flags."""

from __future__ import annotations

import calendar

import numpy as np
import pandas as pd

from msc_interop import iso8601
from msc_interop.adam import metadata, supp
from msc_interop.adam.adsl import treatment_of
from msc_interop.study import Study
from msc_interop.summary import teae
from msc_interop.summary.populations import dose_dates


def summary_doses(adsl: pd.DataFrame) -> pd.DataFrame:
    """USUBJID, first, last: the dose dates of the safety population, as the summary passes them to teae.flag."""
    saf = adsl[adsl["SAFFL"].eq("Y")]
    return pd.DataFrame({"USUBJID": saf["USUBJID"].to_numpy(),
                         "first": metadata.from_sas_date(saf["TRTSDT"]).to_numpy(),
                         "last": metadata.from_sas_date(saf["TRTEDT"]).to_numpy()})


def _end_one(dtc: str) -> tuple[pd.Timestamp | None, str]:
    """AEENDTC -> (AENDT, AENDTF): a missing day is the month's last day (D), a missing month 31 December (M)."""
    m = iso8601.SDTM_DTC_PARTS.match(dtc.strip()) if dtc and dtc.strip() else None
    if m is None:
        return None, ""
    year, month, day = int(m.group(1)), m.group(2), m.group(3)
    month_ok = month is not None and month != "-"
    if month_ok and day is not None and day != "-":
        return pd.Timestamp(year, int(month), int(day)), ""
    if month_ok:
        return pd.Timestamp(year, int(month), calendar.monthrange(year, int(month))[1]), "D"
    return pd.Timestamp(year, 12, 31), "M"


def _relative_day(dt: pd.Series, ref: pd.Series) -> pd.Series:
    diff = (dt - ref).dt.days.astype("float64")
    return diff.where(diff < 0, diff + 1)


def _first_flag(df: pd.DataFrame, te: pd.Series, by: list[str]) -> np.ndarray:
    order = df.assign(_te=te.to_numpy(), _pos=np.arange(len(df))).sort_values([*by, "ASTDT", "AESEQ", "_pos"])
    order = order[order["_te"]]
    first = order.drop_duplicates(by)["_pos"].to_numpy()
    out = np.full(len(df), "", dtype=object)
    out[first] = "Y"
    return out


def build_adae(study: Study, adsl: pd.DataFrame, te_window: int | None = None) -> pd.DataFrame:
    """ADAE from AE (all records; TRTEMFL says which are treatment-emergent, as the summary's TEAE tables count)."""
    ae = study["AE"].sort_values(["USUBJID", "AESEQ"] if "AESEQ" in study["AE"] else ["USUBJID"],
                                 kind="stable").reset_index(drop=True)
    out = supp.merge(study, "AE", ae.drop(columns=[c for c in ("DOMAIN",) if c in ae.columns]))
    qualifiers = out.attrs["supp"]
    if "AESEQ" not in out:
        out["AESEQ"] = pd.array(range(1, len(out) + 1), dtype="Int64")
    for c in ("AESTDTC", "AEENDTC"):
        if c not in out:
            out[c] = ""
    trt = treatment_of(adsl)
    out["TRTA"] = out["USUBJID"].map(trt["TRTA"]).fillna("")
    out["TRTAN"] = out["USUBJID"].map(trt["TRTAN"]).astype("float64")
    doses = summary_doses(adsl)
    if doses.empty:  # nobody known treated: the summary then shows every subject, with the data's dose dates
        doses = dose_dates(study)
    else:  # the first dose as written (its clock time decides an AE on that day, as in the summary)
        doses["first_dtc"] = doses["USUBJID"].map(dose_dates(study).set_index("USUBJID")["first_dtc"]).fillna("")
    flagged = teae.flag(out[["USUBJID", "AESTDTC", "AEENDTC"]], doses, te_window)
    out["ASTDT"] = metadata.to_sas_date(flagged["ASTDT"])
    out["ASTDTF"] = flagged["ASTDTF"].to_numpy()
    ends = [_end_one(v) for v in out["AEENDTC"]]
    out["AENDT"] = metadata.to_sas_date(pd.Series([e[0] for e in ends], index=out.index, dtype="datetime64[ns]"))
    out["AENDTF"] = [e[1] for e in ends]
    trtsdt = metadata.from_sas_date(out["USUBJID"].map(trt["TRTSDT"]).astype("float64"))
    out["ASTDY"] = _relative_day(pd.to_datetime(flagged["ASTDT"]), trtsdt)
    te = flagged["TEAE"].eq("Y")
    out["TRTEMFL"] = np.where(te, "Y", "")
    soc = out["AEBODSYS"] if "AEBODSYS" in out else pd.Series("", index=out.index)
    soc = soc.where(soc.ne(""), out["AESOC"]) if "AESOC" in out else soc
    pt = out["AEDECOD"] if "AEDECOD" in out else pd.Series("", index=out.index)
    pt = pt.where(pt.ne(""), out["AETERM"]) if "AETERM" in out else pt
    keys = out[["USUBJID", "AESEQ", "ASTDT"]].assign(_soc=soc.to_numpy(), _pt=pt.to_numpy())
    out["AOCCFL"] = _first_flag(keys, te, ["USUBJID"])
    out["AOCCSFL"] = _first_flag(keys, te, ["USUBJID", "_soc"])
    out["AOCCPFL"] = _first_flag(keys, te, ["USUBJID", "_soc", "_pt"])
    result = metadata.order("ADAE", out).reset_index(drop=True)
    result.attrs["supp"] = qualifiers
    return result
