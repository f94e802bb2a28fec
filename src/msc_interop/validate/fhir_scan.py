"""What the FHIR rules look for in a resource (Codings, references, date elements), found in one walk.

A walk in Python over every nested object is most of the cost of the rules on a big NDJSON set, and most
elements repeat between resources (the same `code`, `category`, `subject` in many Observations). So each
top-level element is walked once per distinct (resource type, element name, JSON text): the finds of an
element depend only on those, and its paths start at the resource type. The memo is bounded (cleared when
full), so memory stays flat on a stream; an element that misses on at least half of 2,000+ resources of its
type (an identifier, a result value) is walked directly from then on. The finds of a repeated element hold the
first one's Coding objects, which are equal in content (the rules only read them).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import orjson

from msc_interop.validate.registry import get_rule

_MEMO: dict[tuple[str, str, bytes], _Scan] = {}
_MEMO_MAX = 20_000
# elements that hardly ever repeat (identifier, valueQuantity): walked directly, without the memo's dumps
_UNIQUE: set[tuple[str, str]] = set()
_MISSES: dict[tuple[str, str], int] = {}
_SEEN: dict[str, int] = {}


@dataclass
class _Scan:
    """Codings (path, object), references (path, text), dates (path, element name, text)."""

    codings: list[tuple[str, dict[str, Any]]]
    references: list[tuple[str, str]]
    dates: list[tuple[str, str, str]]


@functools.cache
def _date_elements() -> dict[str, str]:
    """Element name -> FHIR date kind, from the params of MSC-FHIR-010 (instant wins over dateTime)."""
    p = get_rule("MSC-FHIR-010").params
    out = dict.fromkeys(p.get("dateTime", []), "dateTime")
    out.update(dict.fromkeys(p.get("date", []), "date"))
    out.update(dict.fromkeys(p.get("instant", []), "instant"))
    return out


def scan(item: Any) -> _Scan:
    """One walk over the resource (narrative text.div left out), cached on the item; paths are FHIRPath."""
    if item._scan is None:
        kinds = _date_elements()
        rtype = item.type
        found = item._scan = _Scan([], [], [])
        _SEEN[rtype] = _SEEN.get(rtype, 0) + 1
        dumps, memo, unique = orjson.dumps, _MEMO, _UNIQUE
        for key, value in item.resource.items():
            kind = type(value)
            if kind is dict or kind is list:
                element = (rtype, key)
                if element in unique:
                    _walk({key: value}, rtype, found, kinds)
                    continue
                try:
                    memo_key = (rtype, key, dumps(value))
                except TypeError:  # not JSON (a caller's own dict): walked without the memo
                    _walk({key: value}, rtype, found, kinds)
                    continue
                part = memo.get(memo_key)
                if part is None:
                    part = _Scan([], [], [])
                    _walk({key: value}, rtype, part, kinds)
                    if len(_MEMO) >= _MEMO_MAX:
                        _MEMO.clear()
                    _MEMO[memo_key] = part
                    _missed(element)
                if part.codings:
                    found.codings += part.codings
                if part.references:
                    found.references += part.references
                if part.dates:
                    found.dates += part.dates
            elif kind is str:
                if key == "reference":
                    found.references.append((f"{rtype}.reference", value))
                elif key in kinds:
                    found.dates.append((f"{rtype}.{key}", key, value))
    return item._scan


def _missed(element: tuple[str, str]) -> None:
    """Count a memo miss; an element that misses on most of 2,000 resources of its type is walked directly."""
    n = _MISSES[element] = _MISSES.get(element, 0) + 1
    if n >= 1000 and n * 2 >= _SEEN.get(element[0], 0) >= 2000:
        _UNIQUE.add(element)


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
