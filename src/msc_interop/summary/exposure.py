"""Exposure: administrations per subject, dose, body weight and total given, dates, timing against the schedule.

Total given per EX record: EXDOSE x body weight when EXDOSU is per kilogram (``10^6/kg`` -> ``10^6`` cells),
else EXDOSE itself, times the doses of the record (1 for a single administration; doses per day x days for a
dosing interval: summary/dosing.py). The weight is the one recorded at dosing, SUPPEX QNAM WEIGHT with IDVAR EXSEQ.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from msc_interop.distinct import per_distinct
from msc_interop.study import Study
from msc_interop.summary._common import (
    Population,
    Section,
    decimals_of,
    is_partial,
    num_col,
    num_column,
    text_col,
    visitnum_text,
)
from msc_interop.summary.ard_tables import SAS_EPOCH, Cell, cell, continuous_cells
from msc_interop.summary.dosing import doses
from msc_interop.summary.subjects import planned_days

SCHEDULE_UNKNOWN = "schedule unknown"
COLUMNS = ["USUBJID", "EXSEQ", "EXTRT", "EXDOSE", "EXDOSU", "VISITNUM", "VISIT", "EXSTDTC", "EXENDTC", "EXSTDY",
           "WEIGHT", "TOTAL", "TOTALU", "EXDOSFRQ", "DOSES", "NODOSES", "INTERVAL"]


def prepare(study: Study) -> pd.DataFrame:
    """EX with the body weight at dosing and the total given; empty frame if the study has no EX."""
    ex = study.datasets.get("EX")
    if ex is None or ex.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    out = pd.DataFrame({
        "USUBJID": ex["USUBJID"], "EXSEQ": ex["EXSEQ"].astype("Int64"), "EXTRT": text_col(ex, "EXTRT"),
        "EXDOSE": num_col(ex, "EXDOSE"), "EXDOSU": text_col(ex, "EXDOSU"),
        "VISITNUM": num_col(ex, "VISITNUM"), "VISIT": text_col(ex, "VISIT"),
        "EXSTDTC": text_col(ex, "EXSTDTC"), "EXENDTC": text_col(ex, "EXENDTC"),
        "EXSTDY": ex["EXSTDY"].astype("Int64") if "EXSTDY" in ex else pd.array([pd.NA] * len(ex), dtype="Int64"),
    })
    out["EXDOSFRQ"] = text_col(ex, "EXDOSFRQ").fillna("").astype(str).to_numpy()
    out["DOSES"], out["NODOSES"], out["INTERVAL"] = doses(out["EXDOSFRQ"], out["EXSTDTC"], out["EXENDTC"])
    out["WEIGHT"] = np.nan
    supp = study.datasets.get("SUPPEX")
    if supp is not None and not supp.empty:
        w = supp[supp["QNAM"].eq("WEIGHT") & supp["IDVAR"].eq("EXSEQ")]
        w = pd.DataFrame({"USUBJID": w["USUBJID"],
                          "EXSEQ": pd.to_numeric(w["IDVARVAL"], errors="coerce").astype("Int64"),
                          "W": pd.to_numeric(w["QVAL"], errors="coerce")}).drop_duplicates(["USUBJID", "EXSEQ"])
        out = out.merge(w, on=["USUBJID", "EXSEQ"], how="left")
        out["WEIGHT"] = out.pop("W")
    per_kg = out["EXDOSU"].str.endswith("/kg")
    out["TOTAL"] = out["EXDOSE"].where(~per_kg, out["EXDOSE"] * out["WEIGHT"]) * out["DOSES"]
    out["TOTALU"] = out["EXDOSU"].where(~per_kg, out["EXDOSU"].str.slice(0, -3))
    out["TOTALU"] = per_distinct(lambda units: units.map(lambda u: f"{u} cells" if re.fullmatch(r"10\^\d+", u or "")
                                                        else u), out["TOTALU"])  # one string per unit, not per row
    return out.sort_values(["USUBJID", "EXSEQ"], kind="stable").reset_index(drop=True)


def summarize_exposure(study: Study, pop: Population, sec: Section) -> pd.DataFrame:
    ex = prepare(study)
    _summary_table(ex, pop, sec)
    _listing(ex, sec)
    _schedule(study, ex, pop, sec)
    return ex


def _summary_table(ex: pd.DataFrame, pop: Population, sec: Section) -> None:
    cols = pop.columns()
    n_by = pop.arm_n()
    rows: list[dict[str, object]] = []
    t = "exposure_summary"

    def add(char: str, stat: str, cells: dict[str, object]) -> None:
        rows.append({"Characteristic": char, "Statistic": stat, **{pop.header(c): cells.get(c, "-") for c in cols}})

    def values(variable: str, of_arm, groups: tuple = ()) -> dict[str, dict[str, Cell]]:
        """Per column: the continuous statistics of of_arm(c) recorded in the ARD, as cells."""
        return {c: continuous_cells(sec.ard.values(t, pop.label(c), variable, of_arm(c), groups=groups), decimals)
                for c in cols}

    exa = pop.expand(ex) if len(ex) else ex.assign(ARMCD=pd.Series(dtype=object))
    per_subj = (exa.groupby(["ARMCD", "USUBJID"]).agg(k=("EXSEQ", "size"), total=("TOTAL", "sum"),
                                                     total_n=("TOTAL", "count"))
                if len(exa) else pd.DataFrame(columns=["k", "total", "total_n"]))
    subj_n = per_subj.groupby(level="ARMCD").size() if len(per_subj) else pd.Series(dtype=int)
    add("Subjects with at least one administration", "n (%)",
        {c: cell(sec.ard.counts(t, pop.label(c), "EXPOSED", "Y", int(subj_n.get(c, 0)), n_by[c]), "n_pct")
         for c in cols})
    intervals = bool(len(ex)) and bool(ex["INTERVAL"].astype(bool).any())  # records are dosing intervals
    records, per_record = (("EX records (dosing intervals)", "EX records per subject") if intervals else
                           ("Administrations (EX records)", "Administrations per subject"))
    add(records, "n",
        {c: cell(sec.ard.add(t, pop.label(c), "EXSEQ", None, {"n": int((exa["ARMCD"] == c).sum())}), "text")
         for c in cols})
    if intervals:
        add("Doses (doses per day x days of each interval)", "n",
            {c: cell(sec.ard.add(t, pop.label(c), "DOSES", None, {
                "n": int(exa.loc[exa["ARMCD"].eq(c), "DOSES"].astype(float).sum())}), "text") for c in cols})

    def arm_slice(c):
        return per_subj.xs(c, level="ARMCD") if c in subj_n.index else per_subj.iloc[0:0]

    decimals = 0
    stats = values("ADMIN_PER_SUBJECT", lambda c: arm_slice(c)["k"])
    for s in ("Mean (SD)", "Median", "Min, Max"):
        add(per_record, s, {c: stats[c][s] for c in cols})
    dist = per_subj["k"].groupby(level="ARMCD").value_counts() if len(per_subj) else pd.Series(dtype=int)
    ks = sorted({int(k) for k in per_subj["k"]}) if len(per_subj) else []
    if 0 < len(ks) <= 5:
        for k in ks:
            add(per_record, f"{k}: n (%)",
                {c: cell(sec.ard.counts(t, pop.label(c), "ADMIN_PER_SUBJECT", k, int(dist.get((c, k), 0)), n_by[c]),
                         "n_pct") for c in cols})
    for unit in sorted(ex["EXDOSU"].unique()) if len(ex) else []:
        sub = exa[exa["EXDOSU"].eq(unit)]
        decimals = max(2, decimals_of(sub["EXDOSE"].dropna().map(repr)))
        stats = values("EXDOSE", lambda c, sub=sub: sub.loc[sub["ARMCD"].eq(c), "EXDOSE"], (("EXDOSU", unit),))
        for s in ("n", "Mean (SD)", "Min, Max"):
            add(f"Dose per administration ({unit or 'no unit'})", s, {c: stats[c][s] for c in cols})
    decimals = 1
    if len(ex) and ex["WEIGHT"].notna().any():
        stats = values("WEIGHT", lambda c: exa.loc[exa["ARMCD"].eq(c), "WEIGHT"])
        for s in ("n", "Mean (SD)", "Min, Max"):
            add("Body weight at dosing (kg)", s, {c: stats[c][s] for c in cols})
    for unit in sorted(ex["TOTALU"].dropna().unique()) if len(ex) else []:
        sub = exa[exa["TOTALU"].eq(unit) & exa["TOTAL"].notna()]
        per_unit = (("TOTALU", unit),)
        stats = values("TOTAL", lambda c, sub=sub: sub.loc[sub["ARMCD"].eq(c), "TOTAL"], per_unit)
        for s in ("n", "Mean (SD)", "Min, Max"):
            add(f"Total given per {'EX record' if intervals else 'administration'} ({unit})", s,
                {c: stats[c][s] for c in cols})
        partly = exa.loc[exa["DOSES"].isna(), "USUBJID"]  # a subject's total needs every record's doses
        subj_tot = sub[~sub["USUBJID"].isin(partly)].groupby(["ARMCD", "USUBJID"])["TOTAL"].agg(
            lambda x: math.fsum(x.tolist()))
        stats = values("TOTAL_PER_SUBJECT", lambda c, st=subj_tot: st.xs(c, level="ARMCD")
                       if c in st.index.get_level_values(0) else pd.Series(dtype=float), per_unit)
        for s in ("n", "Mean (SD)", "Min, Max"):
            add(f"Total given per subject ({unit})", s, {c: stats[c][s] for c in cols})
        add(f"Total given, all subjects ({unit})", "sum",
            {c: cell(sec.ard.add(t, pop.label(c), "TOTAL_ALL_SUBJECTS", None, {
                "sum": math.fsum(sub.loc[sub["ARMCD"].eq(c), "TOTAL"].tolist())}, groups=per_unit), "num", 1)
             for c in cols})
    if len(ex):
        arm = pop.attach_arm(ex)["ARMCD"]
        inpop = ex["USUBJID"].isin(pop.subjects["USUBJID"])
        dt = pd.to_datetime(ex["EXSTDTC"].str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
        complete = ~is_partial(ex["EXSTDTC"]) & ex["EXSTDTC"].ne("") & dt.notna()
        if complete.any():
            days = (dt - pd.Timestamp(SAS_EPOCH)).dt.days
            total = {}
            for c in cols:
                sel = complete & inpop & (arm.eq(c) | (c == "Total"))
                ref = sec.ard.add(t, pop.label(c), "EXSTDT", None, {"min": days[sel].min() if sel.any() else None,
                                                                  "max": days[sel].max() if sel.any() else None},
                                  context="continuous")
                total[c] = cell(ref, "date_range")
            add("Administration dates", "first to last", total)
    notes = ["Total given = EXDOSE x body weight at dosing (SUPPEX QNAM WEIGHT) when the dose unit is per kg "
             "(10^6/kg: 10^6 cells), else EXDOSE."]
    if intervals:
        notes = ["Each EX record is one administration or one constant dosing interval (SDTMIG EX). Total given per "
                 "record = EXDOSE (x body weight at dosing, SUPPEX QNAM WEIGHT, when the dose unit is per kg) x "
                 "doses; doses = 1 for EXDOSFRQ ONCE, else doses per day of EXDOSFRQ (CDISC CT FREQ: QD 1, BID 2, "
                 "TID 3, QID 4, Q8H 3, ...) x days from EXSTDTC to EXENDTC, both counted."]
    if len(ex):
        _no_doses(ex, notes, sec)
        per_kg = ex["EXDOSU"].str.endswith("/kg")
        no_w = int((per_kg & ex["WEIGHT"].isna()).sum())
        if no_w:
            subjects = ex.loc[per_kg & ex["WEIGHT"].isna(), "USUBJID"].nunique()
            notes.append(f"{no_w} administration(s) dosed per kg have no body weight: total given not computed.")
            sec.issue("Body weight missing for a per-kg dose", "EX/SUPPEX", no_w, subjects, "",
                      "total given not computed for these administrations")
        partial = is_partial(ex["EXSTDTC"]) | ex["EXSTDTC"].eq("")
        if partial.any():
            k = int(partial.sum())
            notes.append(f"{k} administration(s) have a partial or missing start date (EXSTDTC): no study day; "
                         "left out of the date range.")
            sec.issue("Partial or missing EXSTDTC", "EX", k, ex.loc[partial, "USUBJID"].nunique(),
                      "", "no study day; excluded from date range and from the infusion-related AE window")
    sec.add("exposure_summary", "Exposure summary", pd.DataFrame(rows), notes)


def _no_doses(ex: pd.DataFrame, notes: list[str], sec: Section) -> None:
    """Records whose number of doses cannot be derived: left out of the totals, in a note and data_issues."""
    bad = ex["DOSES"].isna()
    if not bad.any():
        return
    why = "; ".join(f"{r}: {k}" for r, k in ex.loc[bad, "NODOSES"].value_counts().sort_index().items())
    k, subjects = int(bad.sum()), ex.loc[bad, "USUBJID"].nunique()
    notes.append(f"{k} EX record(s) of {subjects} subject(s) have no derivable number of doses ({why}): total given "
                 "not computed for them; they are left out of 'Total given, all subjects' and their subjects out of "
                 "'Total given per subject'.")
    sec.issue("EX record with no derivable number of doses", "EX", k, subjects, why,
              "total given not computed; excluded from the exposure totals")


def _listing(ex: pd.DataFrame, sec: Section) -> None:
    d_dose = max(2, decimals_of(ex["EXDOSE"].dropna().map(repr))) if len(ex) else 2
    table = pd.DataFrame({
        "Subject": ex["USUBJID"], "EXSEQ": ex["EXSEQ"].astype("Int64").astype(str),
        "Visit": ex["VISIT"], "Treatment": ex["EXTRT"],
        "Dose": num_column(ex["EXDOSE"], d_dose), "Dose unit": ex["EXDOSU"],
        "Body weight (kg)": num_column(ex["WEIGHT"], 1),
        "Total given": num_column(ex["TOTAL"], 1), "Total unit": ex["TOTALU"],
        "Start": ex["EXSTDTC"], "End": ex["EXENDTC"],
        **({"Frequency": ex["EXDOSFRQ"], "Doses": num_column(ex["DOSES"], 0)}
           if len(ex) and ex["INTERVAL"].astype(bool).any() else {}),
        "Study day": ex["EXSTDY"].astype(str).replace("<NA>", "-") if len(ex) else pd.Series(dtype=object),
    })
    sec.add("exposure_listing", "Listing of administrations", table,
            ["Study day: EXSTDY (day of first administration = day 1, no day 0)."])


def _schedule(study: Study, ex: pd.DataFrame, pop: Population, sec: Section) -> None:
    """Each administration's study day against the planned day of its visit and the visit window."""
    cols = ["Visit number", "Visit", "Planned study day (window)", "Administrations", "On schedule",
            "Outside window", "Not assessable"]
    if ex.empty:
        sec.add("exposure_schedule", "Administrations against the planned schedule", pd.DataFrame(columns=cols))
        return
    v, plan_src = planned_days(study)
    known = bool(plan_src)
    windowed = known and v["window_before"].notna().any()
    # without a window nothing is inside or outside one: the day is on the planned day or on another day
    on, off = ("on schedule", "outside window") if windowed else ("on planned day", "other day")
    if known and not windowed:
        cols = [*cols[:4], "On the planned day", "Another day (no window in the data)", "Not assessable"]
    e = ex[["USUBJID", "EXSEQ", "VISITNUM", "VISIT", "EXSTDY"]].copy()  # what the schedule reads of it
    if known:
        e = e.merge(v, on="VISITNUM", how="left")
        day = pd.to_numeric(e["EXSTDY"], errors="coerce")
        planned = pd.to_numeric(e["planned_dy"], errors="coerce")
        lo = planned - pd.to_numeric(e["window_before"], errors="coerce").fillna(0)
        hi = planned + pd.to_numeric(e["window_after"], errors="coerce").fillna(0)
        assessable = (day.notna() & planned.notna()).to_numpy(dtype=bool)
        within = ((day >= lo) & (day <= hi)).astype("boolean").fillna(False).to_numpy(dtype=bool)  # EXSTDY may be NA
        e["status"] = np.where(~assessable, "not assessable", np.where(within, on, off))
        e["dev"] = day - planned
    else:
        e["status"] = SCHEDULE_UNKNOWN
    e["VISITKEY"] = e["VISITNUM"].fillna(-1.0)
    trta = pop.label(pop.columns()[-1])  # every EX record (the schedule is not by arm)
    rows = []
    for vn, g in e.groupby("VISITKEY", sort=True):
        n = len(g)
        label = g["VISIT"].mode().iloc[0] if g["VISIT"].ne("").any() else "(no visit recorded)"
        vis = (("VISITNUM", visitnum_text(vn) if vn >= 0 else None),)
        plan: object
        if known and g["planned_dy"].notna().any() and not windowed:
            dev = g["dev"].dropna()
            day = int(g["planned_dy"].dropna().iloc[0])
            plan = f"{day} (no window in the data)"
            if len(dev):  # the median deviation is a result: from the ARD, the planned day a label
                ref = sec.ard.add("exposure_schedule", trta, "EXSTDY_DEVIATION", None,
                                  {"median": float(dev.median())}, groups=vis, context="continuous")
                plan = Cell("signed", (("median", ref["median"]),),
                            around=f"{day} (no window in the data; median {{}} days from plan)")
        elif known and g["planned_dy"].notna().any():
            p, wb, wa = (int(g[c].iloc[0]) for c in ("planned_dy", "window_before", "window_after"))
            plan = f"{p} (-{wb}/+{wa})"
        else:
            plan = SCHEDULE_UNKNOWN if not known else "not planned"
        counts = g["status"].value_counts()
        ref = {status: sec.ard.counts("exposure_schedule", trta, "SCHEDULE", status, int(counts.get(status, 0)), n,
                                      groups=vis)
               for status in ((on, off, "not assessable") if known else (SCHEDULE_UNKNOWN,))}
        last = ref["not assessable" if known else SCHEDULE_UNKNOWN]
        rows.append(dict(zip(cols, [visitnum_text(vn) if vn >= 0 else "", label, plan, cell(last, "text", stat="N"),
                                    cell(ref[on], "n_pct") if known else SCHEDULE_UNKNOWN,
                                    cell(ref[off], "n_pct") if known else SCHEDULE_UNKNOWN,
                                    cell(last, "text")], strict=True)))
    notes = []
    if known and not windowed:
        notes.append(f"Planned study day from {plan_src}; the data give no visit window, so no administration is "
                     "judged on schedule or outside a window: each is on the planned day (EXSTDY = planned day) or "
                     "on another day, and the median deviation (EXSTDY - planned day) is shown per visit.")
    if windowed:
        notes.append("Planned study day = protocol day + 1 for days on/after day 0 (SDTMIG 4.4.4: no day 0); "
                     "on schedule when EXSTDY lies in [planned - window before, planned + window after].")
        out = e[e["status"].eq("outside window")]
        for r in out.head(20).itertuples():
            notes.append(f"Outside window: {r.USUBJID} EXSEQ {r.EXSEQ} ({r.VISIT}) on day {r.EXSTDY}, "
                         f"planned {int(r.planned_dy)}.")
        na = int(e["status"].eq("not assessable").sum())
        if na:
            notes.append(f"{na} administration(s) not assessable (partial start date or visit not in the schedule).")
    elif not known:
        notes.append("The input carries no planned visit days (SDTM datasets without the study definition): "
                     "timing is 'schedule unknown' rather than guessed.")
    sec.add("exposure_schedule", "Administrations against the planned schedule", pd.DataFrame(rows, columns=cols),
            notes)
