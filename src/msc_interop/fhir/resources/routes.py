"""EXROUTE / EXDOSFRM of a MedicationAdministration written by others: CDISC CT through the codes in the data (NCI
Thesaurus; SNOMED CT and EDQM Standard Terms through mappings/routes_forms.yaml and exposure.yaml), or a text that
is a CT term or a known spelling; anything else is kept as sent and FLAGGED (a note and a warning), never passed
off as CT. EXDOSU likewise: the dose's UCUM code or unit text through mappings/units.yaml (the table LB uses), else
kept as sent and flagged."""

from __future__ import annotations

from collections import Counter
from typing import Any

from msc_interop import mappings
from msc_interop.fhir import terms
from msc_interop.fhir.common import text
from msc_interop.fhir.systems import read_system

EDQM = "http://standardterms.edqm.eu"


class RoutesForms:
    """The look-ups of one read, and the routes and forms that were not CDISC CT (for the note)."""

    def __init__(self) -> None:
        self.sys_ncit, self.sys_snomed = terms.system("ncit"), terms.system("snomed")
        self.route_by_nci = terms.ct_by_nci("ROUTE")
        self.form_by_nci = terms.ct_by_nci("FRM")
        expo = mappings.exposure()
        self.route_by_code: dict[tuple[str, str], str] = {}
        for r in expo.get("routes", []):
            if r.get("snomed"):
                self.route_by_code[(self.sys_snomed, str(r["snomed"]))] = r["cdisc"]
        for r in mappings.load("routes_forms")["routes"]:
            if r.get("snomed"):
                self.route_by_code[(self.sys_snomed, r["snomed"])] = r["cdisc"]
            if r.get("edqm"):
                self.route_by_code[(EDQM, r["edqm"])] = r["cdisc"]
        self.route_text = _spellings("ROUTE", expo.get("routes", []))
        self.form_text = _spellings("FRM", expo.get("dose_forms", []))
        self.flagged: Counter[tuple[str, str]] = Counter()

    def route(self, concept: Any, seen: Counter[str]) -> str:
        """EXROUTE of dosage.route (`seen`: the read's tallies, for read_system)."""
        return self._term("EXROUTE", concept, self.route_by_nci, self.route_by_code, self.route_text, seen)

    def form(self, concept: Any, seen: Counter[str]) -> str:
        """EXDOSFRM of Medication.form / doseForm (`seen`: as route)."""
        return self._term("EXDOSFRM", concept, self.form_by_nci, {}, self.form_text, seen)

    def unit(self, dose: Any, found: str | None) -> str:
        """EXDOSU of dosage.dose: `found`, the CDISC UNIT of its UCUM code or unit text (read_common.cdisc_unit:
        units.yaml), else the unit as sent, flagged."""
        if not isinstance(dose, dict) or not (dose.get("code") or dose.get("unit")):
            return ""
        if found:
            return found
        raw = text(dose.get("unit") or dose.get("code"))
        code = f" ({dose.get('system')}|{dose.get('code')})" if dose.get("code") else ""
        self.flagged[("EXDOSU", f"{raw!r}{code}")] += 1
        return raw

    def _term(self, var: str, concept: Any, by_nci: dict[str, str], by_code: dict[tuple[str, str], str],
              spelled: dict[str, str], seen: Counter[str]) -> str:
        if not isinstance(concept, dict) or not concept:
            return ""
        codings = [c for c in concept.get("coding") or [] if isinstance(c, dict)]
        for c in codings:
            code, system = text(c.get("code")), read_system(c.get("system"), seen)
            if system == self.sys_ncit and code in by_nci:
                return by_nci[code]
            if (system, code) in by_code:
                return by_code[(system, code)]
        for candidate in (text(concept.get("text")), *(text(c.get("display")) for c in codings)):
            if candidate and candidate.strip().upper() in spelled:
                return spelled[candidate.strip().upper()]
        raw = text(concept.get("text")) or next((text(c.get("display") or c.get("code")) for c in codings), "")
        if raw:
            codes = ", ".join(f"{c.get('system')}|{c.get('code')}" for c in codings)
            self.flagged[(var, f"{raw!r}" + (f" ({codes})" if codes else ""))] += 1
        return raw

    def note(self) -> str | None:
        """The line for the notes and warnings naming what was kept as sent (None: everything was CT)."""
        if not self.flagged:
            return None
        shown = "; ".join(f"{var} {what}: {n}" for (var, what), n in sorted(self.flagged.items()))
        return (f"{sum(self.flagged.values())} route(s) / dose form(s) / dose unit(s) are not CDISC CT (no NCI, "
                f"SNOMED CT or EDQM code in mappings/routes_forms.yaml or exposure.yaml, no UCUM code or spelling in "
                f"units.yaml, and no CT term text): kept as sent, NOT CT: {shown}")


def _spellings(codelist: str, entries: list[dict[str, Any]]) -> dict[str, str]:
    """Upper-cased text -> CT term: the codelist's terms and the spellings of exposure.yaml."""
    out = {t.value.upper(): t.value for t in mappings.codelist(codelist).terms}
    for e in entries:
        for s in e.get("spellings", []):
            out.setdefault(str(s).strip().upper(), e["cdisc"])
    return out
