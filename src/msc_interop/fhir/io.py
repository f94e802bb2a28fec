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
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson

from msc_interop import atomic
from msc_interop.atomic import atomic_open
from msc_interop.errors import InputError
from msc_interop.fhir import ids
from msc_interop.fhir.columns import ResourceColumns, constant_column, per_row_column, row_parts
from msc_interop.fhir.paging import BundlePage, page_of
from msc_interop.fhir.shapes import json_kind

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
    of the next chunk), about atomic.WRITE_PIECE bytes a call. Files without a descriptor, and systems without
    writev, get the pieces joined.
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
    ends = np.cumsum(np.fromiter(map(len, data), dtype=np.int64, count=len(data)))
    i, done = 0, 0
    while i < len(data):
        # pieces of about WRITE_PIECE bytes a call, as atomic.PacedFileIO writes (its docstring says why)
        j = min(int(np.searchsorted(ends, done + atomic.WRITE_PIECE, side="right")), i + IOV_MAX, len(data))
        if j <= i:  # one piece bigger than a call: written in slices
            _write_all(fd, memoryview(data[i]))
            j = i + 1
        else:
            pieces = data[i:j]
            written = os.writev(fd, pieces)
            if written < int(ends[j - 1]) - done:  # a short write (rare on files): the rest the plain way
                _write_all(fd, memoryview(b"".join(pieces))[written:])
        i, done = j, int(ends[j - 1])


def _write_all(fd: int, rest: memoryview) -> None:
    while rest:
        rest = rest[os.write(fd, rest[:atomic.WRITE_PIECE]):]


Sink = Callable[[IO[bytes], bytes | list[bytes]], None]


def bundle_header(bundle_type: str, bundle_id: str) -> bytes:
    """A streamed Bundle's bytes before its first entry."""
    return (b'{"resourceType":"Bundle","id":' + orjson.dumps(bundle_id) + b',"type":' + orjson.dumps(bundle_type)
            + b',"entry":[\n')


BUNDLE_END = b"\n]}\n"


class BundleWriter:
    """Stream a Bundle: header, then entries as they come, then the closing bracket.

    `sink(fh, data)` does the writing (default: at once; `BackgroundWrites.write` to overlap it)."""

    def __init__(self, fh: IO[bytes], bundle_type: str, bundle_id: str, sink: Sink = write_parts, *,
                 header: bool = True):
        """`header=False`: entries only (a part of a Bundle assembled later: fhir/partitioned.py)."""
        if bundle_type not in ("collection", "transaction"):
            raise InputError(f"bundle type {bundle_type!r} cannot be written; choose collection or transaction")
        self.fh = fh
        self.type = bundle_type
        self.count = 0
        self.sink = sink
        if header:
            sink(fh, bundle_header(bundle_type, bundle_id))

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
        self.sink(self.fh, BUNDLE_END)


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

@dataclass(frozen=True, slots=True)
class Located:
    """A resource and where it was read: file, 1-based line (NDJSON, single resource) or 0-based entry index."""

    resource: dict[str, Any]
    file: str
    position: int
    where: str  # "line" or "entry"
    bundle_type: str | None = None  # the Bundle it sat in (collection / transaction / searchset...)
    full_url: str | None = None
    source: Path | None = None  # the file on disk (to read a resource again: fhir/duplicates.py)

    @property
    def label(self) -> str:
        """Where it was, as a person reads it: "bundle.json entry 12", "Observation.ndjson line 3"."""
        return f"{self.file} {self.where} {self.position}"


@dataclass(frozen=True)
class ReadProblem:
    """A line, entry or whole file that holds no readable resource. `rtype`: the resource type it seems to hold
    (the line's own "resourceType", else a Bulk Data file name such as Observation.ndjson), None if unknown;
    `whole_file`: nothing of the file could be read (`lost` says what that cost)."""

    file: str
    position: int
    where: str
    message: str
    rtype: str | None = None
    whole_file: bool = False
    lost: str = ""


