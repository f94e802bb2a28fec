"""Observations written by others -> LB rows: the test by NCI Thesaurus code or LOINC (lab_tests.yaml), the
unit through UCUM (units.yaml), the result converted to the standard unit (read.read_observations calls
foreign_lab for each such Observation's flat record)."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from msc_interop import mappings
from msc_interop.fhir import terms
from msc_interop.fhir.common import float_text, number_back, text
from msc_interop.fhir.read_common import cdisc_unit, unitless_ucum
from msc_interop.fhir.resources.lab import ranges
from msc_interop.fhir.resources.lab.sponsor import SponsorTests, specimen
from msc_interop.lab_precision import kept_round


def standard_conversion(testcd: str, unit: str) -> tuple[float, str] | None:
    """(factor, standard unit) for a result of test `testcd` in CDISC unit `unit`, from lab_tests.yaml."""
    t = mappings.lab_tests().get(testcd)
    if t is None:
        return None
    for u, f in t.units:
        if u == unit:
            return f, t.standard_unit
    return None


def _loinc_index() -> dict[str, str]:
    return {code: c.testcd for code, c in mappings.lab_loinc_index().items()}


@functools.cache
def _nrind_terms() -> dict[str, str]:
    """Upper-cased NRIND term -> the term (CDISC CT C78736)."""
    return {v.upper(): v for v in mappings.codelist("NRIND").values}


def foreign_nrind(interp_text: Any, codes: list[tuple[Any, Any, Any]]) -> tuple[str, str]:
    """LBNRIND of an Observation written by others, and what was given when it gives none (for the report).
    `codes`: (system as read_system reads it, code, system as sent) of the interpretation's codings.

    The v3-ObservationInterpretation coding decides (fhir_mapping.yaml interpretation_to_nrind: HH is HIGH);
    the text only when it is itself an NRIND term, any case: free text ("Below low normal", "Critical") is not
    CT, and a display-like text ("High") must not win over the code."""
    v3, table = terms.system("interpretation"), terms.reading_map("interpretation_to_nrind")
    found = next((table[c] for s, c, _ in codes if s == v3 and c in table), None)
    if found:
        return found, ""
    t = text(interp_text).strip()
    if t.upper() in _nrind_terms():
        return _nrind_terms()[t.upper()], ""
    return "", "; ".join([f"{sent or ''}|{c}" for _, c, sent in codes] + ([repr(t)] if t else []))


class ForeignLookups:
    """The LOINC and NCI look-ups for Observations written by others, made when the first one needs them."""

    @functools.cached_property
    def loinc_idx(self) -> dict[str, str]:
        return _loinc_index()

    @functools.cached_property
    def by_nci(self) -> dict[str, str]:
        return terms.ct_by_nci("LBTESTCD")


def foreign_lab(rec: Any, row: dict[str, Any], testcd: str | None, sponsor: SponsorTests | None
                ) -> tuple[str, str, Any, str] | None:
    """Fill an LB row from a lab Observation written by others (`testcd`: its mapped test, mapped_test); a test
    that is not mapped is carried with a sponsor-defined test code (lab/sponsor.py), or rejected when `sponsor` is
    None (--strict). (field, reason, value, reject code) when it cannot be placed."""
    carried = testcd is None
    if carried:
        shown = _codes_shown(rec)
        if sponsor is None:
            return ("Observation.code", f"unknown code: {shown} ({text(rec.code_display)}) is not in "
                    "mappings/lab_tests.yaml or the CDISC LBTESTCD terminology (--strict: not carried with a "
                    "sponsor-defined test code)", shown, "REJ-FHIR-005")
        testcd, name, _ = sponsor.test(rec)
        row["LBTESTCD"], row["LBTEST"] = testcd, name
        row["LBSPEC"] = text(rec.specimen_text) or specimen(text(rec.code_display))
    test = None if carried else mappings.lab_tests().get(testcd)
    if not carried:
        row["LBTESTCD"] = testcd
        row["LBTEST"] = test.test if test else _ct_test(testcd)
    row["LBCAT"] = test.category if test else ""
    row["LBLOINC"] = next((c for c in rec.loinc_codes or () if c), "") or ""
    hit = mappings.lab_code_hit(rec.loinc_codes or (), rec.other_codes or ())  # site lab map, else catalogue
    if not carried:
        row["LBSPEC"] = text(rec.specimen_text) or (hit.specimen if hit else test.specimen if test else "")
    if hit is not None and hit.method:
        row["LBMETHOD"] = hit.method
    if rec.vkind == "q":
        if rec.qvalue is None:
            return ("Observation.valueQuantity", "no value: valueQuantity has no number", "", "REJ-FHIR-006")
        unit = cdisc_unit(rec.qsystem, rec.qcode, rec.qunit) if (rec.qcode or rec.qunit) else (hit.unit if hit else "")
        if test is not None and not test.standard_unit and unitless_ucum(rec.qsystem, rec.qcode) and (
                unit is None or standard_conversion(testcd, unit) is None):
            # a test without unit (pH, specific gravity, INR) sent as [pH], {SG}, {INR} or UCUM's unity 1: no unit.
            # 1 is also the UCUM code of CDISC RATIO, kept where the test takes RATIO (INR: lab_tests.yaml units)
            unit = ""
        if unit is None and carried:  # carried: the unit as sent (its UCUM code when it has one), said in the note
            unit = (text(rec.qcode) if rec.qsystem == terms.system("ucum") else "") or text(rec.qunit) or \
                text(rec.qcode)
        if unit is None:
            return ("Observation.valueQuantity.unit", f"unknown unit {rec.qunit or rec.qcode!r}: not in "
                    "mappings/units.yaml", rec.qunit or rec.qcode, "REJ-FHIR-006")
        value = float(rec.qvalue)
        row["LBORRES"] = text(rec.qcomp) + number_back(rec.qvalue)
        row["LBORRESU"] = unit
        conv = standard_conversion(testcd, unit) if test else (1.0, unit)
        if conv is None:
            return ("Observation.valueQuantity.unit", f"unit {unit!r} cannot be converted to the standard unit "
                    f"{test.standard_unit!r} of {testcd} (mappings/lab_tests.yaml)", unit, "REJ-FHIR-006")
        factor, std_unit = conv
        decimals = test.decimals_for(text(row.get("LBSPEC"))) if test else 6
        std = kept_round(value * factor, decimals, number_back(rec.qvalue), factor)  # never a non-zero made 0
        stresn = std if not rec.qcomp else np.nan
        row["LBSTRESN"] = stresn
        row["LBSTRESC"] = float_text(stresn) if not rec.qcomp else text(rec.qcomp) + float_text(std)
        row["LBSTRESU"] = std_unit
        if not ranges.in_value_unit(rec, row, testcd if test else None, unit, standard_conversion, decimals):
            for name, val in (("LO", rec.rr_low), ("HI", rec.rr_high)):
                row[f"LBORNR{name}"] = number_back(val) if val is not None else ""
                row[f"LBSTNR{name}"] = kept_round(float(val) * factor, decimals, number_back(val), factor) \
                    if val is not None else np.nan
    elif rec.vkind in ("cc", "s"):
        row["LBORRES"] = text(rec.vtext)
        row["LBSTRESC"] = text(rec.vtext)
        row["LBORRESU"] = row["LBSTRESU"] = ""
        ranges.without_number(rec, row, "valueCodeableConcept" if rec.vkind == "cc" else "valueString")
    elif rec.absent:
        row["LBORRES"] = ""
        row["LBSTAT"] = "NOT DONE"
        row["LBREASND"] = text(rec.absent)
        ranges.without_number(rec, row, "dataAbsentReason")
    elif rec.vkind:
        return ("Observation.value[x]", f"a {rec.vkind[6:]} result has no LB form here", rec.vkind[6:],
                "REJ-FHIR-006")
    else:
        return ("Observation.value[x]", "no value and no dataAbsentReason", "", "REJ-FHIR-006")
    return None


def mapped_test(rec: Any, loinc_idx: dict[str, str], by_nci: dict[str, str]) -> str | None:
    """LBTESTCD of an Observation by its NCI Thesaurus code, else its LOINC codes (lab_tests.yaml); None if unknown."""
    if rec.ncit_code and rec.ncit_code in by_nci:
        return by_nci[rec.ncit_code]
    hit = mappings.lab_code_hit(rec.loinc_codes or (), rec.other_codes or ())  # a site's lab map wins
    return hit.testcd if hit is not None else None


def _codes_shown(rec: Any) -> str:
    codes = [f"LOINC {c}" for c in rec.loinc_codes or ()] + list(rec.other_codes or ())
    return ", ".join(codes) or "no coding"


def own_test(rec: Any, lookups: ForeignLookups) -> tuple[str, str] | tuple[str, str, Any, str]:
    """(LBTESTCD, LBTEST) of an Observation written by msc-interop; (field, reason, value, reject code) when it has
    none. Its CDISC test-code coding gives them; without that coding (removed after writing: the writer carries
    an empty LBTESTCD in sdtm-variables, not as a missing coding) the test comes from the NCI or LOINC code through
    mappings/lab_tests.yaml, as for FHIR written by others, else the record is rejected (never an empty LBTESTCD)."""
    if text(rec.cdisc_code) or "LBTESTCD" in (rec.carried or {}):
        return text(rec.cdisc_code), rec.cdisc_display_text
    testcd = mapped_test(rec, lookups.loinc_idx, lookups.by_nci)
    carried = testcd is None
    if carried:
        shown = _codes_shown(rec)
        return ("Observation.code", "no CDISC test code: the Observation has no code of the cdisc-lbtestcd system, "
                f"and its other codes ({shown}) are not in mappings/lab_tests.yaml or the CDISC LBTESTCD terminology",
                shown, "REJ-FHIR-005")
    test = mappings.lab_tests().get(testcd)
    return testcd, test.test if test else _ct_test(testcd)


def own_unit_problem(rec: Any) -> tuple[str, str, Any, str] | None:
    """(field, reason, value, reject code) when the unit of an Observation written by msc-interop is not one the
    writer writes: the writer gives a UCUM code exactly to the CDISC units of mappings/units.yaml (the table the
    records path checks units with), with the unit's text the CDISC unit. A UCUM code beside a unit text that is not
    its CDISC unit (a unit edited after writing, 'furlongs') is rejected naming the unit. A unit text without a
    code is the SDTM unit as given to to-fhir (a unit outside units.yaml is carried that way), kept as it is."""
    unit, system, code = rec.qunit, rec.qsystem, rec.qcode
    if system is None and code is None:
        return None
    if not unit and system == terms.system("ucum") and code == "1":  # the writer's unity: a result without unit
        return None
    ucum = system == terms.system("ucum")
    known = mappings.units().get(unit) if isinstance(unit, str) else None
    if known is not None and ucum and code == known.ucum:
        return None
    expected = _ucum_to_cdisc().get(code) if ucum else None
    if expected is None:
        return ("Observation.valueQuantity.code", f"unknown unit: UCUM code {code!r} (system {system!r}) is not a "
                "unit of mappings/units.yaml", code, "REJ-FHIR-006")
    return ("Observation.valueQuantity.unit", f"unknown unit {unit!r}: not the CDISC unit of its UCUM code "
            f"{code!r} ({expected!r} in mappings/units.yaml)", unit, "REJ-FHIR-006")


@functools.cache
def _ucum_to_cdisc() -> dict[str, str]:
    """UCUM code -> CDISC unit, as the writer writes them (fhir/resources/lab/write.py: units.yaml only)."""
    out: dict[str, str] = {}
    for u in mappings.units().values():
        out.setdefault(u.ucum, u.cdisc)
    return out


def _ct_test(testcd: str) -> str:
    term = mappings.codelist("LBTESTCD").term(testcd)
    if term is None:
        return testcd
    by = {t.nci_code: t.value for t in mappings.codelist("LBTEST").terms}
    return by.get(term.nci_code, testcd)
