"""Adverse events: treatment-emergent overview, MedDRA SOC/PT, characteristics, infusion-related events, listings.

The summary tables count treatment-emergent AEs (teae.py) of the safety population; the listing holds every AE with
its TEAE flag and imputed start, and the pre-treatment listing the AEs that are not treatment-emergent.

Infusion-related (administration-related) event, only for a study whose EX says infusion (summary.is_infusion):
onset on the calendar day of an administration, or, when both carry a time, within 24 h after its start. The
time from the start of the nearest preceding administration is given in minutes when both AESTDTC and EXSTDTC
have times (the seed paper's "5 min after infusion").
An AE with a partial start date cannot be placed against an administration and is counted as not assessable.
Severity and outcome order, and which AEREL values count as related: mappings/ae_groups.yaml (ae_groups.py).
"""

from __future__ import annotations

import pandas as pd

from msc_interop import dates
from msc_interop.study import Study
from msc_interop.summary import teae
from msc_interop.summary._common import (
    MISSING,
    Population,
    Section,
    category_order,
    instant,
    is_partial,
    num,
    subjects_text,
    text_col,
)
from msc_interop.summary.ae_groups import AeGroups
from msc_interop.summary.ard_tables import Cell, cell, count_rows

NOT_CODED = "Not coded"
WINDOW = pd.Timedelta(hours=24)


def prepare(study: Study) -> pd.DataFrame:
    ae = study.datasets.get("AE")
    cols = ["USUBJID", "AESEQ", "AETERM", "AEDECOD", "AEBODSYS", "AESEV", "AESER", "AEREL", "AEACN", "AEOUT",
            "AESTDTC", "AEENDTC"]
    if ae is None or ae.empty:
        return pd.DataFrame(columns=[*cols, "SOC", "PT", "AESTDY"])
    out = pd.DataFrame({c: text_col(ae, c) for c in cols if c != "AESEQ"})
    out.insert(1, "AESEQ", ae["AESEQ"].astype("Int64") if "AESEQ" in ae else pd.array(range(1, len(ae) + 1)))
    soc = out["AEBODSYS"].where(out["AEBODSYS"].ne(""), text_col(ae, "AESOC"))
    out["SOC"] = soc.where(soc.ne(""), NOT_CODED)
    out["PT"] = out["AEDECOD"].where(out["AEDECOD"].ne(""), out["AETERM"] + " (uncoded)")
    out["AESTDY"] = ae["AESTDY"].astype("Int64") if "AESTDY" in ae else pd.array([pd.NA] * len(ae), dtype="Int64")
    return out.sort_values(["USUBJID", "AESEQ"], kind="stable").reset_index(drop=True)


