"""What the FHIR rules look for in a resource (Codings, quantities, references, dates), found in one walk.

A walk in Python over every nested object is most of the cost of the rules on a big NDJSON set, and most
elements repeat between resources (the same `code`, `category`, `subject` in many Observations). So each
top-level element is walked once per distinct (resource type, element name, JSON text): the finds of an
element depend only on those, and its paths start at the resource type. The memo is bounded (cleared when
full), so memory stays flat on a stream; an element that misses on at least half of 2,000+ resources of its
type (an identifier, a result value) is not kept from then on: its JSON text is searched for a key the walk
acts on (`_trigger`), and it is walked only when one is there. The finds of a repeated element hold the
first one's Coding objects, which are equal in content (the rules only read them).

Only what a rule could report is kept: the Codings with no system or no code (MSC-FHIR-003), a LOINC code that is
not well formed (MSC-FHIR-006) or whose display is another code's LOINC name (MSC-FHIR-014) or a code system URI
that is not the canonical one (MSC-FHIR-012); the quantities (at the paths of MSC-FHIR-004) not in UCUM or whose
UCUM code does not parse (MSC-FHIR-004, -005, -011); the dates that are not valid FHIR dates (MSC-FHIR-010). Each
rule still applies its own test to what is kept, and finds nothing in what is not, so its findings are the same; on
a clean set the lists are empty and the rules pass over each resource in one test. References are all
kept: whether one resolves depends on the rest of the set.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from msc_interop.code_systems import noncanonical_system
from msc_interop.loinc_names import coding_display_problem
from msc_interop.validate.registry import get_rule
from msc_interop.validate.terminology import fhir_date_problem, loinc_problem, ucum_problem

# resource type -> element name -> {JSON text: finds}; None for an element that hardly ever repeats
# (identifier, valueQuantity): walked directly, without the memo's dumps
_MEMO: dict[str, dict[str, dict[bytes, _Scan] | None]] = {}
_MEMO_MAX = 20_000
_SIZE = [0]
_MISSES: dict[tuple[str, str], int] = {}
_SEEN: dict[str, int] = {}
_NEW = object()


@dataclass(eq=False)
class _Scan:
    """Codings (path, object), references (path, text), dates (path, element name, text), quantities (number
    of the MSC-FHIR-004 path, path, object). For a resource, `elements` holds the finds of the elements named
    in KEPT when they came from the memo (a rule may keep what it derives from an element on its finds,
    `derived`, and so derive it once per distinct element)."""

    codings: list[tuple[str, dict[str, Any]]]
    references: list[tuple[str, str]]
    dates: list[tuple[str, str, str]]
    quantities: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)
    elements: dict[str, _Scan] | None = None
    derived: Any = None


KEPT = frozenset({"referenceRange", "interpretation"})  # read by MSC-FHIR-007


@functools.cache
def _system(name: str) -> str:
    """A code system's URI (mappings, read once per name)."""
    from msc_interop.fhir import terms

    return terms.system(name)


@functools.lru_cache(4096)
def _loinc_bad(code: str) -> bool:
    return bool(loinc_problem(code))


def _needs_look(coding: dict[str, Any]) -> bool:
    """A Coding that MSC-FHIR-003, -006, -012 or -014 may report (each rule still applies its own test)."""
    system, code = coding.get("system"), coding.get("code")
    if not (system and code):
        return True
    if type(system) is str and noncanonical_system(system):
        return True
    return system == _system("loinc") and isinstance(code, str) and (
        _loinc_bad(code) or coding_display_problem(coding) is not None)


@functools.lru_cache(4096)
def _ucum_bad(code: str) -> bool:
    return bool(ucum_problem(code))


def _quantity_needs_look(q: Any) -> bool:
    """A quantity that MSC-FHIR-004, -005 or -011 may report: with a value, and not a UCUM code that parses; or
    MSC-FHIR-001: a value written as a JSON string."""
    if not isinstance(q, dict) or "value" not in q:
        return False
    if type(q["value"]) is str:
        return True
    code = q.get("code")
    if q.get("system") != _system("ucum") or not code:
        return True
    return isinstance(code, str) and _ucum_bad(code)


