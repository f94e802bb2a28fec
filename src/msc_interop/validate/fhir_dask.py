"""`validate --engine dask`: a FHIR NDJSON set validated in partitions on Dask workers, with the same findings,
in the same order, as in this process (validate/fhir_stream.py).

1. Cut (here): each NDJSON file whole, or in byte ranges that start where a line starts (engine/partitions.py),
   sized so that each worker thread gets several.
2. Count (workers): the newlines of each partition, so that each knows the file line it starts at; and, when
   the version is not given, the versions its resources tell (`_set_version`'s test, per partition).
3. Check (workers): each partition through fhir_stream.check_lines, the in-process code (the one-pass Clean
   test, the rule functions on chunks of the others), with a WholeSet of its own. What comes back is the
   partition's findings per rule, its unreadable lines, and its compact indexes: types seen, each `Type/id`
   with its place, reference text -> places, unresolved contained references. No resource comes back.
4. Merge (here), partitions in file and line order: findings per rule appended, indexes added to this
   process's WholeSet as if it had read every line (spilled to disk by bucket as it fills: fhir_index.py);
   then MSC-FHIR-008 and -009 are reported by the in-process WholeSet code (which reads again the few lines
   that hold a broken reference, for the element's path).

The rules that need the whole set are those two (ids unique, references resolve, both on WholeSet) and
MSC-FHIR-013 (pages of a search result, from the Bundles on lines: each partition's pages come back and are
judged here with those of the files read whole); every other FHIR rule reads one resource at a time. Anything
else `validate` reads (SDTM, FHIR Bundle JSON) runs in this process; `notes()` names the input paths of which no
part went to the workers.
"""

from __future__ import annotations

import functools
from array import array
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from msc_interop.engine.cluster import Cluster, completed
from msc_interop.engine.partitions import Partition, count_newlines, cut, default_size, numbered_lines
from msc_interop.errors import MscInteropError
from msc_interop.fhir.paging import BundlePage
from msc_interop.runtime import gc_paused
from msc_interop.validate.fhir_clean import Clean
from msc_interop.validate.fhir_read import FhirContext
from msc_interop.validate.fhir_stream import (
    WholeSet,
    add_line_versions,
    check_lines,
    ndjson_container,
    page_findings_of_set,
    parsed_lines,
    version_verdict,
    whole_versions,
)
from msc_interop.validate.model import Finding
from msc_interop.validate.registry import get_rule

Progress = Callable[[int, int], None]  # (partitions done, partitions)
_NEVER = 1 << 62  # a batch size no partition reaches: a worker spills nothing, it sends its ids and references


@dataclass
class PartResult:
    """What a worker returns for one partition (see the module docstring, step 3)."""

    problems: list[Finding]
    by_rule: dict[str, list[Finding]]
    types: set[str]
    labels: list[str]  # every `Type/id` read, with its place in `places`
    places: array
    pending: dict[str, array]
    local: list[tuple[int, Finding]]
    pages: list[BundlePage]  # the pages of the Bundles on its lines (MSC-FHIR-013, judged with the whole set)


@dataclass
class _Plan:
    """The partitions of one NDJSON set, their first lines known; files that could not be opened here."""

    paths: list[str]
    parts: list[Partition] = field(default_factory=list)
    unreadable: dict[int, Finding] = field(default_factory=dict)
    versions: set[Any] = field(default_factory=set)


# --- on the workers ----------------------------------------------------------------------------------------

def _count(part: Partition, versions: bool) -> tuple[int, set[Any]]:
    """Step 2 on one partition: its newlines, and (with `versions`) what version its resources tell."""
    return count_newlines(part), _versions(part) if versions else set()


def _versions(part: Partition) -> set[Any]:
    """As fhir_stream._set_version, over the partition's lines."""
    seen: set[Any] = set()
    with open(part.name, "rb") as fh:
        add_line_versions((line for _, line in numbered_lines(fh, part)), seen)
    return seen


@functools.cache
def _clean(version: str, deep: bool) -> Clean:
    """One Clean per worker process and version: its memos of verdicts serve every partition the worker reads."""
    return Clean(version, deep)


def _check(part: Partition, files: list[str], version: str, deep: bool) -> PartResult:
    """Step 3 on one partition: the in-process check of its lines, its findings and compact indexes."""
    import msc_interop.validate.fhir_rules  # noqa: F401 -- registers the rule functions in this worker

    whole = FhirContext(version, deep=deep)
    index = WholeSet(ndjson_container(files), batch=_NEVER)  # the partition's batch goes back whole
    index.files = list(files)
    index.numbers = {name: n for n, name in enumerate(files)}
    problems: list[Finding] = []
    by_rule: dict[str, list[Finding]] = defaultdict(list)
    with gc_paused(), open(part.name, "rb") as fh:
        lines = parsed_lines(numbered_lines(fh, part), part.number, part.name, problems)
        check_lines(lines, _clean(version, deep), whole, index, by_rule)
    held = index.spilled
    return PartResult(problems, dict(by_rule), index.types, held.labels, held.places, held.pending, index.local,
                      index.pages)


# --- here ----------------------------------------------------------------------------------------------------

