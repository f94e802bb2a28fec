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

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from msc_interop import mappings
from msc_interop.study import Study
from msc_interop.summary._common import Population, Section, num_col, text_col
from msc_interop.summary.ard_tables import cell
from msc_interop.summary.codes import Codes, text_ranks
from msc_interop.summary.dataset_rows import DatasetRows, rows_of

QTC_TABLE, ABN_TABLE = "ecg_qtc", "ecg_abnormal"


_SLICE = 1 << 20  # records whose baseline _timed looks up at a time
EG_COLUMNS = ("USUBJID", "EGTESTCD", "EGSTRESC", "EGSTRESN", "VISITNUM", "EGDTC", "EGLOBXFL", "EGBLFL")


def summarize_ecg(study: Study, pop: Population, sec: Section) -> None:
    """Add ecg_qtc and ecg_abnormal to `sec` (nothing when the study has no EG)."""
    rows = rows_of(study, "EG")
    if rows is None or not len(rows) or "EGTESTCD" not in rows.columns:
        return
    eg = _used_records(rows)
    _timed(eg, pop)
    _qtc_table(eg, pop, sec)
    _abnormal_table(eg, pop, sec)


@dataclass
class _Records:
    """The EG records the tables read, as codes and numbers (one array per field, one row per record)."""

    subj: Codes = field(default_factory=Codes)  # USUBJID
    test: Codes = field(default_factory=Codes)  # EGTESTCD
    text: Codes = field(default_factory=Codes)  # EGSTRESC upper-cased
    dtc: Codes = field(default_factory=Codes)  # EGDTC of records without VISITNUM or flagged as baseline ("" else)
    cols: dict[str, np.ndarray] = field(default_factory=dict)  # subj, test, text, dtc, value, vn, base (+ post)

    def code(self, codes: Codes, value: str) -> int:
        return codes.index.get(value, -1)

    def subjects(self, mask: np.ndarray) -> list[str]:
        """USUBJID of the records at `mask`, each once, sorted."""
        return sorted(self.subj.values()[np.unique(self.cols["subj"][mask])].tolist())


def _used_records(rows: DatasetRows) -> _Records:
    """The EG records the tables read, range by range: QTcF and INTP, finding records (a text result without a
    number), and the baseline-flagged records (each test's baseline visit and date); as codes, so that at 5M EG
    rows they take a few numbers of a few of every subject's records."""
    qtc = mappings.load("ecg")["summary"]["test"]
    flag = "EGLOBXFL" if "EGLOBXFL" in rows.columns else "EGBLFL"
    eg = _Records()
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("subj", "test", "text", "dtc", "value", "vn", "base")}
    for chunk in rows.chunks(EG_COLUMNS):
        test = text_col(chunk, "EGTESTCD")
        value = num_col(chunk, "EGSTRESN")
        finding = value.isna() & text_col(chunk, "EGSTRESC").fillna("").ne("")
        base = text_col(chunk, flag).fillna("").eq("Y")
        keep = (test.eq(qtc) | test.eq("INTP") | finding | base).to_numpy()
        chunk, value, base = chunk[keep], value[keep].to_numpy(dtype="float64"), base[keep].to_numpy()
        vn = num_col(chunk, "VISITNUM").to_numpy(dtype="float64")
        dtc = text_col(chunk, "EGDTC").fillna("").to_numpy(dtype=object, copy=True)
        dtc[~(np.isnan(vn) | base)] = ""  # a date is compared only where the visit is missing, or is a baseline's
        for k, codes, text in (("subj", eg.subj, text_col(chunk, "USUBJID")),
                               ("test", eg.test, text_col(chunk, "EGTESTCD").fillna("")),
                               ("text", eg.text, text_col(chunk, "EGSTRESC").fillna("").str.upper()),
                               ("dtc", eg.dtc, pd.Series(dtc, dtype=object))):
            parts[k].append(codes.add(text.to_numpy(dtype=object)).astype(np.int32))
        parts["value"].append(value)
        parts["vn"].append(vn)
        parts["base"].append(base)
    for k in list(parts):  # one field at a time, its ranges freed as it is joined: never two copies of all
        v = parts.pop(k)
        eg.cols[k] = np.concatenate(v) if v else np.zeros(0)
    return eg


