"""ADLB (BDS): every LB record as an analysis record, with baseline, change and reference-range indicators as the
safety summary's lab tables derive them (summary/lab_data.py), so the ADaM and the tables agree."""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_interop import dates
from msc_interop.adam import metadata, supp
from msc_interop.adam.adsl import treatment_of
from msc_interop.study import Study
from msc_interop.summary.lab_data import NR, LabData, param_data, prepare


def build_adlb(study: Study, adsl: pd.DataFrame) -> pd.DataFrame:
    """ADLB from LB: PARAMCD/PARAM per test and standard unit, AVAL from LBSTRESN, ABLFL/BASE/CHG/PCHG, ANL01FL on
    the records the by-visit tables use."""
    lb = study["LB"].reset_index(drop=True)
    d = prepare(lb, None)
    try:
        a = _records(d, len(lb))
    finally:
        d.close()
    out = supp.merge(study, "LB", lb.drop(columns=[c for c in ("DOMAIN",) if c in lb.columns]))
    qualifiers = out.attrs["supp"]
    trt = treatment_of(adsl)
    out["TRTA"] = out["USUBJID"].map(trt["TRTA"]).fillna("")
    out["TRTAN"] = out["USUBJID"].map(trt["TRTAN"]).astype("float64")
    param = a["param"].to_numpy()
    out["PARAMCD"] = paramcds(d.params["LBTESTCD"])[param]
    unit = d.params["LBSTRESU"].to_numpy(dtype=object)[param]
    test = d.params["LBTEST"].to_numpy(dtype=object)[param]
    out["PARAM"] = [f"{t} ({u})" if u else str(t) for t, u in zip(test, unit, strict=True)]
    out["PARAMN"] = (param + 1).astype("float64")
    aval = a["value"].to_numpy()
    out["AVAL"] = aval
    out["AVALC"] = lb["LBSTRESC"].to_numpy(dtype=object) if "LBSTRESC" in lb else ""
    is_base = a["is_base"].to_numpy()
    base = a["base"].to_numpy()
    out["BASE"] = base
    post = a["post"].to_numpy()
    chg = np.where(post, aval - base, np.nan)
    out["CHG"] = chg
    with np.errstate(divide="ignore", invalid="ignore"):
        out["PCHG"] = np.where(post & (base != 0), 100.0 * chg / base, np.nan)
    out["ABLFL"] = np.where(is_base, "Y", "")
    out["ANRLO"] = lb["LBSTNRLO"].to_numpy(dtype="float64") if "LBSTNRLO" in lb else np.nan
    out["ANRHI"] = lb["LBSTNRHI"].to_numpy(dtype="float64") if "LBSTNRHI" in lb else np.nan
    nr = np.asarray(NR, dtype=object)
    out["ANRIND"] = nr[a["nr"].to_numpy()]
    out["BNRIND"] = [NR[int(x)] if x == x else "" for x in a["base_nr"].to_numpy(dtype="float64")]
    visit = lb["VISIT"].to_numpy(dtype=object) if "VISIT" in lb else np.full(len(lb), "", dtype=object)
    out["AVISIT"] = np.where(is_base, "Baseline", visit)
    out["AVISITN"] = a["vn"].to_numpy()
    adt = dates.date_part(lb["LBDTC"]) if "LBDTC" in lb else pd.Series(pd.NaT, index=lb.index)
    out["ADT"] = metadata.to_sas_date(adt)
    trtsdt = metadata.from_sas_date(out["USUBJID"].map(trt["TRTSDT"]).astype("float64"))
    diff = (pd.to_datetime(adt) - trtsdt).dt.days.astype("float64")
    out["ADY"] = diff.where(diff < 0, diff + 1)
    out["ANL01FL"] = np.where(a["used"].to_numpy(), "Y", "")
    result = metadata.order("ADLB", out).reset_index(drop=True)
    result.attrs["supp"] = qualifiers
    return result


def paramcds(testcd: pd.Series) -> np.ndarray:
    """PARAMCD of each parameter (LBTESTCD in one standard unit, in the parameters' order): the LBTESTCD, except
    that a test with results in more than one standard unit gets one code per unit, the LBTESTCD with the suffix
    1, 2, ... in the parameters' (unit) order, shortened to keep 8 characters and never equal to another code:
    ADaMIG 1.3 section 3.3.4 makes PARAM and PARAMCD one-to-one, and PARAM names the unit."""
    codes = [str(t) for t in testcd]
    taken = set(codes)
    counts = pd.Series(codes).value_counts()
    out, n_of = [], dict.fromkeys(codes, 0)
    for t in codes:
        if counts[t] == 1:
            out.append(t)
            continue
        while True:
            n_of[t] += 1
            suffix = str(n_of[t])
            code = t[: 8 - len(suffix)] + suffix
            if code not in taken:
                break
        taken.add(code)
        out.append(code)
    return np.asarray(out, dtype=object)


def _records(d: LabData, n: int) -> pd.DataFrame:
    """One row per LB record (in LB order): param, value, vn, nr, is_base, post, the subject's baseline value and
    class (base, base_nr: NaN without), and `used`: the records the by-visit tables use (the baseline records and,
    per subject, parameter and scheduled post-baseline visit, the record of the highest LBSEQ, then the later row:
    summary/lab_data.analysis_rows)."""
    out = {"param": np.zeros(n, dtype=np.int32), "value": np.full(n, np.nan), "vn": np.full(n, np.nan),
           "nr": np.zeros(n, dtype=np.int8), "is_base": np.zeros(n, dtype=bool), "post": np.zeros(n, dtype=bool),
           "base": np.full(n, np.nan), "base_nr": np.full(n, np.nan), "used": np.zeros(n, dtype=bool)}
    for p in range(len(d.params)):
        lp = param_data(d, p)
        a = lp.a
        row, subj = a["row"].to_numpy(), a["subj"].to_numpy()
        for c in ("param", "value", "vn", "nr", "is_base", "post"):
            out[c][row] = a[c].to_numpy()
        at = lp.base_at[subj]
        has = at >= 0
        out["base"][row] = lp.base_values(subj)
        out["base_nr"][row[has]] = lp.base["nr"].to_numpy()[at[has]]
        out["used"][row[_chosen(a)]] = True
    return pd.DataFrame(out, copy=False)


def _chosen(a: pd.DataFrame) -> np.ndarray:
    """Positions in `a` (one parameter's records) of the records the by-visit tables use."""
    base = np.flatnonzero(a["is_base"].to_numpy())
    post = np.flatnonzero((a["post"] & a["sched"]).to_numpy())
    cand = a.iloc[post].assign(_i=post).sort_values(["subj", "vn", "seq", "_i"])
    last = cand.drop_duplicates(["subj", "vn"], keep="last")["_i"].to_numpy()
    return np.concatenate([base, last])
