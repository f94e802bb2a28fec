"""Vital-sign terms (mappings/vital_signs.yaml, read through mappings.load): tests, names people write, units and
the conversion of each unit to the test's standard unit, LOINC codes both ways.

Why a module of its own: the builder (sdtm/vs.py), the FHIR writer and reader (fhir/resources/vital_signs.py),
validate and the summary all need the same tables; they are made once (cached) as plain dicts and DataFrames.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from msc_interop import mappings
from msc_interop.distinct import per_distinct, row_codes
from msc_interop.errors import MappingDataError


@dataclass(frozen=True)
class VitalSignTest:
    testcd: str
    test: str
    nci_code: str
    loinc: str
    loinc_display: str
    read_loinc: bool
    standard_unit: str
    decimals: int
    units: tuple[tuple[str, float, float], ...]  # (CDISC unit, factor, offset): std = (orig + offset) * factor
    aliases: tuple[str, ...]
    plausible: tuple[float, float]


def baseline_flag_name() -> str:
    """VS's baseline flag: VSLOBXFL from SDTMIG 3.4 on (it replaced --BLFL in the Findings domains), VSBLFL before."""
    major, minor = (int(x) for x in mappings.sdtmig_version().split(".")[:2])
    return "VSLOBXFL" if (major, minor) >= (3, 4) else "VSBLFL"


@functools.cache
def tests() -> dict[str, VitalSignTest]:
    """Every vital-sign test the mapping knows, by VSTESTCD."""
    out = {}
    for t in mappings.load("vital_signs")["tests"]:
        units = tuple((u, float(c), 0.0) if not isinstance(c, dict) else (u, float(c["factor"]), float(c["offset"]))
                      for u, c in t["units"].items())
        out[t["testcd"]] = VitalSignTest(
            t["testcd"], t["test"], t["nci_code"], t["loinc"], t["loinc_display"], t.get("read_loinc", True),
            t["standard_unit"], int(t["decimals"]), units, tuple(t.get("aliases", [])),
            (float(t["plausible_low"]), float(t["plausible_high"])))
    return out


def test(testcd: str) -> VitalSignTest:
    try:
        return tests()[testcd]
    except KeyError:
        raise MappingDataError(f"vital-sign test {testcd!r} is not in mappings/vital_signs.yaml") from None


@functools.cache
def alias_map() -> dict[str, str]:
    """Upper-cased names a data manager may write (VSTESTCD, VSTEST, CT synonyms, aliases) -> VSTESTCD."""
    out: dict[str, str] = {}
    ct_names = {t.nci_code: (t.value, *t.synonyms) for t in mappings.codelist("VSTEST").terms}
    for t in tests().values():
        for name in (t.test, *ct_names.get(t.nci_code, ()), *t.aliases):
            out.setdefault(name.strip().upper(), t.testcd)
    for t in tests().values():
        out[t.testcd] = t.testcd
    return out


@functools.cache
def loinc_index() -> dict[str, str]:
    """LOINC -> VSTESTCD for reading (tests whose read_loinc is false are written with a LOINC, not read by it)."""
    return {t.loinc: t.testcd for t in tests().values() if t.read_loinc}


@functools.cache
def panels() -> dict[str, tuple[str, ...]]:
    """Panel LOINC -> the LOINCs of its components (the blood-pressure panel 85354-9 -> systolic, diastolic)."""
    return {p["loinc"]: tuple(p["components"]) for p in mappings.load("vital_signs")["panels"]}


@functools.cache
def unit_table() -> pd.DataFrame:
    """(VSTESTCD, spelling, unit, factor, offset): every way a unit of a test may be written (the CDISC unit, its UCUM
    code, its spellings in units.yaml) -> the CDISC unit and its conversion to the standard unit. Per test, so that
    UCUM "/min" is beats/min for a pulse and breaths/min for a respiratory rate."""
    rows = []
    for t in tests().values():
        seen: set[str] = set()
        for unit, factor, offset in t.units:
            u = mappings.unit(unit)
            for spelling in (u.cdisc, u.ucum, *u.spellings):
                if spelling not in seen:
                    seen.add(spelling)
                    rows.append((t.testcd, spelling, unit, factor, offset))
    return pd.DataFrame(rows, columns=["VSTESTCD", "spelling", "unit", "factor", "offset"])


def unit_of(testcd: str, spelling: str) -> str | None:
    """The CDISC unit a spelling (or UCUM code) means for a test; None when the test has no such unit."""
    hit = _unit_lookup().get((testcd, spelling.strip()))
    return hit[0] if hit else None


@functools.cache
def _unit_lookup() -> dict[tuple[str, str], tuple[str, float, float]]:
    return {(r.VSTESTCD, r.spelling): (r.unit, r.factor, r.offset) for r in unit_table().itertuples(index=False)}


def known_units(testcd: str) -> str:
    return ", ".join(u for u, _f, _o in tests()[testcd].units) if testcd in tests() else ""


def standardize(testcd: pd.Series, orres: pd.Series, unit: pd.Series) -> pd.DataFrame:
    """VSSTRESC / VSSTRESN / VSSTRESU from the original result and its CDISC unit, column-wise (once per distinct
    (test, result, unit)). A number in a unit of the test is converted and rounded to the test's decimals (a unit
    that is the standard one keeps the number as written); anything else keeps its text, with no number and no
    standard unit ("" where the unit is not one of the test's: validate says so)."""
    frame = pd.DataFrame({"t": testcd.astype(object).to_numpy(), "o": orres.astype(object).to_numpy(),
                          "u": unit.astype(object).to_numpy()})
    frame = frame.fillna("")
    codes, uniques = _factorize(frame)
    answer = _standardize_distinct(uniques)
    out = answer.iloc[codes].reset_index(drop=True)
    out.index = orres.index
    return out


def _factorize(frame: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    codes, first = row_codes(frame)  # integer codes per column combined: no per-row string keys
    return codes, frame.iloc[first].reset_index(drop=True)


def _standardize_distinct(u: pd.DataFrame) -> pd.DataFrame:
    conv = {(t.testcd, unit): (f, off, t.standard_unit, t.decimals)
            for t in tests().values() for unit, f, off in t.units}
    num = per_distinct(lambda s: pd.to_numeric(s.str.strip(), errors="coerce"), u["o"].astype(object))
    stresc, stresn, stresu = [], [], []
    for t, o, unit, n in zip(u["t"], u["o"], u["u"], num, strict=True):
        c = conv.get((t, unit))
        if c is None or n != n:
            stresc.append(o.strip() if isinstance(o, str) else "")
            stresn.append(np.nan)
            stresu.append("")
            continue
        f, off, std_unit, dec = c
        value = float(n) if (f == 1.0 and off == 0.0) else round((float(n) + off) * f, dec)
        stresn.append(value)
        stresc.append(number_text(value))
        stresu.append(std_unit)
    return pd.DataFrame({"VSSTRESC": stresc, "VSSTRESN": stresn, "VSSTRESU": stresu})


def number_text(value: float) -> str:
    """Shortest text that reads back as the same float: 72.0 -> "72", 36.85 -> "36.85"."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text
