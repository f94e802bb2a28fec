"""One pass per NDJSON resource: is it clean for every per-resource FHIR rule, and which references does it hold?

`validate` on a big NDJSON set spends its time on resources no rule reports. `Clean.check` tells those apart in
one pass over the parsed dict: a resource is clean when the schema finds it valid (MSC-FHIR-001), its bound codes
are in their value sets (-002), every Coding has a system and a code, a LOINC one is well formed with a display
that is not another code's LOINC name, and its system URI is not a known non-canonical one (-003, -006, -014, -012),
its quantities are UCUM codes that parse (-004, -005, -011), its interpretation agrees with its value and range (-007),
its contained references resolve (-008) and its dates are valid FHIR dates (-010). The walk sees the nodes the
rules' walk sees (validate/fhir_scan.py: narrative `text` left out, array members that are objects), and each
test is the rule's own or the helper it calls, so a clean resource is one the rules would not report. Any other
resource is not judged here: it goes through the rule functions (fhir_rules.py), which give its findings. A clean
resource's relative references go to the compact reference index (fhir_stream.WholeSet) as their text, in the
order the rules' walk finds them.

Structure is the fast validator's check by parts (fhir/validate.py: valid exactly when the key set passes the key
rules and each element passes its element schema). Most top-level elements repeat between resources (the same
`code`, `category`, `subject` in many Observations), so the verdict on an element (schema, Codings, dates,
quantities, its references) is kept per JSON text (`_Memo`): one `orjson.dumps` and a look-up replace the checks.
"""

from __future__ import annotations

from typing import Any

from orjson import dumps

from msc_interop.code_systems import noncanonical_system
from msc_interop.loinc_names import coding_display_problem
from msc_interop.validate.fhir_interpretation import ANY, interpretation_wrong
from msc_interop.validate.fhir_read import _steps
from msc_interop.validate.fhir_scan import (
    _date_elements,
    _loinc_bad,
    _quantity_needs_look,
    _quantity_steps,
    _system,
    date_problem,
)
from msc_interop.validate.registry import get_rule, params

_NONE = object()
_MEMO_MAX = 50_000  # verdicts kept at most (all cleared when full): memory stays flat on a stream
# the elements MSC-FHIR-007 reads: its derivations kept on their verdicts, its own verdict per three verdicts
KEPT = frozenset({"interpretation", "referenceRange", "valueQuantity"})


class _Part:
    """The verdict on one top-level element: clean or not, its references; `derived` for MSC-FHIR-007."""

    __slots__ = ("clean", "derived", "kept", "refs")

    def __init__(self, clean: bool, refs: list[str]):
        self.clean, self.refs, self.derived, self.kept = clean, refs, None, False


class _Memo:
    """Verdicts per JSON text (per value for a string or number) of one element of one resource type. An element
    that misses on at least half of 2,000+ resources (an identifier, a result value) is walked
    directly from then on."""

    __slots__ = ("misses", "off", "parts", "seen")

    def __init__(self) -> None:
        self.parts: dict[Any, Any] = {}  # JSON text -> _Part; a scalar (or its type and value) -> valid
        self.seen = self.misses = 0
        self.off = False

    def miss(self) -> None:
        self.seen += 1
        self.misses += 1
        if self.seen >= 2000 and self.misses * 2 >= self.seen:
            self.off = True
            self.parts.clear()


