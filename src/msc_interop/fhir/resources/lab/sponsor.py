"""Lab results whose test is not in the mapping data: carried into LB with a sponsor-defined test code, never
dropped; and Observations that are not lab results at all: skipped (counted), never rejected.

Which Observations are lab results (lab_kind): category `laboratory` (observation-category), or no category of
that system and a LOINC code (or a code the mapping knows). An Observation with only other categories
(vital-signs, survey, exam, social-history, imaging, ...) has no SDTM home here yet: it is skipped and counted per
category (exit 0), as are Observations with neither a category nor a code that says "lab test".

The sponsor-defined test code of a carried result (SponsorTests.test): SDTMIG 3.4 section 4.5.3.1 and the LBTESTCD
rules (<= 8 characters, upper-case letters, digits and underscores, not starting with a digit).
  LBTEST   the LOINC component: the test's name (code.text, else the LOINC coding's display, else any display) up
           to the first " [" or ":" (else " in ", " of ", " by "): "Hemoglobin [Mass/volume] in Blood" ->
           "Hemoglobin", at most 40 characters; the code itself when there is no name. Tests with one name share
           one LBTESTCD (protein in serum and in urine: PROTEIN), told apart by LBSPEC and LBLOINC as SDTM does.
  LBSPEC   the specimen the Observation names, else the LOINC system part of the name through
           mappings/loinc_systems.yaml ("... in Urine by Test strip" -> URINE).
  LBTESTCD one word: its first 8 letters/digits ("HEMOGLOB"); several words: the first word's first letters and
           the initials of the others, 8 characters at most ("Erythrocyte distribution width" -> "ERYTHRDW");
           a leading digit gets an "X" before it. Unique per read: a code already taken by another test (a test of
           mappings/lab_tests.yaml, a CDISC LBTESTCD term whose LBTEST is another name, or another carried test)
           ends in a two-digit number instead ("MCV01": CDISC's MCV is named "Ery. Mean Corpuscular Volume").
Each carried test is listed once in the notes and warnings (code -> LBTESTCD, LBTEST, how many results).
"""

from __future__ import annotations

import functools
import re
from typing import Any

from msc_interop import mappings
from msc_interop.fhir.common import text

_NAME_END = re.compile(r"\s*(?:\[|:)")
_NAME_END_NO_PROPERTY = re.compile(r"\s*(?: in | of | by )")
_SYSTEM = re.compile(r"\]\s+(?:in|of)\s+(.+?)(?:\s+by\s+.*)?$")
_WORD = re.compile(r"[A-Za-z0-9]+")


@functools.cache
def _spectypes() -> dict[str, str]:
    """LOINC system words (lower case) -> SPECTYPE (mappings/loinc_systems.yaml)."""
    return {s["loinc_system"].lower(): s["spectype"] for s in mappings.load("loinc_systems")["systems"]}


def specimen(name: str) -> str:
    """LBSPEC from the system part of a LOINC long name ("... [Mass/volume] in Urine by Test strip" -> URINE);
    "" when the name has none the mapping knows."""
    m = _SYSTEM.search(name)
    return _spectypes().get(m.group(1).strip().lower(), "") if m else ""


def lab_kind(rec: Any, mapped: str | None) -> tuple[str, str]:
    """("lab", "") for a lab result; ("skip", why) for an Observation that is not one."""
    if rec.lab_category is True:
        return "lab", ""
    if rec.lab_category is False:
        cats = ", ".join(dict.fromkeys(c for c in rec.category_codes if c)) or "not laboratory"
        return "skip", f"category {cats}: not a laboratory result (no SDTM domain is read from it yet)"
    if mapped is not None or any(rec.loinc_codes or ()):
        return "lab", ""
    return "skip", ("no laboratory category and no LOINC or mapped code: not recognised as a lab result (a "
                    "--lab-map entry for its code would place it)")


def code_display(code: Any) -> str:
    """The name of the test as the sender gave it: code.text, else the first coding's display."""
    if not isinstance(code, dict):
        return ""
    codings = [c for c in code.get("coding") or () if isinstance(c, dict)]
    return text(code.get("text")) or next((text(c.get("display")) for c in codings if c.get("display")), "")


def component(name: str) -> str:
    """The LOINC component of a test name: its part before " [" or ":" (the property), else before " in ", " of ",
    " by " ("Cholesterol in HDL [Mass/volume] in Serum or Plasma" -> "Cholesterol in HDL")."""
    head = _NAME_END.split(name, maxsplit=1)
    if len(head) > 1:
        return head[0].strip()
    return _NAME_END_NO_PROPERTY.split(name, maxsplit=1)[0].strip()


