"""mappings/vital_signs.yaml checked against its sources: CDISC CT (VSTESTCD/VSTEST/VSRESU), LOINC check digits,
every conversion recomputed with UCUM (ucumvert / pint), the F -> C offset included."""

from __future__ import annotations

import functools

import pytest
from tests.test_lab_catalogue import loinc_check_digit
from ucumvert import PintUcumRegistry

from msc_interop import mappings, vital_signs

TESTS = list(vital_signs.tests().values())


@functools.cache
def _ureg() -> PintUcumRegistry:
    return PintUcumRegistry()


def test_every_test_is_cdisc_ct_with_its_name_and_units():
    testcd, vstest, vsresu = (mappings.codelist(n) for n in ("VSTESTCD", "VSTEST", "VSRESU"))
    names = {t.nci_code: t.value for t in vstest.terms}
    for t in TESTS:
        assert testcd.term(t.testcd).nci_code == t.nci_code, t.testcd
        assert names[t.nci_code] == t.test, t.testcd
        units = {t.standard_unit, *(u for u, _f, _o in t.units)}
        assert all(vsresu.term(u) or mappings.codelist("UNIT").term(u) for u in units), (t.testcd, units)
        assert dict((u, (f, o)) for u, f, o in t.units)[t.standard_unit] == (1.0, 0.0)


def test_loincs_have_valid_check_digits_and_panels_name_known_tests():
    for t in TESTS:
        body, digit = t.loinc.split("-")
        assert loinc_check_digit(body) == int(digit), t.testcd
    for panel, parts in vital_signs.panels().items():
        assert loinc_check_digit(panel.split("-")[0]) == int(panel[-1])
        assert all(p in vital_signs.loinc_index() for p in parts)
    # hand-checked against the FHIR value set observation-vitalsignresult
    assert vital_signs.loinc_index()["8480-6"] == "SYSBP" and vital_signs.loinc_index()["8867-4"] == "HR"


@pytest.mark.parametrize("t", TESTS, ids=lambda t: t.testcd)
def test_every_conversion_agrees_with_ucum(t):
    std = mappings.unit(t.standard_unit).ucum
    for unit, factor, offset in t.units:
        q = _ureg().Quantity(50.0, _ureg().from_ucum(mappings.unit(unit).ucum).units)
        expected = q.to(_ureg().from_ucum(std).units).magnitude
        assert (50.0 + offset) * factor == pytest.approx(expected, rel=1e-4), (t.testcd, unit)


def test_hand_checked():
    # 98.6 F = 37 C; 1 lb = 0.45359237 kg (exact by definition); 1 in = 2.54 cm
    out = vital_signs.standardize(*(__import__("pandas").Series(v, dtype=object) for v in (
        ["TEMP", "WEIGHT", "HEIGHT", "SYSBP"], ["98.6", "100", "70", "120"], ["F", "LB", "in", "mmHg"])))
    assert out["VSSTRESN"].tolist() == [37.0, 45.4, 177.8, 120.0]
    assert out["VSSTRESC"].tolist() == ["37", "45.4", "177.8", "120"]
