"""EX <-> MedicationAdministration (the IG has no EX: mapped like its CM -> MedicationAdministration rows).

EXTRT -> medication (a contained Medication: code.text = EXTRT, form/doseForm = EXDOSFRM with its NCI code,
batch.lotNumber = EXLOT; R4 medicationReference, R5 medication.reference); EXDOSE/EXDOSU -> dosage.dose
(UCUM from units.yaml: 10^6/kg -> 10*6/kg); EXROUTE -> dosage.route (SNOMED CT from exposure.yaml when known,
NCI Thesaurus C-code from CT, text = EXROUTE); EXSTDTC/EXENDTC -> effectivePeriod (R4) / occurencePeriod (R5);
VISITNUM -> context (R4) / encounter (R5). SUPPEX records (e.g. WEIGHT) ride along as sdtm-supplemental.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from msc_interop import mappings
from msc_interop.fhir import terms
from msc_interop.fhir.common import Carrier, coding, is_blank, text
from msc_interop.fhir.context import WriteContext, column, record_frame


def route_concept(route: str) -> dict[str, Any]:
    codings = []
    for r in mappings.exposure().get("routes", []):
        if r.get("cdisc") == route and r.get("snomed") and r.get("snomed_verified", True):
            codings.append(coding("snomed", str(r["snomed"]), r.get("snomed_display") or None))
    nci = terms.ct_nci("ROUTE", route)
    if nci:
        term = mappings.codelist("ROUTE").term(route)
        codings.append(coding("ncit", nci, (term.preferred_term if term else "") or None))
    out: dict[str, Any] = {}
    if codings:
        out["coding"] = codings
    out["text"] = route
    return out


def form_concept(form: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    nci = terms.ct_nci("FRM", form)
    if nci:
        term = mappings.codelist("FRM").term(form)
        out["coding"] = [coding("ncit", nci, (term.preferred_term if term else "") or None)]
    out["text"] = form
    return out


def dose_quantity(dose: Any, unit: str) -> dict[str, Any] | None:
    q: dict[str, Any] = {}
    if dose is not None and not (isinstance(dose, float) and dose != dose):
        q["value"] = float(dose) if not float(dose).is_integer() else int(dose)
    if unit:
        q["unit"] = unit
        u = mappings.units().get(unit)
        if u is None:
            for d in mappings.exposure().get("dose_units", []):
                if d.get("cdisc") == unit:
                    q["system"], q["code"] = terms.system("ucum"), d["ucum"]
        else:
            q["system"], q["code"] = terms.system("ucum"), u.ucum
    return q or None


def build_medication_administrations(ctx: WriteContext) -> list[dict[str, Any]]:
    frame = record_frame(ctx, "EX")
    if frame is None:
        return []
    v = ctx.version
    ex, n, usubjid, rid, enc = frame.df, frame.n, frame.usubjid, frame.ids, frame.encounters
    start, start_keep, end, end_keep = frame.start, frame.start_keep, frame.end, frame.end_keep

    carrier = Carrier(n, ctx.tz)
    mapped = terms.mapped_variables("EX")
    special: dict[str, np.ndarray] = {
        "STUDYID": column(ex, "STUDYID").astype(object).map(text).to_numpy() != ctx.studyid,
        "DOMAIN": column(ex, "DOMAIN").astype(object).map(text).to_numpy() != "EX",
        "USUBJID": is_blank(usubjid),
        "VISIT": column(ex, "VISIT").astype(object).map(text).to_numpy() != enc["VISIT"].map(text).to_numpy(),
        "EPOCH": column(ex, "EPOCH").astype(object).map(text).to_numpy() != enc["EPOCH"].map(text).to_numpy(),
        "EXSTDY": _differs(column(ex, "EXSTDY"), ctx.study_days(column(ex, "EXSTDTC"), usubjid)),
        "EXENDY": _differs(column(ex, "EXENDY"), ctx.study_days(column(ex, "EXENDTC"), usubjid)),
    }
    carrier.add_dataset(ex, mapped, special)
    carried = carrier.extensions()

    url_dtc = terms.ext_url("sdtm_dtc")
    wf = {"url": terms.ext_url("workflow_research_study"), "valueReference": ctx.study_ref()}
    status = terms.fixed("medication_administration_status")
    out = []
    for i, rec in enumerate(ex.to_dict("records")):
        u = text(rec["USUBJID"])
        med: dict[str, Any] = {"resourceType": "Medication", "id": "med"}
        if text(rec.get("EXTRT")):
            med["code"] = {"text": text(rec.get("EXTRT"))}
        if text(rec.get("EXDOSFRM")):
            med[v.el("Medication.form")] = form_concept(text(rec.get("EXDOSFRM")))
        if text(rec.get("EXLOT")):
            med["batch"] = {"lotNumber": text(rec.get("EXLOT"))}
        res: dict[str, Any] = {"resourceType": "MedicationAdministration", "id": rid[i], "contained": [med]}
        exts = [wf]
        if carried[i] is not None:
            exts.append(carried[i])
        exts += ctx.supp.get(("EX", i), [])
        res["extension"] = exts
        seq = rec.get("EXSEQ")
        res["identifier"] = [{"system": terms.id_system("seq"),
                              "value": f"{ctx.studyid}/{u}/EX/{'' if pd.isna(seq) else int(seq)}"}]
        res["status"] = status
        if v.has("MedicationAdministration.medication_reference"):
            res["medicationReference"] = {"reference": "#med"}
        else:
            res["medication"] = {"reference": {"reference": "#med"}}
        res["subject"] = ctx.ref("Patient", ctx.patient_rids[u])
        if isinstance(enc["id"].iloc[i], str):
            res[v.el("MedicationAdministration.encounter")] = ctx.ref("Encounter", enc["id"].iloc[i])
        period: dict[str, Any] = {}
        for name, values, keep, col in (("start", start, start_keep, "EXSTDTC"), ("end", end, end_keep, "EXENDTC")):
            if values.iloc[i] is not None:
                period[name] = values.iloc[i]
            if keep.iloc[i]:
                period["_" + name] = {"extension": [{"url": url_dtc, "valueString": text(rec.get(col))}]}
        if not period:  # effective[x] is 1..1: say that the time is unknown
            period = {"extension": [{"url": terms.ext_url("data_absent_reason"), "valueCode": "unknown"}]}
        res[v.choice("MedicationAdministration.effective", "Period")] = period
        dosage: dict[str, Any] = {}
        if text(rec.get("EXROUTE")):
            dosage["route"] = route_concept(text(rec.get("EXROUTE")))
        dose = dose_quantity(rec.get("EXDOSE"), text(rec.get("EXDOSU")))
        if dose:
            dosage["dose"] = dose
        if dosage:
            res["dosage"] = dosage
        out.append(res)
    return out


def _differs(a: pd.Series, b: pd.Series) -> np.ndarray:
    x = pd.to_numeric(a, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    y = pd.to_numeric(b, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return ~((np.isnan(x) & np.isnan(y)) | (x == y))