@functools.lru_cache(65536)
def date_problem(value: str, kind: str) -> str:
    return fhir_date_problem(value, kind)


@functools.cache
def _quantity_steps() -> dict[str, dict[str, list[tuple[int, list[str]]]]]:
    """Resource type -> top-level element -> (number, steps) of the paths of MSC-FHIR-004 that start there."""
    out: dict[str, dict[str, list[tuple[int, list[str]]]]] = {}
    for n, dotted in enumerate(get_rule("MSC-FHIR-004").params.get("quantities", [])):
        rtype, *steps = dotted.split(".")
        out.setdefault(rtype, {}).setdefault(steps[0], []).append((n, steps))
    return out


def select(node: Any, steps: list[str], path: str) -> list[tuple[str, Any]]:
    """Nodes at a dotted path below `node` (arrays expanded, with their indexes in the path)."""
    nodes: list[tuple[str, Any]] = [(path, node)]
    for step in steps:
        below: list[tuple[str, Any]] = []
        for at, x in nodes:
            if not isinstance(x, dict):
                continue
            value = x.get(step, _NEW)
            if value is _NEW:
                continue
            here = f"{at}.{step}"
            if isinstance(value, list):
                below += [(f"{here}[{i}]", v) for i, v in enumerate(value)]
            else:
                below.append((here, value))
        if not below:
            return below
        nodes = below
    return nodes


@functools.cache
def _triggers() -> re.Pattern[bytes]:
    """A key the walk acts on, as JSON text shows it (`"reference":`): an element whose text has none has no
    finds. A quote inside a JSON string is escaped, so a string value cannot look like a key here."""
    names = ["reference", "coding", "div", *sorted(_date_elements())]
    return re.compile(b'"(?:' + b"|".join(re.escape(n.encode()) for n in names) + b'|[^"\\\\]*Coding)"\\s*:')


def _trigger(text: bytes) -> bool:
    return _triggers().search(text) is not None


def _element(rtype: str, key: str, value: Any, kinds: dict[str, str], walk: bool = True) -> _Scan:
    """The finds of one top-level element (only what a rule could report, see the module docstring); without
    `walk`, its quantities only (the element has no key the walk acts on)."""
    part = _Scan([], [], [])
    if walk:
        _walk({key: value}, rtype, part, kinds)
    if part.codings:
        part.codings = [c for c in part.codings if _needs_look(c[1])]
    if part.dates:
        part.dates = [d for d in part.dates if date_problem(d[2], kinds[d[1]])]
    for n, steps in _quantity_steps().get(rtype, {}).get(key, ()):
        part.quantities += [(n, p, q) for p, q in select({key: value}, steps, rtype) if _quantity_needs_look(q)]
    return part


@functools.cache
def _date_elements() -> dict[str, str]:
    """Element name -> FHIR date kind, from the params of MSC-FHIR-010 (instant wins over dateTime)."""
    p = get_rule("MSC-FHIR-010").params
    out = dict.fromkeys(p.get("dateTime", []), "dateTime")
    out.update(dict.fromkeys(p.get("date", []), "date"))
    out.update(dict.fromkeys(p.get("instant", []), "instant"))
    return out


def bundle_shell(bundle: dict[str, Any]) -> dict[str, Any]:
    """A Bundle without its entries' resources: those are items of their own, checked and located there."""
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        return bundle
    return {**bundle, "entry": [{k: v for k, v in e.items() if k != "resource"} if isinstance(e, dict) else e
                                for e in entries]}


