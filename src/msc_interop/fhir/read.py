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
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from msc_interop.errors import InputError
from msc_interop.fhir.common import text
from msc_interop.fhir.compact import Compactor
from msc_interop.fhir.duplicates import Copy, copy_of, duplicate_notes, settle
from msc_interop.fhir.io import Located, ReadProblem, iter_resources
from msc_interop.fhir.paging import BundlePage, count_message, remarks
from msc_interop.fhir.read_common import (
    FhirReadReport,
    ReadContext,
    columns,
    foreign_columns,
    shape_reject,
    shown,
    strict_bundle,
)
from msc_interop.fhir.remarks import notes as remark_notes
from msc_interop.fhir.resources.adverse_events import ADVERSE_EVENT, read_adverse_events
from msc_interop.fhir.resources.conditions import CONDITION, read_conditions
from msc_interop.fhir.resources.disposition import read_ds
from msc_interop.fhir.resources.ecg import EcgFlattener, is_ecg, read_ecg_observations
from msc_interop.fhir.resources.encounters import ENCOUNTER, read_encounter, read_sv
from msc_interop.fhir.resources.enrolment import BY_IDENTIFIER, Enrolment
from msc_interop.fhir.resources.exposure import MEDICATION, MEDICATION_ADMINISTRATION, read_medication_administrations
from msc_interop.fhir.resources.lab import Flattener, read_observations
from msc_interop.fhir.resources.lab.indicator import notes as indicator_notes
from msc_interop.fhir.resources.lab.population import range_note
from msc_interop.fhir.resources.lab.undated import ISSUED_ONLY, issued_note
from msc_interop.fhir.resources.medication_statements import MEDICATION_STATEMENT, read_medication_statements
from msc_interop.fhir.resources.procedures import (
    IMAGING,
    IMAGING_OBSERVATION,
    PROCEDURE,
    is_imaging,
    read_imaging,
    read_procedures,
)
from msc_interop.fhir.resources.study import ORGANIZATION, RESEARCH_STUDY, read_sites, read_study, read_study_meta
from msc_interop.fhir.resources.subjects import PATIENT, RESEARCH_SUBJECT, read_dm, read_patients
from msc_interop.fhir.resources.supp import merge_rows, read_supp_datasets
from msc_interop.fhir.resources.vital_signs import read_vital_signs
from msc_interop.fhir.shapes import Shape, ShapeProblem
from msc_interop.fhir.systems import variant_notes
from msc_interop.fhir.versions import evident_version, get_version
from msc_interop.inputs.kinds import fhir_files
from msc_interop.runtime import gc_paused
from msc_interop.study import Study, StudyMeta
from msc_interop.trial_design import apply_trial_design

__all__ = ["FhirReadReport", "read_fhir"]

RECORD_TYPES = ("Observation", "AdverseEvent", "MedicationAdministration", "Condition", "Procedure",
                "MedicationStatement")
SUBJECT_TYPES = ("Patient", "ResearchSubject")
SUPPORT_TYPES = ("ResearchStudy", "Encounter", "Organization", "Specimen", "Medication")
_NO_RESOURCE: dict[str, Any] = {}
# the shapes of the elements each reader uses, checked when a resource is read (Observations: by the Flattener)
SHAPES = {s.rtype: s for s in (PATIENT, RESEARCH_SUBJECT, ADVERSE_EVENT, MEDICATION_ADMINISTRATION, MEDICATION,
                               ENCOUNTER, RESEARCH_STUDY, ORGANIZATION, CONDITION, PROCEDURE, MEDICATION_STATEMENT)}
SHAPES[IMAGING] = IMAGING_OBSERVATION


