"""FHIR Bulk Data Access `$export` (https://hl7.org/fhir/uv/bulkdata/export.html): kick off, poll, download,
delete the job.

1. Kick-off: GET [base]/$export (or Patient/$export) with `Prefer: respond-async`, `_type`, `_since`,
   `_typeFilter`; the server answers 202 with the status URL in Content-Location. The kick-off is not re-sent
   when its answer is lost (it would start a second job); a 429/503 "later" is waited for and re-sent.
2. Status: GET the status URL until it answers 200 with the manifest; 202 means "still running": X-Progress is
   shown, Retry-After is honoured (else a growing wait), up to `timeout` seconds in all.
3. Files: every `output` NDJSON streamed to disk (never held in memory), with the access token only when the
   manifest says `requiresAccessToken`; `error` files (OperationOutcome NDJSON) read into notes.
4. The job is deleted on the server (DELETE on the status URL) when done, or when anything above failed.
The manifest's `transactionTime` is the time the next incremental export starts from (`_since`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from msc_interop.server.client import FhirClient, ServerError, outcome_text, retry_after_seconds

POLL_START = 1.0  # seconds before the first poll when the server gives no Retry-After; doubles up to POLL_MAX
POLL_MAX = 30.0


@dataclass
class BulkExport:
    """What an export gave: NDJSON files per resource type (in the order of the manifest), its time, notes."""

    transaction_time: str
    files: dict[str, list[Path]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)  # as the manifest says, per type
    notes: list[str] = field(default_factory=list)
    polls: int = 0


def export(client: FhirClient, folder: Path, *, level: str = "system", types: list[str] | None = None,
           since: str | None = None, type_filters: list[str] | None = None, timeout: float = 3600.0,
           progress: Callable[[str], None] | None = None) -> BulkExport:
    """Run one $export into `folder` (files named <Type>.<n>.ndjson). `level`: "system" ([base]/$export) or
    "patient" (Patient/$export: every patient's compartment)."""
    params: list[tuple[str, str]] = []
    if types:
        params.append(("_type", ",".join(types)))
    if since:
        params.append(("_since", since))
    for flt in type_filters or ():
        params.append(("_typeFilter", flt))
    path = "$export" if level == "system" else "Patient/$export"
    resp = client.send("GET", path, params=params, resend_when_lost=False,
                       headers={"Prefer": "respond-async", "Accept": "application/fhir+json"})
    status_url = resp.headers.get("Content-Location")
    if resp.status != 202 or not status_url:
        body = resp.body
        said = (f"a {body.get('type', '')} Bundle".replace("a  ", "a ") if isinstance(body, dict)
                and body.get("resourceType") == "Bundle" else outcome_text(body) if body is not None else "nothing")
        raise ServerError(f"{client.base}: {path} kick-off answered {resp.status}"
                          f"{' without a Content-Location' if resp.status == 202 else ''} ({said}), not 202 "
                          "Accepted with a status URL: the server does not seem to offer Bulk Data $export; "
                          "pull without --bulk")
    try:
        manifest, polls = _wait_for_manifest(client, status_url, timeout, progress)
        result = BulkExport(str(manifest.get("transactionTime") or ""), polls=polls)
        _download(client, manifest, folder, result)
    finally:
        _delete_job(client, status_url)
    return result


def _wait_for_manifest(client: FhirClient, status_url: str, timeout: float,
                       progress: Callable[[str], None] | None) -> tuple[dict[str, Any], int]:
    deadline = time.monotonic() + timeout
    wait, polls, last, shown = POLL_START, 0, "", ""
    while True:
        resp = client.send("GET", status_url)
        polls += 1
        if resp.status == 200 and isinstance(resp.body, dict):
            return resp.body, polls
        if resp.status != 202:
            raise ServerError(f"{client.base}: the $export job failed ({resp.status}): {outcome_text(resp.body)}")
        last = resp.headers.get("X-Progress") or last
        if progress is not None and last and last != shown:
            progress(last)
            shown = last
        after = resp.headers.get("Retry-After")
        pause = retry_after_seconds(after) if after else wait
        wait = min(POLL_MAX, wait * 2)
        if time.monotonic() + pause > deadline:
            raise ServerError(f"{client.base}: the $export job was not done after {timeout:g} s (last progress: "
                              f"{last or 'none given'}); raise --bulk-timeout or try later")
        client.sleep(min(pause, client.max_wait))


def _download(client: FhirClient, manifest: dict[str, Any], folder: Path, result: BulkExport) -> None:
    with_token = bool(manifest.get("requiresAccessToken", True))
    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    for item in manifest.get("output") or []:
        rtype, url = item.get("type"), item.get("url")
        if not isinstance(rtype, str) or not isinstance(url, str):
            result.notes.append(f"manifest output without type or url skipped: {orjson.dumps(item).decode()[:200]}")
            continue
        n += 1
        path = folder / f"{rtype}.{n}.ndjson"
        client.download(url, path, with_token)
        result.files.setdefault(rtype, []).append(path)
        if isinstance(item.get("count"), int):
            result.counts[rtype] = result.counts.get(rtype, 0) + item["count"]
    for item in manifest.get("error") or []:
        url = item.get("url") if isinstance(item, dict) else None
        if not isinstance(url, str):
            continue
        n += 1
        path = folder / f"errors.{n}.ndjson"
        client.download(url, path, with_token)
        for line in path.read_bytes().splitlines():
            if line.strip():
                try:
                    text = outcome_text(orjson.loads(line))
                except orjson.JSONDecodeError:
                    text = line[:200].decode("utf-8", "replace")
                result.notes.append(f"the server's $export said: {text}")


def _delete_job(client: FhirClient, status_url: str) -> None:
    """Tell the server the files may go (the specification asks clients to); a refusal is only noted."""
    try:
        resp = client.send("DELETE", status_url)
    except ServerError as exc:
        client.notes.append(f"the $export job could not be deleted on the server: {exc}")
        return
    if resp.status not in (200, 202, 204, 404):
        client.notes.append(f"the $export job could not be deleted on the server ({resp.status})")

