"""PR <-> Procedure and RE <-> Observation (imaging), R4 and R5: the chest X-ray and its reading.

IG PR rows followed: PRTRT -> Procedure.code.text, PRDECOD -> Procedure.code (coding: the NCI Thesaurus C-code
of the CDISC PROCEDUR term, and the procedure's SNOMED CT code from mappings/procedures.yaml), PRLOC ->
bodySite (text, with its SNOMED CT body structure), PRSTDTC -> performedDateTime (R4) / occurrenceDateTime (R5);
status completed (PROCCUR not collected: every record is a procedure done). The reading is an Observation of
category imaging (as US Core's chest X-ray findings example) whose partOf is the Procedure (the FHIR form of
PRLNKID = RELNKID): code = NCI Thesaurus C41255 (RETESTCD INTP) + LOINC 18782-3, text RETEST; RESTRESC ->
valueCodeableConcept.coding (NORMABNM C-code), REORRES -> its text, interpretation N / A; RELOC -> bodySite,
REMETHOD -> method, REDTC -> effectiveDateTime. Variables with no element (links, visits, study days, the
last-before-exposure flag) are carried in sdtm-variables. docs/fhir-mapping.md "PR, RE and MH".
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from msc_interop.fhir import terms
from msc_interop.fhir.common import Carrier, ct_coding, read_carried, text
from msc_interop.fhir.context import WriteContext, column, encounter_lookup, record_frame
from msc_interop.fhir.datetimes import FhirDateError, dtc_to_fhir
from msc_interop.fhir.read_common import (
    ReadContext,
    apply_overrides,
    prim_dtc,
    seq_where_missing,
    shown,
    shown_subject,
    strict_bundle,
    study_days,
    subject_of,
)
from msc_interop.fhir.remarks import count_resource, rejected_status
from msc_interop.fhir.shapes import EXTENSION_PATHS, Shape, kept_text
from msc_interop.fhir.systems import read_system
from msc_interop.sdtm.pr import procedure_by_prtrt, procedures

IMAGING = "Observation.imaging"  # the reader's bucket for imaging Observations (fhir/read.py)


def _common(ctx: WriteContext, res: dict[str, Any], domain: str, rec: dict[str, Any], carried: Any, i: int
            ) -> None:
    u = text(rec["USUBJID"])
    exts = [{"url": terms.ext_url("workflow_research_study"), "valueReference": ctx.study_ref()}]
    if carried is not None:
        exts.append(carried)
    exts += ctx.supp.get((domain, i), [])
    res["extension"] = exts
    seq = rec.get(f"{domain}SEQ")
    res["identifier"] = [{"system": terms.id_system("seq"),
                          "value": f"{ctx.studyid}/{u}/{domain}/{'' if pd.isna(seq) else int(seq)}"}]


def _carried(ctx: WriteContext, df: pd.DataFrame, domain: str, special: dict[str, np.ndarray]) -> np.ndarray:
    n = len(df)
    special = {"DOMAIN": (column(df, "DOMAIN").map(text) != domain).to_numpy(),
               "STUDYID": (column(df, "STUDYID").map(text) != ctx.studyid).to_numpy(), **special}
    carrier = Carrier(n, ctx.tz)
    carrier.add_dataset(df, terms.mapped_variables(domain), special)
    return carrier.extensions()


def _site(entry: dict[str, Any] | None, loc: str) -> list[dict[str, Any]]:
    if not loc:
        return []
    codings = [{"system": terms.system("snomed"), "code": entry["body_site_snomed"],
                "display": entry["body_site_display"]}] if entry and entry["loc"] == loc else []
    return [{"coding": codings, "text": loc} if codings else {"text": loc}]


def build_procedures(ctx: WriteContext) -> list[dict[str, Any]]:
    """One Procedure per PR record."""
    frame = record_frame(ctx, "PR", visits_optional=True)
    if frame is None:
        return []
    pr, rid, enc = frame.df, frame.ids, frame.encounters
    decod = column(pr, "PRDECOD").map(text)
    no_code = ((decod != "") & decod.map(lambda d: ct_coding("PROCEDUR", d) is None)).to_numpy()
    carried = _carried(ctx, pr, "PR", {"PRDECOD": no_code})
    by_trt = procedure_by_prtrt()
    performed = ctx.version.el("Procedure.performed")
    url_dtc = terms.ext_url("sdtm_dtc")
    out = []
    for i, rec in enumerate(pr.to_dict("records")):
        res: dict[str, Any] = {"resourceType": "Procedure", "id": rid[i]}
        _common(ctx, res, "PR", rec, carried[i], i)
        res["status"] = terms.fixed("procedure_status")
        entry = by_trt.get(text(rec.get("PRTRT")))
        codings = []
        c = ct_coding("PROCEDUR", text(rec.get("PRDECOD")))
        if c:
            codings.append(c)
        if entry and entry["prdecod"] == text(rec.get("PRDECOD")):
            codings.append({"system": terms.system("snomed"), "code": entry["snomed"],
                            "display": entry["snomed_display"]})
        res["code"] = {"coding": codings, "text": text(rec.get("PRTRT"))} if codings else \
            {"text": text(rec.get("PRTRT"))}
        res["subject"] = ctx.ref("Patient", ctx.patient_rids[text(rec["USUBJID"])])
        if enc is not None and isinstance(enc["id"].iloc[i], str):
            res["encounter"] = ctx.ref("Encounter", enc["id"].iloc[i])
        if frame.start.iloc[i] is not None:
            res[performed + "DateTime"] = frame.start.iloc[i]
        if frame.start_keep.iloc[i]:
            kept = {"url": url_dtc, "valueString": text(rec.get("PRSTDTC"))}
            res["_" + performed + "DateTime"] = {"extension": [kept]}
        site = _site(entry, text(rec.get("PRLOC")))
        if site:
            res["bodySite"] = site
        out.append(res)
    return out


def build_imaging_observations(ctx: WriteContext) -> list[dict[str, Any]]:
    """One Observation (category imaging) per RE record, partOf the Procedure with the same link id."""
    df = ctx.study.datasets.get("RE")
    if df is None or df.empty:
        return []
    df = df.reset_index(drop=True)
    rid = ctx.record_ids("RE")
    enc = encounter_lookup(ctx, df) if "VISITNUM" in df.columns else None
    when, keep = dtc_to_fhir(column(df, "REDTC").astype(object), ctx.tz)
    stresc = column(df, "RESTRESC").map(text)
    testcd = column(df, "RETESTCD").map(text)
    finding = {p["finding"]["testcd"]: p for p in procedures().values()}
    special = {"RESTRESC": ((stresc != "") & stresc.map(lambda v: ct_coding("NORMABNM", v) is None)).to_numpy(),
               "RETESTCD": (~testcd.isin(finding) | testcd.map(lambda t: ct_coding("RETESTCD", t) is None)).to_numpy()}
    carried = _carried(ctx, df, "RE", special)
    proc = _procedure_ids(ctx)
    interp = terms.code_map("nrind_to_interpretation")
    url_dtc = terms.ext_url("sdtm_dtc")
    out = []
    for i, rec in enumerate(df.to_dict("records")):
        u = text(rec["USUBJID"])
        res: dict[str, Any] = {"resourceType": "Observation", "id": rid[i]}
        _common(ctx, res, "RE", rec, carried[i], i)
        link = proc.get((u, text(rec.get("RELNKID"))))
        if link:
            res["partOf"] = [ctx.ref("Procedure", link)]
        res["status"] = terms.fixed("observation_status")
        cat = terms.fixed("imaging_category")
        res["category"] = [{"coding": [{"system": terms.system(cat["system"]), "code": cat["code"],
                                        "display": cat["display"]}]}]
        p = finding.get(text(rec.get("RETESTCD")))
        codings = [c for c in (ct_coding("RETESTCD", text(rec.get("RETESTCD"))),) if c]
        if p:
            codings.append({"system": terms.system("loinc"), "code": p["finding"]["loinc"],
                            "display": p["finding"]["loinc_display"]})
        res["code"] = {"coding": codings, "text": text(rec.get("RETEST"))} if codings else \
            {"text": text(rec.get("RETEST"))}
        res["subject"] = ctx.ref("Patient", ctx.patient_rids[u])
        if enc is not None and isinstance(enc["id"].iloc[i], str):
            res["encounter"] = ctx.ref("Encounter", enc["id"].iloc[i])
        if when.iloc[i] is not None:
            res["effectiveDateTime"] = when.iloc[i]
        if keep.iloc[i]:
            res["_effectiveDateTime"] = {"extension": [{"url": url_dtc, "valueString": text(rec.get("REDTC"))}]}
        value_coding = ct_coding("NORMABNM", text(rec.get("RESTRESC")))
        orres = text(rec.get("REORRES"))
        if value_coding or orres:
            res["valueCodeableConcept"] = {"coding": [value_coding], "text": orres} if value_coding and orres else \
                {"coding": [value_coding]} if value_coding else {"text": orres}
        flag = interp.code(text(rec.get("RESTRESC")))
        if flag:
            res["interpretation"] = [{"coding": [{"system": terms.system("interpretation"), "code": flag[0],
                                                  "display": flag[1]}]}]
        site = _site(p, text(rec.get("RELOC")))
        if site:
            res["bodySite"] = site[0]
        if text(rec.get("REMETHOD")):
            res["method"] = {"text": text(rec.get("REMETHOD"))}
        out.append(res)
    return out


def _procedure_ids(ctx: WriteContext) -> dict[tuple[str, str], str]:
    """(USUBJID, PRLNKID) -> the Procedure's resource id."""
    pr = ctx.study.datasets.get("PR")
    if pr is None or pr.empty or "PRLNKID" not in pr.columns:
        return {}
    rid = ctx.record_ids("PR")
    keys = zip(pr["USUBJID"].map(text), pr["PRLNKID"].map(text), strict=True)
    return {k: r for k, r in zip(keys, rid.tolist(), strict=True) if k[1]}


