"""A laboratory test with results in two standard units: ADLB makes one parameter per unit (PARAMCD with a
suffix, PARAM naming the unit), so PARAMCD, PARAM and unit stay one-to-one (ADaMIG 1.3) and MSC-ADAM-009 holds;
the same ADLB with the plain LBTESTCD as PARAMCD breaks it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from msc_interop.adam.adlb import paramcds
from msc_interop.adam.reverse import study_from_adam
from msc_interop.api import to_adam, to_sdtm
from msc_interop.validate import validate_paths
from msc_interop.validate.model import Scope
from msc_interop.validate.registry import run
from msc_interop.validate.rules.adam import AdamContext

from .conftest import CREATED, EXAMPLE

SUBJECT = "MSC-SLE-2009-01-02"
UMOL_PER_MG_DL = 17.1  # bilirubin 584.66 g/mol: 1 mg/dL = 10 mg/L / 584.66 g/mol = 17.10 umol/L


@pytest.fixture(scope="module")
def two_units(tmp_path_factory):
    """The example study's SDTM with subject 01-02's bilirubin reported in mg/dL, and its ADaM."""
    base = tmp_path_factory.mktemp("two-units")
    to_sdtm(EXAMPLE, base / "sdtm", formats=["csv"], created=CREATED)
    lb_path = base / "sdtm" / "csv" / "lb.csv"
    lb = pd.read_csv(lb_path, dtype=str, keep_default_na=False)
    rows = (lb["USUBJID"] == SUBJECT) & (lb["LBTESTCD"] == "BILI")
    for col in ("LBSTRESN", "LBSTNRLO", "LBSTNRHI"):
        lb.loc[rows, col] = [f"{float(x) / UMOL_PER_MG_DL:.2f}" for x in lb.loc[rows, col]]
    lb.loc[rows, "LBSTRESC"] = lb.loc[rows, "LBSTRESN"]
    lb.loc[rows, "LBSTRESU"] = "mg/dL"
    lb.to_csv(lb_path, index=False)
    out = base / "adam"
    result = to_adam([base / "sdtm" / "csv"], out, formats=["json"], created=CREATED)
    return lb, rows, out, result


def test_one_parameter_per_unit(two_units):
    lb, rows, _, result = two_units
    adlb = result.adam["ADLB"]
    bili = adlb[adlb["LBTESTCD"] == "BILI"]
    # "mg/dL" sorts before "umol/L": BILI1 is the mg/dL parameter, BILI2 the umol/L one
    got = bili[["PARAMCD", "PARAM", "LBSTRESU"]].drop_duplicates().sort_values("PARAMCD").values.tolist()
    assert got == [["BILI1", "Bilirubin (mg/dL)", "mg/dL"], ["BILI2", "Bilirubin (umol/L)", "umol/L"]]
    assert set(bili.loc[bili["USUBJID"] == SUBJECT, "PARAMCD"]) == {"BILI1"}
    assert set(bili.loc[bili["USUBJID"] != SUBJECT, "PARAMCD"]) == {"BILI2"}
    assert int((bili["PARAMCD"] == "BILI1").sum()) == int(rows.sum())
    # the subject's baseline is its own mg/dL record (LBLOBXFL = Y), BASE on every record of the parameter
    mine = bili[bili["USUBJID"] == SUBJECT]
    flagged = lb[rows & (lb["LBLOBXFL"] == "Y")]
    assert len(flagged) == 1 and (mine["BASE"] == float(flagged["LBSTRESN"].iloc[0])).all()
    assert adlb.groupby("PARAMCD")["PARAM"].nunique().max() == 1
    assert adlb.groupby("PARAM")["PARAMCD"].nunique().max() == 1


def test_written_adam_validates_and_reads_back(two_units):
    lb, _, out, _ = two_units
    report = validate_paths([out / "json"])
    assert [f.rule_id for f in report.findings if f.severity == "error"] == []
    back = study_from_adam(out / "json")["LB"]
    pairs = {tuple(x) for x in back[["LBTESTCD", "LBSTRESU"]].drop_duplicates().values.tolist()}
    assert pairs == {tuple(x) for x in lb[["LBTESTCD", "LBSTRESU"]].drop_duplicates().values.tolist()}


def test_plain_testcd_breaks_msc_adam_009(two_units):
    _, _, _, result = two_units
    adlb = result.adam["ADLB"].assign(PARAMCD=result.adam["ADLB"]["LBTESTCD"])
    found = [f for f in run(Scope.ADAM, AdamContext({"ADSL": result.adam["ADSL"], "ADLB": adlb}))
             if f.rule_id == "MSC-ADAM-009"]
    # ADLB keeps LB's order (subject 01 first, in umol/L): one finding for BILI's second PARAM and one for its
    # second unit, both at subject 01-02's first bilirubin record
    assert sorted((f.variable_or_path, f.value) for f in found) == [("LBSTRESU", "mg/dL"),
                                                                     ("PARAM", "Bilirubin (mg/dL)")]
    first = int(np.flatnonzero((adlb["LBTESTCD"] == "BILI") & (adlb["USUBJID"] == SUBJECT))[0]) + 1
    assert {f.row_or_entry for f in found} == {first}


def test_paramcd_suffix_keeps_eight_characters_and_avoids_taken_codes():
    got = paramcds(pd.Series(["CA19_9AG", "CA19_9AG", "GLUC", "GLUC1", "GLUC", "ALT"]))
    assert got.tolist() == ["CA19_9A1", "CA19_9A2", "GLUC2", "GLUC1", "GLUC3", "ALT"]
