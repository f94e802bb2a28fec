"""The mapping files are checked against their JSON Schemas at load: by jsonschema-rs (fast), and by jsonschema
(the errors it names) when that check fails. Both validators must agree on every bundled file, and a broken file
must still be refused naming the place of the problem."""

from __future__ import annotations

import shutil
from pathlib import Path

import jsonschema
import pytest
import yaml

from msc_interop import mappings
from msc_interop.errors import MappingDataError

MAPPINGS = mappings.mappings_dir()
CHECKED = sorted(p.name.removesuffix(".schema.json") for p in (MAPPINGS / "schema").glob("*.schema.json")
                 if any((MAPPINGS / f"{p.name.removesuffix('.schema.json')}{s}").exists() for s in (".yaml", ".json")))


def test_every_schema_checked_file_is_found() -> None:
    assert {"codelists", "lab_tests", "sdtmig_domains", "split_datasets", "validation_rules"} <= set(CHECKED)


@pytest.mark.parametrize("name", CHECKED)
def test_bundled_file_valid_for_both_validators(name: str) -> None:
    mappings.load.cache_clear()
    data = mappings.load(name)
    assert list(jsonschema.Draft202012Validator(mappings.schema(name)).iter_errors(data)) == []
    assert mappings._fast_validator(name).is_valid(data)


def test_broken_file_is_refused_naming_the_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(MAPPINGS, tmp_path / "mappings")
    path = tmp_path / "mappings" / "split_datasets.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["suffixes"]["HEMATOLOGY"] = 12  # a suffix must be text
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    monkeypatch.setattr(mappings, "mappings_dir", lambda: tmp_path / "mappings")
    mappings.load.cache_clear()
    mappings.schema.cache_clear()
    try:
        with pytest.raises(MappingDataError, match=r"(?s)split_datasets\.yaml does not match its schema.*"
                                                   r"at suffixes/HEMATOLOGY: 12 is not of type 'string'"):
            mappings.load("split_datasets")
    finally:
        mappings.load.cache_clear()
        mappings.schema.cache_clear()


def test_what_json_has_not_is_refused_as_a_schema_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unquoted YAML date is no JSON string: jsonschema-rs cannot take it; jsonschema names it."""
    shutil.copytree(MAPPINGS, tmp_path / "mappings")
    path = tmp_path / "mappings" / "split_datasets.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("split_by: CAT", "split_by: 2026-01-01"),
                    encoding="utf-8")
    monkeypatch.setattr(mappings, "mappings_dir", lambda: tmp_path / "mappings")
    mappings.load.cache_clear()
    mappings.schema.cache_clear()
    try:
        with pytest.raises(MappingDataError, match=r"(?s)does not match its schema.*at split_by: "):
            mappings.load("split_datasets")
    finally:
        mappings.load.cache_clear()
        mappings.schema.cache_clear()
