"""One subject partition of a cut read (fhir/read_partitioned.py): read and built by the unchanged reader
(fhir/read.py `build_study`) where its task runs (a Dask worker, or this process), its datasets spilled to the
scratch folder, and what the read of the whole set needs of it returned compact (`PartOut`: counts, the reject
report, the spilled files with their representative rows, the small study-level datasets). No resource and no
reader comes back, so the result is small and pickles.

What one read decides once for every partition (`ReadWide`: the enrolment, the sponsor-defined tests' codes, the
routes and forms flagged) is given to the partition: in this process the live objects themselves (as a whole read
shares them); on a worker a copy, and the partition returns what it added to it (`WideDelta`), which the read
replays in partition order (read_partitioned.py says how a sponsor-defined code guessed differently is
settled).
"""

from __future__ import annotations

import gc
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from msc_interop.fhir.io import Located, cut_origins
from msc_interop.fhir.read import ReadFacts, build_study, new_reader
from msc_interop.fhir.read_common import FhirReadReport
from msc_interop.fhir.resources.enrolment import Enrolment
from msc_interop.partition import SUBJECT
from msc_interop.runtime import gc_paused
from msc_interop.sdtm.spill import SpilledPart, spill_part
from msc_interop.study import StudyMeta

VISIT_SOURCES = ("LB", "EX")  # where a study made from FHIR takes its visits (resources/study.py)
COUNTERS = ("read", "converted", "dup_skipped", "skipped", "support_kept", "identical")


@dataclass
class ReadOptions:
    """from-fhir's reading options, as read_fhir takes them."""

    version: str | None = None
    study_meta: StudyMeta | None = None
    timezone: str | None = None
    strict: bool = False
    enrolment: Enrolment | None = None


@dataclass
class ReadWide:
    """The read-wide objects of a read (ReadContext.share_read_wide); routes None: made by the partition."""

    enrolment: Enrolment
    sponsor: Any  # lab/sponsor.py SponsorTests
    routes: Any = None  # resources/routes.py RoutesForms


@dataclass
class WideDelta:
    """What one partition added to the read-wide objects it was given."""

    sponsor_new: list[tuple[str, tuple[str, str]]]  # tests met first here: key -> (LBTESTCD, LBTEST), in order
    sponsor_count: dict[str, int]  # results counted here, per test key
    flagged: Counter[tuple[str, str]]  # routes and forms kept as sent
    hospital_ids: set[str]
    by_usubjid: list[tuple[str, dict[str, str]]]


@dataclass
class DatasetPart:
    """One dataset of a partition: study-level (no USUBJID: the frame itself), or its subject rows spilled, with
    the rows about the study (USUBJID "": `lead`) and the visits (LB, EX) apart."""

    name: str
    columns: list[str]
    study_level: pd.DataFrame | None = None
    spilled: SpilledPart | None = None
    lead: pd.DataFrame | None = None
    visits: pd.DataFrame | None = None


@dataclass
class PartOut:
    """What the read of the whole set needs of one partition (see the module docstring)."""

    index: int
    counters: dict[str, Counter[str]]
    evidence_forms: Counter[tuple[str, str]]
    tallies: Counter[str]
    examples: dict[str, list[tuple[str, int, str]]]
    identical_examples: list[str]
    unresolved_encounters: int
    located: int
    lost_files: list[str]
    report: FhirReadReport
    facts: ReadFacts
    tz: str | None
    forced: str | None
    built_from: tuple[dict[str, Any], str]
    research_studies: list[Located]
    datasets: list[DatasetPart] = field(default_factory=list)
    delta: WideDelta | None = None


class _Before:
    """The read-wide objects' state before a partition (to tell what it added)."""

    def __init__(self, wide: ReadWide):
        self.keys = len(wide.sponsor.by_key)
        self.count = dict(wide.sponsor.count)
        self.flagged = Counter(wide.routes.flagged) if wide.routes is not None else Counter()
        self.hospital_ids = set(wide.enrolment.hospital_ids)
        self.subjects = len(wide.enrolment.by_usubjid)

    def delta(self, wide: ReadWide, routes: Any) -> WideDelta:
        sponsor = wide.sponsor
        count = {k: n - self.count.get(k, 0) for k, n in sponsor.count.items() if n != self.count.get(k, 0)}
        flagged = Counter(routes.flagged) if routes is not None else Counter()
        flagged.subtract(self.flagged)
        return WideDelta(list(sponsor.by_key.items())[self.keys:], count, +flagged,
                         wide.enrolment.hospital_ids - self.hospital_ids,
                         list(wide.enrolment.by_usubjid.items())[self.subjects:])


def read_part(index: int, files: list[Path], origins: dict[Path, tuple[str, Any]], options: ReadOptions,
              wide: ReadWide, spill_dir: Path) -> PartOut:
    """Read partition `index` (its files, and the study-level files every partition reads; `origins`: their
    original names and line numbers), build its datasets and spill those of subjects to `spill_dir`."""
    r = new_reader(options.version, options.study_meta, options.timezone, options.strict, wide.enrolment)
    r.use_read_wide(wide.enrolment, wide.sponsor, wide.routes)
    before = _Before(wide)
    with cut_origins(origins), gc_paused():
        r.collect(files)
        study = build_study(r)
    out = PartOut(index, {name: getattr(r, name) for name in COUNTERS}, r.evidence_forms, r.tallies, r.examples,
                  r.identical_examples, r.unresolved_encounters, r.located, r.lost_files, r.report,
                  ReadFacts.of(study), r.tz, r.forced, r.built_from, list(r.by_type.get("ResearchStudy", [])))
    out.delta = before.delta(wide, r._routes)
    spill_dir.mkdir(parents=True, exist_ok=True)
    out.datasets = [_dataset(name, df, index, spill_dir) for name, df in study.datasets.items()]
    del r, study  # a reader holds reference cycles (its look-ups refer back to it): they go now, not whenever a
    gc.collect()  # full collection comes
    return out


def _dataset(name: str, df: pd.DataFrame, index: int, spill_dir: Path) -> DatasetPart:
    if SUBJECT not in df.columns:
        return DatasetPart(name, [str(c) for c in df.columns], study_level=df)
    if not df[SUBJECT].is_monotonic_increasing:  # msc-interop's own FHIR keeps its order in a whole read
        df = df.sort_values(SUBJECT, kind="stable", ignore_index=True)
    out = DatasetPart(name, [str(c) for c in df.columns])
    if name in VISIT_SOURCES and "VISITNUM" in df.columns:
        cols = [c for c in ("VISITNUM", "VISIT", "EPOCH") if c in df.columns]
        out.visits = df[cols].drop_duplicates("VISITNUM")
    about_study = (df[SUBJECT] == "").to_numpy()
    if about_study.any():  # e.g. RELREC's dataset-level rows, from the study: alike in every partition
        out.lead = df[about_study].reset_index(drop=True)
        df = df[~about_study].reset_index(drop=True)
    out.spilled = spill_part(df, name, spill_dir / f"{name}.{index:05d}.pkl")
    return out
