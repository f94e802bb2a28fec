"""Bad ECG input (EG): ecg.csv, the ECG rows of findings.csv, ECG Observations of a FHIR Bundle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .example_counts import OBSERVATIONS
from .registry import case, edit_csv_rows, edit_json

ECG = 225  # rows of fixtures/example_study/ecg.csv (9 subjects x 5 visits x 5 intervals)
OBS = OBSERVATIONS  # Observations of the example study's Bundle


def _ecg_row(d: Path, row: int, **values: str) -> None:
    """Set fields of ecg.csv's data row `row` (0-based; CSV line row + 2)."""
    def change(rows: list[dict[str, str]]) -> None:
        rows[row].update(values)

    edit_csv_rows(d / "ecg.csv", change)


@case("records/ecg.csv-unknown-test", "records", "to-sdtm", 1, ("ecg.csv", "row 4", "'QTcX' is not an ECG test"),
      {"ecg": (ECG, ECG - 1, 1)})
def _(d: Path) -> None:
    _ecg_row(d, 2, test="QTcX")


@case("records/ecg.csv-qt-in-seconds", "records", "to-sdtm", 1,
      ("ecg.csv", "row 5", "unit", "'s' is not the unit of QTAG"), {"ecg": (ECG, ECG - 1, 1)})
def _(d: Path) -> None:
    _ecg_row(d, 3, result="0.412", unit="s")


@case("records/ecg.csv-unit-empty", "records", "to-sdtm", 1, ("ecg.csv", "row 2", "unit is empty", "beats/min"),
      {"ecg": (ECG, ECG - 1, 1)})
def _(d: Path) -> None:
    _ecg_row(d, 0, unit="")


@case("records/ecg.csv-result-not-a-number", "records", "to-sdtm", 1, ("ecg.csv", "row 6", "result"),
      {"ecg": (ECG, ECG - 1, 1)})
def _(d: Path) -> None:
    _ecg_row(d, 4, result="4O7")  # letter O for zero


@case("records/ecg.csv-time-not-hh-mm", "records", "to-sdtm", 1, ("ecg.csv", "row 2", "time"),
      {"ecg": (ECG, ECG - 1, 1)})
def _(d: Path) -> None:
    _ecg_row(d, 0, time="9.05")


@case("records/findings.csv-unknown-ecg-finding", "records", "to-sdtm", 1,
      ("findings.csv", "finding", "'Atrial flutter' is not a term of mappings/ecg.yaml"), {"findings": (90, 89, 1)})
def _(d: Path) -> None:
    def change(rows: list[dict[str, str]]) -> None:
        hit = [r for r in rows if r["subject_id"] == "06" and r["exam"] == "ECG" and r["visit"] == "Baseline"]
        hit[0]["finding"] = "Atrial flutter"

    edit_csv_rows(d / "findings.csv", change)


def _first_ecg_quantity(bundle: dict[str, Any]) -> dict[str, Any]:
    for e in bundle["entry"]:
        r = e.get("resource", {})
        codes = [c.get("system", "") for c in r.get("code", {}).get("coding", [])]
        if r.get("resourceType") == "Observation" and any(s.endswith("cdisc-egtestcd") for s in codes) \
                and "valueQuantity" in r:
            return r
    raise AssertionError("no ECG Observation with a valueQuantity")


@case("fhir/ecg-observation-unit-not-an-ecg-unit", "fhir-bundle", "from-fhir", 1,
      ("bundle.json", "Observation", "unit 'mm' is not an ECG unit"), {"Observation": (OBS, OBS - 1, 1)})
def _(d: Path) -> None:
    def change(bundle: dict[str, Any]) -> None:
        q = _first_ecg_quantity(bundle)["valueQuantity"]
        q.update(unit="mm", code="mm")

    edit_json(d / "bundle.json", change)


@case("fhir/ecg-observation-value-is-text", "fhir-bundle", "from-fhir", 1,
      ("bundle.json", "valueQuantity.value", "not a number"), {"Observation": (OBS, OBS - 1, 1)})
def _(d: Path) -> None:
    def change(bundle: dict[str, Any]) -> None:
        _first_ecg_quantity(bundle)["valueQuantity"]["value"] = "58"

    edit_json(d / "bundle.json", change)
