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
from msc_interop.summary.dataset_rows import Codes, rows_of

TITLES = {"vs_stats": "Vital signs by visit", "vs_change": "Vital signs: change from baseline by visit"}


def summarize_vital_signs(study: Study, pop: Population, sec: Section) -> None:
    """Add vs_stats and vs_change (and their ARD rows) when the study has VS with numeric results."""
    data = _analysis(study, pop)
    if data is None:
        return
    an, params, labels = data
    notes = [f"Values are VSSTRESN in standard units (VSSTRESU); one row per parameter, visit and treatment column "
             f"({'arms and Total' if pop.with_total else 'one arm'}). Mean and median carry one decimal more than "
             "the data, SD two more.",
             "Baseline: the record flagged VSLOBXFL (or VSBLFL) = Y per subject and parameter; change from baseline "
             "at the scheduled visits (whole VISITNUM) after it. A subject contributes one value per visit (the "
             "last by VSDTC)."]
    for table, column, variable in (("vs_stats", "value", "AVAL"), ("vs_change", "change", "CHG")):
        rows = []
        x_all = an[column]
        used = ~np.isnan(x_all) & (an["after"] if column == "change" else True)
        for p, visit, arm, at in _groups(an, np.flatnonzero(used), pop.with_total):
            x = x_all[at]
            mean, sd = exact_mean_sd(x)
            testcd, pos, unit, dec = params[p]
            stats = {"N": len(x), "mean": mean, "sd": sd, "median": float(np.median(x)), "min": float(x.min()),
                     "max": float(x.max())}
            ref = sec.ard.add(table, pop.label(arm), variable, None, stats, context="continuous",
                              groups=(("PARAMCD", testcd + (f" {pos}" if pos else "")), ("AVISIT", labels[visit])))
            rows.append({"_order": (_test_order(testcd), pos, unit, visit, pop.columns().index(arm)),
                         "Test code": testcd, "Position": pos, "Unit": unit, "Visit": labels[visit],
                         "Treatment": pop.header(arm), "n": cell(ref, "int", stat="N"),
                         "Mean (SD)": cell(ref, "mean_sd", dec), "Median": cell(ref, "median", dec),
                         "Min, Max": cell(ref, "min_max", dec)})
        rows.sort(key=lambda r: r["_order"])
        sec.add(table, TITLES[table], pd.DataFrame(rows).drop(columns="_order", errors="ignore"), notes)


def _groups(an: dict[str, np.ndarray], rows: np.ndarray, with_total: bool
            ) -> Iterator[tuple[int, float, str, np.ndarray]]:
    """(parameter, visit, arm, the rows) of each group in the order the rows first show it: the arms' groups, then
    (with more than one arm) the Total column's, as a groupby of the rows once per arm and once under Total would."""
    visit_code, visits = pd.factorize(an["VISITNUM"][rows])
    arm_code, arms = pd.factorize(an["ARMCD"][rows])
    param = an["param"][rows].astype(np.int64)
    n_v, n_a = max(len(visits), 1), max(len(arms), 1)
    keyed = [("arm", (param * n_v + visit_code) * n_a + arm_code)]
    if with_total:
        keyed.append(("Total", param * n_v + visit_code))
    for arm_of, key in keyed:
        code, firsts = pd.factorize(key)
        order = np.argsort(code, kind="stable")
        bounds = np.searchsorted(code[order], np.arange(len(firsts) + 1))
        for g, k in enumerate(firsts):
            at = rows[order[bounds[g]:bounds[g + 1]]]
            arm = str(arms[int(k) % n_a]) if arm_of == "arm" else "Total"
            k = int(k) // n_a if arm_of == "arm" else int(k)
            yield k // n_v, float(visits[k % n_v]), arm, at


def _test_order(testcd: str) -> str:
    order = list(vital_signs.tests())
    return f"{order.index(testcd):03d}" if testcd in order else f"999{testcd}"


VS_COLUMNS = ("USUBJID", "VSTESTCD", "VSPOS", "VSSTRESU", "VSSTRESN", "VSSTRESC", "VISITNUM", "VISIT", "VSDTC",
              "VSLOBXFL", "VSBLFL")


