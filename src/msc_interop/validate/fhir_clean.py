"""One pass per NDJSON resource: is it clean for every per-resource FHIR rule, and which references does it hold?

`validate` on a big NDJSON set spends its time on resources no rule reports. `Clean.check` tells those apart in
one walk of the parsed dict (the jsonschema-rs call for structure, then the nodes once): a resource is clean when
the schema finds it valid (MSC-FHIR-001), its bound codes are in their value sets (-002), every Coding has a system
and a code and a LOINC one is well formed (-003, -006), its quantities are UCUM codes that parse (-004, -005), its
interpretation agrees with its value and range (-007), its contained references resolve (-008) and its dates are
valid FHIR dates (-010). The walk sees the nodes the rules' walk sees (validate/fhir_scan.py: narrative `text`
left out, array members that are objects), and each test is the rule's own or the helper it calls, so a clean
resource is one the rules would not report. Any other resource is not judged here: it goes through the rule
functions (fhir_rules.py), which give its findings. A clean resource's relative references go to the compact
reference index (fhir_stream.WholeSet) as their text, in the order the rules' walk finds them.
"""

from __future__ import annotations

from typing import Any

from msc_interop.validate.fhir_interpretation import interpretation_wrong
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


class Clean:
    """The per-resource FHIR rules of one version, as one test per resource (see the module docstring)."""

    def __init__(self, version: str, deep: bool = False):
        from msc_interop.fhir.validate import fast_validator

        self.deep = deep  # structure through the models for every resource: none is judged here
        self.valid = fast_validator(version).is_valid
        self.kinds = _date_elements()
        self.loinc = _system("loinc")
        self.interpretation = _system("interpretation")
        self.bindings: dict[str, list[tuple[str, list[str], frozenset[str]]]] = {}
        for b in params(get_rule("MSC-FHIR-002"), "bindings"):
            if version in b:
                rtype, steps = _steps(b["path"])
                self.bindings.setdefault(rtype, []).append((steps[0], steps, frozenset(b[version])))
        self.quantities = {rtype: [steps for paths in by_key.values() for _, steps in paths]
                           for rtype, by_key in _quantity_steps().items()}

    def check(self, resource: dict[str, Any]) -> list[str] | None:
        """The reference texts of a resource no per-resource rule reports (in the order the rules' walk finds
        them), or None when one may: the caller then runs the rule functions on it."""
        if self.deep or not self.valid(resource):
            return None
        rtype = resource["resourceType"]
        for key, steps, allowed in self.bindings.get(rtype, ()):
            value = resource.get(key, _NONE)
            if value is _NONE or value is None:
                continue
            if len(steps) > 1 or type(value) is not str or value not in allowed:
                return None  # maybe a finding: the rule decides
        for steps in self.quantities.get(rtype, ()):
            if any(_quantity_needs_look(q) for q in _values(resource, steps)):
                return None
        refs: list[str] = []
        try:
            if not self._walk(resource, refs):
                return None
            if rtype == "Observation" and interpretation_wrong(resource, self.interpretation, _no_parts):
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
        """What MSC-FHIR-003 and -006 accept: a system and a code, and a LOINC code well formed."""
        system, code = coding.get("system"), coding.get("code")
        if not (system and code):
            return False
        return not (system == self.loinc and type(code) is str and _loinc_bad(code))


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
