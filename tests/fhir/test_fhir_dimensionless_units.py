"""from-fhir on dimensionless lab results: UCUM's unity "1" (the UCUM code of a number without dimension) on a test
that has no unit in CDISC (specific gravity, pH) is no unit, not CDISC RATIO; INR, which takes RATIO, keeps it.
The writer gives such a result UCUM's unity, which another system re-sending it must not turn into RATIO."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pandas as pd
from fhir_fixtures import example  # noqa: F401

from msc_interop.fhir import read_fhir, write_fhir
from msc_interop.study import Study

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
LAB = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}


def _obs(i: int, loinc: str, quantity: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": f"o{i}", "status": "final", "category": [LAB],
            "code": {"coding": [{"system": LOINC, "code": loinc}]}, "subject": {"reference": "Patient/p1"},
            "effectiveDateTime": "2021-03-04", "valueQuantity": quantity, **more}


def _read(tmp_path: Path, *observations: dict[str, Any]) -> tuple[Any, Any]:
    resources = [{"resourceType": "Patient", "id": "p1"}, *observations]
    path = tmp_path / "in.json"
    path.write_bytes(orjson.dumps({"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": f"urn:uuid:00000000-0000-0000-0000-{i:012d}", "resource": r} for i, r in enumerate(resources)]}))
    return read_fhir([path], strict=True)


def test_specific_gravity_and_ph_in_ucum_unity_have_no_unit(tmp_path: Path) -> None:
    # LOINC 5811-5 / 2965-2 -> SPGRAV (CDISC CT C64832), 5803-2 -> PH (C45997): mappings/lab_tests.yaml, standard
    # unit empty (CDISC UNIT C71620 has no term for either). UCUM "1" is the unity: a dimensionless number.
    unity = {"system": UCUM, "code": "1"}
    limits = {"low": {"value": 1.005, **unity}, "high": {"value": 1.030, **unity}}
    study, report = _read(
        tmp_path,
        _obs(1, "5811-5", {"value": 1.015, **unity}),
        _obs(2, "2965-2", {"value": 1.02, "unit": "1", **unity}, referenceRange=[limits]),
        _obs(3, "5803-2", {"value": 6.5, **unity}),
        _obs(4, "2965-2", {"value": 1.025}),  # no unit at all
    )
    assert not report.rejects
    lb = study["LB"].sort_values(["LBTESTCD", "LBORRES"])
    got = lb[["LBTESTCD", "LBORRES", "LBORRESU", "LBSTRESN", "LBSTRESU"]].values.tolist()
    assert got == [["PH", "6.5", "", 6.5, ""], ["SPGRAV", "1.015", "", 1.015, ""], ["SPGRAV", "1.02", "", 1.02, ""],
                   ["SPGRAV", "1.025", "", 1.025, ""]]
    ranged = lb[lb["LBORRES"] == "1.02"].iloc[0]
    assert (ranged["LBORNRLO"], ranged["LBORNRHI"], ranged["LBSTNRLO"], ranged["LBSTNRHI"]) == (
        "1.005", "1.03", 1.005, 1.03)


def test_inr_in_ucum_unity_stays_a_ratio(tmp_path: Path) -> None:
    # LOINC 6301-6 -> INR (C64805): lab_tests.yaml takes no unit or RATIO (C44256, UCUM 1), standard unit empty
    study, report = _read(tmp_path, _obs(1, "6301-6", {"value": 1.1, "system": UCUM, "code": "1"}))
    assert not report.rejects
    assert study["LB"][["LBTESTCD", "LBORRESU", "LBSTRESN", "LBSTRESU"]].values.tolist() == [
        ["INR", "RATIO", 1.1, ""]]


def test_a_written_specific_gravity_is_ucum_unity_and_reads_back_from_another_system(
        example: Study, tmp_path: Path) -> None:  # noqa: F811
    dm = example["DM"].iloc[:1]
    lb = pd.DataFrame({"STUDYID": dm["STUDYID"].iloc[0], "DOMAIN": "LB", "USUBJID": dm["USUBJID"].iloc[0],
                       "LBSEQ": [1], "LBTESTCD": "SPGRAV", "LBTEST": "Specific Gravity", "LBCAT": "URINALYSIS",
                       "LBORRES": "1.015", "LBORRESU": "", "LBSTRESC": "1.015", "LBSTRESN": 1.015, "LBSTRESU": "",
                       "LBSPEC": "URINE", "LBDTC": "2021-03-04"})
    write_fhir(Study(example.meta, {"DM": dm, "LB": lb}), tmp_path, version="R4", bundle="collection")
    [obs] = [e["resource"] for e in orjson.loads((tmp_path / "bundle.json").read_bytes())["entry"]
             if e["resource"]["resourceType"] == "Observation"]
    assert obs["valueQuantity"] == {"value": 1.015, "system": UCUM, "code": "1"}  # UCUM's unity, no unit text
    # as another system re-sends it: its LOINC and Quantity, without msc-interop's identifier and CDISC codes
    foreign = _obs(1, obs["code"]["coding"][0]["code"], obs["valueQuantity"])
    study, report = _read(tmp_path, foreign)
    assert not report.rejects
    assert study["LB"][["LBTESTCD", "LBORRES", "LBORRESU", "LBSTRESU"]].values.tolist() == [
        ["SPGRAV", "1.015", "", ""]]
