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
resource at once and tests compare the two on valid and mutated resources (tests/fhir/test_fhir_validate.py).
The cache keeps the checked objects alive and trusts that they are not changed afterwards (the writer never
changes a shared element); call `clear()` between batches, or pass `cache=False`.

`errors_columns()` is the same check for resources held column-wise (fhir/columns.py, the writer's path for
Observations and Encounters): the distinct key sets, and the distinct values of every element in a single
jsonschema-rs call per chunk (tests/fhir/test_fhir_columns.py compares it with the models and with
`full_errors()` on mutated chunks).
"""

from __future__ import annotations

import functools
import importlib
import json
from dataclasses import dataclass
from typing import Any

import jsonschema_rs

from msc_interop import mappings
from msc_interop.fhir.columns import ResourceColumns, slot_path
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


def _property_list_validator(schema_name: str, resource_type: str, prop: str) -> Any:
    """Validator of a list of values of element `prop` (valid exactly when each value is): many values in one
    call, where one call per value would cost more in crossing to jsonschema-rs than in checking."""
    subschema = _schema(schema_name)["definitions"][resource_type]["properties"][prop]
    return _compiled_subschema(schema_name, json.dumps({"type": "array", "items": subschema}, sort_keys=True))


def _column_values(chunk: ResourceColumns) -> tuple[dict[str, list[Any]], list[tuple[str, tuple[str | int, ...]]]]:
    """The instance `_chunk_validator` checks: per element name the distinct values rows hold, and per text
    element its strings (under "<name> <place>"); and the places of the text elements."""
    values: dict[str, list[Any]] = {}
    slots = []
    for element in chunk.elements:
        # one value per row (codes 0..n-1): all of them are used
        every = element.per_row and element.names is None and len(element.values) == len(element.codes)
        used = list(range(len(element.values))) if every else element.used().tolist()
        if not used:
            continue
        if element.template is not None:
            path = slot_path(element.template)
            slots.append((element.name, path))
            values.setdefault(element.name, []).append(element.value(used[0]))
            values[_slot_key(element.name, path)] = element.values if every else [element.values[k] for k in used]
        elif element.names is None and len(used) == len(element.values):
            values.setdefault(element.name, []).extend(element.values)
        else:
            for k in used:
                values.setdefault(element.name_of(k), []).append(element.values[k])
    return values, slots


def _slot_key(name: str, path: tuple[str | int, ...]) -> str:
    return name + " " + ".".join(map(str, path))


@functools.cache
def _chunk_validator(schema_name: str, resource_type: str, slots: tuple[tuple[str, tuple[str | int, ...]], ...]
                     ) -> Any:
    """Validator of `_column_values` of a chunk of one resource type: property `name` is a list of values of
    element `name` (items: its subschema), "<name> <place>" a list of strings of a text element (items: the
    subschema of that place in the element); no other property."""
    defs = _schema(schema_name)["definitions"]
    props = defs[resource_type]["properties"]
    lists = {name: {"type": "array", "items": sub} for name, sub in props.items()}
    for name, path in slots:
        node = props[name]
        for step in path:
            while "$ref" in node:
                node = defs[node["$ref"].rsplit("/", 1)[1]]
            node = node["items"] if isinstance(step, int) else node["properties"][step]
        lists[_slot_key(name, path)] = {"type": "array", "items": node}
    return _compile(schema_name, {"type": "object", "properties": lists, "additionalProperties": False})


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

    def validates(self, resource_type: str) -> bool:
        """True when the schema subset holds this resource type (others: the models, ModelValidator)."""
        return resource_type in self._roots

    def is_valid(self, resource: dict[str, Any]) -> bool:
        """The whole resource valid, in one jsonschema-rs call (False for a type the schema does not hold)."""
        rtype = resource.get("resourceType")
        return rtype in self._roots and _full_validator(self.schema_name, rtype).is_valid(resource)

    def shape_valid(self, resource_type: str, keys: tuple[str, ...]) -> bool:
        """A key set passes the key rules (once per distinct set): with each element valid by its
        `element_validator`, the resource is valid (see the module docstring)."""
        return resource_type in self._roots and not self._shape_errors(resource_type, keys)

    def element_validator(self, resource_type: str, key: str) -> Any | None:
        """The compiled validator of one element of a resource type this schema holds (None when it has no such
        element)."""
        props = _schema(self.schema_name)["definitions"][resource_type]["properties"]
        return _property_validator(self.schema_name, resource_type, key) if key in props else None

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
        errors = list(self._shape_errors(rtype, tuple(resource)))
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
                found = self._shape_errors(rtype, shape)
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
                if _property_list_validator(self.schema_name, rtype, k).is_valid(list(distinct.values())):
                    continue  # every value valid (checked in one call); else each value once, for its messages
                bad = {key: _messages(v, x, f"{rtype}.{k}") for key, x in distinct.items() if not v.is_valid(x)}
                if bad:
                    for j, x in zip(idx, column, strict=True):
                        if x is not _MISSING and id(x) in bad:
                            out[j] += bad[id(x)]
        return out

    def errors_columns(self, chunk: ResourceColumns) -> dict[int, list[str]]:
        """Problems per row (rows without problems left out) of a chunk held column-wise (the writer's path).

        Same parts as `errors()`: each distinct key set once, and each distinct value of each element against
        that element's subschema. All the values are checked in one jsonschema-rs call: the instance is an
        object with, per element name, the list of its distinct values, and the schema gives each such list
        `items` = the element's subschema (valid exactly when every value is). Every value a row holds is one
        of those distinct values and its key set one of the distinct key sets, so every element of every
        resource is checked. A text element (one string per row in a fixed template, fhir/columns.py) is
        checked as its template filled with one of the strings, and all its strings against the subschema of
        the place they take in the template: in the FHIR schema an object's verdict is its key set and each
        value against its own subschema (the premise of validating by parts), so with the rest fixed only that
        place depends on the string. When anything is invalid, the resources (parsed back from the text that
        is written) are checked again with `errors_many` so that the findings name them.
        """
        rtype = chunk.resource_type
        ok = rtype in self._roots
        if ok:
            _, shapes = chunk.shapes()
            ok = not any(self._shape_errors(rtype, shape) for shape in shapes)
        if ok:
            values, slots = _column_values(chunk)
            ok = _chunk_validator(self.schema_name, rtype, tuple(slots)).is_valid(values)
        if ok:
            return {}
        return {i: msgs for i, msgs in enumerate(self.errors_many(chunk.resources())) if msgs}

    def _shape_errors(self, rtype: str, keys: tuple[str, ...]) -> list[str]:
        """Problems of a key set (unknown elements, missing required ones, choice groups), once per set."""
        found = self._shapes.get((rtype, keys))
        if found is None:
            sv = _shape_validator(self.schema_name, rtype)
            skeleton = dict.fromkeys(keys, 0)
            found = [] if sv.is_valid(skeleton) else _messages(sv, skeleton, rtype)
            self._shapes[(rtype, keys)] = found
        return found


@functools.cache
def fast_validator(version: str) -> FastValidator:
    """One shared FastValidator per FHIR version ("R4" | "R5"), for `validate` (validate/fhir_rules.py).
    Without its cache of checked objects: `errors_many` keeps none, and a long stream must not hold any."""
    from msc_interop.fhir.versions import get_version

    return FastValidator(get_version(version), cache=False)
