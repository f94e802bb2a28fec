"""Analysis populations: who is in the treatment columns, and why the others are not.

- Full analysis set (ITT): randomised, i.e. a planned arm (ARMCD) that is not a "not assigned" value
  (mappings/summary_populations.yaml: SCRNFAIL, NOTASSGN, empty, or ARMNRS SCREEN FAILURE / NOT ASSIGNED).
- Safety population: received any study treatment: at least one EX record with a dose given (EXOCCUR not "N") and
  a start date; without an EX dataset, RFXSTDTC non-empty; ACTARMCD NOTTRT (or ARMNRS ASSIGNED, NOT TREATED) never.
  A study with neither EX nor RFXSTDTC cannot say who was treated: every randomised subject is taken as treated,
  and a footnote says so.
- Treatment columns: the safety population by actual treatment (ACTARMCD/ACTARM when present, else ARMCD/ARM;
  ``arms="planned"`` uses ARMCD/ARM), labelled by the arm's name; screen failures and untreated subjects are in the
  population table and its listing instead.
"""

from __future__ import annotations

import pandas as pd

from msc_interop import dates, mappings
from msc_interop.study import Study
from msc_interop.summary._common import NOT_ASSIGNED, Population, text_col
from msc_interop.summary.dataset_rows import rows_of


def _upper(values: pd.Series) -> pd.Series:
    return values.fillna("").astype(str).str.strip().str.upper()


def _all_subjects(study: Study) -> list[str]:
    out: set[str] = set()
    for name in study.names:
        rows = rows_of(study, name)
        if not name.startswith("SUPP") and rows is not None and "USUBJID" in rows.columns:
            out.update(rows.subjects())
    return sorted(out)


def _arm_order(study: Study, codes: list[str]) -> list[str]:
    """Arms in the trial design's order (TA, then the study definition's arms (study.yaml, a FHIR ResearchStudy's),
    then TV's order of appearance), the codes none of them has after them in alphabetical order."""
    order: list[str] = []
    for name in ("TA", "meta", "TV"):
        df = study.datasets.get(name) if name != "meta" else pd.DataFrame(
            {"ARMCD": [str(a.get("armcd", "")) for a in study.meta.arms]}, dtype=object)
        if df is not None and "ARMCD" in df:
            order += [a for a in dict.fromkeys(df["ARMCD"].astype(str)) if a and a not in order]
    known = [a for a in order if a in codes]
    return known + sorted(a for a in codes if a not in known)


def dose_dates(study: Study) -> pd.DataFrame:
    """USUBJID, first and last dose date (datetime64 days) from RFXSTDTC/RFXENDTC, else EX start/end dates, and
    first_dtc: the first dose as written (RFXSTDTC, else the earliest EXSTDTC on the first date: a date-only one
    sorts first), whose clock time, when it has one, the TEAE rule compares on the day of the first dose."""
    frames = []
    dm = study.datasets.get("DM")
    if dm is not None and "RFXSTDTC" in dm:
        rfx = text_col(dm, "RFXSTDTC").fillna("").astype(str).str.strip()
        frames.append(pd.DataFrame({"USUBJID": dm["USUBJID"], "first": dates.date_part(dm["RFXSTDTC"]),
                                    "last": dates.date_part(text_col(dm, "RFXENDTC")), "first_dtc": rfx}))
    ex = study.datasets.get("EX")
    if ex is not None and len(ex):
        given = _upper(text_col(ex, "EXOCCUR")).ne("N")
        e = ex[given.to_numpy()]
        st = dates.date_part(text_col(e, "EXSTDTC"))
        en = dates.date_part(text_col(e, "EXENDTC")).fillna(st)
        g = pd.DataFrame({"USUBJID": e["USUBJID"], "first": st, "last": en.where(en >= st, st),
                          "first_dtc": text_col(e, "EXSTDTC").fillna("").astype(str).str.strip()})
        agg = g.groupby("USUBJID", as_index=False).agg(first=("first", "min"), last=("last", "max"))
        on_first = g[g["first"].eq(g["USUBJID"].map(agg.set_index("USUBJID")["first"]))]
        agg["first_dtc"] = agg["USUBJID"].map(on_first.groupby("USUBJID")["first_dtc"].min())
        frames.append(agg)
    if not frames:
        return pd.DataFrame({"USUBJID": pd.Series(dtype=object), "first": pd.Series(dtype="datetime64[ns]"),
                             "last": pd.Series(dtype="datetime64[ns]"), "first_dtc": pd.Series(dtype=object)})
    out = frames[0].drop_duplicates("USUBJID").set_index("USUBJID")
    for f in frames[1:]:  # DM's RFX dates first; EX fills where DM has none
        f = f.set_index("USUBJID")
        out = out.reindex(out.index.union(f.index))
        ex_first = out["first"].isna()  # the first dose text comes with the first dose date
        out["first"] = out["first"].fillna(f["first"].reindex(out.index))
        out["first_dtc"] = out["first_dtc"].where(~ex_first, f["first_dtc"].reindex(out.index))
        out["last"] = out["last"].fillna(f["last"].reindex(out.index))
    out["first_dtc"] = out["first_dtc"].where(out["first"].notna(), "").fillna("")
    return out.reset_index(names="USUBJID")


