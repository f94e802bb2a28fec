"""The JSON shape of each element a reader uses, checked before the reader reads it.

Why: FHIR JSON written by others (or edited by hand) has elements of the wrong JSON type: an object where FHIR has
a list (`interpretation: {...}`), a number for a string (`identifier: 5`), null, a string for a Reference. Read as
they are, they end in a traceback or, worse, a value read wrongly. Each resource module lists the element paths its
reader uses (`Shape("Observation", ["code.coding.system", ...])`); their JSON types come from the official FHIR
JSON Schemas (mappings/fhir_schema_R4B.json and _R5.json, either version's shape accepted: AdverseEvent.identifier
is one object in R4, a list in R5). Elements the reader does not use are not checked: a wrong type there changes
nothing that is converted.

A path is dotted element names; a list level needs no mark (`code.coding.system` checks every coding);
`contained(Specimen).type` checks only the contained resources of that type.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from msc_interop import mappings

VERSIONS = ("R4B", "R5")
_KIND_WORDS = {"object": "an object", "string": "a string", "number": "a number", "boolean": "true/false"}


def json_kind(value: Any) -> str:
    """What a JSON value is, in words (for a reason that says an element has the wrong shape)."""
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    return "an object" if isinstance(value, dict) else "null"


def _kind(value: Any) -> str:
    t = type(value)
    if t is dict:
        return "object"
    if t is str:
        return "string"
    if t is bool:
        return "boolean"
    if t is int or t is float:
        return "number"
    return "list" if t is list else "null"


@dataclass
class _Node:
    """One element: the JSON kinds one value may have, whether a list of them / one value is allowed, and the
    elements under it that the reader uses."""

    name: str
    kinds: set[str] = field(default_factory=set)
    many: bool = False
    single: bool = False
    only: str | None = None  # contained(Type): check only the items of this resourceType
    children: dict[str, _Node] = field(default_factory=dict)

    def expected(self, item: bool = False) -> str:
        """What FHIR has here, in words (`item`: for one item of a list)."""
        one = " or ".join(_KIND_WORDS[k] for k in sorted(self.kinds))
        if item:
            return one
        plural = " or ".join(sorted(k + ("es" if k == "boolean" else "s") for k in self.kinds)).replace(
            "booleanes", "true/false values")
        if self.many and self.single:
            return f"{one} or a list of them"
        return f"a list of {plural}" if self.many else one


@dataclass(frozen=True)
class ShapeProblem:
    """An element whose JSON type is not the one FHIR gives it: its path (`referenceRange[0].low.value`), the
    top-level element it sits in, the value found and what FHIR has there."""

    rtype: str
    path: str
    element: str
    value: Any
    expected: str

    @property
    def field(self) -> str:
        return f"{self.rtype}.{self.path}"

    @property
    def short(self) -> str:
        """What is wrong, briefly (for what refers to a record rejected for it)."""
        return f"{self.field} is {json_kind(self.value)}, not {self.expected}"

    def reason(self, outcome: str = "the record cannot be read") -> str:
        found = "null (FHIR JSON has no null values: leave the element out)" if self.value is None else \
            json_kind(self.value)
        return f"{self.field} is {found}, not {self.expected}: {outcome}"


class Shape:
    """The elements of resource type `rtype` that a reader uses (dotted paths), with the JSON shape FHIR gives them.

    `kept`: top-level elements whose wrong shape leaves the record converted without them (-> what is lost, for
    the note the reader lists); any other wrong element rejects the record.
    """

    def __init__(self, rtype: str, paths: Iterable[str], kept: Mapping[str, str] | None = None):
        self.rtype = rtype
        self.paths = tuple(paths)
        self.kept = dict(kept or {})  # element -> what the record is converted without ("a visit", "SEX")

    @functools.cached_property
    def root(self) -> _Node:
        """The element tree, made from the schemas when first needed (not when a module is imported)."""
        root = _Node(self.rtype, {"object"}, single=True)
        for path in self.paths:
            self._add(root, path)
        return root

    def _add(self, root: _Node, path: str) -> None:
        node = root
        defs = [(v, self.rtype) for v in VERSIONS]  # (version, definition name) of the current node
        for part in path.split("."):
            name, only = part[:-1].split("(") if part.endswith(")") else (part, None)
            key = part
            child = node.children.get(key)
            found = []
            for version, parent in defs:
                prop = _definitions(version).get(parent, {}).get("properties", {}).get(name)
                if prop is not None:
                    found.append((version, prop))
            if not found:
                raise ValueError(f"{self.rtype}.{path}: {name!r} is not an element in the FHIR schemas")
            if child is None:
                child = node.children[key] = _Node(name, only=only)
            next_defs = []
            for version, prop in found:
                many = prop.get("type") == "array"
                item = prop.get("items", {}) if many else prop
                child.many |= many
                child.single |= not many
                kind, ref = _item_kind(version, item)
                child.kinds.add(kind)
                if ref is not None:
                    next_defs.append((version, only or ref))
            node, defs = child, next_defs

    @functools.cached_property
    def by_name(self) -> dict[str, list[_Node]]:
        """Top-level element name -> its nodes (`contained(Specimen)` and `contained(Medication)` are both
        `contained`)."""
        out: dict[str, list[_Node]] = {}
        for node in self.root.children.values():
            out.setdefault(node.name, []).append(node)
        return out

    def problem(self, resource: dict[str, Any], names: Iterable[str] | None = None) -> ShapeProblem | None:
        """The first used element (of the top-level element `names`, default all) without its FHIR shape."""
        return self.problems(resource, names, keep=False)[0]

    def problems(self, resource: dict[str, Any], names: Iterable[str] | None = None, keep: bool = True
                 ) -> tuple[ShapeProblem | None, list[ShapeProblem]]:
        """(the first problem that rejects the record, or None; the problems of `kept` elements before it)."""
        kept: list[ShapeProblem] = []
        by_name = self.by_name
        for name in (by_name if names is None else names):
            value = resource.get(name)
            if value is None and name not in resource:
                continue
            for node in by_name[name]:
                found = _check(node, value, name, self.rtype, name)
                if found is None:
                    continue
                if not keep or name not in self.kept:
                    return found, kept
                kept.append(found)
                break
        return None, kept

    def element_problem(self, name: str, value: Any) -> ShapeProblem | None:
        """The problem of top-level element `name` holding `value` (None: absent, not checked), if any."""
        if value is None:
            return None
        for node in self.by_name.get(name, ()):
            found = _check(node, value, name, self.rtype, name)
            if found is not None:
                return found
        return None

    def names(self) -> list[str]:
        return list(self.by_name)

    def checker(self, names: Iterable[str] | None = None) -> Callable[[dict[str, Any]], bool]:
        """A function telling whether a resource's used elements (of the top-level `names`, default all) all have
        their shape: the same answer as `problem(...) is None`, about ten times as fast (Python made from the
        element tree: one type() test per element present, no call per element). Use it first, and `problems`
        only to say what is wrong."""
        key = tuple(self.by_name) if names is None else tuple(names)
        found = self._checkers.get(key)
        if found is None:
            found = self._checkers[key] = _compile(self.rtype, [n for name in key for n in self.by_name[name]])
        return found

    @functools.cached_property
    def _checkers(self) -> dict[tuple[str, ...], Callable[[dict[str, Any]], bool]]:
        return {}


def _check(node: _Node, value: Any, path: str, rtype: str, top: str) -> ShapeProblem | None:
    if type(value) is list:
        if not node.many:
            return ShapeProblem(rtype, path, top, value, node.expected())
        for i, item in enumerate(value):
            found = _check_one(node, item, f"{path}[{i}]", rtype, top, item=True)
            if found is not None:
                return found
        return None
    if not node.single:
        return ShapeProblem(rtype, path, top, value, node.expected())
    return _check_one(node, value, path, rtype, top)


def _check_one(node: _Node, value: Any, path: str, rtype: str, top: str, item: bool = False) -> ShapeProblem | None:
    kind = _kind(value)
    if kind not in node.kinds:
        return ShapeProblem(rtype, path, top, value, node.expected(item))
    if kind == "object" and node.children:
        if node.only is not None and value.get("resourceType") != node.only:
            return None
        for child in node.children.values():
            v = value.get(child.name)
            if v is None and child.name not in value:
                continue
            found = _check(child, v, f"{path}.{child.name}", rtype, top)
            if found is not None:
                return found
    return None


_PY_TYPES = {"object": (dict,), "string": (str,), "number": (int, float), "boolean": (bool,)}


def _compile(rtype: str, nodes: list[_Node]) -> Callable[[dict[str, Any]], bool]:
    """The source of a function `ok(res)` that walks `nodes` as _check does, inlined, and its compiled form."""
    lines = ["def ok(res):"]
    consts: dict[str, Any] = {"MISSING": _MISSING}
    counter = [0]

    def var() -> str:
        counter[0] += 1
        return f"v{counter[0]}"

    def types_of(node: _Node) -> str:
        name = f"T{len(consts)}"
        consts[name] = tuple(t for k in sorted(node.kinds) for t in _PY_TYPES[k])
        return name

    def one(node: _Node, x: str, ind: str) -> None:
        lines.append(f"{ind}if type({x}) not in {types_of(node)}: return False")
        if "object" in node.kinds and node.children:
            inner = ind
            if len(node.kinds) > 1:
                lines.append(f"{ind}if type({x}) is dict:")
                inner = ind + " "
            if node.only is not None:
                lines.append(f"{inner}if {x}.get('resourceType') == {node.only!r}:")
                inner += " "
            for child in node.children.values():
                c = var()
                lines.append(f"{inner}{c} = {x}.get({child.name!r}, MISSING)")
                lines.append(f"{inner}if {c} is not MISSING:")
                element(child, c, inner + " ")

    def element(node: _Node, x: str, ind: str) -> None:
        if node.many:
            item = var()
            lines.append(f"{ind}if type({x}) is list:")
            lines.append(f"{ind} for {item} in {x}:")
            one(node, item, ind + "  ")
            if node.single:
                lines.append(f"{ind}else:")
                one(node, x, ind + " ")
            else:
                lines.append(f"{ind}else: return False")
        else:
            one(node, x, ind)

    for node in nodes:
        x = var()
        lines.append(f" {x} = res.get({node.name!r}, MISSING)")
        lines.append(f" if {x} is not MISSING:")
        element(node, x, "  ")
    lines.append(" return True")
    namespace = dict(consts)
    exec(compile("\n".join(lines), f"<shape of {rtype}>", "exec"), namespace)  # the source made above, no input
    return namespace["ok"]


_MISSING = object()


@functools.cache
def _definitions(version: str) -> dict[str, Any]:
    return mappings.fhir_json_schema(version)["definitions"]


def _item_kind(version: str, prop: dict[str, Any]) -> tuple[str, str | None]:
    """(JSON kind, definition name to go on with for an object) of one schema property (an array's item)."""
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[-1]
        d = _definitions(version).get(name, {})
        if "properties" in d or "oneOf" in d:
            return "object", name
        return _primitive(d.get("type")), None
    if "enum" in prop or "const" in prop:
        return "string", None
    return _primitive(prop.get("type")), None


def _primitive(schema_type: Any) -> str:
    return {"string": "string", "number": "number", "integer": "number", "boolean": "boolean"}.get(
        schema_type, "object")


# The extensions every reader reads (fhir/common.read_carried: sdtm-variables; resources/supp.read_supplemental:
# sdtm-supplemental): their url and the values of their sub-extensions.
EXTENSION_PATHS = (
    "extension.url", "extension.extension.url", "extension.extension.valueString",
    "extension.extension.valueInteger", "extension.extension.valueDecimal", "extension.extension.valueCode",
    "extension.extension.valueDateTime", "extension.extension._valueDateTime.extension.url",
    "extension.extension._valueDateTime.extension.valueString",
)


def kept_text(parent: str) -> tuple[str, ...]:
    """The paths of the kept SDTM text of a primitive (`_name.extension` with url and valueString)."""
    return (f"{parent}.extension.url", f"{parent}.extension.valueString")
