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
"""

from __future__ import annotations

import copy
import gc
import math
import re
import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

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
from msc_interop.fhir.resources.enrolment import Enrolment
from msc_interop.fhir.subject_cut import AMBIGUOUS, IDENTIFIER, SHARED_TYPES, NotSplittable, Scan, check_cut, cut, scan
from msc_interop.inputs.kinds import fhir_files
from msc_interop.partition import SUBJECT
from msc_interop.runtime import gc_paused
from msc_interop.sdtm.partitioned import PartitionedStudy
from msc_interop.sdtm.spill import SpilledDataset
from msc_interop.study import StudyMeta

# datasets up to this many rows are held whole for writing, bigger ones streamed from the spill (the same bytes).
# None here (to-sdtm holds up to 500k rows: its validation runs on them), so that a pull's memory is a partition's
# whatever the study's size: 100k Observations, 50 subjects a partition, held up to 50k rows: 214 MB; none: 127 MB
# (10k Observations: 120 MB)
HOLD_ROWS = 0
# resources a partition holds by default: a read holds ~2 KB per resource until its datasets are built (to-sdtm's
# records are lighter: it aims at 250k); 1M Observations read in 19 partitions of 55k peaked at 233 MB, in 5 of
# 200k at 716 MB, in about the same time
TARGET_RESOURCES = 100_000
_OLDER_OF = re.compile(r"an older version of ([A-Za-z]+)/")
_VISIT_SOURCES = ("LB", "EX")  # where a study made from FHIR takes its visits (resources/study.py)


@dataclass
class ReadOptions:
    """from-fhir's reading options, as read_fhir takes them."""

    version: str | None = None
    study_meta: StudyMeta | None = None
    timezone: str | None = None
    strict: bool = False
    enrolment: Enrolment | None = None


def read_fhir_partitioned(paths: Sequence[Path | str], scratch: Path, options: ReadOptions,
                          per_partition: int | None = None, *, hold_rows: int | None = None,
                          why: list[str] | None = None) -> tuple[PartitionedStudy, FhirReadReport] | None:
    """Read FHIR NDJSON a subject partition at a time into a PartitionedStudy (datasets held or spilled under
    `scratch`, an empty folder). None: the input is one partition, or cannot be cut exactly (not NDJSON, ...): read
    it whole; `why` is given the reason). `per_partition`: subjects per partition (default: about TARGET_RESOURCES
    each)."""
    files, skipped = fhir_files([Path(p) for p in paths])
    enrolment = options.enrolment or Enrolment(studyid=options.study_meta.studyid if options.study_meta else "")
    options = copy.copy(options)
    options.enrolment = enrolment
    try:
        found = scan(files, scratch / "scan")
        partition_of_code, n_parts = _partitions(found, options, per_partition)
        found.release_subjects()
        if n_parts <= 1:
            raise NotSplittable("the subjects make one partition")
        check_cut(found, partition_of_code)
    except NotSplittable as exc:
        if why is not None:
            why.append(str(exc))
        return None
    parts = cut(found, partition_of_code, n_parts, scratch / "parts")
    for done in ("codes", "hashes"):  # the scan's per-line numbers: the cut was their last use
        shutil.rmtree(scratch / "scan" / done, ignore_errors=True)
    merged = _Merged(options, n_parts)
    spill_dir = scratch / "spill"
    spill_dir.mkdir()
    with cut_origins(found.origins):
        for index, part_files in enumerate(parts):
            r = _new(options, merged.first)
            with gc_paused():
                r.collect([*found.shared_files, *part_files])
                study = build_study(r)
            merged.add(index, r, study, spill_dir)
            del r, study  # not held while the next partition is read: a reader holds reference cycles (its
            gc.collect()  # look-ups refer back to it), so they go now, not whenever a full collection comes
            for path in part_files:  # the partition's files and their original line numbers
                path.unlink()
                lines = found.origins[path][1]
                if isinstance(lines, Path):
                    lines.unlink()
    shutil.rmtree(scratch / "scan", ignore_errors=True)
    refuse_when_nothing_read(merged.total.located, merged.total.report, paths)
    return merged.finish(skipped, hold_rows if hold_rows is not None else HOLD_ROWS), merged.total.report


def _new(options: ReadOptions, first: _Reader | None) -> _Reader:
    r = new_reader(options.version, options.study_meta, options.timezone, options.strict, options.enrolment)
    if first is not None:
        r.share_read_wide(first)
    return r


