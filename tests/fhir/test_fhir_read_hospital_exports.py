"""from-fhir on what hospitals export: transaction Bundles of POST entries (urn:uuid references), lab panels
whose results are components, the 12-lead ECG report's heart rate, Patient.gender, and the TS variable order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pandas as pd
from fhir_fixtures import example  # noqa: F401

from msc_interop.fhir import read_fhir, write_fhir
from msc_interop.study import Study


def _bundle(tmp_path: Path, resources: list[dict[str, Any]], name: str = "in.json") -> Path:
    """The resources as one collection Bundle, each with a urn:uuid fullUrl."""
    entries = [{"fullUrl": f"urn:uuid:00000000-0000-0000-0000-{i:012d}", "resource": r}
               for i, r in enumerate(resources)]
    path = tmp_path / name
    path.write_bytes(orjson.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}))
    return path


# --- 4. Patient.gender -> SEX ---------------------------------------------------------------------------------

def test_administrative_gender_other_is_sex_u_not_intersex(tmp_path: Path) -> None:
    # Joint Mapping IG (cdiscMaps.csv, Patient.gender): male -> M, female -> F, other -> U, unknown -> U;
    # CDISC CT SEX (C66731) INTERSEX (C45908) is a biological sex, which administrative gender does not say
    genders = {"p1": "male", "p2": "female", "p3": "other", "p4": "unknown"}
    path = _bundle(tmp_path, [{"resourceType": "Patient", "id": p, "gender": g} for p, g in genders.items()])
    study, report = read_fhir([path])
    sex = dict(zip(study["DM"]["USUBJID"], study["DM"]["SEX"], strict=True))
    assert sex == {"p1": "M", "p2": "F", "p3": "U", "p4": "U"}
    assert not report.rejects


def test_intersex_written_by_msc_interop_comes_back_intersex(example: Study, tmp_path: Path) -> None:  # noqa: F811
    dm = example["DM"].copy()
    dm.loc[0, "SEX"] = "INTERSEX"
    study = Study(example.meta, {"DM": dm})
    write_fhir(study, tmp_path, version="R4", bundle="collection")
    back, _ = read_fhir([tmp_path / "bundle.json"])
    pd.testing.assert_series_equal(back["DM"]["SEX"].reset_index(drop=True), dm["SEX"].reset_index(drop=True),
                                   check_dtype=False)


# --- 5. TS variable order -----------------------------------------------------------------------------------

def test_ts_keeps_the_sdtmig_variable_order_through_fhir(example: Study, tmp_path: Path) -> None:  # noqa: F811
    # SDTMIG 3.4 TS (and CDISC's Dataset-JSON 1.1 ts.json): TSGRPID after TSSEQ, TSVALNF after TSVAL
    order = ["STUDYID", "DOMAIN", "TSSEQ", "TSGRPID", "TSPARMCD", "TSPARM", "TSVAL", "TSVALNF", "TSVALCD",
             "TSVCDREF", "TSVCDVER"]
    ts = pd.DataFrame({"STUDYID": example.meta.studyid, "DOMAIN": "TS", "TSSEQ": [1, 1], "TSGRPID": ["", "G1"],
                       "TSPARMCD": ["TITLE", "SPONSOR"], "TSPARM": ["Trial Title", "Clinical Study Sponsor"],
                       "TSVAL": ["A title", ""], "TSVALNF": ["", "NI"], "TSVALCD": "", "TSVCDREF": "",
                       "TSVCDVER": ""})
    study = Study(example.meta, {"DM": example["DM"], "TS": ts})
    assert list(study["TS"].columns) == order
    write_fhir(study, tmp_path, version="R4", bundle="collection")
    back, _ = read_fhir([tmp_path / "bundle.json"])
    assert list(back["TS"].columns) == order
    assert list(back["TS"]["TSGRPID"]) == ["", "G1"] and list(back["TS"]["TSVALNF"]) == ["", "NI"]