def _analysis(study: Study, pop: Population) -> tuple[dict[str, np.ndarray], list[tuple], dict[float, str]] | None:
    """One row per subject, parameter and scheduled visit (the last by VSDTC) with its change from baseline, as
    arrays (param, VISITNUM, ARMCD, value, change, after) in table order; `param` indexes the parameter list
    (VSTESTCD, VSPOS, VSSTRESU, decimals).

    VS is read a range of rows at a time and reduced to codes (subject, parameter, VSDTC), so that 9M VS rows take
    their numbers' memory; text is ordered by the rank of each code's text, which orders rows as the text does."""
    rows = rows_of(study, "VS")
    if rows is None or not len(rows) or "VSSTRESN" not in rows.columns or "VSTESTCD" not in rows.columns:
        return None
    if "VISITNUM" not in rows.columns:
        return None
    subj, test, pos, unit, dtc, param = Codes(), Codes(), Codes(), Codes(), Codes(), Codes()
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("subj", "param", "dtc", "vn", "value", "flag")}
    counts, resc = [], []
    inside = pd.Index(pop.subjects["USUBJID"])
    flag_col = next((c for c in ("VSLOBXFL", "VSBLFL") if c in rows.columns), None)
    for chunk in rows.chunks(VS_COLUMNS):
        value = num_col(chunk, "VSSTRESN")
        keep = chunk["USUBJID"].isin(inside).to_numpy() & value.notna().to_numpy()
        chunk, value = chunk[keep], value[keep]
        t, p, u = (_codes_of(c, chunk, k) for c, k in ((test, "VSTESTCD"), (pos, "VSPOS"), (unit, "VSSTRESU")))
        pk = param.add(t << 42 | p << 21 | u).astype(np.int32)
        cols["subj"].append(subj.add(chunk["USUBJID"]).astype(np.int32))
        cols["param"].append(pk)
        cols["dtc"].append(_codes_of(dtc, chunk, "VSDTC").astype(np.int32))
        cols["vn"].append(num_col(chunk, "VISITNUM").to_numpy())
        cols["value"].append(value.to_numpy(dtype="float64"))
        cols["flag"].append(text_col(chunk, flag_col).fillna("").eq("Y").to_numpy() if flag_col
                            else np.zeros(len(chunk), dtype=bool))
        counts.append(visit_counts(chunk.assign(VISIT=text_col(chunk, "VISIT").fillna(""))))
        resc.append(pd.DataFrame({"p": pk, "c": text_col(chunk, "VSSTRESC").fillna("").to_numpy()}).drop_duplicates())
    a = {k: np.concatenate(v) for k, v in cols.items()}
    del cols
    if not len(a["value"]):
        return None
    labels = labels_of(counts)
    keys = np.array(list(param.index), dtype=np.int64)  # each parameter code's (test, pos, unit) codes
    texts = {"test": test.values(), "pos": pos.values(), "unit": unit.values()}
    parts = {"test": keys >> 42, "pos": (keys >> 21) & ((1 << 21) - 1), "unit": keys & ((1 << 21) - 1)}
    decimals = {k: t.decimals for k, t in vital_signs.tests().items()}
    dec = {int(p): decimals_of(g["c"]) for p, g in pd.concat(resc, ignore_index=True).groupby("p", sort=False)}
    dtc_rank = _ranks(dtc.values()).astype(np.int32)[a.pop("dtc")]
    key = a["subj"].astype(np.int64) * len(keys) + a["param"]
    vn, value = a["vn"], a["value"]
    # baseline: per subject and parameter the flagged record with the last VSDTC (then the later row: lexsort is
    # stable and the rows are in file order)
    b = np.flatnonzero(a.pop("flag"))
    b = b[np.lexsort((dtc_rank[b], key[b]))]
    kb = key[b]
    b = b[np.r_[kb[1:] != kb[:-1], True]] if len(b) else b
    base_key, base_value, base_visit = key[b], value[b], vn[b]
    del kb
    # scheduled visits (whole VISITNUM): per subject, parameter and visit the record with the last VSDTC
    with np.errstate(invalid="ignore"):
        s = np.flatnonzero(~np.isnan(vn) & (vn % 1 == 0))
    s = s[np.lexsort((dtc_rank[s], vn[s], key[s]))]
    del dtc_rank
    if len(s):
        ks, vs_ = key[s], vn[s]
        s = s[np.r_[(ks[1:] != ks[:-1]) | (vs_[1:] != vs_[:-1]), True]]
        del ks, vs_
    ks = key[s]
    del key
    at = np.searchsorted(base_key, ks)
    found = at < len(base_key)
    found[found] = base_key[at[found]] == ks[found]
    del ks
    base = np.where(found, base_value[np.minimum(at, max(len(b) - 1, 0))] if len(b) else np.nan, np.nan)
    bvisit = np.where(found, base_visit[np.minimum(at, max(len(b) - 1, 0))] if len(b) else np.nan, np.nan)
    del at, found
    # table order: VSTESTCD, VSPOS, VSSTRESU (one rank per parameter), VISITNUM, USUBJID (as text)
    rank = {k: _ranks(v) for k, v in texts.items()}
    by_text = np.lexsort((rank["unit"][parts["unit"]], rank["pos"][parts["pos"]], rank["test"][parts["test"]]))
    param_rank = np.empty(len(keys), dtype=np.int32)
    param_rank[by_text] = np.arange(len(keys), dtype=np.int32)
    subject_rank = _ranks(subj.values()).astype(np.int32)
    order = np.lexsort((subject_rank[a["subj"][s]], vn[s], param_rank[a["param"][s]]))
    s, base, bvisit = s[order], base[order], bvisit[order]
    del order
    code, firsts = pd.factorize(a["param"][s])
    params = []
    for p in firsts:
        t, q, u = (int(parts[k][p]) for k in ("test", "pos", "unit"))
        name = texts["test"][t]
        params.append((name, texts["pos"][q], texts["unit"][u], decimals.get(name, int(dec.get(int(p), 0)))))
    arm = pop.subjects.set_index("USUBJID")["ARMCD"].reindex(subj.values()).to_numpy(dtype=object)
    with np.errstate(invalid="ignore"):
        out = {"param": code.astype(np.int32), "VISITNUM": vn[s], "ARMCD": arm[a["subj"][s]], "value": value[s],
               "change": value[s] - base, "after": vn[s] > bvisit}
    return out, params, labels


def _codes_of(codes: Codes, chunk: pd.DataFrame, name: str) -> np.ndarray:
    return codes.add(text_col(chunk, name).fillna("").to_numpy(dtype=object))


def _ranks(values: np.ndarray) -> np.ndarray:
    """Each code's place when its text is sorted (equal text, equal rank: codes are of distinct values)."""
    rank = np.empty(len(values), dtype=np.int64)
    rank[np.argsort(values.astype(str), kind="stable")] = np.arange(len(values))
    return rank


def _flag(vs: pd.DataFrame) -> pd.Series:
    for name in ("VSLOBXFL", "VSBLFL"):
        if name in vs.columns:
            return text_col(vs, name).fillna("").eq("Y")
    return pd.Series(False, index=vs.index)