def _light(item: Located) -> Located:
    """Where an Observation came from, without the resource (a million dicts would stay in memory)."""
    return Located(_NO_RESOURCE, item.file, item.position, item.where, item.bundle_type, item.full_url, item.source)


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
        self.forced_tz: str | None = None
        self.read: Counter[str] = Counter()
        self.compactor = Compactor()  # the resources held until the datasets are built, equal values shared
        self.flattener = Flattener(self.compactor, self.tallies)  # code system variants met: tallied (systems.py)
        self.ecg = EcgFlattener(self.compactor.text, self.tallies)
        self.evidence: Counter[str] = Counter()
        self.evidence_forms: Counter[tuple[str, str]] = Counter()  # (version, resource type): what showed it
        self.support_kept: Counter[str] = Counter()  # resources of SUPPORT_TYPES read (build_study)
        self.built_from: tuple[dict[str, Any], str] = ({}, "")  # the study facts and STUDYID build_study used
        self.subjects: dict[str, str] = {}  # "Patient/id" -> USUBJID, as build_study placed the records
        self.copies: dict[str, list[Copy]] = {}  # "Type/id" -> the later copies of a resource met more than once
        self.dup_skipped: Counter[str] = Counter()
        self.lost_files: list[str] = []  # what whole unreadable files cost (for the notes)
        self.pages: list[BundlePage] = []  # the searchset / history Bundles read (fhir/paging.py)
        self.located = 0  # resources found (read or not), apart from what could not be read at all
        self._urls_of: dict[str, list[str]] | None = None
        self._positions: dict[int, dict[int, int]] = {}  # id(list) -> id(Located) -> its index (replacements)
        self._dropped: set[int] = set()  # id() of the first copies withdrawn while settling

    # --- collecting ------------------------------------------------------------------------------------
    def collect(self, files: Sequence[Path]) -> None:
        """Every resource of the files, indexed; Observations kept as flat records (lab.Flattener); resources
        met more than once settled (fhir/duplicates.py)."""
        for item in iter_resources(files, self.pages):
            if isinstance(item, ReadProblem):
                self.unreadable(item)
                continue
            self.located += 1
            res = item.resource
            rtype = res.get("resourceType")
            if not isinstance(rtype, str) or not rtype:
                self.read["(unreadable)"] += 1
                self.report.add("(unreadable)", item.file, item.position, f"{item.where} {item.position}", "",
                                "not a FHIR resource: no resourceType", code="REJ-FHIR-001")
                continue
            self.read[rtype] += 1
            if not is_fhir_type(rtype):
                self.reject(item, rtype, "resourceType", f"{rtype!r} is not a FHIR R4 or R5 resource type",
                            rtype, code="REJ-FHIR-002")
                continue
            evident, tells = evident_version(res)
            if evident:
                self.evidence[evident] += 1
                self.evidence_forms[(evident, rtype)] += 1
            if self.forced and evident and evident != self.forced:
                self.reject(item, rtype, "resourceType",
                            f"looks like FHIR {evident} (has {', '.join(f'{rtype}.{t}' for t in tells)}) but is "
                            f"read as {self.forced}; read it with --fhir-version {evident} or let the version "
                            "be detected", code="REJ-FHIR-002")
                continue
            rid = res.get("id")
            key = f"{rtype}/{rid}" if isinstance(rid, str) else f"{rtype}/{item.full_url}" if item.full_url else None
            if key is not None and (key in self.index or key in self.withdrawn):
                if item.full_url:  # references by this fullUrl point to the same resource
                    (self.withdrawn_urls if key in self.withdrawn else self.urls)[item.full_url] = key
                self.copies.setdefault(key, []).append(
                    copy_of(_light(item) if rtype == "Observation" else item, res, self.urls))
                continue
            self.take(item, rtype, key)
        if self.copies:
            settle(self, self.copies)
            self._drop_withdrawn()
        self.compactor.forget()  # what was shared stays shared; the look-ups are not needed any more
        self.ecg.parts = {}

    def _drop_withdrawn(self) -> None:
        """The first copies withdrawn while settling, out of the flat records and the lists by type (at once)."""
        dropped = self._dropped
        if not dropped:
            return
        self.flat_obs = [t for t in self.flat_obs if id(t[-1]) not in dropped]
        self.ecg_obs = [t for t in self.ecg_obs if id(t[-1]) not in dropped]
        for rtype, items in self.by_type.items():
            self.by_type[rtype] = [x for x in items if id(x) not in dropped]

    def unreadable(self, item: ReadProblem) -> None:
        """A line, entry or file without a readable resource: counted under the resource type it seems to hold
        (else "(unreadable)"); a whole file also said in the notes with what it cost."""
        form = item.rtype if item.rtype and is_fhir_type(item.rtype) else "(unreadable)"
        self.read[form] += 1
        reason = item.message
        if item.whole_file:
            reason += f"; nothing in it was converted: {item.lost}"
            self.lost_files.append(f"{item.file}: the whole file could not be read ({item.message}); nothing in it "
                                   f"was converted: {item.lost}")
        self.report.add(form, item.file, item.position, f"{item.where} {item.position}" if item.position else "file",
                        "", reason, code="REJ-FHIR-001")
        self.report.units[(item.file, item.position)] = item.where

    def take(self, item: Located, rtype: str, key: str | None, at: Located | None = None) -> None:
        """Read one resource into the indexes (in the place of `at`, a copy it replaces, when given). A resource
        with an element the reader needs in the wrong JSON shape is rejected here (fhir/shapes.py), except
        Observations, whose shapes the Flattener checks."""
        res = item.resource
        if rtype == "Observation" and is_imaging(res):  # a chest X-ray reading (RE), not a lab result
            rtype = IMAGING
        if rtype == "Observation":  # kept as a compact record (lab.Flattener; ECG: EG's, read_ecg_observations)
            ecg = is_ecg(res)
            flat = (*(self.ecg if ecg else self.flattener).flatten(res, strict_bundle(item)), _light(item))
            item = flat[-1]
            held = self.ecg_obs if ecg else self.flat_obs
            if at is None:
                held.append(flat)
            else:
                held[self._position(held, at, True)] = flat
        else:
            shape = SHAPES.get(rtype)
            if shape is not None and not shape.checker()(res):
                bad, kept = shape.problems(res)
                if bad is not None:
                    shape_reject(self, item, bad)
                    if key is not None:
                        self.withdraw(key, item, bad.short)
                    return
                if kept:
                    item = self._without(item, shape, kept)
            item = Located(self.compactor.resource(item.resource), item.file, item.position, item.where,
                           item.bundle_type, item.full_url, item.source)
            if at is None:
                self.by_type[rtype].append(item)
            else:
                found = self.by_type[rtype]
                found[self._position(found, at, False)] = item
        if key is not None:
            self.index[key] = item
            if item.full_url:
                self.urls[item.full_url] = key

    def _position(self, seq: list[Any], at: Located, flat: bool) -> int:
        """Where `at` is in `seq` (flat_obs, or a by_type list): a map made once, for a batch of replacements."""
        where = self._positions.get(id(seq))
        if where is None:
            where = self._positions[id(seq)] = {id(x[-1] if flat else x): i for i, x in enumerate(seq)}
        return where[id(at)]

    def _without(self, item: Located, shape: Shape, kept: list[ShapeProblem]) -> Located:
        """The resource without its malformed `kept` elements, each listed as a field it was converted without."""
        for p in kept:
            self.note_field(item, p.rtype, p.field, p.reason(f"converted without {shape.kept[p.element]}"),
                            shown(p.value), code="REJ-FHIR-009")
        drop = {p.element for p in kept}
        res = {k: v for k, v in item.resource.items() if k not in drop}
        return Located(res, item.file, item.position, item.where, item.bundle_type, item.full_url, item.source)

    # --- what fhir/duplicates.py asks ---------------------------------------------------------------------
    def first_of(self, key: str) -> Located:
        return self.index[key] if key in self.index else self.withdrawn_locs[key]

    def withdraw_read(self, key: str, old: Located, why: str) -> None:
        """Undo the reading of `old` (the first copy of `key`) and reject `key` (and the fullUrls of its copies)."""
        if self._urls_of is None:  # fullUrl -> key the other way round, made once (conflicts are met in a batch)
            self._urls_of = defaultdict(list)
            for url, k in self.urls.items():
                self._urls_of[k].append(url)
        for url in self._urls_of.pop(key, ()):
            if self.urls.get(url) == key:
                del self.urls[url]
                self.withdrawn_urls[url] = key
        rtype = key.split("/", 1)[0]
        self._dropped.add(id(old))  # taken out of flat_obs / by_type once settling is done (drop_withdrawn)
        if key in self.withdrawn:  # rejected already when it was read (its shape): the report says it once more
            self.report.rejects = [x for x in self.report.rejects
                                   if not (x.form == rtype and x.file == old.file and x.row == old.position)]
        self.withdrawn.pop(key, None)
        self.withdraw(key, old, why)

    def replace(self, key: str, old: Located, new: Located) -> None:
        """Read `new` (a newer version of `key`) in the place of `old`."""
        rtype = key.split("/", 1)[0]
        if key in self.withdrawn:  # the old one was rejected when read: the newer one is read in its own right
            self.report.rejects = [x for x in self.report.rejects
                                   if not (x.form == rtype and x.file == old.file and x.row == old.position)]
            del self.withdrawn[key]
            self.take(new, rtype, key)
            return
        if old.full_url and self.urls.get(old.full_url) == key:
            del self.urls[old.full_url]
        self.take(new, rtype, key, at=old)
