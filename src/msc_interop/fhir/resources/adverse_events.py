"""AE <-> AdverseEvent (R4 and R5 through fhir/versions.py): build_adverse_events and read_adverse_events.

IG AE rows: AETERM, AEDECOD and the MedDRA levels -> resultingCondition -> Condition.code. msc-interop puts the
MedDRA codings on AdverseEvent.event (R4) / code (R5) instead (one resource per AE record, no Condition), each
coding tagged with its level (extension meddra-level: MedDRA codes do not say their level), AETERM as text;
a level with a term but no code (AEDECOD without AEPTCD) has no coding (FHIR wants system and code): the term
is carried in sdtm-variables, so it comes back.
AESTDTC -> date (R4) / occurrence[x] (R5); AEENDTC -> R4 cross-version extension occurrence valuePeriod.end
(the IG's own advice), R5 occurrencePeriod.end; AESEV -> severity (R4) / ae-severity extension (R5); AESER ->
seriousness; AEOUT -> outcome; AEREL -> suspectEntity.causality (R4 productRelatedness, R5 entityRelatedness);
AESPID -> identifier. AESEQ: R5 identifier (sdtm-seq); R4 has one identifier, which the IG gives to AESPID, so
AESEQ is carried in sdtm-variables there.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from msc_interop import mappings
from msc_interop.fhir import terms
from msc_interop.fhir.common import Carrier, coding, is_blank, read_carried, text
from msc_interop.fhir.context import WriteContext, column, record_frame
from msc_interop.fhir.datetimes import FhirDateError
from msc_interop.fhir.read_common import (
    ReadContext,
    domain_frame,
    prim_dtc,
    shown_subject,
    strict_bundle,
    subject_of,
)
from msc_interop.fhir.remarks import count_resource
from msc_interop.fhir.shapes import EXTENSION_PATHS, Shape, kept_text
from msc_interop.fhir.systems import read_system

# MedDRA level tag -> (term variable, code variable)
MEDDRA_LEVELS = (("LLT", "AELLT", "AELLTCD"), ("PT", "AEDECOD", "AEPTCD"), ("HLT", "AEHLT", "AEHLTCD"),
                 ("HLGT", "AEHLGT", "AEHLGTCD"), ("SOC", "AESOC", "AESOCCD"), ("BODSYS", "AEBODSYS", "AEBDSYCD"))


def _code_text(v: Any) -> str:
    if v is None or v is pd.NA or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _cc(system_key: str, map_name: str, value: str) -> dict[str, Any] | None:
    c = terms.code_map(map_name).code(value)
    return {"coding": [coding(system_key, c[0], c[1])]} if c else None


def _treatment_text(ctx: WriteContext) -> dict[str, str]:
    """USUBJID -> the study treatment(s) the subject received (EXTRT), for suspectEntity (not read back)."""
    ex = ctx.study.datasets.get("EX")
    out: dict[str, str] = {}
    if ex is not None and "EXTRT" in ex.columns:
        for u, grp in ex.groupby(ex["USUBJID"].astype(object), sort=False):
            names = [t for t in dict.fromkeys(text(x) for x in grp["EXTRT"]) if t]
            if names:
                out[text(u)] = "; ".join(names)
    return out


def build_adverse_events(ctx: WriteContext) -> list[dict[str, Any]]:
    """One AdverseEvent per AE record (dicts: a study has few AEs)."""
    frame = record_frame(ctx, "AE", visits_optional=True)
    if frame is None:
        return []
    v = ctx.version
    ae, n, usubjid, rid, enc = frame.df, frame.n, frame.usubjid, frame.ids, frame.encounters
    start, start_keep, end, end_keep = frame.start, frame.start_keep, frame.end, frame.end_keep
    treatments = _treatment_text(ctx)
    default_treatment = text(ctx.study.meta.planned_exposure.get("product")) or "study treatment"

    carrier = Carrier(n, ctx.tz)
    mapped = set(terms.mapped_variables("AE"))
    if v.name == "R4":
        mapped.discard("AESEQ")
    maps = {"AESEV": "aesev_to_severity", "AESER": "aeser_to_seriousness", "AEOUT": "aeout_to_outcome"}
    special: dict[str, np.ndarray] = {
        "STUDYID": column(ae, "STUDYID").astype(object).map(text).to_numpy() != ctx.studyid,
        "DOMAIN": column(ae, "DOMAIN").astype(object).map(text).to_numpy() != "AE",
        "USUBJID": is_blank(usubjid),
        "AESTDY": _differs(column(ae, "AESTDY"), ctx.study_days(column(ae, "AESTDTC"), usubjid)),
        "AEENDY": _differs(column(ae, "AEENDY"), ctx.study_days(column(ae, "AEENDTC"), usubjid)),
    }
    for var, m in maps.items():
        vals = column(ae, var).astype(object).map(text)
        special[var] = (vals.map(lambda x, m=m: terms.code_map(m).code(x) is None) & (vals != "")).to_numpy()
    for _level, _term, code_var in MEDDRA_LEVELS:
        codes = column(ae, code_var)
        special[code_var] = np.array([not (_code_text(c).isdigit() or _code_text(c) == "") or
                                      (_code_text(c).startswith("0") and _code_text(c) != "0")
                                      for c in codes], dtype=bool)
    for _level, term_var, code_var in MEDDRA_LEVELS:  # a term without its code: no coding, the term carried
        special[term_var] = (column(ae, term_var).astype(object).map(text).to_numpy() != "") & (
            special[code_var] | np.array([_code_text(c) == "" for c in column(ae, code_var)], dtype=bool))
    if enc is not None:
        special["VISIT"] = column(ae, "VISIT").astype(object).map(text).to_numpy() != enc["VISIT"].map(text).to_numpy()
    carrier.add_dataset(ae, mapped, special)
    carried = carrier.extensions()

    url_dtc = terms.ext_url("sdtm_dtc")
    level_url = terms.ext_url("meddra_level")
    out = []
    for i, rec in enumerate(ae.to_dict("records")):
        u = text(rec["USUBJID"])
        res: dict[str, Any] = {"resourceType": "AdverseEvent", "id": rid[i]}
        exts: list[dict[str, Any]] = []
        # --- identifiers
        seq = rec.get("AESEQ")
        seq_ident = {"system": terms.id_system("seq"),
                     "value": f"{ctx.studyid}/{u}/AE/{'' if pd.isna(seq) else int(seq)}"}
        spid = text(rec.get("AESPID"))
        spid_ident = {"system": terms.id_system("spid"), "value": spid} if spid else None
        if v.has("AdverseEvent.identifier_list"):
            res["identifier"] = [seq_ident] + ([spid_ident] if spid_ident else [])
        elif spid_ident:
            res["identifier"] = spid_ident
        res["actuality"] = terms.fixed("ae_actuality")
        if v.has("AdverseEvent.status"):
            smap = terms.data()["codes"]["aeout_to_r5_status"]
            res["status"] = smap["map"].get(text(rec.get("AEOUT")), smap["default"])
        if text(rec.get("AECAT")):
            res["category"] = [{"text": text(rec.get("AECAT"))}]
        # --- the event and its MedDRA codings
        codings = []
        for level, term_var, code_var in MEDDRA_LEVELS:
            term, code = text(rec.get(term_var)), _code_text(rec.get(code_var))
            if not code or special[code_var][i]:  # a MedDRA coding only with its code (the term is carried)
                continue
            c: dict[str, Any] = {"extension": [{"url": level_url, "valueCode": level}],
                                 "system": terms.system("meddra"), "code": code}
            if term:
                c["display"] = term
            codings.append(c)
        event: dict[str, Any] = {}
        if codings:
            event["coding"] = codings
        if text(rec.get("AETERM")):
            event["text"] = text(rec.get("AETERM"))
        if event:
            res[v.el("AdverseEvent.event")] = event
        res["subject"] = ctx.ref("Patient", ctx.patient_rids[u])
        if enc is not None and isinstance(enc["id"].iloc[i], str):
            res["encounter"] = ctx.ref("Encounter", enc["id"].iloc[i])
        # --- dates
        s_val, s_keep, e_val, e_keep = start.iloc[i], start_keep.iloc[i], end.iloc[i], end_keep.iloc[i]
        s_ext = {"extension": [{"url": url_dtc, "valueString": text(rec.get("AESTDTC"))}]} if s_keep else None
        e_ext = {"extension": [{"url": url_dtc, "valueString": text(rec.get("AEENDTC"))}]} if e_keep else None
        has_end = e_val is not None or e_ext is not None
        if v.name == "R4":
            if s_val is not None:
                res["date"] = s_val
            if s_ext:
                res["_date"] = s_ext
            if has_end:
                period: dict[str, Any] = {}
                if e_val is not None:
                    period["end"] = e_val
                if e_ext:
                    period["_end"] = e_ext
                exts.append({"url": terms.ext_url("ae_occurrence_r4"), "valuePeriod": period})
        elif has_end:
            period = {}
            if s_val is not None:
                period["start"] = s_val
            if s_ext:
                period["_start"] = s_ext
            if e_val is not None:
                period["end"] = e_val
            if e_ext:
                period["_end"] = e_ext
            res["occurrencePeriod"] = period
        else:
            if s_val is not None:
                res["occurrenceDateTime"] = s_val
            if s_ext:
                res["_occurrenceDateTime"] = s_ext
        # --- seriousness, severity, outcome, causality
        ser = _cc("ae_seriousness", "aeser_to_seriousness", text(rec.get("AESER")))
        if ser:
            res["seriousness"] = ser
        sev = _cc("ae_severity", "aesev_to_severity", text(rec.get("AESEV")))
        if sev and v.has("AdverseEvent.severity"):
            res["severity"] = sev
        elif sev:
            exts.append({"url": terms.ext_url("ae_severity_r5"), "valueCodeableConcept": sev})
        out_cc = _cc("ae_outcome", "aeout_to_outcome", text(rec.get("AEOUT")))
        if out_cc:
            res["outcome"] = [out_cc] if v.has("AdverseEvent.outcome_list") else out_cc
        rel = text(rec.get("AEREL"))
        if rel:
            product = treatments.get(u, default_treatment)
            instance = v.el("AdverseEventSuspectEntity.instance")
            relatedness = v.el("AdverseEventSuspectEntityCausality.relatedness")
            causality = {relatedness: rel if relatedness == "productRelatedness" else {"text": rel}}
            res["suspectEntity"] = [{
                instance: {"display": product} if instance == "instance" else {"text": product},
                "causality": [causality] if v.has("AdverseEventSuspectEntity.causality_list") else causality}]
        res["study"] = [ctx.study_ref()]
        if carried[i] is not None:
            exts.append(carried[i])
        exts += ctx.supp.get(("AE", i), [])
        if exts:
            res = {"resourceType": res.pop("resourceType"), "id": res.pop("id"), "extension": exts, **res}
        out.append(res)
    return out


def _differs(a: pd.Series, b: pd.Series) -> np.ndarray:
    x = pd.to_numeric(a, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    y = pd.to_numeric(b, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return ~((np.isnan(x) & np.isnan(y)) | (x == y))


# --- reading ---------------------------------------------------------------------------------------------

def _concept(name: str) -> tuple[str, ...]:
    return (f"{name}.text", f"{name}.coding.system", f"{name}.coding.code", f"{name}.coding.display")


# The elements read, with their FHIR JSON shape (fhir/shapes.py), R4 and R5 alike
ADVERSE_EVENT = Shape("AdverseEvent", [
    "id", "status", "actuality", "identifier.system", "identifier.value",
    "subject.reference", "subject.identifier.system", "subject.identifier.value",
    *_concept("event"), "event.coding.extension.url", "event.coding.extension.valueCode",
    *_concept("code"), "code.coding.extension.url", "code.coding.extension.valueCode",
    "resultingCondition.reference", "resultingEffect.reference", "category.text", "category.coding",
    "date", *kept_text("_date"), "occurrenceDateTime", *kept_text("_occurrenceDateTime"),
    "occurrencePeriod.start", *kept_text("occurrencePeriod._start"), "occurrencePeriod.end",
    *kept_text("occurrencePeriod._end"),
    "extension.valuePeriod.end", *kept_text("extension.valuePeriod._end"),
    "extension.valueCodeableConcept.coding.code",
    "seriousness.coding.code", "severity.coding.code", "outcome.coding.code",
    "suspectEntity.causality.productRelatedness", *_concept("suspectEntity.causality.entityRelatedness"),
    *_concept("suspectEntity.causality.assessment"),
    "encounter.reference", *EXTENSION_PATHS,
], kept={"encounter": "a visit"})


def read_adverse_events(r: ReadContext, subjects: dict[str, str], encounters: dict[str, dict[str, Any]],
                        rfstdtc: dict[str, str], studyid: str) -> pd.DataFrame | None:
    """AE from the AdverseEvents (R4 or R5); None when there are none. Potential events (near misses) and
    entered-in-error ones are rejected. The elements' shapes were checked when the files were read."""
    items = r.by_type.get("AdverseEvent", [])
    if not items:
        return None
    tz = r.tz
    maps = {v: terms.code_map(m) for v, m in (("AESER", "aeser_to_seriousness"), ("AESEV", "aesev_to_severity"),
                                               ("AEOUT", "aeout_to_outcome"))}
    rows, over = [], []
    for loc in items:
        res = loc.resource
        strict = strict_bundle(loc)
        subject = subject_of(res.get("subject"))
        usubjid, problem = r.subject(subject, strict, subjects)
        if usubjid is None:
            r.reject(loc, "AdverseEvent", "AdverseEvent.subject", problem, shown_subject(subject),
                     code="REJ-FHIR-003")
            continue
        if res.get("actuality") == "potential":
            r.reject(loc, "AdverseEvent", "AdverseEvent.actuality", "a potential adverse event (near miss) is "
                     "not an AE record", "potential", code="REJ-FHIR-004")
            continue
        if res.get("status") == "entered-in-error":
            r.reject(loc, "AdverseEvent", "AdverseEvent.status", "entered-in-error", "entered-in-error",
                     code="REJ-FHIR-004")
            continue
        row: dict[str, Any] = {"STUDYID": studyid, "DOMAIN": "AE", "USUBJID": usubjid}
        seq = None
        idents = res.get("identifier")
        for ident in ([idents] if isinstance(idents, dict) else idents if isinstance(idents, list) else []):
            if not isinstance(ident, dict):
                continue
            if ident.get("system") == terms.id_system("seq"):
                seq = text(ident.get("value")).rsplit("/", 1)[-1]
            elif ident.get("system") == terms.id_system("spid"):
                row["AESPID"] = text(ident.get("value"))
        row["AESEQ"] = int(seq) if seq and seq.lstrip("-").isdigit() else None
        event = res.get("event") or res.get("code")
        if event is None:
            for ref in (res.get("resultingCondition") or []) + [x.get("reference") if isinstance(x, dict) else None
                                                                 for x in res.get("resultingEffect") or []]:
                cref = ref.get("reference") if isinstance(ref, dict) else ref
                cond = r.index.get(r.resolve(cref) or "")
                if cond is not None and isinstance(cond.resource.get("code"), dict):
                    event = cond.resource.get("code")
                    break
        row.update(_meddra(event or {}, r.tallies))
        if not row.get("AETERM"):
            r.reject(loc, "AdverseEvent", "AdverseEvent.event", "no event term (event/code has no text or coding)",
                     "", code="REJ-FHIR-005")
            continue
        row["AECAT"] = next((text(c.get("text")) for c in res.get("category") or []
                             if isinstance(c, dict) and not c.get("coding") and c.get("text")), "")
        # dates (an impossible one rejects the record, naming the element); no start date: AESTDTC empty
        element = ""
        row["AESTDTC"] = ""
        try:
            if "date" in res or "_date" in res:
                element = "date"
                row["AESTDTC"] = prim_dtc(res, "date", tz)
            elif "occurrenceDateTime" in res or "_occurrenceDateTime" in res:
                element = "occurrenceDateTime"
                row["AESTDTC"] = prim_dtc(res, "occurrenceDateTime", tz)
            elif isinstance(res.get("occurrencePeriod"), dict):
                element = "occurrencePeriod.start"
                row["AESTDTC"] = prim_dtc(res["occurrencePeriod"], "start", tz)
            end_period = res.get("occurrencePeriod")
            element = "occurrencePeriod.end"
            for e in _extensions(res):
                if e.get("url") == terms.ext_url("ae_occurrence_r4"):
                    end_period = e.get("valuePeriod")
                    element = "extension(occurrence).valuePeriod.end"
            row["AEENDTC"] = prim_dtc(end_period, "end", tz) if isinstance(end_period, dict) else ""
        except FhirDateError as exc:
            r.reject(loc, "AdverseEvent", f"AdverseEvent.{element}", str(exc), exc.value, code="REJ-FHIR-006")
            continue
        # codes
        row["AESER"], criteria, unknown = _seriousness(res.get("seriousness"), maps["AESER"])
        row.update(dict.fromkeys(criteria, "Y"))
        if unknown:
            r.note_field(loc, "AdverseEvent", "AdverseEvent.seriousness", "converted without AESER: the seriousness "
                         "is not a code of adverse-event-seriousness (serious, non-serious or a seriousness "
                         "criterion)", unknown, code="REJ-FHIR-006")
        sev = res.get("severity")
        for e in _extensions(res):
            if e.get("url") == terms.ext_url("ae_severity_r5"):
                sev = e.get("valueCodeableConcept")
        row["AESEV"], unknown = _severity(sev, maps["AESEV"])
        if unknown:
            r.note_field(loc, "AdverseEvent", "AdverseEvent.severity", "converted without AESEV: the severity is no "
                         "adverse-event-severity code (mild, moderate, severe) and its text no AESEV term", unknown,
                         code="REJ-FHIR-006")
        row["AEOUT"], unknown = _outcome(res.get("outcome"), maps["AEOUT"], r.tallies)
        if unknown:
            r.note_field(loc, "AdverseEvent", "AdverseEvent.outcome", "converted without AEOUT: the outcome is no "
                         "adverse-event-outcome code and no SNOMED CT code mapped to OUT", unknown,
                         code="REJ-FHIR-006")
        row["AEREL"] = _relatedness(res, r.tallies)
        enc = r.visit(loc, "AdverseEvent", "AdverseEvent.encounter", (res.get("encounter") or {}).get("reference"),
                      encounters)
        if enc:
            row["VISITNUM"], row["VISIT"] = enc.get("VISITNUM"), enc.get("VISIT", "")
        rows.append(row)
        over.append(read_carried(res, tz))
        count_resource(r, "AE", loc, res)  # date-times without an offset (fhir/remarks.py)
        r.converted["AdverseEvent"] += 1
    return domain_frame("AE", "AETERM", rows, over, rfstdtc)


