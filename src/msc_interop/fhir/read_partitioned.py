"""from-fhir for exports too big to hold: read FHIR NDJSON one range of subjects at a time.

The files are cut by subject (fhir/subject_cut.py); a small read of the subject and study-level resources
decides each subject's USUBJID, so that partitions are ranges of sorted USUBJIDs; each partition is read and built
by the unchanged reader (fhir/read.py `build_study`) and its datasets spilled to disk (sdtm/spill.py), then written
as to-sdtm's partitioned run writes (sdtm/partitioned_write.py `write_partitioned`). Memory: one partition, plus the
study-level resources every partition reads, plus the datasets small enough to hold.

Same datasets, rejects and counts as a whole read (tests/fhir/test_fhir_read_partitioned.py): FHIR of others is
in USUBJID order in both (fhir/read.py), its variables in SDTM metadata order; what one read decides once (a
sponsor-defined test's code, who the subjects are) is one object for every partition (ReadContext.share_read_wide);
the notes are said once, from the sums (fhir/read.py `finish_read`). Study-level resources are read in every
partition and counted once. What differs by design: the rows of msc-interop's own FHIR come in USUBJID order
(stable: a subject's rows keep their order), where a whole read keeps the order the dataset had.

Where the steps run (engine/tasks.py; from-fhir --engine): here, one after another (`Here`), or on Dask workers
(`OnDask`): the scan and the cut a byte range each, the subject buckets' reads, each partition's read
(fhir/read_part.py), each spilled dataset's files. What is global is decided here between the steps (the token
numbering, the partitions, check_cut) or merged here in partition order (`_Merged`); the same code for both, so
the files are the same (tests/fhir/test_fhir_from_fhir_dask.py).
"""

from __future__ import annotations

import copy
import math
import re
import shutil
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from msc_interop.engine.partitions import Partition, cut, default_size
from msc_interop.engine.tasks import Here
from msc_interop.fhir.io import cut_origins
from msc_interop.fhir.read import (
    ReadFacts,
    _Reader,
    build_study,
    finish_read,
    new_reader,
    refuse_when_nothing_read,
    study_meta_of,
)
from msc_interop.fhir.read_common import FhirReadReport
from msc_interop.fhir.read_part import VISIT_SOURCES, PartOut, ReadOptions, ReadWide, WideDelta, read_part
from msc_interop.fhir.remarks import add_examples
from msc_interop.fhir.resources.enrolment import Enrolment
from msc_interop.fhir.resources.lab.sponsor import SponsorTests
from msc_interop.fhir.resources.routes import RoutesForms
from msc_interop.fhir.subject_cut import check_cut, cut_range
from msc_interop.fhir.subject_scan import AMBIGUOUS, IDENTIFIER, SHARED_TYPES, NotSplittable, Scan, join, scan_range
from msc_interop.inputs.kinds import fhir_files
from msc_interop.runtime import gc_paused
from msc_interop.sdtm.partitioned import PartitionedStudy
from msc_interop.sdtm.spill import SpilledDataset

__all__ = ["ReadOptions", "read_fhir_partitioned"]

# datasets up to this many rows are held whole for writing, bigger ones streamed from the spill (the same bytes).
# None here (to-sdtm holds up to 500k rows: its validation runs on them), so that a pull's memory is a partition's
# whatever the study's size: 100k Observations, 50 subjects a partition, held up to 50k rows: 214 MB; none: 127 MB
# (10k Observations: 120 MB)
HOLD_ROWS = 0
# resources a partition holds by default: a read holds ~2 KB per resource until its datasets are built (to-sdtm's
# records are lighter: it aims at 250k); 1M Observations read in 19 partitions of 55k peaked at 233 MB, in 5 of
# 200k at 716 MB, in about the same time
TARGET_RESOURCES = 100_000
# bytes of NDJSON per scanned range on Dask workers (None: the set split so that each worker thread gets ~4)
RANGE_SIZE: int | None = None
_OLDER_OF = re.compile(r"an older version of ([A-Za-z]+)/")


