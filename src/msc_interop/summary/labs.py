"""Laboratory safety for every LB test: by-visit statistics, change from baseline with a Wilcoxon signed-rank test,
results outside the reference range, shift from baseline to the worst post-baseline value, abnormal listing.

Everything runs on integer codes (subject, test/unit "parameter", visit number) with pandas groupby, so 5.5 M lab
rows take seconds. Definitions (stated in the report's footnotes as well):

- Parameter: LBTESTCD in its standard unit LBSTRESU; statistics use LBSTRESN (standard units). Order: the order of
  mappings/lab_tests.yaml for the tests it knows (blood counts, liver function, tumor markers, as the seed paper),
  grouped by LBCAT; other tests after them, by LBCAT and test code.
- Baseline: the record at the visit given by ``baseline=`` if set; else the record flagged LBLOBXFL = "Y" (SDTMIG
  3.4 last observation before exposure); else, when the study has no flag at all, the subject's first visit.
  One baseline per subject and parameter (the highest LBSEQ if several qualify).
- Post-baseline: a record with a VISITNUM after the subject's baseline visit and not known to be before the first
  administration (LBDY < 1). By-visit tables use scheduled visits (whole VISITNUM); unscheduled visits (decimal
  VISITNUM, the SDTM convention) count in the shift table and the abnormal listing. One record per subject,
  parameter and visit (the highest LBSEQ when a visit holds several).
- Reference range classification: LBNRIND; where it is empty, derived from LBSTRESN against LBSTNRLO/LBSTNRHI by
  the builders' derivation (sdtm.reference_range.reference_indicator).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from msc_interop import mappings
from msc_interop.errors import MscInteropError
from msc_interop.sdtm.reference_range import reference_indicator
from msc_interop.study import Study
from msc_interop.summary._common import (
    MISSING,
    Population,
    Section,
    decimals_of,
    is_partial,
    mean_sd,
    min_max,
    n_pct,
    num,
    p_value,
    visit_labels,
    visitnum_text,
)

NR = ("", "NORMAL", "LOW", "HIGH", "ABNORMAL")  # classification codes 0..4
N_NORMAL, N_LOW, N_HIGH, N_ABN = 1, 2, 3, 4
EXACT_MAX = 50  # up to this many non-zero pairs the signed-rank p-value is exact
MIN_WILCOXON = 6  # non-zero differences needed: with 5, the smallest two-sided exact p is 0.0625
BASELINE_PERIOD = -1.0
LAST_PERIOD = 1e9
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
    panels: list[Panel] = field(default_factory=list)
    sampled: bool = False
    n_subjects: int = 0
    facts: list[str] = field(default_factory=list)  # one-line findings for the report's "At a glance"


def summarize_labs(study: Study, pop: Population, sec: Section, *, baseline: str | None = None,
                   by_visit: bool = True) -> LabResult:
    lb = study.datasets.get("LB")
    if lb is None or lb.empty:
        for name, title in TITLES.items():
            sec.add(name, title, pd.DataFrame(), ["The study has no LB dataset."])
        return LabResult()
    d = _prepare(lb, baseline, sec)
    an_visit = _analysis_rows(d, by_visit=True)
    an = an_visit if by_visit else _analysis_rows(d, by_visit=False)
    period_word = "Visit" if by_visit else "Period"
    notes = _general_notes(d, pop, by_visit)
    visit_stats = _value_stats(d, an_visit)  # shared by the by-visit table and the figures
    _stats_table(d, visit_stats if by_visit else _value_stats(d, an), sec, period_word, notes)
    _change_table(d, an, sec, period_word)
    _range_table(d, an, sec, period_word)
    _shift_table(d, sec)
    _abnormal_listing(d, lb, sec)
    _issues(d, lb, sec)
    res = _panels(d, an_visit, visit_stats)
    res.facts = _facts(d)
    return res


TITLES = {
    "lab_stats": "Laboratory values by visit (standard units)",
    "lab_change": "Change from baseline by visit, with Wilcoxon signed-rank test against baseline",
    "lab_range": "Results outside the reference range by visit",
    "lab_shift": "Shift from baseline to worst post-baseline reference range category (subjects)",
    "lab_abnormal_listing": "Listing of results outside the reference range",
}


class _Data:
    """LB reduced to codes; see the module docstring for the definitions."""

    def __init__(self) -> None:
        self._cells: list[dict[str, str]] = []
        self.params: pd.DataFrame
        self.a: pd.DataFrame
        self.subjects: np.ndarray
        self.visit_label: dict[float, str]
        self.base: pd.DataFrame
        self.rule: str
        self.counts: dict[str, int] = {}


def _codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    return codes, pd.Index(uniques)


def _prepare(lb: pd.DataFrame, baseline: str | None, sec: Section) -> _Data:
    d = _Data()
    n = len(lb)
    subj, subj_u = _codes(lb["USUBJID"])
    test, test_u = _codes(lb["LBTESTCD"])
    unit_col = lb["LBSTRESU"] if "LBSTRESU" in lb else pd.Series("", index=lb.index, dtype=object)
    unit, unit_u = _codes(unit_col)
    raw = test.astype(np.int64) * len(unit_u) + unit
    praw, praw_u = pd.factorize(raw)
    value = pd.to_numeric(lb["LBSTRESN"], errors="coerce").to_numpy(dtype="float64") if "LBSTRESN" in lb \
        else np.full(n, np.nan)
    lo = lb["LBSTNRLO"].to_numpy(dtype="float64") if "LBSTNRLO" in lb else np.full(n, np.nan)
    hi = lb["LBSTNRHI"].to_numpy(dtype="float64") if "LBSTNRHI" in lb else np.full(n, np.nan)

    # parameter table, sorted for display (category, test code, unit); codes renumbered in that order
    first = pd.Series(np.arange(n)).groupby(praw).min().to_numpy()
    params = pd.DataFrame({
        "LBTESTCD": np.asarray(test_u)[praw_u // len(unit_u)], "LBSTRESU": np.asarray(unit_u)[praw_u % len(unit_u)],
        "LBTEST": lb["LBTEST"].to_numpy()[first] if "LBTEST" in lb else "",
        "LBCAT": lb["LBCAT"].to_numpy()[first] if "LBCAT" in lb else "",
    })
    # tests the mapping knows keep its order (blood counts WBC, RBC, PLAT as the seed paper lists them)
    known = {t: i for i, t in enumerate(mappings.lab_tests())}
    params["_rank"] = [known.get(t, len(known)) for t in params["LBTESTCD"]]
    params["_cat"] = params.groupby("LBCAT")["_rank"].transform("min")  # categories in the order of their tests
    order = params.sort_values(["_cat", "LBCAT", "_rank", "LBTESTCD", "LBSTRESU"], kind="stable").index.to_numpy()
    params = params.drop(columns=["_rank", "_cat"])
    remap = np.empty(len(order), dtype=np.int64)
    remap[order] = np.arange(len(order))
    param = remap[praw]
    params = params.iloc[order].reset_index(drop=True)
    numeric = pd.Series(~np.isnan(value)).groupby(param).any()
    params["numeric"] = numeric.reindex(range(len(params)), fill_value=False).to_numpy()
    params["decimals"] = _decimals(lb, param, params)
    rng = pd.DataFrame({"param": param, "lo": lo, "hi": hi}).dropna(how="all", subset=["lo", "hi"])
    rc = rng.groupby(["param", "lo", "hi"], dropna=False).size().reset_index(name="k")
    rc = rc.sort_values(["param", "k", "lo", "hi"], ascending=[True, False, True, True])
    modal = rc.drop_duplicates("param").set_index("param")
    params["lo"] = modal["lo"].reindex(range(len(params))).to_numpy()
    params["hi"] = modal["hi"].reindex(range(len(params))).to_numpy()
    params["n_ranges"] = rc.groupby("param").size().reindex(range(len(params)), fill_value=0).to_numpy()

    # reference range classification: LBNRIND, derived from the range where empty (the builders' derivation). A
    # result with a comparator ("<2") has no LBSTRESN in SDTM, so only exact results (comparator "") can be derived.
    nr = _nr_codes(lb["LBNRIND"] if "LBNRIND" in lb else pd.Series("", index=lb.index, dtype=object))
    todo = np.flatnonzero((nr == 0) & ~np.isnan(value) & (~np.isnan(lo) | ~np.isnan(hi)))
    derived = _nr_codes(reference_indicator(pd.Series(value[todo]), pd.Series("", index=range(len(todo))),
                                            pd.Series(lo[todo]), pd.Series(hi[todo])))
    nr[todo] = derived
    d.counts["nr_derived"] = int(np.count_nonzero(derived))

    vn = lb["VISITNUM"].to_numpy(dtype="float64") if "VISITNUM" in lb else np.full(n, np.nan)
    seq = pd.to_numeric(lb["LBSEQ"], errors="coerce").to_numpy(dtype="float64") if "LBSEQ" in lb \
        else np.arange(n, dtype="float64")
    seq = np.where(np.isnan(seq), -1.0, seq)
    dy = pd.to_numeric(lb["LBDY"], errors="coerce").to_numpy(dtype="float64") if "LBDY" in lb \
        else np.full(n, np.nan)
    key = subj.astype(np.int64) * len(params) + param
    a = pd.DataFrame({"key": key, "subj": subj.astype(np.int32), "param": param.astype(np.int32), "vn": vn,
                      "seq": seq, "value": value, "nr": nr, "pos": np.arange(n)})
    d.visit_label = visit_labels(lb)

    # baseline
    if baseline is not None:
        vns = _resolve_visit(baseline, d.visit_label)
        cand = np.isin(vn, vns)
        d.rule = (f"baseline = the record at visit {baseline!r} (VISITNUM {', '.join(visitnum_text(v) for v in vns)})"
                  ", as requested")
    elif "LBLOBXFL" in lb and lb["LBLOBXFL"].eq("Y").any():
        cand = lb["LBLOBXFL"].eq("Y").to_numpy()
        d.rule = "baseline = the record flagged LBLOBXFL = 'Y' (last observation before exposure)"
    else:
        first_vn = a.groupby("key")["vn"].transform("min").to_numpy()
        cand = (vn == first_vn) & ~np.isnan(vn)
        d.rule = ("baseline = the subject's first visit for the test (the study has no LBLOBXFL baseline flag)")
    c = a.loc[cand, ["key", "seq", "pos", "vn", "value", "nr"]].sort_values(["key", "seq", "pos"])
    d.counts["baseline_duplicates"] = int(len(c) - c["key"].nunique())
    c = c.drop_duplicates("key", keep="last")
    is_base = np.zeros(n, dtype=bool)
    is_base[c["pos"].to_numpy()] = True
    d.base = c.set_index("key")[["vn", "value", "nr"]]
    modal_vn = float(c["vn"].mode().min()) if len(c) and c["vn"].notna().any() else -np.inf
    where = pd.Index(d.base.index).get_indexer(key)
    rvn = np.where(where >= 0, d.base["vn"].to_numpy()[np.maximum(where, 0)], modal_vn)
    with np.errstate(invalid="ignore"):
        post = (vn > rvn) & ~np.isnan(vn) & ~(dy < 1)
    a["is_base"] = is_base
    a["post"] = post & ~is_base
    a["sched"] = ~np.isnan(vn) & (np.floor(vn) == vn)
    a["base_value"] = np.where(where >= 0, d.base["value"].to_numpy()[np.maximum(where, 0)], np.nan)
    d.counts["no_baseline_keys"] = int(a["key"].nunique() - len(d.base))
    d.counts["pre_not_base"] = int((~a["post"] & ~a["is_base"] & ~np.isnan(vn)).sum())
    d.counts["no_visitnum"] = int(np.isnan(vn).sum())
    d.counts["unscheduled"] = int((~np.isnan(vn) & ~a["sched"]).sum())
    d.params, d.a, d.subjects = params, a, np.asarray(subj_u, dtype=object)
    return d


def _decimals(lb: pd.DataFrame, param: np.ndarray, params: pd.DataFrame) -> list[int]:
    """Decimals of each parameter: the lab-test mapping's, else those printed in LBSTRESC (at most 4)."""
    known = mappings.lab_tests()
    out: list[int] = []
    unknown = [i for i, t in enumerate(params["LBTESTCD"]) if t not in known]
    inferred: dict[int, int] = {}
    if unknown and "LBSTRESC" in lb:
        sel = np.isin(param, unknown)
        pairs = pd.DataFrame({"p": param[sel], "c": lb["LBSTRESC"].to_numpy()[sel]}).drop_duplicates()
        inferred = {int(p): decimals_of(g["c"]) for p, g in pairs.groupby("p")}
    for i, t in enumerate(params["LBTESTCD"]):
        out.append(known[t].decimals if t in known else inferred.get(i, 2))
    return out


