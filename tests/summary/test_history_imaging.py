"""Medical history by SOC/PT and chest X-ray readings per visit: cells checked by hand, ARD rows, same from FHIR.

How the expected cells were checked: fixtures/example_study/medical_history.csv lists SLE for all 9 subjects,
lupus nephritis for 01, 03, 05 and 08 (08 as "SLE nephritis", coded to the same PT), hypertension for 03 and 06:
so 9/9 = 100.0%, 4/9 = 44.4%, 2/9 = 22.2%. findings.csv has a normal chest X-ray for each of the 9 subjects at
Baseline and Years 1, 2, 4, 6; the edits below make subject 03 abnormal at Year 4 (normal baseline: new) and
subject 02 abnormal at baseline and Year 1 (abnormal, not new): Year 4 -> 8 normal (88.9%), 1 abnormal (11.1%),
1 new (11.1%); Year 1 -> 1 abnormal, 0 new.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from msc_interop.fhir import read_fhir, write_fhir
from msc_interop.study import Study
from msc_interop.summary import compute_tables, summarize

COL = "UC-MSC 1x10^6 cells/kg IV on Days 0 and 7 (N=9) n (%)"


def _cell(table: pd.DataFrame, first: str, second: str, a: str, b: str) -> str:
    return table.loc[table[first].eq(a) & table[second].eq(b), COL].item()


def test_medical_history_by_soc_and_pt(example_tables):
    mh = example_tables["mh_soc_pt"]
    pt = "Preferred term"
    soc = "System organ class"
    assert _cell(mh, soc, pt, "Any medical history", "") == "9 (100.0%)"
    assert _cell(mh, soc, pt, "Musculoskeletal and connective tissue disorders", "Systemic lupus erythematosus") \
        == "9 (100.0%)"
    assert _cell(mh, soc, pt, "Not coded", "Lupus nephritis") == "4 (44.4%)"  # PT known, its SOC code not verified
    assert _cell(mh, soc, pt, "Vascular disorders", "Hypertension") == "2 (22.2%)"
    # SOCs by decreasing subjects, "Not coded" last
    assert mh[mh[pt].eq("")][soc].tolist() == ["Any medical history", "Musculoskeletal and connective tissue disorders",
                                               "Vascular disorders", "Not coded"]


def test_chest_xray_readings_by_visit(example_study: Study):
    re_ = example_study["RE"].copy()
    for subject, visit in (("MSC-SLE-2009-01-03", "YEAR 4"), ("MSC-SLE-2009-01-02", "BASELINE"),
                           ("MSC-SLE-2009-01-02", "YEAR 1")):
        re_.loc[re_.USUBJID.eq(subject) & re_.VISIT.eq(visit), ["REORRES", "RESTRESC"]] = "ABNORMAL"
    study = Study(example_study.meta, {**example_study.datasets, "RE": re_})
    cxr = compute_tables(study)["cxr_visits"]
    assert _cell(cxr, "Visit", "Reading", "YEAR 4", "Subjects read") == "9"
    assert _cell(cxr, "Visit", "Reading", "YEAR 4", "Normal") == "8 (88.9%)"
    assert _cell(cxr, "Visit", "Reading", "YEAR 4", "Abnormal") == "1 (11.1%)"
    assert _cell(cxr, "Visit", "Reading", "YEAR 4", "New abnormality after baseline") == "1 (11.1%)"
    assert _cell(cxr, "Visit", "Reading", "YEAR 1", "Abnormal") == "1 (11.1%)"
    assert _cell(cxr, "Visit", "Reading", "YEAR 1", "New abnormality after baseline") == "0"  # abnormal since baseline
    assert _cell(cxr, "Visit", "Reading", "BASELINE", "New abnormality after baseline") == "0"
    assert cxr["Visit"].drop_duplicates().tolist() == ["BASELINE", "YEAR 1", "YEAR 2", "YEAR 4", "YEAR 6"]


def test_ard_rows_carry_the_same_numbers(example_study: Study, tmp_path: Path):
    result = summarize(example_study, tmp_path, formats=["ard"])
    ard = result.ard
    htn = ard[ard["table"].eq("mh_soc_pt") & ard["variable"].eq("MHDECOD") & ard["variable_level"].eq("Hypertension")]
    stats = dict(zip(htn["stat_name"], htn["stat"], strict=True))
    assert (stats["n"], stats["N"], round(stats["p"], 4)) == (2, 9, 0.2222)
    assert set(htn["group2_level"]) == {"Vascular disorders"}
    normal = ard[ard["table"].eq("cxr_visits") & ard["variable_level"].eq("Normal") & ard["group2_level"].eq("YEAR 6")]
    assert dict(zip(normal["stat_name"], normal["stat"], strict=True))["n"] == 9


def test_same_tables_from_fhir(example_study: Study, example_tables, tmp_path: Path):
    """The tables from the FHIR the study becomes (R5 NDJSON) equal those from the records."""
    write_fhir(example_study, tmp_path, version="R5", bundle="none", ndjson=True, validate=False)
    back, _ = read_fhir(sorted(tmp_path.glob("*.ndjson")))
    tables = compute_tables(back)
    for name in ("mh_soc_pt", "cxr_visits"):
        pd.testing.assert_frame_equal(tables[name], example_tables[name], obj=name)
