"""`msc-interop push`: load a study into a FHIR server so that loading it again is safe.

Every resource is PUT by its stable id (fhir/ids.py: natural keys), tagged with the study and a hash of its
content (tags.py). Before sending, one search per resource type (`_tag` = the study) tells what the server
holds: a resource whose hash is there already is not sent (no new version), a new one is created, a changed
one updated, and with --prune the study's resources the input no longer has are deleted. Chunks of
--batch-size entries go as transaction (or batch) Bundles; a transaction the server refuses is sent again as
a batch so that one bad resource fails alone, with its OperationOutcome. A checkpoint after each chunk lets
an interrupted push resume. One Provenance per push that changed anything.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from msc_interop.errors import InputError
from msc_interop.fhir.paging import count_message, judge, remarks
from msc_interop.server import keyset, tags
from msc_interop.server.client import FhirClient, ServerError, outcome_text
from msc_interop.server.report import PushReport
from msc_interop.server.source import Source, load_source, type_rank
from msc_interop.server.state import OUTCOME_NAMES, Checkpoint

# Resource types to-fhir writes: with --prune, the study's resources of these types are looked for on the
# server even when the input has none left.
WRITTEN_TYPES = ("Organization", "ResearchStudy", "Patient", "ResearchSubject", "Encounter", "Observation",
                 "AdverseEvent", "MedicationAdministration", "Condition", "Procedure", "MedicationStatement")
SEARCH_COUNT = "1000"
FHIR_RELEASES = {"R4": ("4.0", "4.3"), "R5": ("5.0",)}


@dataclass
class PushOptions:
    server: str
    state_dir: Path
    fhir_version: str = "R4"
    batch_size: int = 50
    mode: str = "transaction"
    prune: bool = False
    dry_run: bool = False
    token: str | None = None
    smart: Any = None  # server.smart.SmartBackend (SMART Backend Services) instead of `token`
    ca_bundle: Path | None = None  # CAs to trust for https (else the system's)
    study: str | None = None
    retries: int = 5
    timeout: float = 60.0
    odm_map: Path | None = None
    encoding: str | None = None
    timezone: str | None = None  # of SDTM input's local date-times (records and ODM: the study definition's)


@dataclass
class _Item:
    rtype: str
    rid: str
    resource: dict[str, Any] | None  # None: a DELETE
    planned: str  # created / updated / deleted


Progress = Callable[[int, int], None]  # (done, total)


def push(path: Path, opts: PushOptions, progress: Progress | None = None) -> PushReport:
    """Push INPUT to the server; the report says what happened to each resource. Raises InputError for an
    input without a study, ServerError (with a partial report on `.report`) when the server cannot be used."""
    report = PushReport(server=opts.server, mode=opts.mode, batch_size=opts.batch_size, dry_run=opts.dry_run)
    with FhirClient(opts.server, token=opts.token, retries=opts.retries, timeout=opts.timeout,
                    smart=opts.smart, ca_bundle=opts.ca_bundle) as client, \
            tempfile.TemporaryDirectory(prefix="msc-interop-push-") as work:
        try:
            _check_server(client, opts, report)
            src = load_source(path, Path(work), opts.fhir_version, opts.odm_map, opts.encoding, opts.timezone)
            _push_source(client, src, opts, report, progress)
        except ServerError as exc:
            report.interrupted = str(exc)
            exc.report = report  # type: ignore[attr-defined]
            raise
        finally:
            report.notes += [n for n in client.notes if n not in report.notes]
            report.retried = client.retried
    return report


def _check_server(client: FhirClient, opts: PushOptions, report: PushReport) -> None:
    """The server answers; its CapabilityStatement (when it has one) speaks --fhir-version and says whether
    it takes transactions."""
    cap = client.send("GET", "metadata").body
    report.requests += 1
    if not isinstance(cap, dict) or cap.get("resourceType") != "CapabilityStatement":
        report.notes.append(f"{opts.server}/metadata is not a CapabilityStatement: sending {opts.mode} Bundles "
                            f"of {opts.batch_size} as asked")
        return
    version = str(cap.get("fhirVersion", ""))
    if version and not version.startswith(FHIR_RELEASES[opts.fhir_version]):
        raise ServerError(f"{opts.server} speaks FHIR {version}, not {opts.fhir_version}: use --fhir-version "
                          f"{'R5' if version.startswith('5') else 'R4'} or another server")
    interactions = {i.get("code") for r in cap.get("rest") or [] for i in r.get("interaction") or []
                    if isinstance(i, dict)}
    if interactions and opts.mode not in interactions:
        other = "batch" if opts.mode == "transaction" else "transaction"
        if other in interactions:
            report.notes.append(f"the server's CapabilityStatement does not list {opts.mode}: sending {other} "
                                "Bundles")
            opts.mode = report.mode = other


def _push_source(client: FhirClient, src: Source, opts: PushOptions, report: PushReport,
                 progress: Progress | None) -> None:
    if not src.total and any(p.count_only for p in src.pages):  # (with --prune: every resource of the study gone)
        raise InputError("; ".join(count_message(p) for p in src.pages if p.count_only) + ": nothing to push")
    if opts.prune:  # a page of a search: --prune would delete the other pages' resources from the server
        missing = [g.message("pushed") for g in judge([p for p in src.pages if not p.count_only]).gaps if g.warn]
        if missing:
            raise InputError("--prune deletes the study's resources on the server that the input does not hold, and "
                             "the input is part of a search result, so it would delete the other pages' resources: "
                             + " | ".join(missing) + ". Push without --prune, or prune with every page (or a pull)")
    studyid = opts.study or src.studyid
    if not studyid:
        raise InputError("the input holds no ResearchStudy with a STUDYID identifier: name the study with "
                         "--study ID (the tag that tells this study's resources on the server)")
    report.study = studyid
    report.input_problems = list(src.problems)
    report.warnings, paging = remarks(src.pages, "pushed")  # a page of a search pushed without the other pages
    report.notes += [n for n in paging if n not in report.warnings]
    report.rejected_records = len(src.rejects) if src.rejects is not None else 0
    report.input_resources = src.total
    types = set(src.counts) | (set(WRITTEN_TYPES) if opts.prune else set())
    held, gone = _server_state(client, studyid, types, keyset.KeySet(src.keys, src.hashes), report)
    checkpoint = Checkpoint(opts.state_dir, opts.server, studyid, src.input_sha256, src.content_sha256)
    if not opts.dry_run:
        checkpoint.load()
        if checkpoint.stale:
            report.notes.append(f"the checkpoint {checkpoint.path} of an interrupted push was not resumed: "
                                f"{checkpoint.refused}; this push starts over (each resource compared with the "
                                "server again) and replaces it")
    actions = _plan(src, held, checkpoint.done, report)
    deletes = _plan_deletes(gone, checkpoint.done, report) if opts.prune else []
    if opts.dry_run:
        for rtype, _rid in deletes:
            report.add(rtype, "deleted")
        return
    try:
        _send(client, _items(src, actions, deletes, studyid), int(np.isin(actions, SENT).sum()) + len(deletes),
              opts, report, checkpoint, progress)
        if report.total("created") + report.total("updated") + report.total("deleted") > 0:
            _provenance(client, src, studyid, opts, report)
    finally:
        checkpoint.close()
    checkpoint.finish()


# What a push does with each input resource (_plan): an array of these codes, one byte a resource.
REPEAT, UNCHANGED, RESUMED, CREATE, UPDATE = range(5)
SENT = (CREATE, UPDATE)


def _server_state(client: FhirClient, studyid: str, types: set[str], wanted: keyset.KeySet, report: PushReport
                  ) -> tuple[keyset.KeySet, list[tuple[str, str]]]:
    """The study's resources on the server: Type/id key -> content hash (keyset.NO_HASH: untagged), and
    (type, id) of those the input does not have (what --prune deletes), in deletion order."""
    sys = tags.systems()
    held = keyset.KeyBuilder()
    gone: list[tuple[str, str]] = []
    for rtype in sorted(types, key=type_rank, reverse=True):
        params = {"_tag": f"{sys['study']}|{studyid}", "_count": SEARCH_COUNT, "_elements": "id,meta"}
        for res in client.search(rtype, params):
            if res.get("resourceType") == rtype and tags.tag_code(res, sys["study"]) == studyid:
                rid = str(res.get("id"))
                k = keyset.key(rtype, rid)
                held.add(k, keyset.hash16(tags.tag_code(res, sys["content_hash"])))
                if k not in wanted and rtype != "Provenance":
                    gone.append((rtype, rid))
    report.requests += len(types)
    return held.freeze(), gone


def _plan(src: Source, held: keyset.KeySet, done: keyset.KeySet, report: PushReport) -> np.ndarray:
    """Per input resource (send order) what to do with it, counted in the report as it is known."""
    on_server, server_hash = held.lookup(src.keys)
    settled, outcome = done.lookup(src.keys)
    actions = np.where(on_server, UPDATE, CREATE).astype(np.uint8)
    actions[on_server & (server_hash == src.hashes)] = UNCHANGED
    actions[settled] = RESUMED
    actions[~src.first] = REPEAT
    start = 0
    for rtype, n in src.counts.items():
        part, codes = actions[start:start + n], outcome[start:start + n]
        report.add(rtype, "unchanged", int((part == UNCHANGED).sum()))
        for code, name in OUTCOME_NAMES.items():
            report.add(rtype, name, int(((part == RESUMED) & (codes == code)).sum()))
        report.resumed += int((part == RESUMED).sum())
        if report.dry_run:
            report.add(rtype, "created", int((part == CREATE).sum()))
            report.add(rtype, "updated", int((part == UPDATE).sum()))
        start += n
    return actions


def _plan_deletes(gone: list[tuple[str, str]], done: keyset.KeySet, report: PushReport) -> list[tuple[str, str]]:
    deletes = []
    for rtype, rid in gone:
        if keyset.key(rtype, rid) in done:
            report.add(rtype, "deleted")
            report.resumed += 1
        else:
            deletes.append((rtype, rid))
    return deletes


def _items(src: Source, actions: np.ndarray, deletes: list[tuple[str, str]], studyid: str) -> Iterator[_Item]:
    """What is sent, one resource at a time from the scratch files (tagged as it goes), then the deletions."""
    for i, rtype, res in src.stream():
        if actions[i] in SENT:
            yield _Item(rtype, res["id"], tags.tagged(res, studyid)[0],
                        "updated" if actions[i] == UPDATE else "created")
    for rtype, rid in deletes:
        yield _Item(rtype, rid, None, "deleted")


def _send(client: FhirClient, items: Iterator[_Item], total: int, opts: PushOptions, report: PushReport,
          checkpoint: Checkpoint, progress: Progress | None) -> None:
    size, done = max(1, opts.batch_size), 0
    while chunk := list(itertools.islice(items, size)):
        settled = _send_chunk(client, chunk, opts.mode, report)
        checkpoint.record({f"{i.rtype}/{i.rid}": i.planned for i, ok in zip(chunk, settled, strict=True) if ok})
        done += len(chunk)
        if progress is not None:
            progress(done, total)


def _bundle(chunk: list[_Item], mode: str) -> dict[str, Any]:
    entries = []
    for i in chunk:
        request = {"method": "PUT" if i.resource is not None else "DELETE", "url": f"{i.rtype}/{i.rid}"}
        entries.append({"resource": i.resource, "request": request} if i.resource is not None
                       else {"request": request})
    return {"resourceType": "Bundle", "type": mode, "entry": entries}


def _send_chunk(client: FhirClient, chunk: list[_Item], mode: str, report: PushReport) -> list[bool]:
    """Send one chunk; per item, whether the server settled it (False: failed, listed in the report)."""
    resp = client.send("POST", "", _bundle(chunk, mode))
    report.requests += 1
    body = resp.body
    if resp.status == 200 and isinstance(body, dict) and body.get("resourceType") == "Bundle":
        answers = body.get("entry") or []
        if len(answers) != len(chunk):
            raise ServerError(f"{client.base} answered a Bundle of {len(chunk)} entries with {len(answers)}")
        return [_settle(item, answer, report) for item, answer in zip(chunk, answers, strict=True)]
    if mode == "transaction" and len(chunk) > 1:
        note = (f"a transaction was refused ({resp.status}: {outcome_text(body)}); its entries were sent again "
                "as a batch, each on its own")
        if note not in report.notes:
            report.notes.append(note)
        return _send_chunk(client, chunk, "batch", report)
    for item in chunk:
        report.fail(item.rtype, item.rid, str(resp.status), body)
    return [False] * len(chunk)


def _settle(item: _Item, answer: Any, report: PushReport) -> bool:
    response = answer.get("response") if isinstance(answer, dict) else None
    status = str((response or {}).get("status", "")).strip()
    code = status.split(" ")[0]
    if code.startswith("2") or (item.resource is None and code in ("404", "410")):
        report.add(item.rtype, item.planned)
        return True
    report.fail(item.rtype, item.rid, status or "no status", (response or {}).get("outcome"))
    return False


def _provenance(client: FhirClient, src: Source, studyid: str, opts: PushOptions, report: PushReport) -> None:
    """One Provenance for this push: the tool and its version as agent, the input files by SHA-256."""
    from msc_interop.server.client import _user_agent

    sys = tags.systems()
    recorded = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    rid = f"prov-{hashlib.sha256(f'{studyid}|{src.content_sha256}|{recorded}'.encode()).hexdigest()[:32]}"
    targets = [src.target] if src.target else []
    prov = {
        "resourceType": "Provenance", "id": rid,
        "meta": {"tag": [{"system": sys["study"], "code": studyid}]},
        "target": [{"reference": t} for t in targets],
        "recorded": recorded,
        "activity": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation",
                                 "code": "UPDATE", "display": "revise"}]},
        "agent": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                                        "code": "assembler", "display": "Assembler"}]},
                   "who": {"identifier": {"system": sys["provenance_agent"], "value": _user_agent()},
                           "display": _user_agent()}}],
        "entity": [{"role": "source", "what": {"identifier": {"system": sys["provenance_file"], "value": h},
                                               "display": name}} for name, h in src.files],
    }
    resp = client.send("PUT", f"Provenance/{rid}", prov)
    report.requests += 1
    if resp.status in (200, 201):
        report.provenance = f"Provenance/{rid}"
    else:
        report.fail("Provenance", rid, str(resp.status), resp.body)
