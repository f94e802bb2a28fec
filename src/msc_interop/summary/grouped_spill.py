"""Records grouped by a key in a temporary file: written a range of rows at a time, read back one key at a time.

Why: the lab and vital-sign tables are computed one parameter at a time, but the records arrive in file order
(every parameter in every range). Holding all of them as numbers still grows with the rows (10M LB records are
~400 MB of numbers); spilled, the summary holds one parameter's records at a time. The file is the system's
temporary directory ($TMPDIR), deleted when closed (or when the process ends).

A key's records come back in the order they were added (ranges in order, rows in order within a range).
"""

from __future__ import annotations

import tempfile
from types import TracebackType

import numpy as np

__all__ = ["GroupedSpill"]


class GroupedSpill:
    """Structured records of dtype `dtype` by integer key, in a temporary file."""

    def __init__(self, dtype: np.dtype) -> None:
        self.dtype = np.dtype(dtype)
        self._file = tempfile.TemporaryFile(prefix="msc-interop-spill-")  # noqa: SIM115 (closed by close())
        self._end = 0
        self._blocks: dict[int, list[tuple[int, int]]] = {}  # key -> (byte offset, records) of each block

    def add(self, keys: np.ndarray, records: np.ndarray) -> None:
        """Append `records` (of `dtype`), each under its key in `keys`."""
        if not len(records):
            return
        order = np.argsort(keys, kind="stable")
        ordered = np.ascontiguousarray(records[order])
        uniq, start = np.unique(np.asarray(keys)[order], return_index=True)
        stop = np.append(start[1:], len(ordered))
        self._file.seek(self._end)
        self._file.write(ordered.tobytes())
        size = self.dtype.itemsize
        for k, a, b in zip(uniq.tolist(), start.tolist(), stop.tolist(), strict=True):
            self._blocks.setdefault(int(k), []).append((self._end + a * size, b - a))
        self._end += ordered.nbytes

    def stored_keys(self) -> list[int]:
        return sorted(self._blocks)

    def count(self, key: int) -> int:
        return sum(n for _, n in self._blocks.get(int(key), ()))

    def get(self, key: int) -> np.ndarray:
        """The records of `key`, in the order they were added (none: an empty array)."""
        return self._read(self._blocks.get(int(key), []))

    def _read(self, blocks: list[tuple[int, int]]) -> np.ndarray:
        out = np.empty(sum(n for _, n in blocks), dtype=self.dtype)
        view = memoryview(out.view(np.uint8))
        size, at = self.dtype.itemsize, 0
        for offset, n in blocks:
            self._file.seek(offset)
            stop = at + n * size
            while at < stop:  # a read may return less than asked
                got = self._file.readinto(view[at:stop])
                if not got:
                    raise OSError(f"spill file ended at byte {offset}, {stop - at} bytes short")
                at += got
        return out

    def get_fields(self, key: int) -> dict[str, np.ndarray]:
        """The records of `key` as one contiguous array per field (as get(key)[name].copy() each), read a block at
        a time: never the records and their fields in memory together."""
        blocks = self._blocks.get(int(key), [])
        n = sum(k for _, k in blocks)
        out = {name: np.empty(n, dtype=self.dtype.fields[name][0]) for name in self.dtype.names or ()}
        at = 0
        for block in blocks:
            rec = self._read([block])
            for name, column in out.items():
                column[at:at + len(rec)] = rec[name]
            at += len(rec)
        return out

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> GroupedSpill:
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
