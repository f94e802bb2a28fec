"""Parsed mapping files cached as JSON (mapping_cache.py): parsed once per edit, the data exactly the YAML's."""

from __future__ import annotations

import datetime
import os
import sys
import time
from pathlib import Path

import pytest
import yaml

from msc_interop import mapping_cache, mappings


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(mapping_cache.CACHE_ENV, str(folder))
    return folder


def counting_parse() -> tuple[list[str], object]:
    calls: list[str] = []

    def parse(text: str):
        calls.append(text)
        return yaml.safe_load(text)

    return calls, parse


def test_a_second_process_reads_the_entry_not_the_yaml(cache: Path) -> None:
    calls, parse = counting_parse()
    text = "domains:\n  LB: {label: Laboratory Test Results, keys: [STUDYID, USUBJID]}\n  x: 1.5\n"
    first = mapping_cache.parsed("tables", text, parse)
    second = mapping_cache.parsed("tables", text, parse)
    assert first == second == yaml.safe_load(text)
    assert len(calls) == 1
    assert [p.name.split("-")[0] for p in (cache / "mappings").iterdir()] == ["tables"]


def test_an_edited_file_is_parsed_again_and_its_old_entry_goes(cache: Path) -> None:
    calls, parse = counting_parse()
    mapping_cache.parsed("tables", "a: 1\n", parse)
    mapping_cache.parsed("tables-extra", "b: 1\n", parse)  # (another file whose name starts alike: kept)
    assert mapping_cache.parsed("tables", "a: 2\n", parse) == {"a": 2}
    assert len(calls) == 3
    names = sorted(p.name.split("-")[0] for p in (cache / "mappings").iterdir())
    assert names == ["tables", "tables"]  # this file's one entry, and tables-extra's


@pytest.mark.parametrize("text", ["released: 2024-03-29\n", "codes: {1: one}\n", "x: .nan\n"])
def test_data_json_cannot_hold_exactly_are_not_cached(cache: Path, text: str) -> None:
    calls, parse = counting_parse()
    got = [mapping_cache.parsed("odd", text, parse) for _ in range(2)]
    assert len(calls) == 2
    assert not list(cache.glob("mappings/odd-*.json"))
    if "released" in text:
        assert got[1] == {"released": datetime.date(2024, 3, 29)}
    if "codes" in text:
        assert got[1] == {"codes": {1: "one"}}


def test_a_damaged_entry_is_parsed_again(cache: Path) -> None:
    calls, parse = counting_parse()
    mapping_cache.parsed("tables", "a: [1, 2]\n", parse)
    entry = next((cache / "mappings").iterdir())
    entry.write_bytes(b'{"a": [1, ')  # (cut short)
    assert mapping_cache.parsed("tables", "a: [1, 2]\n", parse) == {"a": [1, 2]}
    assert len(calls) == 2


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root writes anywhere")
def test_a_folder_that_cannot_be_written_only_costs_the_parse(cache: Path) -> None:
    cache.mkdir()
    cache.chmod(0o500)
    try:
        calls, parse = counting_parse()
        assert mapping_cache.parsed("tables", "a: 1\n", parse) == {"a": 1}
        assert mapping_cache.parsed("tables", "a: 1\n", parse) == {"a": 1}
        assert len(calls) == 2
    finally:
        cache.chmod(0o700)


def test_a_cache_folder_that_is_a_file_only_costs_the_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(mapping_cache.CACHE_ENV, str(blocker))
    calls, parse = counting_parse()
    assert [mapping_cache.parsed("tables", "a: 1\n", parse) for _ in range(2)] == [{"a": 1}, {"a": 1}]
    assert len(calls) == 2


def test_off_means_no_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(mapping_cache.CACHE_ENV, "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    calls, parse = counting_parse()
    mapping_cache.parsed("tables", "a: 1\n", parse)
    mapping_cache.parsed("tables", "a: 1\n", parse)
    assert len(calls) == 2 and not any(tmp_path.iterdir())


def test_every_mapping_file_loads_the_same_from_its_entry(cache: Path) -> None:
    """Each mappings/*.yaml file: the data loaded through a stored entry equal the YAML parsed (the loader's own
    check against the schema runs on them as before)."""
    folder = mappings.mappings_dir()
    names = sorted(p.stem for p in folder.glob("*.yaml"))
    assert "sdtmig_domains" in names
    for name in names:
        text = (folder / f"{name}.yaml").read_text(encoding="utf-8")
        expected = yaml.load(text, Loader=mappings._YamlLoader)
        mapping_cache.parsed(name, text, lambda t: yaml.load(t, Loader=mappings._YamlLoader))  # stores
        calls, parse = counting_parse()
        assert mapping_cache.parsed(name, text, parse) == expected, name
        assert calls == [], name  # (read from its entry: every mapping file is data JSON holds)
    assert (cache / "mappings").is_dir() and any((cache / "mappings").glob("sdtmig_domains-*.json"))


def test_an_entry_another_loader_or_version_wrote_is_not_read(cache: Path) -> None:
    calls, parse = counting_parse()
    mapping_cache.parsed("tables", "a: 1\n", parse, loader="libyaml 0.2.5")
    mapping_cache.parsed("tables", "a: 1\n", parse, loader="pure python")
    assert len(calls) == 2  # (another loader: another entry)
    assert mapping_cache.parsed("tables", "a: 1\n", parse, loader="pure python") == {"a": 1}
    assert len(calls) == 2


def test_an_entry_the_caller_finds_invalid_is_parsed_again_and_replaced(cache: Path) -> None:
    calls, parse = counting_parse()
    valid = lambda data: isinstance(data, dict) and "tests" in data  # noqa: E731
    mapping_cache.parsed("vital_signs", "tests: [1]\n", parse, valid=valid)
    entry = next((cache / "mappings").glob("vital_signs-*.json"))
    entry.write_text('{"format": 2, "data": {}}')  # (what a later version might write there)
    assert mapping_cache.parsed("vital_signs", "tests: [1]\n", parse, valid=valid) == {"tests": [1]}
    assert len(calls) == 2 and entry.read_text() == '{"tests": [1]}'
    assert mapping_cache.parsed("vital_signs", "tests: [1]\n", parse, valid=valid) == {"tests": [1]}
    assert len(calls) == 2


def test_a_mapping_load_survives_an_entry_that_fails_its_schema(cache: Path) -> None:
    """mappings.load: an entry that does not match the file's schema is not an error of the mapping file (the YAML
    is parsed again and the entry replaced)."""
    mappings.load.cache_clear()
    try:
        expected = mappings.load("vital_signs")
        for entry in (cache / "mappings").glob("vital_signs-*.json"):
            entry.write_text('{"format": 2, "data": {}}')
        mappings.load.cache_clear()
        assert mappings.load("vital_signs") == expected
    finally:
        mappings.load.cache_clear()


def test_a_temporary_entry_a_killed_process_left_is_removed(cache: Path) -> None:
    _calls, parse = counting_parse()
    (cache / "mappings").mkdir(parents=True)
    left = cache / "mappings" / ".tables-0123.json.abcd1234.part"
    left.write_text("{")
    fresh = cache / "mappings" / ".other-0123.json.efgh5678.part"
    fresh.write_text("{")
    old = time.time() - 3600
    os.utime(left, (old, old))
    mapping_cache.parsed("tables", "a: 1\n", parse)
    assert not left.exists() and fresh.exists()  # (one being written now stays)
