"""DM <-> Patient + ResearchSubject: build_patients / build_research_subjects, and read_patients / read_dm.

Patient carries only the study subject identifier (USUBJID), gender (SEX), birthDate (BRTHDTC) and deceased[x]
(DTHDTC / DTHFL): no names, no other identifiers. ResearchSubject carries SUBJID (IG: ResearchSubject.identifier),
the site ResearchStudy (SITEID), the period of participation (RFICDTC..RFPENDTC), the arms, the status and, in
the sdtm-variables extension, the DM variables FHIR has no element for (RFSTDTC, RFXSTDTC, AGE, RACE, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from msc_interop.distinct import per_distinct
from msc_interop.fhir import terms
from msc_interop.fhir.columns import Element, Factorized, ResourceColumns
from msc_interop.fhir.common import (
    Carrier,
    coding,
    ext,
    group_codes,
    is_blank,
    periods,
    read_carried,
    records,
    text,
    texts,
)
from msc_interop.fhir.context import WriteContext
from msc_interop.fhir.datetimes import dtc_to_fhir
from msc_interop.fhir.io import Located
from msc_interop.fhir.read_common import ReadContext, apply_overrides, identifier_value, kept_dtc
from msc_interop.fhir.remarks import count_resource
from msc_interop.fhir.resources.disposition import DS_PATHS, placed_dispositions, progress_entry
from msc_interop.fhir.resources.enrolment import BY_IDENTIFIER, identifiers_of, patient_identifiers
from msc_interop.fhir.resources.race import race_ethnicity
from msc_interop.fhir.resources.study import arm_table, link_id, site_countries
from msc_interop.fhir.shapes import EXTENSION_PATHS, Shape, kept_text


def build_patients(ctx: WriteContext) -> list[dict[str, Any]]:
    """One Patient per subject seen in any written domain (DM gives the details)."""
    dm = ctx.study.datasets.get("DM")
    rows: dict[str, dict[str, Any]] = {}
    if dm is not None:
        for rec in records(dm):
            rows.setdefault(text(rec["USUBJID"]), rec)
    gmap = terms.code_map("sex_to_gender")
    out = []
    birth = _dates(dm, "BRTHDTC", ctx.tz, date_only=True)
    death = _dates(dm, "DTHDTC", ctx.tz)
    birth_time = _dates(dm, "BRTHDTC", ctx.tz)
    for usubjid, rid in ctx.patient_rids.items():
        res: dict[str, Any] = {"resourceType": "Patient", "id": rid,
                               "identifier": [{"system": terms.id_system("usubjid"), "value": usubjid}]}
        rec = rows.get(usubjid)
        if rec is not None:
            g = gmap.code(text(rec.get("SEX")))
            if g:
                res["gender"] = g[0]
            b = birth.get(usubjid)
            if b:
                value, keep, original = b
                if value:
                    res["birthDate"] = value
                exts = []
                bt = birth_time.get(usubjid)
                if bt and bt[0] and "T" in bt[0]:
                    exts.append(ext("birth_time", "valueDateTime", bt[0]))
                if keep:
                    exts.append(ext("sdtm_dtc", "valueString", original))
                if exts:
                    res["_birthDate"] = {"extension": exts}
            d = death.get(usubjid)
            if d:
                value, keep, original = d
                if value:
                    res["deceasedDateTime"] = value
                if keep:
                    res["_deceasedDateTime"] = {"extension": [ext("sdtm_dtc", "valueString", original)]}
            elif text(rec.get("DTHFL")) == "Y":
                res["deceasedBoolean"] = True
        out.append(res)
    return out


def _dates(dm: pd.DataFrame | None, col: str, tz: str, date_only: bool = False) -> dict[str, tuple]:
    if dm is None or col not in dm.columns:
        return {}
    values, keep = dtc_to_fhir(dm[col].astype(object), tz, date_only=date_only)
    out = {}
    for u, v, k, o in zip(dm["USUBJID"], values, keep, dm[col], strict=True):
        if text(o):
            out[text(u)] = (v, bool(k), text(o))
    return out


def subject_state(rec: dict[str, Any], disposed: bool = False) -> str:
    """R4 ResearchSubject.status / R5 progress.subjectState, derived (not read back): a subject with a placed
    disposition event (`disposed`) has left the study, as one with an end of participation (RFPENDTC)."""
    if text(rec.get("ARMNRS")) == "SCREEN FAILURE":
        return "ineligible"
    if disposed:
        return terms.fixed("disposition")["subject_state"]
    if text(rec.get("RFPENDTC")):
        return "off-study"
    return "on-study"


def build_research_subjects(ctx: WriteContext) -> ResourceColumns | list[dict[str, Any]]:
    """One ResearchSubject per DM record, column-wise (fhir/columns.py): each element made once per distinct
    value of the DM variables it depends on (the identifiers once per subject)."""
    dm = ctx.study.datasets.get("DM")
    if dm is None or dm.empty:
        return []
    v = ctx.version
    dm = dm.reset_index(drop=True)
    cols = Factorized(dm)
    n = cols.n
    carrier = Carrier(n, ctx.tz)
    mapped = terms.mapped_variables("DM")
    subjects_text = texts(dm["USUBJID"]).tolist()
    placed = placed_dispositions(ctx, dict(zip(subjects_text, texts(_col(dm, "RFPENDTC")).tolist(), strict=True)))
    # period.end: RFPENDTC, else the date of the placed disposition event (RFPENDTC then carried as empty)
    ends = pd.Series([e or (placed[u].dsstdtc if u in placed else "") for u, e in
                      zip(subjects_text, texts(_col(dm, "RFPENDTC")).tolist(), strict=True)], dtype=object)
    decoded = decode_expectations(ctx, dm)
    decoded["RFPENDTC"] = ends
    for col in dm.columns:
        if col not in mapped:
            carrier.add(col, dm[col], ~is_blank(dm[col]))
        elif col in decoded:
            carrier.add(col, dm[col], texts(dm[col]) != texts(decoded[col]))
    usubjid_codes, usubjids = cols.codes("USUBJID")
    # identifiers: USUBJID, and SUBJID where there is one
    id_codes, id_pairs = cols.distinct_texts("USUBJID", "SUBJID")
    sys_u, sys_s = terms.id_system("usubjid"), terms.id_system("subjid")
    identifiers = [[{"system": sys_u, "value": u}, *([{"system": sys_s, "value": sub}] if sub else [])]
                   for u, sub in id_pairs]
    pair_codes, pairs = cols.distinct_texts("ARMNRS", "RFPENDTC")
    disposed = np.array([u in placed for u in subjects_text], dtype=bool)
    state_codes, first = group_codes(pair_codes, disposed)
    state = [subject_state(dict(zip(("ARMNRS", "RFPENDTC"), pairs[pair_codes[i]], strict=True)), bool(disposed[i]))
             for i in first.tolist()]
    row_state = [state[c] for c in state_codes.tolist()]
    rows = np.arange(n, dtype=np.int64)
    if v.has("ResearchSubject.state_in_status"):
        status = [Element.shared("status", state_codes, state), Element.shared("_status", rows, [
            {"extension": placed[u].extensions} if u in placed else None for u in subjects_text])]
        progress = Element.shared("progress", state_codes, [None] * len(state))
    else:
        status = [Element.constant("status", terms.fixed("research_subject_status_r5"), n)]
        progress = Element.shared("progress", rows, [
            [progress_entry(placed[u], coding("subject_state", x))] if u in placed
            else [{"subjectState": {"coding": [coding("subject_state", x)]}}]
            for u, x in zip(subjects_text, row_state, strict=True)])
    period_codes, first = group_codes(texts(_col(dm, "RFICDTC")), ends.to_numpy(dtype=object))
    period_pairs = [(text(dm["RFICDTC"].iloc[i]) if "RFICDTC" in dm.columns else "", ends.iloc[i])
                    for i in first.tolist()]
    site_codes, sites = cols.codes("SITEID")
    elements = [
        Element.constant("resourceType", "ResearchSubject", n),
        Element.shared("id", usubjid_codes, [ctx.subject_rids[u] for u in usubjids]),
        Element.shared("identifier", id_codes, identifiers),
        *status,
        progress,
        Element.shared("period", period_codes, periods(period_pairs, ctx.tz)),
        Element.shared("study", site_codes, [ctx.ref("ResearchStudy", ctx.site_rids[x]) if x in ctx.site_rids
                                             else ctx.study_ref() for x in sites]),
        Element.shared(v.el("ResearchSubject.individual"), usubjid_codes,
                       [ctx.ref("Patient", ctx.patient_rids[u]) for u in usubjids]),
    ]
    for col, key in (("ARMCD", "ResearchSubject.assigned"), ("ACTARMCD", "ResearchSubject.actual")):
        codes, arms = cols.codes(col)
        elements.append(Element.shared(v.el(key), codes, [
            (a if v.name == "R4" else link_id(a)) if a else None for a in arms]))
    elements.append(_subject_extensions(ctx, carrier, usubjid_codes, usubjids))
    return ResourceColumns("ResearchSubject", n, elements)


def _subject_extensions(ctx: WriteContext, carrier: Carrier, usubjid_codes: np.ndarray, usubjids: list[str]
                        ) -> Element:
    """extension: the carried DM variables, then the subject's SUPPDM (and other subject-level) records."""
    carried_codes, carried = carrier.distinct()
    supp = [ctx.supp_subject.get(u, []) for u in usubjids]
    codes, first = group_codes(carried_codes, usubjid_codes)
    values: list[Any] = []
    for i in first.tolist():
        exts = ([carried[carried_codes[i]]] if carried_codes[i] >= 0 else []) + supp[usubjid_codes[i]]
        values.append(exts or None)
    return Element.shared("extension", codes, values)


