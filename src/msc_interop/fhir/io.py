"""FHIR JSON in and out: Bundles and Bulk-Data NDJSON, written in streaming chunks with orjson.

Writing: `BundleWriter` streams one Bundle (`collection` or `transaction`) entry by entry, so a big study
never sits in memory as one document; `NdjsonWriter` writes `<ResourceType>.ndjson` files (FHIR Bulk Data
layout). Both take chunks as lists of dicts or column-wise (`ResourceColumns`, written from pre-serialised
pieces, byte for byte what orjson writes for the dicts), and may hand the writing to `BackgroundWrites`.
Every file is written to a temporary name and renamed into place when all went well (atomic).

Reading: `iter_resources(files)` yields every resource with where it came from (file, line or entry index,
whether it sat in a Bundle whose references must resolve inside it) and reports what could not be read
(malformed JSON, a line that is not an object, a Bundle entry without a resource) as `ReadProblem`s,
going on with the rest.
"""

from __future__ import annotations

import contextlib
import io
import os
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from msc_interop.atomic import atomic_open
from msc_interop.errors import InputError
from msc_interop.fhir import ids
from msc_interop.fhir.columns import ResourceColumns, constant_column, per_row_column, row_parts

OPTS = orjson.OPT_APPEND_NEWLINE


class BackgroundWrites:
    """Write blocks of bytes to files on one background thread, in the order given.

    Why: writing a chunk's text (~200 MB) to disk releases the GIL, so the next chunk can be built meanwhile (here
    the disk write is about a quarter of the time of writing NDJSON). At most `depth` items wait, so memory
    stays bounded.
    Use as a context manager *inside* the one that closes the files: leaving it waits for every write (and
    re-raises a write's error); leaving it on an error drops the blocks still waiting.
    """

    def __init__(self, depth: int = 2):
        self._queue: queue.Queue[tuple[IO[bytes], bytes | list[bytes]] | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._cancelled = False
        self._thread = threading.Thread(target=self._run, name="msc-interop-writer", daemon=True)
        self._thread.start()

    def write(self, fh: IO[bytes], data: bytes | list[bytes]) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put((fh, data))

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is None and not self._cancelled:
                try:
                    write_parts(*item)
                except BaseException as exc:  # handed to the writing thread at its next write or at the end
                    self._error = exc

    def __enter__(self) -> BackgroundWrites:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._cancelled = exc_type is not None
        self._queue.put(None)
        self._thread.join()
        if self._error is not None and exc_type is None:
            raise self._error


# Pieces handed to one writev call (the POSIX limit; Linux and macOS allow 1024).
IOV_MAX = 1024


def write_parts(fh: IO[bytes], data: bytes | list[bytes]) -> None:
    """Write bytes, or a list of pieces of bytes one after the other.

    Why writev: a chunk of NDJSON arrives as many small pieces (each row's fragments, fhir/columns.py).
    Joining them costs a copy under the GIL; `os.writev` hands them to the kernel as they are, and the copy
    happens in the system call with the GIL released (on the background writer thread, beside the building
    of the next chunk). Files without a descriptor, and systems without writev, get the pieces joined.
    """
    if isinstance(data, bytes):
        fh.write(data)
        return
    try:
        fd = fh.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        fd = -1
    if fd < 0 or not hasattr(os, "writev"):
        for i in range(0, len(data), IOV_MAX):
            fh.write(b"".join(data[i:i + IOV_MAX]))
        return
    fh.flush()  # what was written through the buffer goes first
    for i in range(0, len(data), IOV_MAX):
        pieces = data[i:i + IOV_MAX]
        written = os.writev(fd, pieces)
        if written < sum(map(len, pieces)):  # a short write (rare on files): the rest the plain way
            rest = memoryview(b"".join(pieces))[written:]
            while rest:
                rest = rest[os.write(fd, rest):]


Sink = Callable[[IO[bytes], bytes | list[bytes]], None]


class BundleWriter:
    """Stream a Bundle: header, then entries as they come, then the closing bracket.

    `sink(fh, data)` does the writing (default: at once; `BackgroundWrites.write` to overlap it)."""

    def __init__(self, fh: IO[bytes], bundle_type: str, bundle_id: str, sink: Sink = write_parts):
        if bundle_type not in ("collection", "transaction"):
            raise InputError(f"bundle type {bundle_type!r} cannot be written; choose collection or transaction")
        self.fh = fh
        self.type = bundle_type
        self.count = 0
        self.sink = sink
        sink(fh, b'{"resourceType":"Bundle","id":' + orjson.dumps(bundle_id)
             + b',"type":' + orjson.dumps(bundle_type) + b',"entry":[\n')

    def add(self, resources: Sequence[dict[str, Any]] | ResourceColumns) -> None:
        if isinstance(resources, ResourceColumns):
            self._add_columns(resources)
            return
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
        self.sink(self.fh, sep + b",\n".join(parts))
        self.count += len(parts)

    def _add_columns(self, chunk: ResourceColumns) -> None:
        """Entries of a column-wise chunk, byte for byte what `add` writes for the same resources as dicts:
        `{"fullUrl":...,"resource":<resource>[,"request":{...}]}` joined by `,\\n`."""
        if not chunk.n:
            return
        rtype, rids = chunk.resource_type, chunk.ids
        heads = [b'{"fullUrl":' + orjson.dumps(ids.urn(rtype, rid)) + b',"resource":' for rid in rids]
        if self.type == "transaction":
            tails = [b',"request":' + orjson.dumps({"method": "PUT", "url": f"{rtype}/{rid}"}) + b"},\n"
                     for rid in rids]
            tail = per_row_column(tails)
        else:
            tail = constant_column(chunk.n, b"},\n")
        columns = [per_row_column(heads), *chunk.fragments(), constant_column(chunk.n, b"}"), tail]
        parts = row_parts(chunk.n, columns)
        parts[-1] = parts[-1][:-2]  # no separator after the chunk's last entry
        if self.count:  # a separator before the chunk when entries came before it
            self.sink(self.fh, b",\n")
        self.sink(self.fh, parts)
        self.count += chunk.n

    def close(self) -> None:
        self.sink(self.fh, b"\n]}\n")


class NdjsonWriter:
    """One `<ResourceType>.ndjson` file per resource type, opened when its first resource comes.

    `sink(fh, data)` does the writing (default: at once; `BackgroundWrites.write` to overlap it)."""

    def __init__(self, folder: Path, stack: contextlib.ExitStack, sink: Sink = write_parts):
        self.folder = folder
        self.stack = stack
        self.sink = sink
        self.files: dict[str, IO[bytes]] = {}
        self.paths: list[Path] = []

    def add(self, resources: Sequence[dict[str, Any]] | ResourceColumns) -> None:
        if isinstance(resources, ResourceColumns):
            if resources.n:
                self.sink(self._file(resources.resource_type), resources.ndjson_parts())
            return
        by_type: dict[str, list[bytes]] = {}
        for r in resources:
            by_type.setdefault(r["resourceType"], []).append(orjson.dumps(r, option=OPTS))
        for rtype, lines in by_type.items():
            self.sink(self._file(rtype), b"".join(lines))

    def _file(self, rtype: str) -> IO[bytes]:
        fh = self.files.get(rtype)
        if fh is None:
            path = self.folder / f"{rtype}.ndjson"
            fh = self.stack.enter_context(atomic_open(path, "wb"))
            self.files[rtype] = fh
            self.paths.append(path)
        return fh


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


def iter_resources(files: Sequence[Path]) -> Iterator[Located | ReadProblem]:
    """Every resource of the files (as inputs.kinds.fhir_files lists them from the paths a user gave)."""
    for path in files:
        if path.suffix.lower() == ".ndjson":
            yield from _read_ndjson(path)
        else:
            yield from _read_json(path)


_BOM = b"\xef\xbb\xbf"


def _read_ndjson(path: Path) -> Iterator[Located | ReadProblem]:
    name = path.name
    with open(path, "rb") as fh:
        for lineno, line in enumerate(fh, 1):
            if lineno == 1 and line.startswith(_BOM):
                line = line[len(_BOM):]
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
    if data.startswith(_BOM):  # a UTF-8 byte-order mark (Windows editors write one): not part of the JSON
        data = data[len(_BOM):]
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
