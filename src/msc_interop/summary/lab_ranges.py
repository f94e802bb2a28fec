"""Lab results against the reference range: outside the range by visit, shift from baseline to the worst
post-baseline class, and the listing of results outside the range."""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_interop.summary._common import MISSING, Section, num, visitnum_text
from msc_interop.summary.ard_tables import cell
from msc_interop.summary.dataset_rows import DatasetRows
from msc_interop.summary.lab_data import N_ABN, N_HIGH, N_LOW, N_NORMAL, NR, TITLES, LabData


def range_table(d: LabData, an: pd.DataFrame, sec: Section, period_word: str) -> None:
    """lab_range: results below, above or outside the reference range by parameter and period."""
    counts = _range_counts(an["param"].to_numpy(), an["period"].to_numpy(), an["nr"].to_numpy())
    show_abn = bool((d.a["nr"] == N_ABN).any())
    rows = []
    for (p, per), r in counts.iterrows():
        n = int(r.sum())
        ref = {var: sec.ard.counts("lab_range", "", "ANRIND", var, int(k), n, groups=d.ard_groups(p, per))
               for var, k in (("LOW", r[N_LOW]), ("HIGH", r[N_HIGH]), ("ABNORMAL", r[N_ABN]),
                              ("OUTSIDE", r[N_LOW] + r[N_HIGH] + r[N_ABN]))}
        row = {"_p": p, "_q": per, **d.param_cells(p), period_word: d.period_label(per),
               "n": cell(ref["OUTSIDE"], "int", stat="N"), "Below range (LOW) n (%)": cell(ref["LOW"], "n_pct"),
               "Above range (HIGH) n (%)": cell(ref["HIGH"], "n_pct")}
        if show_abn:
            row["ABNORMAL n (%)"] = cell(ref["ABNORMAL"], "n_pct")
        row["Outside range n (%)"] = cell(ref["OUTSIDE"], "n_pct")
        rows.append(row)
    notes = ["n: results with a reference range classification (LBNRIND); percentages of n."]
    if d.counts["nr_derived"]:
        notes.append(f"{d.counts['nr_derived']} result(s) had no LBNRIND: classified from LBSTRESN against "
                     "LBSTNRLO/LBSTNRHI (limits inclusive).")
    sec.add("lab_range", TITLES["lab_range"], pd.DataFrame(rows), notes)


def _range_counts(param: np.ndarray, period: np.ndarray, nr: np.ndarray) -> pd.DataFrame:
    """Results per (param, period) (rows, sorted) and classification NORMAL / LOW / HIGH / ABNORMAL (columns 1-4),
    of the classified results; one parameter at a time."""
    out = []
    classified = nr > 0
    for p in range(int(param.max()) + 1 if len(param) else 0):
        at = np.flatnonzero(classified & (param == p))
        if not len(at):
            continue
        periods, q = np.unique(period[at], return_inverse=True)
        k = np.bincount(q * 5 + nr[at], minlength=len(periods) * 5).reshape(len(periods), 5)
        out.append(pd.DataFrame(k[:, 1:], columns=[N_NORMAL, N_LOW, N_HIGH, N_ABN],
                                index=pd.MultiIndex.from_arrays([np.full(len(periods), p), periods])))
    cols = [N_NORMAL, N_LOW, N_HIGH, N_ABN]
    return pd.concat(out) if out else pd.DataFrame(columns=cols, index=pd.MultiIndex.from_arrays([[], []]))