def _extensions(res: dict[str, Any]) -> list[dict[str, Any]]:
    """The resource's extensions that are objects (others are not read)."""
    ext = res.get("extension")
    return [e for e in ext if isinstance(e, dict)] if isinstance(ext, list) else []


def _meddra(event: dict[str, Any], seen: Counter[str]) -> dict[str, Any]:
    """AETERM and the MedDRA levels of the codings (their system as read_system reads it; `seen`: the read's
    tallies)."""
    out: dict[str, Any] = {"AETERM": text(event.get("text"))}
    meddra = terms.system("meddra")
    level_url = terms.ext_url("meddra_level")
    by_level = {lv: (t, c) for lv, t, c in MEDDRA_LEVELS}
    untagged = []
    for c in event.get("coding") or []:
        if not isinstance(c, dict):
            continue
        system = read_system(c.get("system"), seen)
        exts = c.get("extension")
        level = next((e.get("valueCode") for e in exts if isinstance(e, dict) and e.get("url") == level_url),
                     None) if isinstance(exts, list) else None
        if level in by_level and system in (meddra, None):  # no system: term, no code
            term_var, code_var = by_level[level]
            out[term_var] = text(c.get("display"))
            code = text(c.get("code"))
            out[code_var] = int(code) if code.isdigit() else None
        else:
            untagged.append((c, system))
    for c, system in untagged:
        if system == meddra and "AEDECOD" not in out:
            out["AEDECOD"] = text(c.get("display"))
            code = text(c.get("code"))
            out["AEPTCD"] = int(code) if code.isdigit() else None
    if not out["AETERM"]:
        out["AETERM"] = next((text(c.get("display")) for c in event.get("coding") or [] if isinstance(c, dict)
                              and c.get("display")), "")
    return out


