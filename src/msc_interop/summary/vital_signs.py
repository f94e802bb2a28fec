"""Vital signs over time and change from baseline, per treatment arm (tables vs_stats and vs_change, and their ARD).

Values: VSSTRESN in VSSTRESU, one parameter per test, position and standard unit (a sitting and a standing blood
pressure are two parameters). Baseline: the record flagged VSLOBXFL (SDTMIG 3.4) or VSBLFL (3.3) = "Y"; a subject
with no flagged record of a parameter has no change values for it. Visits: scheduled ones (whole VISITNUM); a subject
contributes one value per visit (the last, by VSDTC, when there are more). Change from baseline: visits after the
baseline's. Mean and SD from exact sums (the same numbers from records, SDTM and FHIR).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from msc_interop import vital_signs
from msc_interop.study import Study
from msc_interop.summary._common import (
    Population,
    Section,
    decimals_of,
    labels_of,
    num_col,
    text_col,
    visit_counts,
)
from msc_interop.summary.ard import exact_mean_sd
from msc_interop.summary.ard_tables import cell
from msc_interop.summary.codes import Codes, text_ranks
from msc_interop.summary.dataset_rows import DatasetRows, rows_of
from msc_interop.summary.grouped_spill import GroupedSpill

TITLES = {"vs_stats": "Vital signs by visit", "vs_change": "Vital signs: change from baseline by visit"}


def summarize_vital_signs(study: Study, pop: Population, sec: Section) -> None:
    """Add vs_stats and vs_change (and their ARD rows) when the study has VS with numeric results."""
    data = _gather(study, pop)
    if data is None:
        return
    try:
        groups, params, labels = _group_stats(data, pop)
    finally:
        data.spill.close()
    notes = [f"Values are VSSTRESN in standard units (VSSTRESU); one row per parameter, visit and treatment column "
             f"({'arms and Total' if pop.with_total else 'one arm'}). Mean and median carry one decimal more than "
             "the data, SD two more.",
             "Baseline: the record flagged VSLOBXFL (or VSBLFL) = Y per subject and parameter; change from baseline "
             "at the scheduled visits (whole VISITNUM) after it. A subject contributes one value per visit (the "
             "last by VSDTC)."]
    for table, variable in (("vs_stats", "AVAL"), ("vs_change", "CHG")):
        rows = []
        for p, visit, arm, stats in groups[table]:
            testcd, pos, unit, dec = params[p]
            ref = sec.ard.add(table, pop.label(arm), variable, None, stats, context="continuous",
                              groups=(("PARAMCD", testcd + (f" {pos}" if pos else "")), ("AVISIT", labels[visit])))
            rows.append({"_order": (_test_order(testcd), pos, unit, visit, pop.columns().index(arm)),
                         "Test code": testcd, "Position": pos, "Unit": unit, "Visit": labels[visit],
                         "Treatment": pop.header(arm), "n": cell(ref, "int", stat="N"),
                         "Mean (SD)": cell(ref, "mean_sd", dec), "Median": cell(ref, "median", dec),
                         "Min, Max": cell(ref, "min_max", dec)})
        rows.sort(key=lambda r: r["_order"])
        sec.add(table, TITLES[table], pd.DataFrame(rows).drop(columns="_order", errors="ignore"), notes)


def _group_stats(data: _Gathered, pop: Population
                 ) -> tuple[dict[str, list[tuple[int, float, str, dict[str, float]]]], list[tuple], dict[float, str]]:
    """Per table (vs_stats of the values, vs_change of the changes after baseline) the statistics of each
    (parameter, visit, treatment column) group, in the order the ARD lists them: every arm's groups (parameters in
    table order), then every Total group. One parameter's records in memory at a time."""
    groups: dict[str, dict[bool, list]] = {t: {False: [], True: []} for t in ("vs_stats", "vs_change")}
    params: list[tuple] = []
    for code in data.table_order():
        an = data.analysis(code, pop)
        if an is None:
            continue
        for table, column in (("vs_stats", "value"), ("vs_change", "change")):
            x_all = an[column]
            used = ~np.isnan(x_all) & (an["after"] if column == "change" else True)
            for total, visit, arm, at in _groups(an, np.flatnonzero(used), pop.with_total):
                x = x_all[at]
                mean, sd = exact_mean_sd(x)
                stats = {"N": len(x), "mean": mean, "sd": sd, "median": float(np.median(x)),
                         "min": float(x.min()), "max": float(x.max())}
                groups[table][total].append((len(params), visit, arm, stats))
        params.append(data.param_row(code))
    ordered = {t: g[False] + g[True] for t, g in groups.items()}
    return ordered, params, data.labels


