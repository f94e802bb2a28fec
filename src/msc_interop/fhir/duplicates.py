"""The same resource (type and id) met more than once in one read, settled so that no copy is kept silently.

Identical copies (the same content; meta aside) are converted once and the others counted as skipped, with a note:
a to-fhir folder holds every resource twice (bundle.json and the NDJSON files). Copies that differ are versions
when meta.versionId (all integers) or else meta.lastUpdated (all instants) says which one is the newest: that one
is converted, the older ones are skipped and listed under 'superseded' in rejects.json (not rejects: an export
with history is not bad data, so the exit status stays 0). Copies that differ with
nothing to say which is newer are all rejected (REJ-FHIR-008), naming where each was.

Content is compared with its references written one way ("Patient/x"): bundle.json refers by fullUrl
("urn:uuid:..."), the NDJSON files by type and id, and the two copies are the same resource.

Cost: nothing for resources whose type and id are met once (the reader already looks each key up). A copy is
hashed when it is met (orjson, keys sorted, meta left out, references rewritten; SHA-1 as a checksum). The first
copy of a resource that is kept in memory is hashed from it; a first Observation (not kept: fhir/read.py keeps its
flat record only) is read again from its file, each such file once, and only when some Observation came twice. A
copy whose hash differs is hashed again once all fullUrls are known (a reference to an entry further on in a
Bundle). Measured: a to-fhir folder holding 100,000 Observations twice (bundle.json and Observation.ndjson) reads
in about twice the time of reading the copies without comparing them (15 s against 7.5 s CPU): one more parse of
the NDJSON and a hash of each of the 212,000 resources.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import orjson

from msc_interop.fhir.io import Located, iter_resources
from msc_interop.fhir.read_common import FhirReadReport, canonical_reference


@dataclass(frozen=True)
class Copy:
    """One later copy of a resource: where it was, its content hash, its version, and (for resources kept in
    memory anyway, not Observations) the resource itself."""

    loc: Located
    digest: bytes  # content_digest
    version: tuple[Any, Any]  # (meta.versionId, meta.lastUpdated)


_REFERENCE = re.compile(rb'"reference":"((?:[^"\\]|\\.)*)"')


def content_digest(res: dict[str, Any], urls: dict[str, str]) -> bytes:
    """A hash of a resource's content: meta left out (its version and time are not its content), references
    written as "Type/id" (through `urls`, fullUrl -> "Type/id", for those by fullUrl)."""
    body = {k: v for k, v in res.items() if k != "meta"} if "meta" in res else res
    try:
        data = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits: Python's own text of it
        data = repr(sorted(body.items(), key=lambda kv: kv[0])).encode()

    return hashlib.sha1(_references_one_way(data, urls), usedforsecurity=False).digest()


_MARK = b'"reference":"'


def _references_one_way(data: bytes, urls: dict[str, str]) -> bytes:
    """The JSON text with each reference written as canonical_reference does (found with bytes.find: a regular
    expression over the whole text costs four times as much; text with escapes goes through the expression)."""
    if b"\\" in data:
        return _REFERENCE.sub(lambda m: _one_way(m.group(0), m.group(1), urls), data)
    parts = []
    pos = 0
    while (i := data.find(_MARK, pos)) >= 0:
        start = i + len(_MARK)
        end = data.find(b'"', start)
        parts += [data[pos:i], _one_way(data[i:end + 1], data[start:end], urls)]
        pos = end + 1
    if not parts:
        return data
    parts.append(data[pos:])
    return b"".join(parts)


def _one_way(whole: bytes, raw: bytes, urls: dict[str, str]) -> bytes:
    if b":" not in raw and b"_history" not in raw:  # "Type/id" or "#contained": written one way already
        return whole
    ref = orjson.loads(b'"' + raw + b'"') if b"\\" in raw else raw.decode()
    return _MARK[:-1] + orjson.dumps(canonical_reference(ref, urls))


def version_of(res: dict[str, Any]) -> tuple[Any, Any]:
    meta = res.get("meta")
    return (meta.get("versionId"), meta.get("lastUpdated")) if isinstance(meta, dict) else (None, None)


def copy_of(loc: Located, res: dict[str, Any], urls: dict[str, str]) -> Copy:
    """A later copy as met (its hash with the fullUrls known so far)."""
    return Copy(loc, content_digest(res, urls), version_of(res))


class Reader(Protocol):
    """What settling needs of the reader (fhir/read.py)."""

    report: FhirReadReport
    withdrawn: dict[str, str]
    dup_skipped: Counter[str]
    urls: dict[str, str]
    identical: Counter[str]
    identical_examples: list[str]

    def first_of(self, key: str) -> Located: ...
    def add_at(self, item: Located, form: str, fld: str, value: Any, reason: str, *, code: str) -> None: ...
    def replace(self, key: str, old: Located, new: Located) -> None: ...
    def withdraw_read(self, key: str, old: Located, why: str) -> None: ...


def settle(r: Reader, copies: dict[str, list[Copy]]) -> None:
    """Decide every resource met more than once (see the module's docstring)."""
    urls = r.urls
    firsts = {key: r.first_of(key) for key in copies}
    again = read_again([loc for loc in firsts.values() if not loc.resource],
                       lambda res: (content_digest(res, urls), version_of(res)))
    groups = {}
    for key, later in copies.items():
        first = firsts[key]
        d, v = again.get(_place(first), (b"", (None, None))) if not first.resource else (
            content_digest(first.resource, urls), version_of(first.resource))
        groups[key] = [Copy(first, d, v), *later]
    _hash_again(groups, urls)
    identical: Counter[str] = Counter()
    example: tuple[str, str] | None = None
    for key, group in groups.items():
        rtype = key.split("/", 1)[0]
        first, later = group[0].loc, group[1:]
        winner, by = _newest(group)
        if winner is None:
            _conflict(r, key, group)
            continue
        won = group[winner]
        if winner:
            new = won.loc if won.loc.resource else _with_resource(won.loc)
            r.replace(key, first, new)
        for i, c in enumerate(group):
            if i == winner:
                continue
            r.dup_skipped[rtype] += 1
            why = ("an identical copy of a resource read before" if c.digest == won.digest else
                   "an older version of a resource read (superseded by the newest; each listed under 'superseded' in "
                   "rejects.json)")
            r.report.skipped_why[(rtype, why)] = r.report.skipped_why.get((rtype, why), 0) + 1
            if c.digest == won.digest:
                identical[rtype] += 1
                if not example or key < example[0]:  # the least key: the same example however the read is cut
                    example = (key, f"{key} in {places([first, *[x.loc for x in later]])}")
                continue
            el, mine, newest = ("versionId", c.version[0], won.version[0]) if by == "versionId" else (
                "lastUpdated", c.version[1], won.version[1])
            r.report.superseded.append(f"{c.loc.label}: skipped: an older version of {key} (meta.{el} {mine}); the "
                                       f"newest (meta.{el} {newest}, {won.loc.label}) was converted")
    r.identical.update(identical)
    if example:
        r.identical_examples.append(example[1])


def duplicate_notes(report: FhirReadReport, identical: Counter[str], examples: list[str]) -> list[str]:
    """The notes on what settling skipped, said once for the read (of every partition of it): older versions
    (each listed under 'superseded'), identical copies by type; the examples are the first in sorted order."""
    notes = []
    if report.superseded:
        n = len(report.superseded)
        notes.append(f"{n} older version(s) of resources were skipped, the newest of each converted (each listed "
                     f"under 'superseded' in rejects.json), e.g. {min(report.superseded)}")
    if identical:
        n = sum(identical.values())
        kinds = ", ".join(f"{k} {t}" for t, k in sorted(identical.items()))
        notes.append(f"{n} resource(s) were identical copies of a resource read before ({kinds}; same type, id and "
                     f"content, e.g. {min(examples)}): each was converted once, the copies are counted as skipped")
    return notes


def _hash_again(groups: dict[str, list[Copy]], urls: dict[str, str]) -> None:
    """Copies whose hash differs from the first's, hashed again now that every fullUrl is known."""
    redo = [(key, i) for key, group in groups.items() for i, c in enumerate(group)
            if i and c.digest != group[0].digest]
    if not redo:
        return
    locs = [groups[key][i].loc for key, i in redo]
    again = read_again([loc for loc in locs if not loc.resource], lambda res: content_digest(res, urls))
    for (key, i), loc in zip(redo, locs, strict=True):
        c = groups[key][i]
        digest = content_digest(loc.resource, urls) if loc.resource else again.get(_place(loc), c.digest)
        groups[key][i] = Copy(c.loc, digest, c.version)


def _conflict(r: Reader, key: str, group: list[Copy]) -> None:
    """Copies that differ with no version to tell the newest: none is converted, each is listed."""
    rtype, rid = key.split("/", 1)
    n = len(group)
    times = "twice" if n == 2 else f"{n} times"
    where = places([c.loc for c in group])
    why = (f"resource {key} appears {times} with different content ({where}) and no meta.versionId or "
           "meta.lastUpdated says which is the newest: none of them is converted")
    r.withdraw_read(key, group[0].loc, f"it appears {times} with different content")
    for c in group:
        r.add_at(c.loc, rtype, f"{rtype}.id", rid, why, code="REJ-FHIR-008")


def _newest(group: list[Copy]) -> tuple[int | None, str]:
    """(index of the newest copy, "versionId" or "lastUpdated"); (None, "") when nothing says which one it is. All
    copies with the newest version must have one content (identical copies of the newest are not a conflict)."""
    digests = {c.digest for c in group}
    if len(digests) == 1:
        return 0, ""
    ids = [c.version[0] for c in group]
    if all(isinstance(x, str) and x.isdigit() for x in ids):
        found = _unique_max([int(x) for x in ids], group)
        if found is not None:
            return found, "versionId"
    times = [_instant(c.version[1]) for c in group]
    if all(t is not None for t in times):
        found = _unique_max(times, group)
        if found is not None:
            return found, "lastUpdated"
    return None, ""


def _unique_max(keys: list[Any], group: list[Copy]) -> int | None:
    top = max(keys)
    best = [i for i, k in enumerate(keys) if k == top]
    return best[0] if len({group[i].digest for i in best}) == 1 else None


def _instant(value: Any) -> datetime | None:
    """meta.lastUpdated as an aware datetime (FHIR instant: date, time and zone), else None."""
    if not isinstance(value, str):
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        return None
    return t if t.tzinfo is not None else None


def places(locs: Sequence[Located]) -> str:
    """Where copies were, grouped by file: "bundle.json entries 12 and 40", "... and Observation.ndjson line 3"."""
    by_file: dict[tuple[str, str], list[int]] = {}
    for loc in locs:
        by_file.setdefault((loc.file, loc.where), []).append(loc.position)
    parts = []
    for (file, where), positions in by_file.items():
        word = where if len(positions) == 1 else {"entry": "entries", "line": "lines"}.get(where, where)
        parts.append(f"{file} {word} {_and(positions)}")
    return _and(parts)


def _and(items: Sequence[Any]) -> str:
    words = [str(x) for x in items]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _place(loc: Located) -> tuple[Any, ...]:
    return (loc.source, loc.file, loc.where, loc.position)


def read_again(locs: Sequence[Located], fn: Callable[[dict[str, Any]], Any]) -> dict[tuple[Any, ...], Any]:
    """fn(resource) for the resources at `locs`, read again from their files (each file once); keyed by place."""
    if not locs:
        return {}
    wanted = {_place(loc) for loc in locs}
    files = list(dict.fromkeys(loc.source for loc in locs if loc.source is not None))
    out: dict[tuple[Any, ...], Any] = {}
    for item in iter_resources(files):
        if isinstance(item, Located):
            place = _place(item)
            if place in wanted:
                out[place] = fn(item.resource)
    return out


def _with_resource(loc: Located) -> Located:
    """`loc` with its resource read again from its file (a later copy of an Observation that wins)."""
    res = read_again([loc], lambda x: x)[_place(loc)]
    return Located(res, loc.file, loc.position, loc.where, loc.bundle_type, loc.full_url, loc.source)