def infusion_links(ae: pd.DataFrame, ex: pd.DataFrame) -> pd.DataFrame:
    """For each AE: the administration it follows (EXSEQ, EXSTDTC, minutes) under the rule above.

    Returns one row per AE (USUBJID, AESEQ) with columns status ("yes", "no", "not assessable"), EXSEQ, VISIT,
    EXSTDTC, minutes (Float64, NA without times), rule ("within 24 h" or "same day").
    """
    base = ae[["USUBJID", "AESEQ", "AESTDTC"]].copy()
    ae_date = dates.date_part(base["AESTDTC"])
    base["assessable"] = ae_date.notna()
    base["ae_date"] = ae_date
    base["ae_time"] = instant(base["AESTDTC"])
    if ex.empty:
        out = base[["USUBJID", "AESEQ"]].copy()
        out["status"] = ["no" if a else "not assessable" for a in base["assessable"]]
        return out.assign(EXSEQ=pd.NA, VISIT="", EXSTDTC="", minutes=pd.NA, rule="")
    e = ex[["USUBJID", "EXSEQ", "VISIT", "EXSTDTC"]].copy()
    e["ex_date"] = dates.date_part(e["EXSTDTC"])
    e["ex_time"] = instant(e["EXSTDTC"])
    e = e[e["ex_date"].notna()]
    pairs = base[base["assessable"]].merge(e, on="USUBJID", how="inner")
    delta = pairs["ae_time"] - pairs["ex_time"]
    timed = delta.notna()
    within = timed & (delta >= pd.Timedelta(0)) & (delta <= WINDOW)
    same_day = ~timed & pairs["ae_date"].eq(pairs["ex_date"])
    pairs = pairs[within | same_day].copy()
    pairs["minutes"] = (delta[pairs.index].dt.total_seconds() / 60.0).astype("Float64")
    pairs["rule"] = ["within 24 h" if t else "same day" for t in pairs["minutes"].notna()]
    # nearest preceding administration: timed matches first (smallest delay), then the same-day match
    pairs["has_t"] = pairs["minutes"].notna()
    pairs = pairs.sort_values(["USUBJID", "AESEQ", "has_t", "minutes", "EXSEQ"],
                              ascending=[True, True, False, True, True], kind="stable")
    best = pairs.drop_duplicates(["USUBJID", "AESEQ"])[["USUBJID", "AESEQ", "EXSEQ", "VISIT", "EXSTDTC",
                                                         "minutes", "rule"]]
    out = base[["USUBJID", "AESEQ", "assessable"]].merge(best, on=["USUBJID", "AESEQ"], how="left")
    out["status"] = "no"
    out.loc[out["EXSEQ"].notna(), "status"] = "yes"
    out.loc[~out["assessable"], "status"] = "not assessable"
    out["VISIT"] = out["VISIT"].fillna("")
    out["EXSTDTC"] = out["EXSTDTC"].fillna("")
    out["rule"] = out["rule"].fillna("")
    return out.drop(columns=["assessable"])


def summarize_ae(study: Study, pop: Population, ex: pd.DataFrame, sec: Section, *, groups: AeGroups,
                 doses: pd.DataFrame, te_window: int | None = None, infusion: bool = True) -> pd.DataFrame:
    """Add the AE tables to `sec`; returns every AE with its TEAE flag (for the highlights and the ARD)."""
    ae = prepare(study)
    links = infusion_links(ae, ex) if len(ae) else pd.DataFrame(
        columns=["USUBJID", "AESEQ", "status", "EXSEQ", "VISIT", "EXSTDTC", "minutes", "rule"])
    ae = ae.merge(links[["USUBJID", "AESEQ", "status", "EXSEQ", "VISIT", "EXSTDTC", "minutes", "rule"]],
                  on=["USUBJID", "AESEQ"], how="left") if len(ae) else ae.assign(status="", minutes=pd.NA)
    ae = teae.flag(ae, doses, te_window)
    ae["RELGR"] = groups.relation(ae["AEREL"]) if len(ae) else pd.Series(dtype=object)
    te = pop.within(ae[ae["TEAE"].eq("Y").to_numpy()]) if len(ae) else ae
    issues_notes = _issues(ae, sec)
    rule = teae.rule_text(te_window)
    _overview(study, te, pop, sec, [rule, groups.note(), *issues_notes], groups, infusion)
    _soc_pt(te, pop, sec, [rule])
    _characteristics(te, pop, sec, groups)
    if infusion:
        _infusion(te, sec)
    _listing(ae, pop, sec, infusion)
    _pretreatment(ae, pop, sec)
    return ae


def _issues(ae: pd.DataFrame, sec: Section) -> list[str]:
    notes = []
    if ae.empty:
        return notes
    uncoded = ae["AEDECOD"].eq("")
    if uncoded.any():
        k = int(uncoded.sum())
        notes.append(f"{k} event(s) have no MedDRA coding (AEDECOD empty): shown under SOC '{NOT_CODED}' by their "
                     "reported term, marked '(uncoded)'.")
        sec.issue("AE not coded", "AE", k, ae.loc[uncoded, "USUBJID"].nunique(), "AEDECOD empty",
                  "summarised by reported term under SOC 'Not coded'")
    partial = is_partial(ae["AESTDTC"]) | ae["AESTDTC"].eq("")
    if partial.any():
        k = int(partial.sum())
        flags = ae.loc[partial, "ASTDTF"].replace("", "not imputed").value_counts().sort_index()
        how = ", ".join(f"{teae.FLAG_TEXT.get(f, f)}: {n}" for f, n in flags.items())
        notes.append(f"{k} event(s) have a partial or missing start date, imputed for the TEAE rule ({how}); "
                     "the listing flags them.")
        sec.issue("Partial or missing AESTDTC", "AE", k, ae.loc[partial, "USUBJID"].nunique(),
                  subjects_text(ae.loc[partial, "USUBJID"]),
                  f"start imputed for the TEAE rule ({how}); infusion timing not assessable")
    return notes