def _col(df: pd.DataFrame, col: str) -> pd.Series:
    return df[col].astype(object) if col in df.columns else pd.Series("", index=df.index, dtype=object)


def decode_expectations(ctx: WriteContext, dm: pd.DataFrame) -> dict[str, pd.Series]:
    """What a reader derives for the mapped DM variables from the FHIR written here (to carry differences).

    Dates and identifiers are exact by construction; these are the variables whose FHIR home is shared
    (arm descriptions, site country, study id, the code maps, the death flag).
    """
    arms = arm_table(ctx.study)
    countries = site_countries(ctx.study)
    gmap = terms.code_map("sex_to_gender")
    exp: dict[str, pd.Series] = {}
    exp["STUDYID"] = pd.Series(ctx.studyid, index=dm.index, dtype=object)
    exp["DOMAIN"] = pd.Series("DM", index=dm.index, dtype=object)
    def each(col: str, fn: Callable[[str], str]) -> pd.Series:
        """fn of the text of each value of a DM column, once per distinct value."""
        return per_distinct(lambda u: pd.Series([fn(text(x)) for x in u], dtype=object), _col(dm, col))

    for cd, name in (("ARMCD", "ARM"), ("ACTARMCD", "ACTARM")):
        exp[name] = each(cd, lambda c: arms.get(c, "") if c else "")
    exp["COUNTRY"] = each("SITEID", lambda s: countries.get(s, "") if s in ctx.site_rids else "")
    exp["SEX"] = each("SEX", lambda s: s if gmap.code(s) and sex_of(gmap.code(s)[0]) == s else "")
    death = ~is_blank(_col(dm, "DTHDTC")) | (texts(_col(dm, "DTHFL")) == "Y")
    exp["DTHFL"] = pd.Series(np.where(death, "Y", ""), index=dm.index, dtype=object)
    return exp


