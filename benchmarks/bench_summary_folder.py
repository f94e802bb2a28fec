"""`msc-interop summary` of SDTM folders in fresh processes: wall and CPU time, peak RSS (VmHWM), and whether its
CSV tables equal those of another run (issue 18: summary of 10M LB rows under 2 GB).

For each folder: the summary as the command runs it (files over the hold size read a range of rows at a time),
and with `--whole` also with every file read whole (MSC_INTEROP_SUMMARY_HOLD_MB very large: what summary did
before), alternating; the CSV tables of the two runs are compared file by file. The growth of the peak between the
first and the last folder is printed (10x the rows: the issue asks < 2x for the streaming commands).

    flock /tmp/msc-bench.lock python benchmarks/bench_summary_folder.py /data/s1/xpt /data/s10/xpt --whole-max 1
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from proc_memory import wait_with_peak_kb

HERE = Path(__file__).resolve().parent


def run(folder: Path, out: Path, whole: bool) -> dict[str, object]:
    env = dict(os.environ)
    if whole:
        env["MSC_INTEROP_SUMMARY_HOLD_MB"] = str(1 << 30)
    cmd = [sys.executable, "-m", "msc_interop.cli", "summary", str(folder), "-o", str(out), "--format", "csv,ard"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak_kb = wait_with_peak_kb(proc)
    err = proc.stderr.read().decode() if proc.stderr else ""
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"summary of {folder} failed ({proc.returncode}): {err[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"folder": str(folder), "whole": whole, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
            "peak_mb": round(peak_kb / 1024), "exit": proc.returncode}


def same_tables(a: Path, b: Path) -> list[str]:
    """The CSV tables that differ between two summary outputs ([] when all are equal)."""
    names = sorted({p.name for p in (a / "csv").glob("*.csv")} | {p.name for p in (b / "csv").glob("*.csv")})
    return [n for n in names if not ((a / "csv" / n).is_file() and (b / "csv" / n).is_file()
                                     and filecmp.cmp(a / "csv" / n, b / "csv" / n, shallow=False))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folders", nargs="+", type=Path, help="SDTM folders (smallest first)")
    ap.add_argument("--whole-max", type=int, default=0,
                    help="also run the whole read (the baseline) on the first N folders (default 0: none)")
    ap.add_argument("--results", type=Path, help="write the figures to this JSON file")
    args = ap.parse_args()
    runs: list[dict[str, object]] = []
    work = Path(tempfile.mkdtemp(prefix="bench-summary-"))
    try:
        for i, folder in enumerate(args.folders):
            ranged = run(folder, work / f"{i}-ranges", whole=False)
            runs.append(ranged)
            print(json.dumps(ranged), flush=True)
            if i < args.whole_max:
                whole = run(folder, work / f"{i}-whole", whole=True)
                whole["tables_differ"] = same_tables(work / f"{i}-ranges", work / f"{i}-whole")
                runs.append(whole)
                print(json.dumps(whole), flush=True)
            shutil.rmtree(work / f"{i}-ranges", ignore_errors=True)
            shutil.rmtree(work / f"{i}-whole", ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ranged_runs = [r for r in runs if not r["whole"]]
    if len(ranged_runs) > 1:
        growth = ranged_runs[-1]["peak_mb"] / max(1, ranged_runs[0]["peak_mb"])  # type: ignore[operator]
        print(f"peak growth first -> last folder: {growth:.2f}x")
    if args.results:
        args.results.write_text(json.dumps({"runs": runs}, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
