"""A records folder read and built on two cores: each share of the subjects by its own process, then joined.

Why: to-sdtm of a million lab rows spent ~3.3 s reading and building the study on one core before writing on
two (benchmarks/split_load_costs.py measured what a split saves and costs; benchmarks/bench_load_in_two.py what
this one does: 0.81-0.85x the one-process load). The form files are read and parsed once, on every core, before
the fork (preparse); the subjects are ranked by USUBJID (a glance at the subjects form) and the last OTHER_SHARE
of them go to the forked process; each process keeps its subjects' rows of the parse (records/subject_share.py:
every row checked, and rejected if it must be, by one process, naming its line), builds them with the same
builders as a whole build (sdtm/build.py), and the other's datasets come back as codes and are joined after this
one's (sdtm/halves_join.py). Every builder sorts by USUBJID first, so the joined datasets are the whole build's
(join_halves checks DM's order); the study-level datasets (TS, TV) are built from the joined EX; the reject
reports and the first record of each non-ASCII value merge as a partitioned run's do (sdtm/merge_parts.py). The
study is the one a one-process load gives (tests/sdtm/test_load_in_two.py).

Only where it pays: a fork is possible (forked.can_fork), the folder's CSV files hold at least SPLIT_BYTES, and
another core is free now (core_free). Anything the halves cannot be joined by (the other process failed, the
halves' datasets differ in shape, a cut out of order) makes the caller load the folder whole, as before; a
problem that stops a load stops it either way, with the error a whole load gives.
"""

from __future__ import annotations

import functools
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from msc_interop.derived_without import settle_derivations
from msc_interop.distinct import column_codes, per_distinct
from msc_interop.forked import Forked, ForkedFailure, can_fork
from msc_interop.partition import SUBJECT
from msc_interop.records.csv_text import PreparsedFile, parse_plain_file
from msc_interop.records.definition import find_definition, read_definition
from msc_interop.records.reader import _forms, read_form_table, read_records
from msc_interop.records.subject_share import SubjectShare
from msc_interop.rejects import RejectReport
from msc_interop.sdtm.build import build_study, study_level_datasets
from msc_interop.sdtm.dm import usubjid_of
from msc_interop.sdtm.halves_join import ShippedFrame, joined, shipped
from msc_interop.sdtm.merge_parts import Origins, form_order, merge_origins, merge_report
from msc_interop.study import Study, StudyMeta

# the share of the subjects the other process builds: less than half, as it also sends its datasets over and
# starts slower (the pages it writes are copied from this process's first); benchmarks/bench_load_in_two.py
OTHER_SHARE = 0.46
SPLIT_BYTES = 24 << 20  # CSV bytes from which a load is split (~250k lab rows; a smaller one loads in < 1 s)


@dataclass
class Half:
    """What one process built of its subjects: the datasets (shipped from the other process), the reject
    report, the first record of each non-ASCII value, and the order a whole read meets the forms' columns in."""

    datasets: dict[str, pd.DataFrame] | dict[str, ShippedFrame]
    meta: StudyMeta
    report: RejectReport
    text_origins: dict[str, tuple[str, int, str]]
    order: dict[str, tuple[int, list[str]]]
    files: dict[str, str]


def worth_splitting(folder: Path) -> bool:
    """Whether a load of `folder` (a records folder) on two cores pays here: big enough, and a core is free now."""
    return can_fork() and sum(p.stat().st_size for p in folder.glob("*.csv")) >= SPLIT_BYTES and core_free()


def core_free(samples: int = 5, gap: float = 0.001) -> bool:
    """Whether another core is idle now: in most of `samples` readings `gap` seconds apart, fewer runnable tasks
    (/proc/loadavg's fourth field, this process's one included) than the cores this process may run on. A split
    load does more work in all than a whole one (the parse, the join); with another job busy on the other core it
    took 1.39x the whole load instead of 0.83x (benchmarks/README.md, ninth round). Several readings: a kernel
    thread runnable for a moment (~1% of single readings on an idle machine here) must not make a big load run
    on one core (a whole load: ~0.6 s longer at 1M lab rows). Unknown (not Linux): free."""
    try:
        cores = len(os.sched_getaffinity(0))
        free = 0
        for i in range(samples):
            if i:
                time.sleep(gap)
            free += int(Path("/proc/loadavg").read_text().split()[3].split("/")[0]) < cores
        return 2 * free > samples
    except (OSError, ValueError, IndexError, AttributeError):
        return True