def read_fhir(paths: Sequence[Path | str], *, version: str | None = None,
              study_meta: StudyMeta | None = None, timezone: str | None = None, strict: bool = False,
              enrolment: Enrolment | None = None) -> tuple[Study, FhirReadReport]:
    """Read FHIR Bundles (collection, transaction, searchset), single resources and NDJSON into a Study.

    `paths`: files or folders (.json: one resource or a Bundle; .ndjson: one resource per line). `version`
    ("R4" or "R5") refuses resources that show the other version; None detects it. `study_meta` gives the
    study identity, time zone, sites, arms and visits for FHIR that does not carry them (FHIR written by
    msc-interop does). `timezone` (IANA) overrides the study's: date-times with a UTC offset become its local
    clock time; with neither, they keep the clock time written (said in the notes). `strict`: lab results of tests
    not in the mapping are rejected instead of carried with a sponsor-defined test code. `enrolment`: how a
    hospital's Patient ids become USUBJID/SUBJID (fhir/resources/enrolment.py; default: the Patient id, warned).
    FHIR written by others gives datasets in USUBJID order (stable: a subject's records keep the input's order);
    FHIR written by msc-interop gives each dataset's rows in the order they had.

        >>> study, report = read_fhir([Path("out/fhir/bundle.json")])
        >>> report.reconciliation()
        ['AdverseEvent: read 1 = converted 1 + rejected 0 + skipped 0', ...]
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    files, skipped = fhir_files([Path(p) for p in paths])  # folders listed once, the tool's own reports left out
    r = new_reader(version, study_meta, timezone, strict, enrolment)
    with gc_paused():  # parsing makes a dict per resource and element: the collector would rescan them all
        r.collect(files)
        refuse_when_nothing_read(r.located, r.report, paths, r.pages)
        study = build_study(r)
    finish_read(r, skipped, ReadFacts.of(study))
    return study, r.report


def new_reader(version: str | None, study_meta: StudyMeta | None, timezone: str | None, strict: bool,
               enrolment: Enrolment | None) -> _Reader:
    """A reader for one read (or one subject partition of it: fhir/read_partitioned.py)."""
    r = _Reader(version, study_meta)
    r.strict = strict
    r.forced_tz = timezone
    if enrolment is not None:
        r.enrolment = enrolment
    elif study_meta is not None:
        r.enrolment.studyid = study_meta.studyid
    return r


@dataclass
class ReadFacts:
    """What the notes at the end of a read need to know of the datasets built (of every partition)."""

    dm_subjects: set[str] = field(default_factory=set)
    clock_times: bool = False  # some LBDTC / AESTDTC / EXSTDTC has a time

    @classmethod
    def of(cls, study: Study) -> ReadFacts:
        dm = study.datasets.get("DM")
        times = any(name in study.datasets and col in study[name].columns and study[name][col].astype(str).str.contains(
            "T", regex=False).any() for name, col in (("LB", "LBDTC"), ("AE", "AESTDTC"), ("EX", "EXSTDTC")))
        return cls(set(dm["USUBJID"]) if dm is not None and "USUBJID" in dm.columns else set(), times)

    def add(self, other: ReadFacts) -> None:
        self.dm_subjects |= other.dm_subjects
        self.clock_times = self.clock_times or other.clock_times


_THROUGH = {"table": "enrolment table (--subjects)", "pseudonym": "pseudonym key", "hospital id": "Patient id"}


def finish_read(r: _Reader, skipped: list[str], facts: ReadFacts) -> None:
    """The report's version, notes, warnings and counts: said once, from what the whole read found."""
    rep = r.report
    rep.version = r.forced or (r.evidence.most_common(1)[0][0] if r.evidence else "")
    rep.notes[:0] = r.lost_files
    warnings, notes = remarks(r.pages, "read")  # a page of search results given without the others, a count answer
    rep.warnings += warnings
    rep.notes += notes
    rep.notes += skipped
    if not r.forced and len(r.evidence) > 1:
        rep.notes.append(f"the input mixes R4 and R5 content ({dict(sorted(r.evidence.items()))}); each resource was "
                         "read with the elements it has")
    if r.unresolved_encounters:
        rep.notes.append(f"{r.unresolved_encounters} record(s) refer to an Encounter that is not in the input (which "
                         "has no Encounters): they were converted without a visit")
    rep.notes += duplicate_notes(rep, r.identical, r.identical_examples)
    if r.tallies["Patient by hospital id"]:
        rep.notes.append(f"{r.tallies['Patient by hospital id']} Patient(s) without a study subject identifier: "
                         "USUBJID is the Patient's id (names and other identifiers are never read)")
    by_identifier = {k[len(BY_IDENTIFIER):]: n for k, n in sorted(r.tallies.items()) if k.startswith(BY_IDENTIFIER)}
    if by_identifier:
        through = _THROUGH[r.enrolment.kind]
        rep.notes.append(f"{sum(by_identifier.values())} Patient(s) without an id (a Bundle entry known by its fullUrl "
                         f"only): the subject is found by a hospital identifier through the {through} "
                         f"({', '.join(f'system {s}: {n}' for s, n in by_identifier.items())}), never by the "
                         "Bundle-local urn:uuid")
    if r.tallies["derived subject Observation"]:
        whose = "that Patient's id" if r.enrolment.kind == "hospital id" else f"from the {r.enrolment.kind}"
        rep.notes.append(f"{r.tallies['derived subject Observation']} Observation(s) name their subject by a reference "
                         f"to a Patient that is not in the input: USUBJID is {whose}")
    if r.tallies[ISSUED_ONLY]:
        rep.notes.append(issued_note(r.tallies[ISSUED_ONLY]))
    rep.notes += range_note(r.tallies)  # Observations given the range for their subject's sex / age
    rep.notes += indicator_notes(r.tallies, r.examples)  # LBNRIND derived from the range, or contradicting it
    rep.notes += variant_notes(r.tallies)  # codings read by a non-canonical URI of their code system
    said, warned = remark_notes(r.tallies, r.examples, r.tz)  # statuses, dates without an offset, displays
    rep.notes += said
    rep.warnings += warned
    sponsor = r.sponsor_tests().note() if not r.strict else None
    if sponsor:
        rep.notes.append(sponsor)
        rep.warnings.append(r.sponsor_tests().warning())
    routes = r.routes_forms().note()
    if routes:
        rep.notes.append(routes)
        rep.warnings.append(routes)
    rep.notes += r.enrolment.notes()
    warning = r.enrolment.warning(facts.dm_subjects)
    if warning:
        rep.warnings.append(warning)
    if r.tz:
        rep.notes.append(f"date-times with a UTC offset were converted to the local time of {r.tz} (--timezone, "
                         "else the study definition's time zone)")
    elif facts.clock_times:
        rep.notes.append("no time zone given (--timezone or --study): date-times keep the clock time written in "
                         "the FHIR data, whatever their UTC offset")
    _finish_counts(r)


