"""Writing a new file in big write calls against 64 KiB calls (why atomic.PacedFileIO exists), in one process.

The same bytes (`--mb` MB of random data, from one 4 MB buffer) are written to a new file in each round, once in
4 MB calls and once in calls of atomic.WRITE_PIECE bytes, which goes first alternating by round. Every file is
kept until the end: a file removed frees its pages, and the next file written reuses them, whichever way. On
Linux 6.x ext4 caches a file written in big calls in large folios; on a VM whose memory the host backs on first
touch, a large folio's memory is often never touched before, and slow. Prints seconds per round and the ratio
big/small per round.

    python benchmarks/page_cache_writes.py --mb 270 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from msc_interop.atomic import WRITE_PIECE

BUFFER = 4 << 20


def write_file(path: Path, blob: memoryview, total: int, piece: int) -> float:
    """Seconds to write `total` bytes of `blob` (repeated) to a new file, `piece` bytes a write call."""
    t = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        written = 0
        while written < total:
            for a in range(0, len(blob), piece):
                written += os.write(fd, blob[a:a + piece])
    finally:
        os.close(fd)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=int, default=270, help="megabytes a file")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", type=Path, help="folder for the files (default: a temp folder)")
    args = ap.parse_args()
    folder = args.dir or Path(tempfile.mkdtemp(prefix="msc-pagecache-"))
    blob = memoryview(os.urandom(BUFFER))
    total = args.mb << 20
    paths = []
    try:
        for r in range(args.rounds):
            times = {}
            ways = [("4 MB calls", BUFFER), (f"{WRITE_PIECE >> 10} KiB calls", WRITE_PIECE)]
            for label, piece in ways if r % 2 == 0 else ways[::-1]:
                paths.append(folder / f"round{r}_{piece}.bin")
                times[label] = write_file(paths[-1], blob, total, piece)
            big, small = times[ways[0][0]], times[ways[1][0]]
            print(f"round {r + 1}: " + ", ".join(f"{k} {v:.3f} s" for k, v in times.items())
                  + f"; big / small {big / small:.1f}x", flush=True)
    finally:
        for path in paths:
            path.unlink(missing_ok=True)

if __name__ == "__main__":
    main()
