"""Supplemental qualifiers (SUPP--) as ADaM columns and back.

ADaM carries a SUPP-- qualifier as a column of the analysis dataset (QNAM as the name, QLABEL as the label; ADaMIG
1.3 section 3.1.1). define.xml states where each came from (def:Origin Predecessor, "SUPPEX.QVAL where QNAM =
WEIGHT (IDVAR EXSEQ, QORIG CRF)"), which is how adam/reverse.py puts them back into SUPP-- records, so that the
summary of an ADaM folder finds e.g. the body weight at dosing (SUPPEX WEIGHT) as the summary of the SDTM does.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from msc_interop.study import Study

_SOURCE = re.compile(r"^SUPP([A-Z]{2})\.QVAL where QNAM = ([A-Z][A-Z0-9_]{0,7}) \(IDVAR ([A-Z0-9_]*), QORIG ([^)]*)\)$")


def source_text(domain: str, qnam: str, idvar: str, qorig: str) -> str:
    return f"SUPP{domain}.QVAL where QNAM = {qnam} (IDVAR {idvar}, QORIG {qorig})"


def parse_source(text: str) -> tuple[str, str, str, str] | None:
    """(domain, QNAM, IDVAR, QORIG) of a define.xml origin written by source_text, else None."""
    m = _SOURCE.match(text.strip())
    return (m.group(1), m.group(2), m.group(3), m.group(4)) if m else None


def merge(study: Study, domain: str, frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` (the domain's records) with one text column per QNAM of SUPP<domain>, matched on USUBJID and the
    IDVAR value (IDVAR empty: subject level); frame.attrs["supp"] says each column's QLABEL, IDVAR and QORIG.
    A QNAM that is already a column of the frame is left out (the frame's own variable wins)."""
    supp = study.datasets.get(f"SUPP{domain}")
    out = frame.copy()
    info: dict[str, dict[str, Any]] = {}
    if supp is None or supp.empty or not {"USUBJID", "QNAM", "QVAL"} <= set(supp.columns):
        out.attrs["supp"] = info
        return out
    idvar_col = supp["IDVAR"] if "IDVAR" in supp else pd.Series("", index=supp.index)
    idval_col = supp["IDVARVAL"] if "IDVARVAL" in supp else pd.Series("", index=supp.index)
    for (qnam, idvar), rows in supp.assign(_idvar=idvar_col).groupby(["QNAM", "_idvar"], sort=True):
        if qnam in out.columns or qnam in info or (idvar and idvar not in out.columns):
            continue
        keys = out["USUBJID"].astype(str)
        if idvar:
            keys = keys + "\x00" + out[idvar].map(_as_key)
        src_keys = rows["USUBJID"].astype(str) + ("\x00" + idval_col[rows.index].map(_as_key) if idvar else "")
        values = pd.Series(rows["QVAL"].to_numpy(dtype=object), index=src_keys.to_numpy())
        values = values[~values.index.duplicated(keep="first")]
        out[qnam] = keys.map(values).fillna("").astype(object)
        label = str(rows["QLABEL"].iloc[0]) if "QLABEL" in rows else qnam
        qorig = str(rows["QORIG"].iloc[0]) if "QORIG" in rows else ""
        info[qnam] = {"label": label or qnam, "idvar": idvar, "qorig": qorig}
    out.attrs["supp"] = info
    return out


def _as_key(v: object) -> str:
    if isinstance(v, float) and v == v and v.is_integer():
        return str(int(v))
    if v is None or (isinstance(v, float) and v != v) or v is pd.NA:
        return ""
    return str(v).strip()


def rebuild(domain: str, frame: pd.DataFrame, qualifiers: dict[str, tuple[str, str, str]]) -> pd.DataFrame:
    """SUPP<domain> records from the qualifier columns of `frame` (QNAM -> (QLABEL, IDVAR, QORIG)); empty values
    make no record."""
    parts = []
    for qnam, (label, idvar, qorig) in sorted(qualifiers.items()):
        if qnam not in frame.columns:
            continue
        val = frame[qnam].astype(object).where(frame[qnam].notna(), "").map(_as_key)
        keep = val.ne("")
        rows = frame[keep]
        parts.append(pd.DataFrame({
            "STUDYID": rows["STUDYID"].to_numpy() if "STUDYID" in rows else "", "RDOMAIN": domain,
            "USUBJID": rows["USUBJID"].to_numpy(), "IDVAR": idvar,
            "IDVARVAL": rows[idvar].map(_as_key).to_numpy() if idvar and idvar in rows else "",
            "QNAM": qnam, "QLABEL": label, "QVAL": val[keep].to_numpy(), "QORIG": qorig, "QEVAL": ""}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
