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
from msc_interop.summary._common import decimals_of, is_partial, labels_of, visit_counts, visitnum_text
from msc_interop.summary.dataset_rows import Codes, DatasetRows, FrameRows

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
        self.base_at: np.ndarray  # per subject-test key: its row in `base`, -1 without a baseline
        self.rowid: np.ndarray | None = None  # each record's row in LB where records were left out (else the same)
        self.has_text: np.ndarray  # LBSTRESC not empty, per record
        self.partial: list[pd.DataFrame] = []  # USUBJID, VISIT, LBDTC of records with a partial LBDTC
        self.n_partial = 0
        self.outside_records = 0  # records of subjects outside the population, and those subjects
        self.outside: set[str] = set()

    def keys(self, rows: np.ndarray | None = None) -> np.ndarray:
        """The subject-test key (subject code x parameters + parameter) of the records at `rows` (all: None); made
        when asked, not held (80 MB at 10M records)."""
        subj, param = self.a["subj"].to_numpy(), self.a["param"].to_numpy()
        if rows is not None:
            subj, param = subj[rows], param[rows]
        return subj.astype(np.int64) * len(self.params) + param

    def base_values(self, rows: np.ndarray) -> np.ndarray:
        """The baseline value of the subject and test of each record at positions `rows` of `a` (NaN: none)."""
        out = np.empty(len(rows), dtype="float64")
        value = self.base["value"].to_numpy()
        for r in _slices(len(rows)):
            at = self.base_at[self.keys(rows[r])]
            out[r] = np.where(at >= 0, value[np.maximum(at, 0)], np.nan)
        return out

    def rows_at(self, pos: np.ndarray) -> np.ndarray:
        """The LB rows of records at positions `pos` (of `a`)."""
        return np.asarray(pos, dtype=np.int64) if self.rowid is None else self.rowid[pos]

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


# the LB variables the lab tables read (a big LB is read a range of rows at a time, these columns only)
LB_COLUMNS = ("USUBJID", "LBTESTCD", "LBTEST", "LBCAT", "LBSTRESC", "LBSTRESN", "LBSTRESU", "LBSTNRLO", "LBSTNRHI",
              "LBNRIND", "LBBLFL", "LBLOBXFL", "VISITNUM", "VISIT", "LBSEQ", "LBDY", "LBDTC")


def _slices(n: int, step: int = 1 << 20) -> list[slice]:
    """Consecutive slices of `step` rows covering 0..n (per-row arithmetic a slice at a time)."""
    return [slice(a, min(a + step, n)) for a in range(0, n, step)]


class _Gathered:
    """Every kept LB record reduced to numbers, in one pass over the ranges (see `gather`)."""

    def __init__(self, size: int) -> None:
        self.subj, self.test, self.unit, self.pair = Codes(), Codes(), Codes(), Codes()
        self.size, self.n = size, 0  # rows the arrays can hold (the dataset's), rows kept so far
        self.cols: dict[str, np.ndarray] = {}
        self.first_text: list[tuple[str, str]] = []  # LBTEST, LBCAT of each (test, unit) pair's first record
        self.ranges: list[pd.Series] = []  # records per (pair, LBSTNRLO, LBSTNRHI)
        self.nr_derived = 0
        self.kept: list[tuple[int, int, np.ndarray | None]] = []  # per range: first row, rows, which were kept
        self.visits: list[pd.Series] = []
        self.resc_pairs: list[pd.DataFrame] = []  # (pair, LBSTRESC) of tests the mapping does not know
        self.partial: list[pd.DataFrame] = []  # USUBJID, VISIT, LBDTC of records with a partial LBDTC
        self.n_partial = 0
        self.outside_records = 0
        self.outside: set[str] = set()

    def put(self, name: str, values: np.ndarray) -> None:
        """The range's values of `name`, after those of the ranges before (arrays made once, at the dataset's
        size: no copies while growing, no heap left in pieces)."""
        arr = self.cols.get(name)
        if arr is None:
            arr = self.cols[name] = np.empty(self.size, dtype=values.dtype)
        arr[self.n:self.n + len(values)] = values

    def whole(self, name: str, dtype: str) -> np.ndarray:
        arr = self.cols.pop(name, None)
        return arr[:self.n].astype(dtype, copy=False) if arr is not None else np.zeros(0, dtype=dtype)


