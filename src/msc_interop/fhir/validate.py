"""Validating FHIR resources: with the fhir.resources models, and with a fast JSON Schema validator.

`ModelValidator` runs fhir.resources (R4B models for R4, R5 models for R5): the reference, ~300-4,000
resources/s depending on size. `FastValidator` runs jsonschema-rs against the official JSON Schema subset in
mappings/fhir_schema_<R4B|R5>.json (scripts/extract_fhir_schema.py: official definitions as published, plus
the two rules the models add that the official schema lacks: required primitive elements and choice groups).

Why the fast validator may validate by parts. A resource definition in the FHIR JSON Schema is an object
schema made only of `properties` (one subschema per element), `additionalProperties: false`, `required` and
(the added rules) constraints on which keys are present. So a resource is valid exactly when (a) its set of
keys passes the key rules and (b) each element value passes its element subschema. `errors()` checks (a)
once per distinct key set and (b) once per distinct element value: the writer shares element objects between
resources (one `code` object per lab test), and a value already found valid is not checked again. Every
element of every resource is still checked against the official subschema; `full_errors()` checks a whole
resource at once and tests compare the two on valid and mutated resources (tests/fhir/test_validate.py).
The cache keeps the checked objects alive and trusts that they are not changed afterwards (the writer never
changes a shared element); call `clear()` between batches, or pass `cache=False`.
"""

from __future__ import annotations

import functools
import importlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import jsonschema_rs

from msc_interop import mappings
from msc_interop.fhir.versions import FhirVersion

DRAFT = "http://json-schema.org/draft-06/schema#"
_SCALARS = frozenset((str, int, float, bool, type(None)))
_MISSING = object()


@dataclass(frozen=True)
class Finding:
    """One validation problem: where (file, position, resource) and what."""

    file: str
    position: int
    resource_type: str
    resource_id: str
    message: str

    def __str__(self) -> str:
        return f"{self.file} #{self.position} {self.resource_type}/{self.resource_id}: {self.message}"