def _nr_codes(nrind: pd.Series) -> np.ndarray:
    codes, uniq = pd.factorize(nrind.fillna(""), use_na_sentinel=False)

    def code(v: str) -> int:
        v = str(v).strip().upper()
        if v in NR:
            return NR.index(v)
        if v.startswith("LOW"):
            return N_LOW
        if v.startswith("HIGH"):
            return N_HIGH
        return N_ABN

    lut = np.array([code(u) for u in uniq], dtype=np.int8)
    return lut[codes] if len(uniq) else np.zeros(len(nrind), dtype=np.int8)


def _resolve_visit(baseline: str, labels: dict[float, str]) -> list[float]:
    want = str(baseline).strip().upper()
    hits = [v for v, t in labels.items() if t.strip().upper() == want or visitnum_text(v) == want]
    if not hits:
        known = ", ".join(f"{t} ({visitnum_text(v)})" for v, t in sorted(labels.items()))
        raise MscInteropError(f"baseline visit {baseline!r} is not a visit of the LB data; visits (VISITNUM): {known}")
    return hits


def _analysis_rows(d: _Data, *, by_visit: bool) -> pd.DataFrame:
    """Rows the tables summarise: the baseline record, then one record per post-baseline period.

    Works on positions (numpy) and copies only the columns the tables use: at 5.5 M rows every DataFrame filter
    of the full frame costs a second and hundreds of MB.
    """
    a = d.a
    key, vn, seq = a["key"].to_numpy(), a["vn"].to_numpy(), a["seq"].to_numpy()
    base_idx = np.flatnonzero(a["is_base"].to_numpy())
    if by_visit:
        post_idx = np.flatnonzero((a["post"] & a["sched"]).to_numpy())
        vcode, _ = pd.factorize(vn[post_idx])
        pair = key[post_idx] * (int(vcode.max(initial=0)) + 1) + vcode
        dup = pd.Series(pair).duplicated(keep=False).to_numpy()
        d.counts["visit_duplicates"] = 0
        d.counts["visit_duplicate_subjects"] = 0
        if dup.any():  # repeats of a test at a visit: keep the highest LBSEQ (then the later row)
            rep = post_idx[dup]
            order = np.lexsort((rep, seq[rep], pair[dup]))
            rep, rpair = rep[order], pair[dup][order]
            last = np.r_[rpair[1:] != rpair[:-1], True]
            d.counts["visit_duplicates"] = int((~last).sum())
            d.counts["visit_duplicate_subjects"] = int(pd.unique(a["subj"].to_numpy()[rep[~last]]).size)
            post_idx = np.sort(np.concatenate([post_idx[~dup], rep[last]]))
        period = vn[post_idx]
    else:  # each subject's last post-baseline record (highest VISITNUM, then LBSEQ)
        post_idx = np.flatnonzero(a["post"].to_numpy())
        order = np.lexsort((post_idx, seq[post_idx], vn[post_idx], key[post_idx]))
        srt = post_idx[order]
        k = key[srt]
        post_idx = srt[np.r_[k[1:] != k[:-1], True]] if len(srt) else srt
        period = np.full(len(post_idx), LAST_PERIOD)
    idx = np.concatenate([base_idx, post_idx])
    out = pd.DataFrame({c: a[c].to_numpy()[idx] for c in ("key", "subj", "param", "vn", "value", "nr")})
    out["period"] = np.concatenate([np.full(len(base_idx), BASELINE_PERIOD), period])
    out["change"] = np.where(out["period"].to_numpy() == BASELINE_PERIOD, np.nan,
                             out["value"].to_numpy() - a["base_value"].to_numpy()[idx])
    return out