def read_fhir_partitioned(paths: Sequence[Path | str], scratch: Path, options: ReadOptions,
                          per_partition: int | None = None, *, hold_rows: int | None = None,
                          why: list[str] | None = None, tasks: Any = None
                          ) -> tuple[PartitionedStudy, FhirReadReport] | None:
    """Read FHIR NDJSON a subject partition at a time into a PartitionedStudy (datasets held or spilled under
    `scratch`, an empty folder). None: the input is one partition, or cannot be cut exactly (not NDJSON, ...): read
    it whole; `why` is given the reason). `per_partition`: subjects per partition (default: about TARGET_RESOURCES
    each). `tasks`: where the scan, the cut and the partitions' reads run (engine/tasks.py: this process by
    default; OnDask: Dask workers, which must reach the input and `scratch` at the same paths)."""
    tasks = tasks if tasks is not None else Here()
    files, skipped = fhir_files([Path(p) for p in paths])
    enrolment = options.enrolment or Enrolment(studyid=options.study_meta.studyid if options.study_meta else "")
    options = copy.copy(options)
    options.enrolment = enrolment
    clock = _Clock(tasks)
    try:
        found = _scan(files, scratch / "scan", tasks)
        clock("scan")
        partition_of_code, n_parts = _partitions(found, options, per_partition, tasks)
        found.release_subjects()
        clock("subjects")
        if n_parts <= 1:
            raise NotSplittable("the subjects make one partition")
        check_cut(found, partition_of_code)
        clock("check")
    except NotSplittable as exc:
        if why is not None:
            why.append(str(exc))
        return None
    parts = _cut(found, partition_of_code, n_parts, scratch / "parts", tasks)
    for rs in found.ranges:  # the scan's per-line numbers: the cut was their last use
        rs.codes.unlink(missing_ok=True)
        shutil.rmtree(rs.codes.parent / "hashes", ignore_errors=True)
    clock("cut")
    wide = ReadWide(enrolment, SponsorTests(), RoutesForms())
    merged = _Merged(options, n_parts, wide)
    spill_dir = scratch / "spill"
    spill_dir.mkdir()
    shared = {p: found.origins[p] for p in found.shared_files}

    def args() -> Iterator[tuple]:
        for index, part_files in enumerate(parts):
            given = wide if not tasks.distributed else ReadWide(enrolment, SponsorTests())
            origins = {**shared, **{p: found.origins[p] for p in part_files}}
            yield index, [*found.shared_files, *part_files], origins, options, given, spill_dir

    for out in tasks.ordered(read_part, args()):
        if tasks.distributed:
            out = _settled(out, merged, tasks, parts, found, options, spill_dir)
        merged.add(out)
        for path in parts[out.index]:  # the partition's files and their original line numbers
            path.unlink()
            lines = found.origins.pop(path)[1]
            if isinstance(lines, Path):
                lines.unlink()
    shutil.rmtree(scratch / "scan", ignore_errors=True)
    clock("read")
    refuse_when_nothing_read(merged.total.located, merged.total.report, paths)
    study = merged.finish(skipped, hold_rows if hold_rows is not None else HOLD_ROWS)
    clock("finish")
    return study, merged.total.report


class _Clock:
    """Wall seconds of each step, into tasks.times (what a benchmark shows of where the time goes)."""

    def __init__(self, tasks: Any):
        self.times: dict[str, float] = tasks.times
        self.at = time.perf_counter()

    def __call__(self, step: str) -> None:
        now = time.perf_counter()
        self.times[step] = self.times.get(step, 0.0) + now - self.at
        self.at = now


def _settled(out: PartOut, merged: _Merged, tasks: Any, parts: list[list[Path]], found: Scan, options: ReadOptions,
             spill_dir: Path) -> PartOut:
    """A partition read on a worker, its read-wide additions replayed in partition order. A worker read it with
    the read-wide state of no partition before it: a sponsor-defined test met first there may have been given
    another code than the read gives it in order (a code taken by an earlier partition's test, or a test named
    otherwise there); then the partition is read again with the state the partitions before it left, which a read
    in order would have seen (rare: the codes of different tests collide only when their names do)."""
    assert out.delta is not None
    snapshot = copy.deepcopy(merged.wide.sponsor) if out.delta.sponsor_new else None
    if merged.replay(out.delta) or snapshot is None:
        return out
    snapshot.count = {}
    files = [*found.shared_files, *parts[out.index]]
    origins = {p: found.origins[p] for p in files}
    again = tasks.one(read_part, out.index, files, origins, options, ReadWide(options.enrolment, snapshot),
                      spill_dir)
    tasks.log.append(f"partition {out.index} read again: a sponsor-defined test code met there first differs from "
                     "the code in partition order")
    if not merged.replay(again.delta):  # pragma: no cover - given the state in order, the codes are those in order
        raise AssertionError(f"partition {out.index}: sponsor-defined test codes differ when read again")
    return again


def _scan(files: list[Path], scratch: Path, tasks: Any) -> Scan:
    """The first pass (fhir/subject_scan.py), each file whole here, or in byte ranges on Dask workers (each
    worker thread given about four)."""
    for path in files:
        if path.suffix.lower() != ".ndjson":
            raise NotSplittable(f"{path.name} is not NDJSON (only NDJSON files are cut by subject)")
    ranges: list[Partition] = []
    if tasks.distributed:
        size = RANGE_SIZE or default_size(sum(p.stat().st_size for p in files), tasks.threads())
        for number, path in enumerate(files):
            ranges += cut(number, str(path), size)
    else:
        ranges = [Partition(number, str(path), 0, path.stat().st_size) for number, path in enumerate(files)]
    scans = tasks.map(scan_range, [(part, k, scratch / f"r{k:05d}") for k, part in enumerate(ranges)])
    return join(files, scans)


