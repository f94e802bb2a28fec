"""DM RACE / ETHNIC from a hospital Patient's race and ethnicity extensions (US Core OMB categories), through
mappings/race_ethnicity.yaml: never a code copied as if it were CDISC CT."""

from __future__ import annotations

import functools
from collections import Counter
from typing import Any

from msc_interop import mappings
from msc_interop.fhir.systems import read_system


@functools.cache
def _table() -> tuple[dict[str, str], dict[str, dict[tuple[str, str], str]]]:
    """(extension URL -> variable, variable -> (system, code) -> CDISC submission value)."""
    data = mappings.load("race_ethnicity")
    urls = {e["url"]: e["variable"] for e in data["extensions"]}
    codes = {var: {(t["system"], t["code"]): t["cdisc"] for t in terms} for var, terms in data["codes"].items()}
    return urls, codes


def race_ethnicity(patient: dict[str, Any], seen: Counter[str]) -> dict[str, str]:
    """RACE and ETHNIC of a Patient (only the variables its extensions give): the OMB categories mapped; several
    races give MULTIPLE (SDTMIG DM); an OMB code not in the mapping gives nothing (the variable is left empty).
    `seen`: the read's tallies (a coding's system as fhir/systems.py read_system reads it)."""
    urls, codes = _table()
    found: dict[str, list[str]] = {}
    extensions = patient.get("extension")
    for ext in extensions if isinstance(extensions, list) else []:
        if not isinstance(ext, dict) or ext.get("url") not in urls:
            continue
        var = urls[ext["url"]]
        values = found.setdefault(var, [])
        for sub in ext.get("extension") or []:
            coding = sub.get("valueCoding") if isinstance(sub, dict) and sub.get("url") == "ombCategory" else None
            if isinstance(coding, dict):
                term = codes.get(var, {}).get((read_system(coding.get("system"), seen), coding.get("code")))
                if term and term not in values:
                    values.append(term)
    out = {}
    for var, values in found.items():
        if values:
            out[var] = values[0] if len(values) == 1 else "MULTIPLE"
    return out
