"""An ODM export is INPUT to to-fhir, validate and summary as well as to-sdtm, with the same results as CSV."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from msc_interop.cli import main

REPO = Path(__file__).resolve().parents[2]
ODM_DIR = REPO / "fixtures" / "example_study_odm"
EXPORT = ODM_DIR / "example_study.odm.xml"
RECORDS = REPO / "fixtures" / "example_study"


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_to_fhir_from_odm_equals_to_fhir_from_csv(tmp_path: Path) -> None:
    a = run("to-fhir", EXPORT, "-o", tmp_path / "odm", "--no-validate")
    b = run("to-fhir", RECORDS, "-o", tmp_path / "csv", "--no-validate")
    assert a.exit_code == 0 and b.exit_code == 0, a.output + b.output
    assert (tmp_path / "odm" / "bundle.json").read_bytes() == (tmp_path / "csv" / "bundle.json").read_bytes()
    assert "6742 ItemData read" in a.output


def test_summary_from_odm_equals_summary_from_csv(tmp_path: Path) -> None:
    a = run("summary", EXPORT, "-o", tmp_path / "odm", "--format", "csv")
    b = run("summary", RECORDS, "-o", tmp_path / "csv", "--format", "csv")
    assert a.exit_code == 0 and b.exit_code == 0, a.output + b.output
    tables = sorted(p.name for p in (tmp_path / "csv" / "csv").glob("*.csv"))
    assert len(tables) >= 10
    for name in tables:
        assert (tmp_path / "odm" / "csv" / name).read_bytes() == (tmp_path / "csv" / "csv" / name).read_bytes(), name


def test_validate_reports_an_odm_record_problem_with_line_and_oid_path(tmp_path: Path) -> None:
    shutil.copy(ODM_DIR / "odm-map.yaml", tmp_path / "map.yaml")
    (tmp_path / "map.yaml").write_text((ODM_DIR / "odm-map.yaml").read_text(encoding="utf-8").replace(
        "../example_study/study.yaml", (RECORDS / "study.yaml").as_posix()), encoding="utf-8")
    lines = EXPORT.read_text(encoding="utf-8").splitlines(keepends=True)
    target = next(i for i, line in enumerate(lines) if 'ItemOID="IT.LB.LBORNRHI" Value="9.5"' in line)
    lines[target] = lines[target].replace('Value="9.5"', 'Value="nine"')
    group_line = max(i for i in range(target) if "<ItemGroupData " in lines[i]) + 1
    broken = tmp_path / "broken.xml"
    broken.write_text("".join(lines), encoding="utf-8")
    ok = run("validate", EXPORT)
    assert ok.exit_code == 0, ok.output
    bad = run("validate", broken, "--odm-map", tmp_path / "map.yaml", "--report", tmp_path / "r.csv")
    assert bad.exit_code == 1, bad.output
    report = (tmp_path / "r.csv").read_text(encoding="utf-8")
    assert "DataType float" in report and "IT.LB.LBORNRHI" in report
    assert f",{group_line}," in report  # the row is the line of the ItemGroupData
    assert "ItemGroupData[IG.LB@" in report


def test_odm_map_option_refused_for_other_inputs(tmp_path: Path) -> None:
    result = run("to-sdtm", RECORDS, "-o", tmp_path / "x", "--odm-map", ODM_DIR / "odm-map.yaml")
    assert result.exit_code == 2
    assert "--odm-map applies to a CDISC ODM export" in result.output
