"""Cut FHIR NDJSON files by subject, so an export too big to hold is read one range of subjects at a time.

Why by subject: what the reader decides for one record depends only on its subject (Patient, ResearchSubject),
the subject's Encounters, and study-level resources (ResearchStudy, Organization, Medication). So each line goes
to the partition of its subject (`subject`, `patient` or a ResearchSubject's `individual`; a Patient is its own),
the study-level lines go to every partition (SHARED_TYPES), and every other line (no subject, not JSON, a
Group...) to the first, where the reader says what it says in a whole read.

Two passes over the files: `scan` parses each line once (orjson) and keeps, per line, a small code for its
subject (and its id's hash, its Encounter's), writing the subject and study-level lines aside (a small read
decides USUBJID from them: fhir/read_partitioned.py); `cut` then copies each line to its partition's file,
with its original line number beside it (`origins`), so every reject names the original file and line.

Memory does not grow with the lines: what the scan keeps per line (its subject code; each id's hash; each
Encounter reference's hash) goes to scratch files as it is found, the hashes in HASH_BUCKETS buckets that
`check_cut` reads one at a time, and each cut file's original line numbers are a file beside it, read when that
file is read (fhir/io.py). What stays in memory grows with the subjects (their tokens and identifiers).

Not cut (`NotSplittable`: the caller reads the files whole): a file that is not NDJSON, a Bundle on a line,
copies of one resource (type and id) under two subjects, a record whose Encounter is another partition's, a
subject named by an identifier two Patients share. Each would read differently when cut.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from msc_interop.fhir.read_common import canonical_reference

BOM = b"\xef\xbb\xbf"
SHARED_TYPES = frozenset({"ResearchStudy", "Organization", "Medication"})  # study-level: read in every partition
SUBJECT_TYPES = frozenset({"Patient", "ResearchSubject"})
SHARED = -1  # the code of a study-level line
SUBJECT_BUCKETS = 16  # 182,190 subjects read at once: 911 MB; a sixteenth at a time: about that over 16
NO_SUBJECT = 0  # the code (token "") of a line with no subject: the first partition
HASH_BUCKETS = 64  # the id and Encounter hashes, checked a sixty-fourth at a time (26M lines: ~5 MB a bucket)
FLUSH = 1 << 16  # numbers gathered before they are appended to their scratch file
CUT_CHUNK = 1 << 20  # lines whose subject codes are read at once by `cut`


class NotSplittable(Exception):
    """The files cannot be cut exactly; the message says why (read them whole instead)."""


@dataclass
class Scan:
    """What the first pass found: per file, each non-blank line's subject code; the subject tokens; where the
    subject and study-level lines were written; what links tokens (ResearchSubject -> Patient, identifiers)."""

    files: list[Path]
    codes: list[Path]  # per file: int32 per non-blank line (SHARED, or an index into `tokens`), on disk
    tokens: list[str] = field(default_factory=lambda: [""])
    # Patient and ResearchSubject lines, in SUBJECT_BUCKETS buckets by subject: each subject's USUBJID is decided
    # by its own resources and the study-level ones, so the buckets are read one at a time (fhir/read_partitioned.py)
    subject_buckets: list[list[Path]] = field(default_factory=list)
    shared_files: list[Path] = field(default_factory=list)  # study-level lines only
    # written file -> (the original file's name, each line's original number: an array, or an int64 file)
    origins: dict[Path, tuple[str, np.ndarray | Path]] = field(default_factory=dict)
    research_subjects: dict[str, str] = field(default_factory=dict)  # "ResearchSubject/id" -> its subject token
    identifiers: dict[tuple[Any, Any], str] = field(default_factory=dict)  # Patient identifier -> token
    # per hash bucket, (hash, subject code) pairs on disk: each line with an id (hash of type and id); each
    # Encounter ("Encounter/id"); each record naming an Encounter (the hash of its reference)
    keys: list[_PairFile] = field(default_factory=list)
    encounters: list[_PairFile] = field(default_factory=list)
    encounter_refs: list[_PairFile] = field(default_factory=list)
    shared_lines: dict[str, int] = field(default_factory=dict)  # resource type -> study-level lines
    lines: int = 0  # non-blank lines in all

    def release_subjects(self) -> None:
        """Let go of what grows with the subjects once each has its partition (the cut needs only the codes)."""
        self.tokens, self.identifiers, self.research_subjects = [""], {}, {}

    def token_code(self, token: str, index: dict[str, int]) -> int:
        code = index.get(token)
        if code is None:
            code = index[token] = len(self.tokens)
            self.tokens.append(token)
        return code


AMBIGUOUS = "\x00ambiguous"
IDENTIFIER = "\x00identifier"  # a subject token naming its subject by identifier: this, then JSON [system, value]


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


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, line) of each non-blank line, a first line's byte-order mark left out (as io.py reads)."""
    with open(path, "rb") as fh:
        for lineno, line in enumerate(fh, 1):
            if lineno == 1 and line.startswith(BOM):
                line = line[len(BOM):]
            if line.strip():
                yield lineno, line if line.endswith(b"\n") else line + b"\n"


