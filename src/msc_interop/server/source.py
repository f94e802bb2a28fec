"""The FHIR resources a push sends, from its INPUT, streamed to scratch files rather than held in memory.

Study records, ODM or SDTM go through to-fhir (NDJSON in a temporary folder); FHIR Bundles / NDJSON are
read as they are, Bundle-internal `urn:uuid` references turned into `Type/id` (a PUT by id needs them
resolved by the client). Each resource is written to `<scratch>/<Type>.ndjson` as it is read; what stays in
memory is, per resource, a 16-byte key of Type/id and the first 16 bytes of its content hash (keyset.py), so
that a push of 100k resources holds a few MB, not the resources.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson

from msc_interop.fhir import terms
from msc_interop.fhir.io import Located, iter_resources
from msc_interop.fhir.paging import BundlePage
from msc_interop.inputs.kinds import fhir_files, is_fhir
from msc_interop.rejects import RejectReport
from msc_interop.server import keyset, tags

# Servers that check references need a resource's targets first: send types in this order (others after,
# by name). Deletions go in the reverse order.
TYPE_ORDER = ("Organization", "ResearchStudy", "Patient", "ResearchSubject", "Encounter")
_TYPE_NAME = re.compile(r"[A-Z][A-Za-z]{1,63}\Z")  # also the scratch file's name


@dataclass
class Source:
    scratch: Path  # <Type>.ndjson per type: the resources in input order, references resolved
    counts: dict[str, int] = field(default_factory=dict)  # resources per type (duplicates included)
    keys: np.ndarray = field(default_factory=lambda: np.zeros(0, keyset.KEY))  # in send order (ordered_types)
    hashes: np.ndarray = field(default_factory=lambda: np.zeros(0, keyset.KEY))  # content hash, 16 bytes
    first: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # False: a repeat of an earlier Type/id
    studyid: str | None = None
    target: str | None = None  # what the Provenance points at: the first ResearchStudy, else the first resource
    files: list[tuple[str, str]] = field(default_factory=list)  # (file name, SHA-256): Provenance entities
    input_sha256: str = ""  # of the input files (names and contents): the checkpoint's header
    content_sha256: str = ""  # of every Type/id and content hash, in send order (the same input read otherwise)
    problems: list[str] = field(default_factory=list)  # what could not be read or cannot be PUT
    rejects: RejectReport | None = None  # to-fhir's, for records / SDTM input
    pages: list[BundlePage] = field(default_factory=list)  # the searchset / history Bundles read (fhir/paging.py)
    kind: str = "fhir"

    def ordered_types(self) -> list[str]:
        return sorted(self.counts, key=type_rank)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def stream(self) -> Iterator[tuple[int, str, dict[str, Any]]]:
        """(index in send order, type, resource) of every resource, one at a time from the scratch files."""
        i = 0
        for rtype in self.ordered_types():
            with open(self.scratch / f"{rtype}.ndjson", "rb") as fh:
                for line in fh:
                    yield i, rtype, orjson.loads(line)
                    i += 1


def type_rank(rtype: str) -> tuple[int, str]:
    return (TYPE_ORDER.index(rtype), "") if rtype in TYPE_ORDER else (len(TYPE_ORDER), rtype)


def load_source(path: Path, workdir: Path, fhir_version: str, odm_map: Path | None = None,
                encoding: str | None = None, timezone: str | None = None) -> Source:
    """The resources of `path` in `workdir/scratch` (a records / SDTM input is converted into `workdir` first)."""
    src = Source(scratch=workdir / "scratch", files=input_hashes(path))
    src.input_sha256 = hashlib.sha256("".join(f"{n}\0{h}\n" for n, h in src.files).encode()).hexdigest()
    if is_fhir(path):
        files, _ = fhir_files([path])
    else:
        from msc_interop import api

        result, rejects = api.to_fhir(path, workdir / "converted", fhir_version=fhir_version, bundle="none",
                                      ndjson=True, validate=False, odm_map=odm_map, encoding=encoding,
                                      timezone=timezone)
        src.rejects, src.kind = rejects, "records or SDTM"
        files = [p for p in result.paths if p.suffix == ".ndjson"]
    _read(src, files)
    return src


class _Scratch:
    """Per type: the open scratch file, the keys and hashes in input order, a running SHA-256."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.out: dict[str, IO[bytes]] = {}
        self.keys: dict[str, keyset.KeyBuilder] = {}
        self.digest: dict[str, Any] = {}

    def add(self, rtype: str, rid: str, res: dict[str, Any]) -> None:
        if rtype not in self.out:
            self.out[rtype] = open(self.folder / f"{rtype}.ndjson", "wb")  # noqa: SIM115 (closed in close)
            self.keys[rtype], self.digest[rtype] = keyset.KeyBuilder(), hashlib.sha256()
        digest = tags.content_hash(res)
        self.out[rtype].write(orjson.dumps(res) + b"\n")
        self.keys[rtype].add(keyset.key(rtype, rid), bytes.fromhex(digest[:32]))
        self.digest[rtype].update(f"{rtype}/{rid}={digest}\n".encode())

    def close(self) -> None:
        for fh in self.out.values():
            fh.close()