def _groups(an: dict[str, np.ndarray], rows: np.ndarray, with_total: bool
            ) -> Iterator[tuple[bool, float, str, np.ndarray]]:
    """(Total or not, visit, arm, the rows) of each group of one parameter's rows in the order the rows first show
    it: the arms' groups, then (with more than one arm) the Total column's, as a groupby of the rows once per arm
    and once under Total would."""
    visit_code, visits = pd.factorize(an["VISITNUM"][rows])
    arm_code, arms = pd.factorize(an["ARMCD"][rows])
    n_a = max(len(arms), 1)
    keyed = [(False, visit_code.astype(np.int64) * n_a + arm_code)]
    if with_total:
        keyed.append((True, visit_code.astype(np.int64)))
    for total, key in keyed:
        code, firsts = pd.factorize(key)
        order = np.argsort(code, kind="stable")
        bounds = np.searchsorted(code[order], np.arange(len(firsts) + 1))
        for g, k in enumerate(firsts):
            at = rows[order[bounds[g]:bounds[g + 1]]]
            arm = "Total" if total else str(arms[int(k) % n_a])
            visit = int(k) if total else int(k) // n_a
            yield total, float(visits[visit]), arm, at


def _test_order(testcd: str) -> str:
    order = list(vital_signs.tests())
    return f"{order.index(testcd):03d}" if testcd in order else f"999{testcd}"


VS_COLUMNS = ("USUBJID", "VSTESTCD", "VSPOS", "VSSTRESU", "VSSTRESN", "VSSTRESC", "VISITNUM", "VISIT", "VSDTC",
              "VSLOBXFL", "VSBLFL")

# one kept VS record as numbers: subject code, VSDTC code, VISITNUM, VSSTRESN, baseline flag
RECORD = np.dtype([("subj", "<i4"), ("dtc", "<i4"), ("vn", "<f8"), ("value", "<f8"), ("flag", "u1")])


class _Gathered:
    """VS reduced to codes, its records spilled by parameter (test, position, unit code); see _gather."""

    def __init__(self) -> None:
        self.subj, self.test, self.pos, self.unit, self.dtc, self.param = (Codes() for _ in range(6))
        self.spill = GroupedSpill(RECORD)
        self.counts: list[pd.Series] = []
        self.resc: list[pd.DataFrame] = []
        self.n = 0
        self.labels: dict[float, str] = {}

    def finish(self, pop: Population) -> None:
        """What every parameter shares: visit labels, the text ranks of subjects, dates and parameters, decimals."""
        self.labels = labels_of(self.counts)
        keys = np.array(list(self.param.index), dtype=np.int64)  # each parameter code's (test, pos, unit) codes
        self.texts = {"test": self.test.values(), "pos": self.pos.values(), "unit": self.unit.values()}
        self.parts = {"test": keys >> 42, "pos": (keys >> 21) & ((1 << 21) - 1), "unit": keys & ((1 << 21) - 1)}
        self.decimals = {k: t.decimals for k, t in vital_signs.tests().items()}
        self.dec = {int(p): decimals_of(g["c"]) for p, g in pd.concat(self.resc, ignore_index=True).groupby(
            "p", sort=False)}
        self.dtc_rank = text_ranks(self.dtc.values()).astype(np.int32)
        self.subject_rank = text_ranks(self.subj.values()).astype(np.int32)
        self.arm = pop.subjects.set_index("USUBJID")["ARMCD"].reindex(self.subj.values()).to_numpy(dtype=object)

    def table_order(self) -> list[int]:
        """Parameter codes in table order: VSTESTCD, VSPOS, VSSTRESU (as text)."""
        rank = {k: text_ranks(v) for k, v in self.texts.items()}
        parts = self.parts
        return np.lexsort((rank["unit"][parts["unit"]], rank["pos"][parts["pos"]],
                           rank["test"][parts["test"]])).tolist()

    def param_row(self, code: int) -> tuple[str, str, str, int]:
        """VSTESTCD, VSPOS, VSSTRESU and decimals of parameter `code`."""
        t, q, u = (int(self.parts[k][code]) for k in ("test", "pos", "unit"))
        name = self.texts["test"][t]
        return name, self.texts["pos"][q], self.texts["unit"][u], self.decimals.get(name, int(self.dec.get(code, 0)))

    def analysis(self, code: int, pop: Population) -> dict[str, np.ndarray] | None:
        """One row per subject and scheduled visit of parameter `code` (the last by VSDTC) with its change from
        baseline, as arrays (VISITNUM, ARMCD, value, change, after) in table order (VISITNUM, USUBJID as text);
        None when the parameter has no scheduled visit."""
        rec = self.spill.get(code)
        subj, vn = rec["subj"], rec["vn"]
        dtc_rank = self.dtc_rank[rec["dtc"]]
        # baseline: per subject the flagged record with the last VSDTC (then the later row: lexsort is stable and
        # the records are in file order)
        b = np.flatnonzero(rec["flag"])
        b = b[np.lexsort((dtc_rank[b], subj[b]))]
        kb = subj[b]
        b = b[np.r_[kb[1:] != kb[:-1], True]] if len(b) else b
        base_subj, base_value, base_visit = subj[b], rec["value"][b], vn[b]
        # scheduled visits (whole VISITNUM): per subject and visit the record with the last VSDTC
        with np.errstate(invalid="ignore"):
            s = np.flatnonzero(~np.isnan(vn) & (vn % 1 == 0))
        if not len(s):
            return None
        s = s[np.lexsort((dtc_rank[s], vn[s], subj[s]))]
        del dtc_rank  # (the temporaries of one parameter's records are what this stage's memory peaks on)
        ks, vs_ = subj[s], vn[s]
        s = s[np.r_[(ks[1:] != ks[:-1]) | (vs_[1:] != vs_[:-1]), True]]
        del vs_
        ks = subj[s]
        s = s[np.lexsort((self.subject_rank[ks], vn[s]))]  # table order: VISITNUM, then USUBJID as text
        ks = subj[s]
        last = max(len(b) - 1, 0)
        at = np.minimum(np.searchsorted(base_subj, ks), last)
        found = base_subj[at] == ks if len(b) else np.zeros(len(ks), dtype=bool)
        base = np.where(found, base_value[at], np.nan) if len(b) else np.full(len(ks), np.nan)
        bvisit = np.where(found, base_visit[at], np.nan) if len(b) else np.full(len(ks), np.nan)
        del at, found
        value, visit = rec["value"][s], vn[s]
        with np.errstate(invalid="ignore"):
            return {"VISITNUM": visit, "ARMCD": self.arm[ks], "value": value, "change": value - base,
                    "after": visit > bvisit}


