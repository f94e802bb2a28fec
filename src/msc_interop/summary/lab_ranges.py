"""Lab results against the reference range: outside the range by visit, shift from baseline to the worst
post-baseline class, and the listing of results outside the range."""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_interop.summary._common import MISSING, Section, num, visitnum_text
from msc_interop.summary.ard_tables import cell
from msc_interop.summary.dataset_rows import DatasetRows
from msc_interop.summary.lab_data import N_ABN, N_HIGH, N_LOW, N_NORMAL, NR, TITLES, LabData, LabParam


def range_counts(an: pd.DataFrame) -> pd.DataFrame:
    """What lab_range counts of analysis rows `an`: see _range_counts."""
    return _range_counts(an["param"].to_numpy(), an["period"].to_numpy(), an["nr"].to_numpy())


def range_table(d: LabData, parts: list[pd.DataFrame], show_abn: bool, sec: Section, period_word: str) -> None:
    """lab_range: results below, above or outside the reference range by parameter and period, from the
    range_counts of consecutive parameters; `show_abn`: a column for ABNORMAL (some record of the column is)."""
    parts = [c for c in parts if len(c)]
    counts = pd.concat(parts) if parts else _range_counts(*(np.zeros(0, dtype=int),) * 3)
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
    for p in np.unique(param[classified]).tolist():
        at = np.flatnonzero(classified & (param == p))
        periods, q = np.unique(period[at], return_inverse=True)
        k = np.bincount(q * 5 + nr[at], minlength=len(periods) * 5).reshape(len(periods), 5)
        out.append(pd.DataFrame(k[:, 1:], columns=[N_NORMAL, N_LOW, N_HIGH, N_ABN],
                                index=pd.MultiIndex.from_arrays([np.full(len(periods), p), periods])))
    cols = [N_NORMAL, N_LOW, N_HIGH, N_ABN]
    return pd.concat(out) if out else pd.DataFrame(columns=cols, index=pd.MultiIndex.from_arrays([[], []]))


def shift_counts(lp: LabParam, a: pd.DataFrame) -> pd.DataFrame:
    """Subjects of records `a` (of parameter lp.p) by baseline class (rows) and worst post-baseline class
    (columns), counted with bincount over the dense subject codes."""
    s, nr = a["subj"].to_numpy(), a["nr"].to_numpy()
    q = a["post"].to_numpy() & (nr > 0)
    n_subj = len(lp.base_at)
    subjects = np.flatnonzero(np.bincount(s, minlength=n_subj))

    def seen(mask: np.ndarray) -> np.ndarray:
        return np.bincount(s[mask], minlength=n_subj)[subjects] > 0

    low, high = seen(q & (nr == N_LOW)), seen(q & (nr == N_HIGH))
    worst = np.select([low & high, low, high, seen(q & (nr == N_ABN)), seen(q & (nr == N_NORMAL))],
                      ["LOW and HIGH", "LOW", "HIGH", "ABNORMAL", "NORMAL"], default="No post-baseline value")
    at = lp.base_at[subjects]
    bnr = np.where(at >= 0, lp.base["nr"].to_numpy()[np.maximum(at, 0)], 0) if len(lp.base) else np.zeros(
        len(subjects), dtype=int)
    bcat = np.array([NR[i] if i > 0 else MISSING for i in bnr.tolist()], dtype=object)
    return pd.crosstab(pd.Series(bcat, name="base"), pd.Series(worst, name="worst")) if len(subjects) else (
        pd.DataFrame())


def shift_table(d: LabData, parts: dict[int, pd.DataFrame], sec: Section) -> None:
    """lab_shift: subjects by baseline class and worst post-baseline class, from the shift_counts of each
    parameter (parts: parameter -> counts)."""
    parts = {p: c for p, c in parts.items() if len(c)}
    totals = pd.concat(parts.values()).sum() if parts else pd.Series(dtype="int64")
    post_cols = ["LOW", "NORMAL", "HIGH", "LOW and HIGH", "ABNORMAL", "No post-baseline value"]
    post_cols = [c for c in post_cols if c in ("LOW", "NORMAL", "HIGH") or (c in totals and totals[c] > 0)]
    rows = []
    for p in sorted(parts):
        ct = parts[p]
        present = set(ct.index)
        for b in ["LOW", "NORMAL", "HIGH", "ABNORMAL", MISSING]:
            if b not in present and b not in ("LOW", "NORMAL", "HIGH"):
                continue
            r = ct.loc[b] if b in present else pd.Series(dtype=int)
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


def outside(lp: LabParam) -> pd.DataFrame:
    """The records of one parameter outside the range (LOW, HIGH or ABNORMAL): what abnormal_listing lists."""
    a = lp.a
    return a[a["nr"].to_numpy() >= N_LOW]


def abnormal_listing(d: LabData, parts: list[pd.DataFrame], lb: DatasetRows, sec: Section) -> None:
    """lab_abnormal_listing: every result outside the range, any visit, with its LB record's values; `parts`: the
    `outside` records of each parameter."""
    sel = pd.concat(parts, ignore_index=True)
    rows = lb.take(sel["row"].to_numpy(), LISTED)

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
