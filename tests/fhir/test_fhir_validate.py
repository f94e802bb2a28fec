"""The fast validator gives the fhir.resources models' verdict, validating by parts gives the whole's verdict,
and the shipped schema subset is the reproducible extract of the official schema."""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from fhir_fixtures import REPO, example, written  # noqa: F401

from msc_interop.fhir.validate import FastValidator, ModelValidator
from msc_interop.fhir.versions import get_version


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda r: r.__setitem__(key, value)


def _drop_status(r: dict[str, Any]) -> None:
    if "status" in r:
        del r["status"]
    else:
        r["foo"] = 1


def _null_status(r: dict[str, Any]) -> None:
    """status null, without the `_status` beside it: an R4 ResearchSubject with a placed DS record has `_status`
    (disposition.py), and the models then accept a null status (the fast validator, as FHIR JSON, does not)."""
    r["status"] = None
    r.pop("_status", None)


def _second_choice(r: dict[str, Any]) -> None:
    if r["resourceType"] == "Observation":
        r["effectivePeriod"] = {"start": "2009-01-01"}        # effectiveDateTime is there already
    elif r["resourceType"] == "MedicationAdministration":
        r["medicationCodeableConcept" if "medicationReference" in r else "occurenceDateTime"] = \
            {"text": "x"} if "medicationReference" in r else "2009-01-01"
    else:
        r["extension"] = [{"url": "http://x", "valueString": "a", "valueCode": "b"}]


# (name, mutation): both validators must refuse the result (or, for the last ones, both accept it)
MUTATIONS: list[tuple[str, Callable[[dict[str, Any]], None]]] = [
    ("unknown element", _set("foo", 1)),
    ("number for a string", _set("id", 5)),
    ("id with a space", _set("id", "has space")),
    ("empty id", _set("id", "")),
    ("required status missing", _drop_status),
    ("null", _null_status),
    ("two choices of a choice group", _second_choice),
    ("unknown nested element", _set("meta", {"foo": 1})),
    ("dateTime without offset", _set("meta", {"lastUpdated": "2009-10-04T09:19"})),
    ("30 February", _set("meta", {"lastUpdated": "2009-02-30T09:19:00Z"})),
    ("extension with two values", _set("extension", [{"url": "http://x", "valueString": "a", "valueCode": "b"}])),
    ("extension without url", _set("extension", [{"valueString": "a"}])),
    ("empty object", _set("meta", {})),
    ("empty list", _set("extension", [])),
    ("string for a list", _set("extension", "x")),
    ("unknown contained resource type", _set("contained", [{"resourceType": "Nope", "id": "x"}])),
    ("code with leading space", _set("language", " en")),
    ("boolean for a uri", _set("implicitRules", True)),
    ("a status outside its value set (neither checks)", _set("status", "done")),
]
# Where the fast validator is stricter than the models, as the FHIR JSON format is (documented):
STRICTER = [
    ("decimal written as a JSON string", _set("extension", [{"url": "http://x", "valueDecimal": "1.0"}])),
    ("uri with a space", _set("implicitRules", "http://a b")),
]


def _sample(folder: Path) -> list[dict[str, Any]]:
    out = []
    for p in sorted(folder.glob("*.ndjson")):
        out += [orjson.loads(x) for x in p.read_bytes().splitlines()[:3]]
    return out


@pytest.mark.parametrize("version", ["R4", "R5"])
def test_fast_validator_agrees_with_the_models(written: dict[str, Path], version: str) -> None:  # noqa: F811
    spec = get_version(version)
    fast, models = FastValidator(spec, cache=False), ModelValidator(spec)
    base = _sample(written[version])
    assert len({r["resourceType"] for r in base}) == 11  # with Condition (MH), Procedure (PR), MedicationStatement (CM)
    checked = 0
    for r0 in base:
        assert fast.errors(r0) == [] and models.errors(r0) == []
        for name, mutate in MUTATIONS:
            r = copy.deepcopy(r0)
            mutate(r)
            f, m, whole = fast.errors(r), models.errors(r), fast.full_errors(r)
            assert bool(f) == bool(m), f"{name} on {r['resourceType']}: fast {f[:1]} models {m[:1]}"
            assert bool(f) == bool(whole), f"{name}: by parts {f[:1]}, whole {whole[:1]}"
            checked += 1
        for name, mutate in STRICTER:
            r = copy.deepcopy(r0)
            mutate(r)
            assert fast.errors(r) and not models.errors(r), name
    assert checked == len(base) * len(MUTATIONS)


def test_cached_validation_by_parts_finds_errors_in_shared_elements(written: dict[str, Path]) -> None:  # noqa: F811
    fast = FastValidator(get_version("R4"))
    obs = [orjson.loads(x) for x in (written["R4"] / "Observation.ndjson").read_bytes().splitlines()[:50]]
    shared_code = {"coding": [{"system": "http://loinc.org", "code": "1834-1", "bogus": 1}]}
    for o in obs:
        o["code"] = shared_code           # one object shared by 50 resources, checked once, reported 50 times
    errors = [fast.errors(o) for o in obs]
    assert all(e and "bogus" in e[0] for e in errors)
    assert sum(1 for value, _ in fast._objects.values() if value is shared_code) == 1  # checked once


def test_shipped_schema_subset_is_the_reproducible_extract(shared_dir: Path, tmp_path: Path) -> None:
    for name, folder in (("R4B", "R4B-4.3.0"), ("R5", "R5-5.0.0")):
        out = tmp_path / f"fhir_schema_{name}.json"
        subprocess.run([sys.executable, str(REPO / "scripts" / "extract_fhir_schema.py"), "--schema",
                        str(shared_dir / "external" / "fhir-schema" / folder / "fhir.schema.json"),
                        "--version", name, "--out", str(out)], check=True, capture_output=True)
        assert out.read_bytes() == (REPO / "mappings" / f"fhir_schema_{name}.json").read_bytes(), name
