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
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from msc_interop.errors import InputError
from msc_interop.fhir.common import text
from msc_interop.fhir.io import Located, ReadProblem, iter_resources
from msc_interop.fhir.read_common import FhirReadReport, ReadContext, columns, foreign_columns, strict_bundle
from msc_interop.fhir.resources.adverse_events import read_adverse_events
from msc_interop.fhir.resources.encounters import read_encounter
from msc_interop.fhir.resources.exposure import read_medication_administrations
from msc_interop.fhir.resources.lab import Flattener, read_observations
from msc_interop.fhir.resources.study import read_sites, read_study, read_study_meta
from msc_interop.fhir.resources.subjects import read_dm, read_patients
from msc_interop.fhir.resources.supp import read_supp_datasets
from msc_interop.fhir.versions import evident_version, get_version
from msc_interop.inputs.kinds import fhir_files
from msc_interop.runtime import gc_paused
from msc_interop.study import Study, StudyMeta
from msc_interop.trial_design import apply_trial_design

__all__ = ["FhirReadReport", "read_fhir"]

RECORD_TYPES = ("Observation", "AdverseEvent", "MedicationAdministration")
SUBJECT_TYPES = ("Patient", "ResearchSubject")
SUPPORT_TYPES = ("ResearchStudy", "Encounter", "Organization", "Specimen", "Medication")
_NO_RESOURCE: dict[str, Any] = {}


@functools.cache
def is_fhir_type(rtype: str) -> bool:
    """True for a resource type of FHIR R4B or R5 (as fhir.resources knows them)."""
    if not re.fullmatch(r"[A-Z][A-Za-z]+", rtype):
        return False
    for package in ("fhir.resources", "fhir.resources.R4B"):
        if importlib.util.find_spec(f"{package}.{rtype.lower()}") is not None:
            return True
    return False


class _Reader(ReadContext):
    """A read: the resources collected from the files (by type, id and fullUrl) and what was counted."""

    def __init__(self, version: str | None, study_meta: StudyMeta | None):
        super().__init__(study_meta)
        self.forced = get_version(version).name if version else None
        self.read: Counter[str] = Counter()
        self.flattener = Flattener()
        self.evidence: Counter[str] = Counter()
        self.duplicates = 0

    # --- collecting ------------------------------------------------------------------------------------
    def collect(self, files: Sequence[Path]) -> None:
        """Every resource of the files, indexed; Observations kept as flat records (lab.Flattener)."""
        for item in iter_resources(files):
            if isinstance(item, ReadProblem):
                self.read["(unreadable)"] += 1
                where = f"{item.where} {item.position}"
                self.report.add("(unreadable)", item.file, item.position, where, "", item.message, code="REJ-FHIR-001")
                continue
            res = item.resource
            rtype = res.get("resourceType")
            if not isinstance(rtype, str) or not rtype:
                self.read["(unreadable)"] += 1
                self.report.add("(unreadable)", item.file, item.position, f"{item.where} {item.position}", "",
                                "not a FHIR resource: no resourceType", code="REJ-FHIR-001")
                continue
            rid = res.get("id")
            if isinstance(rid, str) and f"{rtype}/{rid}" in self.index:
                # the same resource twice (a to-fhir folder holds bundle.json and the NDJSON files): once is read
                self.duplicates += 1
                continue
            self.read[rtype] += 1
            if not is_fhir_type(rtype):
                self.reject(item, rtype, "resourceType", f"{rtype!r} is not a FHIR R4 or R5 resource type",
                            rtype, code="REJ-FHIR-002")
                continue
            evident, tells = evident_version(res)
            if evident:
                self.evidence[evident] += 1
            if self.forced and evident and evident != self.forced:
                self.reject(item, rtype, "resourceType",
                            f"looks like FHIR {evident} (has {', '.join(f'{rtype}.{t}' for t in tells)}) but is "
                            f"read as {self.forced}; read it with --fhir-version {evident} or let the version "
                            "be detected", code="REJ-FHIR-002")
                continue
            if rtype == "Observation":
                # keep where it came from, not the resource itself (a million dicts would stay in memory)
                light = Located(_NO_RESOURCE, item.file, item.position, item.where, item.bundle_type,
                                item.full_url)
                flat = self.flattener.flatten(res, strict_bundle(item))
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
    files, skipped = fhir_files([Path(p) for p in paths])  # folders listed once, the tool's own reports left out
    r = _Reader(version, study_meta)
    with gc_paused():  # parsing makes a dict per resource and element: the collector would rescan them all
        r.collect(files)
        if sum(r.read.values()) == 0:
            raise InputError(f"no FHIR resources found in {', '.join(map(str, paths))}")
        study = _build(r)
    _finish_counts(r)
    rep = r.report
    rep.version = r.forced or (r.evidence.most_common(1)[0][0] if r.evidence else "")
    rep.notes += skipped
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
    info = read_study(r)
    meta = r.study_meta
    r.tz = info.get("timezone") or (meta.timezone if meta else None)
    studyid = info.get("studyid") or (meta.studyid if meta else "") or ""
    sites = read_sites(r)
    own = bool(info.get("own"))

    patients = read_patients(r)
    dm, subjects = read_dm(r, info, sites, patients, studyid)
    encounters = {k: read_encounter(loc.resource) for k, loc in r.typed("Encounter").items()}
    orgs = {k: text(loc.resource.get("name")) for k, loc in r.typed("Organization").items()}
    rfstdtc = dict(zip(dm["USUBJID"], dm["RFSTDTC"], strict=True)) if "RFSTDTC" in dm.columns else {}

    datasets: dict[str, pd.DataFrame] = {}
    if len(dm) or "DM" in info.get("datasets", {}):
        datasets["DM"] = dm
    lb = read_observations(r, subjects, encounters, orgs, rfstdtc, studyid)
    if lb is not None:
        datasets["LB"] = lb
    ae = read_adverse_events(r, subjects, encounters, rfstdtc, studyid)
    if ae is not None:
        datasets["AE"] = ae
    ex = read_medication_administrations(r, subjects, encounters, rfstdtc, studyid)
    if ex is not None:
        datasets["EX"] = ex
    datasets.update(read_supp_datasets(r))
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
            datasets[name] = foreign_columns(name, datasets[name])
    for name, spec in info.get("datasets", {}).items():
        if name in datasets:
            datasets[name] = columns(name, datasets[name], spec)
        elif spec["variables"]:
            datasets[name] = columns(name, pd.DataFrame(columns=spec["variables"]), spec)
    for name in list(datasets):
        if "STUDYID" in datasets[name].columns:
            col = datasets[name]["STUDYID"]
            datasets[name]["STUDYID"] = col.where(col.map(text) != "", studyid) if not own else col
    study_meta = read_study_meta(r, info, studyid, datasets)
    if r.study_meta is None:
        study_meta = apply_trial_design(study_meta, datasets)
    return Study(study_meta, datasets)


def _finish_counts(r: _Reader) -> None:
    """Resource types with no SDTM home are skipped (counted apart from rejects)."""
    for rtype, n in r.read.items():
        if rtype in RECORD_TYPES or rtype in SUBJECT_TYPES or rtype in SUPPORT_TYPES or rtype == "(unreadable)":
            continue
        r.report.skipped[rtype] = n
