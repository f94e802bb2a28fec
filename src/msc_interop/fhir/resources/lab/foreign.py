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
from msc_interop.fhir.read_common import cdisc_unit


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
    out: dict[str, str] = {}
    for t in mappings.lab_tests().values():
        if t.loinc:
            out.setdefault(t.loinc, t.testcd)
        for _u, code in t.loinc_by_unit:
            out.setdefault(code, t.testcd)
    return out


class ForeignLookups:
    """The LOINC and NCI look-ups for Observations written by others, made when the first one needs them."""

    @functools.cached_property
    def loinc_idx(self) -> dict[str, str]:
        return _loinc_index()

    @functools.cached_property
    def by_nci(self) -> dict[str, str]:
        return terms.ct_by_nci("LBTESTCD")


def foreign_lab(rec: Any, row: dict[str, Any], loinc_idx: dict[str, str],
                 by_nci: dict[str, str]) -> tuple[str, str, Any, str] | None:
    """Fill an LB row from an Observation written by others; (field, reason, value, reject code) when it
    cannot be placed."""
    if rec.lab_category is False:
        return ("Observation.category", "not a laboratory Observation (its category is not 'laboratory')",
                "", "REJ-FHIR-005")
    testcd = None
    if rec.ncit_code and rec.ncit_code in by_nci:
        testcd = by_nci[rec.ncit_code]
    for code in rec.loinc_codes or ():
        if testcd is None and code in loinc_idx:
            testcd = loinc_idx[code]
    if testcd is None:
        codes = [f"LOINC {c}" for c in rec.loinc_codes or ()] + list(rec.other_codes or ())
        shown = ", ".join(codes) or "no coding"
        return ("Observation.code", f"unknown code: {shown} ({text(rec.code_text)}) is not in "
                "mappings/lab_tests.yaml or the CDISC LBTESTCD terminology", shown, "REJ-FHIR-005")
    test = mappings.lab_tests().get(testcd)
    row["LBTESTCD"] = testcd
    row["LBTEST"] = test.test if test else _ct_test(testcd)
    row["LBCAT"] = test.category if test else ""
    row["LBLOINC"] = next((c for c in rec.loinc_codes or () if c), "") or ""
    row["LBSPEC"] = text(rec.specimen_text) or (test.specimen if test else "")
    if rec.vkind == "q":
        if rec.qvalue is None:
            return ("Observation.valueQuantity", "no value: valueQuantity has no number", "", "REJ-FHIR-006")
        unit = cdisc_unit(rec.qsystem, rec.qcode, rec.qunit) if (rec.qcode or rec.qunit) else ""
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
        decimals = test.decimals if test else 6
        stresn = round(value * factor, decimals) if not rec.qcomp else np.nan
        row["LBSTRESN"] = stresn
        row["LBSTRESC"] = float_text(stresn) if not rec.qcomp else text(rec.qcomp) + float_text(
            round(value * factor, decimals))
        row["LBSTRESU"] = std_unit
        for name, val in (("LO", rec.rr_low), ("HI", rec.rr_high)):
            row[f"LBORNR{name}"] = number_back(val) if val is not None else ""
            row[f"LBSTNR{name}"] = round(float(val) * factor, decimals) if val is not None else np.nan
    elif rec.vkind in ("cc", "s"):
        row["LBORRES"] = text(rec.vtext)
        row["LBSTRESC"] = text(rec.vtext)
        row["LBORRESU"] = row["LBSTRESU"] = ""
    elif rec.absent:
        row["LBORRES"] = ""
        row["LBSTAT"] = "NOT DONE"
        row["LBREASND"] = text(rec.absent)
    elif rec.vkind:
        return ("Observation.value[x]", f"a {rec.vkind[6:]} result has no LB form here", rec.vkind[6:],
                "REJ-FHIR-006")
    else:
        return ("Observation.value[x]", "no value and no dataAbsentReason", "", "REJ-FHIR-006")
    return None


def _ct_test(testcd: str) -> str:
    term = mappings.codelist("LBTESTCD").term(testcd)
    if term is None:
        return testcd
    by = {t.nci_code: t.value for t in mappings.codelist("LBTEST").terms}
    return by.get(term.nci_code, testcd)
