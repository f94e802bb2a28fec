"""The bundled study's summary says what the seed paper says; cells checked against values computed by hand.

How the expected values were computed: by hand from the source forms in fixtures/example_study (subjects.csv,
exposures.csv, adverse_events.csv, labs.csv), the arithmetic written out next to each assertion. Where the
arithmetic is long (SDs, the Wilcoxon p-value) the test recomputes it with the standard library (statistics,
itertools) from the literal values copied out of labs.csv, independently of pandas and of msc_interop.
"""

from __future__ import annotations

import itertools
import statistics

import pytest

from msc_interop.errors import MscInteropError
from msc_interop.summary import compute_tables

from .conftest import cell

ARM = "UC-MSC 1x10^6 cells/kg IV on Days 0 and 7"  # DM ARM: columns are labelled by the arm's name
TUMOR_MARKERS = ("AFP", "CEA", "CA125AG", "CA19_9AG")


def test_all_tables_present(example_tables):
    assert list(example_tables) == [
        "study", "populations", "population_listing", "demographics", "disposition", "exposure_summary",
        "exposure_listing", "exposure_schedule", "ae_overview", "ae_soc_pt", "ae_characteristics", "ae_infusion",
        "ae_listing", "ae_pretreatment", "lab_stats", "lab_change", "lab_range", "lab_shift", "lab_abnormal_listing",
        "vs_stats", "vs_change", "ecg_qtc", "ecg_abnormal", "mh_soc_pt", "cxr_visits",
        "cm_by_class", "ds_disposition", "data_issues"]


def test_demographics_nine_subjects_eight_women(example_tables):
    t = example_tables["demographics"]
    col = f"{ARM} (N=9)"
    assert cell(t, {"Characteristic": "Subjects"}, col) == "9"
    # subjects.csv: 8 Female, 1 Male -> 8/9 = 88.9 %, 1/9 = 11.1 %
    assert cell(t, {"Characteristic": "Sex", "Category": "Female"}, col) == "8 (88.9%)"
    assert cell(t, {"Characteristic": "Sex", "Category": "Male"}, col) == "1 (11.1%)"
    # ages at first infusion (DM AGE): 47, 22, 51, 36, 20, 28, 33, 41, 34 -> sum 312, mean 312/9 = 34.67;
    # sorted 20 22 28 33 34 36 41 47 51 -> median 34; range 20-51
    ages = [47, 22, 51, 36, 20, 28, 33, 41, 34]
    assert cell(t, {"Characteristic": "Age (years)", "Category": "Mean (SD)"}, col) == \
        f"34.7 ({statistics.stdev(ages):.2f})"
    assert cell(t, {"Characteristic": "Age (years)", "Category": "Median"}, col) == "34.0"
    assert cell(t, {"Characteristic": "Age (years)", "Category": "Min, Max"}, col) == "20, 51"
    study = example_tables["study"].set_index("Item")["Value"]
    assert study["Indication (disease)"] == "Systemic lupus erythematosus"


def test_disposition_everyone_at_every_visit(example_tables):
    t = example_tables["disposition"]
    assert t["Visit"].tolist() == ["BASELINE", "DAY 0 INFUSION", "DAY 7 INFUSION", "YEAR 1", "YEAR 2", "YEAR 4",
                                   "YEAR 6"]
    assert set(t["Subjects with data"]) == {"9 (100.0%)"} and set(t["Subjects without data"]) == {"0"}


