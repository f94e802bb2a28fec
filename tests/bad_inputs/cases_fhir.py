"""Bad FHIR: Bundle entries and resources."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .registry import case, edit_bundle_entry, edit_json

# --- FHIR --------------------------------------------------------------------------------------------------------

OBS_ONE_REJECTED = {"Observation": (1264, 1263, 1)}  # 494 LB + 450 VS + 275 EG + 45 RE


@case("fhir/entry-request-without-resource", "fhir-bundle", "from-fhir", 1, ("bundle.json", "entry"))
def _(d: Path) -> None:
    edit_json(d / "bundle.json", lambda b: b["entry"].append({"request": {"method": "PUT", "url": "Patient/x"}}))


@case("fhir/observation-subject-is-a-string", "fhir-bundle", "from-fhir", 1, ("bundle.json", "subject"),
      OBS_ONE_REJECTED)
def _(d: Path) -> None:
    edit_bundle_entry(d, "Observation", lambda e: e["resource"].update(subject="Patient/x"))


@case("fhir/observation-valuequantity-is-a-list", "fhir-bundle", "from-fhir", 1, ("bundle.json", "valueQuantity"),
      OBS_ONE_REJECTED)
def _(d: Path) -> None:
    edit_bundle_entry(d, "Observation", lambda e: e["resource"].update(valueQuantity=[1]))


def _effective(value: str) -> Callable[[Path], None]:
    def change(d: Path) -> None:
        edit_bundle_entry(d, "Observation", lambda e: e["resource"].update(effectiveDateTime=value))
    return change


for _id, _value in (("offset-plus-25h", "2009-02-03T08:38:00+25:00"), ("february-30", "2009-02-30T08:38:00+08:00"),
                    ("year-1-with-offset", "0001-01-01T00:00:00+08:00")):
    case(f"fhir/observation-effective-{_id}", "fhir-bundle", "from-fhir", 1, ("bundle.json", "effective"),
         OBS_ONE_REJECTED)(_effective(_value))


AE_ONE_REJECTED = {"AdverseEvent": (1, 0, 1)}
EX_ONE_REJECTED = {"MedicationAdministration": (18, 17, 1)}


@case("fhir/adverseevent-subject-is-a-string", "fhir-bundle", "from-fhir", 1, ("bundle.json", "subject"),
      AE_ONE_REJECTED)
def _(d: Path) -> None:
    edit_bundle_entry(d, "AdverseEvent", lambda e: e["resource"].update(subject="Patient/x"))


@case("fhir/adverseevent-event-is-a-list", "fhir-bundle", "from-fhir", 1, ("bundle.json", "event"),
      AE_ONE_REJECTED)
def _(d: Path) -> None:
    edit_bundle_entry(d, "AdverseEvent", lambda e: e["resource"].update(event=[e["resource"]["event"]]))


@case("fhir/adverseevent-date-february-30", "fhir-bundle", "from-fhir", 1, ("bundle.json", "AdverseEvent.date"),
      AE_ONE_REJECTED)
def _(d: Path) -> None:
    def change(e: dict[str, Any]) -> None:
        e["resource"].pop("_date", None)
        e["resource"]["date"] = "2014-02-30"
    edit_bundle_entry(d, "AdverseEvent", change)


@case("fhir/medicationadministration-subject-is-a-string", "fhir-bundle", "from-fhir", 1,
      ("bundle.json", "subject"), EX_ONE_REJECTED)
def _(d: Path) -> None:
    edit_bundle_entry(d, "MedicationAdministration", lambda e: e["resource"].update(subject="Patient/x"))


@case("fhir/medicationadministration-dosage-is-a-list", "fhir-bundle", "from-fhir", 1, ("bundle.json", "dosage"),
      EX_ONE_REJECTED)
def _(d: Path) -> None:
    edit_bundle_entry(d, "MedicationAdministration", lambda e: e["resource"].update(dosage=[e["resource"]["dosage"]]))


@case("fhir/medicationadministration-start-offset-plus-25h", "fhir-bundle", "from-fhir", 1,
      ("bundle.json", "effectivePeriod.start"), EX_ONE_REJECTED)
def _(d: Path) -> None:
    def change(e: dict[str, Any]) -> None:
        period = e["resource"]["effectivePeriod"]
        period.pop("_start", None)
        period["start"] = "2014-01-02T08:00:00+25:00"
    edit_bundle_entry(d, "MedicationAdministration", change)


@case("fhir/patient-birthdate-february-30", "fhir-bundle", "from-fhir", 1, ("bundle.json", "Patient.birthDate"),
      {"Patient": (9, 9, 0), "ResearchSubject": (9, 9, 0)})
def _(d: Path) -> None:
    def change(e: dict[str, Any]) -> None:  # the subject is kept, without its birth date
        e["resource"].pop("_birthDate", None)
        e["resource"]["birthDate"] = "1950-02-30"
    edit_bundle_entry(d, "Patient", change)


def _quantity_value(value: Any) -> Callable[[Path], None]:
    def change(d: Path) -> None:
        edit_bundle_entry(d, "Observation", lambda e: e["resource"]["valueQuantity"].update(value=value))
    return change


for _id, _value in (("text", "abc"), ("boolean", True)):
    case(f"fhir/observation-value-is-{_id}", "fhir-bundle", "from-fhir", 1, ("bundle.json", "valueQuantity"),
         OBS_ONE_REJECTED)(_quantity_value(_value))

case("fhir/observation-effective-is-a-number", "fhir-bundle", "from-fhir", 1, ("bundle.json", "effective"),
     OBS_ONE_REJECTED)(_effective(20090203))  # type: ignore[arg-type]
