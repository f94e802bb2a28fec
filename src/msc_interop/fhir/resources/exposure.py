"""EX <-> MedicationAdministration (the IG has no EX: mapped like its CM -> MedicationAdministration rows):
build_medication_administrations and read_medication_administrations (with the Medication).

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
from msc_interop.fhir.common import Carrier, coding, concept, ct_coding, is_blank, read_carried, text
from msc_interop.fhir.context import WriteContext, column, record_frame
from msc_interop.fhir.datetimes import FhirDateError
from msc_interop.fhir.read_common import (
    ReadContext,
    cdisc_unit,
    domain_frame,
    prim_dtc,
    shown,
    shown_subject,
    strict_bundle,
    subject_of,
)
from msc_interop.fhir.remarks import count_resource
from msc_interop.fhir.shapes import EXTENSION_PATHS, Shape, kept_text
from msc_interop.fhir.systems import QUANTITIES, read_system


def route_concept(route: str) -> dict[str, Any]:
    """dosage.route for EXROUTE: SNOMED CT (verified in exposure.yaml) and NCI Thesaurus codings, text."""
    codings = []
    for r in mappings.exposure().get("routes", []):
        if r.get("cdisc") == route and r.get("snomed") and r.get("snomed_verified", True):
            codings.append(coding("snomed", str(r["snomed"]), r.get("snomed_display") or None))
    ncit = ct_coding("ROUTE", route)
    if ncit:
        codings.append(ncit)
    return concept(codings, route)


def form_concept(form: str) -> dict[str, Any]:
    """Medication form/doseForm for EXDOSFRM: the NCI Thesaurus coding of the FRM term, text."""
    ncit = ct_coding("FRM", form)
    return concept([ncit] if ncit else [], form)


def dose_quantity(dose: Any, unit: str) -> dict[str, Any] | None:
    """dosage.dose for EXDOSE/EXDOSU, with the UCUM code of the unit when known; None when both are empty."""
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
    """One MedicationAdministration per EX record, with its Medication contained."""
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


# --- reading ---------------------------------------------------------------------------------------------

def _concept(name: str) -> tuple[str, ...]:
    return (f"{name}.text", f"{name}.coding.system", f"{name}.coding.code", f"{name}.coding.display")


def _period(name: str) -> tuple[str, ...]:
    return (f"{name}.start", *kept_text(f"{name}._start"), f"{name}.end", *kept_text(f"{name}._end"))


def _medication_paths(prefix: str) -> tuple[str, ...]:
    return (*_concept(f"{prefix}code"), *_concept(f"{prefix}form"), *_concept(f"{prefix}doseForm"),
            f"{prefix}batch.lotNumber")


# The elements read, with their FHIR JSON shape (fhir/shapes.py), R4 and R5 alike
MEDICATION_ADMINISTRATION = Shape("MedicationAdministration", [
    "id", "status", "identifier.system", "identifier.value",
    "subject.reference", "subject.identifier.system", "subject.identifier.value",
    *_concept("medicationCodeableConcept"), "medicationReference.reference", *_concept("medication.concept"),
    "medication.reference.reference", "contained(Medication).id", *_medication_paths("contained(Medication)."),
    "dosage.dose.value", "dosage.dose.unit", "dosage.dose.system", "dosage.dose.code", *_concept("dosage.route"),
    *_period("effectivePeriod"), *_period("occurencePeriod"), "effectiveDateTime", *kept_text("_effectiveDateTime"),
    "occurenceDateTime", *kept_text("_occurenceDateTime"), "context.reference", "encounter.reference",
    *EXTENSION_PATHS,
], kept={"context": "a visit", "encounter": "a visit"})
MEDICATION = Shape("Medication", ["id", *_medication_paths("")])


def read_medication_administrations(r: ReadContext, subjects: dict[str, str],
                                    encounters: dict[str, dict[str, Any]], rfstdtc: dict[str, str],
                                    studyid: str) -> pd.DataFrame | None:
    """EX from the MedicationAdministrations; None when there are none. not-done and entered-in-error ones are
    rejected (no exposure took place). The elements' shapes were checked when the files were read."""
    items = r.by_type.get("MedicationAdministration", [])
    if not items:
        return None
    tz = r.tz
    rows, over = [], []
    codes = r.routes_forms()
    for loc in items:
        res = loc.resource
        strict = strict_bundle(loc)
        subject = subject_of(res.get("subject"))
        usubjid, problem = r.subject(subject, strict, subjects)
        if usubjid is None:
            r.reject(loc, "MedicationAdministration", "MedicationAdministration.subject", problem,
                     shown_subject(subject), code="REJ-FHIR-003")
            continue
        not_given = dose_not_given(res)
        if not_given is not None:
            element, why, value, rejected = not_given
            if rejected:
                r.reject(loc, "MedicationAdministration", element, why, value, code="REJ-FHIR-004")
            else:
                r.skip("MedicationAdministration", why)
            continue
        own = False
        row: dict[str, Any] = {"STUDYID": studyid, "DOMAIN": "EX", "USUBJID": usubjid}
        idents = res.get("identifier")
        for ident in idents if isinstance(idents, list) else []:
            if isinstance(ident, dict) and ident.get("system") == terms.id_system("seq"):
                seq = text(ident.get("value")).rsplit("/", 1)[-1]
                row["EXSEQ"] = int(seq) if seq.lstrip("-").isdigit() else None
                own = True
        med = _medication(r, res)
        if med is None:
            r.reject(loc, "MedicationAdministration", "MedicationAdministration.medication",
                     "no medication: neither a code nor a Medication that resolves", "", code="REJ-FHIR-005")
            continue
        row["EXTRT"] = treatment_name(r, med)
        form = med.get("form") or med.get("doseForm") or {}
        row["EXDOSFRM"] = text(form.get("text")) if own else codes.form(form, r.tallies)
        row["EXLOT"] = text((med.get("batch") or {}).get("lotNumber"))
        dosage = res.get("dosage") or {}
        dose = dosage.get("dose") or {}
        row["EXDOSE"] = float(dose["value"]) if isinstance(dose.get("value"), int | float) else np.nan
        if own:
            row["EXDOSU"] = text(dose.get("unit"))
        else:
            system = read_system(dose.get("system"), r.tallies, QUANTITIES)
            row["EXDOSU"] = codes.unit(dose, cdisc_unit(system, dose.get("code"), dose.get("unit")))
        rate = next((k for k in dosage if k.startswith("rate")), None)
        if rate:  # rateQuantity / rateRatio / rateRange: how fast, not how much
            r.note_field(loc, "MedicationAdministration", f"MedicationAdministration.dosage.{rate}",
                         "converted without the rate: EXDOSE is the dose given, not a rate", shown(dosage[rate]),
                         code="REJ-FHIR-006")
        route = dosage.get("route") or {}
        row["EXROUTE"] = text(route.get("text")) if own else codes.route(route, r.tallies)
        period = res.get("effectivePeriod") or res.get("occurencePeriod")
        point_key = next((k for k in ("effectiveDateTime", "occurenceDateTime", "_effectiveDateTime",
                                      "_occurenceDateTime") if k in res), None)
        element = ""
        try:  # an impossible date rejects the record, naming the element
            if isinstance(period, dict):
                element = ("effectivePeriod" if "effectivePeriod" in res else "occurencePeriod") + ".start"
                row["EXSTDTC"] = prim_dtc(period, "start", tz)
                element = element.replace(".start", ".end")
                row["EXENDTC"] = prim_dtc(period, "end", tz)
            elif point_key:
                element = point_key.lstrip("_")
                row["EXSTDTC"] = row["EXENDTC"] = prim_dtc(res, element, tz)
            else:
                row["EXSTDTC"] = row["EXENDTC"] = ""
        except FhirDateError as exc:
            r.reject(loc, "MedicationAdministration", f"MedicationAdministration.{element}", str(exc), exc.value,
                     code="REJ-FHIR-006")
            continue
        name = "context" if "context" in res else "encounter"
        enc = r.visit(loc, "MedicationAdministration", f"MedicationAdministration.{name}",
                      (res.get(name) or {}).get("reference"), encounters)
        row["VISITNUM"], row["VISIT"], row["EPOCH"] = enc.get("VISITNUM"), enc.get("VISIT", ""), enc.get("EPOCH", "")
        rows.append(row)
        over.append(read_carried(res, tz))
        count_resource(r, "EX", loc, res)  # date-times without an offset (fhir/remarks.py)
        r.converted["MedicationAdministration"] += 1
    return domain_frame("EX", "EXTRT", rows, over, rfstdtc)


