"""The LOINC names msc-interop's mapping data cites, to tell a Coding whose display is the name of another code
it holds (code 2345-7 "Glucose [Mass/volume] in Serum or Plasma" sent with the display "Hemoglobin [Mass/volume] in
Blood", the long common name of 718-7): the Coding names two tests, and which one is meant is for the source to say.

Only such a clear mismatch is judged. FHIR lets a LOINC display be the SHORTNAME or the LONG_COMMON_NAME (HL7
"Using LOINC with FHIR": "Display: Use either the SHORTNAME or LONG_COMMON_NAME"), servers send older long names
too ("Bicarbonate [Moles/?volume] in Serum"), and msc-interop does not ship the LOINC table: a display it does not
hold is not a finding. Names held per code, compared case-insensitively with runs of white space as one space: the
LOINC long common name the catalogue cites for it (`loinc_display`, or `display` of an `other_loinc` /
`component_loinc` entry), the catalogue's own name of the test it maps to (`test`: LBTEST, VSTEST, EGTEST, RETEST)
and that test's `aliases`, from mappings/lab_tests.yaml, vital_signs.yaml, ecg.yaml and procedures.yaml, whose
entries cite their sources: no LOINC name is made up. A display is another code's name when it is the long common
name cited for another code and none of the names held for its own code; a code the data holds no names for is
not judged.

One rule for both sides, and one test of which Codings are LOINC (`is_loinc`: http://loinc.org or a known variant
URI of it, "http://loinc.org/", urn:oid:2.16.840.1.113883.6.1, as from-fhir reads them): validate reports such a
display (MSC-FHIR-014), from-fhir converts the code as it is and warns.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from msc_interop import mappings
from msc_interop.code_systems import variant_systems


def normalized(name: str) -> str:
    """A name as compared: case-folded, white space runs as one space, trimmed."""
    return " ".join(name.split()).casefold()


def _entries() -> Iterator[tuple[str, str, str, list[str]]]:
    """(LOINC code, its long common name, the test's name, the test's aliases) of every LOINC of the mapping data."""
    for t in mappings.load("lab_tests")["tests"]:
        aliases = list(t.get("aliases", []))
        if t.get("loinc"):
            yield t["loinc"], t.get("loinc_display", ""), t["test"], aliases
        for o in t.get("other_loinc", []):
            yield o["code"], o.get("display", ""), t["test"], aliases
    vs = mappings.load("vital_signs")
    for t in vs["tests"]:
        yield t["loinc"], t.get("loinc_display", ""), t["test"], list(t.get("aliases", []))
    for p in vs.get("panels", []):
        yield p["loinc"], p.get("display", ""), "", []
    ecg = mappings.load("ecg")
    for t in [*ecg["tests"], ecg["interpretation"]]:
        aliases = list(t.get("aliases", []))
        yield t["loinc"], t.get("loinc_display", ""), t["test"], aliases
        for o in [*t.get("other_loinc", []), *t.get("component_loinc", [])]:
            yield o["code"], o.get("display", ""), t["test"], aliases
    for p in mappings.load("procedures").get("procedures", []):
        f = p.get("finding") or {}
        if f.get("loinc"):
            yield str(f["loinc"]), f.get("loinc_display", ""), f.get("test", ""), []


@functools.cache
def _names() -> tuple[dict[str, frozenset[str]], dict[str, str], dict[str, tuple[str, ...]]]:
    """(code -> its accepted names normalized, code -> its long common name, long common name normalized -> the
    codes it is the long common name of)."""
    accepted: dict[str, set[str]] = {}
    long_name: dict[str, str] = {}
    long_of: dict[str, set[str]] = {}
    for code, display, test, aliases in _entries():
        names = accepted.setdefault(code, set())
        names.update(normalized(n) for n in (display, test, *aliases) if n)
        if display:
            long_name.setdefault(code, display)
            long_of.setdefault(normalized(display), set()).add(code)
    return ({c: frozenset(n) for c, n in accepted.items()}, long_name,
            {n: tuple(sorted(c)) for n, c in long_of.items()})


_URIS: frozenset[str] = frozenset()  # LOINC's URI and its known variants, once loaded (loinc_uris)


def loinc_uris() -> frozenset[str]:
    """http://loinc.org (mappings/fhir_mapping.yaml) and every URI canonical_system reads as it."""
    global _URIS
    if not _URIS:
        loinc = str(mappings.fhir_mapping()["systems"]["loinc"]["uri"])
        _URIS = frozenset([loinc, *(uri for uri, (_, canonical) in variant_systems().items() if canonical == loinc)])
    return _URIS


def is_loinc(system: Any) -> bool:
    """Whether a Coding's system names LOINC: http://loinc.org or a known non-canonical URI of it
    (mappings/code_system_uris.yaml), as from-fhir reads it (fhir/systems.py read_system) and validate judges it."""
    return type(system) is str and system in (_URIS or loinc_uris())


@functools.lru_cache(65536)
def wrong_display(code: str, display: str) -> str | None:
    """What to say when `display` is the LOINC long common name of another code than `code` the mapping data holds
    (and no name it holds for `code`): the codes it names and `code`'s own long common name; else None (also for
    a display the data does not hold, a SHORTNAME or an older name, and for a code it holds no names for)."""
    accepted, long_name, long_of = _names()
    names = accepted.get(code)
    key = normalized(display)
    if names is None or key in names:
        return None
    others = tuple(c for c in long_of.get(key, ()) if c != code)
    if not others:
        return None
    said = f"it is the LOINC name of {', '.join(others)}"
    return said + (f"; LOINC {code} is '{long_name[code]}'" if code in long_name else "")


def coding_display_problem(coding: Any) -> str | None:
    """wrong_display of a LOINC Coding (is_loinc) with a code and a display, else None."""
    if type(coding) is not dict or not is_loinc(coding.get("system")):
        return None
    code, display = coding.get("code"), coding.get("display")
    if type(code) is not str or type(display) is not str or not display:
        return None
    return wrong_display(code, display)
