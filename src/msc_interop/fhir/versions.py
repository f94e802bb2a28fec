"""Every difference between FHIR R4 and R5 that msc-interop meets, in one table.

R4 output is checked with the R4B models and schema (fhir.resources ships R4B, not 4.0.1; for the resources
written here R4B content equals R4). Each row is (resource, concept, R4 element, R5 element, note); an empty
element means "not in that version". Code asks `spec.el("AdverseEvent.event")` and gets the element name of
its version, so no builder or reader tests the version itself except through this table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from msc_interop.errors import MscInteropError

# resource, concept, R4 (R4B) element, R5 element, note (checked against fhir.resources R4B and R5 models)
DIFFERENCES: tuple[tuple[str, str, str, str, str], ...] = (
    ("AdverseEvent", "event", "event", "code", "the event's code (MedDRA codings, AETERM text)"),
    ("AdverseEvent", "date", "date", "occurrenceDateTime", "AESTDTC; R5 occurrence[x]"),
    ("AdverseEvent", "period", "", "occurrencePeriod", "AESTDTC/AEENDTC when there is an end"),
    ("AdverseEvent", "end_extension", "ae_occurrence_r4", "", "R4 has no end: cross-version extension"),
    ("AdverseEvent", "condition", "resultingCondition", "resultingEffect", "resulting Condition (read only)"),
    ("AdverseEvent", "severity", "severity", "", "R5 removed severity: AE research IG extension ae-severity"),
    ("AdverseEvent", "severity_extension", "", "ae_severity_r5", "extension key in fhir_mapping.yaml"),
    ("AdverseEvent", "status", "", "status", "R5 requires status (AdverseEventStatus)"),
    ("AdverseEvent", "identifier_list", "", "identifier", "R4 identifier is 0..1, R5 0..*"),
    ("AdverseEvent", "outcome_list", "", "outcome", "R4 outcome 0..1, R5 0..*"),
    ("AdverseEventSuspectEntity", "instance", "instance", "instanceCodeableConcept",
     "R4 Reference, R5 instance[x]: the study treatment's name"),
    ("AdverseEventSuspectEntity", "causality_list", "causality", "", "R4 causality 0..*, R5 0..1"),
    ("AdverseEventSuspectEntityCausality", "relatedness", "productRelatedness", "entityRelatedness",
     "AEREL: R4 string, R5 CodeableConcept (text)"),
    ("MedicationAdministration", "medication_reference", "medicationReference", "",
     "R4 medication[x]; R5 medication is a CodeableReference"),
    ("MedicationAdministration", "medication_codeable_reference", "", "medication", "R5 CodeableReference"),
    ("MedicationAdministration", "effective", "effective", "occurence", "R5 spells occurence[x] (sic)"),
    ("MedicationAdministration", "encounter", "context", "encounter", "R4 context (Encounter|EpisodeOfCare)"),
    ("Medication", "form", "form", "doseForm", "EXDOSFRM"),
    ("MedicationStatement", "medication_concept", "medicationCodeableConcept", "",
     "CMTRT/CMDECOD/CMCLAS: R4 medication[x]; R5 medication is a CodeableReference (medication.concept)"),
    ("MedicationStatement", "reason_code", "reasonCode", "", "CMINDC: R4 reasonCode"),
    ("MedicationStatement", "reason_reference", "", "reason", "CMINDC: R5 reason (CodeableReference .concept)"),
    ("ResearchSubject", "individual", "individual", "subject", "the Patient"),
    ("ResearchSubject", "assigned", "assignedArm", "assignedComparisonGroup", "R4 arm name (string), R5 id"),
    ("ResearchSubject", "actual", "actualArm", "actualComparisonGroup", "R4 arm name (string), R5 id"),
    ("ResearchSubject", "state_in_status", "status", "", "R4 status is the subject state"),
    ("ResearchSubject", "progress", "", "progress",
     "R5 subject state in progress.subjectState; the placed DS record's reason and startDate"),
    ("ResearchStudy", "arm", "arm", "comparisonGroup", "R4 arm.name, R5 comparisonGroup.linkId + name"),
    ("ResearchStudy", "country", "location", "region", "COUNTRY of a site"),
    ("Encounter", "class_list", "", "class", "R4 class is one Coding (1..1), R5 a list of CodeableConcept"),
    ("Encounter", "class_coding", "class", "", "R4 class"),
    ("Encounter", "period", "period", "actualPeriod", "SVSTDTC..SVENDTC of the visit's SV record"),
    ("Procedure", "performed", "performed", "occurrence", "PRSTDTC: R4 performed[x], R5 occurrence[x]"),
)


@dataclass(frozen=True)
class FhirVersion:
    """One FHIR version: its name, the fhir.resources model package, the schema subset and its elements."""

    name: str  # "R4" or "R5"
    fhir_version: str  # the version this output claims (R4 4.0.1; validated with R4B 4.3.0 models)
    models_package: str
    schema_name: str
    elements: Mapping[str, str]

    def el(self, key: str) -> str:
        """Element name for "Resource.concept" in this version ("" when the version has no such element)."""
        try:
            return self.elements[key]
        except KeyError:
            raise KeyError(f"{key!r} is not in the R4/R5 difference table (fhir/versions.py)") from None

    def has(self, key: str) -> bool:
        return bool(self.el(key))

    def choice(self, key: str, type_name: str) -> str:
        """Choice element name, e.g. choice("MedicationAdministration.effective", "Period") -> effectivePeriod."""
        return self.el(key) + type_name


def _build(name: str, column: int, fhir_version: str, package: str, schema: str) -> FhirVersion:
    return FhirVersion(name, fhir_version, package, schema,
                       {f"{row[0]}.{row[1]}": row[column] for row in DIFFERENCES})


R4 = _build("R4", 2, "4.0.1", "fhir.resources.R4B", "R4B")
R5 = _build("R5", 3, "5.0.0", "fhir.resources", "R5")
VERSIONS = {"R4": R4, "R5": R5}


def get_version(name: str) -> FhirVersion:
    key = name.strip().upper()
    aliases = {"R4B": "R4", "4.0.1": "R4", "4.3.0": "R4", "5.0.0": "R5"}
    key = aliases.get(key, key)
    if key not in VERSIONS:
        raise MscInteropError(f"unknown FHIR version {name!r}; choose R4 or R5")
    return VERSIONS[key]


# Elements only one version has, per resource type: how a reader tells R4 from R5 content.
_R4_ONLY = {
    "AdverseEvent": ("event", "date", "severity", "resultingCondition"),
    "MedicationAdministration": ("medicationCodeableConcept", "medicationReference", "effectiveDateTime",
                                 "effectivePeriod", "context", "reasonCode", "reasonReference"),
    "ResearchSubject": ("individual", "assignedArm", "actualArm"),
    "ResearchStudy": ("arm", "location", "sponsor", "principalInvestigator", "enrollment"),
    "Encounter": ("period", "hospitalization", "classHistory", "reasonCode"),
    "Medication": ("form", "amount", "manufacturer"),
    "Observation": (),
    "Procedure": ("performedDateTime", "performedPeriod", "performedString", "performedAge", "performedRange",
                  "asserter", "reasonCode", "reasonReference", "usedReference", "usedCode"),
    "MedicationStatement": ("medicationCodeableConcept", "medicationReference", "reasonCode", "reasonReference",
                            "context", "statusReason"),
}
_R5_ONLY = {
    "AdverseEvent": ("code", "occurrenceDateTime", "occurrencePeriod", "occurrenceTiming", "resultingEffect",
                     "status", "participant", "mitigatingAction", "contributingFactor"),
    "MedicationAdministration": ("medication", "occurenceDateTime", "occurencePeriod", "occurenceTiming",
                                 "encounter", "reason", "recorded", "isSubPotent"),
    "ResearchSubject": ("subject", "progress", "assignedComparisonGroup", "actualComparisonGroup"),
    "ResearchStudy": ("comparisonGroup", "region", "associatedParty", "classifier", "recruitment"),
    "Encounter": ("actualPeriod", "admission", "plannedStartDate", "virtualService"),
    "Medication": ("doseForm", "totalVolume", "marketingAuthorizationHolder"),
    "Observation": ("triggeredBy", "instantiatesCanonical", "bodyStructure"),
    "Procedure": ("occurrenceDateTime", "occurrencePeriod", "occurrenceString", "occurrenceAge", "occurrenceRange",
                  "occurrenceTiming", "recorded", "reported", "reason", "used", "supportingInfo", "focus"),
    "MedicationStatement": ("medication", "reason", "encounter", "adherence", "relatedClinicalInformation"),
}


def evident_version(resource: Mapping[str, Any]) -> tuple[str | None, list[str]]:
    """("R4" | "R5" | None, the elements that tell): what a resource's own elements say about its version."""
    rtype = resource.get("resourceType")
    has = resource.__contains__  # filter() in C: this runs once per resource read
    r4 = list(filter(has, _R4_ONLY.get(rtype, ())))
    r5 = list(filter(has, _R5_ONLY.get(rtype, ())))
    if rtype == "Encounter" and "class" in resource:
        (r5 if isinstance(resource["class"], list) else r4).append("class")
    if r4 and not r5:
        return "R4", r4
    if r5 and not r4:
        return "R5", r5
    return None, r4 + r5