# Not given: a MedicationAdministration that says no dose was given never becomes an EX record. SDTMIG 3.2 section
# 6.1 (EX/EC, examples 1 and 7): a dose not taken is not an EX record (EX shows a gap); it is EC with ECOCCUR = N
# and the reason in SUPPEC. msc-interop writes no EC, so such an administration is SKIPPED and counted per status
# and reason (the "skipped" section; it is a correct record of no exposure, not a defect). A record that is not a
# usable record at all (entered-in-error) or that cannot say whether the dose was given (unknown) is REJECTED
# (REJ-FHIR-004): the user must look at it.
_EC = "no EX record (SDTMIG 3.2 section 6.1: a dose not given belongs in EC with ECOCCUR N, which is not written)"
_REJECTED = {
    "entered-in-error": "status entered-in-error: no exposure took place",
    "unknown": "status unknown: whether the dose was given is not known, so it is not written as a dose given",
}
_NOT_GIVEN = {"not-done": "the dose was not given", "on-hold": "the administration is on hold (no dose given)"}


def dose_not_given(res: dict[str, Any]) -> tuple[str, str, Any, bool] | None:
    """(element, reason, value, rejected) when a MedicationAdministration says that no dose was given (see above:
    skipped, or rejected when `rejected`); None for a dose given."""
    status = res.get("status")
    if status in _REJECTED:
        return "MedicationAdministration.status", _REJECTED[status], status, True
    reasons = res.get("statusReason")
    said = any(isinstance(cc, dict) and (cc.get("text") or cc.get("coding")) for cc in
               (reasons if isinstance(reasons, list) else []))
    dose = (res.get("dosage") or {}).get("dose") if isinstance(res.get("dosage"), dict) else None
    value = dose.get("value") if isinstance(dose, dict) else None
    if status in _NOT_GIVEN:
        return "MedicationAdministration.status", f"status {status}: {_NOT_GIVEN[status]}; {_EC}", status, False
    if res.get("notGiven") is True:  # the STU3 form
        return "MedicationAdministration.notGiven", f"notGiven true: the dose was not given; {_EC}", "true", False
    if status == "stopped" and not (isinstance(value, int | float) and value > 0):
        return ("MedicationAdministration.status", f"status stopped with no dose given (no dosage.dose above 0); "
                f"{_EC}", status, False)
    if said and status != "completed":
        return ("MedicationAdministration.statusReason", f"a statusReason with status {status}: the dose was not "
                f"given; {_EC}", status, False)
    return None


