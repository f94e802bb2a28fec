"""CM <-> MedicationStatement: the elements written per version (checked by hand against the FHIR R4 and R5
MedicationStatement pages and the Joint Mapping IG CM rows), and CM round trips cell-identical from CDISC's
pilot package and example package (skipped without ../shared). The bundled study's CM round trip is part of
test_fhir_roundtrip.py (assert_same compares CM)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pandas as pd
import pytest
from fhir_fixtures import example, written  # noqa: F401

from msc_interop.fhir import read_fhir, write_fhir
from msc_interop.inputs.load import load_study
from msc_interop.study import Study


def _statements(folder: Path) -> list[dict]:
    return [orjson.loads(line) for line in (folder / "MedicationStatement.ndjson").read_bytes().splitlines()]


def _first(statements: list[dict], subject_part: str, text: str) -> dict:
    for s in statements:
        concept = s.get("medicationCodeableConcept") or s["medication"]["concept"]
        if concept["text"] == text and s["subject"]["reference"].endswith(subject_part):
            return s
    raise AssertionError(f"no {text} statement")


def test_r4_statement_of_an_ongoing_prednisone(example: Study, written: dict[str, Path]) -> None:  # noqa: F811
    cm = example["CM"]
    row = cm[(cm["CMTRT"] == "Prednisone") & (cm["CMENRTPT"] == "ONGOING")].iloc[0]
    statements = _statements(written["R4"])
    assert len(statements) == len(cm) == 36  # 9 subjects x 4 medication intervals (synth seed profile)
    s = next(x for x in statements if x["identifier"][0]["value"].endswith(f"{row.USUBJID}/CM/{row.CMSEQ}"))
    assert s["status"] == "active"  # ongoing at the end of the study
    med = s["medicationCodeableConcept"]
    assert med["text"] == "Prednisone"
    assert {"system": "http://www.whocc.no/atc", "code": "H02AB07", "display": "PREDNISONE"} in med["coding"]
    assert {"system": "http://www.whocc.no/atc", "code": "H02AB", "display": "GLUCOCORTICOIDS"} in med["coding"]
    assert s["reasonCode"] == [{"text": "Systemic lupus erythematosus"}]
    dosage = s["dosage"][0]
    assert dosage["doseAndRate"][0]["doseQuantity"]["value"] == row.CMDOSE and dosage["timing"]["code"]["text"] == "QD"
    assert dosage["route"]["text"] == "ORAL"
    assert s["effectivePeriod"]["start"] == row.CMSTDTC and "end" not in s["effectivePeriod"]


def test_r5_uses_codeable_references_and_recorded_status(written: dict[str, Path]) -> None:  # noqa: F811
    statements = _statements(written["R5"])
    s = statements[0]
    assert s["status"] == "recorded" and "medicationCodeableConcept" not in s and "reasonCode" not in s
    assert s["medication"]["concept"]["text"] and s["reason"] == [{"concept": {"text": "Systemic lupus erythematosus"}}]


@pytest.mark.parametrize("package", ["cdisc-pilot-original", "dataset-json/examples-v1.1/sdtm"])
def test_cdisc_cm_round_trips_cell_identical(shared_dir: Path, package: str, tmp_path: Path) -> None:
    folder = shared_dir / "external" / package
    if not folder.is_dir():
        pytest.skip(f"{package} is not in ../shared/external")
    study, _ = load_study(folder)
    assert len(study["CM"]) in (7510, 68)  # the pilot's CM, the example package's CM
    for version, bundle in (("R4", "none"), ("R5", "collection")):
        write_fhir(study, tmp_path / version, version=version, bundle=bundle, ndjson=bundle == "none")
        paths = [tmp_path / version] if bundle == "none" else [tmp_path / version / "bundle.json"]
        back, report = read_fhir(paths)
        assert len(report) == 0
        pd.testing.assert_frame_equal(study["CM"], back["CM"], check_exact=True, obj=f"CM {package} {version}")
        if "SV" in study.datasets:  # the pilot's SV, carried on the ResearchSubjects
            pd.testing.assert_frame_equal(study["SV"], back["SV"], check_exact=True, obj=f"SV {package} {version}")
