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

from dataclasses import dataclass

import numpy as np
import pandas as pd

from msc_interop import mappings
from msc_interop.errors import MscInteropError
from msc_interop.sdtm.reference_range import reference_indicator
from msc_interop.summary._common import decimals_of, is_partial, labels_of, visit_counts, visitnum_text
from msc_interop.summary.codes import Codes
from msc_interop.summary.dataset_rows import DatasetRows, FrameRows
from msc_interop.summary.grouped_spill import GroupedSpill

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
    """LB reduced to integer codes: the parameter table, the decisions every parameter shares (baseline rule, visit
    labels, the modal baseline visit) and each parameter's records, spilled to a temporary file and read back one
    parameter at a time (`param_data`); see the module docstring for the definitions. Close it when done."""

    def __init__(self) -> None:
        self._cells: list[dict[str, str]] = []
        self.params: pd.DataFrame
        self.subjects: np.ndarray  # USUBJID of each subject code
        self.visit_label: dict[float, str]
        self.rule: str
        self.counts: dict[str, int] = {}
        self.n_records = 0  # records kept (of subjects in the population)
        self.partial: list[pd.DataFrame] = []  # USUBJID, VISIT, LBDTC of records with a partial LBDTC
        self.n_partial = 0
        self.outside_records = 0  # records of subjects outside the population, and those subjects
        self.outside: set[str] = set()
        self.spill: GroupedSpill | None = None  # the records, by (test, unit) pair code
        self.pair_of: np.ndarray = np.zeros(0, dtype=np.int64)  # parameter -> its pair code in the spill
        self.candidates: tuple[str, list[float]] = ("first", [])  # the baseline rule: kind, visits
        self.modal_vn = -np.inf  # the most common baseline visit: the baseline visit of keys without one

    def records(self, p: int) -> np.ndarray:
        """The records (RECORD) of parameter `p`, in LB order."""
        assert self.spill is not None
        return self.spill.get(int(self.pair_of[p]))

    def fields(self, p: int) -> dict[str, np.ndarray]:
        """The records of parameter `p` as one array per field (RECORD's names), in LB order."""
        assert self.spill is not None
        return self.spill.get_fields(int(self.pair_of[p]))

    def close(self) -> None:
        if self.spill is not None:
            self.spill.close()

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


@dataclass
class LabParam:
    """One parameter's records with their baseline and post-baseline flags (`a`: subj, param, vn, seq, value, nr,
    row (the record's row in LB), is_base, post, sched; in LB order) and the subjects' baseline records."""

    p: int
    a: pd.DataFrame
    has_text: np.ndarray  # LBSTRESC not empty, per record
    base: pd.DataFrame  # vn, value, nr of each subject's baseline record, indexed by subject code
    base_at: np.ndarray  # per subject code: its row in `base`, -1 without a baseline

    def base_values(self, subj: np.ndarray) -> np.ndarray:
        """The baseline value of each subject code in `subj` (NaN: none)."""
        at = self.base_at[subj]
        out = np.full(len(at), np.nan)
        has = at >= 0
        out[has] = self.base["value"].to_numpy()[at[has]]
        return out


# the LB variables the lab tables read (a big LB is read a range of rows at a time, these columns only)
LB_COLUMNS = ("USUBJID", "LBTESTCD", "LBTEST", "LBCAT", "LBSTRESC", "LBSTRESN", "LBSTRESU", "LBSTNRLO", "LBSTNRHI",
              "LBNRIND", "LBBLFL", "LBLOBXFL", "VISITNUM", "VISIT", "LBSEQ", "LBDY", "LBDTC")

# one kept LB record as numbers (41 bytes); `flags` bits:
RECORD = np.dtype([("subj", "<i4"), ("value", "<f8"), ("vn", "<f8"), ("seq", "<f8"), ("row", "<i8"),
                   ("nr", "i1"), ("flags", "u1")])
BEFORE_DOSE, BLFL, LOBXFL, HAS_TEXT = 1, 2, 4, 8  # LBDY < 1, LBBLFL = Y, LBLOBXFL = Y, LBSTRESC not empty