def test_exposure_eighteen_infusions_and_cells_given(example_tables):
    t = example_tables["exposure_summary"]
    col = f"{ARM} (N=9)"
    assert cell(t, {"Characteristic": "Administrations (EX records)"}, col) == "18"
    assert cell(t, {"Characteristic": "Administrations per subject", "Statistic": "2: n (%)"}, col) == "9 (100.0%)"
    # exposures.csv weights (each subject twice): 58.9 51.2 50.8 59.8 50.2 40.0 40.0 54.9 54.2, sum 460.0;
    # dose 1 x 10^6/kg -> total cells = 2 x 460.0 = 920.0 x 10^6; per subject 920.0 / 9 = 102.22 x 10^6
    total = "Total given, all subjects (10^6 cells)"
    assert cell(t, {"Characteristic": total}, col) == "920.0"
    per_subject = "Total given per subject (10^6 cells)"
    assert cell(t, {"Characteristic": per_subject, "Statistic": "Mean (SD)"}, col).startswith("102.22 (")
    assert cell(t, {"Characteristic": per_subject, "Statistic": "Min, Max"}, col) == "80.0, 119.6"  # 2x40, 2x59.8
    listing = example_tables["exposure_listing"]
    row = listing[(listing.Subject == "MSC-SLE-2009-01-01") & (listing.EXSEQ == "2")].iloc[0]
    assert (row["Body weight (kg)"], row["Total given"], row["Total unit"], row["Study day"]) == \
        ("58.9", "58.9", "10^6 cells", "8")  # protocol day 7 = study day 8
    sched = example_tables["exposure_schedule"]
    assert sched["Planned study day (window)"].tolist() == ["1 (-0/+0)", "8 (-1/+1)"]
    assert sched["On schedule"].tolist() == ["9 (100.0%)", "9 (100.0%)"]


def test_one_mild_related_infusion_reaction_five_minutes_after(example_tables):
    ov = example_tables["ae_overview"]
    n, ev = f"{ARM} (N=9) n (%)", f"{ARM} events"
    assert cell(ov, {"Category": "Any TEAE"}, n) == "1 (11.1%)"
    assert cell(ov, {"Category": "Any TEAE"}, ev) == "1"
    assert cell(ov, {"Category": "Serious TEAE (AESER = Y)"}, n) == "0"
    assert cell(ov, {"Category": "Severe TEAE (AESEV = SEVERE)"}, n) == "0"
    soc = example_tables["ae_soc_pt"]
    assert cell(soc, {"System organ class": "Nervous system disorders", "Preferred term": "Dizziness"}, n) == \
        "1 (11.1%)"
    ch = example_tables["ae_characteristics"]
    assert cell(ch, {"Characteristic": "Severity (AESEV)", "Category": "MILD"}, f"{ARM} (N=9) subjects n (%)") == \
        "1 (11.1%)"
    inf = example_tables["ae_infusion"]
    assert len(inf) == 1
    row = inf.iloc[0]
    # adverse_events.csv: start 2009-03-28T09:52, end 10:32; exposures.csv: subject 04 Day 0 start 09:47
    # -> 09:52 - 09:47 = 5 minutes after the start of infusion 1; resolved after 40 minutes
    assert row["Subject"] == "MSC-SLE-2009-01-04" and row["Administration (EXSEQ)"] == "1"
    assert row["Minutes after start of administration"] == "5" and row["Duration (min)"] == "40"
    assert (row["Severity"], row["Relationship"], row["Outcome"]) == ("MILD", "RELATED", "RECOVERED/RESOLVED")


def test_lab_stats_wbc_baseline_by_hand(example_tables):
    t = example_tables["lab_stats"]
    # labs.csv, Baseline, WBC: 6.14 3.12 5.88 5.77 6.74 6.54 6.04 5.85 4.65 (10^9/L)
    # sum 50.73 -> mean 50.73/9 = 5.6367 -> "5.637" (data 2 decimals, mean 3, SD 4);
    # sorted 3.12 4.65 5.77 5.85 5.88 6.04 6.14 6.54 6.74 -> median 5.88, min 3.12, max 6.74
    wbc = [6.14, 3.12, 5.88, 5.77, 6.74, 6.54, 6.04, 5.85, 4.65]
    where = {"Test code": "WBC", "Visit": "Baseline"}
    assert cell(t, where, "n") == 9
    assert cell(t, where, "Mean (SD)") == f"5.637 ({statistics.stdev(wbc):.4f})"
    assert cell(t, where, "Median") == "5.880"
    assert cell(t, where, "Min, Max") == "3.12, 6.74"
    assert t["Test code"].drop_duplicates().tolist()[:4] == ["WBC", "RBC", "PLAT", "ALT"]  # the seed paper's order