# --- reading ---------------------------------------------------------------------------------------------

# The elements read, with their FHIR JSON shape (fhir/shapes.py). A subject is kept without a detail whose element
# is malformed (said as a note, like an impossible birth date); one whose identity cannot be read is rejected, and
# with it the records that refer to it.
PATIENT = Shape("Patient", [
    "id", "identifier.system", "identifier.value", "gender", "birthDate", *kept_text("_birthDate"),
    "deceasedDateTime", *kept_text("_deceasedDateTime"), "deceasedBoolean",
], kept={"gender": "SEX", "birthDate": "BRTHDTC", "_birthDate": "BRTHDTC", "deceasedDateTime": "DTHDTC",
         "_deceasedDateTime": "DTHDTC", "deceasedBoolean": "DTHFL"})
RESEARCH_SUBJECT = Shape("ResearchSubject", [
    "id", "identifier.system", "identifier.value", "individual.reference", "subject.reference", "study.reference",
    "period.start", *kept_text("period._start"), "period.end", *kept_text("period._end"), "assignedArm",
    "actualArm", "assignedComparisonGroup", "actualComparisonGroup", *EXTENSION_PATHS, *DS_PATHS,
], kept={"_status": "its DS record", "progress": "its DS record",
         "study": "SITEID and COUNTRY", "period": "RFICDTC and RFPENDTC", "assignedArm": "ARMCD and ARM",
         "assignedComparisonGroup": "ARMCD and ARM", "actualArm": "ACTARMCD and ACTARM",
         "actualComparisonGroup": "ACTARMCD and ACTARM"})