class _Aside:
    """Lines written aside to one file per input file, each with its original line number."""

    def __init__(self, folder: Path, index: int, name: str):
        self.path = folder / f"{index:04d}.ndjson"
        self.name = name
        self.fh = open(self.path, "wb")  # noqa: SIM115 - closed by close()
        self.lines = array("q")

    def add(self, lineno: int, line: bytes) -> None:
        self.fh.write(line)
        self.lines.append(lineno)

    def close(self, into: Scan, listed: list[Path]) -> None:
        self.fh.close()
        if self.lines:
            listed.append(self.path)
            into.origins[self.path] = (self.name, _array(self.lines, np.int64))
        else:
            self.path.unlink()


def scan(files: list[Path], scratch: Path) -> Scan:
    """The first pass (see the module docstring). Files not named .ndjson, and Bundles on a line, are
    NotSplittable."""
    for path in files:
        if path.suffix.lower() != ".ndjson":
            raise NotSplittable(f"{path.name} is not NDJSON (only NDJSON files are cut by subject)")
    return _Scanner(files, scratch).run()


class _Scanner:
    """The state of the first pass: the token index, and the scratch files the per-line numbers go to."""

    def __init__(self, files: list[Path], scratch: Path):
        self.out = Scan(files, [])
        self.scratch = scratch
        self.index: dict[str, int] = {"": NO_SUBJECT}
        for name in ("subjects", "shared", "codes", "hashes"):
            (scratch / name).mkdir(parents=True)
        hashes = scratch / "hashes"
        self.out.keys = [_PairFile(hashes, f"key{b:02d}") for b in range(HASH_BUCKETS)]
        self.out.encounters = [_PairFile(hashes, f"enc{b:02d}") for b in range(HASH_BUCKETS)]
        self.out.encounter_refs = [_PairFile(hashes, f"ref{b:02d}") for b in range(HASH_BUCKETS)]

    def run(self) -> Scan:
        out = self.out
        out.subject_buckets = [[] for _ in range(SUBJECT_BUCKETS)]
        for i, path in enumerate(out.files):
            subjects = _Buckets(self.scratch / "subjects", i, path.name)
            shared = _Aside(self.scratch / "shared", i, path.name)
            codes = _Numbers(self.scratch / "codes" / f"{i:04d}.i4", "i")
            for lineno, line in _lines(path):
                codes.add(self.line(lineno, line, subjects, shared))
            codes.flush()
            subjects.close(out)
            shared.close(out, out.shared_files)
            out.codes.append(codes.path)
            out.lines += codes.count
        for pairs in (*out.keys, *out.encounters, *out.encounter_refs):
            pairs.flush()
        return out

    def line(self, lineno: int, line: bytes, subjects: _Buckets, shared: _Aside) -> int:
        """The subject code of one line (writing it aside when it is a subject or study-level resource)."""
        out = self.out
        try:
            res = orjson.loads(line)
        except orjson.JSONDecodeError:
            return NO_SUBJECT  # the reader reports the line where it goes: the first partition
        rtype = res.get("resourceType") if type(res) is dict else None
        if rtype == "Bundle":
            raise NotSplittable(f"{shared.name} line {lineno} holds a Bundle (NDJSON Bundles are read whole)")
        if not isinstance(rtype, str):
            return NO_SUBJECT
        if rtype in SHARED_TYPES:
            shared.add(lineno, line)
            out.shared_lines[rtype] = out.shared_lines.get(rtype, 0) + 1
            return SHARED
        token = subject_token(rtype, res)
        code = out.token_code(token, self.index)
        rid = res.get("id")
        if isinstance(rid, str):
            _add_pair(out.keys, hash((rtype, rid)), code)
            if rtype == "Encounter":
                _add_pair(out.encounters, hash(f"Encounter/{rid}"), code)
            elif rtype == "ResearchSubject":
                out.research_subjects[f"ResearchSubject/{rid}"] = token
        if rtype in SUBJECT_TYPES:
            subjects.add(token, lineno, line)
            if rtype == "Patient":
                _identifiers(out, res, token)
        elif rtype != "Encounter":
            enc = _encounter_ref(res)
            if enc.startswith("Encounter/"):
                _add_pair(out.encounter_refs, hash(enc), code)
        return code


class _Numbers:
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

    def load(self) -> np.ndarray:
        self.flush()
        return np.fromfile(self.path, dtype=np.int64 if self.buffer.typecode == "q" else np.int32)


class _PairFile:
    """(hash, subject code) pairs of one hash bucket, on disk."""

    def __init__(self, folder: Path, name: str):
        self.hashes = _Numbers(folder / f"{name}.h8", "q")
        self.codes = _Numbers(folder / f"{name}.c4", "i")

    def add(self, h: int, code: int) -> None:
        self.hashes.add(h)
        self.codes.add(code)

    def flush(self) -> None:
        self.hashes.flush()
        self.codes.flush()

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        return self.hashes.load(), self.codes.load()