def _float(df: pd.DataFrame, name: str, coerce: bool = False) -> np.ndarray:
    if name not in df:
        return np.full(len(df), np.nan)
    return (pd.to_numeric(df[name], errors="coerce") if coerce else df[name]).to_numpy(dtype="float64")


def gather(rows: DatasetRows, subjects: pd.Series | None) -> tuple[_Gathered, int]:
    """One pass over LB's ranges: the records of `subjects` (all when None) as codes and numbers; the others
    counted. Returns what was gathered and the number of records kept."""
    g = _Gathered(len(rows))
    known = mappings.lab_tests()
    keep_set = None if subjects is None else pd.Index(subjects)
    n = 0
    for chunk in rows.chunks(LB_COLUMNS):
        first, length, inside = int(chunk.index[0]) if len(chunk) else 0, len(chunk), None
        if keep_set is not None:
            inside = chunk["USUBJID"].isin(keep_set).to_numpy()
            if not inside.all():
                g.outside_records += int((~inside).sum())
                g.outside.update(chunk["USUBJID"].to_numpy()[~inside])
                chunk = chunk[inside]
            else:
                inside = None
        g.kept.append((first, length, inside))
        g.put("subj", g.subj.add(chunk["USUBJID"]).astype(np.int32))
        test = g.test.add(chunk["LBTESTCD"])
        unit = g.unit.add(chunk["LBSTRESU"] if "LBSTRESU" in chunk else np.full(len(chunk), "", dtype=object))
        before = len(g.pair.index)
        pair = g.pair.add(test * (1 << 32) + unit)
        g.put("pair", pair.astype(np.int32))
        new, at = np.unique(pair, return_index=True)
        for code, i in zip(new, at, strict=True):
            if code >= before:
                g.first_text.append((chunk["LBTEST"].iat[i] if "LBTEST" in chunk else "",
                                     chunk["LBCAT"].iat[i] if "LBCAT" in chunk else ""))
        tests = g.test.values()
        unknown = np.array([t not in known for t in tests], dtype=bool)[test] if len(test) else np.zeros(0, bool)
        if unknown.any() and "LBSTRESC" in chunk:
            g.resc_pairs.append(pd.DataFrame({"p": pair[unknown], "c": chunk["LBSTRESC"].to_numpy()[unknown]})
                                .drop_duplicates())
        value, lo, hi = _float(chunk, "LBSTRESN", coerce=True), _float(chunk, "LBSTNRLO"), _float(chunk, "LBSTNRHI")
        g.put("value", value)
        rng = pd.DataFrame({"pair": pair, "lo": lo, "hi": hi}).dropna(how="all", subset=["lo", "hi"])
        g.ranges.append(rng.groupby(["pair", "lo", "hi"], dropna=False).size())
        # reference range classification: LBNRIND, derived from the range where empty (the builders' derivation).
        # A result with a comparator ("<2") has no LBSTRESN in SDTM, so only exact results can be derived.
        nr = _nr_codes(chunk["LBNRIND"] if "LBNRIND" in chunk else pd.Series("", index=chunk.index, dtype=object))
        todo = np.flatnonzero((nr == 0) & ~np.isnan(value) & (~np.isnan(lo) | ~np.isnan(hi)))
        derived = _nr_codes(reference_indicator(pd.Series(value[todo]), pd.Series("", index=range(len(todo))),
                                                pd.Series(lo[todo]), pd.Series(hi[todo])))
        nr[todo] = derived
        g.nr_derived += int(np.count_nonzero(derived))
        g.put("nr", nr)
        g.put("vn", _float(chunk, "VISITNUM"))
        g.put("seq", _float(chunk, "LBSEQ", coerce=True) if "LBSEQ" in chunk
              else np.arange(n, n + len(chunk), dtype="float64"))
        with np.errstate(invalid="ignore"):
            g.put("before_dose", _float(chunk, "LBDY", coerce=True) < 1)  # LBDY < 1: not post-baseline
        for flag in ("LBBLFL", "LBLOBXFL"):
            if flag in chunk:
                g.put(flag, chunk[flag].eq("Y").to_numpy())
        g.put("has_text", chunk["LBSTRESC"].ne("").to_numpy() if "LBSTRESC" in chunk
              else np.zeros(len(chunk), dtype=bool))
        if "VISITNUM" in chunk:
            g.visits.append(visit_counts(chunk))
        if "LBDTC" in chunk:
            partial = is_partial(chunk["LBDTC"]).to_numpy()
            if partial.any():
                g.n_partial += int(partial.sum())
                g.partial.append(chunk.loc[partial, ["USUBJID", "VISIT", "LBDTC"]].drop_duplicates())
        n += len(chunk)
        g.n = n
    return g, n


