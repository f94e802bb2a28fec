"""`msc-interop pull`: search a FHIR server for a study's resources (following every `next` link), keep them
as NDJSON in OUT/fhir/, and convert them to SDTM in OUT/sdtm/ exactly as `from-fhir` does.

What is fetched: with --study, the resources push tagged with the study (meta.tag, tags.py) of each type
from-fhir reads; with --patients, each listed Patient and the resources of its compartment (Observation,
AdverseEvent, MedicationAdministration, Encounter, ResearchSubject), then the ResearchStudy and Organization
resources they reference. --since / --since-last-run add `_lastUpdated=ge...` and merge what comes into the
NDJSON of the earlier pulls (by type and id), so the SDTM is that of a full pull. A resource deleted on the
server since the last pull is not seen by a `_lastUpdated` search: run a full pull after a --prune.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from msc_interop.atomic import atomic_open
from msc_interop.errors import InputError
from msc_interop.fhir import terms
from msc_interop.server import bulk, tags
from msc_interop.server.client import FhirClient
from msc_interop.server.state import read_pull_state, write_pull_state

PULL_TYPES = ("Organization", "ResearchStudy", "Patient", "ResearchSubject", "Encounter", "Observation",
              "AdverseEvent", "MedicationAdministration", "Condition", "Procedure", "MedicationStatement")
# Compartment searches per type: the search parameter naming the patient (R4 and R5 both define these).
BY_PATIENT = {"ResearchSubject": "patient", "Encounter": "patient", "Observation": "patient",
              "AdverseEvent": "subject", "MedicationAdministration": "patient", "Condition": "patient",
              "Procedure": "patient", "MedicationStatement": "patient"}
PATIENTS_PER_SEARCH = 20


@dataclass
class BulkOptions:
    """How a Bulk $export is run: `timeout` for the whole job; `type_filter` sends `_typeFilter=<Type>?_tag=...`
    so that the server exports only the study's resources (off by default: optional in the specification, and
    where it is offered it can cost more than it saves: sekmet-fhir took 203 s instead of 4.7 s for 6,000
    resources); `progress` is told the server's X-Progress."""

    timeout: float = 3600.0
    type_filter: bool = False
    progress: Callable[[str], None] | None = None


@dataclass
class PullResult:
    counts: dict[str, int] = field(default_factory=dict)  # resources fetched per type (this run)
    held: dict[str, int] = field(default_factory=dict)  # resources in OUT/fhir per type (after merging)
    since: str | None = None
    files: list[Path] = field(default_factory=list)
    conversion: Any = None  # api.ConversionResult of the SDTM
    notes: list[str] = field(default_factory=list)
    state: Path | None = None


def pull(client: FhirClient, outdir: Path, state_dir: Path, study: str | None = None,
         patients: list[str] | None = None, since: str | None = None, since_last_run: bool = False,
         fhir_version: str | None = None, page_size: int = 500, formats: list[str] | None = None,
         define: bool = True, bulk: BulkOptions | None = None) -> PullResult:
    """Fetch (REST search, or a Bulk $export when `bulk` is given), merge into OUT/fhir, convert into OUT/sdtm; remember
    the server's time (a Bulk manifest's transactionTime) for --since-last-run."""
    from msc_interop import api

    if (study is None) == (patients is None):
        raise InputError("give either --study ID or --patients FILE")
    key = study or "patients:" + ",".join(sorted(patients or []))
    result = PullResult()
    if since_last_run:
        state = read_pull_state(state_dir, client.base, key)
        if state is None:
            result.notes.append("no earlier pull of this study from this server: a full pull")
        else:
            since = state["server_time"]
    result.since = since
    page = {"_count": str(page_size), **({"_lastUpdated": f"ge{since}"} if since else {})}
    if bulk is not None:
        started, fetched = _by_bulk(client, outdir, study, patients or [], since, page_size, bulk, result)
    else:
        started = _server_time(client)
        fetched = _by_study(client, study, page) if study else _by_patients(client, patients or [], page)
    for rtype, found in fetched.items():
        result.counts[rtype] = len(found)
    folder = outdir / "fhir"
    merged = _merge(folder, fetched, keep_old=since is not None)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.ndjson"):  # a type the server no longer has for the study
        if stale.stem not in merged:
            stale.unlink()
    for rtype in sorted(merged):
        path = folder / f"{rtype}.ndjson"
        with atomic_open(path, "wb") as fh:
            for res in sorted(merged[rtype].values(), key=_record_order):
                fh.write(orjson.dumps(res) + b"\n")
        result.files.append(path)
        result.held[rtype] = len(merged[rtype])
    if not result.files:
        raise InputError(f"{client.base}: no resources of {'study ' + study if study else 'those patients'} "
                         "on the server")
    result.conversion = api.from_fhir(result.files, outdir / "sdtm", fhir_version=fhir_version, define=define,
                                      **({"formats": formats} if formats else {}))
    result.state = write_pull_state(state_dir, client.base, key, {"server_time": started, "study": key})
    result.notes += client.notes
    return result