def group_stats(values: np.ndarray, param: np.ndarray, period: np.ndarray) -> pd.DataFrame:
    """n, mean, SD, median, min, max of `values` (NaN dropped) by (param, period), indexed by those two.

    Sums are exact (math.fsum: the correctly rounded sum of the exact values), so the mean and SD do not depend on
    the order the rows came in: the summary of a Study read from SDTM, FHIR or records is the same to the last bit.
    """
    ok = ~np.isnan(values)
    v, p, q = values[ok], param[ok], period[ok]
    qcode, quniq = pd.factorize(q, sort=True)
    g = p.astype(np.int64) * max(1, len(quniq)) + qcode
    order = np.argsort(g, kind="stable")
    v, g = v[order], g[order]
    groups, start, count = np.unique(g, return_index=True, return_counts=True)
    rows = []
    for code, s0, n in zip(groups.tolist(), start.tolist(), count.tolist(), strict=True):
        x = v[s0:s0 + n]
        mean = math.fsum(x.tolist()) / n
        sd = math.sqrt(math.fsum(((x - mean) ** 2).tolist()) / (n - 1)) if n > 1 else float("nan")
        rows.append((code // max(1, len(quniq)), float(quniq[code % max(1, len(quniq))]), n, mean, sd,
                     float(np.median(x)), float(x.min()), float(x.max())))
    out = pd.DataFrame(rows, columns=["param", "period", "count", "mean", "std", "median", "min", "max"])
    return out.set_index(["param", "period"])


