"""DS <-> ResearchSubject: the subject's disposition event on R4 status / period.end or R5 progress.

The one record per subject placed on elements (context.disposition_rows: DSCAT DISPOSITION EVENT, DSDECOD a term of
NCOMPLT) makes the subject off-study. R4 has no reason element: DSSTDTC is period.end (when DM has no RFPENDTC),
DSTERM and DSDECOD ride in sdtm-variables on `_status`. R5: a progress entry (type state, subjectState off-study,
reason = the NCI Thesaurus coding of DSDECOD with DSTERM as text, startDate = DSSTDTC). Either way the sdtm-record
extension (dataset DS, row) marks the element and keeps the record's place. Other DS records ride in
sdtm-supplemental (context._carry_on_subject). Reading: own FHIR back exactly; an R5 progress entry of others with a
reason becomes a DS record (DSDECOD by its NCI code or its text when that is an NCOMPLT term).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from msc_interop import mappings
from msc_interop.fhir import terms
from msc_interop.fhir.common import Carrier, concept, ct_coding, find_ext, read_carried, text, texts
from msc_interop.fhir.context import WriteContext
from msc_interop.fhir.datetimes import dtc_to_fhir
from msc_interop.fhir.read_common import (
    ReadContext,
    apply_overrides,
    identifier_value,
    kept_dtc,
    seq_where_missing,
    study_days,
)
from msc_interop.fhir.resources.encounters import differs, record_row
from msc_interop.fhir.systems import read_system


@dataclass
class Placed:
    """A subject's placed DS record as written: its date (SDTM, FHIR, whether the SDTM text must be kept), its
    extensions and (R5) its progress reason."""

    dsstdtc: str
    start: str | None
    keep: bool
    extensions: list[dict[str, Any]]
    reason: dict[str, Any] | None


def placed_dispositions(ctx: WriteContext, rfpendtc: dict[str, str]) -> dict[str, Placed]:
    """USUBJID -> its placed DS record (ctx.ds_rows). `rfpendtc`: the subjects' RFPENDTC, which period.end holds
    in R4 when there is one (DSSTDTC is then carried where it differs)."""
    if not ctx.ds_rows:
        return {}
    rows = sorted(ctx.ds_rows.values())
    sub = ctx.study["DS"].reset_index(drop=True).iloc[rows].reset_index(drop=True)
    start = sub["DSSTDTC"].astype(object) if "DSSTDTC" in sub.columns else pd.Series("", index=sub.index)
    r5 = ctx.version.has("ResearchSubject.progress")
    rule = terms.fixed("disposition")
    reasons = [ct_coding(rule["codelist"], d) for d in texts(sub["DSDECOD"]).tolist()]
    derived = {"DSSTDY": ctx.study_days(start, sub["USUBJID"]),
               "STUDYID": pd.Series(ctx.studyid, index=sub.index, dtype=object),
               "DOMAIN": pd.Series("DS", index=sub.index, dtype=object),
               "DSCAT": pd.Series(rule["dscat"], index=sub.index, dtype=object)}
    special = {c: differs(sub[c], d) for c, d in derived.items() if c in sub.columns}
    if r5:
        special["DSDECOD"] = np.array([c is None for c in reasons], dtype=bool)
    else:
        ends = [rfpendtc.get(u) or s for u, s in zip(texts(sub["USUBJID"]), texts(start), strict=True)]
        special["DSSTDTC"] = texts(start) != np.array(ends, dtype=object)
    mapped = terms.mapped_variables("DS") - (frozenset() if r5 else frozenset(rule["r4_carried"]))
    carrier = Carrier(len(sub), ctx.tz)
    carrier.add_dataset(sub, mapped, special)
    carried = carrier.extensions()
    url = terms.ext_url("sdtm_record")
    fhir, keep = (s.tolist() for s in dtc_to_fhir(start, ctx.tz))  # column-wise: each distinct date once
    out: dict[str, Placed] = {}
    for k, (u, row, dtc, term) in enumerate(zip(texts(sub["USUBJID"]), rows, texts(start), _col(sub, "DSTERM"),
                                                strict=True)):
        place = ctx.row_base.get("DS", 0) + row + 1  # the record's row in the whole DS
        exts = [{"url": url, "extension": [{"url": "dataset", "valueCode": "DS"},
                                           {"url": "row", "valueInteger": place}]}]
        if carried[k] is not None:
            exts.append(carried[k])
        reason = concept([reasons[k]] if reasons[k] else [], term) if r5 and (reasons[k] or term) else None
        out[u] = Placed(dtc, fhir[k], bool(keep[k]), exts, reason)
    return out


def _col(df: pd.DataFrame, col: str) -> list[str]:
    return texts(df[col]).tolist() if col in df.columns else [""] * len(df)


def progress_entry(placed: Placed, state_coding: dict[str, Any]) -> dict[str, Any]:
    """The R5 progress entry of a subject with a placed DS record."""
    fixed = terms.fixed("disposition")
    kind = fixed["progress_type"]
    entry: dict[str, Any] = {"extension": placed.extensions,
                             "type": {"coding": [{"system": terms.system(kind["system"]), "code": kind["code"],
                                                  "display": kind["display"]}],
                                      "text": fixed["progress_type_text"]},
                             "subjectState": {"coding": [state_coding]}}
    if placed.reason is not None:
        entry["reason"] = placed.reason
    if placed.start is not None:
        entry["startDate"] = placed.start
    if placed.keep:
        entry["_startDate"] = {"extension": [{"url": terms.ext_url("sdtm_dtc"), "valueString": placed.dsstdtc}]}
    return entry


# --- reading ---------------------------------------------------------------------------------------------

# ResearchSubject paths the DS reader uses (checked with the subject's Shape in subjects.py)
DS_PATHS = (
    "_status.extension.url", "_status.extension.extension.url", "_status.extension.extension.valueString",
    "_status.extension.extension.valueInteger", "_status.extension.extension.valueCode",
    "_status.extension.extension.valueDecimal",
    "progress.extension.url", "progress.extension.extension.url", "progress.extension.extension.valueString",
    "progress.extension.extension.valueInteger", "progress.extension.extension.valueCode",
    "progress.extension.extension.valueDecimal", "progress.reason.text", "progress.reason.coding.system",
    "progress.reason.coding.code", "progress.reason.coding.display", "progress.startDate", "progress.endDate",
    "progress._startDate.extension.url", "progress._startDate.extension.valueString",
)


def read_ds(r: ReadContext, subjects: dict[str, str], rfstdtc: dict[str, str], studyid: str
            ) -> pd.DataFrame | None:
    """DS records from the ResearchSubjects (with `_row` where msc-interop wrote them); None when none has one."""
    rows: list[dict[str, Any]] = []
    over: list[dict[str, Any]] = []
    foreign = False
    for loc in r.by_type.get("ResearchSubject", []):
        if id(loc) in r.rejected_ids:
            continue
        res = loc.resource
        usubjid = identifier_value(res, "usubjid") or subjects.get(
            r.resolve((res.get("individual") or res.get("subject") or {}).get("reference")) or "")
        if not usubjid:
            continue
        found = _own(r, loc, res) or _others(r, loc, res)
        if found is None:
            continue
        row, carried = found
        foreign = foreign or "_row" not in row
        rows.append({"STUDYID": studyid, "DOMAIN": "DS", "USUBJID": usubjid, **row})
        over.append(carried)
    if not rows:
        return None
    df = study_days(apply_overrides(pd.DataFrame(rows), over), "DSSTDTC", "DSSTDY", over, rfstdtc)
    return seq_where_missing(df, "DS") if foreign else df


def _own(r: ReadContext, loc: Any, res: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The DS record msc-interop placed on a ResearchSubject (R4 `_status`, R5 a progress entry), if any."""
    status = res.get("_status") if isinstance(res.get("_status"), dict) else None
    row = record_row(status, "DS")
    if row is not None:
        end = kept_dtc(r, loc, "ResearchSubject", res.get("period") or {}, "end", "ResearchSubject.period.end", r.tz)
        return _values(row, "", "", end), read_carried(status, r.tz)
    for entry in res.get("progress") or ():
        row = record_row(entry, "DS")
        if row is not None:
            decod, term = _reason(entry.get("reason") or {}, r.tallies)
            start = kept_dtc(r, loc, "ResearchSubject", entry, "startDate", "ResearchSubject.progress.startDate", r.tz)
            return _values(row, term, decod, start), read_carried(entry, r.tz)
    return None