def _partitions(found: Scan, options: ReadOptions, per_partition: int | None) -> tuple[np.ndarray, int]:
    """Each subject code's partition (ranges of sorted USUBJIDs; no subject: the first) and how many."""
    usubjid = _usubjids(found, options)
    ordered = sorted({u for u in usubjid if u})
    if not ordered:
        return np.zeros(len(found.tokens), dtype=np.int64), 1
    if per_partition is None:
        per_subject = max(1.0, found.lines / len(ordered))
        per_partition = max(1, int(TARGET_RESOURCES / per_subject))
    rank = {u: i // per_partition for i, u in enumerate(ordered)}
    codes = np.array([rank.get(u, 0) if u else 0 for u in usubjid], dtype=np.int64)
    return codes, math.ceil(len(ordered) / per_partition)


def _usubjids(found: Scan, options: ReadOptions) -> list[str]:
    """USUBJID of each subject token ("" for none), as a whole read gives it: reads of the subject lines, a
    bucket at a time, with the study-level lines (and a copy of the enrolment, which a read changes)."""
    enrolment = copy.deepcopy(options.enrolment)
    subjects: dict[str, str] = {}
    with cut_origins(found.origins):
        for files in found.subject_buckets:
            if not files:
                continue
            r = new_reader(options.version, options.study_meta, options.timezone, options.strict, enrolment)
            with gc_paused():
                r.collect([*found.shared_files, *files])
                build_study(r)
            subjects.update(r.subjects)
            del r
            gc.collect()
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
    """The partitions' readers and datasets, added up as one read: study-level resources (read by every
    partition) counted from the first partition only."""

    def __init__(self, options: ReadOptions, n_parts: int):
        self.options = options
        self.n_parts = n_parts
        self.first: _Reader | None = None
        self.total: _Reader = new_reader(options.version, options.study_meta, options.timezone, options.strict,
                                         options.enrolment)
        self.facts = ReadFacts()
        self.spilled: dict[str, SpilledDataset] = {}
        self.present: Counter[str] = Counter()  # partitions that had each dataset
        self.study_level: dict[str, pd.DataFrame] = {}
        self.visits: dict[str, list[pd.DataFrame]] = {name: [] for name in _VISIT_SOURCES}
        self.column_order: dict[str, list[str]] = {}
        self.leads: dict[str, list[pd.DataFrame]] = {}  # rows with USUBJID "" (they come first, once)

    def add(self, index: int, r: _Reader, study: Any, spill_dir: Path) -> None:
        if self.first is None:
            self.first = _lightened(r)
            self.total.share_read_wide(r)
            self.total.tz, self.total.forced = r.tz, r.forced
        keep = (lambda form: True) if index == 0 else (lambda form: form not in SHARED_TYPES)
        t = self.total
        for name in ("read", "converted", "dup_skipped", "skipped", "support_kept", "identical"):
            getattr(t, name).update({k: v for k, v in getattr(r, name).items() if keep(k)})
        t.evidence_forms.update({k: v for k, v in r.evidence_forms.items() if keep(k[1])})
        t.tallies.update(r.tallies)
        t.identical_examples += r.identical_examples
        t.unresolved_encounters += r.unresolved_encounters
        t.located += r.located
        t.lost_files += [x for x in r.lost_files if x not in t.lost_files]
        _add_report(t.report, r.report, keep)
        self.facts.add(ReadFacts.of(study))
        for name, df in study.datasets.items():
            self.present[name] += 1
            if SUBJECT not in df.columns:
                self.study_level.setdefault(name, df)
                continue
            if not df[SUBJECT].is_monotonic_increasing:  # msc-interop's own FHIR keeps its order in a whole read
                df = df.sort_values(SUBJECT, kind="stable", ignore_index=True)
            if name in _VISIT_SOURCES and "VISITNUM" in df.columns:
                cols = [c for c in ("VISITNUM", "VISIT", "EPOCH") if c in df.columns]
                self.visits[name].append(df[cols].drop_duplicates("VISITNUM"))
            order = self.column_order.setdefault(name, [])
            order += [str(c) for c in df.columns if c not in order]
            about_study = (df[SUBJECT] == "").to_numpy()
            if about_study.any():  # e.g. RELREC's dataset-level rows, from the study: alike in every partition
                lead = df[about_study].reset_index(drop=True)
                had = self.leads.setdefault(name, [])
                if not had or not lead.equals(had[0]):
                    had.append(lead)
                df = df[~about_study].reset_index(drop=True)
            self.spilled.setdefault(name, SpilledDataset(name, spill_dir)).append(df, index)

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


def _lightened(r: _Reader) -> _Reader:
    """The first partition's reader as the rest of the read needs it (its read-wide objects; the study facts and
    ResearchStudy resources the study metadata is made from), without the partition's resources."""
    light = new_reader(None, r.study_meta, r.forced_tz, r.strict, r.enrolment)
    light.share_read_wide(r)
    light.forced, light.tz, light.built_from = r.forced, r.tz, r.built_from
    light.by_type["ResearchStudy"] = list(r.by_type.get("ResearchStudy", []))
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
