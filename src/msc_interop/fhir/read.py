"""FHIR (Bundles, single resources, Bulk-Data NDJSON; R4 or R5) -> Study, with a reject report.

Resources msc-interop wrote come back exactly (every DM, EX, AE, LB and SUPP-- variable, row order, columns).
FHIR written by others is mapped through the mapping data: lab Observations by their CDISC test code, NCI
Thesaurus code or LOINC (lab_tests.yaml) with units through UCUM (units.yaml) and converted to the standard
unit; AdverseEvent and MedicationAdministration by their elements; subjects by Patient / ResearchSubject
identifiers, else by the Patient's id (said in the report's notes: never names or other identifiers).
Anything that cannot be placed is rejected with the reason and where it was (file, line or Bundle entry);
resource types that have no SDTM home (Claim, Condition, ...) are skipped and counted. Per resource type:
read = converted + rejected + skipped.
"""

from __future__ import annotations

import functools
import importlib.util
import re
from collections import Counter, defaultdict, namedtuple
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from msc_interop import mappings
from msc_interop.dates import fhir_value_to_dtc, study_day
from msc_interop.errors import InputError
from msc_interop.fhir import terms
from msc_interop.fhir.common import float_text, number_back, primitive_original, read_carried, text
from msc_interop.fhir.io import Located, ReadProblem, iter_resources
from msc_interop.fhir.resources import lab
from msc_interop.fhir.resources.adverse_events import MEDDRA_LEVELS
from msc_interop.fhir.resources.encounters import read_encounter
from msc_interop.fhir.resources.study import identifier_value, read_site_info, read_study_info
from msc_interop.fhir.resources.supp import read_supplemental
from msc_interop.fhir.versions import evident_version, get_version
from msc_interop.inputs.kinds import fhir_files
from msc_interop.rejects import RejectReport
from msc_interop.runtime import gc_paused
from msc_interop.study import VISIT_COLUMNS, Study, StudyMeta
from msc_interop.trial_design import apply_trial_design

RECORD_TYPES = ("Observation", "AdverseEvent", "MedicationAdministration")
SUBJECT_TYPES = ("Patient", "ResearchSubject")
SUPPORT_TYPES = ("ResearchStudy", "Encounter", "Organization", "Specimen", "Medication")
_NO_RESOURCE: dict[str, Any] = {}
_REF = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")


@dataclass
class FhirReadReport(RejectReport):
    """The reject report, plus resource types skipped (no SDTM home) and notes about the reading."""

    row_unit: ClassVar[str] = "entry/line"  # a Bundle entry or an NDJSON line

    skipped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    version: str = ""

    def reconciliation(self) -> list[str]:
        """One line per resource type: read = converted + rejected + skipped."""
        lines = []
        for form in sorted(set(self.counts) | set(self.skipped)):
            c = self.counts.get(form)
            read = (c.read if c else 0) + self.skipped.get(form, 0)
            conv = c.converted if c else 0
            rej = c.rejected if c else 0
            skipped = self.skipped.get(form, 0)
            lines.append(f"{form}: read {read} = converted {conv} + rejected {rej} + skipped {skipped}")
        return lines


@functools.cache
def is_fhir_type(rtype: str) -> bool:
    """True for a resource type of FHIR R4B or R5 (as fhir.resources knows them)."""
    if not re.fullmatch(r"[A-Z][A-Za-z]+", rtype):
        return False
    for package in ("fhir.resources", "fhir.resources.R4B"):
        if importlib.util.find_spec(f"{package}.{rtype.lower()}") is not None:
            return True
    return False


def strict_bundle(loc: Located) -> bool:
    """References inside collection / transaction / document Bundles must resolve inside the Bundle."""
    return loc.where == "entry" and loc.bundle_type in ("collection", "transaction", "document", "batch")


class _Reader:
    def __init__(self, version: str | None, study_meta: StudyMeta | None):
        self.forced = get_version(version).name if version else None
        self.study_meta = study_meta
        self.report = FhirReadReport()
        self.read: Counter[str] = Counter()
        self.converted: Counter[str] = Counter()
        self.rejected_pos: set[tuple[str, str, int]] = set()
        self.by_type: dict[str, list[Located]] = defaultdict(list)
        self.index: dict[str, Located] = {}  # "Type/id" -> resource
        self.urls: dict[str, str] = {}  # fullUrl -> "Type/id"
        self.flat_obs: list[tuple] = []
        self.flattener = lab.Flattener()
        self.evidence: Counter[str] = Counter()
        self.tz: str | None = None
        self.obs_supp: list[dict[str, Any]] = []
        self.derived_subjects: dict[str, None] = {}
        self.duplicates = 0

    # --- collecting ------------------------------------------------------------------------------------
    def collect(self, paths: Sequence[Path | str]) -> None:
        for item in iter_resources(paths):
            if isinstance(item, ReadProblem):
                self.read["(unreadable)"] += 1
                where = f"{item.where} {item.position}"
                self.report.add("(unreadable)", item.file, item.position, where, "", item.message)
                continue
            res = item.resource
            rtype = res.get("resourceType")
            if not isinstance(rtype, str) or not rtype:
                self.read["(unreadable)"] += 1
                self.report.add("(unreadable)", item.file, item.position, f"{item.where} {item.position}", "",
                                "not a FHIR resource: no resourceType")
                continue
            rid = res.get("id")
            if isinstance(rid, str) and f"{rtype}/{rid}" in self.index:
                # the same resource twice (a to-fhir folder holds bundle.json and the NDJSON files): once is read
                self.duplicates += 1
                continue
            self.read[rtype] += 1
            if not is_fhir_type(rtype):
                self._reject(item, rtype, "resourceType", f"{rtype!r} is not a FHIR R4 or R5 resource type",
                             rtype)
                continue
            evident, tells = evident_version(res)
            if evident:
                self.evidence[evident] += 1
            if self.forced and evident and evident != self.forced:
                self._reject(item, rtype, "resourceType",
                             f"looks like FHIR {evident} (has {', '.join(f'{rtype}.{t}' for t in tells)}) but is "
                             f"read as {self.forced}; read it with --fhir-version {evident} or let the version "
                             "be detected")
                continue
            if rtype == "Observation":
                # keep where it came from, not the resource itself (a million dicts would stay in memory)
                light = Located(_NO_RESOURCE, item.file, item.position, item.where, item.bundle_type,
                                item.full_url)
                flat = self.flattener.flatten(res, item.file, item.position, strict_bundle(item))
                self.flat_obs.append((*flat, light))
                item = light
            rid = res.get("id")
            if isinstance(rid, str):
                key = f"{rtype}/{rid}"
                self.index.setdefault(key, item)
                if item.full_url:
                    self.urls[item.full_url] = key
            elif item.full_url:
                key = f"{rtype}/{item.full_url}"
                self.index.setdefault(key, item)
                self.urls[item.full_url] = key
            if rtype != "Observation":
                self.by_type[rtype].append(item)

    def _reject(self, item: Located, form: str, fld: str, reason: str, value: Any = "") -> None:
        where = f"Bundle entry {item.position}: " if item.where == "entry" else ""
        self.report.add(form, item.file, item.position, fld, value, where + reason)
        self.rejected_pos.add((form, item.file, item.position))

    # --- references ------------------------------------------------------------------------------------
    def resolve(self, ref: Any, source: Located | None = None) -> str | None:
        """"Type/id" of the resource a reference points to, if it is in the input."""
        if not isinstance(ref, str) or not ref:
            return None
        if ref in self.urls:
            return self.urls[ref]
        m = _REF.search(ref)
        if m:
            key = f"{m.group(1)}/{m.group(2)}"
            if key in self.index:
                return key
        return None

    @staticmethod
    def ref_id(ref: Any, rtype: str) -> str | None:
        """The id inside a `Type/id` reference (for references to resources not in the input)."""
        if not isinstance(ref, str):
            return None
        m = _REF.search(ref)
        return m.group(2) if m and m.group(1) == rtype else None