def _count_table(ae: pd.DataFrame, pop: Population, keys: list[str]) -> tuple[pd.Series, pd.Series]:
    """(subjects, events) counted by keys + ARMCD (with Total)."""
    e = pop.expand(ae)
    events = e.groupby([*keys, "ARMCD"]).size()
    subjects = e.drop_duplicates([*keys, "ARMCD", "USUBJID"]).groupby([*keys, "ARMCD"]).size()
    return subjects, events


def _ard(sec: Section, table: str, pop: Population, subjects: pd.Series, events: pd.Series,
         key: str | tuple[str, ...], variable: str, level: str, groups: tuple = ()) -> None:
    """The ARD rows of one table row: n, N, p and events per treatment column (what the table is rendered from)."""
    n_by = pop.arm_n()
    for c in pop.columns():
        k = (*key, c) if isinstance(key, tuple) else (key, c)
        sec.ard.counts(table, pop.label(c), variable, level, int(subjects.get(k, 0)), n_by[c],
                       int(events.get(k, 0)), groups=groups,
                       context="hierarchical" if table == "ae_soc_pt" else "categorical")


def _overview(study: Study, ae: pd.DataFrame, pop: Population, sec: Section, extra: list[str], groups: AeGroups,
              infusion: bool) -> None:
    flags = {
        "Any TEAE": pd.Series(True, index=ae.index),
        "Serious TEAE (AESER = Y)": ae["AESER"].eq("Y"),
        "Related TEAE (see note)": ae["RELGR"].eq("related"),
        "Severe TEAE (AESEV = SEVERE)": ae["AESEV"].str.upper().eq("SEVERE"),
        WITHDRAWN: ae["AEACN"].eq("DRUG WITHDRAWN"),
        "TEAE with fatal outcome (AEOUT = FATAL)": ae["AEOUT"].eq("FATAL"),
    }
    if infusion:
        flags["TEAE with onset on the day of / within 24 h after an administration"] = ae["status"].eq("yes")
    ae_all = study.datasets.get("AE")
    acn_collected = ae_all is not None and "AEACN" in ae_all and bool(
        ae_all["AEACN"].fillna("").astype(str).str.strip().ne("").any())
    n_by = pop.arm_n()
    for label, mask in flags.items():
        if label == WITHDRAWN and not acn_collected:  # no AEACN anywhere: unknown, not 0 (n null in the ARD)
            for c in pop.columns():
                sec.ard.add("ae_overview", pop.label(c), "TEAE_CATEGORY", label,
                            {"n": None, "N": n_by[c], "p": None, "events": None})
            continue
        sub = ae[mask.to_numpy(dtype=bool)].assign(ROW=label)
        subjects, events = _count_table(sub, pop, ["ROW"]) if len(sub) else (pd.Series(dtype=int),) * 2
        _ard(sec, "ae_overview", pop, subjects, events, label, "TEAE_CATEGORY", label)
    dm = study.datasets.get("DM")
    if dm is not None and "DTHFL" in dm:
        died = pop.attach_arm(pop.within(dm[dm["DTHFL"].eq("Y")][["USUBJID"]]))
        for c in pop.columns():
            k = len(died) if c == "Total" else int(died["ARMCD"].eq(c).sum())
            sec.ard.counts("ae_overview", pop.label(c), "DTHFL", "Y", k, n_by[c])
    # the table is rendered from the ARD rows just recorded (summary/ard_tables.py): one source of truth
    rows = count_rows(sec.ard.frame(), "ae_overview", [pop.label(c) for c in pop.columns()],
                      lambda key: {"Category": _DEATHS if key[0] == "DTHFL" else key[1]})
    # the note names the common not-related values only; the full list is mappings/adverse_events.yaml's
    notes = ["n (%): subjects of the safety population with at least one such TEAE (percent of N); events: number "
             "of TEAE records.", *extra]
    if not acn_collected:
        rows = [{k: Cell("n_pct_nc", v.at) if isinstance(v, Cell) and v.fmt == "n_pct" else v for k, v in r.items()}
                if r["Category"] == WITHDRAWN else r for r in rows]
        notes.append("TEAE leading to withdrawal: not collected (AEACN is empty on every AE record), so not counted "
                     "(not 0).")
    sec.add("ae_overview", "Treatment-emergent adverse events (TEAE): overview", pd.DataFrame(rows), notes)


