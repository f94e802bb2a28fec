"""The whole-set indexes of MSC-FHIR-008 and -009 over an NDJSON set of any size, in bounded memory.

Ids unique and references resolve need every `Type/id` of the set and every relative reference, with the places
(file, line) that hold them: ~12M resources and ~25M references for 10M Observations. Held as Python dicts of
strings that is ~2 GB. Here they are gathered in batches (`batch` ids or references), and a full batch is spilled
to disk, cut into `buckets` by a hash of the `Type/id` text (the id itself, or what a reference points at), so that
an id and every reference to it land in the same bucket. When the set is read, each bucket is loaded alone and
judged with exact strings (a dict of its ids, its references looked up there): no hash decides anything, the hash
only chooses the bucket, so a collision costs memory, never a wrong finding. Memory is one batch while reading and
one bucket at the end: about the set's size / `buckets` (~60 MB per bucket at 10M Observations with 128).

A set that fits in one batch is never written to disk. The files (under the system temp folder, or TMPDIR) are
removed when the index is closed. Python's `hash` of a string is salted per process, which is fine: buckets are
made and read in this process only (Dask workers send their batches here, validate/fhir_dask.py).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from array import array
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import orjson

from msc_interop.validate.fhir_read import _RELATIVE

BATCH = 250_000  # ids, or reference places, held before a spill
BUCKETS = 128


def target(value: str) -> str:
    """The `Type/id` a relative reference points at (its version, `/_history/n`, left out)."""
    m = _RELATIVE.match(value)
    assert m is not None
    return f"{m.group(1)}/{m.group(2)}"


Places = array | tuple[BinaryIO, int, int]  # the places themselves, or where they are: (file, first, count)


class Bucket:
    """The ids and references of one bucket: `Type/id` texts with their places, (reference text, places)."""

    def __init__(self, labels: list[str], places: array, refs: Iterable[tuple[str, Places]]):
        self.labels, self.places, self.refs = labels, places, refs

    def judged(self, types: set[str]) -> tuple[dict[str, list[int]], list[tuple[int, str]]]:
        """Each `Type/id` held more than once with its places (in order), and each (place, reference text) of a
        reference whose type is in `types` (the set's resource types) but whose `Type/id` is not here. The
        places of a reference that resolves are not read (one text, such as the study's, may have millions)."""
        first: dict[str, int] = {}
        repeated: dict[str, list[int]] = {}
        for label, at in zip(self.labels, self.places, strict=True):
            seen = first.setdefault(label, at)
            if seen != at:
                repeated.setdefault(label, [seen]).append(at)
        broken: list[tuple[int, str]] = []
        for value, places in self.refs:
            m = _RELATIVE.match(value)
            assert m is not None
            rtype = m.group(1)
            if rtype not in types or f"{rtype}/{m.group(2)}" in first:
                continue
            if not isinstance(places, array):
                fh, start, count = places
                fh.seek(start * 8)
                places = array("q")
                places.frombytes(fh.read(count * 8))
            broken += [(at, value) for at in places]
        return {label: sorted(places) for label, places in repeated.items()}, broken


class SpillIndex:
    """The ids (`Type/id`, place) and relative references (text -> places) of a set, batched and spilled by
    bucket (see the module docstring)."""

    def __init__(self, batch: int = BATCH, buckets: int = BUCKETS):
        self.batch, self.buckets = batch, buckets
        self.labels: list[str] = []
        self.places = array("q")
        self.pending: dict[str, array] = {}  # relative reference text -> places, this batch
        self.refs = 0  # places in `pending`
        self.folder: Path | None = None

    def add_id(self, label: str, at: int) -> None:
        self.labels.append(label)
        self.places.append(at)
        if len(self.labels) >= self.batch:
            self.spill()

    def places_of(self, value: str) -> array:
        """The places array of a relative reference in this batch (append to it, then call `counted`)."""
        places = self.pending.get(value)
        if places is None:
            places = self.pending[value] = array("q")
        return places

    def counted(self, n: int) -> None:
        """`n` reference places were added: spill when the batch is full."""
        self.refs += n
        if self.refs >= self.batch:
            self.spill()

    def full(self) -> bool:
        return len(self.labels) >= self.batch or self.refs >= self.batch

    def spill(self) -> None:
        """The batch appended to the bucket files, and emptied."""
        if not self.labels and not self.pending:
            return
        if self.folder is None:
            self.folder = Path(tempfile.mkdtemp(prefix="msc_fhir_index_"))
        n = self.buckets
        labels: list[list[str]] = [[] for _ in range(n)]
        places = [array("q") for _ in range(n)]
        for label, at in zip(self.labels, self.places, strict=True):
            b = hash(label) % n
            labels[b].append(label)
            places[b].append(at)
        refs: list[list[tuple[str, int]]] = [[] for _ in range(n)]
        ref_places = [array("q") for _ in range(n)]
        for value, ats in self.pending.items():
            b = hash(target(value)) % n
            refs[b].append((value, len(ats)))
            ref_places[b].extend(ats)
        for b in range(n):
            if labels[b]:
                self._append(f"i{b}", labels[b], places[b])
            if refs[b]:
                self._append(f"r{b}", refs[b], ref_places[b])
        self.labels, self.places, self.pending, self.refs = [], array("q"), {}, 0

    def _append(self, name: str, texts: list, places: array) -> None:
        assert self.folder is not None
        with open(self.folder / f"{name}.json", "ab") as fh:
            fh.write(orjson.dumps(texts) + b"\n")
        with open(self.folder / f"{name}.at", "ab") as fh:
            places.tofile(fh)

    def buckets_read(self) -> Iterator[Bucket]:
        """Every bucket, one at a time (the batch itself when nothing was spilled)."""
        if self.folder is None:
            yield Bucket(self.labels, self.places, self.pending.items())
            return
        self.spill()
        for b in range(self.buckets):
            labels: list[str] = []
            for line in self._lines(f"i{b}.json"):
                labels += orjson.loads(line)
            path = self.folder / f"r{b}.at"
            with open(path, "rb") if path.exists() else contextlib.nullcontext() as fh:
                yield Bucket(labels, self._places(f"i{b}.at"), self._refs(f"r{b}.json", fh))

    def _refs(self, name: str, fh: BinaryIO | None) -> Iterator[tuple[str, Places]]:
        """(reference text, where its places are in `fh`) of one bucket, batch after batch."""
        k = 0
        for line in self._lines(name):
            for value, count in orjson.loads(line):
                assert fh is not None
                yield value, (fh, k, count)
                k += count

    def _lines(self, name: str) -> list[bytes]:
        assert self.folder is not None
        path = self.folder / name
        return path.read_bytes().splitlines() if path.exists() else []

    def _places(self, name: str) -> array:
        assert self.folder is not None
        out = array("q")
        path = self.folder / name
        if path.exists():
            out.frombytes(path.read_bytes())
        return out

    def close(self) -> None:
        """The bucket files removed; the index emptied."""
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
        self.labels, self.places, self.pending, self.refs = [], array("q"), {}, 0
