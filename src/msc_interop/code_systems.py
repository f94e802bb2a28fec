"""Code system URIs that are not the canonical one (mappings/code_system_uris.yaml): a listed variant of a code
system's URI ("http://loinc.org/", https, www), its OID as "urn:oid:<oid>", or a FHIR STU3 URI of an HL7 v2 table
or v3 code system that R4 moved under terminology.hl7.org (http://hl7.org/fhir/v2/0203 ->
http://terminology.hl7.org/CodeSystem/v2-0203; a versioned one such as .../v2/0360/2.7 is left alone).

One rule for both sides: validate reports such URIs (MSC-FHIR-011, MSC-FHIR-012: validate/terminology.py), from-fhir
reads them as the canonical system and says so in its notes (fhir/systems.py). Identifier systems
(Identifier.system) are not code systems: never looked up here.
"""

from __future__ import annotations

import functools

from msc_interop import mappings


@functools.cache
def _code_system_uris() -> tuple[dict[str, tuple[str, str]], tuple[tuple[str, str, str], ...]]:
    """(variant -> (name, canonical URI)) with each OID as "urn:oid:<oid>", and the STU3 (prefix, R4 prefix, name)
    rules, from mappings/code_system_uris.yaml."""
    data = mappings.load("code_system_uris")
    out: dict[str, tuple[str, str]] = {}
    for s in data["systems"]:
        for variant in [*s["variants"], *([f"urn:oid:{s['oid']}"] if s.get("oid") else [])]:
            out[variant] = (s["name"], s["uri"])
    return out, tuple((p["stu3"], p["r4"], p["name"]) for p in data["stu3_prefixes"])


@functools.lru_cache(4096)
def noncanonical_system(system: str) -> tuple[str, str] | None:
    """(code system name, canonical URI) when `system` is a known non-canonical URI of it, else None: a listed
    variant or OID, or an STU3 URI of an HL7 v2 table / v3 code system (one path segment after the prefix). Cached:
    the rules ask once per distinct system."""
    variants, prefixes = _code_system_uris()
    found = variants.get(system)
    if found is None and system.startswith("http://hl7.org/fhir/v"):
        for old, new, name in prefixes:
            rest = system[len(old):]
            if system.startswith(old) and rest and "/" not in rest:
                return f"{name} {rest}", new + rest
    return found


def variant_systems() -> dict[str, tuple[str, str]]:
    """Every listed non-canonical URI (variants and OIDs as urn:oid:) -> (code system name, canonical URI); the STU3
    URIs of HL7 v2 tables and v3 code systems are told by their prefix (noncanonical_system)."""
    return _code_system_uris()[0]


@functools.lru_cache(4096)
def canonical_system(system: str) -> str:
    """The canonical URI of the code system `system` names: itself unless it is a known non-canonical URI
    (noncanonical_system). canonical_system("http://loinc.org/") == "http://loinc.org"."""
    found = noncanonical_system(system)
    return system if found is None else found[1]
