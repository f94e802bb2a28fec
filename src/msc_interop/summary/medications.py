"""Concomitant medications by class and name, and disposition, per arm (the tables a safety reviewer expects for
CM and DS), each number also an ARD row. A subject counts once per class and once per medication however many
records; a medication without CMDECOD is shown under its reported name in the class UNCODED."""

from __future__ import annotations

import pandas as pd

from msc_interop.study import Study
from msc_interop.summary._common import Population, Section
from msc_interop.summary.ard_tables import cell
from msc_interop.summary.dataset_rows import frame_of

UNCODED = "UNCODED"
NOT_TREATED = "Not treated (screen failure / not dosed)"


def _subjects_by_arm(pop: Population, usubjids: pd.Series) -> dict[str, int]:
    """Subjects of the population among `usubjids`, per column key (arm codes, Total)."""
    arm = pop.subjects.set_index("USUBJID")["ARMCD"]
    found = pd.Series(pd.unique(usubjids[usubjids.isin(arm.index)]), dtype=object)
    counts = found.map(arm).value_counts()
    out = {c: int(counts.get(c, 0)) for c in pop.arms}
    if pop.with_total:
        out["Total"] = len(found)
    return out


def summarize_medications(study: Study, pop: Population, sec: Section) -> None:
    """Tables cm_by_class (CM) and ds_disposition (DS) when the study has those datasets."""
    cm = frame_of(study, "CM", ("USUBJID", "CMCLAS", "CMDECOD", "CMTRT"))
    if cm is not None and len(cm):
        _cm(cm, pop, sec)
    ds = frame_of(study, "DS", ("USUBJID", "DSCAT", "DSDECOD", "DSSTDTC", "DSSEQ"))
    if ds is not None and len(ds):
        _ds(ds, pop, sec)


def _text(df: pd.DataFrame, col: str) -> pd.Series:
    return df[col].fillna("").astype(str).str.strip() if col in df.columns else pd.Series("", index=df.index)


def _cm(cm: pd.DataFrame, pop: Population, sec: Section) -> None:
    cols, n_by = pop.columns(), pop.arm_n()
    cls = _text(cm, "CMCLAS").replace("", UNCODED)
    name = _text(cm, "CMDECOD").where(_text(cm, "CMDECOD").ne(""), _text(cm, "CMTRT"))
    df = pd.DataFrame({"USUBJID": cm["USUBJID"].astype(object), "class": cls, "name": name})
    rows = []

    def add(label: str, level: str, subjects: pd.Series, variable: str, groups: tuple = ()) -> None:
        k = _subjects_by_arm(pop, subjects)
        rows.append({"Medication class": label, "Medication": level, **{pop.header(c): cell(sec.ard.counts(
            "cm_by_class", pop.label(c), variable, level or label, k.get(c, 0), n_by[c], groups=groups), "n_pct")
            for c in cols}})

    add("Any medication", "", df["USUBJID"], "CMTRT")
    for c_name in sorted(df["class"].unique(), key=lambda v: (v == UNCODED, v)):
        part = df[df["class"].eq(c_name)]
        add(c_name, "", part["USUBJID"], "CMCLAS")
        for m in sorted(part["name"].unique()):
            add(c_name, m, part.loc[part["name"].eq(m), "USUBJID"], "CMDECOD", (("CMCLAS", c_name),))
    sec.add("cm_by_class", "Concomitant and prior medications by class and name", pd.DataFrame(rows), [
        "Subjects with at least one record of the class or medication, n (%) of the safety population; a subject "
        "counts once per class and once per medication. Class: CMCLAS (ATC 4th level in the example study); name: "
        f"CMDECOD, else the reported CMTRT under {UNCODED}. Prior and concomitant medications are counted alike."])


def _ds(ds: pd.DataFrame, pop: Population, sec: Section) -> None:
    """The last disposition event per subject, per treatment column; the DM subjects outside the safety population
    (screen failures, subjects never treated) in a column of their own: every screened subject is counted."""
    cols, n_by = pop.columns(), pop.arm_n()
    outside = _outside(pop)
    events = ds[_text(ds, "DSCAT").isin(["DISPOSITION EVENT", ""])] if "DSCAT" in ds.columns else ds
    order = events.sort_values([c for c in ("USUBJID", "DSSTDTC", "DSSEQ") if c in events.columns], kind="stable")
    last = order.drop_duplicates("USUBJID", keep="last")  # the subject's final status
    decod = _text(last, "DSDECOD")
    rows = []

    def outside_cell(variable: str, level: str, k: int) -> dict[str, object]:
        if not len(outside):
            return {}
        return {f"{NOT_TREATED} (N={len(outside)})": cell(sec.ard.counts(
            "ds_disposition", NOT_TREATED, variable, level, k, len(outside)), "n_pct")}

    levels = sorted(decod.unique(), key=lambda v: (v != "COMPLETED", v))
    for level in levels:
        who = last.loc[decod.eq(level), "USUBJID"].astype(object)
        k = _subjects_by_arm(pop, who)
        rows.append({"Disposition": level, **{pop.header(c): cell(sec.ard.counts(
            "ds_disposition", pop.label(c), "DSDECOD", level, k.get(c, 0), n_by[c]), "n_pct") for c in cols},
            **outside_cell("DSDECOD", level, int(who.isin(outside).sum()))})
    k_any = _subjects_by_arm(pop, last["USUBJID"].astype(object))
    rows.append({"Disposition": "No disposition record", **{pop.header(c): cell(sec.ard.counts(
        "ds_disposition", pop.label(c), "DS_RECORD", "N", n_by[c] - k_any.get(c, 0), n_by[c]), "n_pct")
        for c in cols}, **outside_cell("DS_RECORD", "N", int((~outside.isin(last["USUBJID"])).sum()))})
    notes = ["Each subject's last disposition event (DSCAT DISPOSITION EVENT, latest DSSTDTC), n (%) of the safety "
             "population: COMPLETED, or the CDISC NCOMPLT reason for not completing (DSDECOD)."]
    if len(outside):
        notes.append(f"{NOT_TREATED}: the DM subjects outside the safety population (screen failures, subjects "
                     "never treated), n (%) of them, so that every screened subject is counted.")
    sec.add("ds_disposition", "Disposition at the end of the study", pd.DataFrame(rows), notes)


def _outside(pop: Population) -> pd.Series:
    """USUBJID of the DM subjects not in the treatment columns (ARMNRS SCREEN FAILURE, never dosed)."""
    if pop.all.empty or "USUBJID" not in pop.all.columns:
        return pd.Series([], dtype=object)
    subjects = pop.all["USUBJID"].astype(object)
    return subjects[~subjects.isin(pop.subjects["USUBJID"])].reset_index(drop=True)
