"""MH <-> Condition (R4 and R5 alike): build_conditions and read_conditions.

IG MH rows followed: MHTERM -> Condition.code (text), MHDECOD / MHPTCD and the MedDRA levels -> code.coding
(system mdr, tagged with the meddra-level extension as AE does), MHCAT -> category (text), MHSTDTC ->
onsetDateTime, MHENDTC -> abatementDateTime, MHENRTPT -> clinicalStatus (ONGOING -> active, BEFORE ->
resolved; R5 requires clinicalStatus, so other values write "unknown" and MHENRTPT is carried). Every Condition
also has category problem-list-item (condition-category: a medical history is a problem-list entry, not an
encounter diagnosis) and the study in the workflow-researchStudy extension (Condition has no study element).
Gaps carried in sdtm-variables: MHENTPT, MHSTDY, and any value FHIR does not give back. docs/fhir-mapping.md.

FHIR written by others: a Condition whose category is encounter-diagnosis (a diagnosis of one visit, not the
subject's history) or whose verificationStatus is refuted is skipped with that reason; entered-in-error is
rejected (REJ-FHIR-004), one without a code (REJ-FHIR-005).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from msc_interop.fhir import terms
from msc_interop.fhir.common import Carrier, coding, read_carried, text
from msc_interop.fhir.context import WriteContext, column, record_frame
from msc_interop.fhir.datetimes import FhirDateError
from msc_interop.fhir.read_common import (
    ReadContext,
    domain_frame,
    prim_dtc,
    shown,
    shown_subject,
    strict_bundle,
    subject_of,
)
from msc_interop.fhir.remarks import count_resource
from msc_interop.fhir.shapes import EXTENSION_PATHS, Shape, kept_text
from msc_interop.fhir.systems import read_system

LEVELS = (("PT", "MHDECOD", "MHPTCD"), ("BODSYS", "MHBODSYS", "MHBDSYCD"))

# MHENTPT of a Condition read from others' FHIR whose clinicalStatus gives MHENRTPT: its recordedDate, else this
# text (the status is as of the moment the data was taken from the source; FHIR states no other time for it).
# Our own Conditions carry MHENTPT in sdtm-variables, which overrides it.
ONGOING_AS_OF_EXTRACT = "FHIR DATA EXTRACTION"


def _code_text(v: Any) -> str:
    if v is None or v is pd.NA or (isinstance(v, float) and v != v):
        return ""
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


def _status_map() -> dict[str, str]:
    return terms.data()["codes"]["mhenrtpt_to_clinical_status"]["map"]


def enrtpt_of(status: str) -> str:
    """MHENRTPT read back from a clinicalStatus code."""
    return {v: k for k, v in _status_map().items()}.get(status, "")


def build_conditions(ctx: WriteContext) -> list[dict[str, Any]]:
    """One Condition per MH record (dicts: a study has few)."""
    frame = record_frame(ctx, "MH", visits_optional=True)
    if frame is None:
        return []
    mh, n, rid = frame.df, frame.n, frame.ids
    status = _status_map()
    enrtpt = column(mh, "MHENRTPT").astype(object).map(text)
    codes = {var: column(mh, var).map(_code_text) for _, _, var in LEVELS}
    special: dict[str, np.ndarray] = {
        "MHENRTPT": (enrtpt.map(lambda x: enrtpt_of(status.get(x, ""))) != enrtpt).to_numpy(),
        "MHSEQ": np.zeros(n, dtype=bool), "DOMAIN": (column(mh, "DOMAIN").map(text) != "MH").to_numpy(),
        "STUDYID": (column(mh, "STUDYID").map(text) != ctx.studyid).to_numpy(),
    }
    for _, term_var, code_var in LEVELS:  # a term without its code has no coding: carried
        special[term_var] = ((column(mh, term_var).map(text) != "") & (codes[code_var] == "")).to_numpy()
        special[code_var] = np.zeros(n, dtype=bool)
    carrier = Carrier(n, ctx.tz)
    carrier.add_dataset(mh, terms.mapped_variables("MH"), special)
    carried = carrier.extensions()
    level_url, url_dtc = terms.ext_url("meddra_level"), terms.ext_url("sdtm_dtc")
    out = []
    for i, rec in enumerate(mh.to_dict("records")):
        u = text(rec["USUBJID"])
        res: dict[str, Any] = {"resourceType": "Condition", "id": rid[i]}
        exts = [{"url": terms.ext_url("workflow_research_study"), "valueReference": ctx.study_ref()}]
        if carried[i] is not None:
            exts.append(carried[i])
        res["extension"] = exts
        seq = rec.get("MHSEQ")
        res["identifier"] = [{"system": terms.id_system("seq"),
                              "value": f"{ctx.studyid}/{u}/MH/{'' if pd.isna(seq) else int(seq)}"}]
        clinical = status.get(text(rec.get("MHENRTPT")), "" if ctx.version.name == "R4" else "unknown")
        if clinical:
            res["clinicalStatus"] = {"coding": [{"system": terms.system("condition_clinical"), "code": clinical}]}
        category = [{"coding": [coding("condition_category", "problem-list-item", "Problem List Item")]}]
        if text(rec.get("MHCAT")):
            category.append({"text": text(rec.get("MHCAT"))})
        res["category"] = category
        codings = []
        for level, term_var, code_var in LEVELS:
            if codes[code_var].iloc[i]:
                c: dict[str, Any] = {"extension": [{"url": level_url, "valueCode": level}],
                                     **coding("meddra", codes[code_var].iloc[i], text(rec.get(term_var)) or None)}
                codings.append(c)
        code: dict[str, Any] = {"coding": codings} if codings else {}
        code["text"] = text(rec.get("MHTERM"))
        res["code"] = code
        res["subject"] = ctx.ref("Patient", ctx.patient_rids[u])
        dates = (("MHSTDTC", "onsetDateTime", frame.start.iloc[i], frame.start_keep.iloc[i]),
                 ("MHENDTC", "abatementDateTime", frame.end.iloc[i], frame.end_keep.iloc[i]))
        for dtc_var, element, val, keep in dates:
            if val is not None:
                res[element] = val
            if keep:
                res["_" + element] = {"extension": [{"url": url_dtc, "valueString": text(rec.get(dtc_var))}]}
        res["extension"] += ctx.supp.get(("MH", i), [])
        out.append(res)
    return out


# --- reading ---------------------------------------------------------------------------------------------

CONDITION = Shape("Condition", [
    "id", "identifier.system", "identifier.value", "subject.reference", "subject.identifier.system",
    "subject.identifier.value", "code.text", "code.coding.system", "code.coding.code", "code.coding.display",
    "code.coding.extension.url", "code.coding.extension.valueCode", "category.text", "category.coding.system",
    "category.coding.code", "clinicalStatus.coding.code", "verificationStatus.coding.code",
    "onsetDateTime", *kept_text("_onsetDateTime"), "onsetPeriod.start", "onsetPeriod.end", "abatementDateTime",
    *kept_text("_abatementDateTime"), *EXTENSION_PATHS,
])


def _codes(cc: Any) -> list[str]:
    return [text(c.get("code")) for c in (cc or {}).get("coding") or () if isinstance(c, dict)] \
        if isinstance(cc, dict) else []


def read_conditions(r: ReadContext, subjects: dict[str, str], rfstdtc: dict[str, str], studyid: str
                    ) -> pd.DataFrame | None:
    """MH from the Conditions; None when there are none to place."""
    items = r.by_type.get("Condition", [])
    if not items:
        return None
    rows, over = [], []
    for loc in items:
        res = loc.resource
        categories = [c for cat in res.get("category") or () for c in _codes(cat)]
        verification = _codes(res.get("verificationStatus"))
        if "entered-in-error" in verification:
            r.reject(loc, "Condition", "Condition.verificationStatus", "entered-in-error", "entered-in-error",
                     code="REJ-FHIR-004")
            continue
        if "refuted" in verification:
            r.skip("Condition", "verificationStatus refuted: the subject does not have the condition (no MH record)")
            continue
        if "encounter-diagnosis" in categories and "problem-list-item" not in categories:
            r.skip("Condition", "category encounter-diagnosis: a diagnosis of one encounter, not medical history")
            continue
        subject = subject_of(res.get("subject"))
        usubjid, problem = r.subject(subject, strict_bundle(loc), subjects)
        if usubjid is None:
            r.reject(loc, "Condition", "Condition.subject", problem, shown_subject(subject), code="REJ-FHIR-003")
            continue
        row: dict[str, Any] = {"STUDYID": studyid, "DOMAIN": "MH", "USUBJID": usubjid}
        for ident in res.get("identifier") or ():
            if isinstance(ident, dict) and ident.get("system") == terms.id_system("seq"):
                seq = text(ident.get("value")).rsplit("/", 1)[-1]
                row["MHSEQ"] = int(seq) if seq.lstrip("-").isdigit() else None
        code = res.get("code") if isinstance(res.get("code"), dict) else {}
        row.update(_meddra(code, r.tallies))
        if not row["MHTERM"]:
            r.reject(loc, "Condition", "Condition.code", "no condition term (code has no text or coding display)",
                     "", code="REJ-FHIR-005")
            continue
        row["MHCAT"] = next((text(c.get("text")) for c in res.get("category") or []
                             if isinstance(c, dict) and not c.get("coding") and c.get("text")), "")
        try:
            onset = res.get("onsetPeriod")
            row["MHSTDTC"] = prim_dtc(onset, "start", r.tz) if isinstance(onset, dict) else \
                prim_dtc(res, "onsetDateTime", r.tz)
            row["MHENDTC"] = prim_dtc(res, "abatementDateTime", r.tz)
        except FhirDateError as exc:
            r.reject(loc, "Condition", "Condition.onset[x] / abatementDateTime", str(exc), exc.value,
                     code="REJ-FHIR-006")
            continue
        for fld, why in _undated(res):
            r.note_field(loc, "Condition", f"Condition.{fld}", why, shown(res[fld.split(".")[0]]), code="REJ-FHIR-006")
        clinical = _codes(res.get("clinicalStatus"))
        row["MHENRTPT"] = enrtpt_of(clinical[0]) if clinical else ""
        if row["MHENRTPT"]:  # --ENRTPT needs its reference point (SDTMIG 4.4.7): when the source said so
            row["MHENTPT"] = text(res.get("recordedDate"))[:10] or ONGOING_AS_OF_EXTRACT
        rows.append(row)
        over.append(read_carried(res, r.tz))
        count_resource(r, "MH", loc, res)  # date-times without an offset (fhir/remarks.py)
        r.converted["Condition"] += 1
    if not rows:
        return None
    return domain_frame("MH", "MHTERM", rows, over, rfstdtc)


def _undated(res: dict[str, Any]) -> list[tuple[str, str]]:
    """(element, reason) for each onset[x] / abatement[x] that gives no MHSTDTC / MHENDTC: an Age, Range or string
    is no ISO 8601 date; onsetPeriod.end (the onset happened by then) has no MH variable, its start is MHSTDTC."""
    out = []
    for k in res:
        if k.startswith("onset") and k not in ("onsetDateTime", "onsetPeriod"):
            out.append((k, f"converted without MHSTDTC: {k} is not a date"))
        elif k.startswith("abatement") and k != "abatementDateTime":
            out.append((k, f"converted without MHENDTC: {k} is not a date"))
    onset = res.get("onsetPeriod")
    if isinstance(onset, dict) and onset.get("end"):
        out.append(("onsetPeriod.end", "converted without the end of onsetPeriod: MHSTDTC is its start"))
    return out


def _meddra(code: dict[str, Any], seen: Counter[str]) -> dict[str, Any]:
    """MHTERM (code.text, else the first coding's display) and the MedDRA levels of the codings (their system as
    read_system reads it, `seen` the read's tallies)."""
    out: dict[str, Any] = {"MHTERM": text(code.get("text"))}
    level_url = terms.ext_url("meddra_level")
    by_level = {lv: (t, c) for lv, t, c in LEVELS}
    for c in code.get("coding") or ():
        if not isinstance(c, dict) or read_system(c.get("system"), seen) != terms.system("meddra"):
            continue
        exts = c.get("extension") if isinstance(c.get("extension"), list) else []
        level = next((e.get("valueCode") for e in exts if isinstance(e, dict) and e.get("url") == level_url), "PT")
        if level in by_level and by_level[level][0] not in out:
            term_var, code_var = by_level[level]
            out[term_var] = text(c.get("display"))
            out[code_var] = int(text(c.get("code"))) if text(c.get("code")).isdigit() else None
    if not out["MHTERM"]:
        out["MHTERM"] = next((text(c.get("display")) for c in code.get("coding") or ()
                              if isinstance(c, dict) and c.get("display")), "")
    return out