def read_fhir(paths: Sequence[Path | str], *, version: str | None = None,
              study_meta: StudyMeta | None = None) -> tuple[Study, FhirReadReport]:
    """Read FHIR Bundles (collection, transaction, searchset), single resources and NDJSON into a Study.

    `paths`: files or folders (.json: one resource or a Bundle; .ndjson: one resource per line). `version`
    ("R4" or "R5") refuses resources that show the other version; None detects it. `study_meta` gives the
    study identity, time zone and visits for FHIR that does not carry them (FHIR written by msc-interop does).

        >>> study, report = read_fhir([Path("out/fhir/bundle.json")])
        >>> report.reconciliation()
        ['AdverseEvent: read 1 = converted 1 + rejected 0 + skipped 0', ...]
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    r = _Reader(version, study_meta)
    with gc_paused():  # parsing makes a dict per resource and element: the collector would rescan them all
        r.collect(paths)
        if sum(r.read.values()) == 0:
            raise InputError(f"no FHIR resources found in {', '.join(map(str, paths))}")
        study = _build(r)
    _finish_counts(r)
    rep = r.report
    rep.version = r.forced or (r.evidence.most_common(1)[0][0] if r.evidence else "")
    rep.notes += fhir_files([Path(p) for p in paths])[1]  # the tool's own reports found in folders, skipped
    if r.duplicates:
        rep.notes.append(f"{r.duplicates} resource(s) appeared more than once (same type and id, e.g. in bundle.json "
                         "and in the NDJSON files): each was read once")
    if not r.forced and len(r.evidence) > 1:
        rep.notes.append(f"the input mixes R4 and R5 content ({dict(r.evidence)}); each resource was read "
                         "with the elements it has")
    for form, n in r.read.items():
        if form in rep.skipped:
            continue
        converted = n if form in SUPPORT_TYPES and form != "ResearchStudy" else r.converted.get(form, 0)
        rep.count(form, n, min(n, converted))
    return study, rep


# --- building the Study ----------------------------------------------------------------------------------

def _build(r: _Reader) -> Study:
    info = _study_info(r)
    meta = r.study_meta
    r.tz = info.get("timezone") or (meta.timezone if meta else None)
    studyid = info.get("studyid") or (meta.studyid if meta else "") or ""
    sites = {k: read_site_info(loc.resource) for k, loc in _typed(r, "ResearchStudy").items()
             if identifier_value(loc.resource, "siteid") is not None}
    own = bool(info.get("own"))

    patients = _patients(r)
    dm, subjects = _dm(r, info, sites, patients, studyid)
    encounters = {k: read_encounter(loc.resource) for k, loc in _typed(r, "Encounter").items()}
    orgs = {k: text(loc.resource.get("name")) for k, loc in _typed(r, "Organization").items()}
    rfstdtc = dict(zip(dm["USUBJID"], dm["RFSTDTC"], strict=True)) if "RFSTDTC" in dm.columns else {}

    datasets: dict[str, pd.DataFrame] = {}
    if len(dm) or "DM" in info.get("datasets", {}):
        datasets["DM"] = dm
    lb = _lb(r, subjects, encounters, orgs, rfstdtc, studyid)
    if lb is not None:
        datasets["LB"] = lb
    ae = _ae(r, subjects, encounters, rfstdtc, studyid)
    if ae is not None:
        datasets["AE"] = ae
    ex = _ex(r, subjects, encounters, rfstdtc, studyid)
    if ex is not None:
        datasets["EX"] = ex
    datasets.update(_supp(r))
    for name, rows in info.get("trial_design", {}).items():
        datasets[name] = pd.DataFrame(rows)
    # subjects met only through references (FHIR written by others): DM rows with what is known
    known = set(datasets["DM"]["USUBJID"]) if "DM" in datasets else set()
    placed = [u for name in ("LB", "AE", "EX") if name in datasets for u in datasets[name]["USUBJID"]]
    extra = [u for u in dict.fromkeys(placed) if u in r.derived_subjects and u not in known]
    if extra and not own:
        add = pd.DataFrame({"STUDYID": studyid, "DOMAIN": "DM", "USUBJID": list(dict.fromkeys(extra)),
                            "SUBJID": list(dict.fromkeys(extra))})
        datasets["DM"] = pd.concat([datasets.get("DM", pd.DataFrame()), add], ignore_index=True)
    for name in ("DM", "LB", "AE", "EX"):
        if name in datasets and not own:
            datasets[name] = _foreign_columns(name, datasets[name])
    for name, spec in info.get("datasets", {}).items():
        if name in datasets:
            datasets[name] = _columns(name, datasets[name], spec)
        elif spec["variables"]:
            datasets[name] = _columns(name, pd.DataFrame(columns=spec["variables"]), spec)
    for name in list(datasets):
        if "STUDYID" in datasets[name].columns:
            col = datasets[name]["STUDYID"]
            datasets[name]["STUDYID"] = col.where(col.map(text) != "", studyid) if not own else col
    study_meta = _meta(r, info, studyid, datasets)
    if r.study_meta is None:
        study_meta = apply_trial_design(study_meta, datasets)
    return Study(study_meta, datasets)


def _typed(r: _Reader, rtype: str) -> dict[str, Located]:
    out = {}
    for loc in r.by_type.get(rtype, []):
        rid = loc.resource.get("id")
        key = f"{rtype}/{rid}" if isinstance(rid, str) else f"{rtype}/{loc.full_url}"
        out.setdefault(key, loc)
    return out


def _study_info(r: _Reader) -> dict[str, Any]:
    main = None
    for loc in r.by_type.get("ResearchStudy", []):
        res = loc.resource
        if identifier_value(res, "studyid") is not None and not res.get("partOf"):
            main = loc
            break
    info: dict[str, Any] = {"own": False, "datasets": {}, "arms": {}, "armcd_by_link": {}}
    if main is not None:
        info.update(read_study_info(main.resource))
        info["own"] = True
        info["main_key"] = f"ResearchStudy/{main.resource.get('id')}"
    r.converted["ResearchStudy"] += len(r.by_type.get("ResearchStudy", []))
    return info


def _meta(r: _Reader, info: dict[str, Any], studyid: str, datasets: dict[str, pd.DataFrame]) -> StudyMeta:
    if r.study_meta is not None:
        meta = r.study_meta
        if studyid and meta.studyid != studyid:
            r.report.notes.append(f"the FHIR study is {studyid!r}, the study definition given is "
                                  f"{meta.studyid!r}: STUDYID comes from the FHIR data")
            meta = StudyMeta(**{**meta.__dict__, "studyid": studyid})
        return meta
    visits = []
    for name in ("LB", "EX"):
        df = datasets.get(name)
        if df is not None and "VISITNUM" in df.columns:
            sub = df[[c for c in ("VISITNUM", "VISIT", "EPOCH") if c in df.columns]]
            visits.append(sub[sub["VISITNUM"].notna()])
    rows = []
    if visits:
        allv = pd.concat(visits, ignore_index=True).drop_duplicates("VISITNUM").sort_values("VISITNUM")
        for rec in allv.to_dict("records"):
            rows.append({"VISITNUM": float(rec["VISITNUM"]), "VISIT": text(rec.get("VISIT")), "protocol_day": 0,
                         "planned_dy": 0, "window_before": 0, "window_after": 0, "EPOCH": text(rec.get("EPOCH")),
                         "aliases": ()})
    arms = [{"armcd": k, "arm": v} for k, v in info.get("arms", {}).items()]
    sites = []
    for loc in r.by_type.get("ResearchStudy", []):
        s = read_site_info(loc.resource)
        if s["siteid"]:
            sites.append({"siteid": s["siteid"], "name": text(loc.resource.get("title")), "country": s["country"]})
    return StudyMeta(studyid=studyid, title=text(info.get("title")), timezone=r.tz or "UTC",
                     indication=info.get("indication", {}), sites=sites, arms=arms,
                     visits=pd.DataFrame(rows, columns=VISIT_COLUMNS),
                     ct_package=mappings.ct_source().get("package_date", ""))


# --- subjects --------------------------------------------------------------------------------------------

def _patients(r: _Reader) -> dict[str, dict[str, Any]]:
    """"Patient/id" -> USUBJID and the DM details of the Patient."""
    out: dict[str, dict[str, Any]] = {}
    derived = 0
    for key, loc in _typed(r, "Patient").items():
        res = loc.resource
        usubjid = identifier_value(res, "usubjid")
        if usubjid is None:
            usubjid = text(res.get("id")) or key
            derived += 1
        out[key] = {"USUBJID": usubjid, "res": res, "loc": loc}
    if derived:
        r.report.notes.append(f"{derived} Patient(s) without a study subject identifier: USUBJID is the "
                              "Patient's id (names and other identifiers are never read)")
    return out


def _dm(r: _Reader, info: dict[str, Any], sites: dict[str, dict[str, str]], patients: dict[str, dict[str, Any]],
        studyid: str) -> tuple[pd.DataFrame, dict[str, str]]:
    gmap = terms.code_map("sex_to_gender")
    tz = r.tz
    rows: list[dict[str, Any]] = []
    overrides: list[dict[str, Any]] = []
    subjects: dict[str, str] = {k: p["USUBJID"] for k, p in patients.items()}
    for loc in r.by_type.get("ResearchSubject", []):
        res = loc.resource
        pref = (res.get("individual") or res.get("subject") or {}).get("reference")
        pkey = r.resolve(pref)
        usubjid = identifier_value(res, "usubjid")
        if usubjid is None and pkey in patients:
            usubjid = patients[pkey]["USUBJID"]
        if usubjid is None:
            pid = r.ref_id(pref, "Patient")
            if pid is None:
                r._reject(loc, "ResearchSubject", "ResearchSubject.individual", "the research subject has no "
                          "Patient and no study subject identifier", pref)
                continue
            usubjid = pid
        if pkey:
            subjects[pkey] = usubjid
        row = {"STUDYID": studyid, "DOMAIN": "DM", "USUBJID": usubjid,
               "SUBJID": identifier_value(res, "subjid") or ""}
        if not info.get("own"):
            idents = res.get("identifier") or []
            row["SUBJID"] = row["SUBJID"] or next((text(i.get("value")) for i in idents if isinstance(i, dict)), "")
        period = res.get("period") or {}
        for var, name in (("RFICDTC", "start"), ("RFPENDTC", "end")):
            orig = primitive_original(period, name, "sdtm_dtc")
            row[var] = orig if orig is not None else _dtc(period.get(name), tz)
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
        patient = patients.get(pkey or "", {}).get("res", {})
        row.update(_patient_fields(patient, gmap, tz))
        rows.append(row)
        overrides.append(read_carried(res, tz))
        r.converted["ResearchSubject"] += 1
    if not rows:  # FHIR without research subjects: one DM record per Patient
        for p in patients.values():
            row = {"STUDYID": studyid, "DOMAIN": "DM", "USUBJID": p["USUBJID"], "SUBJID": p["USUBJID"]}
            row.update(_patient_fields(p["res"], gmap, tz))
            rows.append(row)
            overrides.append({})
    r.converted["Patient"] += len(patients)
    dm = pd.DataFrame(rows)
    dm = _apply_overrides(dm, overrides)
    return dm, subjects


def _patient_fields(patient: dict[str, Any], gmap: terms.CodeMap, tz: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    g = patient.get("gender")
    out["SEX"] = gmap.cdisc(g) or "" if g else ""
    orig = primitive_original(patient, "birthDate", "sdtm_dtc")
    out["BRTHDTC"] = orig if orig is not None else _dtc(patient.get("birthDate"), None)
    orig = primitive_original(patient, "deceasedDateTime", "sdtm_dtc")
    out["DTHDTC"] = orig if orig is not None else _dtc(patient.get("deceasedDateTime"), tz)
    dead = "deceasedDateTime" in patient or "_deceasedDateTime" in patient or patient.get("deceasedBoolean") is True
    out["DTHFL"] = "Y" if dead else ""
    return out


def _dtc(value: Any, tz: str | None) -> str:
    if value is None:
        return ""
    return fhir_value_to_dtc(str(value), tz)


def _apply_overrides(df: pd.DataFrame, overrides: list[dict[str, Any]]) -> pd.DataFrame:
    """Carried values win over decoded ones (None = the variable is empty in this record)."""
    if not overrides or not any(overrides):
        return df
    updates: dict[str, dict[int, Any]] = defaultdict(dict)
    for i, over in enumerate(overrides):
        for k, v in over.items():
            updates[k][i] = v
    df = df.copy()
    for k, vals in updates.items():
        col = df[k].astype(object).tolist() if k in df.columns else [None] * len(df)
        for i, v in vals.items():
            col[i] = v
        df[k] = pd.Series(col, index=df.index, dtype=object)
    return df


# --- LB ----------------------------------------------------------------------------------------------------

def _loinc_index() -> dict[str, str]:
    out: dict[str, str] = {}
    for t in mappings.lab_tests().values():
        if t.loinc:
            out.setdefault(t.loinc, t.testcd)
        for _u, code in t.loinc_by_unit:
            out.setdefault(code, t.testcd)
    return out


def _ucum_to_cdisc() -> dict[str, str]:
    out: dict[str, str] = {}
    for u in mappings.units().values():
        out.setdefault(u.ucum, u.cdisc)
    for d in mappings.exposure().get("dose_units", []):
        out.setdefault(d["ucum"], d["cdisc"])
    return out


def _cdisc_unit(system: Any, code: Any, unit: Any) -> str | None:
    if system == terms.system("ucum") and code:
        found = _ucum_to_cdisc().get(str(code))
        if found:
            return found
    for candidate in (unit, code):
        if candidate:
            n = mappings.normalize_unit(pd.Series([str(candidate)], dtype=object)).iloc[0]
            if isinstance(n, str) and n:
                return n
    return None


def _lb(r: _Reader, subjects: dict[str, str], encounters: dict[str, dict[str, Any]], orgs: dict[str, str],
        rfstdtc: dict[str, str], studyid: str) -> pd.DataFrame | None:
    if not r.flat_obs:
        return None
    flat_obs, r.flat_obs = r.flat_obs, []
    r.obs_supp = [rec for t in flat_obs for rec in t[_FLAT_SUPP]]
    tz = r.tz
    patients = {k: v for k, v in subjects.items()}
    # subjects, per distinct reference
    subj_of: dict[Any, tuple[str | None, str]] = {}
    for ref, strict in {(t[_FLAT_SUBJECT] if isinstance(t[_FLAT_SUBJECT], str) else None, t[_FLAT_STRICT])
                        for t in flat_obs}:
        subj_of[(ref, strict)] = _subject_ref(r, ref, strict, patients)
    rows_out: list[tuple | dict[str, Any]] = []  # tuples (_OWN_LB_COLUMNS) for msc-interop's own records
    over: list[dict[str, Any]] = []
    own_rows: list[int] = []
    foreign = _ForeignLookups()
    imap = terms.code_map("nrind_to_interpretation")
    derived_subject = 0
    memo = _LbMemo(r, encounters, orgs, tz)
    for rec in map(_FlatRecord._make, flat_obs):
        loc: Located = rec.loc
        usubjid, problem = subj_of[(rec.subject if isinstance(rec.subject, str) else None, rec.strict)]
        if usubjid is None:
            r._reject(loc, "Observation", "Observation.subject", problem, rec.subject)
            continue
        if problem == "derived":
            derived_subject += 1
        if rec.status in ("entered-in-error", "cancelled"):
            r._reject(loc, "Observation", "Observation.status", f"status {rec.status}: not a result", rec.status)
            continue
        enc = memo.encounter(rec.encounter)
        if rec.encounter and not enc and rec.strict:
            r.report.add("Observation", loc.file, loc.position, "Observation.encounter", rec.encounter,
                         f"converted without a visit: encounter reference {rec.encounter!r} does not resolve")
        lbdtc = rec.effective_orig if rec.effective_orig is not None else memo.dtc(rec.effective)
        nrind = text(rec.interpretation_text)
        if not nrind and rec.interpretation_codes:
            nrind = imap.cdisc(rec.interpretation_codes[0]) or ""
        if rec.cdisc_code is not None or rec.seq is not None:  # written by msc-interop: exact decoding
            seq = text(rec.seq).rsplit("/", 1)[-1] if rec.seq is not None else ""
            quantity = rec.vkind == "q"
            own_rows.append(len(rows_out))
            rows_out.append((
                studyid, "LB", usubjid, enc.get("VISITNUM"), enc.get("VISIT", ""), enc.get("EPOCH", ""),
                memo.lab_name(rec.performer), lbdtc, nrind, int(seq) if seq.lstrip("-").isdigit() else None,
                rec.cdisc_code_text, rec.cdisc_display_text, rec.categories[0] if rec.categories else "",
                rec.qresult_text if quantity and rec.qresult_text is not None else
                lab.result_text(rec.vkind, rec.qvalue, rec.qorig, rec.qcomp, rec.vtext),
                rec.qunit_text if quantity else "", rec.rr_low_text, rec.rr_high_text, rec.loinc_code_text,
                text(rec.specimen_text)))
        else:
            row: dict[str, Any] = {"STUDYID": studyid, "DOMAIN": "LB", "USUBJID": usubjid,
                                   "VISITNUM": enc.get("VISITNUM"), "VISIT": enc.get("VISIT", ""),
                                   "EPOCH": enc.get("EPOCH", ""), "LBNAM": memo.lab_name(rec.performer),
                                   "LBDTC": lbdtc, "LBNRIND": nrind}
            problem = _foreign_lab(rec, row, foreign.loinc_idx, foreign.by_nci)
            if problem:
                r._reject(loc, "Observation", problem[0], problem[1], problem[2])
                continue
            rows_out.append(row)
        over.append(rec.carried or {})
    r.converted["Observation"] += len(rows_out)
    if derived_subject:
        r.report.notes.append(f"{derived_subject} Observation(s) name their subject by a reference to a Patient "
                              "that is not in the input: USUBJID is that Patient's id")
    if not rows_out:
        return pd.DataFrame(columns=["STUDYID", "DOMAIN", "USUBJID", "LBSEQ", "LBTESTCD", "LBTEST"])
    df = _lb_frame(rows_out)
    df = _apply_overrides(df, over)
    own = np.zeros(len(df), dtype=bool)
    own[own_rows] = True
    # derived standard results (msc-interop's own records; others were converted above)
    if own.any():
        std = lab.derive_standard(df["LBORRES"], df["LBORRESU"], df["LBORNRLO"], df["LBORNRHI"])
        for c in ("LBSTRESC", "LBSTRESN", "LBSTRESU", "LBSTNRLO", "LBSTNRHI"):
            if c not in df.columns:
                df[c] = pd.Series([np.nan if c in ("LBSTRESN", "LBSTNRLO", "LBSTNRHI") else ""] * len(df),
                                  dtype=object)
            carried = np.array([c in o for o in over], dtype=bool)
            take = own & ~carried
            df.loc[take, c] = std.loc[take, c]
    df = _study_days(df, "LBDTC", "LBDY", over, rfstdtc)
    if "LBSEQ" not in df.columns or df["LBSEQ"].isna().any():
        df = _assign_seq(df, "LBSEQ", ["USUBJID", "LBDTC", "LBTESTCD"])
    return df


_OWN_LB_COLUMNS = ["STUDYID", "DOMAIN", "USUBJID", "VISITNUM", "VISIT", "EPOCH", "LBNAM", "LBDTC", "LBNRIND",
                   "LBSEQ", "LBTESTCD", "LBTEST", "LBCAT", "LBORRES", "LBORRESU", "LBORNRLO", "LBORNRHI",
                   "LBLOINC", "LBSPEC"]


def _lb_frame(rows: list[tuple | dict[str, Any]]) -> pd.DataFrame:
    """The LB rows as a DataFrame, as pandas makes it from the rows as dicts.

    Why tuples: when every row is msc-interop's own (the same keys in the same order), pandas builds the same
    frame from tuples (both go through one object array per column) without a dict per row.
    """
    if all(type(row) is tuple for row in rows):
        return pd.DataFrame(rows, columns=_OWN_LB_COLUMNS)
    return pd.DataFrame([dict(zip(_OWN_LB_COLUMNS, row, strict=True)) if type(row) is tuple else row
                         for row in rows])


_FlatRecord = namedtuple("_FlatRecord", [*lab.FLAT_COLUMNS, "loc"])  # type: ignore[misc]
_FLAT_SUBJECT, _FLAT_STRICT, _FLAT_SUPP = (lab.FLAT_COLUMNS.index(c) for c in ("subject", "strict", "supp"))


class _ForeignLookups:
    """The LOINC and NCI look-ups for Observations written by others, made when the first one needs them."""

    @functools.cached_property
    def loinc_idx(self) -> dict[str, str]:
        return _loinc_index()

    @functools.cached_property
    def by_nci(self) -> dict[str, str]:
        return terms.ct_by_nci("LBTESTCD")


class _LbMemo:
    """Per distinct value, what an LB row takes from references and dates: a big file repeats a few thousand
    encounters, performers and dates over a million Observations."""

    def __init__(self, r: _Reader, encounters: dict[str, dict[str, Any]], orgs: dict[str, str], tz: str | None):
        self.r, self.encounters, self.orgs, self.tz = r, encounters, orgs, tz
        self.encounter_of: dict[str, dict[str, Any]] = {}
        self.name_of: dict[tuple, str] = {}
        self.dtc_of: dict[str, str] = {}

    def encounter(self, ref: Any) -> dict[str, Any]:
        if not isinstance(ref, str):
            return self.encounters.get(self.r.resolve(ref) or "", {})
        found = self.encounter_of.get(ref)
        if found is None:
            found = self.encounter_of[ref] = self.encounters.get(self.r.resolve(ref) or "", {})
        return found

    def lab_name(self, performers: list[tuple[Any, Any]]) -> str:
        try:
            key = tuple(performers)
            found = self.name_of.get(key)
        except TypeError:  # a reference or display that is not a string (malformed input): not remembered
            return _lab_name(self.r, performers, self.orgs)
        if found is None:
            found = self.name_of[key] = _lab_name(self.r, performers, self.orgs)
        return found

    def dtc(self, value: Any) -> str:
        if type(value) is not str:
            return _dtc(value, self.tz)
        found = self.dtc_of.get(value)
        if found is None:
            found = self.dtc_of[value] = _dtc(value, self.tz)
        return found


def _lab_name(r: _Reader, performers: list[tuple[Any, Any]], orgs: dict[str, str]) -> str:
    """LBNAM: the first performer that is an Organization (a practitioner's name is never read)."""
    for ref, display in performers:
        key = r.resolve(ref) or (ref if isinstance(ref, str) else "")
        if key.startswith("Organization/") or "/Organization/" in key:
            return text(display) or orgs.get(key, "")
    return ""


def _subject_ref(r: _Reader, ref: str | None, strict: bool, subjects: dict[str, str]) -> tuple[str | None, str]:
    key = r.resolve(ref)
    if key is not None and key in subjects:
        return subjects[key], ""
    if not ref:
        return None, "no subject: the record cannot be placed with a study subject"
    if key is not None and key.startswith("Group/"):
        return None, "the subject is a Group, not one study subject"
    if strict:
        return None, f"dangling reference: subject {ref!r} is not in the Bundle"
    pid = r.ref_id(ref, "Patient")
    if pid is None:
        return None, f"subject reference {ref!r} is not a Patient reference"
    r.derived_subjects[pid] = None
    return pid, "derived"


def _foreign_lab(rec: Any, row: dict[str, Any], loinc_idx: dict[str, str],
                 by_nci: dict[str, str]) -> tuple[str, str, Any] | None:
    """Fill an LB row from an Observation written by others; (field, reason, value) when it cannot be placed."""
    if rec.lab_category is False:
        return ("Observation.category", "not a laboratory Observation (its category is not 'laboratory')",
                "")
    testcd = None
    if rec.ncit_code and rec.ncit_code in by_nci:
        testcd = by_nci[rec.ncit_code]
    for code in rec.loinc_codes or ():
        if testcd is None and code in loinc_idx:
            testcd = loinc_idx[code]
    if testcd is None:
        codes = [f"LOINC {c}" for c in rec.loinc_codes or ()] + list(rec.other_codes or ())
        shown = ", ".join(codes) or "no coding"
        return ("Observation.code", f"unknown code: {shown} ({text(rec.code_text)}) is not in "
                "mappings/lab_tests.yaml or the CDISC LBTESTCD terminology", shown)
    test = mappings.lab_tests().get(testcd)
    row["LBTESTCD"] = testcd
    row["LBTEST"] = test.test if test else _ct_test(testcd)
    row["LBCAT"] = test.category if test else ""
    row["LBLOINC"] = next((c for c in rec.loinc_codes or () if c), "") or ""
    row["LBSPEC"] = text(rec.specimen_text) or (test.specimen if test else "")
    if rec.vkind == "q":
        if rec.qvalue is None:
            return ("Observation.valueQuantity", "no value: valueQuantity has no number", "")
        unit = _cdisc_unit(rec.qsystem, rec.qcode, rec.qunit) if (rec.qcode or rec.qunit) else ""
        if unit is None:
            return ("Observation.valueQuantity.unit", f"unknown unit {rec.qunit or rec.qcode!r}: not in "
                    "mappings/units.yaml", rec.qunit or rec.qcode)
        value = float(rec.qvalue)
        row["LBORRES"] = text(rec.qcomp) + number_back(rec.qvalue)
        row["LBORRESU"] = unit
        conv = lab.standard_conversion(testcd, unit) if test else (1.0, unit)
        if conv is None:
            return ("Observation.valueQuantity.unit", f"unit {unit!r} cannot be converted to the standard unit "
                    f"{test.standard_unit!r} of {testcd} (mappings/lab_tests.yaml)", unit)
        factor, std_unit = conv
        decimals = test.decimals if test else 6
        stresn = round(value * factor, decimals) if not rec.qcomp else np.nan
        row["LBSTRESN"] = stresn
        row["LBSTRESC"] = float_text(stresn) if not rec.qcomp else text(rec.qcomp) + float_text(
            round(value * factor, decimals))
        row["LBSTRESU"] = std_unit
        for name, val in (("LO", rec.rr_low), ("HI", rec.rr_high)):
            row[f"LBORNR{name}"] = number_back(val) if val is not None else ""
            row[f"LBSTNR{name}"] = round(float(val) * factor, decimals) if val is not None else np.nan
    elif rec.vkind in ("cc", "s"):
        row["LBORRES"] = text(rec.vtext)
        row["LBSTRESC"] = text(rec.vtext)
        row["LBORRESU"] = row["LBSTRESU"] = ""
    elif rec.absent:
        row["LBORRES"] = ""
        row["LBSTAT"] = "NOT DONE"
        row["LBREASND"] = text(rec.absent)
    elif rec.vkind:
        return ("Observation.value[x]", f"a {rec.vkind[6:]} result has no LB form here", rec.vkind[6:])
    else:
        return ("Observation.value[x]", "no value and no dataAbsentReason", "")
    return None


def _ct_test(testcd: str) -> str:
    term = mappings.codelist("LBTESTCD").term(testcd)
    if term is None:
        return testcd
    by = {t.nci_code: t.value for t in mappings.codelist("LBTEST").terms}
    return by.get(term.nci_code, testcd)


def _study_days(df: pd.DataFrame, dtc: str, dy: str, over: list[dict[str, Any]], rfstdtc: dict[str, str]
                ) -> pd.DataFrame:
    derived = study_day(df[dtc].astype(object), df["USUBJID"].map(lambda u: rfstdtc.get(u, "")).astype(object))
    carried = np.array([dy in o for o in over], dtype=bool) if over else np.zeros(len(df), bool)
    if dy in df.columns:
        current = pd.to_numeric(df[dy], errors="coerce").astype("Int64")
        df[dy] = current.where(carried, derived)
    else:
        df[dy] = derived
    return df


def _assign_seq(df: pd.DataFrame, col: str, order: list[str]) -> pd.DataFrame:
    """--SEQ for records that have none: 1.. per subject, by subject, date and code (deterministic)."""
    df = df.copy()
    keys = [c for c in order if c in df.columns]
    df = df.sort_values(keys, kind="stable").reset_index(drop=True)
    df[col] = df.groupby("USUBJID", sort=False).cumcount() + 1
    return df


# --- AE -----------------------------------------------------------------------------------------------------

def _ae(r: _Reader, subjects: dict[str, str], encounters: dict[str, dict[str, Any]], rfstdtc: dict[str, str],
        studyid: str) -> pd.DataFrame | None:
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
        usubjid, problem = _subject_ref(r, (res.get("subject") or {}).get("reference"), strict, subjects)
        if usubjid is None:
            r._reject(loc, "AdverseEvent", "AdverseEvent.subject", problem, (res.get("subject") or {}).get("reference"))
            continue
        if res.get("actuality") == "potential":
            r._reject(loc, "AdverseEvent", "AdverseEvent.actuality", "a potential adverse event (near miss) is "
                      "not an AE record", "potential")
            continue
        if res.get("status") == "entered-in-error":
            r._reject(loc, "AdverseEvent", "AdverseEvent.status", "entered-in-error", "entered-in-error")
            continue
        row: dict[str, Any] = {"STUDYID": studyid, "DOMAIN": "AE", "USUBJID": usubjid}
        seq = None
        idents = res.get("identifier")
        for ident in ([idents] if isinstance(idents, dict) else idents or []):
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
                if cond is not None:
                    event = cond.resource.get("code")
                    break
        row.update(_meddra(event or {}))
        if not row.get("AETERM"):
            r._reject(loc, "AdverseEvent", "AdverseEvent.event", "no event term (event/code has no text or coding)",
                      "")
            continue
        row["AECAT"] = next((text(c.get("text")) for c in res.get("category") or []
                             if isinstance(c, dict) and not c.get("coding") and c.get("text")), "")
        # dates
        if "date" in res or "_date" in res:
            row["AESTDTC"] = _prim_dtc(res, "date", tz)
        elif "occurrenceDateTime" in res or "_occurrenceDateTime" in res:
            row["AESTDTC"] = _prim_dtc(res, "occurrenceDateTime", tz)
        elif isinstance(res.get("occurrencePeriod"), dict):
            row["AESTDTC"] = _prim_dtc(res["occurrencePeriod"], "start", tz)
        end_period = res.get("occurrencePeriod")
        for e in res.get("extension") or []:
            if e.get("url") == terms.ext_url("ae_occurrence_r4"):
                end_period = e.get("valuePeriod")
        row["AEENDTC"] = _prim_dtc(end_period, "end", tz) if isinstance(end_period, dict) else ""
        # codes
        row["AESER"] = _cdisc_of(res.get("seriousness"), maps["AESER"])
        sev = res.get("severity")
        for e in res.get("extension") or []:
            if e.get("url") == terms.ext_url("ae_severity_r5"):
                sev = e.get("valueCodeableConcept")
        row["AESEV"] = _cdisc_of(sev, maps["AESEV"])
        outcome = res.get("outcome")
        row["AEOUT"] = _cdisc_of(outcome[0] if isinstance(outcome, list) and outcome else outcome, maps["AEOUT"])
        row["AEREL"] = _relatedness(res)
        enc = encounters.get(r.resolve((res.get("encounter") or {}).get("reference")) or "", {})
        if enc:
            row["VISITNUM"], row["VISIT"] = enc.get("VISITNUM"), enc.get("VISIT", "")
        rows.append(row)
        over.append(read_carried(res, tz))
        r.converted["AdverseEvent"] += 1
    if not rows:
        return pd.DataFrame(columns=["STUDYID", "DOMAIN", "USUBJID", "AESEQ", "AETERM"])
    df = _apply_overrides(pd.DataFrame(rows), over)
    df = _study_days(df, "AESTDTC", "AESTDY", over, rfstdtc)
    df = _study_days(df, "AEENDTC", "AEENDY", over, rfstdtc)
    if df["AESEQ"].isna().any():
        df = _assign_seq(df, "AESEQ", ["USUBJID", "AESTDTC", "AETERM"])
    return df


def _prim_dtc(parent: dict[str, Any], name: str, tz: str | None) -> str:
    orig = primitive_original(parent, name, "sdtm_dtc")
    return orig if orig is not None else _dtc(parent.get(name), tz)


def _meddra(event: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"AETERM": text(event.get("text"))}
    level_url = terms.ext_url("meddra_level")
    by_level = {lv: (t, c) for lv, t, c in MEDDRA_LEVELS}
    untagged = []
    for c in event.get("coding") or []:
        if not isinstance(c, dict):
            continue
        level = next((e.get("valueCode") for e in c.get("extension") or [] if e.get("url") == level_url), None)
        if level in by_level and c.get("system") == terms.system("meddra"):
            term_var, code_var = by_level[level]
            out[term_var] = text(c.get("display"))
            code = text(c.get("code"))
            out[code_var] = int(code) if code.isdigit() else None
        else:
            untagged.append(c)
    for c in untagged:
        if c.get("system") == terms.system("meddra") and "AEDECOD" not in out:
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


def _relatedness(res: dict[str, Any]) -> str:
    for s in res.get("suspectEntity") or []:
        caus = s.get("causality")
        for c in (caus if isinstance(caus, list) else [caus] if isinstance(caus, dict) else []):
            if c.get("productRelatedness"):
                return text(c["productRelatedness"])
            er = c.get("entityRelatedness")
            if isinstance(er, dict):
                return text(er.get("text")) or next((text(x.get("display") or x.get("code"))
                                                     for x in er.get("coding") or []), "")
    return ""


# --- EX -----------------------------------------------------------------------------------------------------

def _ex(r: _Reader, subjects: dict[str, str], encounters: dict[str, dict[str, Any]], rfstdtc: dict[str, str],
        studyid: str) -> pd.DataFrame | None:
    items = r.by_type.get("MedicationAdministration", [])
    if not items:
        return None
    tz = r.tz
    rows, over = [], []
    route_by_snomed = {str(x["snomed"]): x["cdisc"] for x in mappings.exposure().get("routes", []) if x.get("snomed")}
    route_by_nci = terms.ct_by_nci("ROUTE")
    frm_by_nci = terms.ct_by_nci("FRM")
    for loc in items:
        res = loc.resource
        strict = strict_bundle(loc)
        ref = (res.get("subject") or {}).get("reference")
        usubjid, problem = _subject_ref(r, ref, strict, subjects)
        if usubjid is None:
            r._reject(loc, "MedicationAdministration", "MedicationAdministration.subject", problem, ref)
            continue
        if res.get("status") in ("not-done", "entered-in-error"):
            r._reject(loc, "MedicationAdministration", "MedicationAdministration.status",
                      f"status {res['status']}: no exposure took place", res["status"])
            continue
        own = False
        row: dict[str, Any] = {"STUDYID": studyid, "DOMAIN": "EX", "USUBJID": usubjid}
        for ident in res.get("identifier") or []:
            if ident.get("system") == terms.id_system("seq"):
                seq = text(ident.get("value")).rsplit("/", 1)[-1]
                row["EXSEQ"] = int(seq) if seq.lstrip("-").isdigit() else None
                own = True
        med = _medication(r, res)
        if med is None:
            r._reject(loc, "MedicationAdministration", "MedicationAdministration.medication",
                      "no medication: neither a code nor a Medication that resolves", "")
            continue
        code = med.get("code") or {}
        row["EXTRT"] = text(code.get("text")) or next((text(c.get("display") or c.get("code"))
                                                       for c in code.get("coding") or []), "")
        form = med.get("form") or med.get("doseForm") or {}
        row["EXDOSFRM"] = text(form.get("text")) if own else (
            next((frm_by_nci[c.get("code")] for c in form.get("coding") or []
                  if c.get("system") == terms.system("ncit") and c.get("code") in frm_by_nci), "")
            or text(form.get("text")))
        row["EXLOT"] = text((med.get("batch") or {}).get("lotNumber"))
        dosage = res.get("dosage") or {}
        dose = dosage.get("dose") or {}
        row["EXDOSE"] = float(dose["value"]) if isinstance(dose.get("value"), int | float) else np.nan
        if own:
            row["EXDOSU"] = text(dose.get("unit"))
        else:
            row["EXDOSU"] = (_cdisc_unit(dose.get("system"), dose.get("code"), dose.get("unit"))
                             or text(dose.get("unit") or dose.get("code"))) if dose else ""
        route = dosage.get("route") or {}
        if own:
            row["EXROUTE"] = text(route.get("text"))
        else:
            found = ""
            for c in route.get("coding") or []:
                if c.get("system") == terms.system("ncit") and c.get("code") in route_by_nci:
                    found = route_by_nci[c["code"]]
                elif c.get("system") == terms.system("snomed") and str(c.get("code")) in route_by_snomed:
                    found = found or route_by_snomed[str(c["code"])]
            row["EXROUTE"] = found or text(route.get("text")) or next(
                (text(c.get("display")) for c in route.get("coding") or []), "")
        period = res.get("effectivePeriod") or res.get("occurencePeriod")
        point_key = next((k for k in ("effectiveDateTime", "occurenceDateTime", "_effectiveDateTime",
                                      "_occurenceDateTime") if k in res), None)
        if isinstance(period, dict):
            row["EXSTDTC"] = _prim_dtc(period, "start", tz)
            row["EXENDTC"] = _prim_dtc(period, "end", tz)
        elif point_key:
            name = point_key.lstrip("_")
            row["EXSTDTC"] = row["EXENDTC"] = _prim_dtc(res, name, tz)
        else:
            row["EXSTDTC"] = row["EXENDTC"] = ""
        enc_ref = (res.get("context") or res.get("encounter") or {}).get("reference")
        enc = encounters.get(r.resolve(enc_ref) or "", {})
        row["VISITNUM"], row["VISIT"], row["EPOCH"] = enc.get("VISITNUM"), enc.get("VISIT", ""), enc.get("EPOCH", "")
        rows.append(row)
        over.append(read_carried(res, tz))
        r.converted["MedicationAdministration"] += 1
    if not rows:
        return pd.DataFrame(columns=["STUDYID", "DOMAIN", "USUBJID", "EXSEQ", "EXTRT"])
    df = _apply_overrides(pd.DataFrame(rows), over)
    df = _study_days(df, "EXSTDTC", "EXSTDY", over, rfstdtc)
    df = _study_days(df, "EXENDTC", "EXENDY", over, rfstdtc)
    if "EXSEQ" not in df.columns or df["EXSEQ"].isna().any():
        df = _assign_seq(df, "EXSEQ", ["USUBJID", "EXSTDTC", "EXTRT"])
    return df


def _medication(r: _Reader, res: dict[str, Any]) -> dict[str, Any] | None:
    if isinstance(res.get("medicationCodeableConcept"), dict):
        return {"code": res["medicationCodeableConcept"]}
    ref = (res.get("medicationReference") or {}).get("reference")
    med = res.get("medication")
    if isinstance(med, dict):
        if isinstance(med.get("concept"), dict):
            return {"code": med["concept"]}
        ref = (med.get("reference") or {}).get("reference")
    if not ref:
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


# --- SUPP-- and columns -------------------------------------------------------------------------------------

def _supp(r: _Reader) -> dict[str, pd.DataFrame]:
    recs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    found = [rec for items in r.by_type.values() for loc in items for rec in read_supplemental(loc.resource)]
    for rec in found + r.obs_supp:
        name = rec.pop("_dataset", None) or "SUPP" + text(rec.get("RDOMAIN"))
        recs[name].append(rec)
    for lst in recs.values():
        lst.sort(key=lambda x: x.get("_row") or 0)
        for x in lst:
            x.pop("_row", None)
    return {name: pd.DataFrame(lst) for name, lst in recs.items()}


def _columns(name: str, df: pd.DataFrame, spec: dict[str, list[str]]) -> pd.DataFrame:
    """The dataset's own variables in their order (written by msc-interop in the sdtm-dataset extension)."""
    meta = mappings.sdtm_domain(name)
    known = meta.by_name if meta else {}
    numeric = set(spec.get("numeric", []))
    out = {}
    n = len(df)
    for col in spec["variables"]:
        if col in df.columns:
            s = df[col]
            if s.dtype == object:
                s = s.where(s.notna(), None)
            out[col] = s
            if col in numeric or (known.get(col) is not None and known[col].type == "Num"):
                out[col] = pd.to_numeric(s, errors="coerce")
            elif s.dtype == object:
                out[col] = s.map(lambda x: "" if x is None else x)
        elif col in numeric or (known.get(col) is not None and known[col].type == "Num"):
            out[col] = pd.Series([np.nan] * n, dtype="float64")
        else:
            out[col] = pd.Series([""] * n, dtype=object)
    return pd.DataFrame(out, index=df.index).reset_index(drop=True)


def _foreign_columns(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """FHIR written by others: the SDTM metadata's Req variables, then what was found, in metadata order."""
    meta = mappings.sdtm_domain(name)
    cols = list(df.columns)
    if meta:
        for v in meta.variables:
            if v.core == "Req" and v.name not in cols:
                cols.append(v.name)
    spec = {"variables": cols, "numeric": []}
    return _columns(name, df.reindex(columns=[c for c in cols if c in df.columns]), spec)


def _finish_counts(r: _Reader) -> None:
    """Resource types with no SDTM home are skipped (counted apart from rejects)."""
    for rtype, n in r.read.items():
        if rtype in RECORD_TYPES or rtype in SUBJECT_TYPES or rtype in SUPPORT_TYPES or rtype == "(unreadable)":
            continue
        r.report.skipped[rtype] = n