class DaskNdjson:
    """The NDJSON engine of fhir_stream.stream_rules (`version`, `stream`) on a Dask cluster."""

    def __init__(self, cluster: Cluster, partition_size: int | None = None, progress: Progress | None = None):
        if partition_size is not None and partition_size < 1:
            raise MscInteropError(f"--partition-size {partition_size}: give a number of bytes, 1 or more")
        self.cluster, self.partition_size, self.progress = cluster, partition_size, progress
        self.distributed: list[str] = []  # NDJSON files the workers read
        self._plan: _Plan | None = None

    def version(self, whole: FhirContext, paths: Sequence[Path]) -> str:
        """The version of the set (fhir_stream._set_version's verdict), told by the workers."""
        seen = whole_versions(whole)
        self._plan = self._counted(paths, versions="R4" not in seen)
        return version_verdict(seen | self._plan.versions)

    def stream(self, paths: Sequence[Path], whole: FhirContext, problems: list[Finding],
               by_rule: dict[str, list[Finding]]) -> None:
        """fhir_stream._stream's findings, the partitions checked on the workers and merged here."""
        names = [str(p) for p in paths]
        plan = self._plan if self._plan is not None and self._plan.paths == names else self._counted(paths, False)
        self._plan = None
        client = self.cluster.client()
        files = plan.paths
        futures = {}
        # the largest first, so that no worker is left with a big one at the end
        for k in sorted(range(len(plan.parts)), key=lambda k: plan.parts[k].start - plan.parts[k].end):
            futures[client.submit(_check, plan.parts[k], files, whole.version, whole.deep, pure=False)] = k
        index = WholeSet(ndjson_container(files))
        index.files = list(files)
        index.numbers = {name: n for n, name in enumerate(files)}
        done: dict[int, PartResult] = {}
        merged = 0
        line_problems: list[list[Finding]] = [[] for _ in plan.parts]
        try:
            for n, (future, result) in enumerate(completed(client, futures), start=1):
                done[futures[future]] = result
                while merged in done:  # in order, each as soon as those before it are in
                    line_problems[merged] = _merge(done.pop(merged), index, by_rule)
                    merged += 1
                if self.progress is not None:
                    self.progress(n, len(plan.parts))
            self.distributed += [n for n in files if n not in self.distributed]
            by_file: dict[int, list[Finding]] = defaultdict(list)
            for part, found in zip(plan.parts, line_problems, strict=True):
                by_file[part.number] += found
            for number in range(len(files)):
                problems += [plan.unreadable[number]] if number in plan.unreadable else by_file.get(number, [])
            by_rule["MSC-FHIR-008"] += index.reference_findings(get_rule("MSC-FHIR-008"))
            by_rule["MSC-FHIR-009"] += index.id_findings(get_rule("MSC-FHIR-009"))
            page_findings_of_set(whole, index, by_rule)
        finally:
            index.close()

    def _counted(self, paths: Sequence[Path], versions: bool) -> _Plan:
        """Steps 1 and 2: the partitions with their first lines (and the versions they tell)."""
        plan = _Plan([str(p) for p in paths])
        sizes: dict[int, int] = {}
        for number, name in enumerate(plan.paths):
            try:
                with open(name, "rb"):
                    sizes[number] = Path(name).stat().st_size
            except OSError as exc:  # as fhir_stream._lines says it
                plan.unreadable[number] = get_rule("MSC-IO-001").finding(file=name, kind="FHIR JSON", error=str(exc))
        if not sizes:
            return plan
        size = self.partition_size or default_size(sum(sizes.values()), self.cluster.threads())
        parts = [p for number in sizes for p in cut(number, plan.paths[number], size)]
        client = self.cluster.client()
        # a file's last partition needs no count (nothing follows it), unless its resources must tell the version
        last = {p.number: k for k, p in enumerate(parts)}
        futures = {client.submit(_count, p, versions, pure=False): k for k, p in enumerate(parts)
                   if versions or last[p.number] != k}
        counts = [0] * len(parts)
        for future, (newlines, seen) in completed(client, futures):
            counts[futures[future]] = newlines
            plan.versions |= seen
        line = {}
        for k, part in enumerate(parts):
            first = line.get(part.number, 1)
            plan.parts.append(replace(part, first_line=first))
            line[part.number] = first + counts[k]
        return plan


def _merge(r: PartResult, index: WholeSet, by_rule: dict[str, list[Finding]]) -> list[Finding]:
    """One partition's findings and indexes added to those of the partitions before it (as if one WholeSet had
    read their lines in order); its unreadable lines returned."""
    for rule_id, found in r.by_rule.items():
        by_rule[rule_id] += found
    index.merge(r.labels, r.places, r.pending, r.types, r.local)
    index.pages += r.pages
    return r.problems


class DaskEngine:
    """`--engine dask` for one validate call: the cluster and the NDJSON engine on it (a context manager)."""

    def __init__(self, scheduler: str | None = None, workers: int | None = None, partition_size: int | None = None,
                 progress: Progress | None = None):
        self.cluster = Cluster(scheduler, workers)
        self.ndjson = DaskNdjson(self.cluster, partition_size, progress)

    def __enter__(self) -> DaskEngine:
        self.cluster.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cluster.close()

    def notes(self, paths: Sequence[Path]) -> list[str]:
        """One line per input path of which the workers read nothing (validated in this process)."""
        read = [Path(n).resolve() for n in self.ndjson.distributed]
        out = []
        for p in paths:
            top = Path(p).resolve()
            if not any(f == top or top in f.parents for f in read):
                out.append(f"--engine dask: {p} holds no FHIR NDJSON for the Dask workers; validated in this process")
        return out
