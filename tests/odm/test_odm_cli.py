"""The command line with an ODM export: the mapping beside it or given with --odm-map, exit statuses, messages."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from conftest import EXAMPLE, REPO
from msc_interop.cli import main

ODM_DIR = REPO / "fixtures" / "example_study_odm"
EXPORT = ODM_DIR / "example_study.odm.xml"
MAPPING = ODM_DIR / "odm-map.yaml"
PINNED = "2026-01-01T00:00:00"
COUNTS = ["subjects: read 9 = converted 9 + rejected 0", "exposures: read 18 = converted 18 + rejected 0",
          "adverse_events: read 1 = converted 1 + rejected 0", "labs: read 494 = converted 494 + rejected 0",
          "findings: read 90 = converted 90 + rejected 0"]  # the ECG rows to EG, the chest X-rays to PR/RE


def break_ae_outcome(text: str) -> str:
    """The AE outcome as text the CodeList does not have (its CodedValue is RECOVERED/RESOLVED)."""
    good = '<ItemData ItemOID="IT.AE.AEOUT" Value="RECOVERED/RESOLVED"/>'
    assert good in text
    return text.replace(good, '<ItemData ItemOID="IT.AE.AEOUT" Value="RESOLVED"/>', 1)


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def export_alone(tmp_path: Path) -> tuple[Path, Path]:
    """The export in one folder with no mapping beside it; the mapping (made absolute) somewhere else."""
    export = tmp_path / "edc" / "export_2015-12-31.xml"
    export.parent.mkdir()
    shutil.copyfile(EXPORT, export)
    mapping = yaml.safe_load(MAPPING.read_text(encoding="utf-8"))
    mapping["study_definition"] = str(EXAMPLE / "study.yaml")
    map_path = tmp_path / "config" / "site01-map.yaml"
    map_path.parent.mkdir()
    map_path.write_text(yaml.safe_dump(mapping, sort_keys=False), encoding="utf-8")
    return export, map_path


def test_to_sdtm_finds_the_mapping_beside_the_export(tmp_path) -> None:
    res = run("to-sdtm", EXPORT, "-o", tmp_path, "--created", PINNED)
    assert res.exit_code == 0, res.output
    for line in COUNTS:
        assert line in res.output
    assert "example_study.odm.xml: ODM S.MSC-SLE-2009/MDV.1: 9 subject(s), 6742 ItemData read" in res.output
    assert f"wrote {tmp_path / 'xpt' / 'lb.xpt'} (494 records)" in res.output
    assert "validation of the files written: 0 error(s)" in res.output
    assert (tmp_path / "xpt" / "define.xml").is_file() and (tmp_path / "json" / "dm.json").is_file()


def test_to_sdtm_with_odm_map_option(export_alone, tmp_path) -> None:
    export, map_path = export_alone
    res = run("to-sdtm", export, "-o", tmp_path / "out", "--odm-map", map_path, "--created", PINNED,
              "--format", "csv", "--no-validate")
    assert res.exit_code == 0, res.output
    for line in COUNTS:
        assert line in res.output
    assert "export_2015-12-31.xml: ODM S.MSC-SLE-2009/MDV.1" in res.output
    # same data as the bundled run: the mapping really was used
    assert (tmp_path / "out" / "csv" / "lb.csv").read_bytes().count(b"\n") == 495


def test_to_sdtm_without_any_mapping_exits_2_and_says_how_to_get_one(export_alone, tmp_path) -> None:
    export, _ = export_alone
    res = run("to-sdtm", export, "-o", tmp_path / "out")
    assert res.exit_code == 2
    assert "export_2015-12-31.xml: an ODM export needs a mapping file (--odm-map FILE" in res.output
    assert "msc-interop odm-map export_2015-12-31.xml > odm-map.yaml" in res.output
    assert not (tmp_path / "out" / "rejects.json").exists()


def test_odm_map_on_a_records_folder_is_refused(tmp_path) -> None:
    res = run("to-sdtm", EXAMPLE, "-o", tmp_path, "--odm-map", MAPPING)
    assert res.exit_code == 2
    assert "--odm-map applies to a CDISC ODM export (.xml) only" in res.output


def test_to_sdtm_with_rejects_exits_1_and_prints_them(export_alone, tmp_path) -> None:
    export, map_path = export_alone
    text = break_ae_outcome(export.read_text(encoding="utf-8"))
    export.write_text(text, encoding="utf-8")
    res = run("to-sdtm", export, "-o", tmp_path / "out", "--odm-map", map_path, "--format", "csv",
              "--no-validate")
    assert res.exit_code == 1, res.output
    assert "adverse_events: read 1 = converted 0 + rejected 1" in res.output
    line = next(i for i, s in enumerate(text.splitlines(), 1) if 'ItemGroupOID="IG.AE"' in s and "<ItemGroupData" in s)
    assert f"export_2015-12-31.xml line {line}, outcome='RESOLVED': 'RESOLVED' is not a CodedValue of CodeList " \
           "CL.OUT" in res.output
    assert "[at SubjectData[04]/StudyEventData[SE.COMMON]/FormData[F.AE]/ItemGroupData[IG.AE@1]]" in res.output
    doc = json.loads((tmp_path / "out" / "rejects.json").read_text(encoding="utf-8"))
    assert [(r["form"], r["row"], r["field"]) for r in doc["rejects"]] == [("adverse_events", line, "outcome")]


@pytest.mark.parametrize("command", ["to-sdtm", "to-fhir", "validate", "summary"])
def test_every_reading_command_has_odm_map(command) -> None:
    res = run(command, "--help")
    assert res.exit_code == 0
    assert "--odm-map FILE" in res.output


def test_to_fhir_with_odm_map(export_alone, tmp_path) -> None:
    export, map_path = export_alone
    res = run("to-fhir", export, "-o", tmp_path / "fhir", "--odm-map", map_path, "--no-validate")
    assert res.exit_code == 0, res.output
    bundle = json.loads((tmp_path / "fhir" / "bundle.json").read_text(encoding="utf-8"))
    types = [e["resource"]["resourceType"] for e in bundle["entry"]]
    counts = (types.count("Patient"), types.count("Observation"), types.count("AdverseEvent"))
    assert counts == (9, 494 + 450 + 275 + 45, 1)  # Observations: LB, VS, EG, RE


def test_validate_with_odm_map_reports_the_rejects(export_alone) -> None:
    export, map_path = export_alone
    assert run("validate", export, "--odm-map", map_path).exit_code == 0
    export.write_text(break_ae_outcome(export.read_text(encoding="utf-8")), encoding="utf-8")
    res = run("validate", export, "--odm-map", map_path)
    assert res.exit_code == 1, res.output
    assert "MSC-REC-001" in res.output
    # without the option and with no mapping beside it, validate cannot read the export and says why
    res = run("validate", export)
    assert res.exit_code == 1
    assert "MSC-IO-001" in res.output and "MSC-REC-001" not in res.output
