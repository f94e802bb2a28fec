"""What the lab data lacks or repeats (non-numeric or absent results, partial dates, unscheduled or repeated
visits, no baseline): a footnote on the table concerned and a row of the data-issues table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_interop.summary._common import Section, visitnum_text
from msc_interop.summary.dataset_rows import DatasetRows
from msc_interop.summary.lab_data import LabData


def record_issues(d: LabData, lb: DatasetRows, sec: Section) -> None:
    """Footnotes and data issues of the LB tables (every record accounted for)."""
    a = d.a
    numeric_param = d.params["numeric"].to_numpy()[a["param"].to_numpy()]
    nonnum = numeric_param & np.isnan(a["value"].to_numpy()) & d.has_text
    if nonnum.any():
        rows = lb.take(d.rows_at(np.flatnonzero(nonnum)), ("USUBJID", "LBTESTCD", "VISIT", "VISITNUM", "LBSTRESC",
                                                          "LBNRIND"))
        rows = rows.sort_values(["USUBJID", "LBTESTCD", "VISITNUM"], kind="stable")
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
    no_result = numeric_param & np.isnan(a["value"].to_numpy()) & ~d.has_text
    if no_result.any():
        k = int(no_result.sum())
        sec.note("lab_stats", f"{k} LB record(s) carry no result (LBSTRESC empty, e.g. not done).")
        sec.issue("LB record without a result", "LB", k, int(a.loc[no_result, "subj"].nunique()), "",
                  "excluded from statistics")
    if d.n_partial:
        rows = pd.concat(d.partial, ignore_index=True).drop_duplicates().sort_values(
            ["USUBJID", "LBDTC", "VISIT"], kind="stable")
        detail = "; ".join(f"{r.USUBJID} {r.VISIT}: {r.LBDTC}" for r in rows.head(10).itertuples())
        text = (f"{d.n_partial} LB record(s) of {rows['USUBJID'].nunique()} subject(s) have a partial "
                f"collection date ({detail}): no study day is derived (SDTMIG 4.4.4); they are summarised "
                "by their VISITNUM.")
        sec.note("lab_stats", text)
        sec.issue("Partial LBDTC", "LB", d.n_partial, rows["USUBJID"].nunique(), detail,
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
        without = d.base_at[d.keys()] < 0
        sec.issue("No baseline value", "LB", k, int(a.loc[without, "subj"].nunique()),
                  f"{k} subject-test combinations", "no change from baseline; shift baseline 'Missing'")


def _missing_results(d: LabData, sec: Section) -> None:
    """Results absent from a visit where the subject has other LB results and other subjects have this test."""
    a = d.a
    sched = a["sched"].to_numpy()
    if not sched.any():
        return
    subj, param, vn = a["subj"].to_numpy(), a["param"].to_numpy(), a["vn"].to_numpy()
    n_params = max(1, len(d.params))
    gaps = []  # per scheduled visit: the subjects with a result there, and how many of its tests each lacks
    for v in np.unique(vn[sched]).tolist():
        at = np.flatnonzero(sched & (vn == v))
        present = np.unique(subj[at].astype(np.int64) * n_params + param[at])  # subject-tests with a result
        tests = len(np.unique(present % n_params))
        subjects, k = np.unique(present // n_params, return_counts=True)
        gaps.append((v, subjects[k < tests], tests - k[k < tests]))
    total = int(sum(int(g.sum()) for _, _, g in gaps))
    if total == 0:
        return
    incomplete = sorted(((int(s), v) for v, ss, _ in gaps for s in ss.tolist()),
                        key=lambda sv: (str(d.subjects[sv[0]]), sv[1]))
    detail_rows = []
    for s, v in incomplete[:10]:
        at_v = sched & (vn == v)
        have = set(param[at_v & (subj == s)].tolist())
        want = set(param[at_v].tolist())
        for p in sorted(want - have):
            detail_rows.append(f"{d.subjects[s]} {d.visit_label.get(v, visitnum_text(v))} {d.params.at[p, 'LBTESTCD']}")
    detail = "; ".join(detail_rows[:10]) + (f"; and {total - 10} more" if total > 10 else "")
    text = (f"{total} expected result(s) are absent (a test done for other subjects at a visit where the subject has "
            f"other results): {detail}. Statistics use the results present (n shows the count).")
    sec.note("lab_stats", text)
    sec.issue("Missing lab result at a visit", "LB", total, len({s for s, _ in incomplete}), detail,
              "not imputed; n counts the results present")
