"""to-fhir on a study that is not the model study: LOINC and UCUM from the lab catalogue, MedDRA codings only with
their codes, and `validate` finds no error in what is written (CDISC's example SDTM, issue 13 Build 5)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from fhir_fixtures import assert_same, cdisc, example  # noqa: F401

from msc_interop import mappings
from msc_interop.fhir import read_fhir, write_fhir
from msc_interop.fhir.resources.lab.write import catalogue_loinc
from msc_interop.study import Study

LOINC, UCUM, MEDDRA = "http://loinc.org", "http://unitsofmeasure.org", "http://terminology.hl7.org/CodeSystem/mdr"


def _resources(folder: Path) -> list[dict[str, Any]]:
    return [e["resource"] for e in orjson.loads((folder / "bundle.json").read_bytes())["entry"]]


def _testcd(obs: dict[str, Any]) -> str:
    return next(c["code"] for c in obs["code"]["coding"] if c["system"].endswith("cdisc-lbtestcd"))


@pytest.fixture(scope="module")
def cdisc_fhir(cdisc: Study, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    out = tmp_path_factory.mktemp("cdisc-fhir")
    write_fhir(cdisc, out, version="R4", bundle="collection")
    return out


def test_catalogue_loinc_follows_unit_and_specimen() -> None:
    assert catalogue_loinc("GLUC", "mg/dL", "") == "2345-7"        # mass concentration in serum/plasma
    assert catalogue_loinc("GLUC", "mmol/L", "") == "14749-6"      # substance concentration
    assert catalogue_loinc("GLUC", "mg/dL", "BLOOD") == "2339-0"
    assert catalogue_loinc("GLUC", "mg/dL", "URINE") == "2350-7"
    assert catalogue_loinc("CREAT", "mg/dL", "") == "2160-0" and catalogue_loinc("CREAT", "umol/L", "") == "14682-9"
    assert catalogue_loinc("HGB", "g/dL", "") == "718-7"
    assert catalogue_loinc("GLUC", "mg/dL", "CEREBROSPINAL FLUID") == ""   # no LOINC for that specimen here
    assert catalogue_loinc("ANISO", "", "") == "" and catalogue_loinc("NOTATEST", "", "") == ""


def test_cdisc_example_observations_carry_loinc_and_ucum(cdisc_fhir: Path) -> None:
    every = [r for r in _resources(cdisc_fhir) if r["resourceType"] == "Observation"]
    assert len(every) == 3488 + 1414  # LB and VS
    obs = [o for o in every if any(c["system"].endswith("cdisc-lbtestcd") for c in o["code"]["coding"])]
    assert len(obs) == 3488
    # every vital sign carries the LOINC of the FHIR vital-signs profile and a UCUM unit
    vital = [o for o in every if o not in obs]
    assert all(any(c["system"] == LOINC for c in o["code"]["coding"]) for o in vital)
    assert all(o["valueQuantity"]["system"] == UCUM for o in vital if "valueQuantity" in o)
    with_loinc = {t for t, x in mappings.lab_tests().items() if x.loincs}
    missing = [o["id"] for o in obs if _testcd(o) in with_loinc
               and not any(c["system"] == LOINC and c.get("code") for c in o["code"]["coding"])]
    assert missing == []
    by_test = {_testcd(o): next(c["code"] for c in o["code"]["coding"] if c["system"] == LOINC)
               for o in obs if _testcd(o) in with_loinc}
    # the LOINC of the unit the lab reported (LBORRESU): mg/dL creatinine is 2160-0, not the umol/L 14682-9
    assert (by_test["CREAT"], by_test["GLUC"], by_test["HGB"], by_test["SODIUM"]) == (
        "2160-0", "2345-7", "718-7", "2951-2")
    quantities = [q for o in obs for q in (o.get("valueQuantity"), *(r.get(k) for r in o.get("referenceRange", [])
                                                                     for k in ("low", "high"))) if q]
    assert quantities and all(q.get("system") == UCUM and q.get("code") for q in quantities)
    ph = next(o for o in obs if _testcd(o) == "PH" and "valueQuantity" in o)
    assert ph["valueQuantity"]["code"] == "1" and "unit" not in ph["valueQuantity"]   # pH has no unit: UCUM unity


def test_cdisc_example_fhir_validates_without_error(cdisc_fhir: Path) -> None:
    from msc_interop.validate import validate_paths

    assert validate_paths([cdisc_fhir / "bundle.json"]).counts_by_severity().get("error", 0) == 0


def test_adverse_event_codings_carry_the_meddra_codes(example: Study, tmp_path: Path) -> None:  # noqa: F811
    """Every MedDRA code the AE records hold (LLT, PT, HLT, HLGT, SOC, body system) is a coding, none other."""
    write_fhir(example, tmp_path, version="R4", bundle="collection")
    got = Counter(c["code"] for r in _resources(tmp_path) if r["resourceType"] == "AdverseEvent"
                  for c in r["event"]["coding"] if c.get("system") == MEDDRA)
    ae = example["AE"]
    code_vars = [v for v in ("AELLTCD", "AEPTCD", "AEHLTCD", "AEHLGTCD", "AESOCCD", "AEBDSYCD") if v in ae]
    assert len(code_vars) >= 2
    expected = Counter(str(int(x)) for v in code_vars for x in ae[v] if str(x).strip() not in ("", "nan"))
    assert got == expected and sum(got.values()) >= len(ae)


def test_cdisc_example_adverse_events_without_codes_have_no_meddra_coding(cdisc_fhir: Path) -> None:
    """CDISC's example AE has terms only (no AEDECOD, no codes): the event is its text, no empty coding."""
    events = [r["event"] for r in _resources(cdisc_fhir) if r["resourceType"] == "AdverseEvent"]
    assert len(events) == 74 and all(e.get("text") for e in events)
    assert not any(e.get("coding") for e in events)


def test_no_meddra_coding_without_its_code_and_the_term_comes_back(example: Study,  # noqa: F811
                                                                  tmp_path: Path) -> None:
    ae = example["AE"].copy()
    ae["AEPTCD"] = ae["AEPTCD"].astype("float64")
    ae.loc[0, "AEPTCD"] = float("nan")           # a PT term without its code (dictionary not yet applied)
    study = Study(example.meta, {**example.datasets, "AE": ae})
    write_fhir(study, tmp_path, version="R4", bundle="collection")
    events = [r for r in _resources(tmp_path) if r["resourceType"] == "AdverseEvent"]
    codings = [c for r in events for c in r["event"].get("coding", [])]
    assert codings and all(c.get("system") == MEDDRA and c.get("code") for c in codings)
    levels = [c["extension"][0]["valueCode"] for c in events[0]["event"]["coding"]]
    assert "PT" not in levels and "LLT" in levels      # no PT coding: its term rides in sdtm-variables
    back, report = read_fhir([tmp_path / "bundle.json"])
    assert len(report) == 0
    assert_same(study, back, ("AE",))