def base_code(name: str) -> str:
    """LBTESTCD before it is made unique (see the module's docstring)."""
    words = [w.upper() for w in _WORD.findall(name)]
    if not words:
        return "LBTEST"
    if len(words) == 1:
        code = words[0][:8]
    else:
        initials = "".join(w[0] for w in words[1:])[:4]
        code = words[0][:8 - len(initials)] + initials
    return ("X" + code)[:8] if code[0].isdigit() else code


@functools.cache
def _ct_tests() -> dict[str, str]:
    """CDISC LBTESTCD term -> its LBTEST (upper case), through their shared NCI code."""
    by_nci = {t.nci_code: t.value for t in mappings.codelist("LBTEST").terms}
    return {t.value: by_nci.get(t.nci_code, "").upper() for t in mappings.codelist("LBTESTCD").terms}


class SponsorTests:
    """The sponsor-defined tests of one read: code (system|code) -> (LBTESTCD, LBTEST), and how many results."""

    def __init__(self) -> None:
        self.by_key: dict[str, tuple[str, str]] = {}
        self.by_name: dict[str, str] = {}  # LBTEST (upper case) -> LBTESTCD: one code per test name
        self.count: dict[str, int] = {}
        self.taken = {t.testcd for t in mappings.lab_tests().values()}

    def test(self, rec: Any) -> tuple[str, str, str]:
        """(LBTESTCD, LBTEST, the code shown) of a carried result."""
        loinc = next((c for c in rec.loinc_codes or () if c), None)
        key = f"LOINC {loinc}" if loinc else next(iter(rec.other_codes or ()), "") or text(rec.code_display)
        found = self.by_key.get(key)
        if found is None:
            # no name sent: the code itself (a local "system|code" key named by its code, not its system's URL)
            found = self.assign(key, (component(text(rec.code_display)) or loinc or key.rsplit("|", 1)[-1])[:40])
        return (*found, key)

    def assign(self, key: str, name: str) -> tuple[str, str]:
        """(LBTESTCD, LBTEST) of a test met for the first time in the read: its name's code, unless taken."""
        code = self.by_name.get(name.upper()) or self._unique(base_code(name), name)
        self.by_name[name.upper()] = code
        found = self.by_key[key] = (code, name)
        return found

    def counted(self, rec: Any) -> None:
        """Count one converted result of a carried test (by its code)."""
        loinc = next((c for c in rec.loinc_codes or () if c), None)
        key = f"LOINC {loinc}" if loinc else next(iter(rec.other_codes or ()), "") or text(rec.code_display)
        self.count[key] = self.count.get(key, 0) + 1

    def _unique(self, code: str, name: str) -> str:
        ct_name = _ct_tests().get(code)
        if code not in self.taken and (ct_name is None or ct_name == name.upper()):
            self.taken.add(code)
            return code
        for n in range(1, 100):
            candidate = f"{code[:6]}{n:02d}"
            if candidate not in self.taken and candidate not in _ct_tests():
                self.taken.add(candidate)
                return candidate
        raise ValueError(f"no free sponsor-defined test code for {name!r}")  # pragma: no cover - 99 collisions

    def note(self) -> str | None:
        """The one line for the notes and warnings naming every carried test; None when there was none."""
        if not self.count:
            return None
        n = sum(self.count.values())
        # the tests of converted results only: a record rejected after its test got a code is not carried
        tests = [(key, cd, test) for key, (cd, test) in self.by_key.items() if key in self.count]
        shown = "; ".join(f"{key} -> {cd} ({test}): {self.count[key]}" for key, cd, test in tests)
        return (f"{n} lab result(s) of {len(tests)} test(s) not in mappings/lab_tests.yaml were carried into LB "
                f"with SPONSOR-DEFINED test codes (LBTESTCD/LBTEST from the code's name; LBLOINC kept; not CDISC "
                f"CT; results not converted to a standard unit): {shown}. Add them to the mapping (or --lab-map) to "
                "place them, or use --strict to reject them")

    def warning(self) -> str | None:
        """The short warning for the terminal (the notes name every test)."""
        if not self.count:
            return None
        return (f"{sum(self.count.values())} lab result(s) of {len(self.count)} test(s) not in the mapping were "
                "carried into LB with SPONSOR-DEFINED LBTESTCD (not CDISC CT): see the notes (rejects.json)")
