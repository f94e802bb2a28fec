"""to-sdtm validates what it wrote on the Study in memory (validate/written.py); `validate PATH` reads the
files back. Both must give the same findings, in the same order, on real inputs (tests/validate/written_cases.py):
the bundled study in every format, the CDISC Dataset-JSON examples and pilot package, and a study with
seeded defects where a reader of a file sees something else than the Study held (IBM float range, trailing
blanks, NUL, text that is not ASCII, numbers CSV carries as text)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import shared_path
from msc_interop import api
from msc_interop.validate import validate_paths
from msc_interop.validate import written as written_module

from .conftest import unexpected
from .written_cases import CREATED, cases

CASES = {name: (make, kw) for name, make, kw in cases(shared_path())}


def _run(name: str, tmp_path: Path) -> tuple[api.ConversionResult, Path]:
    make, kw = CASES[name]
    out = tmp_path / "out"
    return api.to_sdtm(make(tmp_path), out, created=CREATED, **kw), out


@pytest.mark.parametrize("name", sorted(CASES))
def test_in_memory_validation_finds_what_reading_the_files_back_finds(name: str, tmp_path: Path) -> None:
    result, out = _run(name, tmp_path)
    in_memory = [f.as_dict() for f in result.validation.findings]
    read_back = [f.as_dict() for f in validate_paths([out]).findings]
    assert in_memory == read_back


def test_the_bundled_study_is_validated_without_reading_any_dataset_back(tmp_path: Path, monkeypatch) -> None:
    def refuse(*_args, **_kw):
        raise AssertionError("a dataset file was read back")

    monkeypatch.setattr(written_module, "_read_group", refuse)
    monkeypatch.setattr(written_module, "_validate_path", refuse)
    monkeypatch.setattr(written_module, "validate_paths", refuse)
    result, out = _run("example", tmp_path)
    monkeypatch.undo()
    assert result.validation.findings == validate_paths([out]).findings
    assert result.validation.findings and unexpected(result.validation.findings) == []


def test_seeded_numbers_outside_the_ibm_range_are_reported_as_the_xpt_holds_them(tmp_path: Path) -> None:
    """1e+80 is above the largest IBM double, 16**63 * (1 - 16**-14) = 7.2370055773322614e+75 (SAS TS-140),
    so the XPT holds that; 1e-80 is below the smallest, 16**-65, so the XPT holds 0. Dataset-JSON and CSV
    hold the numbers themselves; each format's MSC-SDTM-015 finding says what its file holds."""
    result, _ = _run("seeded_from_json", tmp_path)
    values = {(Path(f.file).parent.name, f.row_or_entry): f.value for f in result.validation.findings
              if f.rule_id == "MSC-SDTM-015" and f.dataset_or_resource == "LB" and f.row_or_entry in (5, 6)}
    assert values[("xpt", 6)] == "7.2370055773322614e+75" and values[("xpt", 5)] == "0"
    for fmt in ("json", "ndjson", "csv"):
        assert values[(fmt, 6)] == "1e+80" and values[(fmt, 5)] == "1e-80"


def test_a_format_folder_holding_a_file_this_run_did_not_write_is_read_as_validate_reads_it(tmp_path: Path) -> None:
    out = tmp_path / "out"
    api.to_sdtm(CASES["example"][0](tmp_path), out, formats=["xpt"], created=CREATED)
    shutil.copy(out / "xpt" / "dm.xpt", out / "xpt" / "zz.xpt")  # left by someone else
    result = api.to_sdtm(CASES["example"][0](tmp_path), out, formats=["xpt"], created=CREATED)
    found = result.validation.findings
    assert found == validate_paths([out]).findings
    assert any(f.rule_id == "MSC-XPT-001" and f.file.endswith("zz.xpt") for f in found)
