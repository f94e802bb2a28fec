"""Time `synth` + `to-sdtm` on generated studies of 10k, 100k and 1M LB rows; report rows/s and peak memory.

Each size runs in its own process so peak RSS is that size's own. Usage:

    python benchmarks/bench_to_sdtm.py                 # 10k, 100k, 1M LB rows
    python benchmarks/bench_to_sdtm.py --rows 100000   # one size
    python benchmarks/bench_to_sdtm.py --formats xpt,json,csv --keep /tmp/bench

Stages: synth (write the study records), read (CSV -> checked records), build (records -> Study: DM, EX, AE, LB,
SUPPEX), one stage per output format, and define (Define-XML). rows/s is LB rows over the stage's time.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LAB_ROWS_PER_SUBJECT = 55  # 11 tests x 5 visits


def run_one(rows: int, formats: list[str], workdir: Path) -> dict:
    from msc_interop.records import read_records
    from msc_interop.sdtm.build import build_study
    from msc_interop.sdtm.define import write_define
    from msc_interop.sdtm.formats import write_study
    from msc_interop.synth import generate

    subjects = max(1, round(rows / LAB_ROWS_PER_SUBJECT))
    stages: dict[str, float] = {}
    t = time.perf_counter()
    generate(subjects, 1, "scale").write(workdir / "records")
    stages["synth"] = time.perf_counter() - t
    t = time.perf_counter()
    records = read_records(workdir / "records")
    stages["read"] = time.perf_counter() - t
    t = time.perf_counter()
    study, rejects = build_study(records)
    stages["build"] = time.perf_counter() - t
    for fmt in formats:
        t = time.perf_counter()
        write_study(study, workdir / "sdtm" / fmt, [fmt], created="2026-01-01T00:00:00")
        stages[f"write {fmt}"] = time.perf_counter() - t
    t = time.perf_counter()
    write_define(study, workdir / "sdtm" / "define.xml", created="2026-01-01T00:00:00")
    stages["define"] = time.perf_counter() - t
    return {
        "lb_rows": len(study["LB"]),
        "subjects": subjects,
        "rejected": len(rejects),
        "stages": stages,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, action="append", help="LB rows (repeatable); default 10k, 100k, 1M")
    ap.add_argument("--formats", default="xpt,json,csv")
    ap.add_argument("--keep", type=Path, help="keep generated files here instead of a temp folder")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    formats = args.formats.split(",")
    if args.child:
        workdir = args.keep or Path(tempfile.mkdtemp(prefix="msc-bench-"))
        print(json.dumps(run_one(args.rows[0], formats, workdir)))
        return
    sizes = args.rows or [10_000, 100_000, 1_000_000]
    print(f"{'LB rows':>10} {'stage':<12} {'seconds':>8} {'LB rows/s':>12}")
    results = []
    for rows in sizes:
        with tempfile.TemporaryDirectory(prefix="msc-bench-") as tmp:
            cmd = [sys.executable, __file__, "--child", "--rows", str(rows), "--formats", args.formats,
                   "--keep", str(args.keep / str(rows) if args.keep else tmp)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        results.append(r)
        total = 0.0
        for stage, secs in r["stages"].items():
            total += secs
            print(f"{r['lb_rows']:>10,} {stage:<12} {secs:>8.2f} {r['lb_rows'] / secs:>12,.0f}")
        print(f"{r['lb_rows']:>10,} {'TOTAL':<12} {total:>8.2f} {r['lb_rows'] / total:>12,.0f}"
              f"   peak RSS {r['peak_rss_mb']:,.0f} MB, rejected {r['rejected']}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
