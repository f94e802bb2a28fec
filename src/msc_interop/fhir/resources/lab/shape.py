"""The elements of an Observation that reading uses, with their FHIR JSON shape (fhir/shapes.py)."""

from __future__ import annotations

from msc_interop.fhir.shapes import EXTENSION_PATHS, Shape, kept_text


def _quantity(name: str) -> tuple[str, ...]:
    return (f"{name}.value", *kept_text(f"{name}._value"))


OBSERVATION = Shape("Observation", [
    "id", "status", "identifier.system", "identifier.value",
    "category.coding.system", "category.coding.code", "category.text",
    "code.coding.system", "code.coding.code", "code.coding.display", "code.text",
    "subject.reference", "subject.identifier.system", "subject.identifier.value",
    "encounter.reference",
    "effectiveDateTime", *kept_text("_effectiveDateTime"), "effectivePeriod.start", "effectivePeriod.end",
    "effectiveInstant",
    "performer.reference", "performer.display",
    *_quantity("valueQuantity"), "valueQuantity.comparator", "valueQuantity.unit", "valueQuantity.system",
    "valueQuantity.code",
    "valueCodeableConcept.text", "valueCodeableConcept.coding.display", "valueCodeableConcept.coding.code",
    "valueString",
    "dataAbsentReason.text", "dataAbsentReason.coding.display", "dataAbsentReason.coding.code",
    "interpretation.text", "interpretation.coding.system", "interpretation.coding.code",
    "specimen.reference", "contained(Specimen).id", "contained(Specimen).type.text",
    "contained(Specimen).type.coding.display",
    *_quantity("referenceRange.low"), *_quantity("referenceRange.high"), "referenceRange.low.unit",
    "referenceRange.low.system", "referenceRange.low.code", "referenceRange.high.unit", "referenceRange.high.system",
    "referenceRange.high.code", "referenceRange.type.coding.system", "referenceRange.type.coding.code",
    "referenceRange.type.text", "referenceRange.text",
    *EXTENSION_PATHS,
], kept={"encounter": "a visit"})

# checked once per distinct value (the Flattener's memos), and per Observation
STATIC = ("category", "code", "performer", "interpretation", "contained", "referenceRange")
PER_ROW = ("id", "status", "identifier", "subject", "encounter", "effectiveDateTime", "_effectiveDateTime",
           "effectivePeriod", "effectiveInstant", "valueCodeableConcept", "valueString", "dataAbsentReason",
           "specimen")