def _period_label(d: _Data, period: float) -> str:
    if period == BASELINE_PERIOD:
        return "Baseline"
    if period == LAST_PERIOD:
        return "Last post-baseline"
    return d.visit_label.get(period, visitnum_text(period))


def _param_cells(d: _Data, p: int) -> dict[str, str]:
    if not d._cells:
        d._cells = [{"Category": c, "Test code": t, "Test": n, "Unit": u} for c, t, n, u in zip(
            d.params["LBCAT"], d.params["LBTESTCD"], d.params["LBTEST"], d.params["LBSTRESU"], strict=True)]
    return dict(d._cells[int(p)])


def _general_notes(d: _Data, pop: Population, by_visit: bool) -> list[str]:
    notes = [f"{d.rule[0].upper()}{d.rule[1:]}. Values are LBSTRESN in standard units (LBSTRESU); mean and median "
             "carry one decimal more than the data, SD two more."]
    if by_visit:
        notes.append("Post-baseline visits: scheduled visits (whole VISITNUM) after the baseline visit; a subject "
                     "contributes one value per visit.")
    else:
        notes.append("Last post-baseline: each subject's last post-baseline value (scheduled or unscheduled visit).")
    if pop.with_total:
        notes.append("Laboratory tables pool all arms.")
    return notes


