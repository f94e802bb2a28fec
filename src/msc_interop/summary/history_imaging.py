"""Medical history by MedDRA SOC / PT, and the chest X-ray readings per visit (normal, abnormal, new abnormality).

Medical history (MH): subjects of the safety population with at least one record of each SOC (MHBODSYS) and PT
(MHDECOD; an uncoded term is shown as "<MHTERM> (uncoded)" under "Not coded"), per arm, as n (% of N).
Chest X-ray (RE, RETESTCD INTP; the reading of the PR procedure): per visit and arm, the subjects with a
reading, and of them normal / abnormal (RESTRESC), and "new abnormality": abnormal at a visit after baseline
while the baseline reading (RELOBXFL = Y, else the first visit) was normal. Percent of the subjects read at
that visit. The ARD rows (table mh_soc_pt, cxr_visits) carry the same numbers.
"""

from __future__ import annotations

import pandas as pd

from msc_interop.distinct import per_distinct
from msc_interop.study import Study
from msc_interop.summary._common import Population, Section, text_col
from msc_interop.summary.ard_tables import cell
from msc_interop.summary.dataset_rows import frame_of

NOT_CODED = "Not coded"
MH_TITLE = "Medical history by MedDRA system organ class and preferred term"
CXR_TITLE = "Chest X-ray readings by visit: normal, abnormal, new abnormality after baseline"


def summarize_history_imaging(study: Study, pop: Population, sec: Section) -> None:
    """Add the mh_soc_pt and cxr_visits tables (each only when the study has the domain)."""
    mh = frame_of(study, "MH", ("USUBJID", "MHBODSYS", "MHDECOD", "MHTERM"))
    if mh is not None:
        _mh(mh, pop, sec)
    re_ = frame_of(study, "RE", ("USUBJID", "VISIT", "VISITNUM", "RESTRESC", "RELOBXFL", "RETESTCD"))
    if re_ is not None:
        _cxr(re_, pop, sec)


def _subjects(df: pd.DataFrame, pop: Population, keys: list[str]) -> pd.Series:
    """Distinct subjects per (keys..., ARMCD) with the Total column."""
    e = pop.expand(df[["USUBJID", *keys]])  # the variables counted: each row is copied once per column
    return e.drop_duplicates([*keys, "ARMCD", "USUBJID"]).groupby([*keys, "ARMCD"]).size()


def _mh(mh: pd.DataFrame, pop: Population, sec: Section) -> None:
    df = pd.DataFrame({"USUBJID": text_col(mh, "USUBJID")})
    soc = text_col(mh, "MHBODSYS")
    df["SOC"] = soc.where(soc.ne(""), NOT_CODED)
    pt = text_col(mh, "MHDECOD")
    df["PT"] = pt.where(pt.ne(""), per_distinct(lambda u: u + " (uncoded)", text_col(mh, "MHTERM")))
    df["SOC"] = df["SOC"].where(pt.ne("") | soc.ne(""), NOT_CODED)
    df = pop.within(df)
    n_by = pop.arm_n()
    cols = ["System organ class", "Preferred term"]
    if df.empty:
        sec.add("mh_soc_pt", MH_TITLE, pd.DataFrame(columns=cols), ["No medical history recorded."])
        return
    any_n = _subjects(df.assign(ANY="any"), pop, ["ANY"])
    by_soc, by_pt = _subjects(df, pop, ["SOC"]), _subjects(df, pop, ["SOC", "PT"])
    total = "Total" if pop.with_total else pop.arms[0]
    rows = [{"System organ class": "Any medical history", "Preferred term": "",
             **_ard(sec, "mh_soc_pt", pop, any_n, ("any",), n_by, "ANY_MH", "Y")}]
    socs = sorted(df["SOC"].unique(), key=lambda s: (s == NOT_CODED, -int(by_soc.get((s, total), 0)), s))
    for s in socs:
        rows.append({"System organ class": s, "Preferred term": "",
                     **_ard(sec, "mh_soc_pt", pop, by_soc, (s,), n_by, "MHBODSYS", s)})
        pts = df.loc[df["SOC"].eq(s), "PT"].unique()
        for p in sorted(pts, key=lambda p: (-int(by_pt.get((s, p, total), 0)), p)):
            rows.append({"System organ class": s, "Preferred term": p,
                         **_ard(sec, "mh_soc_pt", pop, by_pt, (s, p), n_by, "MHDECOD", p, (("MHBODSYS", s),))})
    sec.add("mh_soc_pt", MH_TITLE, pd.DataFrame(rows),
            ["n (%): subjects of the safety population with at least one such condition (percent of N). Sorted by "
             "decreasing number of subjects, then alphabetically."])