def _read(src: Source, files: list[Path]) -> None:
    src.scratch.mkdir(parents=True, exist_ok=True)
    scratch = _Scratch(src.scratch)
    urls: dict[str, str] = {}  # Bundle entries' fullUrl -> Type/id (Bundles are read whole anyway)
    study_system = terms.id_system("studyid")
    first_any = None
    try:
        for item in iter_resources(files, src.pages):
            if not isinstance(item, Located):
                src.problems.append(f"{item.file} {item.where} {item.position}: {item.message}")
                continue
            res, rid, rtype = item.resource, item.resource.get("id"), item.resource.get("resourceType")
            if not isinstance(rid, str) or not rid or not isinstance(rtype, str):
                src.problems.append(f"{item.label}: a resource without an id cannot be PUT by id; not sent")
                continue
            if not _TYPE_NAME.match(rtype):
                src.problems.append(f"{item.label}: resourceType {rtype[:70]!r} is not a FHIR type name; not sent")
                continue
            if item.full_url:
                urls[item.full_url] = f"{rtype}/{rid}"
            scratch.add(rtype, rid, res)
            first_any = first_any or f"{rtype}/{rid}"
            if rtype == "ResearchStudy" and src.target is None:
                src.target = f"{rtype}/{rid}"
                src.studyid = next((i.get("value") for i in res.get("identifier") or []
                                    if isinstance(i, dict) and i.get("system") == study_system), None)
    finally:
        scratch.close()
    src.target = src.target or first_any
    if urls:
        _resolve_all(src, scratch, urls)
    types = sorted(scratch.keys, key=type_rank)
    src.counts = {t: len(scratch.keys[t]) for t in types}
    src.keys = np.concatenate([scratch.keys[t].keys() for t in types]) if types else src.keys
    src.hashes = np.concatenate([scratch.keys[t].values() for t in types]) if types else src.hashes
    src.content_sha256 = hashlib.sha256("".join(scratch.digest[t].hexdigest() for t in types).encode()).hexdigest()
    src.first = keyset.first_occurrences(src.keys)
    if not src.first.all():
        for i, rtype, res in src.stream():
            if not src.first[i]:
                src.problems.append(f"{rtype}/{res['id']} is in the input more than once: only the first copy "
                                    "is sent")


def _resolve_all(src: Source, scratch: _Scratch, urls: dict[str, str]) -> None:
    """The scratch files again with every fullUrl reference resolved (and each content hash of what is sent)."""
    types = list(scratch.keys)
    again = _Scratch(src.scratch / "resolved")
    again.folder.mkdir()
    try:
        for rtype in types:
            with open(src.scratch / f"{rtype}.ndjson", "rb") as fh:
                for line in fh:
                    res = _resolved(orjson.loads(line), urls)
                    again.add(rtype, res["id"], res)
    finally:
        again.close()
    for rtype in types:
        (again.folder / f"{rtype}.ndjson").replace(src.scratch / f"{rtype}.ndjson")
    scratch.keys, scratch.digest = again.keys, again.digest


def _resolved(node: Any, urls: dict[str, str]) -> Any:
    """`node` with every `reference` that is a Bundle entry's fullUrl replaced by that entry's Type/id."""
    if isinstance(node, dict):
        out = {k: _resolved(v, urls) for k, v in node.items()}
        ref = node.get("reference")
        if isinstance(ref, str) and ref in urls:
            out["reference"] = urls[ref]
        return out
    if isinstance(node, list):
        return [_resolved(v, urls) for v in node]
    return node


def input_hashes(path: Path) -> list[tuple[str, str]]:
    """(name relative to INPUT, SHA-256) of the input file, or of every file under the input folder."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    out = []
    for p in files:
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                h.update(block)
        out.append((p.name if p == path else str(p.relative_to(path)), h.hexdigest()))
    return out