def _others(r: ReadContext, loc: Any, res: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """A DS record from an R5 progress entry with a reason written by others (the first such entry)."""
    for entry in res.get("progress") or ():
        if find_ext(entry, "sdtm_record") is None and isinstance(entry.get("reason"), dict):
            decod, term = _reason(entry["reason"], r.tallies)
            name = "startDate" if entry.get("startDate") or entry.get("_startDate") else "endDate"
            dtc = kept_dtc(r, loc, "ResearchSubject", entry, name, f"ResearchSubject.progress.{name}", r.tz)
            row = _values(None, term or decod, decod, dtc)
            row["EPOCH"] = ""
            return row, {}
    return None


def _values(row: int | None, term: str, decod: str, dtc: str) -> dict[str, Any]:
    out: dict[str, Any] = {"DSTERM": term, "DSDECOD": decod, "DSCAT": terms.fixed("disposition")["dscat"],
                           "DSSTDTC": dtc}
    if row is not None:
        out["_row"] = row
    return out


def _reason(reason: dict[str, Any], seen: Counter[str]) -> tuple[str, str]:
    """(DSDECOD, DSTERM) of a progress reason: the NCOMPLT term of its NCI Thesaurus code, else of its text or
    display when that is an NCOMPLT term ("" otherwise); DSTERM is the text, else the display. `seen`: the read's
    tallies (read_system)."""
    codelist = terms.fixed("disposition")["codelist"]
    by_code = terms.ct_by_nci(codelist)
    values = mappings.codelist(codelist).values
    decod, display = "", ""
    for c in reason.get("coding") or ():
        if not isinstance(c, dict):
            continue
        display = display or text(c.get("display"))
        if read_system(c.get("system"), seen) == terms.system("ncit") and text(c.get("code")) in by_code:
            decod = by_code[text(c.get("code"))]
            break
    term = text(reason.get("text")) or display
    if not decod:
        decod = next((t.upper() for t in (term, display) if t and t.upper() in values), "")
    return decod, term