class _Gathered:
    """Every kept LB record reduced to numbers, in one pass over the ranges (see `gather`)."""

    def __init__(self) -> None:
        self.subj, self.test, self.unit, self.pair = Codes(), Codes(), Codes(), Codes()
        self.n = 0  # rows kept so far
        self.spill = GroupedSpill(RECORD)
        self.numeric: set[int] = set()  # pair codes with a numeric result
        self.flagged = {"LBBLFL": False, "LBLOBXFL": False}  # any record flagged so
        self.first_text: list[tuple[str, str]] = []  # LBTEST, LBCAT of each (test, unit) pair's first record
        self.ranges: list[pd.Series] = []  # records per (pair, LBSTNRLO, LBSTNRHI)
        self.nr_derived = 0
        self.visits: list[pd.Series] = []
        self.resc_pairs: list[pd.DataFrame] = []  # (pair, LBSTRESC) of tests the mapping does not know
        self.partial: list[pd.DataFrame] = []  # USUBJID, VISIT, LBDTC of records with a partial LBDTC
        self.n_partial = 0
        self.outside_records = 0
        self.outside: set[str] = set()


def _float(df: pd.DataFrame, name: str, coerce: bool = False) -> np.ndarray:
    if name not in df:
        return np.full(len(df), np.nan)
    return (pd.to_numeric(df[name], errors="coerce") if coerce else df[name]).to_numpy(dtype="float64")


def gather(rows: DatasetRows, subjects: pd.Series | None, d: LabData) -> _Gathered:
    """One pass over LB's ranges: the records of `subjects` (all when None) as numbers, spilled by (test, unit)
    pair into d.spill (made here: `d` closes it, whatever happens); the others counted."""
    g = _Gathered()
    d.spill = g.spill
    known = mappings.lab_tests()
    keep_set = None if subjects is None else pd.Index(subjects)
    for chunk in rows.chunks(LB_COLUMNS):
        first = int(chunk.index[0]) if len(chunk) else 0
        row = np.arange(first, first + len(chunk), dtype=np.int64)
        if keep_set is not None:
            inside = chunk["USUBJID"].isin(keep_set).to_numpy()
            if not inside.all():
                g.outside_records += int((~inside).sum())
                g.outside.update(chunk["USUBJID"].to_numpy()[~inside])
                chunk, row = chunk[inside], row[inside]
        rec = np.empty(len(chunk), dtype=RECORD)
        rec["row"] = row
        rec["subj"] = g.subj.add(chunk["USUBJID"])
        test = g.test.add(chunk["LBTESTCD"])
        unit = g.unit.add(chunk["LBSTRESU"] if "LBSTRESU" in chunk else np.full(len(chunk), "", dtype=object))
        before = len(g.pair.index)
        pair = g.pair.add(test * (1 << 32) + unit)
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
        rec["value"] = value
        g.numeric.update(np.unique(pair[~np.isnan(value)]).tolist())
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
        rec["nr"] = nr
        rec["vn"] = _float(chunk, "VISITNUM")
        seq = (_float(chunk, "LBSEQ", coerce=True) if "LBSEQ" in chunk
               else np.arange(g.n, g.n + len(chunk), dtype="float64"))
        rec["seq"] = np.where(np.isnan(seq), -1.0, seq)
        flags = np.zeros(len(chunk), dtype=np.uint8)
        with np.errstate(invalid="ignore"):
            flags[_float(chunk, "LBDY", coerce=True) < 1] |= BEFORE_DOSE  # LBDY < 1: not post-baseline
        for flag, bit in (("LBBLFL", BLFL), ("LBLOBXFL", LOBXFL)):
            if flag in chunk:
                yes = chunk[flag].eq("Y").to_numpy()
                flags[yes] |= bit
                g.flagged[flag] = g.flagged[flag] or bool(yes.any())
        if "LBSTRESC" in chunk:
            flags[chunk["LBSTRESC"].ne("").to_numpy()] |= HAS_TEXT
        rec["flags"] = flags
        g.spill.add(pair, rec)
        if "VISITNUM" in chunk:
            g.visits.append(visit_counts(chunk))
        if "LBDTC" in chunk:
            partial = is_partial(chunk["LBDTC"]).to_numpy()
            if partial.any():
                g.n_partial += int(partial.sum())
                g.partial.append(chunk.loc[partial, ["USUBJID", "VISIT", "LBDTC"]].drop_duplicates())
        g.n += len(chunk)
    return g