def _cut(found: Scan, partition_of_code: np.ndarray, n_parts: int, scratch: Path, tasks: Any) -> list[list[Path]]:
    """The second pass, a range at a time (fhir/subject_cut.py): each partition's files, in file and line order,
    their original names and line numbers added to found.origins."""
    args = [(Partition(rs.part.number, rs.part.name, rs.part.start, rs.part.end, rs.first_line), rs.index, rs.codes,
             partition_of_code[rs.to_global], scratch) for rs in found.ranges]
    parts: list[list[Path]] = [[] for _ in range(n_parts)]
    for rs, written in zip(found.ranges, tasks.map(cut_range, args), strict=True):
        for p, path, lines in written:
            parts[p].append(path)
            found.origins[path] = (Path(rs.part.name).name, lines)
    return parts


def _partitions(found: Scan, options: ReadOptions, per_partition: int | None, tasks: Any) -> tuple[np.ndarray, int]:
    """Each subject code's partition (ranges of sorted USUBJIDs; no subject: the first) and how many."""
    usubjid = _usubjids(found, options, tasks)
    ordered = sorted({u for u in usubjid if u})
    if not ordered:
        return np.zeros(len(found.tokens), dtype=np.int64), 1
    if per_partition is None:
        per_subject = max(1.0, found.lines / len(ordered))
        per_partition = max(1, int(TARGET_RESOURCES / per_subject))
    rank = {u: i // per_partition for i, u in enumerate(ordered)}
    codes = np.array([rank.get(u, 0) if u else 0 for u in usubjid], dtype=np.int64)
    return codes, math.ceil(len(ordered) / per_partition)


def bucket_subjects(options: ReadOptions, files: list[Path], origins: dict[Path, tuple[str, Any]]
                    ) -> dict[str, str]:
    """"Patient/id" -> USUBJID of the subjects of one bucket (their lines and the study-level ones, `files`), as
    a whole read places them (with a copy of the enrolment, which a read changes)."""
    r = new_reader(options.version, options.study_meta, options.timezone, options.strict,
                   copy.deepcopy(options.enrolment))
    with cut_origins(origins), gc_paused():
        r.collect(files)
        build_study(r)
    return r.subjects


def _usubjids(found: Scan, options: ReadOptions, tasks: Any) -> list[str]:
    """USUBJID of each subject token ("" for none), as a whole read gives it: reads of the subject lines, a
    bucket at a time (each with the study-level lines)."""
    args = []
    for files in found.subject_buckets:
        if files:
            both = [*found.shared_files, *files]
            args.append((options, both, {p: found.origins[p] for p in both}))
    subjects: dict[str, str] = {}
    for got in tasks.map(bucket_subjects, args):
        subjects.update(got)
    enrolment = copy.deepcopy(options.enrolment)
    out = []
    for token in found.tokens:
        if token.startswith(IDENTIFIER):
            system, value = orjson.loads(token[len(IDENTIFIER):])
            token = found.identifiers.get((system, value) if system else (None, value), "")
            if token == AMBIGUOUS:
                raise NotSplittable("a subject is named by an identifier two Patients share")
        token = found.research_subjects.get(token, token)
        usubjid = subjects.get(token)
        if usubjid is None and token.startswith("Patient/"):
            given = enrolment.subject(token.split("/", 1)[1])
            usubjid = given["usubjid"] if given else None
        out.append(usubjid or "")
    return out


class _Merged:
    """The partitions' results, added up as one read: study-level resources (read by every partition) counted
    from the first partition only."""

    def __init__(self, options: ReadOptions, n_parts: int, wide: ReadWide):
        self.options = options
        self.n_parts = n_parts
        self.wide = wide
        self.first: _Reader | None = None
        self.total: _Reader = new_reader(options.version, options.study_meta, options.timezone, options.strict,
                                         options.enrolment)
        self.total.use_read_wide(wide.enrolment, wide.sponsor, wide.routes)
        self.facts = ReadFacts()
        self.spilled: dict[str, SpilledDataset] = {}
        self.study_level: dict[str, pd.DataFrame] = {}
        self.visits: dict[str, list[pd.DataFrame]] = {name: [] for name in VISIT_SOURCES}
        self.column_order: dict[str, list[str]] = {}
        self.leads: dict[str, list[pd.DataFrame]] = {}  # rows with USUBJID "" (they come first, once)

    def replay(self, delta: WideDelta) -> bool:
        """A worker's additions to the read-wide objects, in partition order; False when a sponsor-defined test
        got another code or name there than in order (its codes must not be used: read it again)."""
        sponsor, same = self.wide.sponsor, True
        for key, given in delta.sponsor_new:
            found = sponsor.by_key.get(key) or sponsor.assign(key, given[1])
            same = same and found == given
        if same:
            for key, n in delta.sponsor_count.items():
                sponsor.count[key] = sponsor.count.get(key, 0) + n
            self.wide.routes.flagged.update(delta.flagged)
            self.wide.enrolment.hospital_ids |= delta.hospital_ids
            for usubjid, row in delta.by_usubjid:
                self.wide.enrolment.by_usubjid.setdefault(usubjid, row)
        return same

    def add(self, r: PartOut) -> None:
        if self.first is None:
            self.first = _lightened(self.options, self.wide, r)
            self.total.tz, self.total.forced = r.tz, r.forced
        keep = (lambda form: True) if r.index == 0 else (lambda form: form not in SHARED_TYPES)
        t = self.total
        for name, counter in r.counters.items():
            getattr(t, name).update({k: v for k, v in counter.items() if keep(k)})
        t.evidence_forms.update({k: v for k, v in r.evidence_forms.items() if keep(k[1])})
        t.tallies.update(r.tallies)
        for key, found in r.examples.items():  # the first resources of each remark, whatever the partition
            add_examples(t.examples.setdefault(key, []), found)
        t.identical_examples += r.identical_examples
        t.unresolved_encounters += r.unresolved_encounters
        t.located += r.located
        t.lost_files += [x for x in r.lost_files if x not in t.lost_files]
        _add_report(t.report, r.report, keep)
        self.facts.add(r.facts)
        for ds in r.datasets:
            if ds.study_level is not None:
                self.study_level.setdefault(ds.name, ds.study_level)
                continue
            if ds.visits is not None:
                self.visits[ds.name].append(ds.visits)
            order = self.column_order.setdefault(ds.name, [])
            order += [c for c in ds.columns if c not in order]
            if ds.lead is not None:
                had = self.leads.setdefault(ds.name, [])
                if not had or not ds.lead.equals(had[0]):
                    had.append(ds.lead)
            assert ds.spilled is not None
            self.spilled.setdefault(ds.name, SpilledDataset(ds.name, ds.spilled.path.parent)).adopt(ds.spilled,
                                                                                                    r.index)

    def finish(self, skipped: list[str], hold_rows: int) -> PartitionedStudy:
        t, first = self.total, self.first
        assert first is not None
        t.evidence = Counter()
        for (version, _), n in t.evidence_forms.items():
            t.evidence[version] += n
        spilled = self.spilled
        if "LB" in spilled and not len(spilled["LB"]) and "VS" in spilled:  # a whole read: no LB of vital signs only
            del spilled["LB"]
        for name, frames in self.leads.items():
            spilled[name].lead(pd.concat(frames, ignore_index=True))
        for name, ds in spilled.items():
            ds.conform(self.column_order[name])
        finish_read(t, skipped, self.facts)
        held = {n: s.whole() for n, s in spilled.items() if len(s) <= hold_rows}
        big = {n: s for n, s in spilled.items() if n not in held}
        held |= self.study_level
        sources = {n: pd.concat(f, ignore_index=True) for n, f in self.visits.items() if f}
        meta = study_meta_of(first, {**sources, **self.study_level})
        return PartitionedStudy(meta, held, big, t.report, [], {}, self.n_parts,
                                {n: s.ranges for n, s in spilled.items()})


def _lightened(options: ReadOptions, wide: ReadWide, first: PartOut) -> _Reader:
    """A reader standing for the first partition's as the rest of the read needs it (the read-wide objects; the
    study facts and ResearchStudy resources the study metadata is made from), without the partition's resources."""
    light = new_reader(None, options.study_meta, options.timezone, options.strict, wide.enrolment)
    light.use_read_wide(wide.enrolment, wide.sponsor, wide.routes)
    light.forced, light.tz, light.built_from = first.forced, first.tz, first.built_from
    light.by_type["ResearchStudy"] = list(first.research_studies)
    return light


def _add_report(into: FhirReadReport, part: FhirReadReport, keep: Any) -> None:
    """One partition's report added to the whole read's (what `keep` says of each resource type)."""
    into.rejects += [x for x in part.rejects if keep(x.form)]
    into.units.update(part.units)
    for form, rows in part.incomplete.items():
        if keep(form):
            into.incomplete.setdefault(form, set()).update(rows)
    for key, n in part.skipped_why.items():
        if keep(key[0]):
            into.skipped_why[key] = into.skipped_why.get(key, 0) + n
    for text in part.superseded:
        m = _OLDER_OF.search(text)
        if m is None or keep(m.group(1)):
            into.superseded.append(text)
    into.notes += [n for n in part.notes if n not in into.notes]