# --- reading ---------------------------------------------------------------------------------------------

def _concept(name: str) -> list[str]:
    return [f"{name}.text", f"{name}.coding.system", f"{name}.coding.code", f"{name}.coding.display"]


_COMMON = ["id", "identifier.system", "identifier.value", "status", "subject.reference",
           "subject.identifier.system", "subject.identifier.value", *_concept("code"), "encounter.reference",
           *EXTENSION_PATHS]
PROCEDURE = Shape("Procedure", [*_COMMON, *_concept("bodySite"), "performedDateTime",
                                *kept_text("_performedDateTime"), "performedPeriod.start", "performedPeriod.end",
                                "occurrenceDateTime", *kept_text("_occurrenceDateTime"), "occurrencePeriod.start",
                                "occurrencePeriod.end"])
IMAGING_OBSERVATION = Shape("Observation", [*_COMMON, *_concept("category"), *_concept("valueCodeableConcept"),
                                            *_concept("bodySite"), "method.text", "effectiveDateTime",
                                            *kept_text("_effectiveDateTime"), "partOf.reference",
                                            "interpretation.coding.code"])


def is_imaging(res: dict[str, Any]) -> bool:
    """An Observation this module reads: category imaging and a code of a procedures.yaml finding (the
    LOINC of the reading, or the NCI Thesaurus code of its test)."""
    cats = res.get("category")
    if not isinstance(cats, list) or not any(
            isinstance(c, dict) and isinstance(c.get("coding"), list) and any(
                isinstance(x, dict) and x.get("code") == "imaging" for x in c["coding"]) for c in cats):
        return False
    code = res.get("code")
    codes = {x.get("code") for x in code.get("coding") or () if isinstance(x, dict)} \
        if isinstance(code, dict) and isinstance(code.get("coding"), list) else set()
    known = {p["finding"]["loinc"] for p in procedures().values()}
    return bool(codes & known)


