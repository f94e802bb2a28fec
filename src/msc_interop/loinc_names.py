"""The names msc-interop's mapping data gives each LOINC code it maps, to tell a Coding whose display names another
test (code 2345-7 "Glucose [Mass/volume] in Serum or Plasma" sent with the display "Hemoglobin [Mass/volume] in
Blood"), as the HL7 validator's "Wrong Display Name" does.

Names accepted for a code, compared case-insensitively with runs of white space as one space: the LOINC long
common name the catalogue cites for it (`loinc_display`, or `display` of an `other_loinc` / `component_loinc`
entry), the catalogue's own name of the test it maps to (`test`: LBTEST, VSTEST, EGTEST, RETEST) and that test's
`aliases` (names a lab or data manager writes for it). Only these, from mappings/lab_tests.yaml, vital_signs.yaml,
ecg.yaml and procedures.yaml, whose entries cite their sources: no LOINC name is made up, and a code the mapping
data does not hold is not judged. LOINC short names are not held as data (a few sources quote them in prose), so a
short name sent as the display is reported too.

One rule for both sides: validate reports such a display (MSC-FHIR-014), from-fhir converts the code as it is and
says so in its notes and warnings.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from msc_interop import mappings


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


def known(code: str) -> bool:
    """Whether the mapping data holds names for this LOINC code."""
    return code in _names()[0]


def long_common_name(code: str) -> str:
    """The LOINC long common name the mapping data cites for `code` ("" when it holds none)."""
    return _names()[1].get(code, "")


def other_codes(code: str, display: str) -> tuple[str, ...]:
    """The other codes whose LOINC long common name `display` is (the display names another test)."""
    return tuple(c for c in _names()[2].get(normalized(display), ()) if c != code)


@functools.lru_cache(65536)
def wrong_display(code: str, display: str) -> str | None:
    """None when `display` is a name the mapping data accepts for LOINC `code`, or the data holds no names for
    the code; else what to say about it: the code's long common name, and the codes whose long common name the
    display is ("it is the name of LOINC 718-7")."""
    accepted, long_name, _ = _names()
    names = accepted.get(code)
    if names is None or normalized(display) in names:
        return None
    others = other_codes(code, display)
    said = f"LOINC {code} is '{long_name[code]}'" if code in long_name else f"LOINC {code} has other names"
    if others:
        said += "; the display is the name of LOINC " + ", ".join(others)
    return said


def coding_display_problem(coding: Any, loinc: str) -> str | None:
    """wrong_display of a Coding of system `loinc` (the canonical LOINC URI) with a code and a display, else None."""
    if type(coding) is not dict or coding.get("system") != loinc:
        return None
    code, display = coding.get("code"), coding.get("display")
    if type(code) is not str or type(display) is not str or not display:
        return None
    return wrong_display(code, display)