def load_in_two(folder: Path) -> tuple[Study, RejectReport] | None:
    """The Study and reject report a whole load of `folder` gives, made by two processes; None: not split (fewer
    than two subjects, or the halves could not be joined): load it whole."""
    with ThreadPoolExecutor(1, thread_name_prefix="msc-interop-rank") as pool:
        ranking = pool.submit(second_half_subjects, folder)  # (beside the parse: its threads leave a core idle
        preparsed = preparse(folder)  # for a while, and both processes need the ranking)
        second = ranking.result()  # (a broken study.yaml or subjects form: the whole load's error, as it gives it)
    if not second:
        return None
    try:
        child = Forked(functools.partial(_shipped_half, folder, second, preparsed))
    except OSError:  # no fork now (memory, a process limit)
        return None
    with child:
        mine = built_half(folder, second, inside=False, preparsed=preparsed)
        try:
            theirs = child.result()
        except ForkedFailure:
            return None
    return join_halves(mine, theirs)


def second_half_subjects(folder: Path) -> frozenset[str]:
    """The subject_id of the second half of the subjects by USUBJID (of the subjects form's rows whose site is a
    site of the study), found once before the fork (empty: fewer than two subjects). A subject_id of both halves
    (given twice, with two sites) stays in the first. join_halves checks the order the halves' DM have (the
    builders' USUBJID, not this one), so an error here cannot reorder rows."""
    meta = StudyMeta.from_definition(read_definition(find_definition(folder)))  # (first, as a whole read)
    table = read_form_table(folder, "subjects")
    if table is None or not {"subject_id", "site_id"} <= set(table.columns):
        return frozenset()
    sites = {str(s["siteid"]).upper(): s["siteid"] for s in meta.sites}
    site = per_distinct(lambda u: u.str.upper().map(sites).astype(object), table["site_id"])
    known = site.notna() & table["subject_id"].ne("")
    pairs = pd.DataFrame({SUBJECT: usubjid_of(meta.studyid, site[known], table["subject_id"][known]),
                          "subject_id": table["subject_id"][known]}).drop_duplicates()
    ranked = pairs.sort_values(SUBJECT, kind="stable")["subject_id"].tolist()
    cut = max(1, round(len(ranked) * (1 - OTHER_SHARE))) if len(ranked) > 1 else 0
    return frozenset(ranked[cut:]) - frozenset(ranked[:cut]) if cut else frozenset()


def preparse(folder: Path) -> dict[str, PreparsedFile]:
    """Each plain form file of `folder` read and parsed once, on every core (Arrow's threads), before the fork:
    each process then keeps its subjects' rows of the same parse (a 96 MB labs.csv: 0.17 s, where each process
    parsing it on its own core took 0.43 s). A file that is not plain (quotes, blank lines, ...) is read by each
    process as a whole read reads it, and so is one that cannot be read (its error is the read's)."""
    out = {}
    for spec in _forms().values():
        path = folder / spec["file"]
        try:
            raw = path.read_bytes() if path.is_file() else None
        except OSError:
            continue
        plain = parse_plain_file(raw, threads=True)[0] if raw else None
        if plain is not None:
            out[path.name] = PreparsedFile(raw, plain)
    return out


def built_half(folder: Path, second: frozenset[str], inside: bool,
               preparsed: dict[str, PreparsedFile] | None = None) -> Half:
    """The subjects `second` (`inside`; second_half_subjects) or the others read and built. `preparsed`
    (preparse) is emptied once the records are read."""
    records = read_records(folder, share=SubjectShare(second, inside), preparsed=preparsed)
    if preparsed:
        preparsed.clear()  # (read: the bytes and parses, ~130 MB at 1M lab rows, go before the build)
    study, report = build_study(records, settle=False)  # (settled once joined: join_halves)
    order = form_order({form: list(df.columns) for form, df in records.forms.items()})
    return Half(study.datasets, study.meta, report, study.text_origins, order, dict(records.files))