def _ard(sec: Section, table: str, pop: Population, counts: pd.Series, key: tuple, n_by: dict[str, int],
         variable: str, level: object, groups: tuple[tuple[str, object], ...] = (), header: str = "n (%)"
         ) -> dict[str, object]:
    """The ARD rows of one table row (n, N, p per treatment column) and the row's cells formatted from them."""
    return {pop.header(c, header): cell(sec.ard.counts(table, pop.label(c), variable, level,
                                                       int(counts.get((*key, c), 0)), n_by[c], groups=groups), "n_pct")
            for c in pop.columns()}


def _cxr(re_: pd.DataFrame, pop: Population, sec: Section) -> None:
    cols = ["Visit", "Reading"]
    df = pd.DataFrame({"USUBJID": text_col(re_, "USUBJID"), "VISIT": text_col(re_, "VISIT"),
                       "RESULT": per_distinct(lambda u: u.str.upper(), text_col(re_, "RESTRESC")),
                       "BASE": text_col(re_, "RELOBXFL"),
                       "VISITNUM": pd.to_numeric(re_["VISITNUM"], errors="coerce") if "VISITNUM" in re_ else pd.NA})
    if "RETESTCD" in re_.columns:
        df = df[text_col(re_, "RETESTCD").eq("INTP").to_numpy()]
    df = pop.within(df[df["RESULT"].isin(["NORMAL", "ABNORMAL"])])
    if df.empty:
        sec.add("cxr_visits", CXR_TITLE, pd.DataFrame(columns=cols), ["No chest X-ray readings recorded."])
        return
    df = df.sort_values(["USUBJID", "VISITNUM"], kind="stable")
    flagged = df[df["BASE"].eq("Y")].drop_duplicates("USUBJID")
    first = df[~df["USUBJID"].isin(flagged["USUBJID"])].drop_duplicates("USUBJID")
    base = pd.concat([flagged, first]).set_index("USUBJID")  # one baseline reading per subject
    after = df["VISITNUM"].gt(df["USUBJID"].map(base["VISITNUM"]))
    df["NEW"] = after & df["RESULT"].eq("ABNORMAL") & df["USUBJID"].map(base["RESULT"]).eq("NORMAL")
    visits = df.drop_duplicates("VISIT").sort_values("VISITNUM", kind="stable")["VISIT"].tolist()
    read = _subjects(df, pop, ["VISIT"])
    rows = []
    for v in visits:
        at = df[df["VISIT"].eq(v)]
        denominators = {c: int(read.get((v, c), 0)) for c in pop.columns()}
        rows.append({"Visit": v, "Reading": "Subjects read", **{pop.header(c, "n (%)"): cell(sec.ard.add(
            "cxr_visits", pop.label(c), "RESTRESC", "read", {"N": denominators[c]}, groups=(("VISIT", v),)), "text",
            stat="N") for c in pop.columns()}})
        for label, mask in (("Normal", at["RESULT"].eq("NORMAL")), ("Abnormal", at["RESULT"].eq("ABNORMAL")),
                            ("New abnormality after baseline", at["NEW"])):
            counts = _subjects(at[mask.to_numpy()].assign(ROW=label), pop, ["ROW"]) if mask.any() else pd.Series()
            rows.append({"Visit": v, "Reading": label, **_ard(sec, "cxr_visits", pop, counts, (label,), denominators,
                                                              "RESTRESC", label, (("VISIT", v),))})
    sec.add("cxr_visits", CXR_TITLE, pd.DataFrame(rows),
            ["Chest X-ray interpretation (RE RETESTCD INTP, RESTRESC). n (%): subjects read at the visit with that "
             "reading (percent of the subjects read at the visit). New abnormality: abnormal at a visit after "
             "baseline (RELOBXFL = Y, else the first reading) while the baseline reading was normal."])