def shift_table(d: LabData, sec: Section) -> None:
    """lab_shift: subjects by baseline class and worst post-baseline class."""
    # per subject and parameter (one parameter at a time; subject codes are dense), counted with bincount
    subj, param, nr = d.a["subj"].to_numpy(), d.a["param"].to_numpy(), d.a["nr"].to_numpy()
    post = d.a["post"].to_numpy() & (nr > 0)
    n_subj = int(subj.max()) + 1 if len(subj) else 0
    parts = []
    for p in range(len(d.params)):
        at = np.flatnonzero(param == p)
        if not len(at):
            continue
        s, q, c = subj[at], post[at], nr[at]
        subjects = np.flatnonzero(np.bincount(s, minlength=n_subj))

        def seen(mask: np.ndarray, s: np.ndarray = s, subjects: np.ndarray = subjects) -> np.ndarray:
            return np.bincount(s[mask], minlength=n_subj)[subjects] > 0

        low, high = seen(q & (c == N_LOW)), seen(q & (c == N_HIGH))
        worst = np.select([low & high, low, high, seen(q & (c == N_ABN)), seen(q & (c == N_NORMAL))],
                          ["LOW and HIGH", "LOW", "HIGH", "ABNORMAL", "NORMAL"], default="No post-baseline value")
        bnr = d.base["nr"].reindex(subjects.astype(np.int64) * len(d.params) + p).fillna(0).astype(int).to_numpy()
        bcat = np.array([NR[i] if i > 0 else MISSING for i in bnr], dtype=object)
        parts.append(pd.DataFrame({"param": np.full(len(subjects), p), "base": bcat, "worst": worst}))
    t = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["param", "base", "worst"])
    ct = pd.crosstab([t["param"], t["base"]], t["worst"])
    post_cols = ["LOW", "NORMAL", "HIGH", "LOW and HIGH", "ABNORMAL", "No post-baseline value"]
    post_cols = [c for c in post_cols if c in ("LOW", "NORMAL", "HIGH") or (c in ct and ct[c].sum() > 0)]
    rows = []
    for p in sorted(t["param"].unique()):
        present = set(ct.loc[p].index) if p in ct.index.get_level_values(0) else set()
        for b in ["LOW", "NORMAL", "HIGH", "ABNORMAL", MISSING]:
            if b not in present and b not in ("LOW", "NORMAL", "HIGH"):
                continue
            r = ct.loc[(p, b)] if b in present else pd.Series(dtype=int)
            groups = (("PARAMCD", d.paramcd(p)), ("BNRIND", b))
            base = sec.ard.add("lab_shift", "", "BNRIND", b, {"N": int(r.sum()) if len(r) else 0},
                               groups=groups[:1], context="shift")
            row = {"_p": p, "_q": ["LOW", "NORMAL", "HIGH", "ABNORMAL", MISSING].index(b), **d.param_cells(p),
                   "Baseline": b, "n": cell(base, "int", stat="N")}
            for c in post_cols:
                ref = sec.ard.add("lab_shift", "", "WORST_POST_BASELINE", c, {"n": int(r.get(c, 0))}, groups=groups,
                                  context="shift")
                row[f"Worst post-baseline {c}"] = cell(ref, "int")
            rows.append(row)
    notes = ["Subjects by baseline reference range category (LBNRIND) and their worst post-baseline category over "
             "all post-baseline records (scheduled and unscheduled visits): LOW and HIGH when both occurred. "
             "Baseline 'Missing': no baseline record or no classification."]
    sec.add("lab_shift", TITLES["lab_shift"], pd.DataFrame(rows), notes)


LISTED = ("USUBJID", "LBTESTCD", "LBTEST", "VISIT", "LBDTC", "LBDY", "LBSTRESC", "LBSTRESU", "LBSTNRLO", "LBSTNRHI",
          "LBNRIND")


def abnormal_listing(d: LabData, lb: DatasetRows, sec: Section) -> None:
    """lab_abnormal_listing: every result outside the range, any visit, with its LB record's values."""
    a = d.a
    sel = a[a["nr"] >= N_LOW]
    rows = lb.take(d.rows_at(sel.index.to_numpy()), LISTED)

    def col(name: str) -> np.ndarray:
        return rows[name].to_numpy() if name in rows else np.full(len(rows), "", dtype=object)

    lo = col("LBSTNRLO") if "LBSTNRLO" in rows else np.full(len(rows), np.nan)
    hi = col("LBSTNRHI") if "LBSTNRHI" in rows else np.full(len(rows), np.nan)
    dec = d.params["decimals"].to_numpy()[sel["param"].to_numpy()]
    nrind = col("LBNRIND")
    table = pd.DataFrame({
        "Subject": col("USUBJID"), "Test code": col("LBTESTCD"), "Test": col("LBTEST"),
        "Visit": col("VISIT"), "Visit number": [visitnum_text(v) for v in sel["vn"]], "Date": col("LBDTC"),
        "Study day": pd.array(col("LBDY"), dtype="Int64").astype(str) if "LBDY" in rows else "",
        "Result": col("LBSTRESC"), "Unit": col("LBSTRESU"),
        "Reference range": [f"{num(x, k)} - {num(y, k)}" for x, y, k in zip(lo, hi, dec, strict=True)],
        "Indicator": [NR[c] if str(o) == "" else str(o) for c, o in zip(sel["nr"], nrind, strict=True)],
        "Derived": ["Y" if str(o) == "" else "" for o in nrind],
        "Baseline": np.where(sel["is_base"], "Y", ""),
        "Post-baseline": np.where(sel["post"], "Y", ""),
        "_s": sel["subj"].to_numpy(), "_p": sel["param"].to_numpy(), "_v": sel["vn"].to_numpy(),
        "_q": sel["seq"].to_numpy(),
    })
    table["Study day"] = table["Study day"].replace("<NA>", "-")
    table["_u"] = table["Subject"]
    table = table.sort_values(["_u", "_p", "_v", "_q"], kind="stable").drop(columns=["_s", "_p", "_v", "_q", "_u"])
    notes = [f"{len(table)} result(s) outside the reference range (LOW, HIGH or ABNORMAL), all visits; "
             "Derived = Y: LBNRIND was empty and the category was derived from the range."]
    sec.add("lab_abnormal_listing", TITLES["lab_abnormal_listing"], table, notes)
