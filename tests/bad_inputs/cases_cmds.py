"""Bad CM / DS input (issue 14): the medications and disposition forms, and MedicationStatements read from FHIR.
The example study has 36 medication rows (9 subjects x 4), 9 disposition rows and 36 MedicationStatements."""

from __future__ import annotations

from pathlib import Path

from .registry import case, edit_bundle_entry, edit_csv_rows


def _med_row(**values: str):
    def change(d: Path) -> None:
        path = d / "medications.csv"
        new = [k for k in values if k not in path.read_text(encoding="utf-8").splitlines()[0].split(",")]
        if new:  # a column the fixture lacks: added, empty on the other rows
            lines = path.read_text(encoding="utf-8").splitlines()
            path.write_text("\n".join([lines[0] + "," + ",".join(new), *(ln + "," * len(new) for ln in lines[1:])])
                            + "\n", encoding="utf-8")

        def edit(rows: list[dict[str, str]]) -> None:
            rows[0].update(values)  # line 2: subject 01's cyclophosphamide, ended 2009-08-22
        edit_csv_rows(path, edit)
    return change


case("records/medications.csv-ongoing-with-an-end-date", "records", "to-sdtm", 1,
     ("medications.csv row 2, ongoing=", "marked ongoing but has an end date"), {"medications": (36, 35, 1)})(
    _med_row(ongoing="Y"))
case("records/medications.csv-atc-code-not-in-the-dictionary", "records", "to-sdtm", 1,
     ("medications.csv row 2, atc_code=", "not the ATC code of a substance"), {"medications": (36, 35, 1)})(
    _med_row(atc_code="A01AA01"))
case("records/medications.csv-frequency-not-a-freq-term", "records", "to-sdtm", 1,
     ("medications.csv row 2, frequency=", "not a CDISC FREQ term"), {"medications": (36, 35, 1)})(
    _med_row(frequency="now and then"))
# a medication the study dictionary does not know is kept as reported (CMDECOD empty; validate warns)
case("records/medications.csv-medication-not-in-the-dictionary-is-kept", "records", "to-sdtm", 0,
     ("medications: read 36 = converted 36",), {"medications": (36, 36, 0)})(
    _med_row(medication="Aspirin"))


@case("records/disposition.csv-event-not-an-ncomplt-term", "records", "to-sdtm", 1,
      ("disposition.csv row 2, event=", "not a CDISC NCOMPLT term"), {"disposition": (9, 8, 1)})
def _(d: Path) -> None:
    edit_csv_rows(d / "disposition.csv", lambda rows: rows[0].update(event="FINISHED"))


MS_ONE_REJECTED = {"MedicationStatement": (36, 35, 1)}


@case("fhir/medicationstatement-entered-in-error", "fhir-bundle", "from-fhir", 1,
      ("bundle.json", "MedicationStatement.status", "entered-in-error"), MS_ONE_REJECTED)
def _(d: Path) -> None:
    edit_bundle_entry(d, "MedicationStatement", lambda e: e["resource"].update(status="entered-in-error"))


@case("fhir/medicationstatement-without-a-medication", "fhir-bundle", "from-fhir", 1,
      ("bundle.json", "MedicationStatement.medication", "no medication name"), MS_ONE_REJECTED)
def _(d: Path) -> None:
    edit_bundle_entry(d, "MedicationStatement", lambda e: e["resource"].pop("medicationCodeableConcept"))


@case("fhir/medicationstatement-dosage-is-a-string", "fhir-bundle", "from-fhir", 1, ("bundle.json", "dosage"),
      MS_ONE_REJECTED)
def _(d: Path) -> None:
    edit_bundle_entry(d, "MedicationStatement", lambda e: e["resource"].update(dosage="twice a day"))
