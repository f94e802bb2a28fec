"""to-fhir for a study built a subject partition at a time (sdtm/partitioned.py): the same files as write_fhir.

A whole write emits stage after stage (fhir/write.py STAGES: all Patients, then all Encounters, ..., then all
Observations), and a Bundle or an NDJSON file of one type (Observation: labs, then vital signs, then ECG ...)
holds them in that order. Here each partition runs every stage but the first, and each stage's output goes to a
scratch part of its own (per stage: the Bundle entries, or one NDJSON file per type); the files are then
assembled stage by stage. The first stage (ResearchStudy, sites, lab Organizations) is built once, from the
study's proxy (every distinct site and lab) and the SUPP-- records no subject holds, gathered over the
partitions. Records carry their row in the whole dataset (WriteContext.row_base), and validation findings
their place in the whole file (positions offset by the earlier stages' resources of the type).
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from msc_interop.atomic import atomic_open
from msc_interop.fhir import ids, unwritten
from msc_interop.fhir.context import CARRIED_ON_SUBJECT, WRITTEN_DOMAINS, WriteContext, make_context
from msc_interop.fhir.io import BUNDLE_END, BackgroundWrites, BundleWriter, NdjsonWriter, bundle_header
from msc_interop.fhir.resources.study import TRIAL_DESIGN
from msc_interop.fhir.validate import Finding
from msc_interop.fhir.write import (
    CHUNK_ROWS,
    STAGES,
    FhirWriteResult,
    check_chunk,
    chunk_findings,
    chunk_types,
    describe_not_written,
    setup,
)
from msc_interop.partition import StudyPartition
from msc_interop.sdtm.partitioned import PartitionedStudy


def write_fhir_partitioned(ps: PartitionedStudy, out: Path, scratch: Path, *, version: str = "R4",
                           bundle: str = "collection", ndjson: bool = False, timezone: str | None = None,
                           validate: bool | str = True, chunk_size: int = CHUNK_ROWS) -> FhirWriteResult:
    """write_fhir for a partitioned study (its options and result alike); `scratch`: an empty folder."""
    proxy = ps.light_study()  # the study stage's view: every distinct site, lab, arm, dataset and column
    spec, tz, result, validator, outputs = setup(proxy.meta.timezone, version, bundle, ndjson, timezone, validate)
    not_written: Counter[str] = Counter()
    for n_output, (kind, in_bundle) in enumerate(outputs):
        staged = _Staged(kind, validator if not result.counts else None, chunk_size)  # validate once
        with contextlib.ExitStack() as stack, BackgroundWrites() as background:
            writers = [_stage_writer(kind, bundle, scratch / kind / f"s{s:02d}", stack, background)
                       for s in range(len(STAGES))]
            for part in ps.partitions_of():
                if n_output == 0:  # counted while the partitions are at hand (not one more pass over them)
                    not_written.update(_not_written(ps, part))
                ctx = make_context(part.study, spec, tz, in_bundle, _row_base(part))
                for s in range(1, len(STAGES)):
                    staged.emit(s, ctx, writers[s])
                staged.gather(ctx)
            first = make_context(proxy, spec, tz, in_bundle)
            first.supp_study = _in_whole_order(staged.supp_study, proxy.names)
            staged.emit(0, first, writers[0])
        if n_output == 0:
            result.not_written = dict(not_written)
            describe_not_written(result)
        if kind == "bundle":
            result.paths.append(_assemble_bundle(out / "bundle.json", scratch / kind, bundle, first.studyid,
                                                 [c.total() for c in staged.counts]))
        else:
            result.paths += _assemble_ndjson(out, scratch / kind, staged.types)
        result.findings += _placed(staged.findings, staged.counts)
        result.counts = dict(sum(staged.counts, Counter()))
        result.warnings += [w for w in [*first.warnings, *staged.warnings] if w not in result.warnings]
        shutil.rmtree(scratch / kind, ignore_errors=True)
    return result


class _Staged:
    """One output's resources counted, checked and written stage by stage, over the partitions."""

    def __init__(self, kind: str, check: Any, chunk_size: int):
        self.label = "bundle.json" if kind == "bundle" else ""
        self.check = check
        self.chunk_size = chunk_size
        self.counts = [Counter[str]() for _ in STAGES]
        self.findings: list[list[Finding]] = [[] for _ in STAGES]
        self.types: list[list[str]] = [[] for _ in STAGES]  # resource types of each stage, in order of first
        self.supp_study: dict[str, list[dict[str, Any]]] = {}
        self.warnings: list[str] = []

    def emit(self, s: int, ctx: WriteContext, writer: Any) -> None:
        for chunk in STAGES[s](ctx, self.chunk_size):
            types = chunk_types(chunk)
            if self.check is not None:
                self.findings[s] += chunk_findings(chunk, types, check_chunk(self.check, chunk), self.counts[s],
                                                   self.label)
            self.counts[s].update(types)
            self.types[s] += [t for t in dict.fromkeys(types) if t not in self.types[s]]
            writer.add(chunk)

    def gather(self, ctx: WriteContext) -> None:
        """What a partition leaves for the study: its SUPP-- records no subject holds, its warnings."""
        for name, exts in ctx.supp_study.items():
            self.supp_study.setdefault(name, []).extend(exts)
        self.warnings += [w for w in ctx.warnings if w not in self.warnings]


