"""CDISC's pilot SDTM example (CDISCPILOT01: three arms, 18 subjects, other lab tests and visits, AE without MedDRA
codes) summarises without code changes. Cells checked by hand against the Dataset-JSON files themselves, read with
the standard library's json module (independently of msc_interop's readers)."""

from __future__ import annotations

import json
import statistics

import pytest

from .conftest import cell


@pytest.fixture(scope="module")
def raw(shared_dir):
    folder = shared_dir / "external" / "dataset-json" / "examples-v1.1" / "sdtm"

    def rows(name: str) -> list[dict]:
        d = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
        cols = [c["name"] for c in d["columns"]]
        return [dict(zip(cols, r, strict=True)) for r in d["rows"]]

    return {n: rows(n) for n in ("dm", "ae", "lb")}


def test_every_table_is_produced(pilot_tables):
    assert all(len(t.columns) for t in pilot_tables.values())
    for name in ("demographics", "ae_overview", "ae_soc_pt", "lab_stats", "lab_change", "lab_range", "lab_shift"):
        assert len(pilot_tables[name]) > 0, name


def test_demographics_by_arm(pilot_tables, raw):
    t = pilot_tables["demographics"]
    # dm.json: 18 subjects, 12 F; arms PLACEBO 5, ZAN_HIGH 7, ZAN_LOW 5 and one screen failure without an arm
    # the screen failure (empty ARMCD) is in no treatment column: the safety population is 17, labelled by ARM
    treated = [r for r in raw["dm"] if r["ARMCD"]]
    assert len(treated) == 17 and sum(r["SEX"] == "F" for r in treated) == 11
    assert cell(t, {"Characteristic": "Sex", "Category": "Female"}, "Total (N=17)") == "11 (64.7%)"  # 11/17
    assert [c for c in t.columns if "(N=" in c] == ["Placebo (N=5)", "Zanomaline High Dose (81 mg) (N=7)",
                                                     "Zanomaline Low Dose (54 mg) (N=5)", "Total (N=17)"]
    pops = pilot_tables["populations"].set_index("Population")
    assert pops.at["Enrolled (DM)", "Total"] == "18"
    assert pops.at["Not randomised (screen failure / not assigned)", "Not randomised (planned)"] == "1"
    assert pilot_tables["population_listing"]["Subject"].tolist() == [
        r["USUBJID"] for r in raw["dm"] if not r["ARMCD"]]
    study = pilot_tables["study"].set_index("Item")["Value"]
    assert study["Indication (disease)"] == "Alzheimer's Disease (Disorder)"  # TS INDIC
    assert study["Planned visit schedule"].startswith("not in the input")


def test_adverse_events_uncoded_terms(pilot_tables, raw):
    ae = raw["ae"]
    ov = pilot_tables["ae_overview"]
    # ae.json: 74 records, 13 distinct USUBJID, all treated and all on/after RFXSTDTC (none pre-treatment)
    # -> 13/17 = 76.5 %; AESER = Y on 4 records of 4 subjects
    assert len(ae) == 74 and len({r["USUBJID"] for r in ae}) == 13
    rfx = {r["USUBJID"]: r["RFXSTDTC"] for r in raw["dm"]}
    assert all(r["AESTDTC"][:10] >= rfx[r["USUBJID"]] for r in ae)
    assert cell(ov, {"Category": "Any TEAE"}, "Total (N=17) n (%)") == "13 (76.5%)"
    assert cell(ov, {"Category": "Any TEAE"}, "Total events") == "74"
    assert cell(ov, {"Category": "Serious TEAE (AESER = Y)"}, "Total (N=17) n (%)") == "4 (23.5%)"
    soc = pilot_tables["ae_soc_pt"]
    # AEDECOD is empty in this example: terms are shown by AETERM under SOC "Not coded"
    isr = [r for r in ae if r["AETERM"] == "INJECTION SITE REACTION"]
    assert cell(soc, {"Preferred term": "INJECTION SITE REACTION (uncoded)"}, "Total events") == str(len(isr))
    assert set(soc["System organ class"]) == {"Any TEAE", "Not coded"}
    issues = pilot_tables["data_issues"].set_index("Issue")
    assert issues.loc["AE not coded", "Records"] == 74


