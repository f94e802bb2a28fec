"""Concomitant medications by class and name, and disposition, per arm (summary/medications.py).

Hand check of the cells (fixtures/example_study/medications.csv and disposition.csv, counted with grep):
`grep -c Cyclophosphamide medications.csv` = 3 rows, subjects 01, 02 and 03, so 3 of 9 = 33.3%;
`grep -c Mycophenolate medications.csv` = 6 (the other six subjects: 66.7%); every subject has Prednisone
(`grep -c Prednisone` = 18: 2 rows each) and Hydroxychloroquine (9 of 9); disposition.csv has 9 rows, all COMPLETED."""

from __future__ import annotations

import pandas as pd

from msc_interop.study import Study
from msc_interop.summary import compute_tables, summarize

ARM = "UC-MSC 1x10^6 cells/kg IV on Days 0 and 7 (N=9)"


def test_medications_by_class_and_name(example_tables: dict[str, pd.DataFrame]) -> None:
    t = example_tables["cm_by_class"].set_index(["Medication class", "Medication"])[ARM]
    assert t[("Any medication", "")] == "9 (100.0%)"
    assert t[("NITROGEN MUSTARD ANALOGUES", "CYCLOPHOSPHAMIDE")] == "3 (33.3%)"
    assert t[("SELECTIVE IMMUNOSUPPRESSANTS", "MYCOPHENOLIC ACID")] == "6 (66.7%)"
    assert t[("GLUCOCORTICOIDS", "PREDNISONE")] == "9 (100.0%)"  # two intervals each, a subject counts once


def test_disposition_all_completed(example_tables: dict[str, pd.DataFrame]) -> None:
    t = example_tables["ds_disposition"].set_index("Disposition")[ARM]
    assert t["COMPLETED"] == "9 (100.0%)" and t["No disposition record"] == "0"


def test_uncoded_medication_and_discontinuation(example_study: Study, tmp_path) -> None:
    cm, ds = example_study["CM"].copy(), example_study["DS"].copy()
    cm.loc[0, ["CMDECOD", "CMCLAS"]] = ["", ""]  # subject 01's cyclophosphamide, not coded
    ds.loc[1, ["DSDECOD", "DSTERM"]] = ["LOST TO FOLLOW-UP", "Could not be contacted"]
    study = Study(example_study.meta, {**example_study.datasets, "CM": cm, "DS": ds})
    tables = compute_tables(study)
    t = tables["cm_by_class"].set_index(["Medication class", "Medication"])[ARM]
    assert t[("UNCODED", "Cyclophosphamide")] == "1 (11.1%)"
    assert t[("NITROGEN MUSTARD ANALOGUES", "CYCLOPHOSPHAMIDE")] == "2 (22.2%)"
    d = tables["ds_disposition"].set_index("Disposition")[ARM]
    assert d["COMPLETED"] == "8 (88.9%)" and d["LOST TO FOLLOW-UP"] == "1 (11.1%)"
    summarize(study, tmp_path, formats=["ard"])
    ard = pd.read_csv(tmp_path / "ard" / "ard.csv", dtype=str, keep_default_na=False)
    row = ard[(ard["table"] == "ds_disposition") & (ard["variable_level"] == "LOST TO FOLLOW-UP")
              & (ard["stat_name"] == "n")]
    assert row["stat"].tolist() == ["1"]