def _add_pair(buckets: list[_PairFile], h: int, code: int) -> None:
    buckets[h % HASH_BUCKETS].add(h, code)


class _Buckets:
    """A file's Patient and ResearchSubject lines written aside by bucket of their subject (a ResearchSubject's
    token is its Patient's, so both land in one bucket), each file opened when its first line comes."""

    def __init__(self, folder: Path, index: int, name: str):
        self.folder, self.index, self.name = folder, index, name
        self.asides: dict[int, _Aside] = {}

    def add(self, token: str, lineno: int, line: bytes) -> None:
        bucket = hash(token) % SUBJECT_BUCKETS
        aside = self.asides.get(bucket)
        if aside is None:
            (self.folder / f"b{bucket:02d}").mkdir(parents=True, exist_ok=True)
            aside = self.asides[bucket] = _Aside(self.folder / f"b{bucket:02d}", self.index, self.name)
        aside.add(lineno, line)

    def close(self, into: Scan) -> None:
        for bucket, aside in sorted(self.asides.items()):
            aside.close(into, into.subject_buckets[bucket])


def _array(values: array, dtype: Any) -> np.ndarray:
    """The numbers gathered in an array.array as numpy (no copy: the array stays alive as its buffer)."""
    return np.frombuffer(values, dtype=dtype) if len(values) else np.zeros(0, dtype)


def _identifiers(out: Scan, res: dict[str, Any], token: str) -> None:
    """A Patient's identifiers -> its token, as ReadContext._identifiers_of_patients finds a subject by them."""
    idents = res.get("identifier")
    for ident in [idents] if isinstance(idents, dict) else idents if isinstance(idents, list) else ():
        if not isinstance(ident, dict) or not isinstance(ident.get("value"), str):
            continue
        for k in {(ident.get("system"), ident["value"]), (None, ident["value"])}:
            out.identifiers[k] = token if out.identifiers.get(k, token) == token else AMBIGUOUS


def cut(found: Scan, partition_of_code: np.ndarray, n_partitions: int, scratch: Path) -> list[list[Path]]:
    """The second pass: each routed line to its partition's file (one per input file), with its original line
    number beside it (`<file>.lines`, int64; found.origins). Returns each partition's files, the input files'
    order kept."""
    folders = [scratch / f"p{i:05d}" for i in range(n_partitions)]
    for f in folders:
        f.mkdir(parents=True)
    parts: list[list[Path]] = [[] for _ in range(n_partitions)]
    for i, path in enumerate(found.files):
        outs: dict[int, tuple[Any, _Numbers]] = {}
        try:
            for (lineno, line), p in zip(_lines(path), _targets(found.codes[i], partition_of_code), strict=True):
                if p < 0:
                    continue
                got = outs.get(p)
                if got is None:
                    got = outs[p] = (open(folders[p] / f"{i:04d}.ndjson", "wb"),  # noqa: SIM115
                                     _Numbers(folders[p] / f"{i:04d}.lines", "q"))
                got[0].write(line)
                got[1].add(lineno)
        finally:
            for fh, lines in outs.values():
                fh.close()
                lines.flush()
        for p, (_, lines) in sorted(outs.items()):
            written = folders[p] / f"{i:04d}.ndjson"
            parts[p].append(written)
            found.origins[written] = (path.name, lines.path)
    return parts


def _targets(codes_file: Path, partition_of_code: np.ndarray) -> Iterator[int]:
    """Each line's partition (-1: a study-level line, in every partition already), CUT_CHUNK lines at a time."""
    n = codes_file.stat().st_size // 4
    for start in range(0, n, CUT_CHUNK):
        codes = np.fromfile(codes_file, dtype=np.int32, count=min(CUT_CHUNK, n - start), offset=start * 4)
        yield from np.where(codes == SHARED, -1, partition_of_code[np.maximum(codes, 0)]).tolist()


def check_cut(found: Scan, partition_of_code: np.ndarray) -> None:
    """NotSplittable when a cut would read differently from a whole read: copies of one resource in two
    partitions, or a record whose Encounter is in another partition than the record. A hash bucket at a time."""
    for pairs in found.keys:
        h, code = pairs.load()
        order = np.argsort(h, kind="stable")
        h, part = h[order], partition_of_code[code[order]]
        if ((h[1:] == h[:-1]) & (part[1:] != part[:-1])).any():
            raise NotSplittable("the same resource (type and id) appears under two subjects")
    for encounters, refs in zip(found.encounters, found.encounter_refs, strict=True):
        ref_h, ref_code = refs.load()
        enc_h, enc_code = encounters.load()
        if not len(ref_h) or not len(enc_h):
            continue
        order = np.argsort(enc_h, kind="stable")  # the first Encounter of a hash, as a look-up by it finds
        enc_h, enc_code = enc_h[order], enc_code[order]
        at = np.minimum(np.searchsorted(enc_h, ref_h), len(enc_h) - 1)
        known = enc_h[at] == ref_h
        if (partition_of_code[ref_code[known]] != partition_of_code[enc_code[at[known]]]).any():
            raise NotSplittable("a record names an Encounter of another subject")
