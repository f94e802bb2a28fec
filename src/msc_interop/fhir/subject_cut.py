"""Cut FHIR NDJSON files by subject, so an export too big to hold is read one range of subjects at a time.

Why by subject: what the reader decides for one record depends only on its subject (Patient, ResearchSubject),
the subject's Encounters, and study-level resources (ResearchStudy, Organization, Medication). So each line goes
to the partition of its subject (`subject`, `patient` or a ResearchSubject's `individual`; a Patient is its own),
the study-level lines go to every partition (SHARED_TYPES), and every other line (no subject, not JSON, a
Group...) to the first, where the reader says what it says in a whole read.

Two passes over the files, each one byte range at a time (on Dask workers, or here a whole file at a time):
the scan (fhir/subject_scan.py) parses each line once (orjson) and keeps, per line, a small code for its subject
(and its id's hash, its Encounter's), writing the subject and study-level lines aside (a small read decides
USUBJID from them: fhir/read_partitioned.py); `cut_range` then copies each line of a range to its partition's
file, with its original line number beside it (`origins`), so every reject names the original file and line.

Memory does not grow with the lines: what the scan keeps per line (its subject code; each id's hash; each
Encounter reference's hash) goes to scratch files as it is found, the hashes in HASH_BUCKETS buckets that
`check_cut` reads one at a time, and each cut file's original line numbers are a file beside it, read when that
file is read (fhir/io.py). What stays in memory grows with the subjects (their tokens and identifiers).

Not cut (`NotSplittable`: the caller reads the files whole): a file that is not NDJSON, a Bundle on a line,
copies of one resource (type and id) under two subjects, a record whose Encounter is another partition's, a
subject named by an identifier two Patients share. Each would read differently when cut.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np

from msc_interop.engine.partitions import Partition
from msc_interop.fhir.subject_scan import HASH_BUCKETS, SHARED, NotSplittable, Numbers, Scan, range_lines

CUT_CHUNK = 1 << 20  # lines whose subject codes are read at once by `cut_range`


def cut_range(part: Partition, index: int, codes_file: Path, partition_of_code: np.ndarray, scratch: Path
              ) -> list[tuple[int, Path, Path]]:
    """The second pass over one byte range (`part`, its first_line set; `codes_file` its scan's codes, whose
    partitions `partition_of_code` gives): each routed line to its partition's file, with its original line
    number beside it (int64). Returns (partition, file, line-number file), by partition."""
    outs: dict[int, tuple[Path, IO[bytes], Numbers]] = {}
    try:
        for (lineno, line), p in zip(range_lines(part), _targets(codes_file, partition_of_code), strict=True):
            if p < 0:
                continue
            got = outs.get(p)
            if got is None:
                folder = scratch / f"p{p:05d}"
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / f"{part.number:04d}.{index:05d}.ndjson"
                got = outs[p] = (path, open(path, "wb"), Numbers(path.with_suffix(".lines"), "q"))  # noqa: SIM115
            got[1].write(line)
            got[2].add(lineno)
    finally:
        for _, fh, lines in outs.values():
            fh.close()
            lines.flush()
    return [(p, path, lines.path) for p, (path, _, lines) in sorted(outs.items())]


def _targets(codes_file: Path, partition_of_code: np.ndarray) -> Iterator[int]:
    """Each line's partition (-1: a study-level line, in every partition already), CUT_CHUNK lines at a time."""
    n = codes_file.stat().st_size // 4
    for start in range(0, n, CUT_CHUNK):
        codes = np.fromfile(codes_file, dtype=np.int32, count=min(CUT_CHUNK, n - start), offset=start * 4)
        yield from np.where(codes == SHARED, -1, partition_of_code[np.maximum(codes, 0)]).tolist()


def check_cut(found: Scan, partition_of_code: np.ndarray) -> None:
    """NotSplittable when a cut would read differently from a whole read: copies of one resource in two
    partitions, or a record whose Encounter is in another partition than the record. A hash bucket at a time."""
    for bucket in range(HASH_BUCKETS):
        h, code = found.load_pairs("key", bucket)
        order = np.argsort(h, kind="stable")
        h, part = h[order], partition_of_code[code[order]]
        if ((h[1:] == h[:-1]) & (part[1:] != part[:-1])).any():
            raise NotSplittable("the same resource (type and id) appears under two subjects")
    for bucket in range(HASH_BUCKETS):
        ref_h, ref_code = found.load_pairs("ref", bucket)
        enc_h, enc_code = found.load_pairs("enc", bucket)
        if not len(ref_h) or not len(enc_h):
            continue
        order = np.argsort(enc_h, kind="stable")  # the first Encounter of a hash, as a look-up by it finds
        enc_h, enc_code = enc_h[order], enc_code[order]
        at = np.minimum(np.searchsorted(enc_h, ref_h), len(enc_h) - 1)
        known = enc_h[at] == ref_h
        if (partition_of_code[ref_code[known]] != partition_of_code[enc_code[at[known]]]).any():
            raise NotSplittable("a record names an Encounter of another subject")
