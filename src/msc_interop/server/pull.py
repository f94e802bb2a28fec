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

from msc_interop.errors import InputError
from msc_interop.server import bulk, tags
from msc_interop.server.client import FhirClient
from msc_interop.server.fetched import FetchedStore, references, write_ordered
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
         define: bool = True, bulk: BulkOptions | None = None, partition_subjects: int | str = "auto",
         max_file_size: int | None = None
         ) -> PullResult:
    """Fetch (REST search, or a Bulk $export when `bulk` is given), merge into OUT/fhir, convert into OUT/sdtm; remember
    the server's time (a Bulk manifest's transactionTime) for --since-last-run. `partition_subjects`: as from-fhir's
    (the NDJSON fetched read a range of subjects at a time: memory flat whatever the study's size)."""
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
    scratch = outdir.parent / f".{outdir.name}.pull-download"
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        store = FetchedStore(scratch / "fetched", track_references=study is None)
        try:
            if bulk is not None:
                started = _by_bulk(client, store, scratch / "export", study, patients or [], since, page_size,
                                   bulk, result)
            else:
                started = _server_time(client)
                if study:
                    _by_study(client, store, study, page)
                else:
                    _by_patients(client, store, patients or [], page)
        finally:
            store.close()
        _keep(outdir / "fhir", store, incremental=since is not None, result=result)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if not result.files:
        raise InputError(f"{client.base}: no resources of {'study ' + study if study else 'those patients'} "
                         "on the server")
    result.conversion = api.from_fhir(result.files, outdir / "sdtm", fhir_version=fhir_version, define=define,
                                      partition_subjects=partition_subjects, max_file_size=max_file_size,
                                      **({"formats": formats} if formats else {}))
    result.state = write_pull_state(state_dir, client.base, key, {"server_time": started, "study": key})
    result.notes += client.notes
    return result


def _keep(folder: Path, store: FetchedStore, incremental: bool, result: PullResult) -> None:
    """OUT/fhir/<Type>.ndjson: what came now (merged, when incremental, over the earlier pulls' files, by type
    and id), in record order (fetched.order_key); a type the server no longer has for the study goes."""
    folder.mkdir(parents=True, exist_ok=True)
    types = set(store.lines) | ({p.stem for p in folder.glob("*.ndjson")} if incremental else set())
    for stale in folder.glob("*.ndjson"):
        if stale.stem not in types:
            stale.unlink()
    for rtype in sorted(types):
        path = folder / f"{rtype}.ndjson"
        sources = ([path] if incremental and path.exists() else []) + \
            ([store.path(rtype)] if rtype in store.lines else [])
        held, fetched = write_ordered(sources, path)
        if rtype in store.lines:
            result.counts[rtype] = fetched
        result.files.append(path)
        result.held[rtype] = held


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


def _by_study(client: FhirClient, store: FetchedStore, study: str, page: dict[str, str]) -> None:
    sys = tags.systems()
    for rtype in PULL_TYPES:
        store.add_all(res for res in client.search(rtype, {"_tag": f"{sys['study']}|{study}", **page})
                      if tags.tag_code(res, sys["study"]) == study and res.get("resourceType") == rtype
                      and isinstance(res.get("id"), str))


def _by_patients(client: FhirClient, store: FetchedStore, patients: list[str], page: dict[str, str]) -> None:
    for start in range(0, len(patients), PATIENTS_PER_SEARCH):
        group = patients[start:start + PATIENTS_PER_SEARCH]
        store.add_all(r for r in client.search("Patient", {"_id": ",".join(group), **page}) if r.get("id") in group)
        refs = {f"Patient/{p}" for p in group}
        for rtype, param in BY_PATIENT.items():  # a server that ignores the parameter: keep only the group's
            store.add_all(r for r in client.search(rtype, {param: ",".join(sorted(refs)), **page})
                          if refs & set(references(r)) and isinstance(r.get("id"), str))
    _add_referenced(client, store, page["_count"])


def _add_referenced(client: FhirClient, store: FetchedStore, count: str) -> None:
    """What the patients' resources reference, by REST: site studies, then the study they are part of;
    laboratories (ResearchStudy, Organization are in no patient's compartment)."""
    for _ in range(2):  # what those reference: site studies, then the study they are part of; laboratories
        for rtype, ids in store.missing().items():
            for start in range(0, len(ids), PATIENTS_PER_SEARCH):
                store.add_all(r for r in client.search(rtype, {"_id": ",".join(ids[start:start + PATIENTS_PER_SEARCH]),
                                                               "_count": count})
                              if r.get("resourceType") == rtype and isinstance(r.get("id"), str))


def _by_bulk(client: FhirClient, store: FetchedStore, folder: Path, study: str | None, patients: list[str],
             since: str | None, page_size: int, opts: BulkOptions, result: PullResult) -> str:
    """A system-level Bulk $export of the types pull reads (narrowed to the study's tag by _typeFilter for
    --study with --bulk-type-filter), downloaded to `folder`, then kept only what belongs to the study or to
    the patients (a server may ignore _typeFilter), line by line into `store`. Why not Patient/$export for
    --patients: servers differ in what their Patient compartment holds (sekmet-fhir's has no ResearchSubject
    or AdverseEvent), and the export would silently lack them. Returns the manifest's transactionTime."""
    sys = tags.systems()
    types = list(PULL_TYPES) if study else ["Patient", *BY_PATIENT]
    filters = [f"{t}?_tag={sys['study']}|{study}" for t in types] if study and opts.type_filter else []
    job = bulk.export(client, folder, level="system", types=types, since=since,
                      type_filters=filters, timeout=opts.timeout, progress=opts.progress)
    wanted = set(patients)
    refs = {f"Patient/{p}" for p in patients}
    kept = 0
    for rtype in types:
        for path in job.files.get(rtype, []):
            for res in _ndjson(path):
                if res.get("resourceType") != rtype or not isinstance(res.get("id"), str):
                    continue
                if (tags.tag_code(res, sys["study"]) == study if study
                        else res["id"] in wanted if rtype == "Patient" else bool(refs & set(references(res)))):
                    store.add(res)
                    kept += 1
            path.unlink()  # read: the disk space goes back before the next file
    exported = sum(job.counts.values())
    if not study:
        _add_referenced(client, store, str(page_size))
    result.notes += job.notes
    result.notes.append(f"Bulk $export: {sum(len(v) for v in job.files.values())} file(s), {job.polls} status "
                        f"poll(s), transactionTime {job.transaction_time or 'not given'}"
                        + (f"; kept {kept} of the {exported} resources exported" if exported != kept else ""))
    return job.transaction_time or _server_time(client)


def _ndjson(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as fh:
        for line in fh:
            if line.strip():
                res = orjson.loads(line)
                if isinstance(res, dict):
                    yield res