def prepare(lb: pd.DataFrame | DatasetRows, baseline: str | None, subjects: pd.Series | None = None) -> LabData:
    """LB as codes, its records spilled by parameter, with the decisions every parameter shares (the baseline
    rule and the modal baseline visit); `subjects`: only theirs. Each parameter's records: `param_data`."""
    rows = lb if isinstance(lb, DatasetRows) else FrameRows("LB", lb)
    d = LabData()
    try:
        _prepare(d, rows, baseline, subjects)
    except BaseException:
        d.close()
        raise
    return d


def _prepare(d: LabData, rows: DatasetRows, baseline: str | None, subjects: pd.Series | None) -> None:
    has = set(rows.columns)
    g = gather(rows, subjects, d)
    d.outside_records, d.outside, d.n_records = g.outside_records, g.outside, g.n
    test_u, unit_u = g.test.values(), g.unit.values()
    pair_keys = np.array(list(g.pair.index), dtype=np.int64)

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
    d.pair_of = order.astype(np.int64)
    params = params.iloc[order].reset_index(drop=True)
    params["numeric"] = np.array([int(c) in g.numeric for c in order], dtype=bool)
    params["decimals"] = _decimals(g, remap, params)
    rc = pd.concat(g.ranges).groupby(level=[0, 1, 2], dropna=False).sum().reset_index(name="k")
    rc["param"] = remap[rc.pop("pair").to_numpy()] if len(rc) else np.zeros(0, dtype=np.int64)
    rc = rc.sort_values(["param", "k", "lo", "hi"], ascending=[True, False, True, True])
    modal = rc.drop_duplicates("param").set_index("param")
    params["lo"] = modal["lo"].reindex(range(len(params))).to_numpy()
    params["hi"] = modal["hi"].reindex(range(len(params))).to_numpy()
    params["n_ranges"] = rc.groupby("param").size().reindex(range(len(params)), fill_value=0).to_numpy()
    d.params, d.subjects = params, np.asarray(g.subj.values(), dtype=object)
    d.counts["nr_derived"] = g.nr_derived
    d.visit_label = labels_of(g.visits)
    d.partial, d.n_partial = g.partial, g.n_partial

    # baseline rule
    if baseline is not None:
        vns = _resolve_visit(baseline, d.visit_label)
        d.candidates = ("visit", vns)
        d.rule = (f"baseline = the record at visit {baseline!r} (VISITNUM {', '.join(visitnum_text(v) for v in vns)})"
                  ", as requested")
    elif g.flagged["LBBLFL"]:
        d.candidates = ("flag", [BLFL])
        d.rule = "baseline = the record flagged LBBLFL = 'Y' (the study's baseline flag)"
    elif g.flagged["LBLOBXFL"]:
        d.candidates = ("flag", [LOBXFL])
        d.rule = "baseline = the record flagged LBLOBXFL = 'Y' (last observation before exposure)"
    else:
        d.rule = ("baseline = the subject's first visit for the test (the study has no LBLOBXFL baseline flag)")
    # the modal baseline visit over every parameter's baseline records (keys without a baseline are post-baseline
    # after it): one pass over the parameters before any table
    visits: list[pd.Series] = []
    d.counts["baseline_duplicates"] = 0
    for p in range(len(params)):
        rec = d.records(p)
        at, duplicates = _baseline_rows(d, rec)
        d.counts["baseline_duplicates"] += duplicates
        visits.append(pd.Series(rec["vn"][at]).value_counts())
    counts = pd.concat(visits).groupby(level=0).sum() if visits else pd.Series(dtype="int64")
    if len(counts):
        d.modal_vn = float(counts.index[counts.to_numpy() == counts.max()].min())


def _baseline_rows(d: LabData, rec: np.ndarray | dict[str, np.ndarray]) -> tuple[np.ndarray, int]:
    """Positions (in `rec`, one parameter's records) of each subject's baseline record, in subject-code order,
    and the number of other candidates (the highest LBSEQ wins, then the later record)."""
    subj, vn = rec["subj"], rec["vn"]
    kind, what = d.candidates
    if kind == "visit":
        cand = np.isin(vn, what)
    elif kind == "flag":
        cand = (rec["flags"] & what[0]) > 0
    else:
        first_vn = pd.Series(vn).groupby(subj).transform("min").to_numpy()
        cand = (vn == first_vn) & ~np.isnan(vn)
    at = np.flatnonzero(cand)
    at = at[np.lexsort((at, rec["seq"][at], subj[at]))]
    s = subj[at]
    last = np.r_[s[1:] != s[:-1], True] if len(at) else np.zeros(0, dtype=bool)
    return at[last], int(len(at) - np.count_nonzero(last))