def prepare(lb: pd.DataFrame | DatasetRows, baseline: str | None, subjects: pd.Series | None = None) -> LabData:
    """LB as codes, with the baseline and post-baseline flags of every record; `subjects`: only theirs."""
    rows = lb if isinstance(lb, DatasetRows) else FrameRows("LB", lb)
    has = set(rows.columns)
    g, n = gather(rows, subjects)
    d = LabData()
    d.outside_records, d.outside = g.outside_records, g.outside
    if g.outside_records:
        d.rowid = np.concatenate([np.arange(a, a + k, dtype=np.int64)[m] if m is not None
                                  else np.arange(a, a + k, dtype=np.int64) for a, k, m in g.kept])
    subj = g.whole("subj", "int32")
    subj_u = g.subj.values()
    test_u, unit_u = g.test.values(), g.unit.values()
    pair_keys = np.array(list(g.pair.index), dtype=np.int64)
    praw = g.whole("pair", "int32")
    value = g.whole("value", "float64")

    # parameter table, sorted for display (category, test code, unit); codes renumbered in that order
    params = pd.DataFrame({
        "LBTESTCD": test_u[pair_keys >> 32] if len(pair_keys) else np.zeros(0, dtype=object),
        "LBSTRESU": unit_u[pair_keys & 0xFFFFFFFF] if len(pair_keys) else np.zeros(0, dtype=object),
        "LBTEST": [t for t, _ in g.first_text] if "LBTEST" in has else "",
        "LBCAT": [c for _, c in g.first_text] if "LBCAT" in has else "",
    })
    # tests the mapping knows keep its order (blood counts WBC, RBC, PLAT as the seed paper lists them)
    known = {t: i for i, t in enumerate(mappings.lab_tests())}
    params["_rank"] = [known.get(t, len(known)) for t in params["LBTESTCD"]]
    params["_cat"] = params.groupby("LBCAT")["_rank"].transform("min")  # categories in the order of their tests
    order = params.sort_values(["_cat", "LBCAT", "_rank", "LBTESTCD", "LBSTRESU"], kind="stable").index.to_numpy()
    params = params.drop(columns=["_rank", "_cat"])
    remap = np.empty(len(order), dtype=np.int32)
    remap[order] = np.arange(len(order), dtype=np.int32)
    param = remap[praw]
    del praw
    params = params.iloc[order].reset_index(drop=True)
    params["numeric"] = np.bincount(param[~np.isnan(value)], minlength=len(params)) > 0
    params["decimals"] = _decimals(g, remap, params)
    rc = pd.concat(g.ranges).groupby(level=[0, 1, 2], dropna=False).sum().reset_index(name="k")
    rc["param"] = remap[rc.pop("pair").to_numpy()] if len(rc) else np.zeros(0, dtype=np.int64)
    rc = rc.sort_values(["param", "k", "lo", "hi"], ascending=[True, False, True, True])
    modal = rc.drop_duplicates("param").set_index("param")
    params["lo"] = modal["lo"].reindex(range(len(params))).to_numpy()
    params["hi"] = modal["hi"].reindex(range(len(params))).to_numpy()
    params["n_ranges"] = rc.groupby("param").size().reindex(range(len(params)), fill_value=0).to_numpy()

    nr = g.whole("nr", "int8")
    d.counts["nr_derived"] = g.nr_derived

    vn = g.whole("vn", "float64")
    seq = g.whole("seq", "float64")
    seq[np.isnan(seq)] = -1.0
    before_dose = g.whole("before_dose", "bool")
    key = subj.astype(np.int64) * len(params) + param
    # one row per record, in LB order (the index is the record's position); arrays of its own: not copied
    a = pd.DataFrame({"subj": subj, "param": param, "vn": vn, "seq": seq, "value": value, "nr": nr}, copy=False)
    del subj, seq, nr
    d.visit_label = labels_of(g.visits)
    d.has_text = g.whole("has_text", "bool")
    d.partial, d.n_partial = g.partial, g.n_partial

    # baseline
    blfl = g.whole("LBBLFL", "bool") if "LBBLFL" in has else None
    lobx = g.whole("LBLOBXFL", "bool") if "LBLOBXFL" in has else None
    if baseline is not None:
        vns = _resolve_visit(baseline, d.visit_label)
        cand = np.isin(vn, vns)
        d.rule = (f"baseline = the record at visit {baseline!r} (VISITNUM {', '.join(visitnum_text(v) for v in vns)})"
                  ", as requested")
    elif blfl is not None and blfl.any():
        cand = blfl
        d.rule = "baseline = the record flagged LBBLFL = 'Y' (the study's baseline flag)"
    elif lobx is not None and lobx.any():
        cand = lobx
        d.rule = "baseline = the record flagged LBLOBXFL = 'Y' (last observation before exposure)"
    else:
        first_vn = pd.Series(vn).groupby(key).transform("min").to_numpy()
        cand = (vn == first_vn) & ~np.isnan(vn)
        d.rule = ("baseline = the subject's first visit for the test (the study has no LBLOBXFL baseline flag)")
    del blfl, lobx
    c = a.loc[cand, ["seq", "vn", "value", "nr"]]
    c = c.assign(key=key[cand], pos=c.index.to_numpy()).sort_values(["key", "seq", "pos"])
    d.counts["baseline_duplicates"] = int(len(c) - c["key"].nunique())
    c = c.drop_duplicates("key", keep="last")
    is_base = np.zeros(n, dtype=bool)
    is_base[c["pos"].to_numpy()] = True
    d.base = c.set_index("key")[["vn", "value", "nr"]]
    modal_vn = float(c["vn"].mode().min()) if len(c) and c["vn"].notna().any() else -np.inf
    d.base_at = np.full(int(key.max()) + 1 if n else 0, -1, dtype=np.int32)  # keys are dense (subject x test)
    d.base_at[d.base.index.to_numpy()] = np.arange(len(d.base), dtype=np.int32)
    post = np.empty(n, dtype=bool)
    base_vn = d.base["vn"].to_numpy()
    for r in _slices(n):  # a million records at a time: no 10M-row temporaries
        where = d.base_at[key[r]]
        rvn = np.where(where >= 0, base_vn[np.maximum(where, 0)], modal_vn)
        with np.errstate(invalid="ignore"):
            post[r] = (vn[r] > rvn) & ~np.isnan(vn[r]) & ~before_dose[r]
    a["is_base"] = is_base
    a["post"] = post & ~is_base
    a["sched"] = ~np.isnan(vn) & (np.floor(vn) == vn)
    d.counts["no_baseline_keys"] = int(np.count_nonzero(np.bincount(key)) - len(d.base))
    d.counts["pre_not_base"] = int((~a["post"] & ~a["is_base"] & ~np.isnan(vn)).sum())
    d.counts["no_visitnum"] = int(np.isnan(vn).sum())
    d.counts["unscheduled"] = int((~np.isnan(vn) & ~a["sched"]).sum())
    d.params, d.a, d.subjects = params, a, np.asarray(subj_u, dtype=object)
    return d