def _seq(res: dict[str, Any]) -> int | None:
    for ident in res.get("identifier") or ():
        if isinstance(ident, dict) and ident.get("system") == terms.id_system("seq"):
            seq = text(ident.get("value")).rsplit("/", 1)[-1]
            return int(seq) if seq.lstrip("-").isdigit() else None
    return None


def _dates(r: ReadContext, res: dict[str, Any]) -> tuple[str, str, str | None]:
    """(PRSTDTC, PRENDTC, the performed[x] / occurrence[x] element that gives no date, if any): a dateTime is the
    start; a Period its start and end."""
    for name in ("performedDateTime", "occurrenceDateTime"):
        if name in res or "_" + name in res:
            return prim_dtc(res, name, r.tz), "", None
    for name in ("performedPeriod", "occurrencePeriod"):
        if isinstance(res.get(name), dict):
            return prim_dtc(res[name], "start", r.tz), prim_dtc(res[name], "end", r.tz), None
    other = next((k for k in res if k.startswith(("performed", "occurrence"))), None)
    return "", "", other


def read_procedures(r: ReadContext, subjects: dict[str, str], rfstdtc: dict[str, str], studyid: str
                    ) -> pd.DataFrame | None:
    """PR from the Procedures; not-done ones are skipped, entered-in-error rejected."""
    items = r.by_type.get("Procedure", [])
    rows, over = [], []
    snomed = {p["snomed"]: p for p in procedures().values()}
    nci = terms.ct_by_nci("PROCEDUR")
    for loc in items:
        res = loc.resource
        if res.get("status") == "entered-in-error":
            r.reject(loc, "Procedure", "Procedure.status", "entered-in-error", "entered-in-error", code="REJ-FHIR-004")
            continue
        if res.get("status") == "not-done":
            r.skip("Procedure", "status not-done: the procedure was not performed (no PR record)")
            continue
        subject = subject_of(res.get("subject"))
        usubjid, problem = r.subject(subject, strict_bundle(loc), subjects)
        if usubjid is None:
            r.reject(loc, "Procedure", "Procedure.subject", problem, shown_subject(subject), code="REJ-FHIR-003")
            continue
        code = res.get("code") if isinstance(res.get("code"), dict) else {}
        codings = [c for c in code.get("coding") or () if isinstance(c, dict)]
        row: dict[str, Any] = {"STUDYID": studyid, "DOMAIN": "PR", "USUBJID": usubjid, "PRSEQ": _seq(res)}
        row["PRTRT"] = text(code.get("text")) or next((text(c.get("display")) for c in codings if c.get("display")), "")
        if not row["PRTRT"]:
            r.reject(loc, "Procedure", "Procedure.code", "no procedure name (code has no text or coding display)",
                     "", code="REJ-FHIR-005")
            continue
        systems = [read_system(c.get("system"), r.tallies) for c in codings]
        known = next((snomed[text(c.get("code"))] for c, s in zip(codings, systems, strict=True)
                      if s == terms.system("snomed") and text(c.get("code")) in snomed), None)
        row["PRDECOD"] = next((nci[text(c.get("code"))] for c, s in zip(codings, systems, strict=True)
                               if s == terms.system("ncit") and text(c.get("code")) in nci),
                              known["prdecod"] if known else "")
        sites = [s for s in res.get("bodySite") or () if isinstance(s, dict)]
        row["PRLOC"] = text(sites[0].get("text")) if sites else ""
        if not row["PRLOC"] and known:
            row["PRLOC"] = known["loc"]
        try:
            row["PRSTDTC"], end, other = _dates(r, res)
        except FhirDateError as exc:
            r.reject(loc, "Procedure", "Procedure.performed[x] / occurrence[x]", str(exc), exc.value,
                     code="REJ-FHIR-006")
            continue
        if end:
            row["PRENDTC"] = end
        if other:  # performedString / Age / Range (R5 occurrenceAge, Range, Timing): no ISO 8601 date
            r.note_field(loc, "Procedure", f"Procedure.{other}", f"converted without PRSTDTC: {other} is not a "
                         "date", shown(res[other]), code="REJ-FHIR-006")
        rows.append(row)
        over.append(read_carried(res, r.tz))
        count_resource(r, "PR", loc, res)  # date-times without an offset (fhir/remarks.py)
        r.converted["Procedure"] += 1
    df = _frame("PR", rows, over, rfstdtc, "PRSTDTC", "PRSTDY")
    return study_days(df, "PRENDTC", "PRENDY", over, rfstdtc) if df is not None and "PRENDTC" in df else df


