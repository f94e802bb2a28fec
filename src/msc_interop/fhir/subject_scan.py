"""The first pass of the cut by subject (fhir/subject_cut.py says why by subject): each byte range of the NDJSON
files scanned on its own (`scan_range`: on a Dask worker, or in this process one whole file at a time), then the
ranges' findings joined in file and line order (`join`), as if one pass had read every line.

What a range finds is its own: its subject tokens numbered from 1 in the order it meets them, its lines numbered
from the range's first line. `join` numbers the tokens of the whole set in the order they are first met, range by
range, gives each range the map from its numbers to those (`to_global`), and each line written aside its number
in the file (the ranges before it in the file counted). The hashes are stable across processes (blake2b of the
text; Python's hash() of a string differs from one process to the next), so ranges scanned by different workers
agree.

Per line the scan keeps a small code for its subject (and its id's hash, its Encounter's), written to scratch
files as found; the subject lines (Patient, ResearchSubject) and the study-level lines are written aside, so a
small read decides each subject's USUBJID (fhir/read_partitioned.py). Memory grows with the subjects (their tokens
and identifiers), not with the lines.
"""

from __future__ import annotations

import hashlib
import zlib
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from msc_interop.engine.partitions import Partition, numbered_lines
from msc_interop.fhir.read_common import canonical_reference

BOM = b"\xef\xbb\xbf"
SHARED_TYPES = frozenset({"ResearchStudy", "Organization", "Medication"})  # study-level: read in every partition
SUBJECT_TYPES = frozenset({"Patient", "ResearchSubject"})
SHARED = -1  # the code of a study-level line
SUBJECT_BUCKETS = 16  # 182,190 subjects read at once: 911 MB; a sixteenth at a time: about that over 16
NO_SUBJECT = 0  # the code (token "") of a line with no subject: the first partition
HASH_BUCKETS = 64  # the id and Encounter hashes, checked a sixty-fourth at a time (26M lines: ~5 MB a bucket)
PAIR_KINDS = ("key", "enc", "ref")  # each line's id; each Encounter's id; each record's Encounter reference
AMBIGUOUS = "\x00ambiguous"
IDENTIFIER = "\x00identifier"  # a subject token naming its subject by identifier: this, then JSON [system, value]


class NotSplittable(Exception):
    """The files cannot be cut exactly; the message says why (read them whole instead)."""


def stable_hash(text: str) -> int:
    """A 64-bit hash of `text`, the same in every process."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little",
                          signed=True)


def subject_bucket(token: str) -> int:
    """The bucket of a subject's Patient and ResearchSubject lines (the same in every process)."""
    return zlib.crc32(token.encode("utf-8", "surrogatepass")) % SUBJECT_BUCKETS


@dataclass
class RangeScan:
    """What the scan of one byte range found (see the module docstring); `first_line` and `to_global` are set
    by `join`."""

    part: Partition
    index: int  # the range's number in the whole set (file order, then byte order)
    codes: Path  # int32 per non-blank line: SHARED, or an index into `tokens`
    tokens: list[str] = field(default_factory=lambda: [""])
    subjects: list[tuple[int, Path, np.ndarray]] = field(default_factory=list)  # (bucket, file, line numbers)
    shared: tuple[Path, np.ndarray] | None = None
    research_subjects: dict[str, str] = field(default_factory=dict)  # "ResearchSubject/id" -> its subject token
    identifiers: dict[tuple[Any, Any], str] = field(default_factory=dict)  # Patient identifier -> token
    pairs: dict[str, dict[int, tuple[Path, Path]]] = field(default_factory=dict)  # kind -> bucket -> (hashes, codes)
    shared_lines: dict[str, int] = field(default_factory=dict)
    lines: int = 0  # non-blank lines
    newlines: int = 0  # every line (to number the next range's)
    bundle_line: int = 0  # a line holding a Bundle (the range is not scanned further)
    first_line: int = 1
    to_global: np.ndarray | None = None