def _gather(study: Study, pop: Population) -> _Gathered | None:
    """VS read a range of rows at a time and reduced to codes (subject, parameter, VSDTC), its records spilled by
    parameter, so that 9M VS rows take one parameter's numbers in memory; text is ordered by the rank of each
    code's text, which orders rows as the text does. None without numeric VS results."""
    rows = rows_of(study, "VS")
    if rows is None or not len(rows) or "VSSTRESN" not in rows.columns or "VSTESTCD" not in rows.columns:
        return None
    if "VISITNUM" not in rows.columns:
        return None
    g = _Gathered()
    try:
        _fill(g, rows, pop)
    except BaseException:
        g.spill.close()
        raise
    if not g.n:
        g.spill.close()
        return None
    return g


def _fill(g: _Gathered, rows: DatasetRows, pop: Population) -> None:
    inside = pd.Index(pop.subjects["USUBJID"])
    flag_col = next((c for c in ("VSLOBXFL", "VSBLFL") if c in rows.columns), None)
    for chunk in rows.chunks(VS_COLUMNS):
        value = num_col(chunk, "VSSTRESN")
        keep = chunk["USUBJID"].isin(inside).to_numpy() & value.notna().to_numpy()
        chunk, value = chunk[keep], value[keep]
        t, p, u = (_codes_of(c, chunk, k) for c, k in ((g.test, "VSTESTCD"), (g.pos, "VSPOS"), (g.unit, "VSSTRESU")))
        pk = g.param.add(t << 42 | p << 21 | u)
        rec = np.empty(len(chunk), dtype=RECORD)
        rec["subj"] = g.subj.add(chunk["USUBJID"])
        rec["dtc"] = _codes_of(g.dtc, chunk, "VSDTC")
        rec["vn"] = num_col(chunk, "VISITNUM").to_numpy()
        rec["value"] = value.to_numpy(dtype="float64")
        rec["flag"] = (text_col(chunk, flag_col).fillna("").eq("Y").to_numpy() if flag_col
                       else np.zeros(len(chunk), dtype=bool))
        g.spill.add(pk, rec)
        g.n += len(chunk)
        g.counts.append(visit_counts(chunk.assign(VISIT=text_col(chunk, "VISIT").fillna(""))))
        g.resc.append(pd.DataFrame({"p": pk, "c": text_col(chunk, "VSSTRESC").fillna("").to_numpy()})
                      .drop_duplicates())
    if g.n:
        g.finish(pop)


def _codes_of(codes: Codes, chunk: pd.DataFrame, name: str) -> np.ndarray:
    return codes.add(text_col(chunk, name).fillna("").to_numpy(dtype=object))
