"""A study cut into subject partitions: what lets a command hold one range of subjects at a time.

Every subject-level dataset (one with a USUBJID column) of a partition holds all the rows of that partition's
subjects and no other; datasets without USUBJID (TS, TV, TA, TE, TI: the trial design) are study-level and
given whole to every partition. A partition knows where each of its rows sits in the whole dataset
(`rows[name]`: 0-based positions), so that what it finds or writes can be placed in the whole.

Subjects are cut in sorted USUBJID order, so for datasets sorted by USUBJID (every dataset msc-interop builds:
sdtm/common.py sorts by USUBJID first) the partitions in order are the whole dataset in order. Rows with an
empty USUBJID (RELREC's dataset-level relationships, a broken row) go to the first partition, where "" sorts.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from msc_interop.study import Study

SUBJECT = "USUBJID"
# input files larger than this in all are read a partition at a time by default (--partition-subjects auto):
# records CSV by to-sdtm and to-fhir, SDTM dataset files by validate
PARTITION_BYTES = 512 << 20


def is_study_level(df: pd.DataFrame) -> bool:
    """A dataset without USUBJID describes the study, not subjects: every partition gets it whole."""
    return SUBJECT not in df.columns


@dataclass
class StudyPartition:
    """The datasets of one range of subjects (`study`), and where each row sits in the whole dataset. Every
    partition holds every dataset of the study with the whole dataset's variables, empty where its subjects have
    no rows of it (the SDTM rules must check the same things in each: validate/partitioned.py)."""

    study: Study
    rows: dict[str, np.ndarray] = field(default_factory=dict)  # dataset -> 0-based rows in the whole dataset
    index: int = 0  # the partition's place in the sequence (0 first)

    @property
    def first(self) -> bool:
        return self.index == 0


def subject_ranges(subjects: pd.Series | np.ndarray, per_partition: int) -> list[np.ndarray]:
    """The distinct non-empty subjects, sorted, cut into consecutive groups of `per_partition`."""
    if per_partition < 1:
        raise ValueError("per_partition must be at least 1")
    values = pd.unique(pd.Series(subjects, dtype=object))
    ordered = np.sort(np.array([v for v in values if v != ""], dtype=object))
    return [ordered[i:i + per_partition] for i in range(0, len(ordered), per_partition)] or [ordered]


def partition_study(study: Study, per_partition: int) -> Iterator[StudyPartition]:
    """Cut an in-memory Study into subject partitions of `per_partition` subjects (for tests, and for a
    command that holds the whole study and hands partitions on). Study-level datasets go whole to each."""
    subjects = pd.concat([df[SUBJECT] for df in study.datasets.values() if not is_study_level(df)],
                         ignore_index=True) if study.datasets else pd.Series([], dtype=object)
    groups = subject_ranges(subjects, per_partition)
    codes = {name: _group_of(df[SUBJECT], groups) for name, df in study.datasets.items() if not is_study_level(df)}
    for i in range(len(groups)):
        part = copy.copy(study)
        part.datasets, rows = {}, {}
        for name, df in study.datasets.items():
            if name not in codes:
                part.datasets[name], rows[name] = df, np.arange(len(df))
                continue
            where = np.flatnonzero(codes[name] == i)
            part.datasets[name] = df.iloc[where].reset_index(drop=True)
            rows[name] = where
        yield StudyPartition(part, rows, i)


def _group_of(subjects: pd.Series, groups: list[np.ndarray]) -> np.ndarray:
    """The partition of each row: its subject's group; an empty or unknown subject belongs to the first."""
    lookup = {s: i for i, g in enumerate(groups) for s in g}
    return subjects.map(lookup).fillna(0).to_numpy(dtype=np.int64)