def _stage_writer(kind: str, bundle: str, folder: Path, stack: contextlib.ExitStack,
                  background: BackgroundWrites) -> Any:
    folder.mkdir(parents=True)
    if kind == "bundle":
        fh = stack.enter_context(open(folder / "entries", "wb"))  # noqa: SIM115 - closed by the stack
        return BundleWriter(fh, bundle, "", background.write, header=False)
    return NdjsonWriter(folder, stack, background.write)


def _row_base(part: StudyPartition) -> dict[str, int]:
    """The rows of each dataset before this partition's (its rows are a range of the whole dataset)."""
    return {name: int(rows[0]) for name, rows in part.rows.items() if len(rows)}


def _in_whole_order(by_dataset: dict[str, list[dict[str, Any]]], names: list[str]) -> dict[str, list]:
    """As a whole write places them: SUPP-- datasets in the study's order, then CARRIED_ON_SUBJECT's."""
    order = [n for n in names if n.startswith("SUPP")] + list(CARRIED_ON_SUBJECT)
    return {n: by_dataset[n] for n in sorted(by_dataset, key=lambda n: order.index(n) if n in order else len(order))}


def _not_written(ps: PartitionedStudy, part: StudyPartition) -> dict[str, int]:
    """unwritten.not_written of one partition: its subject-level datasets' records (study-level: the first's)."""
    found = unwritten.not_written(part.study, WRITTEN_DOMAINS, TRIAL_DESIGN + CARRIED_ON_SUBJECT)
    return {n: c for n, c in found.items() if n in ps.ranges or part.first}


def _placed(stage_findings: list[list[Finding]], stage_counts: list[Counter[str]]) -> list[Finding]:
    """Findings at their place in the whole file: after the resources of their type in earlier stages."""
    before: Counter[str] = Counter()
    out = []
    for found, counts in zip(stage_findings, stage_counts, strict=True):
        out += [dataclasses.replace(f, position=f.position + before[f.resource_type]) for f in found]
        before.update(counts)
    return out


def _assemble_bundle(target: Path, parts: Path, bundle: str, studyid: str, sizes: list[int]) -> Path:
    with atomic_open(target, "wb") as fh:
        fh.write(bundle_header(bundle, ids.simple_id("bundle", studyid)))
        written = False
        for s, n in enumerate(sizes):
            if not n:
                continue
            if written:
                fh.write(b",\n")
            _copy(parts / f"s{s:02d}" / "entries", fh)
            written = True
        fh.write(BUNDLE_END)
    return target


def _assemble_ndjson(out: Path, parts: Path, types_in_order: list[list[str]]) -> list[Path]:
    order = list(dict.fromkeys(t for types in types_in_order for t in types))
    paths = []
    for rtype in order:
        target = out / f"{rtype}.ndjson"
        with atomic_open(target, "wb") as fh:
            for s in range(len(types_in_order)):
                piece = parts / f"s{s:02d}" / f"{rtype}.ndjson"
                if piece.is_file():
                    _copy(piece, fh)
        paths.append(target)
    return paths


def _copy(path: Path, fh: Any) -> None:
    """Append a scratch part to the output and delete it (the disk holds the output and the parts not yet
    copied, not both whole)."""
    with open(path, "rb") as src:
        shutil.copyfileobj(src, fh, 16 << 20)
    path.unlink()