def refuse_when_nothing_read(located: int, report: FhirReadReport, paths: Sequence[Path | str],
                             pages: Sequence[BundlePage] = ()) -> None:
    """Exit 2 (InputError) when not one resource could be read: the problems say why, file by file (a count
    answer, `pages`' count_only ones: what it is)."""
    if located:
        return
    counts = [count_message(p) for p in pages if p.count_only]
    if counts:
        problems = report.sorted()
        shown = "".join(f"\n  {x.file} {x.field}: {x.reason}" for x in problems[:10])
        more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise InputError("; ".join(counts) + (f"\nand no FHIR resource could be read from the other files:{shown}{more}"
                                              if problems else ""))
    if not report.rejects:
        raise InputError(f"no FHIR resources found in {', '.join(map(str, paths))}")
    problems = report.sorted()
    shown = "\n  ".join(f"{x.file} {x.field}: {x.reason}" for x in problems[:10])
    more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
    raise InputError(f"no FHIR resource could be read from {', '.join(map(str, paths))}:\n  {shown}{more}")




# --- building the Study ----------------------------------------------------------------------------------

def build_study(r: _Reader) -> Study:
    """The datasets of what `r` collected, each with USUBJID in USUBJID order, and the study metadata."""
    info = read_study(r)
    meta = r.study_meta
    r.tz = r.forced_tz or info.get("timezone") or (meta.timezone if meta else None)
    studyid = info.get("studyid") or (meta.studyid if meta else "") or ""
    if not studyid:
        r.report.notes.append("no study identifier: the input has no ResearchStudy with one and no --study was given, "
                              "so STUDYID is empty in every dataset (SDTM requires it): give --study study.yaml")
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
    lb = read_observations(r, subjects, encounters, orgs, rfstdtc, studyid, dm)
    vs = read_vital_signs(r, rfstdtc, studyid)
    if lb is not None and (len(lb) or vs is None):
        datasets["LB"] = lb
    if vs is not None:
        datasets["VS"] = vs
    eg = read_ecg_observations(r, subjects, encounters, rfstdtc, studyid)
    if eg is not None:
        datasets["EG"] = eg
    ae = read_adverse_events(r, subjects, encounters, rfstdtc, studyid)
    if ae is not None:
        datasets["AE"] = ae
    ex = read_medication_administrations(r, subjects, encounters, rfstdtc, studyid)
    if ex is not None:
        datasets["EX"] = ex
    for name, frame in (("MH", read_conditions(r, subjects, rfstdtc, studyid)),
                        ("PR", read_procedures(r, subjects, rfstdtc, studyid)),
                        ("RE", read_imaging(r, subjects, rfstdtc, studyid))):
        if frame is not None:
            datasets[name] = frame
    cm = read_medication_statements(r, subjects, rfstdtc, studyid)
    if cm is not None:
        datasets["CM"] = cm
    supp = read_supp_datasets(r, keep_row=("SV", "DS"))
    for name, frame in (("SV", read_sv(r, subjects, rfstdtc, studyid)), ("DS", read_ds(r, subjects, rfstdtc, studyid))):
        merged = merge_rows(frame, supp.pop(name, None))
        if merged is not None:
            datasets[name] = merged
    datasets.update(supp)
    del dm, lb, vs, eg, ae, ex, cm, frame, merged  # only in `datasets` now: each is replaced below, not held twice
    for name, rows in info.get("trial_design", {}).items():
        datasets[name] = pd.DataFrame(rows)
    # subjects met only through references (FHIR written by others): DM rows with what is known
    known = set(datasets["DM"]["USUBJID"]) if "DM" in datasets else set()
    placed = [u for name in ("LB", "AE", "EX", "VS", "EG", "MH", "PR", "RE", "CM") if name in datasets
              for u in datasets[name]["USUBJID"]]
    extra = [u for u in dict.fromkeys(placed) if u in r.derived_subjects and u not in known]
    if extra and not own:
        extra = list(dict.fromkeys(extra))
        add = pd.DataFrame({"STUDYID": studyid, "DOMAIN": "DM", "USUBJID": extra,
                            "SUBJID": [r.enrolment.by_usubjid.get(u, {}).get("subjid", u) for u in extra]})
        datasets["DM"] = pd.concat([datasets.get("DM", pd.DataFrame()), add], ignore_index=True)
    if "DM" in datasets and not own:
        datasets["DM"] = r.enrolment.fill_dm(datasets["DM"], r.study_meta)
    for name in ("DM", "LB", "AE", "EX", "VS", "EG", "MH", "PR", "RE", "CM", "DS"):
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
    for name, df in datasets.items():  # FHIR of others: SDTM order (msc-interop's own keeps the rows' own order)
        if not own and "USUBJID" in df.columns and len(df) > 1 and not df["USUBJID"].is_monotonic_increasing:
            datasets[name] = df.sort_values("USUBJID", kind="stable", ignore_index=True)
    r.support_kept = Counter({form: len(r.by_type.get(form, ())) for form in SUPPORT_TYPES})
    r.subjects = subjects
    r.built_from = (info, studyid)
    return Study(study_meta_of(r, datasets), datasets)


