"""`validate` on FHIR NDJSON streams (validate/fhir_stream.py) and checks structure with the fast validator first:
its findings must be those of the whole-set path with the models on every resource (what it did before), on
the bundled study's NDJSON mutated in every way a rule looks at, with chunks small enough that ids and
references span several of them."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
from fhir_clean_cases import mutate
from fhir_fixtures import written  # noqa: F401

from msc_interop.validate import fhir_stream
from msc_interop.validate.fhir_rules import fhir_rules, read_fhir
from msc_interop.validate.model import Scope
from msc_interop.validate.registry import run


def _before(paths: list[Path], version: str | None) -> list[Any]:
    """The findings as validate gave them before streaming: every resource held, the models on each."""
    ctx, findings = read_fhir(paths, version)
    ctx.deep = True
    return findings + run(Scope.FHIR, ctx)


@pytest.mark.parametrize("version", ["R4", "R5"])
@pytest.mark.parametrize("given", [True, False])
def test_streaming_gives_the_findings_of_the_whole_set(written: dict[str, Path], tmp_path: Path,  # noqa: F811
                                                       monkeypatch: pytest.MonkeyPatch, version: str,
                                                       given: bool) -> None:
    folder = tmp_path / "ndjson"
    folder.mkdir()
    for p in sorted(written[version].glob("*.ndjson")):
        shutil.copy(p, folder / p.name)
    mutate(folder)
    paths = sorted(folder.glob("*.ndjson"))
    monkeypatch.setattr(fhir_stream, "CHUNK", 7)
    before = _before(paths, version if given else None)
    after = fhir_rules(paths, version if given else None)
    assert [str(f) for f in after] == [str(f) for f in before]
    found = {f.rule_id for f in after}
    assert {"MSC-IO-001", "MSC-FHIR-001", "MSC-FHIR-002", "MSC-FHIR-003", "MSC-FHIR-006", "MSC-FHIR-008",
            "MSC-FHIR-009", "MSC-FHIR-010"} <= found
    assert len([f for f in after if f.rule_id == "MSC-FHIR-008"]) == 2


def test_unmutated_output_is_clean_both_ways(written: dict[str, Path]) -> None:  # noqa: F811
    paths = sorted(written["R5"].glob("*.ndjson"))
    assert fhir_rules(paths) == [] == _before(paths, None)


def test_bundle_findings_unchanged_by_the_fast_structure_check(written: dict[str, Path],  # noqa: F811
                                                                tmp_path: Path) -> None:
    doc = orjson.loads((written["R4"] / "bundle.json").read_bytes())
    doc["entry"][1]["resource"]["foo"] = 1
    doc["entry"][2]["resource"]["meta"] = {"lastUpdated": "2009-10-04T09:19"}
    path = tmp_path / "bundle.json"
    path.write_bytes(orjson.dumps(doc))
    before = _before([path], "R4")
    assert [str(f) for f in fhir_rules([path], "R4")] == [str(f) for f in before]
    assert any(f.rule_id == "MSC-FHIR-001" for f in before)
