"""Vital signs over time and change from baseline, per treatment arm (tables vs_stats and vs_change, and their ARD).

Values: VSSTRESN in VSSTRESU, one parameter per test, position and standard unit (a sitting and a standing blood
pressure are two parameters). Baseline: the record flagged VSLOBXFL (SDTMIG 3.4) or VSBLFL (3.3) = "Y"; a subject
with no flagged record of a parameter has no change values for it. Visits: scheduled ones (whole VISITNUM); a subject
contributes one value per visit (the last, by VSDTC, when there are more). Change from baseline: visits after the
baseline's. Mean and SD from exact sums (the same numbers from records, SDTM and FHIR).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_interop import vital_signs
from msc_interop.study import Study
from msc_interop.summary._common import (
    Population,
    Section,
    decimals_of,
    num_col,
    text_col,
    visit_labels,
)
from msc_interop.summary.ard import exact_mean_sd
from msc_interop.summary.ard_tables import cell

TITLES = {"vs_stats": "Vital signs by visit", "vs_change": "Vital signs: change from baseline by visit"}


def summarize_vital_signs(study: Study, pop: Population, sec: Section) -> None:
    """Add vs_stats and vs_change (and their ARD rows) when the study has VS with numeric results."""
    data = _analysis(study, pop)
    if data is None:
        return
    an, labels = data
    notes = [f"Values are VSSTRESN in standard units (VSSTRESU); one row per parameter, visit and treatment column "
             f"({'arms and Total' if pop.with_total else 'one arm'}). Mean and median carry one decimal more than "
             "the data, SD two more.",
             "Baseline: the record flagged VSLOBXFL (or VSBLFL) = Y per subject and parameter; change from baseline "
             "at the scheduled visits (whole VISITNUM) after it. A subject contributes one value per visit (the "
             "last by VSDTC)."]
    for table, column, variable in (("vs_stats", "value", "AVAL"), ("vs_change", "change", "CHG")):
        rows = []
        part = an[an[column].notna()]
        if column == "change":
            part = part[part["after"]]
        for (param, visit, arm), grp in part.groupby(["param", "VISITNUM", "ARMCD"], sort=False):
            x = grp[column].to_numpy(dtype="float64")
            mean, sd = exact_mean_sd(x)
            testcd, pos, unit, dec = param
            stats = {"N": len(x), "mean": mean, "sd": sd, "median": float(np.median(x)), "min": float(x.min()),
                     "max": float(x.max())}
            ref = sec.ard.add(table, pop.label(arm), variable, None, stats, context="continuous",
                              groups=(("PARAMCD", testcd + (f" {pos}" if pos else "")), ("AVISIT", labels[visit])))
            rows.append({"_order": (_test_order(testcd), pos, unit, visit, pop.columns().index(arm)),
                         "Test code": testcd, "Position": pos, "Unit": unit, "Visit": labels[visit],
                         "Treatment": pop.header(arm), "n": cell(ref, "int", stat="N"),
                         "Mean (SD)": cell(ref, "mean_sd", dec), "Median": cell(ref, "median", dec),
                         "Min, Max": cell(ref, "min_max", dec)})
        rows.sort(key=lambda r: r["_order"])
        sec.add(table, TITLES[table], pd.DataFrame(rows).drop(columns="_order", errors="ignore"), notes)


def _test_order(testcd: str) -> str:
    order = list(vital_signs.tests())
    return f"{order.index(testcd):03d}" if testcd in order else f"999{testcd}"


def _analysis(study: Study, pop: Population) -> tuple[pd.DataFrame, dict[float, str]] | None:
    vs = study.datasets.get("VS")
    if vs is None or vs.empty or "VSSTRESN" not in vs.columns or "VSTESTCD" not in vs.columns:
        return None
    vs = pop.within(vs)
    value = num_col(vs, "VSSTRESN")
    keep = value.notna().to_numpy() & ("VISITNUM" in vs.columns)
    if not keep.any():
        return None
    vs = vs[keep]
    df = pd.DataFrame({
        "USUBJID": text_col(vs, "USUBJID").to_numpy(), "VSTESTCD": text_col(vs, "VSTESTCD").to_numpy(),
        "VSPOS": text_col(vs, "VSPOS").fillna("").to_numpy(),
        "VSSTRESU": text_col(vs, "VSSTRESU").fillna("").to_numpy(),
        "VISITNUM": num_col(vs, "VISITNUM").to_numpy(), "VSDTC": text_col(vs, "VSDTC").fillna("").to_numpy(),
        "value": value[keep].to_numpy(dtype="float64"), "VSSTRESC": text_col(vs, "VSSTRESC").fillna("").to_numpy(),
        "flag": _flag(vs).to_numpy()})
    labels = visit_labels(vs.assign(VISIT=text_col(vs, "VISIT").fillna("")))
    decimals = {k: t.decimals for k, t in vital_signs.tests().items()}
    key = ["USUBJID", "VSTESTCD", "VSPOS", "VSSTRESU"]
    dec = df.groupby(["VSTESTCD", "VSPOS", "VSSTRESU"], sort=False)["VSSTRESC"].agg(decimals_of)
    base = df[df["flag"]].sort_values("VSDTC", kind="stable").drop_duplicates(key, keep="last")
    base = base.set_index(key)[["value", "VISITNUM"]].rename(columns={"value": "base", "VISITNUM": "base_visit"})
    sched = df[df["VISITNUM"].notna() & (df["VISITNUM"] % 1 == 0)]
    sched = sched.sort_values("VSDTC", kind="stable").drop_duplicates([*key, "VISITNUM"], keep="last")
    an = sched.join(base, on=key)
    an["change"] = an["value"] - an["base"]
    an["after"] = an["VISITNUM"] > an["base_visit"]
    an["param"] = [(t, p, u, decimals.get(t, int(dec.get((t, p, u), 0))))
                   for t, p, u in zip(an["VSTESTCD"], an["VSPOS"], an["VSSTRESU"], strict=True)]
    an = pop.expand(an.sort_values(["VSTESTCD", "VSPOS", "VSSTRESU", "VISITNUM", "USUBJID"], kind="stable"))
    return an, labels


def _flag(vs: pd.DataFrame) -> pd.Series:
    for name in ("VSLOBXFL", "VSBLFL"):
        if name in vs.columns:
            return text_col(vs, name).fillna("").eq("Y")
    return pd.Series(False, index=vs.index)
