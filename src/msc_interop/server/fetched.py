"""What a pull fetches, streamed to disk as it comes (REST search pages as Bulk files), then written to
OUT/fhir/<Type>.ndjson in record order, one copy per id.

Why: a pull of 100k Observations held as dicts costs about 1 GB before the conversion starts. Here each
resource is appended to a scratch file when its page arrives; ordering and de-duplication read the files
again and keep, per line, its id, its place in the file and its sort key in compact arrays (numpy / array),
then copy the lines in order.
"""

from __future__ import annotations

import array
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson

from msc_interop.atomic import atomic_open
from msc_interop.fhir import terms

REFERENCED = ("ResearchStudy", "Organization")  # in no patient's compartment: fetched by id after the rest


class FetchedStore:
    """Resources appended to `<folder>/<Type>.ndjson` as they come. With `track_references`, the ids of the
    ResearchStudy / Organization resources they reference, and of those fetched, are remembered (a few)."""

    def __init__(self, folder: Path, track_references: bool = False):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.lines: dict[str, int] = {}
        self._out: dict[str, IO[bytes]] = {}
        self._track = track_references
        self.referenced: dict[str, set[str]] = {t: set() for t in REFERENCED}
        self.known: dict[str, set[str]] = {t: set() for t in REFERENCED}

    def path(self, rtype: str) -> Path:
        return self.folder / f"{rtype}.ndjson"

    def add(self, res: dict[str, Any]) -> None:
        rtype = res["resourceType"]
        if rtype not in self._out:
            self._out[rtype] = open(self.path(rtype), "ab")  # noqa: SIM115 (closed in close)
        self._out[rtype].write(orjson.dumps(res) + b"\n")
        self.lines[rtype] = self.lines.get(rtype, 0) + 1
        if self._track:
            if rtype in self.known:
                self.known[rtype].add(res["id"])
            for ref in references(res):
                t, _, rid = ref.partition("/")
                if t in self.referenced and rid:
                    self.referenced[t].add(rid)

    def add_all(self, found: Iterable[dict[str, Any]]) -> None:
        for res in found:
            self.add(res)

    def missing(self) -> dict[str, list[str]]:
        """Referenced ResearchStudy / Organization ids not fetched yet."""
        return {t: sorted(ids - self.known[t]) for t, ids in self.referenced.items() if ids - self.known[t]}

    def close(self) -> None:
        for fh in self._out.values():
            fh.close()
        self._out.clear()


def references(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["reference"]] if isinstance(node.get("reference"), str) else []
        return found + [r for v in node.values() for r in references(v)]
    if isinstance(node, list):
        return [r for v in node for r in references(v)]
    return []


def write_ordered(sources: list[Path], target: Path) -> tuple[int, int]:
    """The resources of `sources` (NDJSON, a later file's copy of an id replacing an earlier one's) written to
    `target` in record order (order_key). Returns (resources written, distinct ids in the last source)."""
    seq_system = terms.id_system("seq")
    ids: list[bytes] = []
    heads: dict[str, int] = {}
    which, flag = array.array("B"), array.array("B")
    offset, length, seq, head = array.array("q"), array.array("q"), array.array("q"), array.array("q")
    for n, src in enumerate(sources):
        with open(src, "rb") as fh:
            at = 0
            for line in fh:
                if line.strip():
                    res = orjson.loads(line)
                    f, h, s = order_key(res, seq_system)
                    ids.append(str(res.get("id", "")).encode())
                    head.append(heads.setdefault(h, len(heads)))
                    flag.append(f)
                    seq.append(s)
                    which.append(n)
                    offset.append(at)
                    length.append(len(line))
                at += len(line)
    id_array = np.array(ids) if ids else np.zeros(0, "S1")
    del ids
    kept = len(id_array) - 1 - np.unique(id_array[::-1], return_index=True)[1]  # the last copy of each id
    rank = np.empty(len(heads), dtype=np.int64)
    rank[[heads[h] for h in sorted(heads)]] = np.arange(len(heads))
    head_rank = rank[np.frombuffer(head, np.int64)] if len(heads) else np.zeros(0, np.int64)
    order = kept[np.lexsort((id_array[kept], np.frombuffer(seq, np.int64)[kept], head_rank[kept],
                             np.frombuffer(flag, np.uint8)[kept]))]
    which_a, offset_a, length_a = (np.frombuffer(a, np.uint8 if a.typecode == "B" else np.int64)
                                   for a in (which, offset, length))
    files = [open(p, "rb") for p in sources]  # noqa: SIM115 (closed below)
    try:
        with atomic_open(target, "wb") as out:
            for i in order:
                fh = files[which_a[i]]
                fh.seek(int(offset_a[i]))
                line = fh.read(int(length_a[i]))
                out.write(line if line.endswith(b"\n") else line + b"\n")
    finally:
        for fh in files:
            fh.close()
    last = len(sources) - 1
    return len(order), int(np.unique(id_array[which_a == last]).size) if len(id_array) else 0


def order_key(res: dict[str, Any], seq_system: str) -> tuple[int, str, int]:
    """Where a resource goes in OUT/fhir: by its record number (the sdtm-seq identifier msc-interop writes:
    STUDYID/USUBJID/DOMAIN/--SEQ) when it has one, else after those, by id. Why: the server's order is its own
    (and ids are hashes of natural keys), while from-fhir keeps the order it reads records in, so a pull would
    give another row order than to-sdtm without it. (flag, head, seq); the id breaks ties."""
    for ident in res.get("identifier") or []:
        if isinstance(ident, dict) and ident.get("system") == seq_system and isinstance(ident.get("value"), str):
            head, _, number = ident["value"].rpartition("/")
            if number.lstrip("-").isdigit() and len(number) < 19:  # an int64
                return 0, head, int(number)
    return 1, "", 0