def population(study: Study, arms: str = "actual") -> Population:
    """The safety population in treatment columns, with every DM subject's flags in `Population.all`."""
    dm = study.datasets.get("DM")
    if dm is None or dm.empty:
        subjects = pd.DataFrame({"USUBJID": _all_subjects(study)}, dtype=object)
        subjects["ARMCD"] = NOT_ASSIGNED
        subjects["ARM"] = ""
        allsub = subjects.assign(ITTFL="", SAFFL="", REASON="no DM: arms and populations unknown")
        return Population(subjects, (NOT_ASSIGNED,), False, {NOT_ASSIGNED: NOT_ASSIGNED}, allsub,
                          ("The study has no DM: every subject with data is counted, in one column.",))
    rules = mappings.load("summary_populations")
    dm = dm.drop_duplicates("USUBJID").sort_values("USUBJID", kind="stable").reset_index(drop=True)
    armcd, arm = text_col(dm, "ARMCD").fillna(""), text_col(dm, "ARM").fillna("")
    act_cd, act = text_col(dm, "ACTARMCD").fillna(""), text_col(dm, "ACTARM").fillna("")
    armnrs = _upper(text_col(dm, "ARMNRS"))
    nr = rules["not_randomised"]
    itt = ~(_upper(armcd).isin(nr["armcd"]) | armnrs.isin(nr["armnrs"]))
    nt = rules["not_treated"]
    not_treated = _upper(act_cd).isin([v for v in nt["actarmcd"] if v]) | armnrs.isin(nt["armnrs"])
    dd = dose_dates(study).set_index("USUBJID")
    has_ex = "EX" in study.datasets and len(study.datasets["EX"]) > 0
    has_rfx = "RFXSTDTC" in dm
    notes = []
    if has_ex or has_rfx:
        dosed = pd.Series(dd["first"].reindex(dm["USUBJID"]).notna().to_numpy(), index=dm.index)
        treated = dosed & ~not_treated
        src = "an EX record with a dose given (EXOCCUR not N) and a start date" if has_ex else "RFXSTDTC"
        if has_ex and has_rfx:
            src += ", or RFXSTDTC"
        notes.append(f"Safety population: subjects who received any study treatment ({src}).")
    else:
        treated = itt & ~not_treated
        notes.append("The input has neither EX nor RFXSTDTC: every randomised subject is taken as treated "
                     "(safety population = full analysis set).")
    notes.append("Full analysis set (ITT): randomised subjects, planned ARMCD not SCRNFAIL, NOTASSGN or empty "
                 "(SDTMIG 3.2 section 5.3; ARMNRS per CDISC CT ARMNULRS C142179).")
    use_actual = arms == "actual" and act_cd.ne("").any()
    key = act_cd.where(act_cd.ne(""), armcd) if use_actual else armcd
    label = act.where(act_cd.ne(""), arm) if use_actual else arm
    notes.append("Treatment columns: the safety population by " + (
        "actual treatment (ACTARMCD/ACTARM)" if use_actual else "planned arm (ARMCD/ARM)")
        + ", labelled by the arm name; screen failures and untreated subjects are in the population table only.")
    if use_actual:
        moved = int((act_cd.ne(armcd) & treated & itt & act_cd.ne("")).sum())
        if moved:
            notes.append(f"{moved} subject(s) received a treatment other than planned (ACTARMCD differs from "
                         "ARMCD): counted under the treatment received.")
    reason = pd.Series("", index=dm.index, dtype=object)
    reason[treated & ~itt] = "treated but not randomised"
    reason[~treated & itt] = "randomised, not treated"
    reason[~treated & ~itt] = "not randomised (screen failure / not assigned)"
    allsub = pd.DataFrame({"USUBJID": dm["USUBJID"], "ARMCD": armcd, "ARM": arm, "ACTARMCD": act_cd,
                           "ACTARM": act, "ITTFL": itt.map({True: "Y", False: "N"}),
                           "SAFFL": treated.map({True: "Y", False: "N"}), "REASON": reason,
                           "TRTSDT": dd["first"].reindex(dm["USUBJID"]).to_numpy(),
                           "TRTSDTC": dd["first_dtc"].reindex(dm["USUBJID"]).fillna("").to_numpy(),
                           "TRTEDT": dd["last"].reindex(dm["USUBJID"]).to_numpy()})
    sel = treated.to_numpy()
    if not sel.any():  # nobody known to be treated: show every DM subject rather than empty columns
        sel = pd.Series(True, index=dm.index).to_numpy()
        notes.append("No subject is known to have received study treatment: every DM subject is shown.")
    subjects = pd.DataFrame({"USUBJID": dm["USUBJID"][sel], "ARMCD": key[sel].where(key[sel].ne(""), NOT_ASSIGNED),
                             "ARM": label[sel]}).reset_index(drop=True)
    codes = _arm_order(study, list(subjects["ARMCD"].unique()))
    labels = {}
    for c in codes:
        names = subjects.loc[subjects["ARMCD"].eq(c), "ARM"]
        names = names[names.ne("")]
        labels[c] = str(names.mode().iloc[0]) if len(names) else c
    return Population(subjects, tuple(codes), len(codes) > 1, labels, allsub, tuple(notes))