def _decimals(g: _Gathered, remap: np.ndarray, params: pd.DataFrame) -> list[int]:
    """Decimals of each parameter: the lab-test mapping's, else those printed in LBSTRESC (at most 4)."""
    known = mappings.lab_tests()
    inferred: dict[int, int] = {}
    if g.resc_pairs:
        pairs = pd.concat(g.resc_pairs, ignore_index=True)
        pairs["p"] = remap[pairs["p"].to_numpy()]
        inferred = {int(p): decimals_of(grp["c"]) for p, grp in pairs.drop_duplicates().groupby("p")}
    return [known[t].decimals if t in known else inferred.get(i, 2) for i, t in enumerate(params["LBTESTCD"])]


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
    vn, seq = a["vn"].to_numpy(), a["seq"].to_numpy()
    base_idx = np.flatnonzero(a["is_base"].to_numpy())
    if by_visit:
        post, param, subj = (a["post"] & a["sched"]).to_numpy(), a["param"].to_numpy(), a["subj"].to_numpy()
        kept, repeated = [], []
        for p in np.unique(param[post]).tolist():  # one test at a time (a tenth of 10M rows sorted at once)
            at = np.flatnonzero(post & (param == p))
            vcode, _ = pd.factorize(vn[at])
            pair = d.keys(at) * (int(vcode.max(initial=0)) + 1) + vcode
            # repeats of a test at a visit: keep the highest LBSEQ (then the later row: lexsort is stable)
            order = np.lexsort((seq[at], pair))
            sp = pair[order]
            last = np.r_[sp[1:] != sp[:-1], True]
            kept.append(at[order[last]])
            repeated.append(subj[at[order[~last]]])
        d.counts["visit_duplicates"] = int(sum(len(r) for r in repeated))
        d.counts["visit_duplicate_subjects"] = int(pd.unique(np.concatenate(repeated)).size) if repeated else 0
        del post
        post_idx = np.concatenate(kept) if kept else np.zeros(0, dtype=np.int64)
        del kept
        post_idx.sort()
        period = None  # the visit (VISITNUM)
    else:  # each subject's last post-baseline record (highest VISITNUM, then LBSEQ)
        post_idx = np.flatnonzero(a["post"].to_numpy())
        key = d.keys(post_idx)
        order = np.lexsort((post_idx, seq[post_idx], vn[post_idx], key))
        srt = post_idx[order]
        k = key[order]
        post_idx = srt[np.r_[k[1:] != k[:-1], True]] if len(srt) else srt
        period = np.full(len(post_idx), LAST_PERIOD)
    # the columns filled a million rows at a time (at 10M records each whole temporary is 80 MB)
    nb, n = len(base_idx), len(base_idx) + len(post_idx)
    cols = {"subj": np.empty(n, np.int32), "param": np.empty(n, np.int32), "value": np.empty(n),
            "nr": np.empty(n, np.int8), "period": np.empty(n), "change": np.empty(n)}
    for c in ("subj", "param", "value", "nr"):
        src = a[c].to_numpy()
        cols[c][:nb] = src[base_idx]
        for r in _slices(len(post_idx)):
            cols[c][nb + r.start:nb + r.stop] = src[post_idx[r]]
    cols["period"][:nb] = BASELINE_PERIOD
    cols["change"][:nb] = np.nan
    value = a["value"].to_numpy()
    for r in _slices(len(post_idx)):
        rows = post_idx[r]
        cols["period"][nb + r.start:nb + r.stop] = vn[rows] if period is None else period[r]
        cols["change"][nb + r.start:nb + r.stop] = value[rows] - d.base_values(rows)
    out = pd.DataFrame(cols, copy=False)
    return out
