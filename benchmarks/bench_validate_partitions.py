"""Time and memory of the SDTM rules over subject partitions (validate_partitions) against the whole study
(validate_study), on a generated study of about N LB rows held in memory (issue 18).

Each order runs in its own process (the study is built there: synth records + build_study, not measured):
`whole-first` runs validate_study then validate_partitions, `parts-first` the reverse. Before each run the
freed heap is returned to the system (malloc_trim) and the peak (VmHWM) is reset, so that a run's peak over
the resident size just before it is the rule run's own memory on top of the held study. The partitions
(`--lb-per-part` LB rows, i.e. that many rows / 55 subjects) are built lazily one at a time by partition_study,
twice (the facts pass, then the rules); "cutting only" is those two passes over partition_study with no rule (the
partitions' own cost, a reader's stand-in). The findings of both must be identical (every field, in order).

    python benchmarks/bench_validate_partitions.py                       # 1M LB rows, partitions of 50k
    python benchmarks/bench_validate_partitions.py --rows 100000 --lb-per-part 10000
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from proc_memory import reset_peak, status_mb

LAB_ROWS_PER_SUBJECT = 55  # 11 tests x 5 visits (bench_validate.py)


def _trim() -> None:
    gc.collect()
    with contextlib.suppress(OSError):  # glibc: give the freed heap back, so that RSS is what is held
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _measure(fn) -> tuple[object, dict]:
    _trim()
    before = status_mb("VmRSS")
    reset_peak()
    t = time.perf_counter()
    out = fn()
    took = time.perf_counter() - t
    peak = status_mb("VmHWM")
    return out, {"seconds": took, "rss_before_mb": before, "peak_mb": peak, "own_mb": peak - before}


def run(rows: int, lb_per_part: int, order: str, workdir: Path) -> dict:
    from msc_interop.partition import partition_study
    from msc_interop.records import read_records
    from msc_interop.sdtm.build import build_study
    from msc_interop.synth import generate
    from msc_interop.validate import validate_study
    from msc_interop.validate.partitioned import validate_partitions

    subjects = max(1, round(rows / LAB_ROWS_PER_SUBJECT))
    generate(subjects, 1, "scale").write(workdir / "records")
    study, _ = build_study(read_records(workdir / "records"))
    per_part = max(1, round(lb_per_part / LAB_ROWS_PER_SUBJECT))
    runs = {"whole": lambda: validate_study(study).findings,
            "partitions": lambda: validate_partitions(lambda: partition_study(study, per_part)).findings,
            # what the partitions cost without any rule: partition_study iterated twice (the two passes)
            "cutting only": lambda: [len(p.rows) for _ in range(2) for p in partition_study(study, per_part)]}
    names = ["whole", "partitions"] if order == "whole-first" else ["partitions", "whole"]
    names.append("cutting only")
    found, measured = {}, {}
    for name in names:
        found[name], measured[name] = _measure(runs[name])
    parts = list(partition_study(study, per_part))
    lb_sizes = [len(p.study["LB"]) for p in parts]
    del parts
    same = [tuple(f.as_dict().values()) for f in found["whole"]] == \
        [tuple(f.as_dict().values()) for f in found["partitions"]]
    return {"order": order, "lb_rows": len(study["LB"]), "subjects": subjects, "subjects_per_partition": per_part,
            "partitions": len(lb_sizes), "lb_rows_per_partition": [min(lb_sizes), max(lb_sizes)],
            "findings": len(found["whole"]), "identical": same, "measured": measured,
            "time_ratio": measured["partitions"]["seconds"] / measured["whole"]["seconds"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000, help="LB rows of the generated study (default 1M)")
    ap.add_argument("--lb-per-part", type=int, default=50_000, help="LB rows per partition (default 50k)")
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # internal: one order in this process
    args = ap.parse_args()
    if args.one:
        with tempfile.TemporaryDirectory(prefix="pval_bench_") as tmp:
            print(json.dumps(run(args.rows, args.lb_per_part, args.one, Path(tmp))))
        return
    results = []
    for order in ("whole-first", "parts-first"):
        cmd = [sys.executable, __file__, "--one", order, "--rows", str(args.rows), "--lb-per-part",
               str(args.lb_per_part)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        results.append(r)
        print(f"{order}: {r['lb_rows']:,} LB rows, {r['subjects']:,} subjects; {r['partitions']} partitions of "
              f"{r['subjects_per_partition']} subjects ({r['lb_rows_per_partition'][0]:,}-"
              f"{r['lb_rows_per_partition'][1]:,} LB rows); {r['findings']:,} findings, identical: {r['identical']}")
        for name, m in r["measured"].items():
            print(f"    {name:<12} {m['seconds']:7.1f} s   peak {m['peak_mb']:7,.0f} MB over "
                  f"{m['rss_before_mb']:7,.0f} MB held: {m['own_mb']:6,.0f} MB of its own")
        print(f"    time partitions / whole: {r['time_ratio']:.2f}x")
    if args.json:
        args.json.write_text(json.dumps({"rows": args.rows, "lb_per_part": args.lb_per_part, "runs": results},
                                        indent=1) + "\n")


if __name__ == "__main__":
    main()