def _cdisc_of(cc: Any, cmap: terms.CodeMap) -> str:
    if not isinstance(cc, dict):
        return ""
    for c in cc.get("coding") or []:
        if isinstance(c, dict) and c.get("code"):
            v = cmap.cdisc(c["code"])
            if v:
                return v
    return ""


def _severity(cc: Any, aesev: terms.CodeMap) -> tuple[str, str]:
    """AESEV from a severity code (fhir_mapping.yaml aesev_to_severity), else from a text that is an AESEV term
    (any case); else "" and what was given, for the report."""
    found = _cdisc_of(cc, aesev)
    if found or not isinstance(cc, dict):
        return found, ""
    shown = text(cc.get("text")).strip()
    if shown.upper() in mappings.codelist("AESEV").values:
        return shown.upper(), ""
    given = [f"{c.get('system') or ''}|{c['code']}" for c in cc.get("coding") or [] if isinstance(c, dict)
             and c.get("code")]
    return "", "; ".join(given + ([repr(shown)] if shown else []))


def _seriousness(cc: Any, aeser: terms.CodeMap) -> tuple[str, list[str], str]:
    """AESER, the criteria variables a code under Serious names (R4: SeriousResultsInDeath -> AESDTH; each also
    means AESER Y), and what was given when nothing maps (so that the report says why AESER is empty)."""
    if not isinstance(cc, dict):
        return "", [], ""
    criteria = terms.code_map("ae_seriousness_criteria")
    value, flags, given = "", [], []
    for c in cc.get("coding") or []:
        if not isinstance(c, dict) or not c.get("code"):
            continue
        flag = criteria.cdisc(c["code"])
        found = "Y" if flag else aeser.cdisc(c["code"])
        if flag:
            flags.append(flag)
        if found:
            value = value or found
        else:
            given.append(f"{c.get('system') or ''}|{c['code']}")
    if value:
        return value, flags, ""
    return "", [], "; ".join(given) or text(cc.get("text"))


