"""to-sdtm for records too big to hold: build and write the study one range of subjects at a time.

The records folder is cut into subject partitions on disk (records/subject_split.py), each partition read and
built by the same reader and builders as a whole run (sdtm/build.py), and each dataset's rows appended to a
scratch file (sdtm/spill.py). The study-level datasets (TS, TV) are built once from the whole (small) EX.
Datasets up to HOLD_ROWS rows are then held and written as usual; larger ones are streamed to every format a
partition at a time (the writers' `write_frames`), with define.xml and the file headers taken from each
dataset's proxy (the first row of each distinct value). The files are byte-identical to a whole run's
(tests/sdtm/test_partitioned.py); memory is one partition plus the held datasets.

An XPT dataset over --max-file-size is split by --CAT as a whole run splits it, streamed (sdtm/split_stream.py).
What differs from a whole run, by design: XPT limit problems and non-ASCII notes are checked per partition
(a problem stops the run at the first partition that has one; a note per partition names its first value).
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from msc_interop.atomic import SCRATCH_PREFIX
from msc_interop.derived_without import settle_derivations
from msc_interop.errors import OutputLimitError
from msc_interop.partition import SUBJECT, StudyPartition
from msc_interop.records.definition import find_definition
from msc_interop.records.reader import _forms, read_records
from msc_interop.records.subject_split import NotSplittable, line_maps, split_folder
from msc_interop.records.unread import report_unread_files
from msc_interop.rejects import RejectReport
from msc_interop.sdtm import xpt
from msc_interop.sdtm.build import build_study, study_level_datasets
from msc_interop.sdtm.dm import build_dm_base
from msc_interop.sdtm.formats import text_encoding_of
from msc_interop.sdtm.merge_parts import form_order, merge_origins, merge_report
from msc_interop.sdtm.spill import SpilledDataset, representative_rows
from msc_interop.sdtm.xpt import non_ascii_seen
from msc_interop.study import Study, StudyMeta, conform
from msc_interop.trial_arms import epoch_note, epochs_not_in_ta

HOLD_ROWS = 500_000  # a dataset up to this many rows is held whole and written as in a whole run
TARGET_ROWS = 250_000  # records per partition the default partition size aims at
_SAMPLE_BYTES = 1 << 20


@dataclass
class PartitionedStudy:
    """A study built a partition at a time: held datasets, spilled ones, the merged reject report."""

    meta: StudyMeta
    held: dict[str, pd.DataFrame]
    spilled: dict[str, SpilledDataset]
    rejects: RejectReport
    notes: list[str] = field(default_factory=list)
    text_origins: dict[str, tuple[str, int, str]] = field(default_factory=dict)
    partitions: int = 0
    ranges: dict[str, dict[int, tuple[int, int]]] = field(default_factory=dict)  # dataset -> partition -> rows
    _proxy_study: Study | None = field(default=None, repr=False, compare=False)

    def light_study(self) -> Study:
        """The proxy study with the held subject-level datasets but DM cut to their representative rows too:
        what describes the study (to-fhir's ResearchStudy, sites, labs, arms) without every record held again."""
        light = {n: representative_rows(df, n) if SUBJECT in df.columns and n != "DM" else df
                 for n, df in self.held.items()}
        study = Study(self.meta, {**light, **{n: s.proxy for n, s in self.spilled.items()}})
        study.text_origins = self.text_origins
        return study

    def rows(self) -> dict[str, int]:
        """Records of each dataset (the proxy study holds only representative rows of the spilled ones)."""
        return {**{n: len(df) for n, df in self.held.items()}, **{n: len(s) for n, s in self.spilled.items()}}

    def partitions_of(self) -> Iterator[StudyPartition]:
        """The study again a partition at a time (held datasets sliced, spilled ones read back), each row
        placed in its whole dataset: what validation runs over (validate/partitioned.py).

        Every partition holds every dataset, as partition.py promises: one whose subjects have no rows of it
        (screen failures without EX, EG, VS; a partition that built no EG or SUPPEX) gets it empty, with the
        whole dataset's columns and dtypes, so that the rules check the same things in every partition."""
        proxy = self.proxy_study()
        for i in range(self.partitions):
            datasets, rows = {}, {}
            for name in proxy.names:
                got = self.ranges.get(name, {}).get(i)
                if name not in self.ranges:  # study-level: whole in each
                    datasets[name], rows[name] = proxy[name], np.arange(len(proxy[name]))
                    continue
                if got is None:  # none of its subjects' rows: the whole dataset's shape, no rows
                    datasets[name], rows[name] = proxy[name].iloc[:0], np.arange(0)
                    continue
                a, b = got
                df = self.spilled[name].partition(i) if name in self.spilled else self.held[name].iloc[a:b]
                datasets[name], rows[name] = df.reset_index(drop=True), np.arange(a, b)
            part = Study(self.meta, datasets)
            part.text_origins = self.text_origins
            yield StudyPartition(part, rows, i)

    def proxy_study(self) -> Study:
        """The study with each spilled dataset as its proxy: what define.xml and file headers need (made once:
        Study conforms every held dataset, and writing, validation and partitions_of each ask for it)."""
        if self._proxy_study is None:
            self._proxy_study = Study(self.meta, {**self.held, **{n: s.proxy for n, s in self.spilled.items()}})
            self._proxy_study.text_origins = self.text_origins
        return self._proxy_study


def subjects_per_partition(folder: Path, n_subjects: int, files: dict[str, str]) -> int:
    """Subjects per partition so that a partition holds about TARGET_ROWS records: the records of the
    folder estimated from each file's size and the mean length of its first lines."""
    rows = 0
    for name in files.values():
        path = folder / name
        with open(path, "rb") as fh:
            head = fh.read(_SAMPLE_BYTES)
        lines = max(1, head.count(b"\n"))
        rows += int(path.stat().st_size / (len(head) / lines)) if head else 0
    per_subject = max(1.0, rows / max(1, n_subjects))
    return max(1, int(TARGET_ROWS / per_subject))


def load_partitioned(folder: Path, scratch: Path, per_partition: int | None = None, *,
                     hold_rows: int | None = None, check_xpt: bool = True,
                     xpt_encoding: str | None = None, why: list[str] | None = None) -> PartitionedStudy | None:
    """Read and build a records folder a subject partition at a time (None: one partition would hold the
    whole study, or the folder cannot be cut exactly; read it whole, `why` is given the reason). `scratch` must
    be an empty folder.
    `check_xpt`: check each partition against the XPT v5 limits (OutputLimitError) and gather the notes about
    non-ASCII text, as write_sdtm's check_fits does for a whole study written as XPT in `xpt_encoding`."""
    definition = find_definition(folder)
    files = {form: spec["file"] for form, spec in _forms().items() if (folder / spec["file"]).is_file()}
    why = [] if why is None else why
    if "subjects" not in files or "exposures" not in files:
        why.append("the folder has no subjects or exposures form")  # the whole read reports it
        return None
    usubjid = _usubjid_of_subjects(folder, scratch / "subjects", definition, files)
    per_partition = per_partition or subjects_per_partition(folder, len(usubjid), files)
    ordered = sorted(set(usubjid.values()))
    n_parts = math.ceil(len(ordered) / per_partition) if ordered else 1
    if n_parts <= 1:
        why.append(f"its {len(ordered)} subject(s) make one partition of {per_partition}")
        return None
    rank = {u: i // per_partition for i, u in enumerate(ordered)}
    partition_of = {s: rank[u] for s, u in usubjid.items()}
    try:
        parts = split_folder(folder, scratch / "parts", files, definition, partition_of, n_parts)
    except NotSplittable as exc:
        why.append(str(exc))
        return None
    hold = HOLD_ROWS if hold_rows is None else hold_rows
    ps = _build(parts.folders, scratch / "spill", hold, check_xpt, xpt_encoding, frozenset(usubjid))
    # the files no form reads: of the folder, as a whole read reports them (the parts hold none), before the notes
    report_unread_files(folder, {form: spec["file"] for form, spec in _forms().items()}, ps.rejects)
    ps.rejects.settle_kept()
    settle_derivations(ps.rejects)
    return ps


def _usubjid_of_subjects(folder: Path, where: Path, definition: Path, files: dict[str, str]) -> dict[str, str]:
    """subject_id -> USUBJID for each subject the subjects form accepts (a small read of two forms)."""
    where.mkdir(parents=True)
    for name in (definition.name, files["subjects"], files["exposures"]):
        shutil.copyfile(folder / name, where / name)
    records = read_records(where)
    meta = StudyMeta.from_definition(records.definition)
    dm = build_dm_base(records, meta)
    return dict(zip(dm["SUBJID"].tolist(), dm[SUBJECT].tolist(), strict=True))


def _build(folders: list[Path], spill_dir: Path, hold_rows: int, check_xpt: bool,
           xpt_encoding: str | None, subjects: frozenset[str] = frozenset()) -> PartitionedStudy:
    """Each partition read and built; `subjects`: the subject ids the subjects form accepts, of every partition
    (a reject of a subject not in it names the one it is but for leading zeros, wherever that one is)."""
    spill_dir.mkdir(parents=True)
    spilled: dict[str, SpilledDataset] = {}
    rejects = RejectReport()
    notes: list[str] = []
    origins: dict[str, tuple[tuple[int, int, int], tuple[str, int, str]]] = {}
    leads: dict[str, list[pd.DataFrame]] = {}
    seen: dict[str, dict[str, tuple[int, str, int]]] = {}  # dataset -> variable -> non-ASCII (count, first, row)
    problems: list[str] = []
    meta: StudyMeta | None = None
    outside: dict[tuple[str, str], int] = {}  # (dataset, EPOCH) -> records: an EPOCH that no TA row has
    for index, folder in enumerate(folders):
        records = read_records(folder, line_maps(folder))
        records.subjects_read |= subjects  # (the rows of an unknown subject are the first partition's)
        order = form_order({form: list(df.columns) for form, df in records.forms.items()})
        study, report = build_study(records, settle=False)  # (settled once merged, below)
        meta = study.meta
        if check_xpt:
            problems += _xpt_problems(study, spilled, xpt_encoding)
            if problems:  # stop at the first partition with one: the run writes nothing
                raise OutputLimitError([f"XPT v5: {p}" for p in problems])
        merge_report(rejects, report)
        for key, n in epochs_not_in_ta(study.datasets).items():  # (TA is the meta's: the same in every partition)
            outside[key] = outside.get(key, 0) + n
        merge_origins(origins, study.text_origins, order, records.files)
        for name, df in study.datasets.items():
            if SUBJECT not in df.columns:
                continue  # study-level: built once from the whole below
            about_study = (df[SUBJECT] == "").to_numpy()
            if about_study.any():  # e.g. RELREC's dataset-level relationships: built alike in every partition
                leads.setdefault(name, []).append(df[about_study])
                df = df[~about_study].reset_index(drop=True)
            ds = spilled.setdefault(name, SpilledDataset(name, spill_dir))
            for col, (count, first, row) in non_ascii_seen(df, ds.rows).items():
                had = seen.setdefault(name, {}).get(col)
                seen[name][col] = (count + had[0], had[1], had[2]) if had else (count, first, row)
            ds.append(df, index)
        shutil.rmtree(folder)
    assert meta is not None
    for name, frames in leads.items():  # once, first (USUBJID "" sorts first), as a whole run has them
        lead = pd.concat(frames, ignore_index=True).drop_duplicates(ignore_index=True)
        spilled[name].lead(lead)
        seen[name] = {**{c: (n, v, r + len(lead)) for c, (n, v, r) in seen.get(name, {}).items()},
                      **non_ascii_seen(lead)}
    for name, ds in spilled.items():  # a partition may build a dataset without some variables (an EX of no rows
        ds.conform(list(conform(name, ds.proxy.iloc[:0]).columns))  # has no EXSTDY): read back with all of them
    ranges = {n: s.ranges for n, s in spilled.items()}
    held = {n: s.whole() for n, s in spilled.items() if len(s) <= hold_rows}
    ex = held["EX"] if "EX" in held else spilled["EX"].whole() if "EX" in spilled else None
    dm = held["DM"] if "DM" in held else spilled["DM"].whole() if "DM" in spilled else None
    held |= study_level_datasets(meta, ex, dm)
    if epoch_note(outside):
        rejects.notes.append(epoch_note(outside))
    big = {n: s for n, s in spilled.items() if n not in held}
    if check_xpt:  # in dataset order, as check_fits gives them
        origins_now = {v: o for v, (_, o) in origins.items()}
        notes += [xpt.text_note(name, col, seen[name][col], xpt_encoding or "utf-8", origins_now)
                  for name in sorted(seen, key=lambda n: (n.startswith("SUPP"), n))
                  for col in seen.get(name, {})]
    return PartitionedStudy(meta, held, big, rejects, notes, {v: o for v, (_, o) in origins.items()}, len(folders),
                            ranges)


def _xpt_problems(study: Study, spilled: dict[str, SpilledDataset], xpt_encoding: str | None) -> list[str]:
    """check_fits's problems for one partition, rows placed in the whole dataset."""
    out: list[str] = []
    for name in study.names:
        offset = len(spilled[name]) if name in spilled else 0
        out += xpt.xpt_problems(study[name], name, encoding=text_encoding_of(study, name, xpt_encoding),
                                origins=study.text_origins, row_offset=offset)
    return out


@contextlib.contextmanager
def scratch_folder(outdir: Path) -> Iterator[Path]:
    """An empty scratch folder beside the output (same disk: the spilled data is about the output's size),
    removed at the end whatever happens; named with the process id, so that the next run into the folder removes
    it if this process was killed outright (atomic.remove_stale_parts)."""
    outdir.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}.", dir=outdir))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)

