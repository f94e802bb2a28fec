"""CM <-> MedicationStatement (Joint Mapping IG, CM rows): build_medication_statements and
read_medication_statements.

CMTRT -> medication text (R4 medicationCodeableConcept, R5 medication.concept); CMDECOD -> its ATC coding (5th
level, code from mappings/medications.yaml) and CMCLAS/CMCLASCD -> an ATC coding of the class; CMINDC ->
reasonCode.text (R5 reason.concept.text); CMDOSE/CMDOSU -> dosage.doseAndRate.doseQuantity; CMDOSFRQ ->
dosage.timing.code (deviation: the IG's timing.frequency is an integer); CMROUTE -> dosage.route; CMSTDTC /
CMENDTC -> effectivePeriod. Status: R4 active when CMENRTPT is ONGOING, else completed; R5 recorded. What FHIR
would not give back as it was (a CMDECOD the dictionary has no ATC code for, EPOCH, CMENRF, ...) rides in the
sdtm-variables extension, so the round trip is exact.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from msc_interop import mappings
from msc_interop.fhir import terms
from msc_interop.fhir.common import Carrier, ct_coding, is_blank, read_carried, text
from msc_interop.fhir.context import WriteContext, column, record_frame
from msc_interop.fhir.datetimes import FhirDateError
from msc_interop.fhir.read_common import ReadContext, domain_frame, prim_dtc, shown_subject, strict_bundle, subject_of
from msc_interop.fhir.remarks import count_resource
from msc_interop.fhir.resources.exposure import dose_quantity, route_concept
from msc_interop.fhir.shapes import EXTENSION_PATHS, Shape, kept_text
from msc_interop.fhir.systems import read_system

_ATC_SUBSTANCE, _ATC_CLASS = 7, 5  # code lengths of the ATC 5th (substance) and 4th (chemical subgroup) levels


def _differs(a: pd.Series, b: pd.Series) -> np.ndarray:
    x = pd.to_numeric(a, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    y = pd.to_numeric(b, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return ~((np.isnan(x) & np.isnan(y)) | (x == y))


def _atc_of(decod: pd.Series) -> pd.Series:
    """The ATC substance code of each CMDECOD the study dictionary names exactly ("" otherwise)."""
    by_name = {e["name"]: e["atc"] for e in mappings.medication_dictionary().values()}
    return decod.astype(object).map(lambda d: by_name.get(text(d), ""))


def _class_ok(clas: pd.Series, code: pd.Series) -> np.ndarray:
    """Rows whose CMCLAS / CMCLASCD a class coding holds: both given, the code of ATC shape (4th level)."""
    c = code.astype(object).map(text)
    return (clas.astype(object).map(text).ne("") & c.str.fullmatch(r"[A-Z]\d\d[A-Z]{2}")).to_numpy()


def build_medication_statements(ctx: WriteContext) -> list[dict[str, Any]]:
    """One MedicationStatement per CM record."""
    frame = record_frame(ctx, "CM", visits_optional=True)
    if frame is None:
        return []
    v = ctx.version
    cm, n, usubjid, rid = frame.df, frame.n, frame.usubjid, frame.ids
    atc = _atc_of(column(cm, "CMDECOD"))
    class_ok = _class_ok(column(cm, "CMCLAS"), column(cm, "CMCLASCD"))
    carrier = Carrier(n, ctx.tz)
    special: dict[str, np.ndarray] = {
        "STUDYID": column(cm, "STUDYID").astype(object).map(text).to_numpy() != ctx.studyid,
        "DOMAIN": column(cm, "DOMAIN").astype(object).map(text).to_numpy() != "CM",
        "USUBJID": is_blank(usubjid),
        "CMDECOD": atc.eq("").to_numpy(),
        "CMCLAS": ~class_ok, "CMCLASCD": ~class_ok,
        "CMSTDY": _differs(column(cm, "CMSTDY"), ctx.study_days(column(cm, "CMSTDTC"), usubjid)),
        "CMENDY": _differs(column(cm, "CMENDY"), ctx.study_days(column(cm, "CMENDTC"), usubjid)),
    }
    carrier.add_dataset(cm, terms.mapped_variables("CM"), special)
    carried = carrier.extensions()
    url_dtc = terms.ext_url("sdtm_dtc")
    wf = {"url": terms.ext_url("workflow_research_study"), "valueReference": ctx.study_ref()}
    status = terms.fixed("medication_statement_status")
    out = []
    for i, rec in enumerate(cm.to_dict("records")):
        u = text(rec["USUBJID"])
        res: dict[str, Any] = {"resourceType": "MedicationStatement", "id": rid[i]}
        res["extension"] = [wf, *([carried[i]] if carried[i] is not None else []), *ctx.supp.get(("CM", i), [])]
        seq = rec.get("CMSEQ")
        res["identifier"] = [{"system": terms.id_system("seq"),
                              "value": f"{ctx.studyid}/{u}/CM/{'' if pd.isna(seq) else int(seq)}"}]
        ongoing = text(rec.get("CMENRTPT")) == "ONGOING"
        res["status"] = status["R5"] if v.name == "R5" else status["R4_ongoing" if ongoing else "R4"]
        codings = []
        if atc.iloc[i]:
            codings.append({"system": terms.system("atc"), "code": atc.iloc[i], "display": text(rec.get("CMDECOD"))})
        if class_ok[i]:
            codings.append({"system": terms.system("atc"), "code": text(rec.get("CMCLASCD")),
                            "display": text(rec.get("CMCLAS"))})
        med = {**({"coding": codings} if codings else {}), "text": text(rec.get("CMTRT"))}
        if v.has("MedicationStatement.medication_concept"):
            res["medicationCodeableConcept"] = med
        else:
            res["medication"] = {"concept": med}
        res["subject"] = ctx.ref("Patient", ctx.patient_rids[u])
        period: dict[str, Any] = {}
        for name, values, keep, col in (("start", frame.start, frame.start_keep, "CMSTDTC"),
                                        ("end", frame.end, frame.end_keep, "CMENDTC")):
            if values.iloc[i] is not None:
                period[name] = values.iloc[i]
            if keep.iloc[i]:
                period["_" + name] = {"extension": [{"url": url_dtc, "valueString": text(rec.get(col))}]}
        if period:
            res["effectivePeriod"] = period
        indication = text(rec.get("CMINDC"))
        if indication:
            if v.has("MedicationStatement.reason_code"):
                res["reasonCode"] = [{"text": indication}]
            else:
                res["reason"] = [{"concept": {"text": indication}}]
        dosage = _dosage(rec)
        if dosage:
            res["dosage"] = [dosage]
        out.append(res)
    return out


def _dosage(rec: dict[str, Any]) -> dict[str, Any]:
    dosage: dict[str, Any] = {}
    freq = text(rec.get("CMDOSFRQ"))
    if freq:
        ncit = ct_coding("FREQ", freq)
        dosage["timing"] = {"code": {**({"coding": [ncit]} if ncit else {}), "text": freq}}
    if text(rec.get("CMROUTE")):
        dosage["route"] = route_concept(text(rec.get("CMROUTE")))
    dose = dose_quantity(rec.get("CMDOSE"), text(rec.get("CMDOSU")))
    if dose:
        dosage["doseAndRate"] = [{"doseQuantity": dose}]
    return dosage


# --- reading ---------------------------------------------------------------------------------------------

def _concept(name: str) -> tuple[str, ...]:
    return (f"{name}.text", f"{name}.coding.system", f"{name}.coding.code", f"{name}.coding.display")


MEDICATION_STATEMENT = Shape("MedicationStatement", [
    "id", "status", "identifier.system", "identifier.value",
    "subject.reference", "subject.identifier.system", "subject.identifier.value",
    *_concept("medicationCodeableConcept"), *_concept("medication.concept"), "reasonCode.text",
    "reason.concept.text", "dosage.doseAndRate.doseQuantity.value", "dosage.doseAndRate.doseQuantity.unit",
    *_concept("dosage.route"), *_concept("dosage.timing.code"),
    "effectivePeriod.start", *kept_text("effectivePeriod._start"), "effectivePeriod.end",
    *kept_text("effectivePeriod._end"), "effectiveDateTime", *kept_text("_effectiveDateTime"), *EXTENSION_PATHS,
])


def read_medication_statements(r: ReadContext, subjects: dict[str, str], rfstdtc: dict[str, str],
                               studyid: str) -> pd.DataFrame | None:
    """CM from the MedicationStatements; None when there are none. entered-in-error and not-taken ones are
    rejected (no medication record)."""
    items = r.by_type.get("MedicationStatement", [])
    if not items:
        return None
    tz = r.tz
    rows, over = [], []
    for loc in items:
        res = loc.resource
        subject = subject_of(res.get("subject"))
        usubjid, problem = r.subject(subject, strict_bundle(loc), subjects)
        if usubjid is None:
            r.reject(loc, "MedicationStatement", "MedicationStatement.subject", problem, shown_subject(subject),
                     code="REJ-FHIR-003")
            continue
        if res.get("status") in ("entered-in-error", "not-taken"):
            r.reject(loc, "MedicationStatement", "MedicationStatement.status", f"status {res['status']}: no "
                     "medication was taken", res["status"], code="REJ-FHIR-004")
            continue
        row: dict[str, Any] = {"STUDYID": studyid, "DOMAIN": "CM", "USUBJID": usubjid}
        for ident in res.get("identifier") or []:
            if isinstance(ident, dict) and ident.get("system") == terms.id_system("seq"):
                seq = text(ident.get("value")).rsplit("/", 1)[-1]
                row["CMSEQ"] = int(seq) if seq.lstrip("-").isdigit() else None
        med = res.get("medicationCodeableConcept") or (res.get("medication") or {}).get("concept") or {}
        codings = [c for c in med.get("coding") or [] if isinstance(c, dict)]
        row["CMTRT"] = text(med.get("text")) or next((text(c.get("display") or c.get("code")) for c in codings), "")
        if not row["CMTRT"]:
            r.reject(loc, "MedicationStatement", "MedicationStatement.medication", "no medication name (no text "
                     "or coding)", "", code="REJ-FHIR-005")
            continue
        row["CMDECOD"] = row["CMCLAS"] = row["CMCLASCD"] = ""
        for c in codings:
            atc = read_system(c.get("system"), r.tallies) == terms.system("atc")
            if atc and len(text(c.get("code"))) == _ATC_SUBSTANCE:
                row["CMDECOD"] = text(c.get("display")).upper()
            elif atc and len(text(c.get("code"))) == _ATC_CLASS:
                row["CMCLAS"], row["CMCLASCD"] = text(c.get("display")).upper(), text(c.get("code"))
        reasons = res.get("reasonCode") or [x.get("concept") for x in res.get("reason") or [] if isinstance(x, dict)]
        row["CMINDC"] = next((text(x.get("text")) for x in reasons if isinstance(x, dict) and x.get("text")), "")
        dosage = next((d for d in res.get("dosage") or [] if isinstance(d, dict)), {})
        dose = next((d.get("doseQuantity") for d in dosage.get("doseAndRate") or [] if isinstance(d, dict)), None)
        dose = dose if isinstance(dose, dict) else {}
        row["CMDOSE"] = float(dose["value"]) if isinstance(dose.get("value"), int | float) else np.nan
        row["CMDOSU"] = text(dose.get("unit"))
        row["CMDOSFRQ"] = text(((dosage.get("timing") or {}).get("code") or {}).get("text"))
        row["CMROUTE"] = text((dosage.get("route") or {}).get("text"))
        try:
            period = res.get("effectivePeriod")
            if isinstance(period, dict):
                row["CMSTDTC"], row["CMENDTC"] = prim_dtc(period, "start", tz), prim_dtc(period, "end", tz)
            else:
                row["CMSTDTC"] = prim_dtc(res, "effectiveDateTime", tz) if "effectiveDateTime" in res or \
                    "_effectiveDateTime" in res else ""
                row["CMENDTC"] = ""
        except FhirDateError as exc:
            r.reject(loc, "MedicationStatement", "MedicationStatement.effective", str(exc), exc.value,
                     code="REJ-FHIR-006")
            continue
        rows.append(row)
        over.append(read_carried(res, tz))
        count_resource(r, "CM", loc, res)  # date-times without an offset (fhir/remarks.py)
        r.converted["MedicationStatement"] += 1
    return domain_frame("CM", "CMTRT", rows, over, rfstdtc)