class ModelValidator:
    """fhir.resources model validation (R4B models for R4, R5 models for R5)."""

    def __init__(self, version: FhirVersion):
        self.version = version
        self._classes: dict[str, Any] = {}

    def model(self, resource_type: str) -> Any:
        cls = self._classes.get(resource_type)
        if cls is None:
            module = importlib.import_module(f"{self.version.models_package}.{resource_type.lower()}")
            cls = getattr(module, resource_type)
            self._classes[resource_type] = cls
        return cls

    def errors(self, resource: dict[str, Any]) -> list[str]:
        from pydantic import ValidationError

        rtype = resource.get("resourceType")
        if not isinstance(rtype, str):
            return ["no resourceType"]
        try:
            cls = self.model(rtype)
        except (ImportError, AttributeError):
            return [f"unknown resourceType {rtype!r}"]
        try:
            cls.model_validate(resource)
        except ValidationError as exc:
            return [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        except Exception as exc:  # fhir.resources raises KeyError for an unknown contained resourceType
            return [f"{type(exc).__name__}: {exc}"]
        return []


@functools.cache
def _schema(schema_name: str) -> dict[str, Any]:
    return mappings.fhir_json_schema(schema_name)


def _refs(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        r = node.get("$ref")
        if isinstance(r, str) and r.startswith("#/definitions/"):
            out.add(r.rsplit("/", 1)[1])
        for v in node.values():
            _refs(v, out)
    elif isinstance(node, list):
        for v in node:
            _refs(v, out)


@functools.cache
def _closure(schema_name: str, name: str) -> frozenset[str]:
    defs = _schema(schema_name)["definitions"]
    keep: set[str] = set()
    todo = [name]
    while todo:
        n = todo.pop()
        if n in keep:
            continue
        keep.add(n)
        found: set[str] = set()
        _refs(defs[n], found)
        todo += [f for f in found if f not in keep]
    return frozenset(keep)


def _compile(schema_name: str, subschema: dict[str, Any]) -> Any:
    defs = _schema(schema_name)["definitions"]
    needed: set[str] = set()
    _refs(subschema, needed)
    names: set[str] = set()
    for n in needed:
        names |= _closure(schema_name, n)
    return jsonschema_rs.validator_for({"$schema": DRAFT, **subschema,
                                        "definitions": {n: defs[n] for n in sorted(names)}})


@functools.cache
def _full_validator(schema_name: str, resource_type: str) -> Any:
    return _compile(schema_name, {"$ref": f"#/definitions/{resource_type}"})


def _property_validator(schema_name: str, resource_type: str, prop: str) -> Any:
    subschema = _schema(schema_name)["definitions"][resource_type]["properties"][prop]
    return _compiled_subschema(schema_name, json.dumps(subschema, sort_keys=True))


@functools.cache
def _compiled_subschema(schema_name: str, subschema_json: str) -> Any:
    """One compiled validator per distinct element subschema (most elements share a few: Extension, Reference)."""
    return _compile(schema_name, json.loads(subschema_json))


@functools.cache
def _shape_validator(schema_name: str, resource_type: str) -> Any:
    d = _schema(schema_name)["definitions"][resource_type]
    shape: dict[str, Any] = {"type": "object", "propertyNames": {"enum": sorted(d["properties"])}}
    if d.get("required"):
        shape["required"] = d["required"]
    if d.get("allOf"):
        shape["allOf"] = d["allOf"]
    return jsonschema_rs.validator_for({"$schema": DRAFT, **shape})


def _messages(validator: Any, instance: Any, prefix: str) -> list[str]:
    out = []
    for e in validator.iter_errors(instance):
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e.instance_path)
        out.append(f"{prefix}{path}: {e.message}")
    return out or [f"{prefix}: invalid"]


def hints_cover(resources: list[dict[str, Any]], hints: dict[str, list[Any]], per_row: Iterable[str]) -> bool:
    """True when every element of every resource is either per-row or one of the objects its hint names."""
    per_row = set(per_row)
    ids = {k: {id(x) for x in objs} for k, objs in hints.items()}
    for r in resources:
        for k, value in r.items():
            if k in per_row:
                continue
            if k not in ids or id(value) not in ids[k]:
                return False
    return True


class FastValidator:
    """jsonschema-rs against the official FHIR JSON Schema subset of a version (see the module docstring)."""

    def __init__(self, version: FhirVersion, cache: bool = True):
        self.version = version
        self.schema_name = version.schema_name
        self.cache = cache
        self._roots = frozenset(_schema(self.schema_name)["x-msc-interop"]["roots"])
        self._shapes: dict[tuple[str, tuple[str, ...]], list[str]] = {}
        self._values: dict[tuple[str, str, type, Any], list[str]] = {}
        self._objects: dict[int, tuple[Any, list[str]]] = {}
        self._validators: dict[str, dict[str, Any]] = {}

    def clear(self) -> None:
        self._values.clear()
        self._objects.clear()

    def full_errors(self, resource: dict[str, Any]) -> list[str]:
        """Validate the whole resource in one call (no parts, no cache)."""
        rtype = resource.get("resourceType") if isinstance(resource, dict) else None
        if rtype not in self._roots:
            return [f"resourceType {rtype!r} is not one of those validated here ({', '.join(sorted(self._roots))})"]
        v = _full_validator(self.schema_name, rtype)
        return [] if v.is_valid(resource) else _messages(v, resource, rtype)

    def errors(self, resource: dict[str, Any]) -> list[str]:
        """Validate by parts: the key set once per distinct set, each element value once per distinct value."""
        if not isinstance(resource, dict):
            return ["a resource must be a JSON object"]
        rtype = resource.get("resourceType")
        if rtype not in self._roots:
            return [f"resourceType {rtype!r} is not one of those validated here ({', '.join(sorted(self._roots))})"]
        keys = tuple(resource)
        shape_key = (rtype, keys)
        out = self._shapes.get(shape_key)
        if out is None:
            sv = _shape_validator(self.schema_name, rtype)
            skeleton = dict.fromkeys(keys, 0)
            out = [] if sv.is_valid(skeleton) else _messages(sv, skeleton, rtype)
            self._shapes[shape_key] = out
        errors = list(out)
        validators = self._validators.get(rtype)
        if validators is None:
            validators = self._validators[rtype] = {}
        props = _schema(self.schema_name)["definitions"][rtype]["properties"]
        objects, values, cache = self._objects, self._values, self.cache
        for k, value in resource.items():
            if cache:
                if type(value) in _SCALARS:
                    found = values.get((rtype, k, type(value), value))
                    if found is not None:
                        if found:
                            errors += found
                        continue
                else:
                    entry = objects.get(id(value))
                    if entry is not None and entry[0] is value:
                        if entry[1]:
                            errors += entry[1]
                        continue
            if k not in props:
                continue  # reported by the key-set check
            v = validators.get(k)
            if v is None:
                v = validators[k] = _property_validator(self.schema_name, rtype, k)
            found = [] if v.is_valid(value) else _messages(v, value, f"{rtype}.{k}")
            if cache:
                if type(value) in _SCALARS:
                    values[(rtype, k, type(value), value)] = found
                else:
                    objects[id(value)] = (value, found)
            errors += found
        return errors

    def errors_many(self, resources: list[dict[str, Any]]) -> list[list[str]]:
        """`errors()` for a batch, element by element across the batch (the writer's path).

        Same parts as `errors()`: each distinct key set once, each element value against its subschema, a
        value object shared by many resources checked once. Going column by column keeps the per-resource
        Python work to a few list operations, which is what makes validating every resource cheap.
        """
        out: list[list[str]] = [[] for _ in resources]
        by_type: dict[Any, list[int]] = {}
        for i, r in enumerate(resources):
            by_type.setdefault(r.get("resourceType") if isinstance(r, dict) else None, []).append(i)
        for rtype, idx in by_type.items():
            if rtype not in self._roots:
                for i in idx:
                    out[i] = self.errors(resources[i])
                continue
            batch = [resources[i] for i in idx]
            shapes: dict[tuple[str, ...], list[int]] = {}
            for j, r in zip(idx, batch, strict=True):
                shapes.setdefault(tuple(r), []).append(j)
            keys: dict[str, None] = {}
            for shape, rows in shapes.items():
                found = self._shapes.get((rtype, shape))
                if found is None:
                    sv = _shape_validator(self.schema_name, rtype)
                    skeleton = dict.fromkeys(shape, 0)
                    found = [] if sv.is_valid(skeleton) else _messages(sv, skeleton, rtype)
                    self._shapes[(rtype, shape)] = found
                if found:
                    for j in rows:
                        out[j] += found
                keys.update(dict.fromkeys(shape))
            props = _schema(self.schema_name)["definitions"][rtype]["properties"]
            validators = self._validators.setdefault(rtype, {})
            for k in keys:
                if k not in props:
                    continue  # reported by the key-set check
                v = validators.get(k)
                if v is None:
                    v = validators[k] = _property_validator(self.schema_name, rtype, k)
                column = [r.get(k, _MISSING) for r in batch]
                distinct = {id(x): x for x in column if x is not _MISSING}
                bad = {key: _messages(v, x, f"{rtype}.{k}") for key, x in distinct.items() if not v.is_valid(x)}
                if bad:
                    for j, x in zip(idx, column, strict=True):
                        if x is not _MISSING and id(x) in bad:
                            out[j] += bad[id(x)]
        return out

    def errors_hinted(self, resources: list[dict[str, Any]], hints: dict[str, list[Any]],
                      per_row: Iterable[str]) -> list[list[str]]:
        """`errors_many()` when the builder says which objects the batch shares (`hints`, element -> the
        distinct objects used) and which elements it made per row (`per_row`).

        Every element of every resource is still checked: shared ones as the distinct objects named in
        `hints` (one check each), per-row ones resource by resource, key sets once per distinct set. The
        builder must name every object it shares (tests/fhir/test_fhir_validate.py checks that it does:
        `hints_cover`); if anything is invalid, the batch is checked again with `errors_many` so that the
        findings name the resources.
        """
        if not resources:
            return []
        rtype = resources[0].get("resourceType")
        if rtype not in self._roots:
            return self.errors_many(resources)
        validators = self._validators.setdefault(rtype, {})
        props = _schema(self.schema_name)["definitions"][rtype]["properties"]
        ok = True
        seen_shapes: set[tuple[str, ...]] = set()
        for r in resources:
            shape = tuple(r)
            if shape in seen_shapes:
                continue
            seen_shapes.add(shape)
            found = self._shapes.get((rtype, shape))
            if found is None:
                sv = _shape_validator(self.schema_name, rtype)
                skeleton = dict.fromkeys(shape, 0)
                found = [] if sv.is_valid(skeleton) else _messages(sv, skeleton, rtype)
                self._shapes[(rtype, shape)] = found
            ok = ok and not found and r.get("resourceType") == rtype
        checks: list[tuple[str, Any]] = list(hints.items())
        for k in per_row:
            column = [r[k] for r in resources if k in r]
            if column and not isinstance(column[0], str):  # lists and objects may be shared: each once
                column = list({id(x): x for x in column}.values())
            checks.append((k, column))
        for k, objs in checks:
            if not ok:
                break
            if k not in props:
                ok = not objs
                continue
            v = validators.get(k)
            if v is None:
                v = validators[k] = _property_validator(self.schema_name, rtype, k)
            ok = all(v.is_valid(x) for x in objs)
        return [[] for _ in resources] if ok else self.errors_many(resources)

    def check_all(self, resources: Iterable[dict[str, Any]], file: str = "", start: int = 0) -> list[Finding]:
        findings = []
        for i, r in enumerate(resources, start):
            for msg in self.errors(r):
                findings.append(Finding(file, i, str(r.get("resourceType")), str(r.get("id")), msg))
        return findings
