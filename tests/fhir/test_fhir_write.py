"""write_fhir: the bundled study as FHIR R4 and R5, every resource valid (models, official schema, fast)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson
import pandas as pd
import pytest
from fhir_fixtures import cdisc, example, written  # noqa: F401

from msc_interop.errors import InputError
from msc_interop.fhir import write_fhir
from msc_interop.fhir.validate import ModelValidator
from msc_interop.fhir.versions import get_version
from msc_interop.study import Study

SCHEMAS = {"R4": "R4B-4.3.0", "R5": "R5-5.0.0"}


def bundle_resources(folder: Path) -> list[dict[str, Any]]:
    return [e["resource"] for e in orjson.loads((folder / "bundle.json").read_bytes())["entry"]]


@functools.cache
def official_validator(shared: str, version: str, resource_type: str) -> Any:
    path = Path(shared) / "external" / "fhir-schema" / SCHEMAS[version] / "fhir.schema.json"
    text = path.read_text(encoding="utf-8")
    if version == "R5":
        text = text.replace("[0-9]{1,9}})?", "[0-9]{1,9})?")  # the one broken pattern in the R5 schema
    schema = json.loads(text)
    return jsonschema_rs.validator_for({"$schema": schema["$schema"], "$ref": f"#/definitions/{resource_type}",
                                        "definitions": schema["definitions"]})


@pytest.mark.parametrize("version", ["R4", "R5"])
def test_every_resource_passes_fhir_resources_models(written: dict[str, Path], version: str) -> None:  # noqa: F811
    models = ModelValidator(get_version(version))
    resources = bundle_resources(written[version])
    problems = [(r["resourceType"], r["id"], models.errors(r)) for r in resources]
    assert [p for p in problems if p[2]] == []
    assert len(resources) == 597 + 450 + 275 + 105 + 36  # + VS, EG Observations; MH, PR, RE; 36 MedicationStatements


@pytest.mark.parametrize("version", ["R4", "R5"])
def test_every_resource_passes_the_official_json_schema(written: dict[str, Path], version: str,  # noqa: F811
                                                        shared_dir: Path) -> None:
    bad = []
    for r in bundle_resources(written[version]):
        v = official_validator(str(shared_dir), version, r["resourceType"])
        if not v.is_valid(r):
            bad.append((r["id"], [e.message for e in v.iter_errors(r)][:2]))
    assert bad == []


@pytest.mark.parametrize("version", ["R4", "R5"])
def test_ndjson_layout_and_counts(written: dict[str, Path], version: str) -> None:  # noqa: F811
    folder = written[version]
    files = sorted(p.name for p in folder.glob("*.ndjson"))
    assert files == ["AdverseEvent.ndjson", "Condition.ndjson", "Encounter.ndjson", "MedicationAdministration.ndjson",
                     "MedicationStatement.ndjson", "Observation.ndjson", "Organization.ndjson", "Patient.ndjson",
                     "Procedure.ndjson",
                     "ResearchStudy.ndjson", "ResearchSubject.ndjson"]
    lines = (folder / "Observation.ndjson").read_bytes().splitlines()
    assert len(lines) == 494 + 450 + 275 + 45 and all(orjson.loads(x)["resourceType"] == "Observation" for x in lines)
    # NDJSON (Bulk Data) references are Type/id
    first = orjson.loads(lines[0])
    assert first["subject"]["reference"].startswith("Patient/")


def _references(node: Any) -> list[str]:
    out = []
    if isinstance(node, dict):
        if isinstance(node.get("reference"), str):
            out.append(node["reference"])
        for v in node.values():
            out += _references(v)
    elif isinstance(node, list):
        for v in node:
            out += _references(v)
    return out


@pytest.mark.parametrize("version", ["R4", "R5"])
def test_transaction_bundle_is_loadable(written: dict[str, Path], version: str) -> None:  # noqa: F811
    bundle = orjson.loads((written[version] / "bundle.json").read_bytes())
    assert bundle["type"] == "transaction"
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert len(set(urls)) == len(urls) and all(u.startswith("urn:uuid:") for u in urls)
    for e in bundle["entry"]:
        r = e["resource"]
        # PUT Type/id: loading twice updates instead of duplicating; ids are the resources' own
        assert e["request"] == {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}
        contained = {f"#{c['id']}" for c in r.get("contained", [])}
        for ref in _references(r):
            assert ref in contained or ref in set(urls), f"{r['id']}: dangling reference {ref}"
    # referenced resources come before the records that reference them
    order = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert order.index("Patient") < order.index("Encounter") < order.index("Observation")


def test_patient_carries_only_the_subject_identifier(written: dict[str, Path]) -> None:  # noqa: F811
    for r in bundle_resources(written["R4"]):
        if r["resourceType"] == "Patient":
            assert set(r) <= {"resourceType", "id", "identifier", "gender", "birthDate", "_birthDate",
                              "deceasedDateTime", "_deceasedDateTime", "deceasedBoolean"}
            assert [i["system"].rsplit("/", 1)[-1] for i in r["identifier"]] == ["usubjid"]


def test_observation_content(written: dict[str, Path]) -> None:  # noqa: F811
    obs = next(r for r in bundle_resources(written["R4"]) if r["resourceType"] == "Observation")
    systems = [c["system"] for c in obs["code"]["coding"]]
    assert systems == ["http://loinc.org", "https://msc-interop.github.io/fhir/CodeSystem/cdisc-lbtestcd",
                       "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"]
    assert obs["category"][0]["coding"][0]["code"] == "laboratory"
    assert obs["valueQuantity"]["system"] == "http://unitsofmeasure.org"
    assert obs["effectiveDateTime"] == "2009-09-30T08:38:00+08:00"   # LBDTC 2009-09-30T08:38, Asia/Shanghai
    assert obs["interpretation"][0]["coding"][0]["code"] == "N"
    assert "low" in obs["referenceRange"][0] and "high" in obs["referenceRange"][0]


def test_exposure_and_adverse_event_content(written: dict[str, Path]) -> None:  # noqa: F811
    r4 = bundle_resources(written["R4"])
    ma = next(r for r in r4 if r["resourceType"] == "MedicationAdministration")
    assert ma["dosage"]["dose"] == {"value": 1, "unit": "10^6/kg", "system": "http://unitsofmeasure.org",
                                    "code": "10*6/kg"}
    route = {c["system"]: c["code"] for c in ma["dosage"]["route"]["coding"]}
    assert route == {"http://snomed.info/sct": "47625008", "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl":
                     "C38276"}
    assert ma["contained"][0]["batch"]["lotNumber"] == "UC09-001"
    ae4 = next(r for r in r4 if r["resourceType"] == "AdverseEvent")
    assert ae4["severity"]["coding"][0]["code"] == "mild" and ae4["seriousness"]["coding"][0]["code"] == "non-serious"
    assert ae4["suspectEntity"][0]["causality"][0]["productRelatedness"] == "RELATED"
    assert {c["code"] for c in ae4["event"]["coding"]} >= {"10013573"}
    ae5 = next(r for r in bundle_resources(written["R5"]) if r["resourceType"] == "AdverseEvent")
    assert "code" in ae5 and "event" not in ae5 and "severity" not in ae5 and ae5["status"] == "completed"
    assert ae5["occurrencePeriod"] == {"start": "2009-03-28T09:52:00+08:00", "end": "2009-03-28T10:32:00+08:00"}
    assert any(e["url"].endswith("ae-research-ig/StructureDefinition/ae-severity") for e in ae5["extension"])


def test_output_is_deterministic(example: Study, tmp_path: Path) -> None:  # noqa: F811
    a = write_fhir(example, tmp_path / "a", version="R4", bundle="collection", ndjson=True)
    b = write_fhir(example, tmp_path / "b", version="R4", bundle="collection", ndjson=True)
    assert [p.name for p in a.paths] == [p.name for p in b.paths]
    for p, q in zip(a.paths, b.paths, strict=True):
        assert p.read_bytes() == q.read_bytes(), p.name


def test_options_are_checked(example: Study, tmp_path: Path) -> None:  # noqa: F811
    with pytest.raises(InputError, match="nothing to write"):
        write_fhir(example, tmp_path, bundle="none", ndjson=False)
    with pytest.raises(InputError, match="unknown bundle type 'batch'"):
        write_fhir(example, tmp_path, bundle="batch")
    with pytest.raises(InputError, match="unknown time zone"):
        write_fhir(example, tmp_path, timezone="Mars/Olympus")
    assert not any(tmp_path.iterdir())


def test_timezone_option_changes_offsets(example: Study, tmp_path: Path) -> None:  # noqa: F811
    write_fhir(example, tmp_path, bundle="none", ndjson=True, timezone="UTC")
    obs = orjson.loads((tmp_path / "Observation.ndjson").read_bytes().splitlines()[0])
    assert obs["effectiveDateTime"] == "2009-09-30T08:38:00+00:00"


def test_model_validation_option_and_warnings(example: Study, tmp_path: Path) -> None:  # noqa: F811
    result = write_fhir(example, tmp_path, version="R5", bundle="collection", validate="models")
    assert result.valid and result.validated == "models"
    assert result.counts["Observation"] == 494 + 450 + 275 + 45  # LB, VS, EG, the chest X-ray readings (RE)
    assert not result.warnings  # TS/TV ride on the ResearchStudy (sdtm-trial-design), so nothing is left out


def test_trial_design_survives_fhir(example: Study, tmp_path: Path) -> None:  # noqa: F811
    """TS/TV (title, indication, planned schedule with windows) and TA/TE (the arms, in their order) come back, so
    the summary matches exactly."""
    from msc_interop.fhir import read_fhir

    for version in ("R4", "R5"):
        write_fhir(example, tmp_path / version, version=version, bundle="collection")
        back, _ = read_fhir([tmp_path / version / "bundle.json"])
        for name in ("TS", "TV", "TA", "TE"):
            pd.testing.assert_frame_equal(back[name], example[name])
        cols = ["VISITNUM", "VISIT", "planned_dy", "window_before", "window_after"]
        pd.testing.assert_frame_equal(back.meta.visits[cols], example.meta.visits[cols], check_dtype=False)
        assert back.meta.title == example.meta.title and back.meta.protocol == example.meta.protocol


def test_cli_to_fhir_r5_validates_what_it_wrote_as_r5(tmp_path: Path) -> None:
    """Regression: the files written were checked as R4 (R4B models) whatever --fhir-version said, so an R5
    run exited 1 with hundreds of false findings."""
    from click.testing import CliRunner

    from msc_interop.cli import main

    example_study = Path(__file__).resolve().parents[2] / "fixtures" / "example_study"
    result = CliRunner().invoke(main, ["to-fhir", str(example_study), "-o", str(tmp_path / "r5"),
                                       "--fhir-version", "R5", "--ndjson"])
    assert result.exit_code == 0, result.output[-2000:]
    assert "validation of the files written: 0 error(s)" in result.output
    # and `validate` without --fhir-version tells R5 from the resources themselves
    from msc_interop.validate import validate_paths

    assert validate_paths([tmp_path / "r5"]).counts_by_severity().get("error", 0) == 0
    assert validate_paths([tmp_path / "r5"], fhir_version="R4").counts_by_severity().get("error", 0) > 0


def test_to_fhir_runs_the_validate_rules_on_everything_it_writes(tmp_path: Path) -> None:
    """to-fhir runs every `validate` rule on what it wrote whatever the size (NDJSON is validated as a stream):
    there is no size past which they are skipped, so the exit code does not depend on the study's size."""
    from msc_interop import api

    assert not hasattr(api, "VALIDATE_WRITTEN_LIMIT")
    example_study = Path(__file__).resolve().parents[2] / "fixtures" / "example_study"
    done, _ = api.to_fhir(example_study, tmp_path / "ndjson", ndjson=True, bundle="none")
    assert done.validation is not None and done.validation.valid and done.total == 597 + 450 + 275 + 105 + 36
    assert not any("msc-interop validate" in w for w in done.warnings)
    off, _ = api.to_fhir(example_study, tmp_path / "off", ndjson=True, validate=False)
    assert off.validation is None