def scan(item: Any) -> _Scan:
    """One walk over the resource (narrative text.div left out; for a Bundle read whole, its shell only, each
    entry's resource being an item of its own), cached on the item; paths are FHIRPath."""
    if item._scan is None:
        kinds = _date_elements()
        rtype = item.type
        found = item._scan = _Scan([], [], [])
        seen = _SEEN[rtype] = _SEEN.get(rtype, 0) + 1
        memo = _MEMO.get(rtype)
        if memo is None:
            memo = _MEMO[rtype] = {}
        dumps, quantity_keys = orjson.dumps, _quantity_steps().get(rtype, {})
        resource = bundle_shell(item.resource) if item.is_bundle else item.resource
        for key, value in resource.items():
            kind = type(value)
            if kind is dict or kind is list:
                per = memo.get(key, _NEW)
                if per is _NEW:
                    per = memo[key] = {}
                part = text = None
                try:
                    text = dumps(value)
                except TypeError:  # not JSON (a caller's own dict): walked without the memo
                    pass
                else:
                    if per is not None:
                        part = per.get(text)
                    elif not _trigger(text):  # a unique element with nothing the walk looks for
                        if key not in quantity_keys or (kind is dict and len(quantity_keys[key]) == 1
                                                        and quantity_keys[key][0][1] == [key]
                                                        and not _quantity_needs_look(value)):
                            continue  # nor a quantity a rule would report (a result's valueQuantity)
                        part = _element(rtype, key, value, kinds, walk=False)
                if part is None:
                    part = _element(rtype, key, value, kinds)
                    if text is not None and per is not None:
                        _remember(rtype, key, per, text, part, seen)
                if key in KEPT and per is not None and text is not None:
                    if found.elements is None:
                        found.elements = {}
                    found.elements[key] = part
                if part.codings:
                    found.codings += part.codings
                if part.references:
                    found.references += part.references
                if part.dates:
                    found.dates += part.dates
                if part.quantities:
                    found.quantities += part.quantities
            elif kind is str:
                if key == "reference":
                    found.references.append((f"{rtype}.reference", value))
                elif key in kinds and date_problem(value, kinds[key]):
                    found.dates.append((f"{rtype}.{key}", key, value))
        if len(found.quantities) > 1:
            found.quantities.sort(key=lambda x: x[0])  # in the order of the paths of MSC-FHIR-004, as listed
    return item._scan


def _remember(rtype: str, key: str, per: dict[bytes, _Scan], text: bytes, part: _Scan, seen: int) -> None:
    """Keep a new element's finds (the memo cleared when full); an element that misses on at least half of
    2,000+ resources of its type is walked directly from then on."""
    if _SIZE[0] >= _MEMO_MAX:
        for elements in _MEMO.values():
            for d in elements.values():
                if d is not None:
                    d.clear()
        _SIZE[0] = 0
    per[text] = part
    _SIZE[0] += 1
    element = (rtype, key)
    n = _MISSES[element] = _MISSES.get(element, 0) + 1
    if n >= 1000 and n * 2 >= seen >= 2000:
        _MEMO[rtype][key] = None
        _SIZE[0] -= len(per)


def _walk(node: dict[str, Any], path: str, found: _Scan, kinds: dict[str, str]) -> None:
    # a module function, not a closure: a recursive closure is a reference cycle that would keep every
    # resource scanned alive until the cyclic GC runs (and streaming runs with it paused)
    for key, value in node.items():
        kind = type(value)
        if kind is dict:
            if key == "text" and "div" in value:
                continue
            here = f"{path}.{key}"
            if key.endswith("Coding"):
                found.codings.append((here, value))
            _walk(value, here, found, kinds)
        elif kind is list:
            here = f"{path}.{key}"
            for i, v in enumerate(value):
                if type(v) is dict:
                    at = f"{here}[{i}]"
                    if key == "coding":
                        found.codings.append((at, v))
                    _walk(v, at, found, kinds)
        elif kind is str:
            if key == "reference":
                found.references.append((f"{path}.reference", value))
            elif key in kinds:
                found.dates.append((f"{path}.{key}", key, value))
