"""NDJSON cut into partitions for workers: whole files, and byte ranges of large ones cut where a line starts.

A partition is read line by line from its start offset to its end; the line numbers it reports are the file's
(1-based), from `first_line`, which the caller sets from the newlines counted in the partitions before it
(`count_newlines`, run on the workers: the driver reads no more than a line per cut).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

MIN_DEFAULT = 1 << 20  # a default partition is at least 1 MiB: below that, a task costs more than its work
PER_THREAD = 4  # default size: so that each worker thread gets about this many partitions
_BLOCK = 1 << 23


@dataclass(frozen=True)
class Partition:
    """Bytes [start, end) of file number `number` (`name`), starting at line `first_line` of the file."""

    number: int
    name: str
    start: int
    end: int
    first_line: int = 1


def default_size(total_bytes: int, threads: int) -> int:
    """Bytes per partition so that each of `threads` worker threads gets ~PER_THREAD of them."""
    return max(MIN_DEFAULT, -(-total_bytes // (max(1, threads) * PER_THREAD)))


def cut(number: int, name: str, size: int) -> list[Partition]:
    """File `name` in ranges of about `size` bytes, each ending just after a newline (a line longer than that
    makes its range longer). Raises OSError when the file cannot be read."""
    total = os.path.getsize(name)
    starts = [0]
    with open(name, "rb") as fh:
        while starts[-1] + size < total:
            fh.seek(starts[-1] + size - 1)
            fh.readline()  # to the end of the line that holds byte start + size - 1
            nxt = fh.tell()
            if nxt >= total:
                break
            starts.append(nxt)
    ends = [*starts[1:], total]
    return [Partition(number, name, s, e) for s, e in zip(starts, ends, strict=True) if e > s] or \
        [Partition(number, name, 0, 0)]


def count_newlines(part: Partition) -> int:
    """The newlines in the partition's bytes."""
    n = 0
    with open(part.name, "rb") as fh:
        fh.seek(part.start)
        left = part.end - part.start
        while left > 0:
            block = fh.read(min(_BLOCK, left))
            if not block:
                break
            n += block.count(b"\n")
            left -= len(block)
    return n


def numbered_lines(fh: BinaryIO, part: Partition) -> Iterator[tuple[int, bytes]]:
    """(line number in the file, line) of the partition, read from the open file `fh`."""
    fh.seek(part.start)
    at, line_no = part.start, part.first_line
    if at >= part.end:
        return
    for line in fh:
        yield line_no, line
        line_no += 1
        at += len(line)
        if at >= part.end:
            return