def _value_stats(d: _Data, an: pd.DataFrame) -> pd.DataFrame:
    numeric = d.params["numeric"].to_numpy()[an["param"].to_numpy()]
    return group_stats(an["value"].to_numpy()[numeric], an["param"].to_numpy()[numeric],
                       an["period"].to_numpy()[numeric])


def _stats_table(d: _Data, s: pd.DataFrame, sec: Section, period_word: str, notes: list[str]) -> None:
    rows = []
    for (p, per), r in s.iterrows():
        dec = int(d.params.at[p, "decimals"])
        rows.append({**_param_cells(d, p), period_word: _period_label(d, per), "n": int(r["count"]),
                     "Mean (SD)": mean_sd(r["mean"], r["std"], dec), "Median": num(r["median"], dec + 1),
                     "Min, Max": min_max(r["min"], r["max"], dec)})
    extra = []
    char_only = d.params.loc[~d.params["numeric"], "LBTESTCD"].tolist()
    if char_only:
        extra.append(f"Tests with character results only (no LBSTRESN), in the range tables but not here: "
                     f"{', '.join(char_only)}.")
    multi_unit = d.params["LBTESTCD"][d.params["LBTESTCD"].duplicated(keep=False)].unique().tolist()
    if multi_unit:
        extra.append(f"Tests reported in more than one standard unit, summarised per unit: {', '.join(multi_unit)}.")
    sec.add("lab_stats", TITLES["lab_stats"], pd.DataFrame(rows), notes + extra)


