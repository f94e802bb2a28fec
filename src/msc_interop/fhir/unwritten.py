"""What `to-fhir` cannot carry: datasets with no FHIR mapping (QS, SC, SE, TA, TE, TI, custom XX, ...) and SUPP--
records whose parent domain is not written. Counted per dataset so nothing is dropped without a word: the
counts become the write's warning and notes of the reject report (rejects.json)."""

from __future__ import annotations

from msc_interop.fhir.common import text
from msc_interop.study import Study


def not_written(study: Study, written: tuple[str, ...], study_level: tuple[str, ...]) -> dict[str, int]:
    """Dataset -> records not written to FHIR (a SUPP-- dataset: its records whose RDOMAIN is not written)."""
    out: dict[str, int] = {}
    for name in study.names:
        df = study[name]
        if name in written or name in study_level:
            continue
        if name.startswith("SUPP") and "RDOMAIN" in df.columns:
            lost = int((~df["RDOMAIN"].astype(object).map(text).isin(written)).sum())
            if lost:
                out[name] = lost
            continue
        out[name] = len(df)
    return out


def describe(counts: dict[str, int]) -> list[str]:
    """One line per dataset not written, with its record count."""
    return [f"{name}: {n} record(s) not written to FHIR ("
            + ("their parent domain has no FHIR mapping" if name.startswith("SUPP") else "no FHIR mapping for the "
               "dataset") + ")" for name, n in sorted(counts.items())]
