"""FHIR JSON in and out: Bundles and Bulk-Data NDJSON, written in streaming chunks with orjson.

Writing: `BundleWriter` streams one Bundle (`collection` or `transaction`) entry by entry, so a big study
never sits in memory as one document; `NdjsonWriter` writes `<ResourceType>.ndjson` files (FHIR Bulk Data
layout). Every file is written to a temporary name and renamed into place when all went well (atomic).

Reading: `iter_resources(paths)` yields every resource with where it came from (file, line or entry index,
whether it sat in a Bundle whose references must resolve inside it) and reports what could not be read
(malformed JSON, a line that is not an object, a Bundle entry without a resource) as `ReadProblem`s,
going on with the rest.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from msc_interop.atomic import atomic_open
from msc_interop.errors import InputError
from msc_interop.fhir import ids

OPTS = orjson.OPT_APPEND_NEWLINE


class BundleWriter:
    """Stream a Bundle: header, then entries as they come, then the closing bracket."""

    def __init__(self, fh: IO[bytes], bundle_type: str, bundle_id: str):
        if bundle_type not in ("collection", "transaction"):
            raise InputError(f"bundle type {bundle_type!r} cannot be written; choose collection or transaction")
        self.fh = fh
        self.type = bundle_type
        self.count = 0
        fh.write(b'{"resourceType":"Bundle","id":' + orjson.dumps(bundle_id)
                 + b',"type":' + orjson.dumps(bundle_type) + b',"entry":[\n')

    def add(self, resources: Sequence[dict[str, Any]]) -> None:
        parts = []
        transaction = self.type == "transaction"
        for r in resources:
            rtype, rid = r["resourceType"], r["id"]
            entry: dict[str, Any] = {"fullUrl": ids.urn(rtype, rid), "resource": r}
            if transaction:
                entry["request"] = {"method": "PUT", "url": f"{rtype}/{rid}"}
            parts.append(orjson.dumps(entry))
        if not parts:
            return
        sep = b",\n" if self.count else b""
        self.fh.write(sep + b",\n".join(parts))
        self.count += len(parts)

    def close(self) -> None:
        self.fh.write(b"\n]}\n")


class NdjsonWriter:
    """One `<ResourceType>.ndjson` file per resource type, opened when its first resource comes."""

    def __init__(self, folder: Path, stack: contextlib.ExitStack):
        self.folder = folder
        self.stack = stack
        self.files: dict[str, IO[bytes]] = {}
        self.paths: list[Path] = []

    def add(self, resources: Sequence[dict[str, Any]]) -> None:
        by_type: dict[str, list[bytes]] = {}
        for r in resources:
            by_type.setdefault(r["resourceType"], []).append(orjson.dumps(r, option=OPTS))
        for rtype, lines in by_type.items():
            fh = self.files.get(rtype)
            if fh is None:
                path = self.folder / f"{rtype}.ndjson"
                fh = self.stack.enter_context(atomic_open(path, "wb"))
                self.files[rtype] = fh
                self.paths.append(path)
            fh.write(b"".join(lines))


# --- reading ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Located:
    """A resource and where it was read: file, 1-based line (NDJSON, single resource) or 0-based entry index."""

    resource: dict[str, Any]
    file: str
    position: int
    where: str  # "line" or "entry"
    bundle_type: str | None = None  # the Bundle it sat in (collection / transaction / searchset...)
    full_url: str | None = None

    @property
    def label(self) -> str:
        return f"{self.file} {self.where} {self.position}"


@dataclass(frozen=True)
class ReadProblem:
    file: str
    position: int
    where: str
    message: str


def expand(paths: Sequence[Path | str]) -> list[Path]:
    """Files to read: the files given, and the .json / .ndjson files of folders given (sorted by name)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if not p.exists():
            raise InputError(f"{p}: no such file or folder")
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in (".json", ".ndjson")
                           and not f.name.startswith("."))
            if not found:
                raise InputError(f"{p}: no .json or .ndjson files in this folder")
            out += found
        else:
            out.append(p)
    return out


def iter_resources(paths: Sequence[Path | str]) -> Iterator[Located | ReadProblem]:
    for path in expand(paths):
        if path.suffix.lower() == ".ndjson":
            yield from _read_ndjson(path)
        else:
            yield from _read_json(path)


def _read_ndjson(path: Path) -> Iterator[Located | ReadProblem]:
    name = path.name
    with open(path, "rb") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                yield ReadProblem(name, lineno, "line", f"not valid JSON ({exc})")
                continue
            if not isinstance(obj, dict):
                yield ReadProblem(name, lineno, "line", f"a NDJSON line must be one JSON object, found "
                                                       f"{type(obj).__name__}")
                continue
            if obj.get("resourceType") == "Bundle":
                yield from _bundle_entries(obj, name)
                continue
            yield Located(obj, name, lineno, "line")


def _read_json(path: Path) -> Iterator[Located | ReadProblem]:
    name = path.name
    data = path.read_bytes()
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        yield ReadProblem(name, _line_of(data, exc), "line", f"not valid JSON ({exc})")
        return
    if not isinstance(obj, dict):
        yield ReadProblem(name, 1, "line", f"expected a FHIR resource (a JSON object), found {type(obj).__name__}")
        return
    if obj.get("resourceType") == "Bundle":
        yield from _bundle_entries(obj, name)
    else:
        yield Located(obj, name, 1, "line")


def _line_of(data: bytes, exc: orjson.JSONDecodeError) -> int:
    pos = getattr(exc, "pos", None)
    if isinstance(pos, int):
        return data.count(b"\n", 0, pos) + 1
    return 1


def _bundle_entries(bundle: dict[str, Any], name: str) -> Iterator[Located | ReadProblem]:
    btype = bundle.get("type")
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        yield ReadProblem(name, 0, "entry", "Bundle.entry is not a list")
        return
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            yield ReadProblem(name, i, "entry", "Bundle entry is not a JSON object")
            continue
        res = entry.get("resource")
        if res is None:
            method = (entry.get("request") or {}).get("method")
            if method in ("DELETE", "GET", "HEAD"):
                continue  # a request without a resource: nothing to convert
            yield ReadProblem(name, i, "entry", "Bundle entry has no resource")
            continue
        if not isinstance(res, dict):
            yield ReadProblem(name, i, "entry", "Bundle entry resource is not a JSON object")
            continue
        if res.get("resourceType") == "Bundle":
            yield from _bundle_entries(res, f"{name} entry {i}")
            continue
        yield Located(res, name, i, "entry", btype, entry.get("fullUrl"))