def _change_table(d: _Data, an: pd.DataFrame, sec: Section, period_word: str) -> None:
    change = an["change"].to_numpy()
    sel = ~np.isnan(change) & d.params["numeric"].to_numpy()[an["param"].to_numpy()]
    x = pd.DataFrame({"param": an["param"].to_numpy()[sel], "period": an["period"].to_numpy()[sel],
                      "change": change[sel]})
    s = group_stats(x["change"].to_numpy(), x["param"].to_numpy(), x["period"].to_numpy())
    tests = {}
    for k, idx in x.groupby(["param", "period"]).indices.items():
        diff = x["change"].to_numpy()[idx]
        nz = int(np.count_nonzero(diff))
        if nz == 0:
            tests[k] = ("-", "no change (all differences 0)")
        elif nz < MIN_WILCOXON:
            tests[k] = ("-", f"not tested: {nz} non-zero difference(s), fewer than {MIN_WILCOXON}")
        else:
            pv, method = signed_rank_test(diff)
            tests[k] = (p_value(pv), f"Wilcoxon signed-rank ({method}), {nz} non-zero pairs")
    rows = []
    for (p, per), r in s.iterrows():
        dec = int(d.params.at[p, "decimals"])
        pv, how = tests[(p, per)]
        rows.append({**_param_cells(d, p), period_word: _period_label(d, per), "n (pairs)": int(r["count"]),
                     "Mean (SD) change": mean_sd(r["mean"], r["std"], dec), "Median change": num(r["median"], dec + 1),
                     "Min, Max change": min_max(r["min"], r["max"], dec), "p (vs baseline)": pv, "Method": how})
    notes = ["Change = post-baseline value - baseline value, for subjects with both. Wilcoxon signed-rank test "
             "(two-sided, zero differences dropped) of each visit against baseline: exact permutation distribution "
             f"(ties handled exactly) up to {EXACT_MAX} non-zero pairs, normal approximation with tie correction "
             f"above; run when at least "
             f"{MIN_WILCOXON} pairs differ (fewer cannot give p < 0.05). p-values are descriptive, not adjusted "
             "for multiplicity."]
    sec.add("lab_change", TITLES["lab_change"], pd.DataFrame(rows), notes)


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


def _range_table(d: _Data, an: pd.DataFrame, sec: Section, period_word: str) -> None:
    x = an[an["nr"] > 0]
    counts = pd.crosstab([x["param"], x["period"]], x["nr"])
    for c in (N_NORMAL, N_LOW, N_HIGH, N_ABN):
        if c not in counts:
            counts[c] = 0
    show_abn = bool((d.a["nr"] == N_ABN).any())
    rows = []
    for (p, per), r in counts.iterrows():
        n = int(r.sum())
        row = {**_param_cells(d, p), period_word: _period_label(d, per), "n": n,
               "Below range (LOW) n (%)": n_pct(int(r[N_LOW]), n), "Above range (HIGH) n (%)": n_pct(int(r[N_HIGH]), n)}
        if show_abn:
            row["ABNORMAL n (%)"] = n_pct(int(r[N_ABN]), n)
        row["Outside range n (%)"] = n_pct(int(r[N_LOW] + r[N_HIGH] + r[N_ABN]), n)
        rows.append(row)
    notes = ["n: results with a reference range classification (LBNRIND); percentages of n."]
    if d.counts["nr_derived"]:
        notes.append(f"{d.counts['nr_derived']} result(s) had no LBNRIND: classified from LBSTRESN against "
                     "LBSTNRLO/LBSTNRHI (limits inclusive).")
    sec.add("lab_range", TITLES["lab_range"], pd.DataFrame(rows), notes)


def _shift_table(d: _Data, sec: Section) -> None:
    a = d.a
    keys = a[["key", "param"]].drop_duplicates("key").set_index("key")
    post = a.loc[a["post"] & (a["nr"] > 0), ["key", "nr"]]
    flags = pd.DataFrame({"key": post["key"], "L": post["nr"] == N_LOW, "H": post["nr"] == N_HIGH,
                          "A": post["nr"] == N_ABN, "N": post["nr"] == N_NORMAL}).groupby("key").max()
    flags = flags.reindex(keys.index, fill_value=False).astype(bool)
    worst = np.select([flags["L"] & flags["H"], flags["L"], flags["H"], flags["A"], flags["N"]],
                      ["LOW and HIGH", "LOW", "HIGH", "ABNORMAL", "NORMAL"], default="No post-baseline value")
    bnr = d.base["nr"].reindex(keys.index).fillna(0).astype(int).to_numpy()
    bcat = np.array([NR[i] if i > 0 else MISSING for i in bnr], dtype=object)
    t = pd.DataFrame({"param": keys["param"].to_numpy(), "base": bcat, "worst": worst})
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
            row = {**_param_cells(d, p), "Baseline": b, "n": int(r.sum()) if len(r) else 0}
            for c in post_cols:
                row[f"Worst post-baseline {c}"] = int(r.get(c, 0))
            rows.append(row)
    notes = ["Subjects by baseline reference range category (LBNRIND) and their worst post-baseline category over "
             "all post-baseline records (scheduled and unscheduled visits): LOW and HIGH when both occurred. "
             "Baseline 'Missing': no baseline record or no classification."]
    sec.add("lab_shift", TITLES["lab_shift"], pd.DataFrame(rows), notes)


