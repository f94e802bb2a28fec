"""Study facts, demographics and disposition across the follow-up (subjects with data at each visit)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_interop import trial_design
from msc_interop.study import Study
from msc_interop.summary._common import (
    MISSING,
    Population,
    Section,
    category_order,
    labels_of,
    subjects_text,
    visitnum_text,
)
from msc_interop.summary.ard_tables import cell, continuous_cells
from msc_interop.summary.codes import Codes
from msc_interop.summary.dataset_rows import row_count, rows_of

SEX_LABELS = {"F": "Female", "M": "Male", "U": "Unknown", "INTERSEX": "Intersex"}


def schedule_known(study: Study) -> bool:
    """True when the Study's visit schedule carries planned days (a study definition was read).

    A Study read from SDTM datasets alone lists its visits but has no planned days (all 0): its timing is unknown.
    """
    v = study.meta.visits
    if v is None or v.empty or "planned_dy" not in v:
        return False
    planned = pd.to_numeric(v["planned_dy"], errors="coerce")
    return bool(planned.notna().any() and planned.fillna(0).ne(0).any())


def planned_days(study: Study) -> tuple[pd.DataFrame, str]:
    """(VISITNUM, planned_dy, window_before, window_after; where they come from) of the planned schedule.

    The study definition's when read; else the trial design's TV VISITDY (planned study day), else SV VISITDY
    (the same planned day on each visit record). TV/SV carry no machine-readable window (TVSTRL is text): window
    columns are NaN then. Empty frame and "" when the input says nothing.
    """
    cols = ["VISITNUM", "planned_dy", "window_before", "window_after"]
    if schedule_known(study):
        v = study.meta.visits[cols].copy()
        v["VISITNUM"] = pd.to_numeric(v["VISITNUM"], errors="coerce")
        tv = study.datasets.get("TV")
        ours = tv is None or "TVSTRL" not in tv or tv["TVSTRL"].astype(str).map(
            lambda t: bool(trial_design._RULE.match(t))).any()
        if ours:
            return v, "the study definition"
        # a TV made elsewhere: VISITDY is the planned day, TVSTRL free text (no window this tool can read)
        v["window_before"] = np.nan
        v["window_after"] = np.nan
        return v, "TV VISITDY"
    for name in ("TV", "SV"):
        rows = rows_of(study, name)
        if rows is None or "VISITDY" not in rows.columns or "VISITNUM" not in rows.columns:
            continue
        counts = [pd.DataFrame({"VISITNUM": pd.to_numeric(df["VISITNUM"], errors="coerce"),
                                "planned_dy": pd.to_numeric(df["VISITDY"], errors="coerce")}).dropna().value_counts()
                  for df in rows.chunks(["VISITNUM", "VISITDY"])]
        k = pd.concat(counts).groupby(level=[0, 1]).sum().rename("k").reset_index() if counts else None
        if k is None or k.empty:
            continue
        # each visit's most frequent VISITDY (ties: the smallest), from counts that ranges of rows add up to
        k = k.sort_values(["VISITNUM", "k", "planned_dy"], ascending=[True, False, True]).drop_duplicates("VISITNUM")
        v = k[["VISITNUM", "planned_dy"]].reset_index(drop=True)
        v["window_before"] = np.nan
        v["window_after"] = np.nan
        return v, f"{name} VISITDY"
    return pd.DataFrame(columns=cols), ""


def _ts_value(study: Study, parmcd: str) -> str:
    ts = study.datasets.get("TS")
    if ts is None or "TSPARMCD" not in ts:
        return ""
    vals = ts.loc[ts["TSPARMCD"].eq(parmcd), "TSVAL"]
    return str(vals.iloc[0]) if len(vals) else ""


def study_table(study: Study, pop: Population) -> tuple[pd.DataFrame, list[str]]:
    meta = study.meta
    not_recorded = "not recorded in the input"
    indication = (meta.indication or {}).get("name", "") or _ts_value(study, "INDIC")
    title = meta.title or _ts_value(study, "TITLE")
    src = pop.all if len(pop.all) and "ARMCD" in pop.all else pop.subjects
    arms = src.drop_duplicates("ARMCD")[["ARMCD", "ARM"]].sort_values("ARMCD")
    arm_text = "; ".join(f"{r.ARMCD}: {r.ARM}" if r.ARM else (r.ARMCD or "(empty)") for r in arms.itertuples())
    _, plan_src = planned_days(study)
    known = bool(plan_src)
    rows = [
        ("Study identifier", meta.studyid),
        ("Title", title or not_recorded),
        ("Protocol", meta.protocol or not_recorded),
        ("Indication (disease)", indication or not_recorded),
        ("Arms", arm_text or not_recorded),
        ("Subjects (DM)", str(len(pop.all)) if len(pop.all) else str(pop.n)),
        ("Safety population (treatment columns)", str(pop.n)),
        ("Planned visit schedule", f"from {plan_src}" if known else
         "not in the input (no study definition, no TV/SV VISITDY): administration timing is 'schedule unknown'"),
        ("Datasets read", ", ".join(f"{n} ({row_count(study, n)})" for n in study.names)),
    ]
    notes = []
    if not known:
        notes.append("The input has no planned visit days (no study definition, no VISITDY in TV or SV): whether "
                      "each administration was on schedule is reported as 'schedule unknown', not guessed.")
    return pd.DataFrame(rows, columns=["Item", "Value"]), notes


def planned_visits(study: Study) -> tuple[set[float] | None, str]:
    """The planned VISITNUMs (TV's, else the study definition's) and where they come from; None when the input
    lists no planned visits (then a decimal VISITNUM is what marks an unscheduled visit)."""
    tv = rows_of(study, "TV")
    if tv is not None and "VISITNUM" in tv.columns and len(tv):
        found: set[float] = set()
        for df in tv.chunks(["VISITNUM"]):
            found |= set(pd.to_numeric(df["VISITNUM"], errors="coerce").dropna().astype(float).tolist())
        if found:
            return found, "TV"
    if schedule_known(study):
        return set(pd.to_numeric(study.meta.visits["VISITNUM"], errors="coerce").dropna().astype(float)), \
            "the study definition"
    return None, ""


def demographics(study: Study, pop: Population, sec: Section) -> None:
    dm = study.datasets.get("DM", pd.DataFrame(columns=["USUBJID"]))
    # the columns are pop.subjects' ARMCD (the treatment received by default); the "Arm" row is DM's ARM, the
    # planned arm, not the column's label (a subject planned for one arm who received another is counted there)
    subj = pop.subjects[["USUBJID", "ARMCD"]].merge(dm.drop(columns=["ARMCD"], errors="ignore")
                                                    .drop_duplicates("USUBJID"), on="USUBJID", how="left")
    subj = pop.expand(subj.drop(columns=["ARMCD"]))
    cols = pop.columns()
    rows: list[dict[str, object]] = []
    n_by = pop.arm_n()

    def add(char: str, cat: str, cells: dict[str, object]) -> None:
        rows.append({"Characteristic": char, "Category": cat, **{pop.header(c): cells.get(c, "0") for c in cols}})

    add("Subjects", "n", {c: cell(sec.ard.add("demographics", pop.label(c), "SAFFL", "Y", {"N": n_by[c]}), "text",
                                  stat="N") for c in cols})

    def categorical(char: str, var: str, labels: dict[str, str] | None = None, preferred: tuple[str, ...] = ()):
        if var not in subj:
            return
        val = subj[var].fillna("").astype(str).replace("", MISSING)
        if labels:
            val = val.map(lambda v: labels.get(v, v))
        counts = pd.crosstab(val, subj["ARMCD"])
        for cat in category_order(counts.index, preferred):
            k = {c: int(counts.at[cat, c]) if c in counts else 0 for c in cols}
            add(char, cat, {c: cell(sec.ard.counts("demographics", pop.label(c), var, cat, k[c], n_by[c]), "n_pct")
                            for c in cols})

    categorical("Sex", "SEX", SEX_LABELS, ("Female", "Male", "Intersex", "Unknown"))
    if "AGE" in subj:
        ageu = subj["AGEU"].replace("", np.nan).dropna().unique() if "AGEU" in subj else []
        unit = f" ({', '.join(sorted(str(u).lower() for u in ageu))})" if len(ageu) else ""
        per = {c: continuous_cells(sec.ard.values("demographics", pop.label(c), "AGE",
                                                  subj.loc[subj["ARMCD"].eq(c), "AGE"]), 0) for c in cols}
        for stat in ("n", "Mean (SD)", "Median", "Min, Max"):
            add(f"Age{unit}", stat, {c: per[c][stat] for c in cols})
        missing_age = int(pd.to_numeric(subj.loc[subj["ARMCD"].eq(cols[-1]), "AGE"], errors="coerce").isna().sum())
        if missing_age:
            sec.note("demographics", f"Age missing for {missing_age} subject(s); age statistics use the others.")
            sec.issue("Age missing", "DM", missing_age, missing_age, "", "excluded from age statistics")
    categorical("Race", "RACE")
    categorical("Ethnicity", "ETHNIC")
    categorical("Country", "COUNTRY")
    if "ARM" in subj:
        categorical("Arm", "ARM")
    table = pd.DataFrame(rows)
    notes = ["Safety population. Percentages use the number of subjects in each column (N) as denominator.",
             *pop.rules]
    sec.add("demographics", "Subjects and demographics", table, notes + sec.footnotes.get("demographics", []))


def disposition(study: Study, pop: Population, sec: Section) -> None:
    """Subjects with any record at each visit, by dataset (the follow-up as the data show it)."""
    texts, visits = Codes(), Codes()  # USUBJID and VISIT, VISITNUM as codes
    counts: list[pd.Series] = []  # subject-visits per (VISITNUM, VISIT code): the visit labels
    by_dom: dict[str, pd.Series] = {}  # subject-visits per VISITNUM, per dataset
    keys = np.zeros(0, dtype=np.int64)  # every subject-visit (subject code << 20 | VISITNUM code), once
    everyone = pop.subjects["USUBJID"]
    for name in study.names:
        rows = rows_of(study, name)
        if name.startswith("SUPP") or rows is None or not len(rows) or not len(rows.columns):
            continue
        d = rows.visit_codes(texts)
        if d is None:
            continue
        inside = pd.Index(texts.values()).isin(everyone)[d["s"]]  # hashed: np.isin of text is n x m
        subj, vn, visit = d["s"][inside], d["vn"][inside], d["v"][inside]
        counts.append(pd.DataFrame({"vn": vn, "v": visit}).value_counts())
        if name != "SV":  # SV (the visit took place) counts in "with data", not as a dataset column of its own
            by_dom[name] = pd.Series(vn).value_counts()  # a dataset's subject-visits are distinct
        keys = np.union1d(keys, subj.astype(np.int64) << 20 | visits.add(vn))
    cols = ["Visit number", "Visit", "Type", "Subjects with data", *[f"{d} subjects" for d in by_dom],
            "Subjects without data"]
    if not by_dom:
        sec.add("disposition", "Disposition: subjects with data at each visit", pd.DataFrame(columns=cols),
                ["No dataset with VISITNUM: disposition by visit cannot be shown."])
        return
    text, vn_of = texts.values(), visits.values().astype("float64")
    total = pd.concat(counts).groupby(level=[0, 1]).sum() if counts else pd.Series(dtype="int64")
    visit = pd.Series(text[total.index.get_level_values("v").to_numpy()], dtype=object)
    total.index = pd.MultiIndex.from_arrays([total.index.get_level_values("vn"), visit], names=["VISITNUM", "VISIT"])
    labels = labels_of([total[visit.notna().to_numpy()]])  # the pairs' most frequent VISIT per VISITNUM
    visit_code = keys & ((1 << 20) - 1)
    any_subj = pd.Series(np.bincount(visit_code, minlength=len(vn_of)), index=vn_of)
    any_subj = any_subj[any_subj > 0]
    rows = []
    n = pop.n
    trta = pop.label(pop.columns()[-1])  # all subjects of the safety population (Total, or the one arm)
    planned, plan_src = planned_visits(study)

    def is_planned(v: float) -> bool:
        return float(v) in planned if planned is not None else float(v).is_integer()

    for v in sorted(any_subj.index):
        vis = (("VISITNUM", visitnum_text(v)),)
        ref = sec.ard.counts("disposition", trta, "ANY_DATASET", "Y", int(any_subj[v]), n, groups=vis)
        row: dict[str, object] = {"Visit number": visitnum_text(v), "Visit": labels.get(v, ""),
                                  "Type": "scheduled" if is_planned(v) else "unscheduled",
                                  "Subjects with data": cell(ref, "n_pct")}
        for d, per_visit in by_dom.items():
            k = int(per_visit.get(v, 0))
            row[f"{d} subjects"] = cell(sec.ard.counts("disposition", trta, "DOMAIN", d, k, n, groups=vis), "n_pct")
        row["Subjects without data"] = cell(ref, "rest")
        rows.append(row)
    table = pd.DataFrame(rows, columns=cols)
    notes = [f"Percentages of the {n} subjects of the safety population. A subject 'has data' at a visit when "
             "any record of any dataset carries that VISITNUM, a visit record in SV (the visit took place) "
             "included; " + (f"a visit is scheduled when its VISITNUM is planned in {plan_src}, else unscheduled."
                             if planned is not None else
                             "with no planned visits in the input, visits with a decimal VISITNUM are unscheduled "
                             "(SDTM convention).")]
    sched = sorted(v for v in any_subj.index if is_planned(v))
    missing = []
    code_of = {float(v): i for i, v in enumerate(vn_of)}
    population = set(everyone)
    for v in sched:
        have = set(text[keys[visit_code == code_of[float(v)]] >> 20].tolist())
        lacking = sorted(population - have)
        if lacking and len(lacking) < n:
            missing.append((v, lacking))
    for v, lacking in missing:
        notes.append(f"{labels.get(v, visitnum_text(v))}: no data for {len(lacking)} subject(s) "
                     f"({subjects_text(lacking)}).")
    if missing:
        detail = "; ".join(f"{labels.get(v, visitnum_text(v))}: {len(lacking)}" for v, lacking in missing)
        sec.issue("Scheduled visit without any data", "all", sum(len(x) for _, x in missing),
                  len({s for _, x in missing for s in x}), detail, "counted as missing in the disposition table")
    sec.add("disposition", "Disposition: subjects with data at each visit", table, notes)


def populations(pop: Population, sec: Section) -> None:
    """Subjects per analysis population by planned arm, and the listing of those outside the treatment columns."""
    a = pop.all
    if a.empty:
        return
    planned = a["ARM"].where(a["ARM"].ne(""), a["ARMCD"]).where(a["ITTFL"].eq("Y"), "Not randomised")
    order = [*dict.fromkeys(planned[a["ITTFL"].eq("Y")].sort_values()), "Not randomised"]
    order = [c for c in order if c in set(planned)]
    rows = []
    every = pd.Series(True, index=a.index)
    # (row, ARD variable and level, within): the populations as ADaM flags (ENRLFL, ITTFL, SAFFL)
    for label, var, level, groups, mask in (
            ("Enrolled (DM)", "ENRLFL", "Y", (), every),
            ("Full analysis set (randomised, ITT)", "ITTFL", "Y", (), a["ITTFL"].eq("Y")),
            ("Safety population (received study treatment)", "SAFFL", "Y", (), a["SAFFL"].eq("Y")),
            ("Randomised, not treated", "SAFFL", "N", (("ITTFL", "Y"),), a["ITTFL"].eq("Y") & a["SAFFL"].eq("N")),
            ("Not randomised (screen failure / not assigned)", "ITTFL", "N", (), a["ITTFL"].eq("N"))):
        row: dict[str, object] = {"Population": label}
        for c, sel in [*((f"{c} (planned)", planned.eq(c)) for c in order), ("Total", every)]:
            ref = sec.ard.add("populations", c.removesuffix(" (planned)"), var, level,
                              {"n": int((mask & sel).sum())}, groups=groups)
            row[c] = cell(ref, "text")
        rows.append(row)
    sec.add("populations", "Analysis populations (by planned arm)", pd.DataFrame(rows), list(pop.rules))
    out = a[a["SAFFL"].eq("N") | a["ITTFL"].eq("N")]
    listing = pd.DataFrame({"Subject": out["USUBJID"], "ARMCD": out["ARMCD"], "ARM": out["ARM"],
                            "ACTARMCD": out["ACTARMCD"], "Full analysis set": out["ITTFL"],
                            "Safety": out["SAFFL"], "Reason": out["REASON"]})
    sec.add("population_listing", "Subjects outside the treatment columns", listing,
            [f"{len(listing)} subject(s) are not in the safety population or not randomised; they are in no "
             "treatment column."])