@dataclass
class Scan:
    """The ranges' findings joined: the subject tokens of the whole set; where the subject and study-level lines
    were written; what links tokens (ResearchSubject -> Patient, identifiers); per hash bucket, the pair files of
    every range (with the range's map to the whole set's codes)."""

    files: list[Path]
    ranges: list[RangeScan] = field(default_factory=list)
    tokens: list[str] = field(default_factory=lambda: [""])
    # Patient and ResearchSubject lines, in SUBJECT_BUCKETS buckets by subject: each subject's USUBJID is decided
    # by its own resources and the study-level ones, so the buckets are read one at a time (fhir/read_partitioned.py)
    subject_buckets: list[list[Path]] = field(default_factory=lambda: [[] for _ in range(SUBJECT_BUCKETS)])
    shared_files: list[Path] = field(default_factory=list)  # study-level lines only
    # written file -> (the original file's name, each line's original number: an array, or an int64 file)
    origins: dict[Path, tuple[str, np.ndarray | Path]] = field(default_factory=dict)
    research_subjects: dict[str, str] = field(default_factory=dict)
    identifiers: dict[tuple[Any, Any], str] = field(default_factory=dict)
    pairs: dict[str, list[list[tuple[Path, Path, np.ndarray]]]] = field(
        default_factory=lambda: {k: [[] for _ in range(HASH_BUCKETS)] for k in PAIR_KINDS})
    shared_lines: dict[str, int] = field(default_factory=dict)  # resource type -> study-level lines
    lines: int = 0  # non-blank lines in all

    def release_subjects(self) -> None:
        """Let go of what grows with the subjects once each has its partition (the cut needs only the codes)."""
        self.tokens, self.identifiers, self.research_subjects = [""], {}, {}

    def load_pairs(self, kind: str, bucket: int) -> tuple[np.ndarray, np.ndarray]:
        """(hashes, the whole set's subject codes) of one kind and bucket, ranges in order."""
        got = self.pairs[kind][bucket]
        if not got:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        hashes = [np.fromfile(h, dtype=np.int64) for h, _, _ in got]
        codes = [to_global[np.fromfile(c, dtype=np.int32)] for _, c, to_global in got]
        return np.concatenate(hashes), np.concatenate(codes)


def canonical(ref: Any) -> str:
    """A reference as "Type/id" when it ends so (relative or absolute, with or without _history); else as is:
    as the reader resolves it (read_common.canonical_reference; NDJSON has no fullUrls)."""
    return canonical_reference(ref, {}) if isinstance(ref, str) else ""


def subject_token(rtype: str, res: dict[str, Any]) -> str:
    """The subject a resource belongs to: "Patient/id" for a Patient, its subject reference for the rest
    (IDENTIFIER + JSON [system, value] when only an identifier names it), "" for none."""
    if rtype == "Patient":
        rid = res.get("id")
        return f"Patient/{rid}" if isinstance(rid, str) else ""
    for name in ("subject", "patient", "individual"):
        element = res.get(name)
        if type(element) is dict:
            ref = element.get("reference")
            if isinstance(ref, str) and ref:
                return canonical(ref)
            ident = element.get("identifier")
            if type(ident) is dict and isinstance(ident.get("value"), str) and ident["value"]:
                return IDENTIFIER + orjson.dumps([ident.get("system"), ident["value"]]).decode()
            return ""
    return ""


def _encounter_ref(res: dict[str, Any]) -> str:
    for name in ("encounter", "context"):
        element = res.get(name)
        if type(element) is dict and isinstance(element.get("reference"), str):
            return canonical(element["reference"])
    return ""


def range_lines(part: Partition) -> Iterator[tuple[int, bytes]]:
    """(line number, line) of each non-blank line of the range, numbered from part.first_line; a file's first
    line's byte-order mark left out (as io.py reads); each line ending in a newline."""
    with open(part.name, "rb") as fh:
        for lineno, line in numbered_lines(fh, part):
            if part.start == 0 and lineno == part.first_line and line.startswith(BOM):
                line = line[len(BOM):]
            if line.strip():
                yield lineno, line if line.endswith(b"\n") else line + b"\n"


