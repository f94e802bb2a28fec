"""Laboratory safety for every LB test: the entry point that makes the lab tables, the figure panels and the
"At a glance" facts. The definitions (baseline, post-baseline, parameter) are in lab_data; the tables in lab_stats
(by visit, change from baseline) and lab_ranges (reference range, shift, listing); data issues in lab_issues.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from msc_interop.study import Study
from msc_interop.summary._common import Population, Section, n_pct, subjects_text
from msc_interop.summary.ard_tables import shift_cells
from msc_interop.summary.dataset_rows import rows_of
from msc_interop.summary.lab_data import N_LOW, NR, TITLES, LabData, analysis_rows, prepare
from msc_interop.summary.lab_issues import record_issues
from msc_interop.summary.lab_ranges import abnormal_listing, range_table, shift_table
from msc_interop.summary.lab_stats import change_table, general_notes, stats_table, value_stats

__all__ = ["ARM_COL", "SPAGHETTI_CAP", "LabResult", "Panel", "summarize_labs"]

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
    arms: list[tuple[str, np.ndarray, np.ndarray]] = field(default_factory=list)  # per arm: label, mean, SD
    line_arm: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))  # arm index of each line


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
    lb = rows_of(study, "LB")
    if lb is None or not len(lb) or not lb.columns:
        for name, title in TITLES.items():
            sec.add(name, title, pd.DataFrame(), ["The study has no LB dataset."])
        return LabResult()
    d = prepare(lb, baseline, pop.subjects["USUBJID"])
    if d.outside_records:
        sec.issue("LB records of subjects outside the safety population", "LB", d.outside_records, len(d.outside),
                  subjects_text(d.outside), "not in the lab tables (no treatment column)")
    if not len(d.a):
        for name, title in TITLES.items():
            sec.add(name, title, pd.DataFrame(), ["No LB record of a subject in the safety population."])
        return LabResult()
    an_visit = analysis_rows(d, by_visit=True)
    an = an_visit if by_visit else analysis_rows(d, by_visit=False)
    period_word = "Visit" if by_visit else "Period"
    notes = general_notes(d, pop, by_visit)
    arm_of = pd.Series(d.subjects).map(pop.subjects.set_index("USUBJID")["ARMCD"]).fillna("").to_numpy(dtype=object)

    def make(dd: LabData, a_an: pd.DataFrame, s: Section) -> None:
        stats_table(dd, value_stats(dd, a_an), s, period_word, notes)
        change_table(dd, a_an, s, period_word)
        range_table(dd, a_an, s, period_word)
        shift_table(dd, s)

    _by_arm(pop, d, an, arm_of, make, sec, period_word)
    abnormal_listing(d, lb, sec)
    listing = sec.tables["lab_abnormal_listing"]
    arm_by_subject = pop.subjects.set_index("USUBJID")["ARMCD"].map(pop.label)
    listing.insert(1, ARM_COL, listing["Subject"].map(arm_by_subject).fillna(""))
    record_issues(d, lb, sec)
    res = _panels(d, an_visit, value_stats(d, an_visit), pop, arm_of)
    res.facts = _facts(d)
    return res


ARM_COL = "Treatment"


def _by_arm(pop: Population, d: LabData, an: pd.DataFrame, arm_of: np.ndarray,
            make: Callable[[LabData, pd.DataFrame, Section], None], sec: Section, period_word: str) -> None:
    """The lab tables once per treatment column (arms, then Total), rows of the arms side by side per test/visit."""
    parts: dict[str, list[pd.DataFrame]] = {}
    first: Section | None = None
    for i, c in enumerate(pop.columns()):
        dd, a_an = d, an
        if c != "Total" and pop.with_total:
            dd = copy.copy(d)
            dd.a = d.a[arm_of[d.a["subj"].to_numpy()] == c]
            a_an = an[arm_of[an["subj"].to_numpy()] == c]
        s = Section()
        make(dd, a_an, s)
        trta = pop.label(c)
        offset = len(sec.ard.rows)  # the arm's ARD rows go after the summary's: its cells point there
        sec.ard.rows.extend((r[0], r[1], trta, *r[3:]) for r in s.ard.rows)
        first = first or s
        for name, t in s.tables.items():
            if len(t.columns) == 0:
                continue
            t = shift_cells(t, offset)
            after = "Unit" if name == "lab_shift" else period_word
            t.insert(t.columns.get_loc(after) + 1 if after in t else 0, ARM_COL, pop.header(c))
            t["_a"] = i
            parts.setdefault(name, []).append(t)
    assert first is not None
    for name in first.tables:
        frames = parts.get(name, [])
        if not frames:
            sec.add(name, first.titles[name], first.tables[name], first.footnotes[name])
            continue
        t = pd.concat(frames, ignore_index=True)
        keys = ["_p", "_a", "_q"] if name == "lab_shift" else ["_p", "_q", "_a"]
        t = t.sort_values(keys, kind="stable").drop(columns=["_p", "_q", "_a"]).reset_index(drop=True)
        for col in t.columns:  # a column one arm lacks (e.g. ABNORMAL): zero there
            if t[col].isna().any() and col.startswith("Worst post-baseline"):
                t[col] = t[col].astype(object).where(t[col].notna(), 0)
            elif t[col].isna().any() and col.endswith("n (%)"):
                t[col] = t[col].fillna("0")
        sec.add(name, first.titles[name], t, first.footnotes[name])


def _panels(d: LabData, an: pd.DataFrame, s: pd.DataFrame, pop: Population, arm_of: np.ndarray) -> LabResult:
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
    rows_arm = arm_of[an["subj"].to_numpy()]
    per_arm = {a: value_stats(d, an[rows_arm == a]) for a in pop.arms} if pop.with_total else {}
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
        arms = []
        if pop.with_total:  # one mean +/- SD line per arm, on the periods of the whole table
            for a in pop.arms:
                sa = per_arm[a]
                sa = sa.loc[p].reindex(periods) if p in sa.index.get_level_values(0) else None
                if sa is not None:
                    arms.append((pop.label(a), sa["mean"].to_numpy(), sa["std"].to_numpy()))
        line_arm = np.array([pop.arms.index(arm_of[q]) if arm_of[q] in pop.arms else 0 for q in ln.index], dtype=int)
        res.panels.append(Panel(
            testcd=r["LBTESTCD"], test=r["LBTEST"], unit=r["LBSTRESU"], category=r["LBCAT"] or "LABORATORY",
            labels=[d.period_label(q) for q in periods], mean=sp["mean"].to_numpy(), sd=sp["std"].to_numpy(),
            n=sp["count"].to_numpy(), lines=ln.to_numpy(dtype=float),
            lo=float(r["lo"]), hi=float(r["hi"]), other_ranges=int(max(0, r["n_ranges"] - 1)), arms=arms,
            line_arm=line_arm))
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