def iter_resources(files: Sequence[Path], pages: list[BundlePage] | None = None) -> Iterator[Located | ReadProblem]:
    """Every resource of the files (as inputs.kinds.fhir_files lists them from the paths a user gave). `pages`:
    where to add what each searchset / history Bundle says of the search result it is a page of (fhir/paging.py)."""
    for path in files:
        if path.suffix.lower() == ".ndjson":
            yield from _read_ndjson(path, pages)
        else:
            yield from _read_json(path, pages)


_BOM = b"\xef\xbb\xbf"
_TYPE_MARK = re.compile(rb'"resourceType"\s*:\s*"([A-Z][A-Za-z]{1,63})"')


def _json_error(exc: orjson.JSONDecodeError, whole: bool, data: bytes = b"") -> str:
    """orjson's message with the place in words (its line and column; only the column inside an NDJSON line)."""
    msg = getattr(exc, "msg", str(exc))
    pos = getattr(exc, "pos", None)
    if (data[pos:pos + 4] if isinstance(pos, int) else b"").startswith((b"NaN", b"Inf", b"-Inf")):
        msg = "NaN and Infinity are not JSON numbers"
    elif msg == "depth limit exceeded":
        msg = "nested deeper than 1024 levels (orjson's limit; FHIR resources are never that deep)"
    line, col = getattr(exc, "lineno", None), getattr(exc, "colno", None)
    if whole and line is not None:
        return f"not valid JSON at line {line}, column {col}: {msg}"
    return f"not valid JSON at column {col}: {msg}" if col is not None else f"not valid JSON: {msg}"


def _bulk_type(name: str) -> str | None:
    """The resource type a Bulk Data file name says (Observation.ndjson, Observation-2.ndjson, ...)."""
    m = re.match(r"([A-Z][A-Za-z]+)", name)
    return m.group(1) if m else None


# NDJSON files cut from others (fhir/subject_cut.py): file -> (the original file's name, each line's original
# number). Set around a read by `cut_origins`, so that every reader, and a second read of a file
# (fhir/duplicates.py), names the original file and line.
_ORIGINS: dict[Path, tuple[str, Any]] = {}


@contextlib.contextmanager
def cut_origins(origins: dict[Path, tuple[str, Any]]) -> Iterator[None]:
    """Read the files of `origins` as the lines they were cut from (see _ORIGINS)."""
    _ORIGINS.update(origins)
    try:
        yield
    finally:
        for path in origins:
            _ORIGINS.pop(path, None)


def _read_ndjson(path: Path, pages: list[BundlePage] | None = None) -> Iterator[Located | ReadProblem]:
    name, original = _ORIGINS.get(path, (path.name, None))
    if original is not None:
        yield from _read_cut(path, name, original)
        return
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed by the with below (an open that fails is a ReadProblem)
    except OSError as exc:
        yield ReadProblem(name, 0, "file", f"the file cannot be opened ({exc.strerror or exc})", whole_file=True,
                          lost="an unknown number of resources")
        return
    file_type = _bulk_type(name)
    with fh:
        for lineno, line in enumerate(fh, 1):
            if lineno == 1 and line.startswith(_BOM):
                line = line[len(_BOM):]
            if line.strip():
                yield from _ndjson_line(line, lineno, name, path, file_type, pages)


def _read_cut(path: Path, name: str, original: Any) -> Iterator[Located | ReadProblem]:
    """A cut file (no blank lines, no byte-order mark): each line read as line `original[i]` of file `name`
    (`original`: the numbers, or a file of them as int64, read only while this file is read)."""
    file_type = _bulk_type(name)
    numbers = np.fromfile(original, dtype=np.int64) if isinstance(original, Path) else original
    with open(path, "rb") as fh:
        for line, lineno in zip(fh, numbers.tolist(), strict=True):
            yield from _ndjson_line(line, lineno, name, path, file_type)