def read_patients(r: ReadContext) -> dict[str, dict[str, Any]]:
    """"Patient/id" -> USUBJID and the DM details of the Patient. A Patient without an id (a transaction's POST
    entry) is never named by its Bundle-local urn:uuid: its (or its ResearchSubject's) usubjid identifier, else a
    hospital identifier through the enrolment table or pseudonym key (never a national one, never as is); else it
    is rejected, and with it the records that refer to it."""
    out: dict[str, dict[str, Any]] = {}
    derived = 0
    enrolment = r.enrolment
    by_subject: dict[str | None, str] | None = None
    for key, loc in r.typed("Patient").items():
        res = loc.resource
        usubjid = identifier_value(res, "usubjid")
        transient = not isinstance(res.get("id"), str)  # known only by its Bundle-local fullUrl (a POST entry)
        if usubjid is None and transient:
            if by_subject is None:
                by_subject = _research_subject_usubjids(r)
            usubjid = by_subject.get(key)
        if usubjid is None and transient:  # a hospital's identifiers only: mapped by the enrolment, or refused
            idents = identifiers_of(res, r.tallies)
            found, used = enrolment.by_identifier(idents)
            if found is None or used is None:
                r.reject(loc, "Patient", "Patient.identifier", enrolment.unplaced(idents), loc.full_url or "",
                         code="REJ-FHIR-003")
                r.withdraw(key, loc, "the Patient has no id and no identifier that places it in the study")
                continue
            r.tallies[f"{BY_IDENTIFIER}{used.system}"] += 1
            usubjid = found["usubjid"]
        elif usubjid is None:  # a hospital's Patient: its study subject from the enrolment (enrolment.py)
            pid = text(res.get("id"))
            found = enrolment.subject(pid, patient_identifiers(res))
            if found is None:
                why = enrolment.missing(pid)
                r.reject(loc, "Patient", "Patient.id", why, pid, code="REJ-FHIR-003")
                r.withdraw(key, loc, "not in the enrolment table")
                continue
            usubjid = found["usubjid"]
            derived += 1
        out[key] = {"USUBJID": usubjid, "res": res, "loc": loc}
    r.tallies["Patient by hospital id"] += derived if enrolment.kind == "hospital id" else 0
    return out


def _research_subject_usubjids(r: ReadContext) -> dict[str | None, str]:
    """"Patient/..." -> the study subject identifier (USUBJID) of the ResearchSubject that points to it."""
    out: dict[str | None, str] = {}
    for loc in r.by_type.get("ResearchSubject", []):
        res = loc.resource
        usubjid = identifier_value(res, "usubjid")
        element = res.get("individual") or res.get("subject")
        if usubjid is not None and isinstance(element, dict):
            out.setdefault(r.resolve(element.get("reference")), usubjid)
    return out


