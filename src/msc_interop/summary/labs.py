"""Laboratory safety for every LB test: the entry point that makes the lab tables, the figure panels and the
"At a glance" facts. The definitions (baseline, post-baseline, parameter) are in lab_data; the tables in lab_stats
(by visit, change from baseline) and lab_ranges (reference range, shift, listing); data issues in lab_issues.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from msc_interop.study import Study
from msc_interop.summary._common import Population, Section, n_pct
from msc_interop.summary.lab_data import N_LOW, NR, TITLES, LabData, analysis_rows, prepare
from msc_interop.summary.lab_issues import record_issues
from msc_interop.summary.lab_ranges import abnormal_listing, range_table, shift_table
from msc_interop.summary.lab_stats import change_table, general_notes, stats_table, value_stats

SPAGHETTI_CAP = 50  # at most this many subject lines per figure panel


@dataclass
class Panel:
    """What one figure panel needs: per-visit mean/SD, a sample of subject lines, the reference range."""

    testcd: str
    test: str
    unit: str
    category: str
    labels: list[str]
    mean: np.ndarray
    sd: np.ndarray
    n: np.ndarray
    lines: np.ndarray  # subjects x visits, NaN where missing
    lo: float
    hi: float
    other_ranges: int


@dataclass
class LabResult:
    """What the figures and the report's "At a glance" need from the lab summary."""

    panels: list[Panel] = field(default_factory=list)
    sampled: bool = False
    n_subjects: int = 0
    facts: list[str] = field(default_factory=list)  # one-line findings for the report's "At a glance"


def summarize_labs(study: Study, pop: Population, sec: Section, *, baseline: str | None = None,
                   by_visit: bool = True) -> LabResult:
    """Add the lab tables to `sec`; return what the figures and the highlights need."""
    lb = study.datasets.get("LB")
    if lb is None or lb.empty:
        for name, title in TITLES.items():
            sec.add(name, title, pd.DataFrame(), ["The study has no LB dataset."])
        return LabResult()
    d = prepare(lb, baseline)
    an_visit = analysis_rows(d, by_visit=True)
    an = an_visit if by_visit else analysis_rows(d, by_visit=False)
    period_word = "Visit" if by_visit else "Period"
    notes = general_notes(d, pop, by_visit)
    visit_stats = value_stats(d, an_visit)  # shared by the by-visit table and the figures
    stats_table(d, visit_stats if by_visit else value_stats(d, an), sec, period_word, notes)
    change_table(d, an, sec, period_word)
    range_table(d, an, sec, period_word)
    shift_table(d, sec)
    abnormal_listing(d, lb, sec)
    record_issues(d, lb, sec)
    res = _panels(d, an_visit, visit_stats)
    res.facts = _facts(d)
    return res


def _panels(d: LabData, an: pd.DataFrame, s: pd.DataFrame) -> LabResult:
    res = LabResult()
    subjects = np.argsort(d.subjects.astype(str), kind="stable")  # subject codes in USUBJID order
    res.n_subjects = len(subjects)
    if len(subjects) > SPAGHETTI_CAP:
        pick = np.unique(np.linspace(0, len(subjects) - 1, SPAGHETTI_CAP).round().astype(int))
        shown = subjects[pick]
        res.sampled = True
    else:
        shown = subjects
    numeric = np.flatnonzero(d.params["numeric"].to_numpy())
    keep = np.isin(an["subj"].to_numpy(), shown) & ~np.isnan(an["value"].to_numpy())
    lines_src = pd.DataFrame({c: an[c].to_numpy()[keep] for c in ("subj", "param", "period", "value")})
    for p in numeric:
        if p not in s.index.get_level_values(0):
            continue
        sp = s.loc[p]
        periods = list(sp.index)
        ln = lines_src[lines_src["param"] == p].pivot_table(index="subj", columns="period", values="value",
                                                             aggfunc="first")
        ln = ln.reindex(index=[q for q in shown if q in ln.index], columns=periods)  # USUBJID order
        r = d.params.iloc[p]
        res.panels.append(Panel(
            testcd=r["LBTESTCD"], test=r["LBTEST"], unit=r["LBSTRESU"], category=r["LBCAT"] or "LABORATORY",
            labels=[d.period_label(q) for q in periods], mean=sp["mean"].to_numpy(), sd=sp["std"].to_numpy(),
            n=sp["count"].to_numpy(), lines=ln.to_numpy(dtype=float),
            lo=float(r["lo"]), hi=float(r["hi"]), other_ranges=int(max(0, r["n_ranges"] - 1))))
    return res


def _facts(d: LabData) -> list[str]:
    a = d.a
    tests = d.params["LBTESTCD"].unique()
    out = [f"Laboratory: {len(tests)} tests, {len(a)} results of {a['subj'].nunique()} subjects."]
    base_out = a[a["is_base"] & (a["nr"] >= N_LOW)]
    if len(base_out):
        items = [f"{d.subjects[s]} {d.params.at[p, 'LBTESTCD']} {NR[c]}"
                 for s, p, c in sorted(zip(base_out["subj"], base_out["param"], base_out["nr"], strict=True),
                                       key=lambda t: (str(d.subjects[t[0]]), t[1]))[:10]]
        more = f" and {len(base_out) - 10} more" if len(base_out) > 10 else ""
        out.append(f"Baseline results outside the reference range: {len(base_out)} ({'; '.join(items)}{more}).")
    nr = a["nr"].to_numpy()
    classified = a["post"].to_numpy() & (nr > 0)
    outside = classified & (nr >= N_LOW)
    post = np.flatnonzero(classified)
    k = int(outside.sum())
    if k:
        by_test = pd.Series(a["param"].to_numpy()[outside]).value_counts().sort_index()
        by_test = by_test.sort_values(ascending=False, kind="stable")
        top = ", ".join(f"{d.params.at[p, 'LBTESTCD']} {n}" for p, n in by_test.head(8).items())
        out.append(f"Post-baseline results outside the reference range: {n_pct(k, len(post))} of {len(post)} "
                   f"classified results (by test: {top}).")
    else:
        out.append(f"Post-baseline results outside the reference range: none of {len(post)} classified results.")
    return out