def _ndjson_line(line: bytes, lineno: int, name: str, path: Path, file_type: str | None,
                 pages: list[BundlePage] | None = None) -> Iterator[Located | ReadProblem]:
    """The resource(s) of one non-blank NDJSON line, or the problem with it."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        yield ReadProblem(name, lineno, "line", f"line {lineno} is {_json_error(exc, False, line)}",
                          _line_type(line) or file_type)
        return
    if not isinstance(obj, dict):
        yield ReadProblem(name, lineno, "line", f"line {lineno}: a NDJSON line must be one JSON object, "
                          f"found {json_kind(obj)}", file_type)
        return
    if obj.get("resourceType") == "Bundle":
        yield from _bundle_entries(obj, f"{name} line {lineno}", path, pages, name)
        return
    yield Located(obj, name, lineno, "line", None, None, path)


def _line_type(line: bytes) -> str | None:
    m = _TYPE_MARK.search(line)
    return m.group(1).decode() if m else None


def _read_json(path: Path, pages: list[BundlePage] | None = None) -> Iterator[Located | ReadProblem]:
    name = path.name
    try:
        data = path.read_bytes()
    except OSError as exc:
        yield ReadProblem(name, 0, "file", f"the file cannot be read ({exc.strerror or exc})", whole_file=True,
                          lost="an unknown number of resources")
        return
    if data.startswith(_BOM):  # a UTF-8 byte-order mark (Windows editors write one): not part of the JSON
        data = data[len(_BOM):]
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        yield ReadProblem(name, _line_of(data, exc), "line", f"the whole file is {_json_error(exc, True, data)}",
                          whole_file=True, lost=_lost(data))
        return
    if not isinstance(obj, dict):
        yield ReadProblem(name, 1, "line", f"expected a FHIR resource (a JSON object), found {json_kind(obj)}",
                          whole_file=True, lost=_lost(data))
        return
    if obj.get("resourceType") == "Bundle":
        yield from _bundle_entries(obj, name, path, pages)
    else:
        yield Located(obj, name, 1, "line", source=path)


def _lost(data: bytes) -> str:
    """What an unreadable file held, as far as its text says: its resources cannot be counted exactly."""
    n = data.count(b'"resourceType"')
    if n == 0:
        return "no resource could be recognised in it"
    first = _TYPE_MARK.search(data, 0, 4096)
    if n > 1 and first is not None and first.group(1) == b"Bundle":
        return (f"an unknown number of resources, about {n - 1} (the text \"resourceType\" occurs {n} times in it, "
                "once for the Bundle)")
    return f"an unknown number of resources (the text \"resourceType\" occurs {n} time{'' if n == 1 else 's'} in it)"


def _line_of(data: bytes, exc: orjson.JSONDecodeError) -> int:
    pos = getattr(exc, "pos", None)
    if isinstance(pos, int):
        return data.count(b"\n", 0, pos) + 1
    return 1


def _bundle_entries(bundle: dict[str, Any], name: str, path: Path, pages: list[BundlePage] | None = None,
                    file: str | None = None) -> Iterator[Located | ReadProblem]:
    """The entries' resources of a Bundle (`name`: where it is, as the reports name it; `file`: the name its
    entries are placed by when that differs, an NDJSON line's Bundle)."""
    if pages is not None:
        page = page_of(bundle, name)
        if page is not None:
            pages.append(page)
    label, name = name, file if file is not None else name
    btype = bundle.get("type")
    entries = bundle.get("entry")
    if entries is None:
        return
    if not isinstance(entries, list):
        yield ReadProblem(name, 0, "entry", f"Bundle.entry is {json_kind(entries)}, not a list: no entry of the "
                          "Bundle can be read", whole_file=True, lost="an unknown number of resources")
        return
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            yield ReadProblem(name, i, "entry", f"Bundle entry {i} is {json_kind(entry)}, not a JSON object")
            continue
        res = entry.get("resource")
        full_url = entry.get("fullUrl")
        if res is None:
            request = entry.get("request")
            method = request.get("method") if isinstance(request, dict) else None
            if method in ("DELETE", "GET", "HEAD"):
                continue  # a request without a resource: nothing to convert
            yield ReadProblem(name, i, "entry", f"Bundle entry {i} has no resource")
            continue
        if not isinstance(res, dict):
            yield ReadProblem(name, i, "entry", f"Bundle entry {i}: resource is {json_kind(res)}, not a JSON "
                              "object")
            continue
        if res.get("resourceType") == "Bundle":
            yield from _bundle_entries(res, f"{label} entry {i}", path, pages, f"{name} entry {i}")
            continue
        yield Located(res, name, i, "entry", btype if isinstance(btype, str) else None,
                      full_url if isinstance(full_url, str) else None, path)
