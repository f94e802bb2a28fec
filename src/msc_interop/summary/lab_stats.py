"""Lab statistics by visit and change from baseline, with the Wilcoxon signed-rank test against baseline."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from msc_interop.summary._common import Population, Section, p_value
from msc_interop.summary.ard import exact_mean_sd
from msc_interop.summary.ard_tables import cell
from msc_interop.summary.lab_data import TITLES, LabData

EXACT_MAX = 50  # up to this many non-zero pairs the signed-rank p-value is exact
MIN_WILCOXON = 6  # non-zero differences needed: with 5, the smallest two-sided exact p is 0.0625


def group_stats(values: np.ndarray, param: np.ndarray, period: np.ndarray, sel: np.ndarray | None = None
                ) -> pd.DataFrame:
    """n, mean, SD, median, min, max of `values` (NaN dropped; only rows where `sel`, when given) by (param,
    period), indexed by those two.

    Sums are exact (exact_mean_sd), so the mean and SD do not depend on the order the rows came in: the summary of
    a Study read from SDTM, FHIR or records is the same to the last bit. One parameter at a time, so that what is
    sorted is one parameter's rows (10M lab rows: a tenth of them), in (param, period) order.
    """
    ok = ~np.isnan(values) if sel is None else sel & ~np.isnan(values)
    rows = []
    for p in np.unique(param[ok]).tolist():
        at = np.flatnonzero(ok & (param == p))
        v, q = values[at], period[at]
        order = np.argsort(q, kind="stable")
        v, q = v[order], q[order]
        periods, start, count = np.unique(q, return_index=True, return_counts=True)
        for per, s0, n in zip(periods.tolist(), start.tolist(), count.tolist(), strict=True):
            x = v[s0:s0 + n]
            mean, sd = exact_mean_sd(x)
            rows.append((p, float(per), n, mean, sd, float(np.median(x)), float(x.min()), float(x.max())))
    out = pd.DataFrame(rows, columns=["param", "period", "count", "mean", "std", "median", "min", "max"])
    return out.set_index(["param", "period"])


def general_notes(d: LabData, pop: Population, by_visit: bool) -> list[str]:
    """Footnotes of the statistics table: the baseline rule and what a post-baseline value is."""
    notes = [f"{d.rule[0].upper()}{d.rule[1:]}. Values are LBSTRESN in standard units (LBSTRESU); mean and median "
             "carry one decimal more than the data, SD two more."]
    if by_visit:
        notes.append("Post-baseline visits: scheduled visits (whole VISITNUM) after the baseline visit; a subject "
                     "contributes one value per visit.")
    else:
        notes.append("Last post-baseline: each subject's last post-baseline value (scheduled or unscheduled visit).")
    if pop.with_total:
        notes.append("Safety population; one row per treatment arm (and Total) within each test and visit.")
    return notes


def value_stats(d: LabData, an: pd.DataFrame) -> pd.DataFrame:
    """group_stats of the numeric parameters' values by (param, period)."""
    param = an["param"].to_numpy()
    numeric = d.params["numeric"].to_numpy()[param]
    return group_stats(an["value"].to_numpy(), param, an["period"].to_numpy(), numeric)


def stats_table(d: LabData, s: pd.DataFrame, sec: Section, period_word: str, notes: list[str]) -> None:
    """lab_stats: n, mean (SD), median, min and max by parameter and period."""
    rows = []  # the cells are the ARD's numbers, formatted (summary/ard_tables.py: one source of truth)
    for (p, per), r in s.iterrows():
        ref = sec.ard.add("lab_stats", "", "AVAL", None, _cont(r), groups=d.ard_groups(p, per), context="continuous")
        dec = int(d.params.at[p, "decimals"])
        rows.append({"_p": p, "_q": per, **d.param_cells(p), period_word: d.period_label(per),
                     "n": cell(ref, "int", stat="N"), "Mean (SD)": cell(ref, "mean_sd", dec),
                     "Median": cell(ref, "median", dec), "Min, Max": cell(ref, "min_max", dec)})
    extra = []
    char_only = d.params.loc[~d.params["numeric"], "LBTESTCD"].tolist()
    if char_only:
        extra.append(f"Tests with character results only (no LBSTRESN), in the range tables but not here: "
                     f"{', '.join(char_only)}.")
    multi_unit = d.params["LBTESTCD"][d.params["LBTESTCD"].duplicated(keep=False)].unique().tolist()
    if multi_unit:
        extra.append(f"Tests reported in more than one standard unit, summarised per unit: {', '.join(multi_unit)}.")
    sec.add("lab_stats", TITLES["lab_stats"], pd.DataFrame(rows), notes + extra)


def _cont(r: pd.Series) -> dict[str, float]:
    """The ARD statistics of one group_stats row (the values the cells format)."""
    return {"N": int(r["count"]), "mean": float(r["mean"]), "sd": float(r["std"]), "median": float(r["median"]),
            "min": float(r["min"]), "max": float(r["max"])}


