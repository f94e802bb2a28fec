"""Resources held for reading, with their equal JSON values shared: one object per distinct value.

Why: a read holds every resource that is not a lab or vital-sign Observation (ECG and imaging Observations,
Encounters, Procedures, ...) until the datasets are built, and a parsed resource costs 5-10 times its JSON text
(a dict and a str per element). Most of it repeats between resources: codes, categories, extensions, subject and
encounter references, dates. `Compactor.resource` gives the resource back with each element that was met before
replaced by the object made the first time (equal JSON text: same keys in the same order, same values), so that a
million ECG results hold their ECG codes once. The readers only read resources, never change them, so sharing is
safe; the values are equal, so what is read and written does not change.

Elements that differ in every resource (ids, identifiers, values) are not remembered: each element path counts
how many of its first values were new, and stops remembering where most were (its parts may still repeat: the
`system` of every identifier does). At most `limit` values are remembered in all.
"""

from __future__ import annotations

from typing import Any

import orjson

# Values remembered per read at most, and how many values of an element path are looked at before deciding
# whether remembering them pays (it does when at most half of those were new).
LIMIT = 200_000
PROBE = 512


class _Path:
    """What one element path has seen: values looked at, how many were new, and whether to go on remembering."""

    __slots__ = ("children", "item", "new", "seen", "share")

    def __init__(self) -> None:
        self.seen = 0
        self.new = 0
        self.share = True
        self.children: dict[str, _Path] = {}
        self.item: _Path | None = None  # the elements of a list


class Compactor:
    """Equal JSON values of the resources of one read shared as one object (see the module's docstring)."""

    def __init__(self, limit: int = LIMIT, probe: int = PROBE) -> None:
        self.memo: dict[Any, Any] = {}
        self.limit, self.probe = limit, probe
        self.paths: dict[str, _Path] = {}

    def resource(self, res: dict[str, Any]) -> dict[str, Any]:
        """`res` with the values met before shared (a new dict; `res` itself is not changed)."""
        rtype = res.get("resourceType")
        root = self.paths.get(rtype) if isinstance(rtype, str) else None
        if root is None:
            root = self.paths.setdefault(rtype if isinstance(rtype, str) else "", _Path())
        return self._dict(res, root)

    def forget(self) -> None:
        """Drop the values remembered (the objects shared so far stay shared): once the files are read."""
        self.memo = {}
        self.paths = {}

    def text(self, path: str, value: Any) -> Any:
        """One string of a record (a reference, a date) shared with its equals met before at `path`."""
        node = self.paths.get(path)
        if node is None:
            node = self.paths[path] = _Path()
        return self._value(value, node)

    def _child(self, node: _Path, key: str) -> _Path:
        found = node.children.get(key)
        if found is None:
            found = node.children[key] = _Path()
        return found

    def _dict(self, d: dict[str, Any], node: _Path) -> dict[str, Any]:
        return {k: self._value(v, self._child(node, k)) for k, v in d.items()}

    def _value(self, value: Any, node: _Path) -> Any:
        kind = type(value)
        if kind is not str and kind is not dict and kind is not list:
            return value  # numbers, booleans, null: small, or shared by Python already
        if node.share:
            try:
                key = value if kind is str else orjson.dumps(value)
            except orjson.JSONEncodeError:  # an integer beyond 64 bits: not remembered
                return value
            found = self.memo.get(key)
            node.seen += 1
            if found is not None:
                return found
            node.new += 1
            if node.seen >= self.probe and node.new * 2 > node.seen:
                node.share = False  # mostly new values: remembering them costs more than it saves
        if kind is str:
            made: Any = value
        elif kind is dict:
            made = self._dict(value, node)
        else:
            if node.item is None:
                node.item = _Path()
            item = node.item
            made = [self._value(v, item) for v in value]
        if node.share and len(self.memo) < self.limit:
            self.memo[key if kind is str else bytes(memoryview(key))] = made  # orjson's bytes keep 4 KB spare
        return made
