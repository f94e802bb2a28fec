"""Where to-sdtm's cores go: wall time, CPU time of this process and of its forked children, and the core-seconds
left idle, with the records load on two processes and with it in one (sdtm/load_in_two.py), alternating in one
process.

Why: on two cores a run can take no less than its CPU time over two. This script says how far a run is from that
bound (the idle core-seconds: 2 x wall - CPU) and what the two-process load costs in CPU over the one-process
load, so that a change can be judged as doing less work or as using idle time.

    python benchmarks/bench_to_sdtm_cpu.py --records /path/to/records --rounds 3 [--format json]

The first round of each way is a warm-up (imports, mapping files) and not reported. Children's CPU comes from
RUSAGE_CHILDREN (the two-process load's other process and the fork that writes the files: both are waited for).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

CREATED = "2026-01-01T00:00:00"


def one_run(records: Path, out: Path, fmt: str, split: bool) -> dict[str, float]:
    """Wall and CPU seconds of one api.to_sdtm of `records`, its load split in two processes or not."""
    from msc_interop import api
    from msc_interop.sdtm import load_in_two

    keep, free = load_in_two.SPLIT_BYTES, load_in_two.core_free
    load_in_two.SPLIT_BYTES = 0 if split else 1 << 62
    load_in_two.core_free = lambda *a, **k: True  # (split as asked: run this on a quiet machine)
    shutil.rmtree(out, ignore_errors=True)
    try:
        own0, kids0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        api.to_sdtm(records, out, formats=[fmt], created=CREATED)
        wall = time.perf_counter() - t
        own1, kids1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        load_in_two.SPLIT_BYTES, load_in_two.core_free = keep, free
    own = own1.ru_utime - own0.ru_utime + own1.ru_stime - own0.ru_stime
    kids = kids1.ru_utime - kids0.ru_utime + kids1.ru_stime - kids0.ru_stime
    return {"wall": wall, "this process": own, "children": kids, "cpu": own + kids, "idle": 2 * wall - own - kids,
            "system": own1.ru_stime - own0.ru_stime + kids1.ru_stime - kids0.ru_stime}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=Path, required=True, help="a records folder (study.yaml + CSV files)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds after the warm-up")
    ap.add_argument("--format", default="json", choices=("json", "xpt", "csv"))
    args = ap.parse_args()

    from msc_interop.forked import can_fork
    from msc_interop.runtime import small_pages

    small_pages()  # as every CLI command runs
    if not can_fork():
        raise SystemExit("the split load needs fork and two cores (forked.can_fork)")
    out = Path(tempfile.mkdtemp(prefix="msc-bench-cpu-"))
    seen: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    try:
        for r in range(args.rounds + 1):
            for split in (True, False):
                figures = one_run(args.records, out / "sdtm", args.format, split)
                if r:
                    seen[split].append(figures)
                print(f"{'warm-up' if not r else f'round {r}'} load {'in two' if split else 'in one'}: "
                      + ", ".join(f"{k} {v:.2f}" for k, v in figures.items()), flush=True)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    for split, runs in seen.items():
        med = {k: statistics.median(run[k] for run in runs) for k in runs[0]}
        print(f"median, load {'in two' if split else 'in one'}: " + ", ".join(f"{k} {v:.2f}" for k, v in med.items())
              + f"; bound (CPU / 2) {med['cpu'] / 2:.2f} s")


if __name__ == "__main__":
    main()