@dataclass
class ChangeStats:
    """What lab_change shows, gathered one parameter at a time: group_stats of the changes, and per (param,
    period) the signed-rank test's cell and method (`tests`) and p-value (`pnum`, where a test ran)."""

    stats: list[pd.DataFrame] = field(default_factory=list)
    tests: dict[tuple, tuple[str, str]] = field(default_factory=dict)
    pnum: dict[tuple, float] = field(default_factory=dict)

    def add(self, d: LabData, an: pd.DataFrame) -> None:
        """The changes of analysis rows `an` (of one or more parameters)."""
        change, param, period = an["change"].to_numpy(), an["param"].to_numpy(), an["period"].to_numpy()
        sel = ~np.isnan(change) & d.params["numeric"].to_numpy()[param]
        self.stats.append(group_stats(change, param, period, sel))
        for k, diff in _by_group(change, param, period, sel):
            nz = int(np.count_nonzero(diff))
            if nz == 0:
                self.tests[k] = ("-", "no change (all differences 0)")
            elif nz < MIN_WILCOXON:
                self.tests[k] = ("-", f"not tested: {nz} non-zero difference(s), fewer than {MIN_WILCOXON}")
            else:
                pv, method = signed_rank_test(diff)
                self.pnum[k] = pv
                self.tests[k] = (p_value(pv), f"Wilcoxon signed-rank ({method}), {nz} non-zero pairs")


def stacked(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """group_stats frames of consecutive parameters as one (an empty one when there are none)."""
    frames = [f for f in frames if len(f)]
    return pd.concat(frames) if frames else group_stats(np.zeros(0), np.zeros(0, dtype=int), np.zeros(0))


def change_table(d: LabData, ch: ChangeStats, sec: Section, period_word: str) -> None:
    """lab_change: change from baseline by parameter and period, with its signed-rank p-value."""
    s, tests, pnum = stacked(ch.stats), ch.tests, ch.pnum
    rows = []  # the cells are the ARD's numbers, formatted
    for (p, per), r in s.iterrows():
        ref = sec.ard.add("lab_change", "", "CHG", None, {**_cont(r), "p.value": pnum.get((p, per))},
                          groups=d.ard_groups(p, per), context="continuous")
        dec = int(d.params.at[p, "decimals"])
        pv, how = tests[(p, per)]
        rows.append({"_p": p, "_q": per, **d.param_cells(p), period_word: d.period_label(per),
                     "n (pairs)": cell(ref, "int", stat="N"), "Mean (SD) change": cell(ref, "mean_sd", dec),
                     "Median change": cell(ref, "median", dec), "Min, Max change": cell(ref, "min_max", dec),
                     "p (vs baseline)": cell(ref, "p_value") if (p, per) in pnum else pv, "Method": how})
    notes = ["Change = post-baseline value - baseline value, for subjects with both. Wilcoxon signed-rank test "
             "(two-sided, zero differences dropped) of each visit against baseline: exact permutation distribution "
             f"(ties handled exactly) up to {EXACT_MAX} non-zero pairs, normal approximation with tie correction "
             f"above; run when at least "
             f"{MIN_WILCOXON} pairs differ (fewer cannot give p < 0.05). p-values are descriptive, not adjusted "
             "for multiplicity."]
    sec.add("lab_change", TITLES["lab_change"], pd.DataFrame(rows), notes)


def _by_group(values: np.ndarray, param: np.ndarray, period: np.ndarray, sel: np.ndarray
              ) -> Iterator[tuple[tuple[int, float], np.ndarray]]:
    """((param, period), its selected values in row order) of each group, one parameter at a time."""
    for p in np.unique(param[sel]).tolist():
        at = np.flatnonzero(sel & (param == p))
        q = period[at]
        order = np.argsort(q, kind="stable")
        periods, start, count = np.unique(q[order], return_index=True, return_counts=True)
        for per, s0, n in zip(periods.tolist(), start.tolist(), count.tolist(), strict=True):
            yield (p, float(per)), values[at[order[s0:s0 + n]]]


def signed_rank_test(diff: np.ndarray) -> tuple[float, str]:
    """Two-sided Wilcoxon signed-rank p-value of paired differences (zeros dropped, Wilcox's method).

    Up to EXACT_MAX non-zero differences: the exact permutation distribution of the positive-rank sum given the
    observed (mid)ranks, so ties are handled exactly (the null: each difference's sign is + or - with probability
    1/2). Computed by dynamic programming over doubled ranks in O(n * sum of ranks), instead of scipy's 2^n
    permutation test, which takes seconds per test. Beyond EXACT_MAX: scipy's normal approximation with the tie
    correction.
    """
    d = np.sort(np.asarray(diff, dtype=float))
    d = d[d != 0]
    n = len(d)
    if n == 0:
        return float("nan"), "no non-zero differences"
    if n > EXACT_MAX:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = stats.wilcoxon(d, zero_method="wilcox", alternative="two-sided", method="approx")
        return float(res.pvalue), "normal approximation"
    ranks2 = np.rint(2 * stats.rankdata(np.abs(d))).astype(np.int64)  # midranks are multiples of 1/2
    t_plus = int(ranks2[d > 0].sum())
    dist = np.zeros(int(ranks2.sum()) + 1)
    dist[0] = 1.0
    for r in ranks2:  # each rank enters the positive sum or not, with probability 1/2
        dist[r:] = 0.5 * dist[r:] + 0.5 * dist[:-r].copy() if r else dist[r:]
        if r:
            dist[:r] *= 0.5
    lower = dist[: t_plus + 1].sum()
    upper = dist[t_plus:].sum()
    return float(min(1.0, 2 * min(lower, upper))), "exact"
