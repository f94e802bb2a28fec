"""The CDISC CT version: what the study states (--ct, define.xml 2.1 def:Standard Type="CT") against the one
package msc-interop holds; CT findings name the package they were checked against (MSC-SDTM-039)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from msc_interop import mappings
from msc_interop.cli import main
from msc_interop.errors import MscInteropError
from msc_interop.validate import validate_paths

HELD = mappings.ct_source()["package_date"]


def _notices(findings: list) -> list:
    return [f for f in findings if f.rule_id == "MSC-SDTM-039"]


def _xpt_copy(sdtm_output: Path, tmp_path: Path, ct: str | None = None) -> Path:
    folder = tmp_path / "xpt"
    shutil.copytree(sdtm_output / "xpt", folder)
    if ct is not None:
        define = folder / "define.xml"
        text = define.read_text(encoding="utf-8")
        old = f'Type="CT" PublishingSet="SDTM" Version="{HELD}"'
        assert old in text, "msc-interop's define.xml states the CT it used"
        define.write_text(text.replace(old, f'Type="CT" PublishingSet="SDTM" Version="{ct}"'), encoding="utf-8")
    return folder


def test_define_stating_the_held_ct_gives_no_notice(sdtm_output: Path) -> None:
    assert _notices(validate_paths([sdtm_output / "xpt"]).findings) == []


def test_define_stating_another_ct_gives_one_notice_naming_both(sdtm_output: Path, tmp_path: Path) -> None:
    found = _notices(validate_paths([_xpt_copy(sdtm_output, tmp_path, "2020-12-18")]).findings)
    assert len(found) == 1
    assert found[0].severity == "notice"
    assert f"checked against CDISC SDTM CT {HELD}" in found[0].message
    assert 'def:Standard Name="CDISC/NCI" Type="CT" PublishingSet="SDTM" Version="2020-12-18"' in found[0].message
    assert "states CT 2020-12-18" in found[0].message


def test_ct_option_wins_over_define(sdtm_output: Path, tmp_path: Path) -> None:
    found = _notices(validate_paths([_xpt_copy(sdtm_output, tmp_path, "2020-12-18")], ct="2024-09-27").findings)
    assert [f.message.split("; ")[1] for f in found] == ["--ct states CT 2024-09-27: terms added, changed or "
                                                         "retired between the two may be reported wrongly or missed"]
    assert _notices(validate_paths([_xpt_copy(sdtm_output, tmp_path / "b", "2020-12-18")], ct=HELD).findings) == []


def test_ct_option_that_is_no_date_is_refused(sdtm_output: Path) -> None:
    with pytest.raises(MscInteropError, match=r"--ct 'March 2025' is not a CDISC CT package date \(YYYY-MM-DD"):
        validate_paths([sdtm_output / "xpt"], ct="March 2025")
    result = CliRunner().invoke(main, ["validate", str(sdtm_output / "xpt"), "--ct", "2025-3-25"])
    assert result.exit_code == 2, result.output
    assert "is not a CDISC CT package date" in result.output


def test_cli_ct_notice(sdtm_output: Path) -> None:
    result = CliRunner().invoke(main, ["validate", str(sdtm_output / "xpt"), "--ct", "2023-06-30", "--limit", "50"])
    assert "MSC-SDTM-039" in result.output
    assert result.exit_code == 0, "a notice does not fail the run"
