"""A 6 GB LB split by --max-file-size in a partitioned to-sdtm, and its pieces validated as one LB.

The 1M-LB-row synthetic study (bench_partitioned.py's base) is copied --copies times under new subject ids
(copy k: subject_id "k-<id>", as bench_partitioned.make_records does, but copying lines as bytes: subject_id is
the first field of every form), then, each in a fresh process whose peak RSS is its own (os.wait4 ru_maxrss):

1. `to-sdtm RECORDS -o OUT --format xpt --partition-subjects on --no-validate` at the default --max-file-size
   (5 GB): LB over it comes out as LBCH/LBHE/LBTM; the XPT files and their sizes are recorded;
2. `validate OUT/xpt --partition-subjects on`: the pieces read as one LB; the findings counted by rule.

    flock /tmp/msc-bench.lock python benchmarks/bench_split_lb.py --base /work/bench/bp/base --copies 23 \\
        --work /work/bench/split --out benchmarks/results/bench_split_lb_23m_DATE.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path


def make_records(base: Path, work: Path, copies: int) -> Path:
    """`copies` copies of the base study's records under distinct subject ids (made once)."""
    out = work / f"x{copies}"
    if (out / "study.yaml").is_file():
        return out
    tmp = work / f".x{copies}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    shutil.copyfile(base / "study.yaml", tmp / "study.yaml")
    for src in sorted(base.glob("*.csv")):
        header, _, body = src.read_bytes().partition(b"\n")
        if not header.startswith(b"subject_id,"):
            raise SystemExit(f"{src}: subject_id is not the first field")
        lines = body.rstrip(b"\n").split(b"\n")
        with open(tmp / src.name, "wb") as fh:
            fh.write(header + b"\n")
            for k in range(copies):
                prefix = f"{k}-".encode()
                fh.write(b"".join(prefix + line + b"\n" for line in lines))
    tmp.rename(out)
    return out


def run(cmd: list[str], log: Path) -> dict:
    """One command in a fresh process: wall seconds, its peak RSS (ru_maxrss of the child), exit status."""
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    return {"command": " ".join(cmd[2:]), "seconds": round(seconds, 1), "peak_mb": round(usage.ru_maxrss / 1024, 1),
            "exit": os.waitstatus_to_exitcode(status), "tail": log.read_text().strip().splitlines()[-8:]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", type=Path, required=True, help="records of the 1M-LB-row synthetic study")
    ap.add_argument("--copies", type=int, default=23)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--max-file-size", default="5GB")
    ap.add_argument("--records-only", action="store_true", help="make the records and stop")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    t0 = time.perf_counter()
    records = make_records(args.base, args.work, args.copies)
    made = round(time.perf_counter() - t0, 1)
    with open(records / "labs.csv", "rb") as fh:
        lab_rows = sum(1 for _ in fh) - 1
    print(json.dumps({"records": str(records), "lab_rows": lab_rows, "seconds": made}), flush=True)
    if args.records_only:
        return
    out = args.work / f"out{args.copies}"
    shutil.rmtree(out, ignore_errors=True)
    cli = [sys.executable, "-m", "msc_interop.cli"]
    convert = run([*cli, "to-sdtm", str(records), "-o", str(out), "--format", "xpt", "--partition-subjects", "on",
                   "--no-validate", "--created", "2026-01-01T00:00:00", "--max-file-size", args.max_file_size],
                  args.work / "to-sdtm.log")
    files = {p.name: p.stat().st_size for p in sorted((out / "xpt").iterdir())}
    rejects = json.loads((out / "rejects.json").read_text())
    report = args.work / "validate.json"
    check = run([*cli, "validate", str(out / "xpt"), "--partition-subjects", "on", "--report", str(report),
                 "--limit", "5"], args.work / "validate.log")
    found = json.loads(report.read_text())
    findings = found.get("findings", found) if isinstance(found, dict) else found
    by_rule = Counter(f"{f.get('rule_id')} {f.get('severity')}" for f in findings)
    said = [line for line in (args.work / "validate.log").read_text().splitlines() if "--partition-subjects" in line]
    entry = {"copies": args.copies, "lab_rows": lab_rows, "max_file_size": args.max_file_size,
             "to_sdtm": convert, "xpt_files": files, "notes": rejects.get("notes", []),
             "validate": check, "validate_notes": said,
             "findings": len(findings), "findings_by_rule": dict(sorted(by_rule.items())),
             "findings_naming_pieces": sorted({Path(str(f.get("file") or "")).name for f in findings
                                               if Path(str(f.get("file") or "")).name.startswith("lb")})}
    print(json.dumps(entry, indent=1), flush=True)
    if args.out:
        args.out.write_text(json.dumps(entry, indent=1) + "\n")


if __name__ == "__main__":
    main()