_DEATHS = "Subjects who died (DM DTHFL = Y)"
WITHDRAWN = "TEAE leading to withdrawal (AEACN = DRUG WITHDRAWN)"


def _soc_pt_lead(key: tuple[str, str, str]) -> dict[str, str]:
    variable, level, soc = key
    if variable == "ANY_TEAE":
        return {"System organ class": "Any TEAE", "Preferred term": ""}
    if variable == "AEBODSYS":
        return {"System organ class": level, "Preferred term": ""}
    return {"System organ class": soc, "Preferred term": level}


SOC_PT_TITLE = "Treatment-emergent adverse events (TEAE) by MedDRA system organ class and preferred term"


def _soc_pt(ae: pd.DataFrame, pop: Population, sec: Section, extra: list[str]) -> None:
    cols = ["System organ class", "Preferred term"]
    if ae.empty:
        sec.add("ae_soc_pt", SOC_PT_TITLE, pd.DataFrame(columns=cols), ["No treatment-emergent adverse events.",
                                                                        *extra])
        return
    s_soc, e_soc = _count_table(ae, pop, ["SOC"])
    s_pt, e_pt = _count_table(ae, pop, ["SOC", "PT"])
    total_key = "Total" if pop.with_total else pop.arms[0]
    soc_n = {soc: int(s_soc.get((soc, total_key), 0)) for soc in ae["SOC"].unique()}
    subjects_any, events_any = _count_table(ae.assign(ANY="any"), pop, ["ANY"])
    _ard(sec, "ae_soc_pt", pop, subjects_any, events_any, "any", "ANY_TEAE", "Y")
    for soc in sorted(soc_n, key=lambda s: (s == NOT_CODED, -soc_n[s], s)):
        _ard(sec, "ae_soc_pt", pop, s_soc, e_soc, soc, "AEBODSYS", soc)
        pts = ae.loc[ae["SOC"].eq(soc), "PT"].unique()
        pt_n = {pt: int(s_pt.get((soc, pt, total_key), 0)) for pt in pts}
        for pt in sorted(pt_n, key=lambda p: (-pt_n[p], p)):
            _ard(sec, "ae_soc_pt", pop, s_pt, e_pt, (soc, pt), "AEDECOD", pt, (("AEBODSYS", soc),))
    rows = count_rows(sec.ard.frame(), "ae_soc_pt", [pop.label(c) for c in pop.columns()], _soc_pt_lead)
    notes = ["A subject is counted once per SOC and once per PT; events count every record. Sorted by "
             "decreasing number of subjects, then alphabetically.", *extra]
    sec.add("ae_soc_pt", SOC_PT_TITLE, pd.DataFrame(rows), notes)


