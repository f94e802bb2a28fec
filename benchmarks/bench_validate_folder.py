"""`validate` of a big SDTM folder a range of subjects at a time (--partition-subjects on) beside the whole read
(--partition-subjects off, the baseline), each in a fresh process, alternating whole / partitioned in one run.

Per format folder (FOLDER/xpt, FOLDER/json, ... of a to-sdtm output): wall and CPU time of each run, the ratio
partitioned / whole (against the mean of the whole runs), the peak RSS of each process (VmHWM of the fresh
process: imports included) and whether the findings are identical, field for field. `--skip-whole`: only the
partitioned run (a folder whose whole read does not fit in memory).

    flock /tmp/msc-bench.lock python benchmarks/bench_validate_folder.py --folder /tmp/vbig_1m --formats xpt json
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from proc_memory import status_mb


def child(folder: Path, mode: str, out: Path, hold_mb: float | None = None) -> None:
    """One validate in this (fresh) process; its figures and findings to `out`."""
    from msc_interop import api
    from msc_interop.validate import folder_partitions

    if hold_mb is not None:
        folder_partitions.HOLD_BYTES = int(hold_mb * (1 << 20))

    t0, c0 = time.perf_counter(), time.process_time()
    notes: list[str] = []
    report = api.validate([folder], partition_subjects=mode, note=notes.append)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    figures = {"mode": mode, "hold_mb": hold_mb or folder_partitions.HOLD_BYTES / (1 << 20),
               "seconds": round(time.perf_counter() - t0, 1),
               "cpu": round(time.process_time() - c0, 1), "peak_mb": round(status_mb("VmHWM"), 1),
               "maxrss_mb": round(usage.ru_maxrss / 1024, 1), "findings": len(report.findings), "notes": notes}
    out.write_text(json.dumps({"figures": figures, "findings": [f.as_dict() for f in report.findings]}))


def run(folder: Path, mode: str, work: Path, hold_mb: float | None = None) -> dict:
    out = work / f"{folder.name}.{mode}.json"
    cmd = [sys.executable, __file__, "--child", str(folder), mode, str(out)]
    cmd += ["--hold-mb", str(hold_mb)] if hold_mb is not None else []
    subprocess.run(cmd, check=True)
    return json.loads(out.read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folder", type=Path)
    ap.add_argument("--formats", nargs="+", default=["xpt", "json"])
    ap.add_argument("--rounds", type=int, default=1, help="whole/partitioned pairs (order alternates)")
    ap.add_argument("--skip-whole", action="store_true")
    ap.add_argument("--work", type=Path, default=Path("/tmp/vbig_bench"))
    ap.add_argument("--out", type=Path)
    ap.add_argument("--hold-mb", type=float,
                    help="dataset files up to this size are held whole (default: folder_partitions.HOLD_BYTES)")
    ap.add_argument("--child", nargs=3, metavar=("FOLDER", "MODE", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(Path(args.child[0]), args.child[1], Path(args.child[2]), args.hold_mb)
        return
    args.work.mkdir(parents=True, exist_ok=True)
    results = []
    for fmt in args.formats:
        folder = args.folder / fmt
        size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
        entry: dict = {"format": fmt, "bytes": size, "whole": [], "partitioned": []}
        findings = {}
        for r in range(args.rounds):
            order = ["on"] if args.skip_whole else (["off", "on"] if r % 2 == 0 else ["on", "off"])
            for mode in order:
                got = run(folder, mode, args.work, args.hold_mb)
                entry["whole" if mode == "off" else "partitioned"].append(got["figures"])
                findings.setdefault(mode, got["findings"])
                print(json.dumps({"format": fmt, **got["figures"]}), flush=True)
        if not args.skip_whole:
            whole = sum(f["seconds"] for f in entry["whole"]) / len(entry["whole"])
            whole_cpu = sum(f["cpu"] for f in entry["whole"]) / len(entry["whole"])
            part = entry["partitioned"]
            entry["ratio_wall"] = [round(f["seconds"] / whole, 2) for f in part]
            entry["ratio_cpu"] = [round(f["cpu"] / whole_cpu, 2) for f in part]
            entry["same_findings"] = findings["on"] == findings["off"]
        results.append(entry)
        print(json.dumps({k: v for k, v in entry.items() if k not in ("whole", "partitioned")}), flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
