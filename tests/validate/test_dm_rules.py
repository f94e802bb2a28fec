"""DM arms against TA (MSC-SDTM-042, -043) and AGE (MSC-SDTM-044, -045): where the findings land and what they say.

The reported case: the CDISC pilot's dm, ae, ta and ex, DM row 1 (01-701-1015, ARMCD Pbo) given ARM "Placebo X"
and row 2 (01-701-1023) AGE -5: before, validate said nothing of either.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest

from conftest import shared_path
from msc_interop.study import Study
from msc_interop.validate import validate_paths, validate_study

from .conftest import mutate
from .test_rules import _ARM, _TA, _cells

NEW = {"MSC-SDTM-042", "MSC-SDTM-043", "MSC-SDTM-044", "MSC-SDTM-045"}


def _found(study: Study, rule_id: str) -> list:
    return [f for f in validate_study(study).findings if f.rule_id == rule_id]


def test_arm_not_of_its_code_is_reported_on_arm(example_study: Study) -> None:
    study = mutate(example_study, add={"TA": _TA}, cells=_cells(("DM", 3, "ARM", "Placebo X")))
    found = _found(study, "MSC-SDTM-042")
    assert [(f.dataset_or_resource, f.row_or_entry, f.variable_or_path, f.value, f.usubjid) for f in found] == [
        ("DM", 3, "ARM", "Placebo X", "MSC-SLE-2009-01-03")]
    assert f"TA names arm UCMSC '{_ARM}'" in found[0].message and found[0].severity == "error"


def test_actual_arm_code_not_in_ta_is_reported_on_the_code(example_study: Study) -> None:
    study = mutate(example_study, add={"TA": _TA}, cells=_cells(("DM", 5, "ACTARMCD", "XYZ")))
    found = _found(study, "MSC-SDTM-042")
    assert [(f.row_or_entry, f.variable_or_path, f.value) for f in found] == [(5, "ACTARMCD", "XYZ")]
    assert "not an ARMCD of TA (TA has PBO, UCMSC)" in found[0].message


def test_the_arm_of_another_code_is_not_its_own(example_study: Study) -> None:
    """ARMCD UCMSC with ARM Placebo: both are in TA, the pair is not."""
    study = mutate(example_study, add={"TA": _TA}, cells=_cells(("DM", 1, "ARM", "Placebo")))
    found = _found(study, "MSC-SDTM-042")
    assert [(f.row_or_entry, f.variable_or_path) for f in found] == [(1, "ARM")]


def test_ta_not_one_to_one_names_the_rows(example_study: Study) -> None:
    ta = _TA.copy()
    ta.loc[3, "ARM"] = "Saline"  # PBO's second element: PBO is Placebo on its first record (row 3)
    found = _found(mutate(example_study, add={"TA": ta}), "MSC-SDTM-043")
    assert [(f.dataset_or_resource, f.row_or_entry, f.variable_or_path, f.value) for f in found] == [
        ("TA", 4, "ARM", "Saline")]
    assert "'Placebo' on its first TA record" in found[0].message


def test_age_negative_and_not_a_number(example_study: Study) -> None:
    dm_age = example_study["DM"]["AGE"].astype(object)
    dm_age[1], dm_age[3] = "-5", "forty"
    study = mutate(example_study)
    study.datasets["DM"]["AGE"] = dm_age
    found = _found(study, "MSC-SDTM-044")
    assert sorted((f.row_or_entry, f.value, f.severity) for f in found) == [(2, "-5", "error"), (4, "forty", "error")]
    assert {f.message for f in found} == {"AGE is -5 (YEARS); an age is not negative",
                                          "AGE 'forty' is not a number (AGEU 'YEARS'); AGE is numeric, its unit "
                                          "in AGEU"}


@pytest.mark.parametrize(("age", "unit", "fires"), [
    (131, "YEARS", True), (130, "YEARS", False),
    (1561, "MONTHS", True), (1560, "MONTHS", False),  # 130 x 12
    (6784, "WEEKS", True), (6783, "WEEKS", False),  # 130 x 52.1775 = 6783.1
    (47483, "DAYS", True), (47482, "DAYS", False),  # 130 x 365.25 = 47482.5
    (999, "", False),  # no unit: not judged
])
def test_age_plausible_in_its_unit(example_study: Study, age: int, unit: str, fires: bool) -> None:
    found = _found(mutate(example_study, cells=_cells(("DM", 2, "AGE", age), ("DM", 2, "AGEU", unit))),
                   "MSC-SDTM-045")
    assert [(f.row_or_entry, f.severity) for f in found] == ([(2, "warning")] if fires else [])


def _pilot_copy(tmp: Path) -> Path:
    base = shared_path()
    if base is None:
        pytest.skip("no ../shared")
    folder = tmp / "pilot"
    folder.mkdir()
    for name in ("dm", "ae", "ta", "ex"):
        shutil.copy(base / "external" / "cdisc-pilot-original" / f"{name}.xpt", folder)
    return folder


def _edit_dm(folder: Path) -> None:
    df, meta = pyreadstat.read_xport(str(folder / "dm.xpt"))
    df.loc[0, "ARM"] = "Placebo X"
    df.loc[1, "AGE"] = -5
    pyreadstat.write_xport(df, str(folder / "dm.xpt"), file_format_version=5, table_name=meta.table_name,
                           file_label=meta.file_label,
                           column_labels=[meta.column_names_to_labels.get(c, c) for c in df.columns])


def test_pilot_reported_case(tmp_path: Path) -> None:
    folder = _pilot_copy(tmp_path)
    clean = [f for f in validate_paths([folder]).findings if f.rule_id in NEW]
    assert clean == []  # 52 Scrnfail / Screen Failure subjects, 12 planned Xan_Hi treated Xan_Lo: all TA arms
    _edit_dm(folder)
    found = sorted((f.rule_id, f.row_or_entry, f.usubjid, f.variable_or_path, f.value)
                   for f in validate_paths([folder]).findings if f.rule_id in NEW)
    assert found == [("MSC-SDTM-042", 1, "01-701-1015", "ARM", "Placebo X"),
                     ("MSC-SDTM-044", 2, "01-701-1023", "AGE", "-5")]


def test_without_ta_arms_are_not_checked(tmp_path: Path) -> None:
    folder = _pilot_copy(tmp_path)
    _edit_dm(folder)
    (folder / "ta.xpt").unlink()
    assert not [f for f in validate_paths([folder]).findings if f.rule_id in {"MSC-SDTM-042", "MSC-SDTM-043"}]


def test_pilot_dm_frame_is_what_the_case_says(tmp_path: Path) -> None:
    """Guards the case above: row 1 is ARMCD Pbo, TA has Pbo as Placebo, the pilot writes Scrnfail."""
    folder = _pilot_copy(tmp_path)
    dm = pd.read_sas(folder / "dm.xpt", encoding="latin1")
    ta = pd.read_sas(folder / "ta.xpt", encoding="latin1")
    assert dm.loc[0, "ARMCD"] == "Pbo" and "Scrnfail" in set(dm["ARMCD"])
    assert set(zip(ta["ARMCD"], ta["ARM"], strict=True)) >= {("Pbo", "Placebo")}
