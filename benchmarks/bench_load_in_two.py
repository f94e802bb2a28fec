"""The records load on two cores (sdtm/load_in_two.py) against the one-process load, in one process, alternating.

Each round loads the folder as to-sdtm does (shared_columns, gc_frozen, api._load_decoded) twice: split in two
processes, then whole in this one; the figures are each round's ratio two / one (this machine is shared and its
speed drifts, so only ratios within a round are compared), and the two studies are checked equal (every dataset,
dtypes included; the reject reports). Then, once, where the split load's time goes (the stages of each process).

    python benchmarks/bench_load_in_two.py --records /path/to/records --rounds 3
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import statistics
import time
from pathlib import Path


def load(records: Path, split: bool) -> tuple[float, object, object]:
    """(seconds, study, rejects) of one load, split in two processes or not."""
    from msc_interop import api
    from msc_interop.distinct import shared_columns
    from msc_interop.runtime import gc_frozen
    from msc_interop.sdtm import load_in_two

    keep, free = load_in_two.SPLIT_BYTES, load_in_two.core_free
    load_in_two.SPLIT_BYTES = 0 if split else 1 << 62
    load_in_two.core_free = lambda: True  # (split as asked, whatever else runs: run this on a quiet machine)
    try:
        with shared_columns(), gc_frozen():
            t = time.perf_counter()
            study, rejects = api._load_decoded(records, None, None)
            return time.perf_counter() - t, study, rejects
    finally:
        load_in_two.SPLIT_BYTES, load_in_two.core_free = keep, free


def same_study(a, b) -> bool:
    return (a.names == b.names and all(a[n].dtypes.equals(b[n].dtypes) and a[n].equals(b[n]) for n in a.names)
            and a.text_origins == b.text_origins)


def stages(records: Path) -> None:
    """Each stage of a split load, in each process (pid), from the load's start."""
    from msc_interop.sdtm import load_in_two

    start = time.perf_counter()
    names = ("second_half_subjects", "built_half", "_shipped_half", "join_halves")
    saved = {n: getattr(load_in_two, n) for n in names}

    def timed(name, fn):
        @functools.wraps(fn)
        def run(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                print(f"  [{os.getpid()}] {name:21s} {t - start:5.2f} -> {time.perf_counter() - start:5.2f} s",
                      flush=True)
        return run

    for n in names:
        setattr(load_in_two, n, timed(n, saved[n]))
    try:
        start = time.perf_counter()
        took, _study, _rejects = load(records, split=True)
        print(f"  load {took:.2f} s")
    finally:
        for n in names:
            setattr(load_in_two, n, saved[n])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=Path, required=True, help="a records folder (study.yaml + CSV files)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    import pandas as pd

    from msc_interop.forked import can_fork
    from msc_interop.runtime import small_pages, trim_freed_memory

    pd.set_option("mode.string_storage", "python")
    small_pages()
    if not can_fork():
        raise SystemExit("the split load needs fork and two cores (forked.can_fork)")
    ratios = []
    for r in range(args.rounds):
        two, study_two, rejects_two = load(args.records, split=True)
        one, study_one, rejects_one = load(args.records, split=False)
        same = same_study(study_two, study_one) and sorted(rejects_two.rejects) == sorted(rejects_one.rejects)
        ratios.append(two / one)
        print(f"round {r + 1}: two processes {two:.2f} s, one {one:.2f} s, ratio {two / one:.2f}; same study: {same}",
              flush=True)
        del study_two, study_one, rejects_two, rejects_one
        gc.collect()
        trim_freed_memory()
    print(f"median ratio {statistics.median(ratios):.2f}")
    print("stages of a split load:")
    stages(args.records)


if __name__ == "__main__":
    main()