def param_data(d: LabData, p: int) -> LabParam:
    """Parameter `p`'s records with baseline and post-baseline flags (see the module docstring)."""
    rec = d.fields(p)
    n = len(rec["subj"])
    subj, vn, seq, value, nr, flags = (rec[k] for k in ("subj", "vn", "seq", "value", "nr", "flags"))
    at, _ = _baseline_rows(d, rec)
    base = pd.DataFrame({"vn": vn[at], "value": value[at], "nr": nr[at]}, index=subj[at])
    base_at = np.full(len(d.subjects), -1, dtype=np.int32)
    base_at[subj[at]] = np.arange(len(at), dtype=np.int32)
    is_base = np.zeros(n, dtype=bool)
    is_base[at] = True
    where = base_at[subj]
    rvn = np.where(where >= 0, vn[at][np.maximum(where, 0)] if len(at) else np.nan, d.modal_vn)
    with np.errstate(invalid="ignore"):
        post = (vn > rvn) & ~np.isnan(vn) & ((flags & BEFORE_DOSE) == 0)
    a = pd.DataFrame({"subj": subj, "param": np.full(n, p, dtype=np.int32), "vn": vn, "seq": seq, "value": value,
                      "nr": nr, "row": rec["row"], "is_base": is_base, "post": post & ~is_base,
                      "sched": ~np.isnan(vn) & (np.floor(vn) == vn)}, copy=False)
    return LabParam(p, a, (flags & HAS_TEXT) > 0, base, base_at)


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


def analysis_rows(lp: LabParam, *, by_visit: bool) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows one parameter's tables summarise: the baseline records, then one record per subject and post-baseline
    period (columns subj, param, value, nr, period, change). With `by_visit`, also the subject codes of the
    records left out as repeats of a test at a visit (one per repeat; else empty)."""
    a = lp.a
    vn, seq, subj = a["vn"].to_numpy(), a["seq"].to_numpy(), a["subj"].to_numpy()
    base_idx = np.flatnonzero(a["is_base"].to_numpy())
    repeated = np.zeros(0, dtype=np.int32)
    if by_visit:
        at = np.flatnonzero((a["post"] & a["sched"]).to_numpy())
        vcode, _ = pd.factorize(vn[at])
        pair = subj[at].astype(np.int64) * (int(vcode.max(initial=0)) + 1) + vcode
        # repeats of a test at a visit: keep the highest LBSEQ (then the later row: lexsort is stable)
        order = np.lexsort((seq[at], pair))
        sp = pair[order]
        last = np.r_[sp[1:] != sp[:-1], True] if len(sp) else np.zeros(0, dtype=bool)
        post_idx = np.sort(at[order[last]])
        repeated = subj[at[order[~last]]]
        period = vn[post_idx]  # the visit (VISITNUM)
    else:  # each subject's last post-baseline record (highest VISITNUM, then LBSEQ)
        at = np.flatnonzero(a["post"].to_numpy())
        order = np.lexsort((at, seq[at], vn[at], subj[at]))
        srt = at[order]
        k = subj[srt]
        post_idx = srt[np.r_[k[1:] != k[:-1], True]] if len(srt) else srt
        period = np.full(len(post_idx), LAST_PERIOD)
    rows = np.concatenate([base_idx, post_idx])
    value = a["value"].to_numpy()
    out = pd.DataFrame({
        "subj": subj[rows], "param": a["param"].to_numpy()[rows], "value": value[rows],
        "nr": a["nr"].to_numpy()[rows],
        "period": np.concatenate([np.full(len(base_idx), BASELINE_PERIOD), period]),
        "change": np.concatenate([np.full(len(base_idx), np.nan),
                                  value[post_idx] - lp.base_values(subj[post_idx])])}, copy=False)
    return out, repeated