def _characteristics(ae: pd.DataFrame, pop: Population, sec: Section, groups: AeGroups) -> None:
    rows = []
    n_by = pop.arm_n()
    e = pop.expand(ae) if len(ae) else ae.assign(ARMCD=pd.Series(dtype=object))
    sev_rank = {s: i for i, s in enumerate(groups.severity_order)}
    total = {}  # all TEAE records per column: the denominator of the events percentages
    for c in pop.columns():
        k = int((e["ARMCD"] == c).sum()) if len(e) else 0
        total[c] = sec.ard.add("ae_characteristics", pop.label(c), "ANY_TEAE", "Y", {"events": k})["events"]
    specs = [("Severity (AESEV)", "AESEV", groups.severity_order), ("Serious (AESER)", "AESER", ("Y", "N")),
             ("Relationship (grouped)", "RELGR", ("related", "not related", "unclassified")),
             ("Relationship (AEREL)", "AEREL", ()), ("Outcome (AEOUT)", "AEOUT", groups.outcome_order),
             ("Action taken (AEACN)", "AEACN", ())]
    for label, var, preferred in specs:
        val = e[var].replace("", MISSING) if len(e) else pd.Series(dtype=object)
        ev = pd.crosstab(val, e["ARMCD"]) if len(e) else pd.DataFrame()
        if var == "AESEV" and len(e):
            # subjects by their most severe event (each subject once)
            rank = val.map(lambda v: sev_rank.get(v, -1))
            worst = e.assign(rank=rank, val=val).sort_values("rank").drop_duplicates(["ARMCD", "USUBJID"],
                                                                                     keep="last")
            subj = pd.crosstab(worst["val"], worst["ARMCD"])
        elif len(e):
            once = e.assign(v=val).drop_duplicates(["ARMCD", "USUBJID", "v"])
            subj = pd.crosstab(once["v"], once["ARMCD"])
        else:
            subj = pd.DataFrame()
        for cat in category_order(ev.index if len(ev) else [], preferred):
            row: dict[str, object] = {"Characteristic": label, "Category": cat}
            for c in pop.columns():
                ref = sec.ard.counts("ae_characteristics", pop.label(c), var, cat,
                                     int(subj.at[cat, c]) if (c in subj and cat in subj.index) else 0, n_by[c],
                                     int(ev.at[cat, c]) if c in ev else 0)
                row[pop.header(c, "events n (%)")] = Cell("n_pct", (("n", ref["events"]), ("N", total[c])))
                row[pop.header(c, "subjects n (%)")] = cell(ref, "n_pct")
            rows.append(row)
    notes = ["TEAE only. Events n (%): percent of all TEAE; subjects n (%): percent of N. Severity counts each "
             "subject once, at the most severe event; for the other characteristics a subject is counted in every "
             "category in which they had an event. Relationship (grouped): " + groups.note()]
    if ae.empty:
        notes = ["No treatment-emergent adverse events."]
    sec.add("ae_characteristics", "Treatment-emergent adverse events (TEAE) by severity, seriousness, relationship, "
            "outcome and action", pd.DataFrame(rows), notes)


def _infusion(ae: pd.DataFrame, sec: Section) -> None:
    cols = ["Subject", "AESEQ", "Reported term", "Preferred term", "Administration (EXSEQ)", "Visit",
            "Administration start", "AE start", "Minutes after start of administration", "AE end",
            "Duration (min)", "Severity", "Serious", "Relationship", "Outcome", "Rule"]
    sel = ae[ae["status"].eq("yes")] if len(ae) else ae
    if sel.empty:
        table = pd.DataFrame(columns=cols)
    else:
        dur = (instant(sel["AEENDTC"]) - instant(sel["AESTDTC"])).dt.total_seconds() / 60.0
        table = pd.DataFrame({
            "Subject": sel["USUBJID"], "AESEQ": sel["AESEQ"].astype(str), "Reported term": sel["AETERM"],
            "Preferred term": sel["PT"], "Administration (EXSEQ)": sel["EXSEQ"].astype("Int64").astype(str),
            "Visit": sel["VISIT"], "Administration start": sel["EXSTDTC"], "AE start": sel["AESTDTC"],
            "Minutes after start of administration": [num(m, 0) for m in sel["minutes"].astype("float64")],
            "AE end": sel["AEENDTC"], "Duration (min)": [num(m, 0) for m in dur],
            "Severity": sel["AESEV"], "Serious": sel["AESER"], "Relationship": sel["AEREL"], "Outcome": sel["AEOUT"],
            "Rule": sel["rule"],
        }, columns=cols)
    notes = ["Infusion-related: onset on the calendar day of an administration or, when AESTDTC and EXSTDTC both "
             "have a time, within 24 h after the start of the administration; minutes are counted from the start "
             "of the nearest preceding administration (only when both have times)."]
    na = int(ae["status"].eq("not assessable").sum()) if len(ae) else 0
    if na:
        notes.append(f"{na} event(s) with a partial or missing start date could not be placed against an "
                     "administration.")
    sec.add("ae_infusion", "TEAE with onset on the day of (or within 24 h after) an administration", table, notes)


