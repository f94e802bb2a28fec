"""Laboratory safety for every LB test: the entry point that makes the lab tables, the figure panels and the
"At a glance" facts. The definitions (baseline, post-baseline, parameter) are in lab_data; the tables in lab_stats
(by visit, change from baseline) and lab_ranges (reference range, shift, listing); data issues in lab_issues.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from msc_interop.study import Study
from msc_interop.summary._common import Population, Section, n_pct, subjects_text
from msc_interop.summary.ard_tables import shift_cells
from msc_interop.summary.dataset_rows import DatasetRows, rows_of
from msc_interop.summary.lab_data import N_ABN, NR, TITLES, LabData, LabParam, analysis_rows, param_data, prepare
from msc_interop.summary.lab_issues import LabTally, record_issues
from msc_interop.summary.lab_ranges import (
    abnormal_listing,
    outside,
    range_counts,
    range_table,
    shift_counts,
    shift_table,
)
from msc_interop.summary.lab_stats import (
    ChangeStats,
    change_table,
    general_notes,
    stacked,
    stats_table,
    value_stats,
)

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
    d = prepare(lb, baseline, pop.subjects["USUBJID"])  # closes its spill file itself when it fails
    try:
        return _summarize(d, lb, pop, sec, by_visit)
    finally:
        d.close()


def _summarize(d: LabData, lb: DatasetRows, pop: Population, sec: Section, by_visit: bool) -> LabResult:
    if d.outside_records:
        sec.issue("LB records of subjects outside the safety population", "LB", d.outside_records, len(d.outside),
                  subjects_text(d.outside), "not in the lab tables (no treatment column)")
    if not d.n_records:
        for name, title in TITLES.items():
            sec.add(name, title, pd.DataFrame(), ["No LB record of a subject in the safety population."])
        return LabResult()
    period_word = "Visit" if by_visit else "Period"
    notes = general_notes(d, pop, by_visit)
    arm_of = pd.Series(d.subjects).map(pop.subjects.set_index("USUBJID")["ARMCD"]).fillna("").to_numpy(dtype=object)
    columns = {c: _Column() for c in pop.columns()}
    tally, listed, res = LabTally(d), [], LabResult()
    shown = _shown_subjects(d, res)
    for p in range(len(d.params)):  # one parameter's records in memory at a time
        lp = param_data(d, p)
        an_visit, repeated = analysis_rows(lp, by_visit=True)
        an = an_visit if by_visit else analysis_rows(lp, by_visit=False)[0]
        records = lp.a[["subj", "nr", "post"]]  # what the columns read of the records (a copy per arm)
        for c, col in columns.items():
            a, a_an = records, an
            if c != "Total" and pop.with_total:
                a = a[arm_of[a["subj"].to_numpy()] == c]
                a_an = an[arm_of[an["subj"].to_numpy()] == c]
            col.add(d, lp, a, a_an)
        tally.add(d, lp, repeated)
        listed.append(outside(lp))
        panel = _panel(d, p, an_visit, pop, arm_of, shown)
        if panel is not None:
            res.panels.append(panel)
    _by_arm(pop, d, columns, sec, period_word, notes)
    abnormal_listing(d, listed, lb, sec)
    listing = sec.tables["lab_abnormal_listing"]
    arm_by_subject = pop.subjects.set_index("USUBJID")["ARMCD"].map(pop.label)
    listing.insert(1, ARM_COL, listing["Subject"].map(arm_by_subject).fillna(""))
    record_issues(d, tally, lb, sec)
    res.facts = _facts(d, tally)
    return res


ARM_COL = "Treatment"


@dataclass
class _Column:
    """What the lab tables of one treatment column (an arm, or Total) show, gathered one parameter at a time."""

    stats: list[pd.DataFrame] = field(default_factory=list)
    change: ChangeStats = field(default_factory=ChangeStats)
    ranges: list[pd.DataFrame] = field(default_factory=list)
    show_abn: bool = False
    shift: dict[int, pd.DataFrame] = field(default_factory=dict)

    def add(self, d: LabData, lp: LabParam, a: pd.DataFrame, an: pd.DataFrame) -> None:
        """Parameter lp.p's records `a` (subj, nr, post) and analysis rows `an` of this column's subjects."""
        self.stats.append(value_stats(d, an))
        self.change.add(d, an)
        self.ranges.append(range_counts(an))
        self.show_abn = self.show_abn or bool((a["nr"].to_numpy() == N_ABN).any())
        if len(a):
            self.shift[lp.p] = shift_counts(lp, a)

    def tables(self, d: LabData, s: Section, period_word: str, notes: list[str]) -> None:
        stats_table(d, stacked(self.stats), s, period_word, notes)
        change_table(d, self.change, s, period_word)
        range_table(d, self.ranges, self.show_abn, s, period_word)
        shift_table(d, self.shift, s)


def _by_arm(pop: Population, d: LabData, columns: dict[str, _Column], sec: Section, period_word: str,
            notes: list[str]) -> None:
    """The lab tables once per treatment column (arms, then Total), rows of the arms side by side per test/visit."""
    parts: dict[str, list[pd.DataFrame]] = {}
    first: Section | None = None
    for i, (c, col) in enumerate(columns.items()):
        s = Section()
        col.tables(d, s, period_word, notes)
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


def _shown_subjects(d: LabData, res: LabResult) -> np.ndarray:
    """The subject codes drawn as lines in the figure panels: all, or SPAGHETTI_CAP spread over USUBJID order."""
    subjects = np.argsort(d.subjects.astype(str), kind="stable")  # subject codes in USUBJID order
    res.n_subjects = len(subjects)
    if len(subjects) > SPAGHETTI_CAP:
        pick = np.unique(np.linspace(0, len(subjects) - 1, SPAGHETTI_CAP).round().astype(int))
        res.sampled = True
        return subjects[pick]
    return subjects


def _panel(d: LabData, p: int, an: pd.DataFrame, pop: Population, arm_of: np.ndarray, shown: np.ndarray
           ) -> Panel | None:
    """The figure panel of parameter `p` (numeric ones with a value), from its by-visit analysis rows `an`."""
    if not d.params.at[p, "numeric"]:
        return None
    s = value_stats(d, an)
    if p not in s.index.get_level_values(0):
        return None
    sp = s.loc[p]
    periods = list(sp.index)
    keep = np.isin(an["subj"].to_numpy(), shown) & ~np.isnan(an["value"].to_numpy())
    lines_src = pd.DataFrame({c: an[c].to_numpy()[keep] for c in ("subj", "period", "value")})
    ln = lines_src.pivot_table(index="subj", columns="period", values="value", aggfunc="first")
    ln = ln.reindex(index=[q for q in shown if q in ln.index], columns=periods)  # USUBJID order
    r = d.params.iloc[p]
    arms = []
    if pop.with_total:  # one mean +/- SD line per arm, on the periods of the whole table
        rows_arm = arm_of[an["subj"].to_numpy()]
        for a in pop.arms:
            sa = value_stats(d, an[rows_arm == a])
            sa = sa.loc[p].reindex(periods) if p in sa.index.get_level_values(0) else None
            if sa is not None:
                arms.append((pop.label(a), sa["mean"].to_numpy(), sa["std"].to_numpy()))
    line_arm = np.array([pop.arms.index(arm_of[q]) if arm_of[q] in pop.arms else 0 for q in ln.index], dtype=int)
    return Panel(
        testcd=r["LBTESTCD"], test=r["LBTEST"], unit=r["LBSTRESU"], category=r["LBCAT"] or "LABORATORY",
        labels=[d.period_label(q) for q in periods], mean=sp["mean"].to_numpy(), sd=sp["std"].to_numpy(),
        n=sp["count"].to_numpy(), lines=ln.to_numpy(dtype=float),
        lo=float(r["lo"]), hi=float(r["hi"]), other_ranges=int(max(0, r["n_ranges"] - 1)), arms=arms,
        line_arm=line_arm)


def _facts(d: LabData, t: LabTally) -> list[str]:
    tests = d.params["LBTESTCD"].unique()
    out = [f"Laboratory: {len(tests)} tests, {t.all.records} results of {t.all.subjects} subjects."]
    base_out = pd.concat(t.base_out, ignore_index=True) if t.base_out else pd.DataFrame()
    if len(base_out):
        items = [f"{d.subjects[s]} {d.params.at[p, 'LBTESTCD']} {NR[c]}"
                 for s, p, c in sorted(zip(base_out["subj"], base_out["param"], base_out["nr"], strict=True),
                                       key=lambda x: (str(d.subjects[x[0]]), x[1]))[:10]]
        more = f" and {len(base_out) - 10} more" if len(base_out) > 10 else ""
        out.append(f"Baseline results outside the reference range: {len(base_out)} ({'; '.join(items)}{more}).")
    k = sum(t.post_outside.values())
    if k:
        by_test = pd.Series(t.post_outside).sort_index().sort_values(ascending=False, kind="stable")
        top = ", ".join(f"{d.params.at[p, 'LBTESTCD']} {n}" for p, n in by_test.head(8).items())
        out.append(f"Post-baseline results outside the reference range: {n_pct(k, t.classified_post)} of "
                   f"{t.classified_post} classified results (by test: {top}).")
    else:
        out.append(f"Post-baseline results outside the reference range: none of {t.classified_post} classified "
                   "results.")
    return out
