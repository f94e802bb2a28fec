"""The R4/R5 difference table (fhir/versions.py) agrees with the fhir.resources R4B and R5 models."""

from __future__ import annotations

import importlib

import pytest

from msc_interop.errors import MscInteropError
from msc_interop.fhir import terms
from msc_interop.fhir.versions import DIFFERENCES, R4, R5, evident_version, get_version

RESOURCES = ("MedicationAdministration", "AdverseEvent", "ResearchSubject", "ResearchStudy", "Encounter",
             "MedicationStatement", "Medication", "Observation", "Procedure")


def _json_names(package: str, resource: str) -> set[str]:
    """JSON names of a model (a resource, or a backbone element such as AdverseEventSuspectEntity)."""
    module = next(r for r in RESOURCES if resource.startswith(r)).lower()
    cls = getattr(importlib.import_module(f"{package}.{module}"), resource)
    names = {f.alias or n for n, f in cls.model_fields.items()}
    # choice groups: "effective" stands for effectiveDateTime, effectivePeriod, ...
    for f in cls.model_fields.values():
        group = (f.json_schema_extra or {}).get("one_of_many")
        if group:
            names.add(group)
    return names


@pytest.mark.parametrize("row", DIFFERENCES, ids=[f"{r[0]}.{r[1]}" for r in DIFFERENCES])
def test_each_element_exists_in_its_version(row: tuple[str, str, str, str, str]) -> None:
    resource, _concept, r4, r5, _note = row
    for version, element in ((R4, r4), (R5, r5)):
        if not element:
            continue
        if element in terms.data()["extensions"]:
            continue  # an extension key from fhir_mapping.yaml, not an element
        assert element in _json_names(version.models_package, resource), \
            f"{resource}.{element} is not in {version.models_package}"


@pytest.mark.parametrize(("resource", "r4_only", "r5_only"), [
    ("AdverseEvent", ["event", "date", "severity", "resultingCondition"],
     ["code", "occurrence", "resultingEffect", "status"]),
    ("MedicationAdministration", ["medication", "effective", "context"], ["occurence", "encounter"]),
    ("ResearchSubject", ["individual", "assignedArm", "actualArm"], ["subject", "assignedComparisonGroup"]),
])
def test_renamed_elements_are_really_gone(resource: str, r4_only: list[str], r5_only: list[str]) -> None:
    r4 = _json_names(R4.models_package, resource)
    r5 = _json_names(R5.models_package, resource)
    assert set(r4_only) <= r4 and not (set(r4_only) - {"medication"}) & r5
    assert set(r5_only) <= r5 and not set(r5_only) & r4


def test_version_names_and_aliases() -> None:
    assert get_version("r4") is R4 and get_version("R4B") is R4 and get_version("5.0.0") is R5
    with pytest.raises(MscInteropError, match="choose R4 or R5"):
        get_version("R6")


def test_evident_version() -> None:
    assert evident_version({"resourceType": "AdverseEvent", "event": {}, "date": "2020"})[0] == "R4"
    assert evident_version({"resourceType": "AdverseEvent", "code": {}, "status": "completed"})[0] == "R5"
    assert evident_version({"resourceType": "Encounter", "class": [{"text": "x"}]})[0] == "R5"
    assert evident_version({"resourceType": "Encounter", "class": {"code": "AMB"}})[0] == "R4"
    assert evident_version({"resourceType": "Observation", "status": "final"})[0] is None
