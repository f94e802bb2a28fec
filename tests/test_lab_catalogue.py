"""The lab catalogue (mappings/lab_tests.yaml, units.yaml) checked against its sources: CDISC CT membership, LOINC
check digits and uniqueness, UCUM validity (ucumvert) and the dimension of every conversion factor."""

from __future__ import annotations

import functools

import pytest
from ucumvert import PintUcumRegistry

from msc_interop import mappings

TESTS = mappings.load("lab_tests")["tests"]


@functools.cache
def _ureg() -> PintUcumRegistry:
    return PintUcumRegistry()


def loinc_check_digit(body: str) -> int:
    """LOINC's mod-10 check digit (Luhn variant): double every other digit from the right, sum the digits."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d // 10 + d % 10
    return (10 - total % 10) % 10


def _all_loincs() -> list[tuple[str, str, str, str]]:
    """(code, test, specimen, property or 'main') for every LOINC in the catalogue."""
    out = []
    for t in TESTS:
        if t["loinc"]:
            out.append((t["loinc"], t["testcd"], t["specimen"], "main"))
        out += [(o["code"], t["testcd"], o.get("specimen", t["specimen"]), o["property"])
                for o in t.get("other_loinc", [])]
    return out


def test_check_digit_algorithm_on_known_codes() -> None:
    # hand-checked: 718-7 hemoglobin, 2345-7 glucose, 2160-0 creatinine, 14682-9, 6690-2
    assert [loinc_check_digit(b) for b in ("718", "2345", "2160", "14682", "6690")] == [7, 7, 0, 9, 2]
    assert loinc_check_digit("2346") != 7   # a mistyped body gives another digit


def test_at_least_150_tests_every_code_in_ct() -> None:
    assert len(TESTS) >= 150
    testcd, lbtest, spectype = (mappings.codelist(n) for n in ("LBTESTCD", "LBTEST", "SPECTYPE"))
    by_code = {t.nci_code: t.value for t in lbtest.terms}
    for t in TESTS:
        term = testcd.term(t["testcd"])
        assert term is not None, t["testcd"]
        assert term.nci_code == t["nci_code"], t["testcd"]
        assert by_code[term.nci_code] == t["test"], t["testcd"]
        specs = {t["specimen"]} | {o["specimen"] for o in t.get("other_loinc", []) if "specimen" in o}
        assert all(spectype.term(s) for s in specs), (t["testcd"], specs)


def test_every_loinc_has_a_valid_check_digit_and_means_one_test() -> None:
    seen: dict[str, str] = {}
    for code, testcd, _spec, _prop in _all_loincs():
        body, digit = code.split("-")
        assert loinc_check_digit(body) == int(digit), f"{testcd}: LOINC {code} has a wrong check digit"
        assert code not in seen, f"LOINC {code} is given for {seen[code]} and {testcd}"
        seen[code] = testcd
    assert len(seen) >= 150
    assert set(mappings.lab_loinc_index()) == set(seen)


def test_every_verified_loinc_cites_a_source() -> None:
    for t in TESTS:
        assert bool(t["loinc"]) == t["loinc_verified"], t["testcd"]
        assert t["loinc_source"].strip(), t["testcd"]
        assert all(o["source"].strip() and o["display"].strip() for o in t.get("other_loinc", []))


@pytest.mark.parametrize("u", sorted(mappings.units()))
def test_every_unit_has_a_ucum_code_that_parses(u: str) -> None:
    unit = mappings.units()[u]
    assert mappings.codelist("UNIT").term(u).nci_code == unit.nci_code
    _ureg().from_ucum(unit.ucum)   # raises on an invalid UCUM expression


def test_every_unit_of_a_test_is_known() -> None:
    known = set(mappings.units())
    for t in TESTS:
        used = {t["standard_unit"], *t["units"]} | {u for o in t.get("other_loinc", []) for u in o["for_units"]}
        assert used - {""} <= known, (t["testcd"], used - known)
        assert t["units"].get(t["standard_unit"]) == 1, t["testcd"]


# enzyme activity: CDISC keeps IU/L beside U/L; the enzyme IU is the unit U (1 umol/min), which UCUM's [IU] is not
_SAME = {("IU/L", "U/L"), ("RATIO", "")}


def _quantity(u: str):
    one = _ureg().from_ucum("1")
    return _ureg().from_ucum(mappings.units()[u].ucum) if u else one


@pytest.mark.parametrize("t", TESTS, ids=lambda t: t["testcd"])
def test_every_factor_is_commensurable_with_the_standard_unit(t: dict) -> None:
    """1 original unit x factor = 1 standard unit, with the molar mass where mass meets substance."""
    std = _quantity(t["standard_unit"])
    molar = t["molar_mass"] * _ureg().from_ucum("g/mol") if "molar_mass" in t else None
    for u, factor in t["units"].items():
        if (u, t["standard_unit"]) in _SAME or u == t["standard_unit"]:
            assert factor == 1, (t["testcd"], u)
            continue
        q = _quantity(u)
        if q.dimensionality != std.dimensionality and molar is not None:
            q = q * molar if (q * molar).dimensionality == std.dimensionality else q / molar
        assert q.dimensionality == std.dimensionality, f"{t['testcd']}: {u} is not commensurable with {std}"
        expected = (q / std).to("dimensionless").magnitude
        assert factor == pytest.approx(expected, rel=0.01), (t["testcd"], u, factor, expected)


def _factor(testcd: str, unit: str) -> float:
    return dict(mappings.lab_tests()[testcd].units)[unit]


def test_hand_checked_conversions() -> None:
    # glucose 180.156 g/mol: 1 mmol/L = 18.016 mg/dL
    assert 1 / _factor("GLUC", "mg/dL") == pytest.approx(18.016, abs=0.01)
    # creatinine 113.12 g/mol: 1 mg/dL = 88.42 umol/L (the figure labs use)
    assert _factor("CREAT", "mg/dL") == 88.42
    # urea nitrogen: 1 mg/dL BUN = 10 / 28.014 = 0.357 mmol/L urea
    assert _factor("UREAN", "mg/dL") == pytest.approx(10 / 28.014, abs=0.001)
    # urea 60.06 g/mol
    assert _factor("UREA", "mg/dL") == pytest.approx(10 / 60.06, abs=0.001)
    # cholesterol 386.65 g/mol, triglyceride (triolein) 885.4 g/mol, calcium 40.078 g/mol
    assert _factor("CHOL", "mg/dL") == pytest.approx(10 / 386.65, rel=0.001)
    assert _factor("TRIG", "mg/dL") == pytest.approx(10 / 885.4, rel=0.001)
    assert _factor("CA", "mg/dL") == pytest.approx(10 / 40.078, rel=0.001)
    # hemoglobin g/dL -> g/L
    assert _factor("HGB", "g/dL") == 10


def test_a_loinc_names_its_specimen() -> None:
    idx = mappings.lab_loinc_index()
    assert (idx["2345-7"].testcd, idx["2345-7"].specimen) == ("GLUC", "SERUM OR PLASMA")
    assert (idx["2339-0"].testcd, idx["2339-0"].specimen) == ("GLUC", "BLOOD")
    assert (idx["15074-8"].testcd, idx["15074-8"].specimen) == ("GLUC", "BLOOD")
    assert (idx["20454-5"].testcd, idx["20454-5"].specimen) == ("PROT", "URINE")
    assert idx["718-7"].testcd == "HGB" and idx["2160-0"].testcd == "CREAT"
