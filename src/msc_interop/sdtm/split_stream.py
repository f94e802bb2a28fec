"""The XPT files of a partitioned run (sdtm/partitioned.py) split by --max-file-size as a whole run splits them.

A whole run holds the study and splits it by row positions (sdtm/split.py `split_study`); a partitioned run
holds only each dataset's proxy, so the split is decided from what is known before writing, by the same
`plan_split`: the storage widths (from the proxy: every distinct value shape), the rows, and the rows of each
--CAT value (counted as the rows were spilled: sdtm/spill.py). Then each split dataset is read once, a
partition at a time, each partition's rows going to the file of their category (LBCH, LBHE, ... open side by
side), in dataset order. SUPP-- of a split domain follows its parent records (USUBJID + --SEQ): a subject's
records are all in one partition, so each SUPP-- partition is matched with its parent's partition alone.
Pieces, notes and define.xml are those of a whole run (tests/sdtm/test_split_stream.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from msc_interop.sdtm import xpt
from msc_interop.sdtm.formats import dataset_file_name, layout
from msc_interop.sdtm.partitioned import PartitionedStudy
from msc_interop.sdtm.split import (
    Piece,
    Split,
    category_column,
    category_values,
    frame_widths,
    lost_note,
    oversize_supp_notes,
    parent_label_of,
    piece_labels,
    piece_layout,
    plan_split,
    supp_piece_label,
    supp_targets,
    xpt_size,
)


@dataclass
class StreamSplit:
    """The split of a partitioned study: `split` as write_define takes it (its study: the proxy study, whole),
    and the piece of each SUPP-- record by partition (index into the parent's pieces)."""

    split: Split
    supp_targets: dict[str, dict[int, np.ndarray]] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)  # records of each piece written (LBCH, SUPPLBCH, ...)

    def files(self, name: str) -> list[str]:
        """The XPT datasets written for dataset `name`: itself, or its pieces (SUPP--: those with records)."""
        if name in self.split.pieces:
            return [p.name for p in self.split.pieces[name]]
        parent = name[4:] if name.startswith("SUPP") else None
        if parent in self.split.pieces and name in self.supp_targets:
            return [f"SUPP{p.name}" for p in self.split.pieces[parent] if f"SUPP{p.name}" in self.split.supp_labels]
        return [name]


def plan(ps: PartitionedStudy, limit: int, encoding_of: Callable[[str], str]) -> StreamSplit:
    """What split_study decides for the whole study, decided from the proxies, the row counts and the --CAT
    counts (one pass over a split domain's partitions when it has a SUPP--)."""
    proxy = ps.proxy_study()
    pieces: dict[str, list[Piece]] = {}
    notes: list[str] = []
    targets: dict[str, dict[int, np.ndarray]] = {}
    supp_sizes: dict[str, int] = {}
    supp_labels: dict[str, str] = {}
    rows: dict[str, int] = {}
    for name in proxy.names:
        if name.startswith("SUPP"):
            continue
        shape = proxy[name]
        lay = layout(proxy.meta, name)
        widths = frame_widths(shape, lay, encoding_of(name))
        own, said = plan_split(name, [str(c) for c in shape.columns], _rows(ps, name), widths, limit,
                               parent_label_of(name, lay), lambda name=name: _counts(ps, name))
        notes += said
        if not own:
            continue
        pieces[name] = own
        rows.update({p.name: p.rows for p in own})
        supp = f"SUPP{name}"
        if supp in proxy:
            targets[supp], lost, first = _supp_targets(ps, name, supp, own)
            if lost:
                notes.append(lost_note(supp, own, lost, first))
            supp_widths = frame_widths(proxy[supp], layout(proxy.meta, supp), encoding_of(supp))
            for i, p in enumerate(own):
                n = sum(int((t == i).sum()) for t in targets[supp].values())
                if n:
                    rows[f"SUPP{p.name}"] = n
                    supp_sizes[f"SUPP{p.name}"] = xpt_size(n, supp_widths)
                    supp_labels[f"SUPP{p.name}"] = supp_piece_label(p)
    for name in proxy.names:
        if name.startswith("SUPP") and name not in targets:
            supp_sizes[name] = xpt_size(_rows(ps, name), frame_widths(proxy[name], layout(proxy.meta, name),
                                                                      encoding_of(name)))
    notes += oversize_supp_notes(supp_sizes, limit)
    return StreamSplit(Split(proxy, pieces, notes, supp_labels), targets, rows)


def _rows(ps: PartitionedStudy, name: str) -> int:
    return len(ps.spilled[name]) if name in ps.spilled else len(ps.held[name])