def treatment_name(r: ReadContext, med: dict[str, Any]) -> str:
    """EXTRT: the medication's code text or first display/code; for a Medication with no code, its ingredients'
    names joined with " / " (R4 ingredient.itemCodeableConcept / itemReference, R5 ingredient.item)."""
    code = med.get("code") or {}
    name = text(code.get("text")) or next((text(c.get("display") or c.get("code"))
                                          for c in code.get("coding") or []), "")
    if name:
        return name
    names = []
    ingredients = med.get("ingredient")
    for ing in ingredients if isinstance(ingredients, list) else []:
        if not isinstance(ing, dict):
            continue
        item = ing.get("itemCodeableConcept") or ing.get("item") or {}
        ref = ing.get("itemReference") or (item.get("reference") if isinstance(item, dict) else None)
        concept_ = item.get("concept") if isinstance(item, dict) and "concept" in item else item
        found = ""
        if isinstance(concept_, dict):
            codings = [c for c in concept_.get("coding") or [] if isinstance(c, dict)]
            found = text(concept_.get("text")) or next((text(c.get("display") or c.get("code")) for c in codings), "")
        if not found and isinstance(ref, dict):
            found = text(ref.get("display"))
            key = r.resolve(ref.get("reference"))
            if not found and key and key in r.index:
                found = treatment_name(r, r.index[key].resource) if key.startswith("Medication/") else \
                    text(r.index[key].resource.get("name"))
        if found:
            names.append(found)
    return " / ".join(dict.fromkeys(names))


def _medication(r: ReadContext, res: dict[str, Any]) -> dict[str, Any] | None:
    """The medication of an administration: its code (R4 CodeableConcept, R5 concept), else the Medication
    referenced (contained or in the input)."""
    if isinstance(res.get("medicationCodeableConcept"), dict):
        return {"code": res["medicationCodeableConcept"]}
    ref = (res.get("medicationReference") or {}).get("reference")
    med = res.get("medication")
    if isinstance(med, dict):
        if isinstance(med.get("concept"), dict):
            return {"code": med["concept"]}
        inner = med.get("reference")
        ref = inner.get("reference") if isinstance(inner, dict) else None
    if not ref or not isinstance(ref, str):
        return None
    if ref.startswith("#"):
        for c in res.get("contained") or []:
            if isinstance(c, dict) and c.get("id") == ref[1:] and c.get("resourceType") == "Medication":
                return c
        return None
    key = r.resolve(ref)
    if key and key.startswith("Medication/"):
        return r.index[key].resource
    return None