def _timed(eg: _Records, pop: Population) -> None:
    """`post` of each record (after the subject's baseline of the same test: a later VISITNUM, or a later date
    when the visit is missing) and `inside` (the subject is in the safety population)."""
    f = eg.cols
    n_test = max(len(eg.test.index), 1)
    b = np.flatnonzero(f["base"])
    base_key, first = np.unique(f["subj"][b].astype(np.int64) * n_test + f["test"][b], return_index=True)
    base_vn, base_dtc = f["vn"][b[first]], f["dtc"][b[first]]  # each subject-test's first flagged record's
    rank = text_ranks(eg.dtc.values())
    empty = eg.code(eg.dtc, "")
    post = np.zeros(len(f["subj"]), dtype=bool)
    for a in range(0, len(post), _SLICE):  # a slice at a time: the lookups' temporaries are ~50 B a record
        z = slice(a, a + _SLICE)
        key = f["subj"][z].astype(np.int64) * n_test + f["test"][z]
        if len(base_key):
            at = np.minimum(np.searchsorted(base_key, key), len(base_key) - 1)
            found = base_key[at] == key
            vn_b, dtc_b = np.where(found, base_vn[at], np.nan), np.where(found, base_dtc[at], empty)
        else:
            vn_b, dtc_b = np.full(len(key), np.nan), np.full(len(key), empty)
        vn = f["vn"][z]
        with np.errstate(invalid="ignore"):
            later_visit = vn > vn_b
        post[z] = later_visit | (np.isnan(vn) & (rank[f["dtc"][z]] > rank[dtc_b]) & (dtc_b != empty))
    f["post"] = post
    inside = pd.Index(eg.subj.values()).isin(pop.subjects["USUBJID"])  # hashed: np.isin of text is n x m
    f["inside"] = inside[f["subj"]] if len(f["subj"]) else np.zeros(0, dtype=bool)


def _qtc_table(eg: _Records, pop: Population, sec: Section) -> None:
    conf = mappings.load("ecg")["summary"]
    f = eg.cols
    q = f["inside"] & (f["test"] == eg.code(eg.test, conf["test"])) & ~np.isnan(f["value"])
    if not q.any():
        return
    b = np.flatnonzero(q & f["base"])
    _, first = np.unique(f["subj"][b], return_index=True)  # each subject's first flagged QTcF record
    base = pd.Series(f["value"][b[first]], index=f["subj"][b[first]])
    post = pd.DataFrame({"s": f["subj"][q & f["post"]], "v": f["value"][q & f["post"]]})
    post["chg"] = post["v"] - base.reindex(post["s"].to_numpy()).to_numpy()
    per = post.groupby("s").agg(max=("v", "max"), change=("chg", "max"))
    per.index = eg.subj.values()[per.index.to_numpy()]
    per.index.name = "USUBJID"
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


def _abnormal_table(eg: _Records, pop: Population, sec: Section) -> None:
    f = eg.cols
    intp = f["inside"] & (f["test"] == eg.code(eg.test, "INTP"))
    found = (f["inside"] & np.isnan(f["value"]) & (f["test"] != eg.code(eg.test, "INTP"))
             & (f["text"] != eg.code(eg.text, "")))
    if not intp.any() and not found.any():
        return
    cols = pop.columns()
    assessed = pop.expand(pd.DataFrame({"USUBJID": eg.subjects(intp)}))
    big_n = {c: int(assessed["ARMCD"].eq(c).sum()) for c in cols}
    rows: list[dict[str, object]] = [{"Finding": "Subjects with an ECG interpretation", "Timing": "", **{
        pop.header(c): cell(sec.ard.add(ABN_TABLE, pop.label(c), "INTP", "assessed", {"N": big_n[c]}), "text",
                            stat="N") for c in cols}}]
    terms = eg.text.values()
    groups = [("ABNORMAL interpretation", intp, "ABNORMAL")] + [
        (term, found, term) for term in sorted(terms[np.unique(eg.cols["text"][found])].tolist())]
    for label, mask, value in groups:
        hit = mask & (eg.cols["text"] == eg.code(eg.text, value))
        at_base = set(eg.subjects(hit & eg.cols["base"]))
        after = set(eg.subjects(hit & eg.cols["post"]))
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