def _listing(ae: pd.DataFrame, pop: Population, sec: Section, infusion: bool) -> None:
    status = {"yes": "Y", "no": "N", "not assessable": "not assessable"}
    arm = pop.attach_arm(ae)["ARMCD"].map(lambda c: pop.label(c) if c in pop.labels else "not in safety population")
    table = pd.DataFrame({
        "Subject": ae["USUBJID"], "Treatment": arm, "AESEQ": ae["AESEQ"].astype(str), "Reported term": ae["AETERM"],
        "Preferred term": ae["PT"], "System organ class": ae["SOC"], "Start": ae["AESTDTC"],
        "Analysis start": ae["ASTDT"].dt.strftime("%Y-%m-%d").fillna("") if len(ae) else pd.Series(dtype=object),
        "Imputation": ae["ASTDTF"].map(teae.FLAG_TEXT) if len(ae) else pd.Series(dtype=object),
        "End": ae["AEENDTC"],
        "Study day": ae["AESTDY"].astype(str).replace("<NA>", "-") if len(ae) else pd.Series(dtype=object),
        "TEAE": ae["TEAE"], "Severity": ae["AESEV"], "Serious": ae["AESER"], "Relationship": ae["AEREL"],
        "Action": ae["AEACN"], "Outcome": ae["AEOUT"],
    })
    if infusion:
        table["Infusion-related"] = ae["status"].map(status) if len(ae) else pd.Series(dtype=object)
    notes = ["Every AE record, treatment-emergent or not (TEAE = Y/N). Analysis start: AESTDTC with a partial date "
             "imputed for the TEAE rule (Imputation says what was imputed)."]
    if infusion:
        notes.append("Infusion-related: Y when the onset is on the day of (or within 24 h after the start of) an "
                     "administration.")
    sec.add("ae_listing", "Listing of adverse events", table, notes if len(ae) else ["No adverse events recorded."])


def _pretreatment(ae: pd.DataFrame, pop: Population, sec: Section) -> None:
    """AEs that are not treatment-emergent: before the first dose, after the window, or of untreated subjects."""
    sel = ae[ae["TEAE"].eq("N").to_numpy()] if len(ae) else ae
    arm = pop.attach_arm(sel)["ARMCD"].map(lambda c: pop.label(c) if c in pop.labels else "not in safety population")
    table = pd.DataFrame({
        "Subject": sel["USUBJID"], "Treatment": arm, "AESEQ": sel["AESEQ"].astype(str),
        "Reported term": sel["AETERM"], "Preferred term": sel["PT"], "Start": sel["AESTDTC"],
        "Analysis start": sel["ASTDT"].dt.strftime("%Y-%m-%d").fillna("") if len(sel) else pd.Series(dtype=object),
        "Why not treatment-emergent": sel["TEREASON"], "Severity": sel["AESEV"], "Serious": sel["AESER"],
    })
    sec.add("ae_pretreatment", "Listing of adverse events that are not treatment-emergent (pre-treatment and "
            "other)", table, [f"{len(table)} AE record(s) not counted in the TEAE tables."])
