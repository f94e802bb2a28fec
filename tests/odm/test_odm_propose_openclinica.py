"""`odm-map` on an export it did not write: an OpenClinica-style file (tests/data/odm/openclinica_style.xml,
hand-written: OID style I_<FORM>_<ITEM>, CDASH item names without SDSVarName, a wide haematology form with one
LBORRES_<test> item per test, coded values 1/2, a wide VS form whose tests are left to a person)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from msc_interop.errors import InputError
from msc_interop.odm.mapping import load_mapping
from msc_interop.odm.propose import propose

EXPORT = Path(__file__).resolve().parents[1] / "data" / "odm" / "openclinica_style.xml"


@pytest.fixture(scope="module")
def proposal() -> str:
    return propose(EXPORT)


def test_cdash_names_and_codes_are_recognised(proposal: str) -> None:
    groups = yaml.safe_load(proposal)["item_groups"]
    dm = next(g for g in groups if g["form"] == "subjects")
    assert dm["fields"]["birth_date"] == "I_DEMOG_BRTHDAT"  # CDASH BRTHDAT, no SDSVarName
    ae = next(g for g in groups if g["form"] == "adverse_events")
    assert ae["fields"]["start_datetime"] == "I_AE_AESTDAT"
    assert ae["fields"]["ae_number"] == "@ItemGroupRepeatKey"


def test_a_wide_lab_form_becomes_one_entry_per_test(proposal: str) -> None:
    labs = [g for g in yaml.safe_load(proposal)["item_groups"] if g["form"] == "labs"]
    assert [(g["fields"]["test"], g["fields"]["result"]) for g in labs] == [
        ({"constant": "WBC"}, "I_LAB_LBORRES_WBC"), ({"constant": "HGB"}, "I_LAB_LBORRES_HGB"),
        ({"constant": "PLT"}, "I_LAB_LBORRES_PLT")]
    assert labs[0]["fields"]["unit"] == "@Unit(I_LAB_LBORRES_WBC)"
    assert "unit" not in labs[1]["fields"]  # HGB's ItemDef lists no unit
    assert all(g["fields"]["collection_datetime"] == "I_LAB_LBDAT" for g in labs)


def test_what_is_not_recognised_is_left_to_a_person(proposal: str) -> None:
    data = yaml.safe_load(proposal)
    decide = [line for line in proposal.splitlines() if line.startswith("# DECIDE")]
    # the VS form (Domain VS) now has a records form, vital_signs; its one-item-per-test layout is not split per
    # test as a wide lab form is: the test is left to a person, and so are the other result items
    vs = next(g for g in data["item_groups"] if g["item_group"] == "IG_VS_UNGROUPED")
    assert vs["form"] == "vital_signs" and "test" not in vs["fields"]
    assert any("IG_VS_UNGROUPED: no item recognised for the required field 'test' of vital_signs" in line
               for line in decide)
    assert any("IG_VS_UNGROUPED: item I_VS_DIABP" in line for line in decide)
    assert any("required field 'arm_code'" in line for line in decide)
    assert sum("wide lab form" in line for line in decide) == 3
    assert data["sites"] == {"S_MSC2009_NJ01": "NJ01"}


def test_a_mapping_without_the_required_forms_is_refused_clearly(tmp_path: Path, proposal: str) -> None:
    (tmp_path / "study.yaml").write_text(
        "studyid: MSC2009\ntitle: t\ntimezone: Asia/Shanghai\nsites: [{siteid: NJ01, country: CHN}]\n"
        "arms: [{armcd: UCMSC, arm: UC-MSC}]\n"
        "visits: [{visitnum: 1, visit: Screening, protocol_day: -3, epoch: SCREENING}]\n", encoding="utf-8")
    (tmp_path / "map.yaml").write_text(proposal, encoding="utf-8")
    with pytest.raises(InputError, match=r"no entry feeds the required form\(s\) exposures"):
        load_mapping(tmp_path / "map.yaml")