class Numbers:
    """Integers appended to a scratch file FLUSH at a time (machine byte order, as numpy reads it back)."""

    FLUSH = 4096

    def __init__(self, path: Path, typecode: str):
        self.path, self.buffer, self.count = path, array(typecode), 0
        path.write_bytes(b"")

    def add(self, value: int) -> None:
        self.buffer.append(value)
        if len(self.buffer) >= self.FLUSH:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            with open(self.path, "ab") as fh:
                self.buffer.tofile(fh)
            self.count += len(self.buffer)
            self.buffer = array(self.buffer.typecode)


class _Aside:
    """Lines written aside to one file, each with its line number."""

    def __init__(self, path: Path):
        self.path = path
        self.fh = open(path, "wb")  # noqa: SIM115 - closed by close()
        self.lines = array("q")

    def add(self, lineno: int, line: bytes) -> None:
        self.fh.write(line)
        self.lines.append(lineno)

    def close(self) -> tuple[Path, np.ndarray] | None:
        self.fh.close()
        if not self.lines:
            self.path.unlink()
            return None
        return self.path, np.frombuffer(self.lines, dtype=np.int64).copy()


def scan_range(part: Partition, index: int, folder: Path) -> RangeScan:
    """The first pass over one byte range (see the module docstring); its files under `folder` (made here)."""
    return _Scanner(part, index, folder).run()


