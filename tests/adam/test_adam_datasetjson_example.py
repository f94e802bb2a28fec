"""ADaM from CDISC's Dataset-JSON 1.1 example SDTM package (../shared/external/dataset-json/examples-v1.1/sdtm):
one ADSL row per DM subject, the files valid (validate, Dataset-JSON schema, define.xml XSD), ADAE's TRTEMFL equal
to a TEAE count made here from the SDTM XPTs alone and to the summary's Any-TEAE cells, ADLB one PARAMCD per
(LBTESTCD, LBSTRESU) with its codelist."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from lxml import etree

from msc_interop.api import load_study, to_adam
from msc_interop.sdtm.define import ODM_NS, xsd_errors
from msc_interop.summary import compute_tables
from msc_interop.validate import validate_paths

from .conftest import CREATED, XSD


@pytest.fixture(scope="module")
def package(shared_dir):
    path = shared_dir / "external" / "dataset-json" / "examples-v1.1" / "sdtm"
    if not path.is_dir():
        pytest.skip(f"{path} not found")
    return path


@pytest.fixture(scope="module")
def adam(package, tmp_path_factory):
    out = tmp_path_factory.mktemp("adam-dsj")
    return out, to_adam([package], out, created=CREATED)


def _xpt(package, name):
    return pd.read_sas(package / f"{name}.xpt", encoding="utf-8")


def test_adsl_one_row_per_subject(package, adam):
    _, result = adam
    adsl = result.adam["ADSL"]
    dm = _xpt(package, "dm")
    assert len(adsl) == adsl["USUBJID"].nunique() == dm["USUBJID"].nunique() == 18
    # CDISC015 has no arm and no RFXSTDTC (not treated): the one subject outside the safety population
    assert adsl.loc[adsl["SAFFL"].ne("Y"), "USUBJID"].tolist() == ["CDISC015"]


def test_files_valid(adam, shared_dir):
    import jsonschema

    out, _ = adam
    for fmt in ("xpt", "json"):
        assert validate_paths([out / fmt]).findings == []
        assert xsd_errors(out / fmt / "define.xml", shared_dir / XSD) == []
    schema = json.loads((shared_dir / "external" / "dataset-json" / "schema" / "v1.1" / "dataset.schema.json")
                        .read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema)
    for p in sorted((out / "json").glob("*.json")):
        assert list(validator.iter_errors(json.loads(p.read_text(encoding="utf-8")))) == [], p.name


def test_trtemfl_agrees_with_sdtm_and_the_teae_table(package, adam):
    _, result = adam
    adae = result.adam["ADAE"]
    by_trta = adae[adae["TRTEMFL"].eq("Y")].groupby("TRTA")["USUBJID"].nunique().to_dict()
    # from the XPTs alone: every AESTDTC is a complete date; TEAE = onset on or after the subject's RFXSTDTC
    dm, ae = _xpt(package, "dm"), _xpt(package, "ae")
    first = dm.set_index("USUBJID")["RFXSTDTC"]
    arm = dm.set_index("USUBJID")["ACTARM"]
    te = ae[ae["AESTDTC"] >= ae["USUBJID"].map(first)]
    assert len(te) == len(ae) == 74
    assert by_trta == te.groupby(te["USUBJID"].map(arm))["USUBJID"].nunique().to_dict() == {
        "Placebo": 3, "Zanomaline High Dose (81 mg)": 6, "Zanomaline Low Dose (54 mg)": 4}
    overview = compute_tables(load_study(package)[0])["ae_overview"].set_index("Category")
    for name, n in by_trta.items():
        col = next(c for c in overview.columns if c.startswith(f"{name} (N=") and c.endswith("n (%)"))
        assert overview.at["Any TEAE", col].startswith(f"{n} ("), name


def test_adlb_parameters_and_their_codelist(package, adam):
    out, result = adam
    adlb = result.adam["ADLB"]
    lb = _xpt(package, "lb")
    pairs = lb[["LBTESTCD", "LBSTRESU"]].drop_duplicates()
    assert len(pairs) == adlb["PARAMCD"].nunique() == adlb["PARAM"].nunique() == 40
    assert pairs["LBTESTCD"].is_unique  # one unit per test in this package: PARAMCD is the LBTESTCD
    assert set(adlb["PARAMCD"]) == set(lb["LBTESTCD"])
    doc = etree.parse(str(out / "xpt" / "define.xml"))
    items = doc.findall(f".//{{{ODM_NS}}}CodeList[@OID='CL.PARAMCD']/{{{ODM_NS}}}CodeListItem")
    decode = dict(adlb[["PARAMCD", "PARAM"]].drop_duplicates().values.tolist())
    assert {i.get("CodedValue"): i.findtext(f"{{{ODM_NS}}}Decode/{{{ODM_NS}}}TranslatedText") for i in items} == decode