def _frame(domain: str, rows: list[dict[str, Any]], over: list[dict[str, Any]], rfstdtc: dict[str, str],
           dtc_var: str, dy_var: str) -> pd.DataFrame | None:
    """The domain's frame: carried variables applied, the study day derived where not carried, --SEQ."""
    if not rows:
        return None
    df = study_days(apply_overrides(pd.DataFrame(rows), over), dtc_var, dy_var, over, rfstdtc)
    return seq_where_missing(df, domain)


def read_imaging(r: ReadContext, subjects: dict[str, str], rfstdtc: dict[str, str], studyid: str
                 ) -> pd.DataFrame | None:
    """RE from the imaging Observations (fhir/read.py put them in the IMAGING bucket)."""
    items = r.by_type.get(IMAGING, [])
    rows, over = [], []
    by_loinc = {p["finding"]["loinc"]: p for p in procedures().values()}
    nci_test = terms.ct_by_nci("RETESTCD")
    nci_result = terms.ct_by_nci("NORMABNM")
    interp = terms.code_map("nrind_to_interpretation")
    for loc in items:
        res = loc.resource
        if rejected_status(res.get("status")):  # entered-in-error, cancelled: not a result
            r.reject(loc, "Observation", "Observation.status", str(res["status"]), str(res["status"]),
                     code="REJ-FHIR-004")
            continue
        subject = subject_of(res.get("subject"))
        usubjid, problem = r.subject(subject, strict_bundle(loc), subjects)
        if usubjid is None:
            r.reject(loc, "Observation", "Observation.subject", problem, shown_subject(subject), code="REJ-FHIR-003")
            continue
        code = res.get("code") if isinstance(res.get("code"), dict) else {}
        codings = [c for c in code.get("coding") or () if isinstance(c, dict)]
        p = next((by_loinc[text(c.get("code"))] for c in codings if text(c.get("code")) in by_loinc), None)
        row: dict[str, Any] = {"STUDYID": studyid, "DOMAIN": "RE", "USUBJID": usubjid, "RESEQ": _seq(res)}
        ncit = terms.system("ncit")
        row["RETESTCD"] = next((nci_test[text(c.get("code"))] for c in codings
                                if read_system(c.get("system"), r.tallies) == ncit and text(c.get("code")) in nci_test),
                               p["finding"]["testcd"] if p else "")
        row["RETEST"] = text(code.get("text")) or (p["finding"]["test"] if p else "")
        value = res.get("valueCodeableConcept") if isinstance(res.get("valueCodeableConcept"), dict) else {}
        row["RESTRESC"] = next((nci_result[text(c.get("code"))] for c in value.get("coding") or ()
                                if isinstance(c, dict) and text(c.get("code")) in nci_result), "")
        if not row["RESTRESC"]:
            flags = [text(c.get("code")) for i in res.get("interpretation") or () if isinstance(i, dict)
                     for c in i.get("coding") or () if isinstance(c, dict)]
            row["RESTRESC"] = next((interp.cdisc(f) for f in flags if interp.cdisc(f) in ("NORMAL", "ABNORMAL")), "")
        row["REORRES"] = text(value.get("text")) or row["RESTRESC"]
        if not row["RESTRESC"] and not row["REORRES"]:
            r.reject(loc, "Observation", "Observation.value[x]", "an imaging reading without a result (no "
                     "valueCodeableConcept or interpretation)", "", code="REJ-FHIR-005")
            continue
        site = res.get("bodySite") if isinstance(res.get("bodySite"), dict) else {}
        row["RELOC"] = text(site.get("text")) or (p["loc"] if p else "")
        method = res.get("method") if isinstance(res.get("method"), dict) else {}
        row["REMETHOD"] = text(method.get("text"))
        try:
            row["REDTC"] = prim_dtc(res, "effectiveDateTime", r.tz)
        except FhirDateError as exc:
            r.reject(loc, "Observation", "Observation.effectiveDateTime", str(exc), exc.value, code="REJ-FHIR-006")
            continue
        rows.append(row)
        over.append(read_carried(res, r.tz))
        count_resource(r, "RE", loc, res, observation=True)  # status, dates without an offset, LOINC displays
        r.converted["Observation"] += 1
    return _frame("RE", rows, over, rfstdtc, "REDTC", "REDY")