class _Scanner:
    """The state of one range's pass: its token index, and the scratch files its per-line numbers go to."""

    def __init__(self, part: Partition, index: int, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.out = RangeScan(part, index, folder / "codes.i4")
        self.index: dict[str, int] = {"": NO_SUBJECT}
        self.subjects: dict[int, _Aside] = {}
        self.shared = _Aside(folder / "shared.ndjson")
        self.pairs: dict[tuple[str, int], tuple[Numbers, Numbers]] = {}

    def run(self) -> RangeScan:
        out = self.out
        codes = Numbers(out.codes, "i")
        part = replace(out.part, first_line=1)
        try:
            with open(part.name, "rb") as fh:
                for lineno, line in numbered_lines(fh, part):
                    out.newlines = lineno
                    if part.start == 0 and lineno == 1 and line.startswith(BOM):
                        line = line[len(BOM):]
                    if not line.strip():
                        continue
                    code = self.line(lineno, line if line.endswith(b"\n") else line + b"\n")
                    if out.bundle_line:
                        break
                    codes.add(code)
        finally:
            codes.flush()
            for bucket, aside in sorted(self.subjects.items()):
                got = aside.close()
                if got is not None:
                    out.subjects.append((bucket, *got))
            out.shared = self.shared.close()
            for (kind, bucket), (h, c) in sorted(self.pairs.items()):
                h.flush()
                c.flush()
                out.pairs.setdefault(kind, {})[bucket] = (h.path, c.path)
        out.lines = codes.count
        return out

    def line(self, lineno: int, line: bytes) -> int:
        """The subject code of one line (writing it aside when it is a subject or study-level resource)."""
        out = self.out
        try:
            res = orjson.loads(line)
        except orjson.JSONDecodeError:
            return NO_SUBJECT  # the reader reports the line where it goes: the first partition
        rtype = res.get("resourceType") if type(res) is dict else None
        if rtype == "Bundle":
            out.bundle_line = lineno
            return NO_SUBJECT
        if not isinstance(rtype, str):
            return NO_SUBJECT
        if rtype in SHARED_TYPES:
            self.shared.add(lineno, line)
            out.shared_lines[rtype] = out.shared_lines.get(rtype, 0) + 1
            return SHARED
        token = subject_token(rtype, res)
        code = self.index.get(token)
        if code is None:
            code = self.index[token] = len(out.tokens)
            out.tokens.append(token)
        rid = res.get("id")
        if isinstance(rid, str):
            self.pair("key", stable_hash(f"{rtype}\x00{rid}"), code)
            if rtype == "Encounter":
                self.pair("enc", stable_hash(f"Encounter/{rid}"), code)
            elif rtype == "ResearchSubject":
                out.research_subjects[f"ResearchSubject/{rid}"] = token
        if rtype in SUBJECT_TYPES:
            bucket = subject_bucket(token)  # a ResearchSubject's token is its Patient's: one bucket for both
            aside = self.subjects.get(bucket)
            if aside is None:
                aside = self.subjects[bucket] = _Aside(self.folder / f"subjects{bucket:02d}.ndjson")
            aside.add(lineno, line)
            if rtype == "Patient":
                _identifiers(out, res, token)
        elif rtype != "Encounter":
            enc = _encounter_ref(res)
            if enc.startswith("Encounter/"):
                self.pair("ref", stable_hash(enc), code)
        return code

    def pair(self, kind: str, h: int, code: int) -> None:
        bucket = h % HASH_BUCKETS
        files = self.pairs.get((kind, bucket))
        if files is None:
            name = self.folder / "hashes" / f"{kind}{bucket:02d}"
            name.parent.mkdir(exist_ok=True)
            files = self.pairs[(kind, bucket)] = (Numbers(name.with_suffix(".h8"), "q"),
                                                  Numbers(name.with_suffix(".c4"), "i"))
        files[0].add(h)
        files[1].add(code)


def _identifiers(out: RangeScan, res: dict[str, Any], token: str) -> None:
    """A Patient's identifiers -> its token, as ReadContext._identifiers_of_patients finds a subject by them."""
    idents = res.get("identifier")
    for ident in [idents] if isinstance(idents, dict) else idents if isinstance(idents, list) else ():
        if not isinstance(ident, dict) or not isinstance(ident.get("value"), str):
            continue
        for k in {(ident.get("system"), ident["value"]), (None, ident["value"])}:
            _name(out.identifiers, k, token)


def _name(identifiers: dict[tuple[Any, Any], str], k: tuple[Any, Any], token: str) -> None:
    identifiers[k] = token if identifiers.get(k, token) == token else AMBIGUOUS


def join(files: list[Path], scans: list[RangeScan]) -> Scan:
    """The ranges' findings (in file, then byte order) as one pass over the files would have found them.
    NotSplittable when a line holds a Bundle."""
    out = Scan(files)
    index: dict[str, int] = {"": NO_SUBJECT}
    next_line: dict[int, int] = {}
    for rs in scans:
        rs.first_line = next_line.get(rs.part.number, 1)
        next_line[rs.part.number] = rs.first_line + rs.newlines
        name = Path(rs.part.name).name
        if rs.bundle_line:
            raise NotSplittable(f"{name} line {rs.first_line + rs.bundle_line - 1} holds a Bundle (NDJSON Bundles are "
                                "read whole)")
        to_global = np.zeros(len(rs.tokens), dtype=np.int64)
        for i, token in enumerate(rs.tokens):
            code = index.get(token)
            if code is None:
                code = index[token] = len(out.tokens)
                out.tokens.append(token)
            to_global[i] = code
        rs.to_global = to_global
        offset = rs.first_line - 1
        for bucket, path, lines in rs.subjects:
            out.subject_buckets[bucket].append(path)
            out.origins[path] = (name, lines + offset)
        if rs.shared is not None:
            out.shared_files.append(rs.shared[0])
            out.origins[rs.shared[0]] = (name, rs.shared[1] + offset)
        out.research_subjects.update(rs.research_subjects)
        for k, token in rs.identifiers.items():
            _name(out.identifiers, k, token)
        for kind, buckets in rs.pairs.items():
            for bucket, (h, c) in buckets.items():
                out.pairs[kind][bucket].append((h, c, to_global))
        for rtype, n in rs.shared_lines.items():
            out.shared_lines[rtype] = out.shared_lines.get(rtype, 0) + n
        out.lines += rs.lines
        out.ranges.append(rs)
    return out
