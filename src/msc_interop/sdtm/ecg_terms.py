"""The ECG terms of mappings/ecg.yaml as look-up tables: which exams are an ECG, test names and aliases,
standard units, the interpretation record and the finding texts. One place, so that the EG builder, FHIR,
validate and the summary read the same terms."""

from __future__ import annotations

import functools
from typing import Any

import pandas as pd

from msc_interop import mappings


def _data() -> dict[str, Any]:
    return mappings.load("ecg")


@functools.cache
def exams() -> frozenset[str]:
    """The upper-cased `exam` values of findings.csv that are an ECG."""
    return frozenset(e.strip().upper() for e in _data()["exams"])


@functools.cache
def test_table() -> pd.DataFrame:
    """One row per interval test, indexed by EGTESTCD: EGTEST, unit, ucum, decimals, low, high, loinc."""
    rows = [{"EGTESTCD": t["testcd"], "EGTEST": t["test"], "nci_code": t["nci_code"], "unit": t["unit"],
             "ucum": t["ucum"],
             "decimals": t["decimals"], "low": float(t["plausible"][0]), "high": float(t["plausible"][1]),
             "loinc": t["loinc"], "loinc_display": t["loinc_display"]} for t in _data()["tests"]]
    return pd.DataFrame(rows).set_index("EGTESTCD")


@functools.cache
def test_alias_map() -> dict[str, str]:
    """Upper-cased EGTESTCD, EGTEST or alias -> EGTESTCD of an interval test."""
    out: dict[str, str] = {}
    for t in _data()["tests"]:
        for key in (t["testcd"], t["test"], *t["aliases"]):
            out[key.strip().upper()] = t["testcd"]
    return out


def interpretation() -> dict[str, Any]:
    """The INTP record's terms (testcd, test, nci_code, codelist, loinc)."""
    return _data()["interpretation"]


@functools.cache
def finding_map() -> dict[str, tuple[str, str]]:
    """Upper-cased finding text or alias -> (EGTESTCD, EGSTRESC) of the finding record."""
    out: dict[str, tuple[str, str]] = {}
    for f in _data()["findings"]:
        for key in (f["result"], *f["aliases"]):
            out[key.strip().upper()] = (f["testcd"], f["result"])
    return out


@functools.cache
def test_names() -> dict[str, str]:
    """EGTESTCD -> EGTEST for every test the terms know (intervals, INTP, finding groups)."""
    out = {t["testcd"]: t["test"] for t in _data()["tests"]}
    out[interpretation()["testcd"]] = interpretation()["test"]
    out.update({t["testcd"]: t["test"] for t in _data()["finding_tests"]})
    return out


@functools.cache
def loinc_index() -> dict[str, str]:
    """LOINC -> EGTESTCD (the interval tests and the interpretation)."""
    out = {t["loinc"]: t["testcd"] for t in _data()["tests"]}
    for t in _data()["tests"]:
        out.update({o["code"]: t["testcd"] for o in t.get("other_loinc", ())})
    out[interpretation()["loinc"]] = interpretation()["testcd"]
    return out


@functools.cache
def component_loinc_index() -> dict[str, str]:
    """LOINC -> EGTESTCD of the codes read as an ECG test only as a component of an ECG Observation."""
    return {o["code"]: t["testcd"] for t in _data()["tests"] for o in t.get("component_loinc", ())}


@functools.cache
def result_codes() -> dict[str, str]:
    """EGSTRESC of the interpretation and finding records -> its NCI code (NORMABNM, ECG Result C71150)."""
    out = {t.value: t.nci_code for t in mappings.codelist(interpretation()["codelist"]).terms}
    out.update({f["result"]: f["nci_code"] for f in _data()["findings"]})
    return out