def read_dm(r: ReadContext, info: dict[str, Any], sites: dict[str, dict[str, str]],
            patients: dict[str, dict[str, Any]], studyid: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """DM from the ResearchSubjects (else one record per Patient), and "Patient/id" -> USUBJID for the records'
    subject references. A ResearchSubject whose Patient was rejected is rejected too, and a Patient whose
    ResearchSubject was rejected places no record (each says why)."""
    tz = r.tz
    rows: list[dict[str, Any]] = []
    overrides: list[dict[str, Any]] = []
    subjects: dict[str, str] = {k: p["USUBJID"] for k, p in patients.items()}
    _withdraw_patients_of_rejected_subjects(r, patients, subjects)
    for loc in r.by_type.get("ResearchSubject", []):
        res = loc.resource
        pref = (res.get("individual") or res.get("subject") or {}).get("reference")
        gone = r.withdrawn_key(pref)
        if gone is not None:
            r.reject(loc, "ResearchSubject", "ResearchSubject.individual", f"its Patient {gone} was rejected "
                     f"({r.withdrawn[gone]}): the research subject has no Patient", pref, code="REJ-FHIR-003")
            continue
        pkey = r.resolve(pref)
        usubjid = identifier_value(res, "usubjid")
        if usubjid is None and pkey in patients:
            usubjid = patients[pkey]["USUBJID"]
        if usubjid is None:
            pid = r.ref_id(pref, "Patient")
            if pid is None:
                r.reject(loc, "ResearchSubject", "ResearchSubject.individual", "the research subject has no "
                         "Patient and no study subject identifier", pref, code="REJ-FHIR-003")
                continue
            usubjid = pid
        if pkey:
            subjects[pkey] = usubjid
        row = {"STUDYID": studyid, "DOMAIN": "DM", "USUBJID": usubjid,
               "SUBJID": identifier_value(res, "subjid") or ""}
        if not info.get("own"):
            idents = res.get("identifier") or []
            row["SUBJID"] = row["SUBJID"] or next((text(i.get("value")) for i in idents), "")
        period = res.get("period") or {}
        for var, name in (("RFICDTC", "start"), ("RFPENDTC", "end")):
            row[var] = kept_dtc(r, loc, "ResearchSubject", period, name, f"ResearchSubject.period.{name}", tz)
        skey = r.resolve((res.get("study") or {}).get("reference"))
        site = sites.get(skey or "")
        row["SITEID"] = site["siteid"] if site else ""
        row["COUNTRY"] = site["country"] if site else ""
        for var, r4, r5 in (("ARMCD", "assignedArm", "assignedComparisonGroup"),
                            ("ACTARMCD", "actualArm", "actualComparisonGroup")):
            cd = res.get(r4)
            if cd is None and res.get(r5) is not None:
                cd = info.get("armcd_by_link", {}).get(res[r5], res[r5])
            row[var] = text(cd)
            row[var[:-2] if var == "ARMCD" else "ACTARM"] = info.get("arms", {}).get(text(cd), "") if cd else ""
        found = patients.get(pkey or "", {})
        row.update(_patient_fields(r, found.get("loc"), found.get("res", {}), tz))
        rows.append(row)
        overrides.append(read_carried(res, tz))
        r.converted["ResearchSubject"] += 1
    if not rows:  # FHIR without research subjects: one DM record per Patient
        for p in patients.values():
            enrolled = r.enrolment.by_usubjid.get(p["USUBJID"], {})
            row = {"STUDYID": studyid, "DOMAIN": "DM", "USUBJID": p["USUBJID"],
                   "SUBJID": enrolled.get("subjid", p["USUBJID"])}
            row.update(_patient_fields(r, p["loc"], p["res"], tz))
            count_resource(r, "DM", p["loc"], p["res"])  # deceasedDateTime without an offset (fhir/remarks.py)
            rows.append(row)
            overrides.append({})
    r.converted["Patient"] += len(patients)
    dm = pd.DataFrame(rows)
    dm = apply_overrides(dm, overrides)
    return dm, subjects


def _withdraw_patients_of_rejected_subjects(r: ReadContext, patients: dict[str, dict[str, Any]],
                                            subjects: dict[str, str]) -> None:
    """A Patient whose ResearchSubject was rejected has no DM record: it is rejected too, and the records that
    refer to it are not placed (each says why)."""
    by_usubjid = {p["USUBJID"]: k for k, p in patients.items()}
    for loc in r.withdrawn_items.get("ResearchSubject", []):
        res = loc.resource
        element = res.get("individual") or res.get("subject")
        pkey = r.resolve(element.get("reference") if isinstance(element, dict) else None)
        if pkey is None:  # its reference unreadable: the Patient with its study subject identifier
            try:
                pkey = by_usubjid.get(identifier_value(res, "usubjid"))  # type: ignore[arg-type]
            except (AttributeError, TypeError):  # its identifiers unreadable too
                pkey = None
        if pkey is None or pkey not in patients:
            continue
        rid = res.get("id")
        rkey = f"ResearchSubject/{rid}" if isinstance(rid, str) else None
        why = (f"its ResearchSubject {rkey or loc.label} was rejected"
               + (f": {r.withdrawn[rkey]}" if rkey in r.withdrawn else ""))
        found = patients.pop(pkey)
        subjects.pop(pkey, None)
        r.reject(found["loc"], "Patient", "Patient", f"{why}: the subject has no DM record", pkey,
                 code="REJ-FHIR-003")
        r.withdraw(pkey, found["loc"], why)


def sex_of(gender: Any) -> str:
    """CDISC SEX of a FHIR AdministrativeGender code (gender_to_sex: "other" is U, not INTERSEX); else ""."""
    return terms.reading_map("gender_to_sex").get(str(gender).lower(), "") if gender else ""


def _patient_fields(r: ReadContext, loc: Located | None, patient: dict[str, Any],
                    tz: str | None) -> dict[str, Any]:
    """SEX, BRTHDTC, DTHDTC, DTHFL of a Patient (never its names or other identifiers)."""
    out: dict[str, Any] = {}
    out["SEX"] = sex_of(patient.get("gender"))
    if loc is None:  # no Patient
        out["BRTHDTC"] = out["DTHDTC"] = ""
    else:
        out["BRTHDTC"] = kept_dtc(r, loc, "Patient", patient, "birthDate", "Patient.birthDate", None)
        out["DTHDTC"] = kept_dtc(r, loc, "Patient", patient, "deceasedDateTime", "Patient.deceasedDateTime", tz)
    dead = "deceasedDateTime" in patient or "_deceasedDateTime" in patient or patient.get("deceasedBoolean") is True
    out["DTHFL"] = "Y" if dead else ""
    out.update(race_ethnicity(patient, r.tallies))  # US Core race / ethnicity extensions (mappings/race_ethnicity.yaml)
    return out
