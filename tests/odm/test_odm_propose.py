"""`msc-interop odm-map`: the proposal for the bundled export needs only the decisions ODM cannot make."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from msc_interop import api
from msc_interop.cli import main
from msc_interop.errors import InputError
from msc_interop.odm.propose import propose

REPO = Path(__file__).resolve().parents[2]
ODM_DIR = REPO / "fixtures" / "example_study_odm"
EXPORT = ODM_DIR / "example_study.odm.xml"
SHIPPED_MAP = ODM_DIR / "odm-map.yaml"


def test_proposal_equals_the_shipped_mapping_except_the_study_definition() -> None:
    proposed = yaml.safe_load(propose(EXPORT))
    shipped = yaml.safe_load(SHIPPED_MAP.read_text(encoding="utf-8"))
    differing = sorted(k for k in set(proposed) | set(shipped) if proposed.get(k) != shipped.get(k))
    assert differing == ["study_definition"]
    assert proposed["study_definition"] == "study.yaml"  # a placeholder the person must point at their file
    # spot-check what came from the metadata, not from our layout code: unit via MeasurementUnitRef,
    # subject-level event null, site from the Location
    labs = next(g for g in proposed["item_groups"] if g["form"] == "labs")
    assert labs["fields"]["unit"] == "@Unit(IT.LB.LBORRES)"
    assert proposed["study_events"]["SE.COMMON"] is None
    assert proposed["sites"] == {"SITE.01": "01"}


def test_proposal_marks_the_decisions_and_is_schema_valid_once_decided(tmp_path: Path) -> None:
    text = propose(EXPORT)
    decide = [line for line in text.splitlines() if "DECIDE" in line]
    assert any("study definition" in line for line in decide)
    assert any("SITEID" in line for line in decide)
    # the person's one decision for the bundled study: where study.yaml is; then it converts like the CSV
    shutil.copy(EXPORT, tmp_path / "export.xml")
    decided = text.replace("study_definition: study.yaml",
                           f"study_definition: {(REPO / 'fixtures/example_study/study.yaml').as_posix()}")
    (tmp_path / "mine.yaml").write_text(decided, encoding="utf-8")
    via_proposal = api.to_sdtm(tmp_path / "export.xml", tmp_path / "a", formats=["csv"], define=False,
                               created="2026-01-01T00:00:00", validate=False, odm_map=tmp_path / "mine.yaml")
    via_csv = api.to_sdtm(REPO / "fixtures" / "example_study", tmp_path / "b", formats=["csv"], define=False,
                          created="2026-01-01T00:00:00", validate=False)
    assert len(via_proposal.rejects) == 0
    for name in ("dm", "ex", "ae", "lb"):
        a, b = (tmp_path / side / "csv" / f"{name}.csv" for side in ("a", "b"))
        assert a.read_bytes() == b.read_bytes(), name
    assert len(via_csv.study["LB"]) == 494


def test_unplaced_items_and_groups_are_listed_for_a_person(tmp_path: Path) -> None:
    xml = EXPORT.read_text(encoding="utf-8")
    # an extra item nobody can recognise in the lab group, and an item group with no domain and no known items
    xml = xml.replace('<ItemRef ItemOID="IT.LB.LBNAM" OrderNumber="6" Mandatory="No"/>',
                      '<ItemRef ItemOID="IT.LB.LBNAM" OrderNumber="6" Mandatory="No"/>'
                      '<ItemRef ItemOID="IT.LB.FASTING" OrderNumber="7" Mandatory="No"/>')
    xml = xml.replace('<ItemDef OID="IT.LB.LBNAM"',
                      '<ItemDef OID="IT.LB.FASTING" Name="Fasting?" DataType="text"/>'
                      '<ItemGroupDef OID="IG.QOL" Name="Quality of life" Repeating="No">'
                      '<ItemRef ItemOID="IT.QOL.SCORE" Mandatory="No"/></ItemGroupDef>'
                      '<ItemDef OID="IT.QOL.SCORE" Name="Score" DataType="integer"/>'
                      '<ItemDef OID="IT.LB.LBNAM"', 1)
    path = tmp_path / "export.xml"
    path.write_text(xml, encoding="utf-8")
    text = propose(path)
    decide = "\n".join(line for line in text.splitlines() if "DECIDE" in line)
    assert "IT.LB.FASTING (Fasting?)" in decide
    assert "IG.QOL (Quality of life)" in decide
    assert "IG.QOL" not in yaml.safe_load(text)["item_groups"].__repr__()


def test_cli_prints_or_writes_the_proposal(tmp_path: Path) -> None:
    runner = CliRunner()
    printed = runner.invoke(main, ["odm-map", str(EXPORT)])
    assert printed.exit_code == 0, printed.output
    assert printed.stdout == propose(EXPORT)
    written = runner.invoke(main, ["odm-map", str(EXPORT), "-o", str(tmp_path / "m.yaml")])
    assert written.exit_code == 0
    assert (tmp_path / "m.yaml").read_text(encoding="utf-8") == propose(EXPORT)


def test_an_export_without_metadata_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "clinical_only.xml"
    path.write_text('<?xml version="1.0"?>\n<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" FileType="Transactional" '
                    'FileOID="F" CreationDateTime="2020-01-01T00:00:00">\n<ClinicalData StudyOID="S" '
                    'MetaDataVersionOID="M"><SubjectData SubjectKey="1"/></ClinicalData></ODM>\n', encoding="utf-8")
    with pytest.raises(InputError, match="no MetaDataVersion"):
        propose(path)
    result = CliRunner().invoke(main, ["odm-map", str(path)])
    assert result.exit_code == 2 and "no MetaDataVersion" in result.output