def _abnormal_listing(d: _Data, lb: pd.DataFrame, sec: Section) -> None:
    a = d.a
    sel = a[a["nr"] >= N_LOW]
    pos = sel["pos"].to_numpy()
    rows = lb.iloc[pos]

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


def _issues(d: _Data, lb: pd.DataFrame, sec: Section) -> None:
    a = d.a
    stresc = lb["LBSTRESC"] if "LBSTRESC" in lb else pd.Series("", index=lb.index, dtype=object)
    numeric_param = d.params["numeric"].to_numpy()[a["param"].to_numpy()]
    has_text = stresc.ne("").to_numpy()
    nonnum = numeric_param & np.isnan(a["value"].to_numpy()) & has_text
    if nonnum.any():
        rows = lb.iloc[np.flatnonzero(nonnum)].sort_values(["USUBJID", "LBTESTCD", "VISITNUM"], kind="stable")
        detail = "; ".join(f"{r.USUBJID} {r.LBTESTCD} {r.VISIT}: '{r.LBSTRESC}' ({r.LBNRIND or 'no LBNRIND'})"
                           for r in rows.head(10).itertuples())
        if len(rows) > 10:
            detail += f"; and {len(rows) - 10} more"
        text = (f"{len(rows)} result(s) of numeric tests are not numbers (LBSTRESN empty): {detail}. They are left out "
                "of means, medians and changes; their LBNRIND counts in the range and shift tables.")
        for t in ("lab_stats", "lab_change", "lab_range"):
            sec.note(t, text)
        sec.issue("Non-numeric result (e.g. below the limit of quantitation)", "LB", len(rows),
                  rows["USUBJID"].nunique(), detail, "excluded from statistics; LBNRIND kept")
    no_result = numeric_param & np.isnan(a["value"].to_numpy()) & ~has_text
    if no_result.any():
        k = int(no_result.sum())
        sec.note("lab_stats", f"{k} LB record(s) carry no result (LBSTRESC empty, e.g. not done).")
        sec.issue("LB record without a result", "LB", k, int(a.loc[no_result, "subj"].nunique()), "",
                  "excluded from statistics")
    if "LBDTC" in lb:
        partial = is_partial(lb["LBDTC"]).to_numpy()
        if partial.any():
            rows = lb.loc[partial, ["USUBJID", "VISIT", "LBDTC"]].drop_duplicates().sort_values(
                ["USUBJID", "LBDTC", "VISIT"], kind="stable")
            detail = "; ".join(f"{r.USUBJID} {r.VISIT}: {r.LBDTC}" for r in rows.head(10).itertuples())
            text = (f"{int(partial.sum())} LB record(s) of {rows['USUBJID'].nunique()} subject(s) have a partial "
                    f"collection date ({detail}): no study day is derived (SDTMIG 4.4.4); they are summarised "
                    "by their VISITNUM.")
            sec.note("lab_stats", text)
            sec.issue("Partial LBDTC", "LB", int(partial.sum()), rows["USUBJID"].nunique(), detail,
                      "no LBDY; summarised by VISITNUM")
    _missing_results(d, sec)
    if d.counts["no_visitnum"]:
        k = d.counts["no_visitnum"]
        sec.note("lab_stats", f"{k} LB record(s) have no VISITNUM: in the abnormal listing only.")
        sec.issue("LB record without VISITNUM", "LB", k, int(a.loc[a["vn"].isna(), "subj"].nunique()), "",
                  "listing only")
    if d.counts["unscheduled"]:
        k = d.counts["unscheduled"]
        sec.note("lab_stats", f"{k} LB record(s) at unscheduled visits (decimal VISITNUM) are not in the by-visit "
                              "tables; post-baseline ones count in the shift table and the listing.")
        sec.issue("LB record at an unscheduled visit", "LB", k,
                  int(a.loc[a["vn"].notna() & ~a["sched"], "subj"].nunique()), "",
                  "shift table and listing only")
    if d.counts["pre_not_base"]:
        k = d.counts["pre_not_base"]
        pre = ~a["post"] & ~a["is_base"] & a["vn"].notna()
        sec.note("lab_stats", f"{k} LB record(s) before or at the baseline visit that are not the baseline record "
                              "(e.g. screening repeats) are not summarised.")
        sec.issue("Pre-baseline record other than the baseline", "LB", k, int(a.loc[pre, "subj"].nunique()), "",
                  "not summarised")
    if d.counts.get("visit_duplicates"):
        k = d.counts["visit_duplicates"]
        sec.note("lab_stats", f"{k} repeated record(s) of a test at the same visit: the one with the highest LBSEQ "
                              "is summarised.")
        sec.issue("Repeated result at a visit", "LB", k, d.counts["visit_duplicate_subjects"], "",
                  "highest LBSEQ used")
    if d.counts["baseline_duplicates"]:
        k = d.counts["baseline_duplicates"]
        sec.note("lab_change", f"{k} extra baseline candidate record(s): the highest LBSEQ is the baseline.")
    if d.counts["no_baseline_keys"]:
        k = d.counts["no_baseline_keys"]
        sec.note("lab_change", f"{k} subject-test combination(s) have no baseline value: no change from baseline; "
                               "baseline 'Missing' in the shift table.")
        without = ~a["key"].isin(d.base.index)
        sec.issue("No baseline value", "LB", k, int(a.loc[without, "subj"].nunique()),
                  f"{k} subject-test combinations", "no change from baseline; shift baseline 'Missing'")


