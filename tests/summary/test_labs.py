"""Lab summary rules on small hand-made studies: baseline choice, derived range flags, unscheduled and repeated
visits, the signed-rank test, and studies missing whole datasets."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from msc_interop.sdtm.reference_range import reference_indicator
from msc_interop.study import Study, StudyMeta
from msc_interop.summary import Options, _build, compute_tables
from msc_interop.summary.lab_stats import signed_rank_test

from .conftest import cell


def _study(lb_rows: list[tuple], dm_subjects=("S1", "S2", "S3")) -> Study:
    """LB rows: (USUBJID, LBTESTCD, VISITNUM, VISIT, LBSTRESN or text, LBNRIND, LBLOBXFL, LBDY)."""
    lb = pd.DataFrame(lb_rows, columns=["USUBJID", "LBTESTCD", "VISITNUM", "VISIT", "RES", "LBNRIND", "LBLOBXFL",
                                        "LBDY"])
    lb["STUDYID"], lb["DOMAIN"] = "T", "LB"
    lb["LBSEQ"] = lb.groupby("USUBJID").cumcount() + 1
    lb["LBTEST"] = lb["LBTESTCD"].map({"WBC": "Leukocytes", "XYZ": "Made-up test"})
    lb["LBCAT"] = "HEMATOLOGY"
    lb["LBSTRESC"] = lb.pop("RES").astype(str)
    lb["LBSTRESN"] = pd.to_numeric(lb["LBSTRESC"], errors="coerce")
    lb["LBSTRESU"] = "10^9/L"
    lb["LBSTNRLO"], lb["LBSTNRHI"] = 3.5, 9.5
    lb["LBDTC"] = ""
    dm = pd.DataFrame({"STUDYID": "T", "DOMAIN": "DM", "USUBJID": list(dm_subjects), "SUBJID": list(dm_subjects),
                       "SEX": "F", "AGE": 40, "ARMCD": "A", "ARM": "Arm A", "COUNTRY": "CHN"})
    return Study(StudyMeta(studyid="T"), {"LB": lb, "DM": dm})


def test_first_visit_is_baseline_without_flag_and_range_is_derived_when_nrind_empty():
    rows = [(s, "WBC", v, f"V{int(v)}", x, "", "", dy) for s, v, x, dy in [
        ("S1", 1, 5.0, -1), ("S1", 2, 10.0, 30), ("S2", 1, 3.0, -1), ("S2", 2, 4.0, 30),
        ("S3", 1, 6.0, -2), ("S3", 2, 6.0, 29)]]
    t = compute_tables(_study(rows))
    stats = t["lab_stats"]
    assert stats["Visit"].tolist() == ["Baseline", "V2"]
    assert cell(stats, {"Visit": "Baseline"}, "Mean (SD)").startswith("4.667 (")  # (5 + 3 + 6) / 3
    rng = t["lab_range"]
    # LBNRIND empty: 3.0 < 3.5 -> LOW at baseline; 10.0 > 9.5 -> HIGH at V2
    assert cell(rng, {"Visit": "Baseline"}, "Below range (LOW) n (%)") == "1 (33.3%)"
    assert cell(rng, {"Visit": "V2"}, "Above range (HIGH) n (%)") == "1 (33.3%)"
    listing = t["lab_abnormal_listing"]
    assert listing["Derived"].tolist() == ["Y", "Y"]
    shift = t["lab_shift"]
    assert cell(shift, {"Baseline": "NORMAL"}, "Worst post-baseline HIGH") == 1
    assert cell(shift, {"Baseline": "LOW"}, "Worst post-baseline NORMAL") == 1
    change = t["lab_change"]
    assert cell(change, {"Visit": "V2"}, "Method").startswith("not tested: 2 non-zero")


def test_empty_lbnrind_is_derived_as_the_builders_derive_it():
    """Limits inclusive, one-sided ranges classified, a "<2" result (no LBSTRESN) left unclassified."""
    rows = [(s, "WBC", v, f"V{v}", x, "", "Y" if v == 1 else "", v * 10 - 15) for s, v, x in [
        ("S1", 1, 3.5), ("S1", 2, 9.5), ("S2", 1, 3.4), ("S2", 2, 9.6), ("S3", 1, 5.0), ("S3", 2, "<2"),
        ("S4", 1, 1.0), ("S4", 2, 20.0)]]
    study = _study(rows, dm_subjects=("S1", "S2", "S3", "S4"))
    lb = study["LB"]
    lb.loc[lb["USUBJID"].eq("S4"), "LBSTNRLO"] = np.nan  # only an upper limit: 1.0 NORMAL, 20.0 HIGH
    expected = reference_indicator(lb["LBSTRESN"], pd.Series("", index=lb.index), lb["LBSTNRLO"], lb["LBSTNRHI"])
    assert expected.tolist() == ["NORMAL", "NORMAL", "LOW", "HIGH", "NORMAL", "", "NORMAL", "HIGH"]
    s = _build(study, Options())
    listing = s.tables["lab_abnormal_listing"]
    assert listing[["Subject", "Visit", "Indicator", "Derived"]].values.tolist() == [
        ["S2", "V1", "LOW", "Y"], ["S2", "V2", "HIGH", "Y"], ["S4", "V2", "HIGH", "Y"]]
    rng = s.tables["lab_range"]
    assert cell(rng, {"Visit": "Baseline"}, "n") == 4 and cell(rng, {"Visit": "V2"}, "n") == 3
    assert any(n.startswith("7 result(s) had no LBNRIND") for n in s.footnotes["lab_range"])


def test_unscheduled_repeat_and_missing_visitnum_are_counted():
    rows = [
        ("S1", "WBC", 1, "V1", 5.0, "NORMAL", "Y", -1), ("S1", "WBC", 2, "V2", 6.0, "NORMAL", "", 30),
        ("S1", "WBC", 2, "V2", 6.5, "NORMAL", "", 31),  # repeat at V2: the later LBSEQ counts
        ("S1", "WBC", 2.1, "V2 UNSCHEDULED", 12.0, "HIGH", "", 40),  # unscheduled: shift and listing only
        ("S1", "WBC", np.nan, "", 7.0, "NORMAL", "", 50),  # no VISITNUM
        ("S2", "WBC", 1, "V1", 5.5, "NORMAL", "Y", -1), ("S2", "WBC", 2, "V2", 5.0, "NORMAL", "", 30),
    ]
    t = compute_tables(_study(rows, dm_subjects=("S1", "S2")))
    stats = t["lab_stats"]
    assert cell(stats, {"Visit": "V2"}, "n") == 2
    assert cell(stats, {"Visit": "V2"}, "Mean (SD)").startswith("5.750 (")  # (6.5 + 5.0) / 2
    assert "UNSCHEDULED" not in " ".join(stats["Visit"])
    shift = t["lab_shift"]
    assert cell(shift, {"Baseline": "NORMAL"}, "Worst post-baseline HIGH") == 1  # from the unscheduled visit
    listing = t["lab_abnormal_listing"]
    assert listing[["Visit", "Post-baseline"]].values.tolist() == [["V2 UNSCHEDULED", "Y"]]
    issues = t["data_issues"].set_index("Issue")
    assert issues.loc["LB record at an unscheduled visit", "Records"] == 1
    assert issues.loc["LB record without VISITNUM", "Records"] == 1
    assert issues.loc["Repeated result at a visit", "Records"] == 1


def test_studies_without_ae_ex_or_lb_still_summarise():
    rows = [("S1", "WBC", 1, "V1", 5.0, "NORMAL", "Y", -1)]
    study = _study(rows, dm_subjects=("S1",))
    t = compute_tables(study)
    # no EX: no infusion section (is_infusion needs EX route INTRAVENOUS with times)
    assert t["ae_listing"].empty and "ae_infusion" not in t and t["exposure_listing"].empty
    assert cell(t["ae_overview"], {"Category": "Any TEAE"}, "Arm A (N=1) n (%)") == "0"
    no_lb = Study(StudyMeta(studyid="T"), {"DM": study["DM"]})
    t = compute_tables(no_lb)
    assert t["lab_stats"].empty and t["lab_shift"].empty


def test_character_only_tests_count_in_range_tables_not_in_statistics():
    rows = [(s, "XYZ", v, f"V{v}", txt, nr, "Y" if v == 1 else "", v * 10 - 15) for s, v, txt, nr in [
        ("S1", 1, "NEGATIVE", "NORMAL"), ("S1", 2, "POSITIVE", "ABNORMAL"), ("S2", 1, "NEGATIVE", "NORMAL"),
        ("S2", 2, "NEGATIVE", "NORMAL")]]
    t = compute_tables(_study(rows, dm_subjects=("S1", "S2")))
    assert t["lab_stats"].empty
    assert cell(t["lab_range"], {"Visit": "V2"}, "ABNORMAL n (%)") == "1 (50.0%)"
    assert cell(t["lab_shift"], {"Baseline": "NORMAL"}, "Worst post-baseline ABNORMAL") == 1


def _brute_force_p(d: list[float]) -> float:
    """Two-sided exact signed-rank p by enumerating all sign patterns of the midranks of |d| (zeros dropped)."""
    d = [x for x in d if x != 0]
    mags = sorted(abs(x) for x in d)
    rank = {m: (2 * mags.index(m) + mags.count(m) + 1) / 2 for m in mags}  # midrank
    r = [rank[abs(x)] for x in d]
    t = sum(rk for rk, x in zip(r, d, strict=True) if x > 0)
    sums = [sum(rk for rk, s in zip(r, signs, strict=True) if s) for signs in itertools.product((0, 1), repeat=len(d))]
    lo = sum(s <= t + 1e-9 for s in sums) / len(sums)
    hi = sum(s >= t - 1e-9 for s in sums) / len(sums)
    return min(1.0, 2 * min(lo, hi))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-6, 6), min_size=1, max_size=11))
def test_signed_rank_exact_matches_enumeration_even_with_ties(values):
    d = [float(v) for v in values]
    if not any(d):
        assert np.isnan(signed_rank_test(np.array(d))[0])
        return
    p, method = signed_rank_test(np.array(d))
    assert method == "exact"
    assert p == pytest.approx(_brute_force_p(d), abs=1e-12)


def test_signed_rank_large_n_uses_normal_approximation():
    rng = np.random.default_rng(1)
    p, method = signed_rank_test(rng.normal(0.5, 1, size=200))
    assert method == "normal approximation" and p < 0.001
