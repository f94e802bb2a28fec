"""The whole-set indexes of MSC-FHIR-008 and -009 spilled to disk by bucket (validate/fhir_index.py): with batches
small enough that every set spills many times, and few buckets (many ids and references per bucket) or one,
the findings are exactly those of the rule functions over the whole set held at once (every field, in order)."""

from __future__ import annotations

import functools
import tempfile
from array import array
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest
from fhir_clean_cases import NAMES, cases
from fhir_fixtures import _written

from conftest import shared_path
from msc_interop.validate import fhir_index, fhir_stream
from msc_interop.validate.fhir_clean import Clean
from msc_interop.validate.fhir_index import SpillIndex
from msc_interop.validate.fhir_read import FhirContext
from msc_interop.validate.fhir_rules import fhir_rules, read_fhir
from msc_interop.validate.model import Scope
from msc_interop.validate.registry import get_rule, run


@functools.cache
def _cases() -> dict[str, tuple[list[Path], str | None]]:
    return cases(Path(tempfile.mkdtemp(prefix="msc_fhir_spill_")), _written(), shared_path())


def _whole_set(paths: list[Path], version: str | None) -> list[dict[str, Any]]:
    ctx, problems = read_fhir(paths, version)
    return [f.as_dict() for f in problems + run(Scope.FHIR, ctx)]


@pytest.mark.parametrize(("batch", "buckets"), [(3, 1), (5, 4), (1, 7)])
@pytest.mark.parametrize("name", NAMES)
def test_spilled_indexes_give_the_findings_of_the_rule_functions(name: str, batch: int, buckets: int,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    if name not in _cases():
        pytest.skip("../shared/external (the HL7 examples) is not present on this machine")
    paths, version = _cases()[name]
    monkeypatch.setattr(fhir_index, "BATCH", batch)
    monkeypatch.setattr(fhir_index, "BUCKETS", buckets)
    assert [f.as_dict() for f in fhir_rules(paths, version)] == _whole_set(paths, version)


def test_ids_and_references_across_batches_and_buckets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Worked out by hand: an id repeated two batches apart, a reference that resolves only through an id read
    later (and one with its version), a reference to a type never read (not checked), a broken one."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    index = SpillIndex(batch=2, buckets=3)
    index.add_id("Patient/a", 10)
    index.places_of("Patient/c").append(11)
    index.places_of("Encounter/e9").append(12)
    index.counted(2)  # full: spilled
    assert index.folder is not None and index.folder.parent == tmp_path and not index.labels
    index.add_id("Patient/b", 20)
    index.add_id("Patient/a", 30)  # full: spilled
    index.places_of("Patient/b/_history/2").append(40)
    index.places_of("Patient/c").append(41)
    index.places_of("Device/d").append(42)
    index.add_id("Patient/c", 50)
    index.places_of("Patient/zz").extend([51, 52])
    repeated: dict[str, list[int]] = {}
    broken: list[tuple[int, str]] = []
    for bucket in index.buckets_read():
        again, wrong = bucket.judged({"Patient"})
        repeated.update(again)
        broken += wrong
    assert repeated == {"Patient/a": [10, 30]}
    assert sorted(broken) == [(51, "Patient/zz"), (52, "Patient/zz")]  # Encounter, Device: types never read
    index.close()
    assert index.folder is None and not list(tmp_path.iterdir())


def test_the_stream_spills_and_removes_its_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On the mutated set with batches of 4 the index is on disk while the set is read, and gone once the
    findings are made; they name the repeated Patient and Observation ids and the broken reference."""
    paths, version = _cases()["mutated-given-R4"]  # (before the temporary folder moves: the cases' own folders,
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # made on the first call, are no spill's)
    (tmp_path / "tmp").mkdir()
    index = fhir_stream.WholeSet(fhir_stream.ndjson_container(paths), batch=4, buckets=5)
    by_rule: dict[str, list[Any]] = defaultdict(list)
    whole = FhirContext(version or "R4")
    fhir_stream.check_lines(fhir_stream._lines(paths, [], index), Clean(whole.version), whole, index, by_rule)
    assert index.spilled.folder is not None
    assert {p.name for p in index.spilled.folder.iterdir()} >= {"i0.json", "i0.at", "r0.json", "r0.at"}
    refs = index.reference_findings(get_rule("MSC-FHIR-008"))
    ids = index.id_findings(get_rule("MSC-FHIR-009"))
    assert not list((tmp_path / "tmp").iterdir())
    assert "Patient/nobody" in {f.value for f in refs}
    assert len({f.value for f in ids}) == 2 and {f.value.split("/")[0] for f in ids} == {"Patient", "Observation"}
    assert len(ids) == 4  # two places each


def test_a_batch_is_held_until_full() -> None:
    index = SpillIndex(batch=3, buckets=2)
    index.add_id("Patient/a", 1)
    index.add_id("Patient/b", 2)
    index.places_of("Patient/a").append(3)
    index.counted(1)
    assert index.folder is None and index.labels == ["Patient/a", "Patient/b"]
    assert index.pending == {"Patient/a": array("q", [3])}
    buckets = list(index.buckets_read())
    assert len(buckets) == 1 and buckets[0].judged({"Patient"}) == ({}, [])


@pytest.mark.parametrize("batch", [None, 3])
def test_references_past_the_4095th_of_a_resource(tmp_path: Path, batch: int | None,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """They share one place number: the broken ones are still reported each at its own element, in the
    resource's order (performer[4097] before performer[4098], whose text was seen first), as the rules do."""
    if batch:
        monkeypatch.setattr(fhir_index, "BATCH", batch)
    performers = ["Patient/p1"] * 4097 + ["Patient/zz", "Patient/aa", "Patient/zz", "Patient/p1"]
    obs = {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "x"},
           "subject": {"reference": "Patient/zz"}, "performer": [{"reference": r} for r in performers]}
    (tmp_path / "Patient.ndjson").write_bytes(b'{"resourceType":"Patient","id":"p1"}\n')
    (tmp_path / "Observation.ndjson").write_bytes(orjson.dumps(obs) + b"\n")
    paths = sorted(tmp_path.glob("*.ndjson"))
    found = [f.as_dict() for f in fhir_rules(paths, "R4")]
    assert found == _whole_set(paths, "R4")
    assert [(f["variable_or_path"], f["value"]) for f in found if f["rule_id"] == "MSC-FHIR-008"] == [
        ("Observation.subject.reference", "Patient/zz"), ("Observation.performer[4097].reference", "Patient/zz"),
        ("Observation.performer[4098].reference", "Patient/aa"),
        ("Observation.performer[4099].reference", "Patient/zz")]