def _outcome(outcome: Any, aeout: terms.CodeMap, seen: Counter[str]) -> tuple[str, str]:
    """AEOUT from the first outcome that maps (R4 one, R5 a list): an adverse-event-outcome code, or a SNOMED CT
    code of the R5 value set (fhir_mapping.yaml snomed_to_out); else "" and what was given, for the report. `seen`:
    the read's tallies (read_system)."""
    snomed, by_snomed = terms.system("snomed"), terms.reading_map("snomed_to_out")
    given = []
    for cc in outcome if isinstance(outcome, list) else [outcome]:
        if not isinstance(cc, dict):
            continue
        for c in cc.get("coding") or []:
            if not isinstance(c, dict) or not c.get("code"):
                continue
            found = by_snomed.get(c["code"]) if read_system(c.get("system"), seen) == snomed else aeout.cdisc(c["code"])
            if found:
                return found, ""
            given.append(f"{c.get('system') or ''}|{c['code']}")
        if not cc.get("coding") and text(cc.get("text")):
            given.append(repr(text(cc["text"])))
    return "", "; ".join(given)


def _relatedness(res: dict[str, Any], seen: Counter[str]) -> str:
    """AEREL: R4 productRelatedness, else the causality concept (R5 entityRelatedness, R4 assessment) read alike:
    its text, else a coding's display, else the display of its WHO-UMC code, else the code (AEREL has no CT)."""
    system = terms.system("ae_causality_assess")
    displays = {k.lower(): v for k, v in terms.reading_map("causality_assessment_display").items()}
    for s in res.get("suspectEntity") or []:
        caus = s.get("causality")
        for c in (caus if isinstance(caus, list) else [caus] if isinstance(caus, dict) else []):
            if c.get("productRelatedness"):
                return text(c["productRelatedness"])
            for concept in (c.get("entityRelatedness"), c.get("assessment")):
                if not isinstance(concept, dict):
                    continue
                found = text(concept.get("text")) or next(
                    (text(x.get("display") or (displays.get(text(x.get("code")).lower())
                                               if read_system(x.get("system"), seen) == system else None)
                          or x.get("code"))
                     for x in concept.get("coding") or [] if isinstance(x, dict)), "")
                if found:
                    return found
    return ""
