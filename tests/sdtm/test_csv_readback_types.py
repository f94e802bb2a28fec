"""A CSV read back keeps a sponsor's numeric variables numeric, as XPT and Dataset-JSON do: variables
msc-interop's metadata does not know (the CDISC pilot's DM.DMDY, EX.VISITDY, CM.VISITNUM, TA.TAETORD) are typed
from the folder's define.xml DataType, else from the SDTM model's Num variables (mappings/sdtm_model.yaml
numeric_variables), and only when every value is a number."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest

from msc_interop import api, mappings
from msc_interop.sdtm.csvio import read_csv

CREATED = "2026-01-01T00:00:00"


def _assert_same_cells(original: Path, written: Path) -> None:
    d1, _ = pyreadstat.read_xport(str(original), encoding="cp1252")
    d2, _ = pyreadstat.read_xport(str(written))
    assert list(d2.columns) == list(d1.columns), original.name
    for c in d1.columns:  # a number as SAS shows it, 15 significant digits (read_xpt: CMDOSE 0.4, stored as the
        if pd.api.types.is_float_dtype(d1[c]):  # IBM pattern of 0.39999999999999997); whole numbers exact
            d1[c] = [v if v != v else float(f"{v:.15g}") for v in d1[c]]
    for col in d1.columns:  # XPT has two types: numbers (float64) and text
        assert d2[col].dtype == d1[col].dtype, (original.name, col, d1[col].dtype, d2[col].dtype)
    pd.testing.assert_frame_equal(d2, d1, check_exact=True, obj=original.name)


@pytest.mark.parametrize("with_define", [False, True], ids=["model", "define.xml"])
def test_pilot_xpt_csv_xpt_keeps_every_cell_and_type(pilot: Path, tmp_path: Path, with_define: bool) -> None:
    api.to_sdtm(pilot, tmp_path / "p1", formats=["csv"], created=CREATED, validate=False)
    csv_dir = tmp_path / "p1" / "csv"
    if with_define:  # the pilot's own Define-XML 1.0 beside the CSVs: DataType integer / float
        shutil.copy(pilot / "define.xml", csv_dir / "define.xml")
    api.to_sdtm(csv_dir, tmp_path / "p2", formats=["xpt"], created=CREATED, validate=False)
    originals = sorted(pilot.glob("*.xpt"))
    assert len(originals) == 12
    for original in originals:
        _assert_same_cells(original, tmp_path / "p2" / "xpt" / original.name)
    # the three variables msc-interop's metadata does not type came back as numbers, not text
    for dataset, col in (("dm", "DMDY"), ("ex", "VISITDY"), ("cm", "VISITNUM")):
        _, df = read_csv(csv_dir / f"{dataset}.csv")
        assert df[col].dtype == "float64", (dataset, col)
    _, ta = read_csv(csv_dir / "ta.csv")  # TA is in mappings/sdtm_variables.yaml: TAETORD an integer variable
    assert ta["TAETORD"].dtype == "Int64"


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_model_numeric_variables_read_as_numbers(tmp_path: Path) -> None:
    path = _write(tmp_path / "cm.csv", "STUDYID,DOMAIN,USUBJID,CMSEQ,CMTRT,VISITNUM,CMDOSTXT,CMXDY\n"
                  "S1,CM,S1-1,1,ASPIRIN,3.5,10,4\nS1,CM,S1-1,2,ASPIRIN,,20,5\n")
    name, df = read_csv(path)
    assert name == "CM"
    assert df["VISITNUM"].dtype == "float64"
    assert df["VISITNUM"].iloc[0] == 3.5 and pd.isna(df["VISITNUM"].iloc[1])  # blank -> missing
    assert df["CMDOSTXT"].tolist() == ["10", "20"]  # SDTM Char, though it holds digits
    assert df["CMXDY"].tolist() == ["4", "5"]  # not a model variable: DY suffix needs the CM prefix


def test_suffix_needs_the_datasets_prefix() -> None:
    assert mappings.model_numeric("DMDY", "DM") and mappings.model_numeric("QSSTRESN", "QSCG")
    assert mappings.model_numeric("AGE", "DM") and mappings.model_numeric("TAETORD", "TA")
    assert not mappings.model_numeric("AEDY", "DM") and not mappings.model_numeric("DMDTC", "DM")
    assert not mappings.model_numeric("DY", "DM")


def test_a_model_numeric_column_holding_text_stays_text(tmp_path: Path) -> None:
    path = _write(tmp_path / "ex.csv", "STUDYID,DOMAIN,USUBJID,EXSEQ,EXTRT,VISITDY\n"
                  "S1,EX,S1-1,1,DRUG,1\nS1,EX,S1-1,2,DRUG,UNS\n")
    _, df = read_csv(path)
    assert df["VISITDY"].tolist() == ["1", "UNS"]  # never half converted


_DEFINE = """<?xml version="1.0" encoding="UTF-8"?>
<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3"><Study OID="S"><MetaDataVersion OID="M" Name="M">
<ItemGroupDef OID="IG.CM" Name="CM"><ItemRef ItemOID="IT.CM.VISITNUM"/><ItemRef ItemOID="IT.CM.CMSPNUM"/>
</ItemGroupDef>
<ItemDef OID="IT.CM.VISITNUM" Name="VISITNUM" DataType="text"/>
<ItemDef OID="IT.CM.CMSPNUM" Name="CMSPNUM" DataType="integer"/>
</MetaDataVersion></Study></ODM>
"""


def test_define_xml_datatype_comes_before_the_model(tmp_path: Path) -> None:
    _write(tmp_path / "define.xml", _DEFINE)
    path = _write(tmp_path / "cm.csv", "STUDYID,DOMAIN,USUBJID,CMSEQ,CMTRT,VISITNUM,CMSPNUM\n"
                  "S1,CM,S1-1,1,ASPIRIN,1,7\nS1,CM,S1-1,2,ASPIRIN,2,\n")
    _, df = read_csv(path)
    assert df["VISITNUM"].tolist() == ["1", "2"]  # define.xml: text, though the model says Num
    assert df["CMSPNUM"].dtype == "float64"  # define.xml: integer, though the model does not know it
    assert df["CMSPNUM"].iloc[0] == 7 and pd.isna(df["CMSPNUM"].iloc[1])