TOTAL = {"Treatment": "Total (N=17)"}  # lab tables have one row per arm and Total within each test and visit


def _treated_lb(raw):
    """LB records of the 17 subjects with an arm (the screen failure is in no treatment column)."""
    treated = {r["USUBJID"] for r in raw["dm"] if r["ARMCD"]}
    return [r for r in raw["lb"] if r["USUBJID"] in treated]


def test_lab_albumin_by_hand(pilot_tables, raw):
    lb = _treated_lb(raw)
    stats = pilot_tables["lab_stats"]
    # baseline = LBLOBXFL 'Y' (SCREENING 1): 17 albumin values, sum 690 g/L -> mean 690/17 = 40.59 -> "40.6"
    base = [r["LBSTRESN"] for r in lb if r["LBTESTCD"] == "ALB" and r["LBLOBXFL"] == "Y"]
    assert len(base) == 17 and sum(base) == 690
    where = {"Test code": "ALB", "Visit": "Baseline", **TOTAL}
    assert cell(stats, where, "n") == 17
    assert cell(stats, where, "Mean (SD)") == f"40.6 ({statistics.stdev(base):.2f})"
    # week 2 (VISITNUM 4): 15 values, sum 581 -> mean 38.73 -> "38.7"; min 33, max 44
    wk2 = [r["LBSTRESN"] for r in lb if r["LBTESTCD"] == "ALB" and r["VISITNUM"] == 4]
    assert len(wk2) == 15 and sum(wk2) == 581
    where = {"Test code": "ALB", "Visit": "WEEK 2", **TOTAL}
    assert cell(stats, where, "Mean (SD)") == f"38.7 ({statistics.stdev(wk2):.2f})"
    assert cell(stats, where, "Min, Max") == "33, 44"
    # unscheduled visits (decimal VISITNUM) are not by-visit rows
    assert not stats["Visit"].str.contains("UNSCHEDULED").any()


def test_lab_range_shift_and_listing(pilot_tables, raw):
    lb = _treated_lb(raw)
    rng = pilot_tables["lab_range"]
    # week 2 albumin: LBNRIND LOW for 2 of the 15 results -> 13.3 %
    low = [r for r in lb if r["LBTESTCD"] == "ALB" and r["VISITNUM"] == 4 and r["LBNRIND"] == "LOW"]
    assert len(low) == 2
    assert cell(rng, {"Test code": "ALB", "Visit": "WEEK 2", **TOTAL}, "Below range (LOW) n (%)") == "2 (13.3%)"
    # per arm: placebo subjects' week-2 albumin LOW results, out of their week-2 results
    pbo = {r["USUBJID"] for r in raw["dm"] if r["ARMCD"] == "PLACEBO"}
    wk2 = [r for r in lb if r["LBTESTCD"] == "ALB" and r["VISITNUM"] == 4 and r["USUBJID"] in pbo]
    k = sum(r["LBNRIND"] == "LOW" for r in wk2)
    want = "0" if k == 0 else f"{k} ({100 * k / len(wk2):.1f}%)"
    assert cell(rng, {"Test code": "ALB", "Visit": "WEEK 2", "Treatment": "Placebo (N=5)"},
                "Below range (LOW) n (%)") == want
    assert "ABNORMAL n (%)" in rng.columns  # urinalysis uses the non-directional ABNORMAL
    listing = pilot_tables["lab_abnormal_listing"]
    outside = [r for r in lb if r["LBNRIND"] in ("LOW", "HIGH", "ABNORMAL")]
    assert len(listing) == len(outside) == 100
    shift = pilot_tables["lab_shift"]
    alb = shift[(shift["Test code"] == "ALB") & (shift["Treatment"] == "Total (N=17)")]
    assert alb["n"].sum() == 17  # every subject with albumin results counted once
    per_arm = shift[(shift["Test code"] == "ALB") & (shift["Treatment"] != "Total (N=17)")]
    assert per_arm["n"].sum() == 17  # and once in their own arm