def _missing_results(d: _Data, sec: Section) -> None:
    """Results absent from a visit where the subject has other LB results and other subjects have this test."""
    a = d.a.loc[d.a["sched"], ["subj", "param", "vn"]]
    if a.empty:
        return
    present = a.drop_duplicates(["subj", "param", "vn"])
    per_sv = present.groupby(["subj", "vn"]).size()
    tests_at = present.groupby("vn")["param"].nunique()
    expected = tests_at.reindex(per_sv.index.get_level_values("vn")).to_numpy()
    gap = expected - per_sv.to_numpy()
    total = int(gap.sum())
    if total == 0:
        return
    incomplete = sorted(per_sv[gap > 0].index, key=lambda sv: (str(d.subjects[sv[0]]), sv[1]))
    detail_rows = []
    for s, v in incomplete[:10]:
        have = set(present.loc[(present["subj"] == s) & (present["vn"] == v), "param"])
        want = set(present.loc[present["vn"] == v, "param"])
        for p in sorted(want - have):
            detail_rows.append(f"{d.subjects[s]} {d.visit_label.get(v, visitnum_text(v))} {d.params.at[p, 'LBTESTCD']}")
    detail = "; ".join(detail_rows[:10]) + (f"; and {total - 10} more" if total > 10 else "")
    text = (f"{total} expected result(s) are absent (a test done for other subjects at a visit where the subject has "
            f"other results): {detail}. Statistics use the results present (n shows the count).")
    sec.note("lab_stats", text)
    sec.issue("Missing lab result at a visit", "LB", total, len({s for s, _ in incomplete}), detail,
              "not imputed; n counts the results present")


def _panels(d: _Data, an: pd.DataFrame, s: pd.DataFrame) -> LabResult:
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
            labels=[_period_label(d, q) for q in periods], mean=sp["mean"].to_numpy(), sd=sp["std"].to_numpy(),
            n=sp["count"].to_numpy(), lines=ln.to_numpy(dtype=float),
            lo=float(r["lo"]), hi=float(r["hi"]), other_ranges=int(max(0, r["n_ranges"] - 1))))
    return res


def _facts(d: _Data) -> list[str]:
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
