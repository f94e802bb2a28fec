"""What the lab data lacks or repeats (non-numeric or absent results, partial dates, unscheduled or repeated
visits, no baseline): a footnote on the table concerned and a row of the data-issues table. Counted one parameter
at a time (LabTally), reported once (record_issues)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_interop.summary._common import Section, visitnum_text
from msc_interop.summary.dataset_rows import DatasetRows
from msc_interop.summary.lab_data import N_LOW, LabData, LabParam


class _Subjects:
    """A count of records and the subjects (codes) they belong to."""

    def __init__(self, n_subj: int) -> None:
        self.records = 0
        self.seen = np.zeros(n_subj, dtype=bool)

    def add(self, subj: np.ndarray) -> None:
        self.records += len(subj)
        self.seen[subj] = True

    @property
    def subjects(self) -> int:
        return int(np.count_nonzero(self.seen))


class LabTally:
    """What the issues, the footnotes and the "At a glance" facts need of every record, added one parameter at a
    time (memory: a few flags per subject, the records listed, per scheduled visit a count per subject)."""

    def __init__(self, d: LabData) -> None:
        n = len(d.subjects)
        self.n_params = len(d.params)
        self.all = _Subjects(n)  # every kept record
        self.no_result, self.no_visitnum, self.unscheduled = _Subjects(n), _Subjects(n), _Subjects(n)
        self.pre_not_base, self.no_baseline, self.repeated = _Subjects(n), _Subjects(n), _Subjects(n)
        self.no_baseline_keys = 0
        self.nonnum_rows: list[np.ndarray] = []  # LB rows of numeric tests' results that are not numbers
        self.base_out: list[pd.DataFrame] = []  # baseline records outside the range: subj, param, nr
        self.post_outside: dict[int, int] = {}  # post-baseline results outside the range, per parameter
        self.classified_post = 0
        self.at_visit: dict[float, np.ndarray] = {}  # scheduled visit -> tests each subject has a result of
        self.tests_at: dict[float, int] = {}  # scheduled visit -> tests with a result there

    def add(self, d: LabData, lp: LabParam, repeated: np.ndarray) -> None:
        a = lp.a
        subj, vn, value, nr = (a[c].to_numpy() for c in ("subj", "vn", "value", "nr"))
        post, is_base, sched = a["post"].to_numpy(), a["is_base"].to_numpy(), a["sched"].to_numpy()
        self.all.add(subj)
        if d.params.at[lp.p, "numeric"]:
            missing = np.isnan(value)
            self.nonnum_rows.append(a["row"].to_numpy()[missing & lp.has_text])
            self.no_result.add(subj[missing & ~lp.has_text])
        no_vn = np.isnan(vn)
        self.no_visitnum.add(subj[no_vn])
        self.unscheduled.add(subj[~no_vn & ~sched])
        self.pre_not_base.add(subj[~post & ~is_base & ~no_vn])
        self.no_baseline.add(subj[lp.base_at[subj] < 0])
        self.no_baseline_keys += int(np.count_nonzero(np.bincount(subj))) - len(lp.base)
        self.repeated.add(repeated)
        out = is_base & (nr >= N_LOW)
        if out.any():
            self.base_out.append(pd.DataFrame({"subj": subj[out], "param": lp.p, "nr": nr[out]}))
        classified = post & (nr > 0)
        self.classified_post += int(np.count_nonzero(classified))
        k = int(np.count_nonzero(classified & (nr >= N_LOW)))
        if k:
            self.post_outside[lp.p] = k
        dtype = np.uint16 if self.n_params < (1 << 16) else np.int64
        for v in np.unique(vn[sched]).tolist():
            count = self.at_visit.setdefault(v, np.zeros(len(d.subjects), dtype=dtype))
            count[np.unique(subj[sched & (vn == v)])] += 1
            self.tests_at[v] = self.tests_at.get(v, 0) + 1


def record_issues(d: LabData, t: LabTally, lb: DatasetRows, sec: Section) -> None:
    """Footnotes and data issues of the LB tables (every record accounted for)."""
    nonnum = np.sort(np.concatenate(t.nonnum_rows)) if t.nonnum_rows else np.zeros(0, dtype=np.int64)
    if len(nonnum):
        rows = lb.take(nonnum, ("USUBJID", "LBTESTCD", "VISIT", "VISITNUM", "LBSTRESC", "LBNRIND"))
        rows = rows.sort_values(["USUBJID", "LBTESTCD", "VISITNUM"], kind="stable")
        detail = "; ".join(f"{r.USUBJID} {r.LBTESTCD} {r.VISIT}: '{r.LBSTRESC}' ({r.LBNRIND or 'no LBNRIND'})"
                           for r in rows.head(10).itertuples())
        if len(rows) > 10:
            detail += f"; and {len(rows) - 10} more"
        text = (f"{len(rows)} result(s) of numeric tests are not numbers (LBSTRESN empty): {detail}. They are left out "
                "of means, medians and changes; their LBNRIND counts in the range and shift tables.")
        for name in ("lab_stats", "lab_change", "lab_range"):
            sec.note(name, text)
        sec.issue("Non-numeric result (e.g. below the limit of quantitation)", "LB", len(rows),
                  rows["USUBJID"].nunique(), detail, "excluded from statistics; LBNRIND kept")
    if t.no_result.records:
        k = t.no_result.records
        sec.note("lab_stats", f"{k} LB record(s) carry no result (LBSTRESC empty, e.g. not done).")
        sec.issue("LB record without a result", "LB", k, t.no_result.subjects, "", "excluded from statistics")
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
    _missing_results(d, t, sec)
    if t.no_visitnum.records:
        k = t.no_visitnum.records
        sec.note("lab_stats", f"{k} LB record(s) have no VISITNUM: in the abnormal listing only.")
        sec.issue("LB record without VISITNUM", "LB", k, t.no_visitnum.subjects, "", "listing only")
    if t.unscheduled.records:
        k = t.unscheduled.records
        sec.note("lab_stats", f"{k} LB record(s) at unscheduled visits (decimal VISITNUM) are not in the by-visit "
                              "tables; post-baseline ones count in the shift table and the listing.")
        sec.issue("LB record at an unscheduled visit", "LB", k, t.unscheduled.subjects, "",
                  "shift table and listing only")
    if t.pre_not_base.records:
        k = t.pre_not_base.records
        sec.note("lab_stats", f"{k} LB record(s) before or at the baseline visit that are not the baseline record "
                              "(e.g. screening repeats) are not summarised.")
        sec.issue("Pre-baseline record other than the baseline", "LB", k, t.pre_not_base.subjects, "",
                  "not summarised")
    if t.repeated.records:
        k = t.repeated.records
        sec.note("lab_stats", f"{k} repeated record(s) of a test at the same visit: the one with the highest LBSEQ "
                              "is summarised.")
        sec.issue("Repeated result at a visit", "LB", k, t.repeated.subjects, "", "highest LBSEQ used")
    if d.counts["baseline_duplicates"]:
        k = d.counts["baseline_duplicates"]
        sec.note("lab_change", f"{k} extra baseline candidate record(s): the highest LBSEQ is the baseline.")
    if t.no_baseline_keys:
        k = t.no_baseline_keys
        sec.note("lab_change", f"{k} subject-test combination(s) have no baseline value: no change from baseline; "
                               "baseline 'Missing' in the shift table.")
        sec.issue("No baseline value", "LB", k, t.no_baseline.subjects, f"{k} subject-test combinations",
                  "no change from baseline; shift baseline 'Missing'")


def _missing_results(d: LabData, t: LabTally, sec: Section) -> None:
    """Results absent from a visit where the subject has other LB results and other subjects have this test."""
    gaps = []  # per scheduled visit: the subjects with a result there, and how many of its tests each lacks
    for v in sorted(t.at_visit):
        count = t.at_visit[v]
        subjects = np.flatnonzero(count)
        k = count[subjects].astype(np.int64)
        lacking = k < t.tests_at[v]
        gaps.append((v, subjects[lacking], t.tests_at[v] - k[lacking]))
    total = int(sum(int(g.sum()) for _, _, g in gaps))
    if total == 0:
        return
    incomplete = sorted(((int(s), v) for v, ss, _ in gaps for s in ss.tolist()),
                        key=lambda sv: (str(d.subjects[sv[0]]), sv[1]))
    detail_rows = []
    lacking = _tests_lacking(d, incomplete[:10])
    for s, v in incomplete[:10]:
        for p in lacking[(s, v)]:
            detail_rows.append(f"{d.subjects[s]} {d.visit_label.get(v, visitnum_text(v))} {d.params.at[p, 'LBTESTCD']}")
    detail = "; ".join(detail_rows[:10]) + (f"; and {total - 10} more" if total > 10 else "")
    text = (f"{total} expected result(s) are absent (a test done for other subjects at a visit where the subject has "
            f"other results): {detail}. Statistics use the results present (n shows the count).")
    sec.note("lab_stats", text)
    sec.issue("Missing lab result at a visit", "LB", total, len({s for s, _ in incomplete}), detail,
              "not imputed; n counts the results present")


def _tests_lacking(d: LabData, pairs: list[tuple[int, float]]) -> dict[tuple[int, float], list[int]]:
    """Per (subject code, scheduled visit) of `pairs`: the parameters with a result at the visit that the subject
    has none of (one pass over the spilled records, for the few subject-visits the detail names)."""
    lacking: dict[tuple[int, float], list[int]] = {sv: [] for sv in pairs}
    for p in range(len(d.params)):
        rec = d.records(p)
        vn, subj = rec["vn"], rec["subj"]
        for s, v in pairs:
            at_v = vn == v
            if at_v.any() and not (at_v & (subj == s)).any():
                lacking[(s, v)].append(p)
    return lacking
