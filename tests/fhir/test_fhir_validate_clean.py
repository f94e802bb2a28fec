"""`validate` on NDJSON checks each resource in one pass (validate/fhir_clean.py); its findings must be exactly
those of the rule functions of validate/fhir_rules.py run over the whole set held at once (every field of every
finding, in the same order), on the FHIR validate test inputs and on seeded-bad NDJSON (fhir_clean_cases.py)."""

from __future__ import annotations

import functools
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from fhir_clean_cases import NAMES, cases
from fhir_fixtures import _written

from conftest import shared_path
from msc_interop.validate import fhir_stream
from msc_interop.validate.fhir_rules import fhir_rules, read_fhir
from msc_interop.validate.model import Scope
from msc_interop.validate.registry import run


@functools.cache
def _cases() -> dict[str, tuple[list[Path], str | None]]:
    return cases(Path(tempfile.mkdtemp(prefix="msc_fhir_clean_")), _written(), shared_path())


def _whole_set(paths: list[Path], version: str | None) -> list[dict[str, Any]]:
    ctx, problems = read_fhir(paths, version)
    return [f.as_dict() for f in problems + run(Scope.FHIR, ctx)]


@pytest.mark.parametrize("chunk", [fhir_stream.CHUNK, 3])
@pytest.mark.parametrize("name", NAMES)
def test_one_pass_gives_the_findings_of_the_rule_functions(name: str, chunk: int,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    if name not in _cases():
        pytest.skip("../shared/external (the HL7 examples) is not present on this machine")
    paths, version = _cases()[name]
    monkeypatch.setattr(fhir_stream, "CHUNK", chunk)
    assert [f.as_dict() for f in fhir_rules(paths, version)] == _whole_set(paths, version)


def test_the_seeded_cases_break_every_rule() -> None:
    """The comparison above means something: together the cases hold findings of every FHIR rule, and the
    interpretation cases give the findings worked out by hand from their values and ranges."""
    found: Counter[str] = Counter()
    for paths, version in _cases().values():
        found.update(f["rule_id"] for f in _whole_set(paths, version))
    assert {f"MSC-FHIR-{n:03}" for n in range(1, 15) if n != 11} | {"MSC-IO-001"} <= set(found)
    paths, version = _cases()["seeded-interpretation"]
    wrong = {(f["dataset_or_resource"], f["value"]) for f in _whole_set(paths, version)
             if f["rule_id"] == "MSC-FHIR-007"}
    # range 1-10 (mg/dL): 5 claimed H, 0.5 claimed N, 11 claimed L and N, 5 claimed LU, 1 (the low limit itself,
    # not below it) claimed L, 10 (the high limit) claimed H
    assert {("Observation/i1", "H"), ("Observation/i2", "N"), ("Observation/i3", "L"), ("Observation/i3", "N"),
            ("Observation/i7", "LU"), ("Observation/i8", "L"), ("Observation/i9", "H")} <= wrong
    # 11 claimed H, 0.5 claimed LL and <, 20 claimed HH, > and HU: right; a range with text only, a boolean or
    # string value: nothing to compare
    assert not any(rid in {"Observation/i4", "Observation/i5", "Observation/i6",
                           "Observation/i14", "Observation/i16", "Observation/i17", "Observation/i23"}
                   for rid, _ in wrong)


@pytest.mark.parametrize("version", ["R4", "R5"])
def test_the_written_study_is_clean_line_by_line(version: str) -> None:
    """The one-pass check judges what the writer makes (so the comparison above covers the fast path, not only
    the rule functions): every line clean, with its references in the order the rules' walk finds them."""
    from msc_interop.validate.fhir_clean import Clean
    from msc_interop.validate.fhir_read import FhirItem
    from msc_interop.validate.fhir_scan import scan

    clean = Clean(version)
    lines = [line for p in sorted(_written()[version].glob("*.ndjson")) for line in p.read_bytes().splitlines()]
    assert len(lines) > 100
    for line in lines:
        resource = orjson.loads(line)
        assert clean.check(resource) == [v for _, v in scan(FhirItem(resource, "", 1, 0)).references]


def test_a_resource_the_rules_report_is_never_clean() -> None:
    """Each resource of the cases with a finding of a per-resource rule (all but broken relative references,
    repeated ids and pages of a search result, which need the whole set) is one the one-pass check leaves to the
    rule functions."""
    from msc_interop.validate.fhir_clean import Clean

    seen = 0
    for paths, version in _cases().values():
        ctx, _ = read_fhir(paths, version)
        clean = Clean(ctx.version)
        reported = {(f.file, f.row_or_entry) for f in run(Scope.FHIR, ctx)
                    if f.rule_id not in {"MSC-FHIR-009", "MSC-FHIR-013"} and not (f.rule_id == "MSC-FHIR-008"
                                                                   and not f.value.startswith("#"))}
        for item in ctx.items:
            if (item.file, item.entry) in reported:
                seen += 1
                assert clean.check(item.resource) is None, (item.file, item.entry)
    assert seen > 100