def study_meta_of(r: _Reader, datasets: dict[str, pd.DataFrame]) -> StudyMeta:
    """The study definition given, else made from the FHIR (visits from LB and EX rows, trial design)."""
    info, studyid = r.built_from
    study_meta = read_study_meta(r, info, studyid, datasets)
    if r.study_meta is None:
        study_meta = apply_trial_design(study_meta, datasets)
    return study_meta


def _finish_counts(r: _Reader) -> None:
    """Per resource type: read = converted + rejected + skipped. Skipped: every resource of a type with no SDTM
    home, and the copies of resources met more than once (identical copies, older versions)."""
    rep = r.report
    for form, n in r.read.items():
        if form not in RECORD_TYPES and form not in SUBJECT_TYPES and form not in SUPPORT_TYPES and \
                form != "(unreadable)" and form not in r.converted:
            rep.skipped[form] = n
            rep.skipped_why[(form, "no SDTM domain is read from this resource type yet")] = n
            continue
        skipped = r.dup_skipped.get(form, 0) + r.skipped.get(form, 0)
        if skipped:
            rep.skipped[form] = skipped
        if form in SUPPORT_TYPES and form != "ResearchStudy":
            converted = r.support_kept.get(form, 0)
        else:
            converted = r.converted.get(form, 0)
        rep.count(form, n - skipped, min(n - skipped, converted))