def _record_order(res: dict[str, Any]) -> tuple[Any, ...]:
    """Where a resource goes in OUT/fhir: by its record number (the sdtm-seq identifier msc-interop writes:
    STUDYID/USUBJID/DOMAIN/--SEQ) when it has one, else by id. Why: the server's order is its own (and ids
    are hashes of natural keys), while from-fhir keeps the order it reads records in, so a pull would give
    another row order than to-sdtm without it."""
    seq_system = terms.id_system("seq")
    for ident in res.get("identifier") or []:
        if isinstance(ident, dict) and ident.get("system") == seq_system and isinstance(ident.get("value"), str):
            head, _, seq = ident["value"].rpartition("/")
            if seq.lstrip("-").isdigit():
                return (0, head, int(seq), res.get("id", ""))
    return (1, "", 0, res.get("id", ""))


def _server_time(client: FhirClient) -> str:
    """Now by the server's clock, where the next --since-last-run starts: a searchset's meta.lastUpdated
    (milliseconds), else the Date header less a second (it has whole seconds), else our clock."""
    resp = client.send("GET", "ResearchStudy", params={"_count": "1", "_elements": "id"})
    stamp = resp.body.get("meta", {}).get("lastUpdated") if isinstance(resp.body, dict) else None
    if isinstance(stamp, str) and stamp:
        return stamp
    when = resp.headers.get("Date")
    moment = None
    if when:
        import email.utils

        try:
            moment = email.utils.parsedate_to_datetime(when)
        except (TypeError, ValueError):
            moment = None
    moment = (moment or dt.datetime.now(dt.UTC)) - dt.timedelta(seconds=1)  # the Date header has seconds only
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _by_study(client: FhirClient, study: str, page: dict[str, str]) -> dict[str, dict[str, dict[str, Any]]]:
    sys = tags.systems()
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for rtype in PULL_TYPES:
        for res in client.search(rtype, {"_tag": f"{sys['study']}|{study}", **page}):
            if tags.tag_code(res, sys["study"]) == study and res.get("resourceType") == rtype:
                out.setdefault(rtype, {})[res["id"]] = res
    return out


def _by_patients(client: FhirClient, patients: list[str], page: dict[str, str]
                 ) -> dict[str, dict[str, dict[str, Any]]]:
    out: dict[str, dict[str, dict[str, Any]]] = {}

    def add(found: Any) -> None:
        for res in found:
            out.setdefault(res["resourceType"], {})[res["id"]] = res

    for start in range(0, len(patients), PATIENTS_PER_SEARCH):
        group = patients[start:start + PATIENTS_PER_SEARCH]
        add(r for r in client.search("Patient", {"_id": ",".join(group), **page}) if r.get("id") in group)
        refs = {f"Patient/{p}" for p in group}
        for rtype, param in BY_PATIENT.items():  # a server that ignores the parameter: keep only the group's
            add(r for r in client.search(rtype, {param: ",".join(sorted(refs)), **page})
                if refs & set(_references(r)))
    _add_referenced(client, out, page["_count"])
    return out


