"""LB reduced to integer codes, and the definitions every lab table shares (stated in the footnotes as well).

Everything runs on integer codes (subject, test/unit "parameter", visit number) with pandas groupby, so 5.5 M lab
rows take seconds. Definitions:

- Parameter: LBTESTCD in its standard unit LBSTRESU; statistics use LBSTRESN (standard units). Order: the order of
  mappings/lab_tests.yaml for the tests it knows (blood counts, liver function, tumor markers, as the seed paper),
  grouped by LBCAT; other tests after them, by LBCAT and test code.
- Baseline: the record at the visit given by ``baseline=`` if set; else the record flagged LBBLFL = "Y" (the
  study's baseline flag, SDTMIG 3.2/3.3); else LBLOBXFL = "Y" (SDTMIG 3.4 last observation before exposure);
  else, when the study has no flag at all, the subject's first visit.
  One baseline per subject and parameter (the highest LBSEQ if several qualify).
- Post-baseline: a record with a VISITNUM after the subject's baseline visit and not known to be before the first
  administration (LBDY < 1). By-visit tables use scheduled visits (whole VISITNUM); unscheduled visits (decimal
  VISITNUM, the SDTM convention) count in the shift table and the abnormal listing. One record per subject,
  parameter and visit (the highest LBSEQ when a visit holds several).
- Reference range classification: LBNRIND; where it is empty, derived from LBSTRESN against LBSTNRLO/LBSTNRHI by
  the builders' derivation (sdtm.reference_range.reference_indicator).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_interop import mappings
from msc_interop.errors import MscInteropError
from msc_interop.sdtm.reference_range import reference_indicator
from msc_interop.summary._common import decimals_of, visit_labels, visitnum_text

NR = ("", "NORMAL", "LOW", "HIGH", "ABNORMAL")  # classification codes 0..4
N_NORMAL, N_LOW, N_HIGH, N_ABN = 1, 2, 3, 4
BASELINE_PERIOD = -1.0
LAST_PERIOD = 1e9

TITLES = {
    "lab_stats": "Laboratory values by visit (standard units)",
    "lab_change": "Change from baseline by visit, with Wilcoxon signed-rank test against baseline",
    "lab_range": "Results outside the reference range by visit",
    "lab_shift": "Shift from baseline to worst post-baseline reference range category (subjects)",
    "lab_abnormal_listing": "Listing of results outside the reference range",
}


class LabData:
    """LB reduced to integer codes (subject, parameter, visit number); see the module docstring for the definitions."""

    def __init__(self) -> None:
        self._cells: list[dict[str, str]] = []
        self.params: pd.DataFrame
        self.a: pd.DataFrame
        self.subjects: np.ndarray
        self.visit_label: dict[float, str]
        self.base: pd.DataFrame
        self.rule: str
        self.counts: dict[str, int] = {}

    def period_label(self, period: float) -> str:
        """Row label of an analysis period: Baseline, a visit, or Last post-baseline."""
        if period == BASELINE_PERIOD:
            return "Baseline"
        if period == LAST_PERIOD:
            return "Last post-baseline"
        return self.visit_label.get(period, visitnum_text(period))

    def paramcd(self, p: int) -> str:
        """The ARD's PARAMCD level: LBTESTCD, with the unit when the test has more than one standard unit."""
        t = self.params.at[int(p), "LBTESTCD"]
        multi = int((self.params["LBTESTCD"] == t).sum()) > 1
        return f"{t} ({self.params.at[int(p), 'LBSTRESU']})" if multi else str(t)

    def ard_groups(self, p: int, period: float) -> tuple[tuple[str, object], ...]:
        return (("PARAMCD", self.paramcd(p)), ("AVISIT", self.period_label(period)))

    def param_cells(self, p: int) -> dict[str, str]:
        """The leading cells of a table row for parameter code p (category, test code, test, unit)."""
        if not self._cells:
            self._cells = [{"Category": c, "Test code": t, "Test": n, "Unit": u} for c, t, n, u in zip(
                self.params["LBCAT"], self.params["LBTESTCD"], self.params["LBTEST"], self.params["LBSTRESU"],
                strict=True)]
        return dict(self._cells[int(p)])


def _codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    return codes, pd.Index(uniques)


def prepare(lb: pd.DataFrame, baseline: str | None) -> LabData:
    """LB as codes, with the baseline and post-baseline flags of every record."""
    d = LabData()
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
    elif "LBBLFL" in lb and lb["LBBLFL"].eq("Y").any():
        cand = lb["LBBLFL"].eq("Y").to_numpy()
        d.rule = "baseline = the record flagged LBBLFL = 'Y' (the study's baseline flag)"
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


def analysis_rows(d: LabData, *, by_visit: bool) -> pd.DataFrame:
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