class Clean:
    """The per-resource FHIR rules of one version, as one test per resource (see the module docstring)."""

    def __init__(self, version: str, deep: bool = False):
        from msc_interop.fhir.validate import fast_validator

        self.deep = deep  # structure through the models for every resource: none is judged here
        self.fast = fast_validator(version)
        self.validators: dict[tuple[str, str], Any] = {}
        self.kinds = _date_elements()
        self.loinc = _system("loinc")
        self.interpretation = _system("interpretation")
        self.bindings: dict[str, list[tuple[str, list[str], frozenset[str]]]] = {}
        for b in params(get_rule("MSC-FHIR-002"), "bindings"):
            if version in b:
                rtype, steps = _steps(b["path"])
                self.bindings.setdefault(rtype, []).append((steps[0], steps, frozenset(b[version])))
        self.quantities = {rtype: {key: [steps for _, steps in paths] for key, paths in by_key.items()}
                           for rtype, by_key in _quantity_steps().items()}
        self.memos: dict[str, dict[str, _Memo]] = {}  # resource type -> element name -> its memo
        self.size = 0  # verdicts kept in all memos
        self.verdicts: dict[tuple[_Part, ...], bool] = {}  # MSC-FHIR-007's, per kept (interpretation, range, value)

    def check(self, resource: dict[str, Any]) -> list[str] | None:
        """The reference texts of a resource no per-resource rule reports (in the order the rules' walk finds
        them), or None when one may: the caller then runs the rule functions on it."""
        rtype = resource["resourceType"]
        if self.deep or not self.fast.shape_valid(rtype, tuple(resource)):
            return None
        for key, steps, allowed in self.bindings.get(rtype, ()):
            value = resource.get(key, _NONE)
            if value is _NONE or value is None:
                continue
            if len(steps) > 1 or type(value) is not str or value not in allowed:
                return None  # maybe a finding: the rule decides
        refs: list[str] = []
        kinds, parts = self.kinds, {}
        memos = self.memos.get(rtype)
        if memos is None:
            memos = self.memos[rtype] = {}
        try:
            for key, value in resource.items():
                kind = type(value)
                if kind is not dict and kind is not list:
                    memo = memos.get(key)
                    valid = None if memo is None or memo.off else memo.parts.get(
                        value if kind is str else (kind, value))
                    if valid is None:
                        valid = self._scalar(rtype, key, value, memos)
                    else:
                        memo.seen += 1  # type: ignore[union-attr]
                    if not valid:
                        return None
                if kind is str:
                    if key == "reference":
                        refs.append(value)
                    elif key in kinds and date_problem(value, kinds[key]):
                        return None
                elif kind is dict or kind is list:
                    memo = memos.get(key)  # (self._part, inline: called for most elements of every resource)
                    if memo is None or memo.off:
                        part = self._part(rtype, key, value, memos)
                    else:
                        part = memo.parts.get(dumps(value))
                        if part is None:
                            part = self._part(rtype, key, value, memos)
                        else:
                            memo.seen += 1
                    if not part.clean:
                        return None
                    if part.refs:
                        refs += part.refs
                    if key in KEPT and part.kept:
                        parts[key] = part
            if rtype == "Observation" and self._interpretation_wrong(resource, parts):
                return None
        except Exception:
            return None
        for value in refs:
            if value[:1] == "#" and value != "#":
                contained, target = resource.get("contained"), value[1:]
                if not (isinstance(contained, list) and any(
                        isinstance(c, dict) and c.get("id") == target for c in contained)):
                    return None
        return refs

    def _interpretation_wrong(self, resource: dict[str, Any], parts: dict[str, _Part]) -> bool:
        """MSC-FHIR-007 may report this Observation: once per distinct interpretation, range and value."""
        if len(parts) < 3:
            return interpretation_wrong(resource, self.interpretation, lambda: parts, ANY) is not None
        key = (parts["interpretation"], parts["referenceRange"], parts["valueQuantity"])
        verdict = self.verdicts.get(key)
        if verdict is None:
            found = interpretation_wrong(resource, self.interpretation, lambda: parts, ANY)
            verdict = self.verdicts[key] = found is not None
            self.size += 1
        return verdict

    def _part(self, rtype: str, key: str, value: Any, memos: dict[str, Any]) -> _Part:
        """The verdict on one top-level element, from the memo when the same JSON text was seen (see `_Memo`)."""
        memo = memos.get(key, _NONE)
        if memo is _NONE:
            memo = memos[key] = _Memo()
        if memo.off:
            return self._element(rtype, key, value)
        text = dumps(value)
        part = memo.parts.get(text)
        if part is None:
            part = self._element(rtype, key, value)
            part.kept = True
            self._keep(memo, text, part)
        else:
            memo.seen += 1
        return part

    def _scalar(self, rtype: str, key: str, value: Any, memos: dict[str, Any]) -> bool:
        """A top-level string, number, boolean or null valid by its element's schema (memo as `_part`)."""
        memo = memos.get(key, _NONE)
        if memo is _NONE:
            memo = memos[key] = _Memo()
        validator = self._validator(rtype, key)
        valid = validator is not None and validator.is_valid(value)
        if not memo.off:
            self._keep(memo, value if type(value) is str else (type(value), value), valid)
        return valid

    def _keep(self, memo: _Memo, key: Any, verdict: Any) -> None:
        memo.parts[key] = verdict
        memo.miss()
        self.size += 1
        if self.size > _MEMO_MAX:
            for by_key in self.memos.values():
                for m in by_key.values():
                    m.parts.clear()
            self.verdicts.clear()
            self.size = 0

    def _validator(self, rtype: str, key: str) -> Any:
        """The schema of one element of a resource type, compiled (None: no such element)."""
        found = self.validators.get((rtype, key), _NONE)
        if found is _NONE:
            found = self.validators[(rtype, key)] = self.fast.element_validator(rtype, key)
        return found

    def _element(self, rtype: str, key: str, value: Any) -> _Part:
        """One top-level element walked: clean for the Codings and dates in it and the quantities of
        MSC-FHIR-004 that start there; its references."""
        refs: list[str] = []
        node = {key: value}
        validator = self._validator(rtype, key)
        clean = validator is not None and validator.is_valid(value) and self._walk(node, refs)
        if clean:
            for steps in self.quantities.get(rtype, {}).get(key, ()):
                if any(_quantity_needs_look(q) for q in _values(node, steps)):
                    clean = False
                    break
        return _Part(clean, refs)

    def _walk(self, node: dict[str, Any], refs: list[str]) -> bool:
        """False at the first Coding or date a rule may report; the references appended to `refs`."""
        kinds = self.kinds
        for key, value in node.items():
            kind = type(value)
            if kind is str:
                if key == "reference":
                    refs.append(value)
                elif key in kinds and date_problem(value, kinds[key]):
                    return False
            elif kind is dict:
                if key == "text" and "div" in value:
                    continue
                if key.endswith("Coding") and not self._coding(value):
                    return False
                if not self._walk(value, refs):
                    return False
            elif kind is list:
                coding = key == "coding"
                for v in value:
                    if type(v) is dict and ((coding and not self._coding(v)) or not self._walk(v, refs)):
                        return False
        return True

    def _coding(self, coding: dict[str, Any]) -> bool:
        """What MSC-FHIR-003, -006, -012 and -014 accept: a system and a code, a LOINC code well formed and its
        display not another code's name, a system URI that is not a known non-canonical one."""
        system, code = coding.get("system"), coding.get("code")
        if not (system and code):
            return False
        if type(system) is str and noncanonical_system(system):
            return False
        return not (system == self.loinc and type(code) is str and (
            _loinc_bad(code) or coding_display_problem(coding) is not None))


def _no_parts() -> None:
    return None


def _values(node: Any, steps: list[str]) -> list[Any]:
    """The nodes at these steps below `node` (arrays expanded), as fhir_scan.select without their paths."""
    nodes = [node]
    for step in steps:
        below: list[Any] = []
        for x in nodes:
            if not isinstance(x, dict):
                continue
            value = x.get(step, _NONE)
            if value is _NONE:
                continue
            if isinstance(value, list):
                below += value
            else:
                below.append(value)
        if not below:
            return below
        nodes = below
    return nodes
