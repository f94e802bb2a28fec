"""ECG tables of the safety summary, ICH E14 style (categories in mappings/ecg.yaml `summary`).

ecg_qtc: per arm, subjects whose maximum post-baseline QTcF exceeds 450 / 480 / 500 ms, and whose maximum
increase from baseline exceeds 30 / 60 ms; the denominator is the subjects with a post-baseline QTcF (and a
baseline, for the increase). ecg_abnormal: subjects with an ABNORMAL interpretation (EGTESTCD INTP) at baseline,
after baseline as a new abnormality (not abnormal at baseline), after baseline already present at baseline; and
the same per finding term (EGSTRESC of the finding records, e.g. SINUS TACHYCARDIA). Baseline: the record flagged
EGLOBXFL (or EGBLFL) = Y per subject and test; post-baseline: the records of later visits (VISITNUM), or of a
later date when the visit is missing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_interop import mappings
from msc_interop.study import Study
from msc_interop.summary._common import Population, Section, num_col, text_col
from msc_interop.summary.ard_tables import cell
from msc_interop.summary.dataset_rows import DatasetRows, rows_of

QTC_TABLE, ABN_TABLE = "ecg_qtc", "ecg_abnormal"


EG_COLUMNS = ("USUBJID", "EGTESTCD", "EGSTRESC", "EGSTRESN", "VISITNUM", "EGDTC", "EGLOBXFL", "EGBLFL")


def summarize_ecg(study: Study, pop: Population, sec: Section) -> None:
    """Add ecg_qtc and ecg_abnormal to `sec` (nothing when the study has no EG)."""
    rows = rows_of(study, "EG")
    if rows is None or not len(rows) or "EGTESTCD" not in rows.columns:
        return
    eg = pop.within(_timed(_used_records(rows)))
    _qtc_table(eg, pop, sec)
    _abnormal_table(eg, pop, sec)


def _used_records(rows: DatasetRows) -> pd.DataFrame:
    """The EG records the tables read, range by range: QTcF and INTP, finding records (a text result without a
    number), and the baseline-flagged records (each test's baseline visit and date). At 5M EG rows that is a few
    of every subject's records, not all of them."""
    qtc = mappings.load("ecg")["summary"]["test"]
    flag = "EGLOBXFL" if "EGLOBXFL" in rows.columns else "EGBLFL"
    parts = []
    for chunk in rows.chunks(EG_COLUMNS):
        test = text_col(chunk, "EGTESTCD")
        finding = num_col(chunk, "EGSTRESN").isna() & text_col(chunk, "EGSTRESC").fillna("").ne("")
        keep = test.eq(qtc) | test.eq("INTP") | finding | text_col(chunk, flag).fillna("").eq("Y")
        parts.append(chunk[keep.to_numpy()])
    return pd.concat(parts) if len(parts) > 1 else parts[0]


def _timed(eg: pd.DataFrame) -> pd.DataFrame:
    """EG with `base` (the baseline record) and `post` (after the subject's baseline of the same test)."""
    df = pd.DataFrame({
        "USUBJID": text_col(eg, "USUBJID"), "EGTESTCD": text_col(eg, "EGTESTCD"),
        "EGSTRESC": text_col(eg, "EGSTRESC").fillna("").str.upper(), "EGSTRESN": num_col(eg, "EGSTRESN"),
        "VISITNUM": num_col(eg, "VISITNUM"), "EGDTC": text_col(eg, "EGDTC").fillna("")})
    flag = text_col(eg, "EGLOBXFL") if "EGLOBXFL" in eg.columns else text_col(eg, "EGBLFL")
    df["base"] = flag.fillna("").eq("Y").to_numpy()
    ref = df[df["base"]].drop_duplicates(["USUBJID", "EGTESTCD"]).set_index(["USUBJID", "EGTESTCD"])
    key = pd.MultiIndex.from_frame(df[["USUBJID", "EGTESTCD"]])
    base_visit = ref["VISITNUM"].reindex(key).to_numpy()
    base_dtc = ref["EGDTC"].reindex(key).fillna("").to_numpy(dtype=object)
    later_visit = df["VISITNUM"].to_numpy() > base_visit
    later_date = np.isnan(df["VISITNUM"].to_numpy()) & (df["EGDTC"].to_numpy(dtype=object) > base_dtc) & (
        base_dtc != "")
    df["post"] = later_visit | later_date
    return df


def _qtc_table(eg: pd.DataFrame, pop: Population, sec: Section) -> None:
    conf = mappings.load("ecg")["summary"]
    q = eg[eg["EGTESTCD"].eq(conf["test"]) & eg["EGSTRESN"].notna()]
    if q.empty:
        return
    base = q[q["base"]].drop_duplicates("USUBJID").set_index("USUBJID")["EGSTRESN"]
    post = q[q["post"]]
    per = post.groupby("USUBJID")["EGSTRESN"].max().rename("max").to_frame()
    per["base"] = base.reindex(per.index)
    change = (post.assign(chg=post["EGSTRESN"] - post["USUBJID"].map(base)).groupby("USUBJID")["chg"].max())
    per["change"] = change.reindex(per.index)
    per = pop.expand(per.reset_index())
    rows = []
    cols = pop.columns()
    specs = [(f"Maximum post-baseline QTcF > {t:g} ms", "max", t) for t in conf["absolute_ms"]] + [
        (f"Maximum increase from baseline > {t:g} ms", "change", t) for t in conf["change_ms"]]
    big_n = {c: int((per["ARMCD"].eq(c)).sum()) for c in cols}
    big_n_change = {c: int((per["ARMCD"].eq(c) & per["change"].notna()).sum()) for c in cols}
    rows.append({"Category": "Subjects with a post-baseline QTcF", **{pop.header(c): cell(sec.ard.add(
        QTC_TABLE, pop.label(c), "QTCF", "post-baseline", {"N": big_n[c]}), "text", stat="N") for c in cols}})
    for label, what, t in specs:
        row: dict[str, object] = {"Category": label}
        for c in cols:
            sub = per[per["ARMCD"].eq(c)]
            n = int((sub[what] > t).sum())
            total = big_n_change[c] if what == "change" else big_n[c]
            row[pop.header(c)] = cell(sec.ard.counts(QTC_TABLE, pop.label(c), "QTCFAG" if what == "max" else
                                                     "QTCFAG_CHG", f"> {t:g} ms", n, total), "n_pct")
        rows.append(row)
    sec.add(QTC_TABLE, "ECG: QTcF categories (ICH E14)", pd.DataFrame(rows), [
        f"{conf['source']}. Maximum of the post-baseline values per subject; increase = post-baseline value minus "
        "the baseline (EGLOBXFL = Y). Denominator: subjects with a post-baseline QTcF (and a baseline, for the "
        "increase)."])


def _abnormal_table(eg: pd.DataFrame, pop: Population, sec: Section) -> None:
    intp = eg[eg["EGTESTCD"].eq("INTP")]
    found = eg[eg["EGSTRESN"].isna() & ~eg["EGTESTCD"].eq("INTP") & eg["EGSTRESC"].ne("")]
    if intp.empty and found.empty:
        return
    cols = pop.columns()
    assessed = pop.expand(intp.drop_duplicates("USUBJID")[["USUBJID"]])
    big_n = {c: int(assessed["ARMCD"].eq(c).sum()) for c in cols}
    rows: list[dict[str, object]] = [{"Finding": "Subjects with an ECG interpretation", "Timing": "", **{
        pop.header(c): cell(sec.ard.add(ABN_TABLE, pop.label(c), "INTP", "assessed", {"N": big_n[c]}), "text",
                            stat="N") for c in cols}}]
    groups = [("ABNORMAL interpretation", intp, "ABNORMAL")] + [
        (term, found, term) for term in sorted(found["EGSTRESC"].unique())]
    for label, df, value in groups:
        hit = df[df["EGSTRESC"].eq(value)]
        at_base = set(hit.loc[hit["base"], "USUBJID"])
        after = set(hit.loc[hit["post"], "USUBJID"])
        for timing, subjects in (("at baseline", at_base), ("after baseline, new", after - at_base),
                                 ("after baseline, present at baseline", after & at_base)):
            ex = pop.expand(pd.DataFrame({"USUBJID": sorted(subjects)}))
            row: dict[str, object] = {"Finding": label, "Timing": timing}
            for c in cols:
                n = int(ex["ARMCD"].eq(c).sum())
                row[pop.header(c)] = cell(sec.ard.counts(ABN_TABLE, pop.label(c), label, timing, n, big_n[c]), "n_pct")
            rows.append(row)
    sec.add(ABN_TABLE, "ECG: abnormal interpretations and findings, at baseline and after", pd.DataFrame(rows), [
        "Interpretation: EGTESTCD INTP = ABNORMAL; findings: the ECG Result terms of the finding records. New: "
        "after baseline in a subject without it at baseline; present at baseline: after baseline in a subject who "
        "had it at baseline (EGLOBXFL = Y)."])
