"""Cut a records folder into subject partitions on disk, so a study too big to hold is read a range at a time.

Each partition is a records folder of its own (the study definition, and every form's CSV with only the rows
of its subjects) plus, per form, the line each row had in the original file (`<file>.lines`, int64), so the
reader names the original line in every reject. Subjects are ranged in sorted USUBJID order (USUBJID is built
from the subjects form once, a small read), so the datasets of the partitions, in order, are the whole datasets
in order (every builder sorts by USUBJID first). A row whose subject has no USUBJID (unknown, or its subject row
rejected) goes to the first partition, where the reader rejects it with the same reason as in a whole read.

The files are read a block at a time (bounded memory whatever their size) and their rows routed by subject
with vectorised byte gathers. A file this cannot cut exactly (a value spanning lines, lone \\r line ends, a row
pandas cannot parse) is `NotSplittable`: the caller reads the study whole, where the reader reports it.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from msc_interop.errors import InputError
from msc_interop.records.csv_text import _Lines

BLOCK_BYTES = 4 << 20  # bytes read at a time: the split's own memory stays a few tens of MB
LINES_SUFFIX = ".lines"


class NotSplittable(Exception):
    """The folder cannot be cut exactly; the message says why (read it whole instead)."""


@dataclass
class Partitions:
    """The partition folders in order, and how many rows of each form each received."""

    folders: list[Path]
    rows: dict[str, list[int]]


def line_maps(folder: Path) -> dict[str, np.ndarray]:
    """The original line of each row of each form file in a partition folder (file name -> lines)."""
    return {p.name.removesuffix(LINES_SUFFIX): np.fromfile(p, dtype=np.int64)
            for p in folder.glob(f"*{LINES_SUFFIX}")}


def split_folder(folder: Path, scratch: Path, files: Mapping[str, str], definition: Path,
                 partition_of: Mapping[str, int], n_partitions: int) -> Partitions:
    """Write `n_partitions` records folders under `scratch`: the definition file and each form file of
    `files` (form -> file name) holding the rows whose stripped subject_id maps to that partition."""
    folders = [scratch / f"p{i:05d}" for i in range(n_partitions)]
    for f in folders:
        f.mkdir(parents=True)
        shutil.copyfile(definition, f / definition.name)
    rows = {form: _split_file(folder / name, folders, partition_of) for form, name in files.items()}
    return Partitions(folders, rows)


def _split_file(path: Path, folders: list[Path], partition_of: Mapping[str, int]) -> list[int]:
    name = path.name
    counts = [0] * len(folders)
    with open(path, "rb") as fh:
        header = fh.readline()
        if header.startswith(b"\xef\xbb\xbf"):
            header = header[3:]
        if not header.endswith(b"\n"):
            header += b"\n"
        if b"\r" in header.rstrip(b"\r\n") or (header.endswith(b"\r") and not header.endswith(b"\r\n")):
            raise NotSplittable(f"{name}: lone carriage returns as line ends")
        subject_col = _subject_column(header, name)
        for f in folders:
            (f / name).write_bytes(header)
            (f / (name + LINES_SUFFIX)).write_bytes(b"")
        line = 2  # the first line after the header
        carry = b""
        while True:
            block = fh.read(BLOCK_BYTES)
            data = carry + block
            if not block:
                if data.strip():
                    _route(data if data.endswith(b"\n") else data + b"\n", line, header, subject_col, name,
                           folders, partition_of, counts)
                break
            cut = data.rfind(b"\n")
            if cut < 0:
                carry = data
                continue
            part, carry = data[:cut + 1], data[cut + 1:]
            _route(part, line, header, subject_col, name, folders, partition_of, counts)
            line += part.count(b"\n")
    return counts


def _subject_column(header: bytes, name: str) -> int:
    from msc_interop.records.reader import _normalize_header

    try:
        names = pd.read_csv(io.BytesIO(header), dtype=str, nrows=0).columns
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise NotSplittable(f"{name}: header row not parsed ({exc})") from None
    normalized = _normalize_header(list(names))
    if "subject_id" not in normalized:
        raise NotSplittable(f"{name}: no subject_id column")
    return normalized.index("subject_id")


def _route(part: bytes, first_line: int, header: bytes, subject_col: int, name: str, folders: list[Path],
           partition_of: Mapping[str, int], counts: list[int]) -> None:
    """Append each non-blank line of `part` (whole lines; its first is line `first_line` of the file) to its
    subject's partition file, and its original line number to the partition's line map."""
    if b"\r" in part.replace(b"\r\n", b""):
        raise NotSplittable(f"{name}: lone carriage returns as line ends")
    try:
        part.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = first_line + part[:exc.start].count(b"\n")
        raise InputError(f"{name}: not UTF-8 text (line {line}, byte 0x{part[exc.start]:02x}); save the file as "
                         "UTF-8 (Excel: 'CSV UTF-8 (Comma delimited)')") from None
    lines = _Lines(part)
    nonblank = lines.nonblank - 1  # 0-based line index within the part
    if not len(nonblank):
        return
    try:
        parsed = pd.read_csv(io.BytesIO(header + part), dtype=str, keep_default_na=False, na_filter=False,
                             usecols=[subject_col])
    except (pd.errors.ParserError, ValueError) as exc:
        raise NotSplittable(f"{name} near line {first_line}: {exc}") from None
    if len(parsed) != len(nonblank):
        last = first_line + part.rstrip(b"\n").count(b"\n")
        raise NotSplittable(f"{name}, somewhere in lines {first_line}-{last}: a quoted value spans lines")
    subjects = parsed.iloc[:, 0].str.strip()
    target = subjects.map(partition_of).fillna(0).to_numpy(dtype=np.int64)
    original = (first_line + nonblank).astype(np.int64)
    starts = lines.starts[nonblank]
    stops = lines.starts[nonblank + 1]  # the next line's start: the line with its line end
    raw = np.frombuffer(part, dtype=np.uint8)
    for p in np.unique(target).tolist():
        sel = np.flatnonzero(target == p)
        with open(folders[p] / name, "ab") as out:
            out.write(_gather(raw, starts[sel], stops[sel]))
        with open(folders[p] / (name + LINES_SUFFIX), "ab") as out:
            out.write(original[sel].tobytes())
        counts[p] += len(sel)


def _gather(raw: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> bytes:
    """The byte ranges [starts[i], stops[i]) of `raw`, one after another (vectorised: no loop over lines)."""
    lengths = stops - starts
    total = int(lengths.sum())
    if len(starts) and total == int(stops[-1] - starts[0]):  # consecutive lines: one slice
        return raw[starts[0]:stops[-1]].tobytes()
    shift = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
    return raw[shift + np.arange(total)].tobytes()