def _shipped_half(folder: Path, second: frozenset[str], preparsed: dict[str, PreparsedFile]) -> Half:
    """built_half of the second half, in the other process, its datasets as codes (halves_join.shipped)."""
    half = built_half(folder, second, inside=True, preparsed=preparsed)
    half.datasets = {name: shipped(df) for name, df in half.datasets.items()}
    return half


def join_halves(mine: Half, theirs: Half) -> tuple[Study, RejectReport] | None:
    """One study of the halves (None: their datasets cannot be joined, or the second half's subjects do not all
    sort after the first's: their rows joined would not be in a whole build's order)."""
    if not _in_order(mine.datasets.get("DM"), theirs.datasets.get("DM")):
        return None
    study_level = set(study_level_datasets(mine.meta, None))
    datasets: dict[str, pd.DataFrame] = {}
    for name in sorted(set(mine.datasets) | set(theirs.datasets)):
        if name in study_level:
            continue
        own, other = mine.datasets.get(name), theirs.datasets.get(name)
        if other is None or own is None:
            datasets[name] = own if other is None else other.frame()
            continue
        if SUBJECT not in own.columns or _has_leads(own) or _has_leads(other):
            joined_rows = _joined_plainly(own, other.frame())
            if joined_rows is None:
                return None
            datasets[name] = joined_rows
            continue
        try:
            datasets[name] = joined(own, other)
        except ValueError:
            return None
    about_study = Study(mine.meta, {n: df for n, df in study_level_datasets(mine.meta, datasets.get("EX"),
                                                                             datasets.get("DM")).items()
                                    if len(df.columns)})
    study = Study.of_conformed(mine.meta, {**datasets, **about_study.datasets})  # (the halves' conform already)
    origins: Origins = {}
    for half in (mine, theirs):
        merge_origins(origins, half.text_origins, half.order, half.files)
    study.text_origins = {value: where for value, (_, where) in origins.items()}
    report = mine.report
    merge_report(report, theirs.report, drop_repeats=True)
    report.settle_kept()
    settle_derivations(report)
    return study, report


def _in_order(own: pd.DataFrame | None, other: ShippedFrame | None) -> bool:
    """Whether every subject of the second half's DM sorts after every subject of the first's (every other
    dataset holds rows of DM's subjects only, and rows about the study, USUBJID "", which join_halves puts first)."""
    if own is None or other is None or not len(own) or not other.rows:
        return True
    part = other.parts[SUBJECT]
    theirs = part[1] if isinstance(part, tuple) else part.to_numpy(dtype=object)
    return max(column_codes(own[SUBJECT])[1]) < min(theirs)


def _has_leads(rows: pd.DataFrame | ShippedFrame) -> bool:
    """Whether a dataset has rows about the study, not a subject (USUBJID ""; RELREC's dataset-level ones)."""
    if isinstance(rows, ShippedFrame):
        part = rows.parts.get(SUBJECT)
        subjects = part[1] if isinstance(part, tuple) else part
    else:
        subjects = column_codes(rows[SUBJECT])[1] if SUBJECT in rows.columns else None  # (known: no pass)
    return subjects is not None and bool((pd.Series(subjects, dtype=object) == "").any())


def _joined_plainly(own: pd.DataFrame, other: pd.DataFrame) -> pd.DataFrame | None:
    """A small dataset with rows about the study: those once and first (each half built them alike, and "" sorts
    first), then each half's rows. A dataset without USUBJID must be the same in both halves (None: it is not)."""
    if SUBJECT not in own.columns:
        return own if own.equals(other) else None
    lead = pd.concat([own[own[SUBJECT].eq("")], other[other[SUBJECT].eq("")]], ignore_index=True)
    parts = [lead.drop_duplicates(ignore_index=True), own[own[SUBJECT].ne("")], other[other[SUBJECT].ne("")]]
    return pd.concat([p for p in parts if len(p)] or [own.iloc[:0]], ignore_index=True)