def test_lab_missing_and_non_numeric_are_counted_not_dropped(example_tables):
    t = example_tables["lab_stats"]
    # CA 19-9: subject 03's year-6 sample is missing and subject 08's year-4 result is '<2' (no LBSTRESN)
    assert cell(t, {"Test code": "CA19_9AG", "Visit": "YEAR 4"}, "n") == 8
    assert cell(t, {"Test code": "CA19_9AG", "Visit": "YEAR 6"}, "n") == 8
    # year 6 values: 5.98 5.93 3.14 9.38 9.07 5.55 10.85 11.96 -> sum 61.86, mean 7.7325 -> "7.73" (1 decimal data)
    assert cell(t, {"Test code": "CA19_9AG", "Visit": "YEAR 6"}, "Mean (SD)").startswith("7.73 (")
    issues = example_tables["data_issues"].set_index("Issue")
    assert issues.loc["Partial LBDTC", "Records"] == 11  # subject 09's year-6 visit, all 11 tests: 2015-05
    assert "2015-05" in issues.loc["Partial LBDTC", "Detail"]
    nonnum = issues.loc["Non-numeric result (e.g. below the limit of quantitation)"]
    assert nonnum["Records"] == 1 and "'<2'" in nonnum["Detail"]
    missing = issues.loc["Missing lab result at a visit"]
    assert missing["Records"] == 1 and missing["Detail"] == "MSC-SLE-2009-01-03 YEAR 6 CA19_9AG"


def test_lab_change_alt_year6_and_wilcoxon_by_hand(example_tables):
    t = example_tables["lab_change"]
    # labs.csv ALT (U/L) baseline -> year 6 per subject 01..09: 17->19, 25->23, 16->19, 19->14, 21->26, 21->25,
    # 25->31, 20->20, 22->20; changes +2 -2 +3 -5 +5 +4 +6 0 -2: sum 11, mean 11/9 = 1.22 -> "1.2";
    # sorted -5 -2 -2 0 2 3 4 5 6 -> median 2; one zero difference -> 8 pairs enter the signed-rank test
    changes = [2, -2, 3, -5, 5, 4, 6, 0, -2]
    where = {"Test code": "ALT", "Visit": "YEAR 6"}
    assert cell(t, where, "n (pairs)") == 9
    assert cell(t, where, "Mean (SD) change") == f"1.2 ({statistics.stdev(changes):.2f})"
    assert cell(t, where, "Median change") == "2.0" and cell(t, where, "Min, Max change") == "-5, 6"
    # exact signed-rank p by enumerating all 2^8 sign patterns of the midranks of |d| (2 2 2 3 4 5 5 6 ->
    # ranks 2 2 2 4 5 6.5 6.5 8); observed positive-rank sum T+ = 2 + 4 + 5 + 6.5 + 8 = 25.5
    nz = [c for c in changes if c]
    ranks = {2: 2.0, 3: 4.0, 4: 5.0, 5: 6.5, 6: 8.0}
    r = [ranks[abs(c)] for c in nz]
    t_plus = sum(rk for rk, c in zip(r, nz, strict=True) if c > 0)
    assert t_plus == 25.5
    sums = [sum(rk for rk, s in zip(r, signs, strict=True) if s) for signs in itertools.product((0, 1), repeat=8)]
    p = min(1.0, 2 * min(sum(x <= t_plus for x in sums), sum(x >= t_plus for x in sums)) / len(sums))
    assert cell(t, where, "p (vs baseline)") == f"{p:.3f}"
    assert cell(t, where, "Method") == "Wilcoxon signed-rank (exact), 8 non-zero pairs"


