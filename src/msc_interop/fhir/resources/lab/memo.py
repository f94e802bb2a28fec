"""What an LB (or VS) row takes from references and dates, worked out once per distinct value (LbMemo): a big
file repeats a few thousand encounters, performers and dates over a million Observations."""

from __future__ import annotations

from typing import Any

from msc_interop.fhir.common import text
from msc_interop.fhir.datetimes import FhirDateError
from msc_interop.fhir.io import Located
from msc_interop.fhir.read_common import ReadContext, dtc
from msc_interop.fhir.resources.lab.foreign import own_unit_problem

_UNSEEN = object()


class LbMemo:
    """Per distinct value, what an LB row takes from references and dates: a big file repeats a few thousand
    encounters, performers and dates over a million Observations."""

    def __init__(self, r: ReadContext, encounters: dict[str, dict[str, Any]], orgs: dict[str, str], tz: str | None):
        self.r, self.encounters, self.orgs, self.tz = r, encounters, orgs, tz
        self.encounter_of: dict[str, dict[str, Any]] = {}
        self.name_of: dict[tuple, str] = {}
        self.dtc_of: dict[str, str | None] = {}
        self.dtc_problem: dict[Any, str] = {}  # why a date has no --DTC (dtc() gave None)
        self.units: dict[tuple[Any, Any, Any], Any] = {}

    def unit_problem(self, rec: Any) -> tuple[str, str, Any, str] | None:
        """own_unit_problem, once per distinct (unit, system, code)."""
        key = (rec.qunit, rec.qsystem, rec.qcode)
        found = self.units.get(key, _UNSEEN)
        if found is _UNSEEN:
            found = self.units[key] = own_unit_problem(rec)
        return found  # type: ignore[return-value]

    def encounter(self, loc: Located, ref: Any) -> dict[str, Any]:
        """VISITNUM, VISIT, EPOCH of an encounter reference (ReadContext.visit: one that does not resolve is said
        for the record at `loc`)."""
        if ref is None:
            return {}
        found = self.encounter_of.get(ref) if isinstance(ref, str) else None
        if found is None:
            found = self.encounters.get(self.r.resolve(ref) or "")
            if found is None:
                return self.r.visit(loc, "Observation", "Observation.encounter", ref, self.encounters)
            if isinstance(ref, str):
                self.encounter_of[ref] = found
        return found

    def lab_name(self, performers: list[tuple[Any, Any]]) -> str:
        try:
            key = tuple(performers)
            found = self.name_of.get(key)
        except TypeError:  # a reference or display that is not a string (malformed input): not remembered
            return _lab_name(self.r, performers, self.orgs)
        if found is None:
            found = self.name_of[key] = _lab_name(self.r, performers, self.orgs)
        return found

    def dtc(self, value: Any) -> str | None:
        """--DTC of a FHIR date; None when it is impossible (the reason in dtc_problem[value])."""
        if type(value) is not str:
            return self._dtc(value)
        found = self.dtc_of.get(value, _UNSEEN)
        if found is _UNSEEN:
            found = self.dtc_of[value] = self._dtc(value)
        return found

    def _dtc(self, value: Any) -> str | None:
        try:
            return dtc(value, self.tz)
        except FhirDateError as exc:
            self.dtc_problem[repr(value)] = str(exc)
            return None

    def dtc_reason(self, value: Any) -> str:
        """Why dtc(value) gave None."""
        return self.dtc_problem[repr(value)]


def _lab_name(r: ReadContext, performers: list[tuple[Any, Any]], orgs: dict[str, str]) -> str:
    """LBNAM: the first performer that is an Organization (a practitioner's name is never read)."""
    for ref, display in performers:
        key = r.resolve(ref) or (ref if isinstance(ref, str) else "")
        if key.startswith("Organization/") or "/Organization/" in key:
            return text(display) or orgs.get(key, "")
    return ""
