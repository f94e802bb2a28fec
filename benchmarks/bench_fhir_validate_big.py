"""Benchmark: `msc-interop validate` of a big FHIR NDJSON set, each run a fresh process (time, peak RSS).

    python benchmarks/bench_fhir_validate_big.py run DIR [DIR ...] --src SRC --label L [--json OUT]
    python benchmarks/bench_fhir_validate_big.py copy SRC_DIR DEST_DIR --copies 10

`run`: for each DIR (NDJSON files only), `python -m msc_interop.cli validate DIR --report R.json` in a fresh
process with PYTHONPATH=SRC (the code measured: a checkout's src, so that the code before and after a change are run the
same way), its peak RSS (VmHWM) polled from /proc by this process; wall and CPU time (getrusage of the child),
the exit status, the number of findings and the SHA-256 of the report file (equal reports: equal findings, byte
for byte). `copy`: DEST_DIR made of SRC_DIR's NDJSON `copies` times, each copy after the first with the subject
prefix rewritten (`MSC-SLE-2009-01-` -> `MSC-SLE-2009-kN-`, the same length) so that every id and reference
stays distinct across copies; the study-level files (ResearchStudy, Organization) once.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from proc_memory import wait_with_peak_kb

PREFIX = b"MSC-SLE-2009-01-"
ONCE = {"ResearchStudy.ndjson", "Organization.ndjson"}


def run(folder: Path, src: Path) -> dict:
    """One validate of the folder's NDJSON in a fresh process: its figures."""
    paths = sorted(str(p) for p in folder.glob("*.ndjson"))
    with tempfile.TemporaryDirectory(prefix="bench_fval_") as tmp:
        report = Path(tmp) / "report.json"
        # the folder, not its files: the NDJSON files of one path are one set (references resolve across them)
        cmd = [sys.executable, "-m", "msc_interop.cli", "validate", str(folder), "--report", str(report)]
        env = {**os.environ, "PYTHONPATH": str(src)}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        peak = wait_with_peak_kb(proc)
        wall = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = proc.stdout.read().decode() if proc.stdout else ""
        data = report.read_bytes() if report.exists() else b""
    found = json.loads(data) if data else {}
    findings = found.get("findings", []) if isinstance(found, dict) else []
    return {"folder": str(folder), "files": len(paths), "bytes": sum(Path(p).stat().st_size for p in paths),
            "wall_s": round(wall, 1),
            "cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1),
            "peak_mb": round(max(peak, after.ru_maxrss) / 1024, 1), "exit": proc.returncode,
            "findings": len(findings), "report_sha256": hashlib.sha256(data).hexdigest(),
            "output_tail": out.strip().splitlines()[-3:]}


def copy(src: Path, dest: Path, copies: int) -> None:
    """DEST made of SRC's NDJSON `copies` times under rewritten subject prefixes (see the module docstring)."""
    dest.mkdir(parents=True, exist_ok=True)
    for path in sorted(src.glob("*.ndjson")):
        tmp = dest / (path.name + ".tmp")
        with open(tmp, "wb") as out:
            for k in range(copies if path.name not in ONCE else 1):
                new = PREFIX if k == 0 else f"MSC-SLE-2009-k{k}-".encode()
                assert len(new) == len(PREFIX)
                with open(path, "rb") as fh:
                    for chunk in iter(lambda fh=fh: fh.readlines(1 << 24), []):
                        out.write(b"".join(chunk).replace(PREFIX, new))
        tmp.replace(dest / path.name)
        print(f"wrote {dest / path.name}", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("folders", type=Path, nargs="+")
    r.add_argument("--src", type=Path, required=True, help="the src folder of the code measured")
    r.add_argument("--label", required=True)
    r.add_argument("--json", type=Path, help="append the results to this JSON list")
    c = sub.add_parser("copy")
    c.add_argument("source", type=Path)
    c.add_argument("dest", type=Path)
    c.add_argument("--copies", type=int, default=10)
    args = ap.parse_args(argv)
    if args.cmd == "copy":
        copy(args.source, args.dest, args.copies)
        return 0
    results = json.loads(args.json.read_text()) if args.json and args.json.exists() else []
    for folder in args.folders:
        res = {"label": args.label, "src": str(args.src), "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "load_before": os.getloadavg()[0], **run(folder, args.src)}
        print(json.dumps(res), flush=True)
        results.append(res)
        if args.json:
            args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
