"""Code system URIs as from-fhir compares them: a Coding or Quantity whose system is a known non-canonical URI of a
code system ("http://loinc.org/", LOINC's OID as urn:oid:, the STU3 URI of an HL7 v2 table or v3 code system; the
rule and its data: msc_interop/code_systems.py, mappings/code_system_uris.yaml) is read as that code system, and
the read says so, one note per URI met (variant_notes), so that nothing is read differently in silence.

read_system is the one door: the readers call it where they compare a Coding's or Quantity's system (the Observation
readers once per distinct element, in their memos; the readers of other resources per coding), and the look-up is
cached per distinct URI. What was met is tallied in the read's tallies (ReadContext.tallies: the partitions of a
partitioned read add up). Identifier.system is not a code system: never passed here.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from msc_interop.code_systems import canonical_system, noncanonical_system

CODINGS, QUANTITIES = "codings", "quantities"
VARIANT = "code system variant "  # a ReadContext.tallies key: VARIANT + kind + " " + the URI met
_RULES = {CODINGS: "MSC-FHIR-012", QUANTITIES: "MSC-FHIR-011"}  # the validate rules that report each kind


def read_system(system: Any, seen: Counter[str] | None, kind: str = CODINGS) -> Any:
    """The code system URI to compare `system` by: the canonical one when it is a known non-canonical URI (tallied
    in `seen` for the note; None: a routing look that the reader of the element tallies itself), else `system` as
    given (also what is not a string)."""
    if type(system) is not str:
        return system
    found = canonical_system(system)
    if found != system and seen is not None:
        seen[f"{VARIANT}{kind} {system}"] = 1
    return found


def variant_notes(tallies: Counter[str]) -> list[str]:
    """One note per non-canonical URI the read met (in URI order): what it was read as, and the validate rule
    that reports it."""
    kinds: dict[str, list[str]] = {}
    for key in sorted(tallies):
        if key.startswith(VARIANT) and tallies[key]:
            kind, uri = key[len(VARIANT):].split(" ", 1)
            kinds.setdefault(uri, []).append(kind)
    out = []
    for uri, met in sorted(kinds.items()):
        found = noncanonical_system(uri)
        if found is None:  # pragma: no cover - only known URIs are tallied
            continue
        name, canonical = found
        met = [k for k in (CODINGS, QUANTITIES) if k in met]
        out.append(f"{' and '.join(met)} with system {uri} were read as {name} ({canonical}); validate reports them "
                   f"({', '.join(_RULES[k] for k in met)})")
    return out