def _counts(ps: PartitionedStudy, name: str) -> dict[str, int]:
    if name in ps.spilled:
        return dict(ps.spilled[name].categories)
    df = ps.held[name]
    return category_values(df, category_column(name)).value_counts().to_dict()


def _partitions(ps: PartitionedStudy, name: str) -> Iterator[tuple[int, int, pd.DataFrame]]:
    """(partition, its first row in the whole dataset, its rows) in dataset order; a dataset not cut by
    subject is one partition."""
    if name not in ps.ranges:
        yield 0, 0, ps.held[name]
        return
    for i in range(ps.partitions):
        got = _partition(ps, name, i)
        if got is not None:
            yield i, *got


def _partition(ps: PartitionedStudy, name: str, i: int) -> tuple[int, pd.DataFrame] | None:
    """Partition `i`'s rows of a dataset cut by subject and its first row in the whole (None: no rows)."""
    got = ps.ranges[name].get(i)
    if got is None:
        return None
    a, b = got
    df = ps.spilled[name].partition(i) if name in ps.spilled else ps.held[name].iloc[a:b]
    return (a, df) if df is not None and len(df) else None


def _supp_targets(ps: PartitionedStudy, parent: str, supp: str, own: list[Piece]
                  ) -> tuple[dict[int, np.ndarray], int, list[int]]:
    """The piece of each SUPP-- record by partition (lost ones: with the first piece), how many qualify no
    parent record, and the first five of those (rows of the whole SUPP--)."""
    empty = ps.proxy_study()[parent].iloc[:0]
    cat = category_column(parent)
    out: dict[int, np.ndarray] = {}
    lost, first = 0, []
    for i, start, df in _partitions(ps, supp):
        got = _partition(ps, parent, i) if parent in ps.ranges else (0, ps.held[parent])
        rows = got[1] if got is not None else empty
        target = supp_targets(rows, category_values(rows, cat), own, df)
        gone = np.flatnonzero(target < 0)
        lost += len(gone)
        first += (gone[:5 - len(first)] + start).tolist() if len(first) < 5 else []
        target[gone] = 0
        out[i] = target
    return out, lost, first


def write_split_xpt(ps: PartitionedStudy, stream: StreamSplit, name: str, folder: Path,
                    atomic: Callable[[Path], Path], stamp: str, encoding: str) -> list[Path]:
    """Write the pieces of split dataset `name` (or of its SUPP--) in one pass over its partitions; `atomic`
    gives the temporary path of a target (renamed when the whole output is written). Returns the targets."""
    proxy = ps.proxy_study()
    shape = proxy[name]
    lay = layout(proxy.meta, name)
    widths = frame_widths(shape, lay, encoding)
    labels = piece_labels(name, [str(c) for c in shape.columns], lay)
    if name in stream.split.pieces:
        own = stream.split.pieces[name]
        names, titles = [p.name for p in own], [p.label for p in own]
        cat = category_column(name)
        route = _by_category(own, cat)
        frames: Iterable[tuple[int, pd.DataFrame]] = ((i, df) for i, _, df in _partitions(ps, name))
    else:
        own = stream.split.pieces[name[4:]]
        names = [f"SUPP{p.name}" for p in own]
        titles = [supp_piece_label(p) for p in own]
        targets = stream.supp_targets[name]
        route = lambda i, df: [(df.iloc[np.flatnonzero(targets[i] == j)], j) for j in range(len(own))]  # noqa: E731
        frames = ((i, df) for i, _, df in _partitions(ps, name))
    kept = [j for j, n in enumerate(names) if n in stream.files(name)]
    targets_written = [folder / dataset_file_name(names[j], "xpt") for j in kept]
    with contextlib.ExitStack() as stack:
        writers = {}
        for j, target in zip(kept, targets_written, strict=True):
            piece = piece_layout(lay, shape, labels, widths, titles[j], encoding)
            writers[j] = stack.enter_context(xpt.frames_writer(
                shape, names[j], atomic(target), labels=piece.labels, label=piece.label, created=stamp,
                encoding=encoding, lengths=piece.lengths))
        for i, df in frames:
            for part, j in route(i, df):
                if len(part):
                    writers[j](part)
    return targets_written


def _by_category(own: list[Piece], cat: str) -> Callable[[int, pd.DataFrame], list[tuple[pd.DataFrame, int]]]:
    def route(_: int, df: pd.DataFrame) -> list[tuple[pd.DataFrame, int]]:
        values = category_values(df, cat).to_numpy()
        return [(df.iloc[np.flatnonzero(values == p.category)], j) for j, p in enumerate(own)]
    return route