def test_labs_normal_after_infusion_no_tumor_marker_rise(example_tables):
    rng = example_tables["lab_range"]
    post = rng[rng["Visit"] != "Baseline"]
    assert set(post["Outside range n (%)"]) == {"0"}  # every post-baseline result within range
    base = rng[(rng["Visit"] == "Baseline") & (rng["Outside range n (%)"] != "0")]
    assert sorted(base["Test code"]) == ["PLAT", "WBC"]  # subject 05 PLT 98 and subject 02 WBC 3.12, LOW
    shift = example_tables["lab_shift"]
    low_to_normal = shift[(shift["Baseline"] == "LOW") & (shift["n"] > 0)]
    assert sorted(low_to_normal["Test code"]) == ["PLAT", "WBC"]
    assert (low_to_normal["Worst post-baseline NORMAL"] == 1).all()
    listing = example_tables["lab_abnormal_listing"]
    assert listing[["Subject", "Test code", "Result", "Indicator"]].values.tolist() == [
        ["MSC-SLE-2009-01-02", "WBC", "3.12", "LOW"], ["MSC-SLE-2009-01-05", "PLAT", "98", "LOW"]]
    # no tumor-marker rise: no HIGH value, and no visit with a significant increase over baseline
    markers = post[post["Test code"].isin(TUMOR_MARKERS)]
    assert set(markers["Above range (HIGH) n (%)"]) == {"0"}
    chg = example_tables["lab_change"]
    chg = chg[chg["Test code"].isin(TUMOR_MARKERS)]
    rising = chg[(chg["p (vs baseline)"].map(lambda p: p not in ("-",) and float(p.lstrip("<")) < 0.05))
                 & ~chg["Mean (SD) change"].str.startswith("-")]
    assert rising.empty


def test_baseline_option_and_last_value_mode(example_study):
    t = compute_tables(example_study, baseline="YEAR 1")
    stats = t["lab_stats"]
    # with YEAR 1 as baseline the baseline row is the year-1 data; visits before it are not post-baseline
    assert stats[stats["Test code"] == "WBC"]["Visit"].tolist() == ["Baseline", "YEAR 2", "YEAR 4", "YEAR 6"]
    last = compute_tables(example_study, by_visit=False)
    s = last["lab_stats"]
    assert s[s["Test code"] == "WBC"]["Period"].tolist() == ["Baseline", "Last post-baseline"]
    # last post-baseline = year 6 for everyone: the same numbers as the YEAR 6 row of the by-visit table
    by_visit = compute_tables(example_study)["lab_stats"]
    assert cell(s, {"Test code": "WBC", "Period": "Last post-baseline"}, "Mean (SD)") == \
        cell(by_visit, {"Test code": "WBC", "Visit": "YEAR 6"}, "Mean (SD)")


def test_unknown_baseline_visit_is_an_error_naming_the_visits(example_study):
    with pytest.raises(MscInteropError, match=r"baseline visit 'WEEK 2' is not a visit.*BASELINE \(1\)"):
        compute_tables(example_study, baseline="WEEK 2")


def test_an_administration_without_a_study_day_is_not_assessable_against_the_schedule():
    """EXSTDY empty on one of the 18 infusions: that one counts as not assessable (it stopped the summary before)."""
    from msc_interop.api import load_study

    study, _ = load_study("fixtures/example_study")
    ex = study.datasets["EX"]
    ex.loc[ex.index[0], "EXSTDY"] = None
    t = compute_tables(study)["exposure_schedule"]
    first = t.iloc[0]
    assert first["Administrations"] == "9" or first["Administrations"] == 9
    assert str(first["On schedule"]).startswith("8 ") and str(first["Not assessable"]) == "1"
