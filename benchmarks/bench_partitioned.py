"""to-sdtm of a big records folder a subject partition at a time: peak memory and time against a whole run.

A synthetic study of about --rows LB rows is made once (synth "scale") and copied --copies times under new
subject ids (copy k: subject_id "k-<id>"), so the records grow without the generator holding them. Each run is a
fresh process (`msc-interop to-sdtm`), its peak RSS read from /proc (VmHWM) by a watcher beside it. Reported:
rows, seconds, peak MB for the partitioned run at each size and, where asked (--whole), for the whole run; the
growth of the peak from the smallest to the largest size.

    flock /tmp/msc-bench.lock python benchmarks/bench_partitioned.py --rows 1000000 --copies 1 10 --work /tmp/bp
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from proc_memory import wait_with_peak_kb

LAB_ROWS_PER_SUBJECT = 55


def make_records(work: Path, rows: int, copies: int) -> Path:
    """The base study (once) and a folder of `copies` copies of it under distinct subject ids."""
    base = work / "base"
    if not (base / "labs.csv").is_file():
        from msc_interop.synth import generate

        generate(max(1, round(rows / LAB_ROWS_PER_SUBJECT)), 1, "scale").write(base)
    out = work / f"x{copies}"
    if (out / "study.yaml").is_file():
        return out
    tmp = work / f".x{copies}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    shutil.copyfile(base / "study.yaml", tmp / "study.yaml")
    for src in sorted(base.glob("*.csv")):
        first = True
        for k in range(copies):
            for chunk in pd.read_csv(src, dtype=str, keep_default_na=False, chunksize=500_000):
                if copies > 1:
                    chunk["subject_id"] = f"{k}-" + chunk["subject_id"]
                chunk.to_csv(tmp / src.name, mode="w" if first else "a", header=first, index=False)
                first = False
    tmp.rename(out)
    return out


def run(records: Path, out: Path, partition: str, validate: bool, command: str = "to-sdtm") -> dict:
    """One to-sdtm (or to-fhir --ndjson --bundle none) in a fresh process; its time and peak RSS (VmHWM, polled)."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "msc_interop.cli", command, str(records), "-o", str(out),
           "--partition-subjects", partition, "--validate" if validate else "--no-validate"]
    cmd += (["--format", "xpt,json", "--created", "2026-01-01T00:00:00"] if command == "to-sdtm"
            else ["--ndjson", "--bundle", "none"])
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = wait_with_peak_kb(proc)
    seconds = time.perf_counter() - t0
    tail = proc.stdout.read().strip().splitlines()[-3:] if proc.stdout else []
    return {"seconds": round(seconds, 1), "peak_mb": round(peak / 1024, 1), "exit": proc.returncode, "tail": tail}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000, help="LB rows of the base study (about)")
    ap.add_argument("--copies", type=int, nargs="+", default=[1, 10], help="sizes, as copies of the base")
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--whole", type=int, nargs="*", default=[],
                    help="sizes (copies) at which to also run the whole conversion (it holds the whole study: "
                         "~1.5 GB per million LB rows)")
    ap.add_argument("--validate", action="store_true", help="with the command's validation of what it wrote")
    ap.add_argument("--command", choices=["to-sdtm", "to-fhir"], default="to-sdtm")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    results = []
    for copies in args.copies:
        records = make_records(args.work, args.rows, copies)
        with open(records / "labs.csv", "rb") as fh:
            lb_rows = sum(1 for _ in fh) - 1
        entry = {"copies": copies, "lab_rows": lb_rows,
                 "command": args.command, "validate": args.validate,
                 "partitioned": run(records, args.work / f"out_p{copies}", "on", args.validate, args.command)}
        if copies in args.whole:
            entry["whole"] = run(records, args.work / f"out_w{copies}", "off", args.validate, args.command)
        results.append(entry)
        print(json.dumps(entry), flush=True)
    if len(results) > 1:
        a, b = results[0]["partitioned"]["peak_mb"], results[-1]["partitioned"]["peak_mb"]
        print(f"peak growth {results[0]['lab_rows']:,} -> {results[-1]['lab_rows']:,} lab rows: {b / a:.2f}x")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