def _add_referenced(client: FhirClient, out: dict[str, dict[str, dict[str, Any]]], count: str) -> None:
    """What the patients' resources reference, by REST: site studies, then the study they are part of;
    laboratories (ResearchStudy, Organization are in no patient's compartment)."""

    def add(found: Any) -> None:
        for res in found:
            out.setdefault(res["resourceType"], {})[res["id"]] = res

    for _ in range(2):  # what those reference: site studies, then the study they are part of; laboratories
        wanted: dict[str, set[str]] = {}
        for found in list(out.values()):
            for res in found.values():
                for ref in _references(res):
                    rtype, _, rid = ref.partition("/")
                    if rtype in ("ResearchStudy", "Organization") and rid not in out.get(rtype, {}):
                        wanted.setdefault(rtype, set()).add(rid)
        for rtype, ids in wanted.items():
            ordered = sorted(ids)
            for start in range(0, len(ordered), PATIENTS_PER_SEARCH):
                add(client.search(rtype, {"_id": ",".join(ordered[start:start + PATIENTS_PER_SEARCH]),
                                          "_count": count}))


def _by_bulk(client: FhirClient, outdir: Path, study: str | None, patients: list[str], since: str | None,
             page_size: int, opts: BulkOptions, result: PullResult
             ) -> tuple[str, dict[str, dict[str, dict[str, Any]]]]:
    """A system-level Bulk $export of the types pull reads (narrowed to the study's tag by _typeFilter for
    --study with --bulk-type-filter), downloaded to a scratch folder beside OUT, then kept only what belongs to
    the study or to the patients (a server may ignore _typeFilter). Why not Patient/$export for --patients:
    servers differ in what their Patient compartment holds (sekmet-fhir's has no ResearchSubject or
    AdverseEvent), and the export would silently lack them. Returns the manifest's transactionTime and the
    resources by type and id."""
    sys = tags.systems()
    types = list(PULL_TYPES) if study else ["Patient", *BY_PATIENT]
    filters = [f"{t}?_tag={sys['study']}|{study}" for t in types] if study and opts.type_filter else []
    scratch = outdir.parent / f".{outdir.name}.bulk-download"
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        job = bulk.export(client, scratch, level="system", types=types, since=since,
                          type_filters=filters, timeout=opts.timeout, progress=opts.progress)
        wanted = set(patients)
        refs = {f"Patient/{p}" for p in patients}
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for rtype in types:
            for path in job.files.get(rtype, []):
                for res in _ndjson(path):
                    if res.get("resourceType") != rtype or not isinstance(res.get("id"), str):
                        continue
                    keep = (tags.tag_code(res, sys["study"]) == study if study
                            else res["id"] in wanted if rtype == "Patient" else bool(refs & set(_references(res))))
                    if keep:
                        out.setdefault(rtype, {})[res["id"]] = res
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    exported = sum(job.counts.values())
    kept = sum(len(v) for v in out.values())
    if not study:
        _add_referenced(client, out, str(page_size))
    result.notes += job.notes
    result.notes.append(f"Bulk $export: {sum(len(v) for v in job.files.values())} file(s), {job.polls} status "
                        f"poll(s), transactionTime {job.transaction_time or 'not given'}"
                        + (f"; kept {kept} of the {exported} resources exported" if exported != kept else ""))
    if not job.transaction_time:
        return _server_time(client), out
    return job.transaction_time, out


def _ndjson(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as fh:
        for line in fh:
            if line.strip():
                res = orjson.loads(line)
                if isinstance(res, dict):
                    yield res


def _references(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["reference"]] if isinstance(node.get("reference"), str) else []
        return found + [r for v in node.values() for r in _references(v)]
    if isinstance(node, list):
        return [r for v in node for r in _references(v)]
    return []


def _merge(folder: Path, fetched: dict[str, dict[str, dict[str, Any]]], keep_old: bool
           ) -> dict[str, dict[str, dict[str, Any]]]:
    """The resources of earlier pulls (OUT/fhir, when incremental) with what came now in their place."""
    merged: dict[str, dict[str, dict[str, Any]]] = {}
    if keep_old and folder.is_dir():
        for path in sorted(folder.glob("*.ndjson")):
            for line in path.read_bytes().splitlines():
                if line.strip():
                    res = orjson.loads(line)
                    merged.setdefault(res["resourceType"], {})[res["id"]] = res
    for rtype, found in fetched.items():
        merged.setdefault(rtype, {}).update(found)
    return merged
