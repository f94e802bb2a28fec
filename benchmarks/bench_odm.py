"""Read a CDISC ODM export of 100k and 1M ItemData elements (made from `synth`); time and peak memory.

Each step runs in its own process so peak RSS is that step's own. Usage:

    python benchmarks/bench_odm.py                       # 100k and 1M ItemData
    python benchmarks/bench_odm.py --items 1000000 --keep /tmp/odm-bench

Steps per size: export (synth records -> ODM 1.3.2 file, standard layout), read (read_odm: iterparse stream ->
checked study records, the part the issue asks to bound), to-sdtm stages after it are the CSV path's (see
bench_to_sdtm.py). Beside `read`, `whole-tree` loads the same file with lxml etree.parse (no conversion): the
memory a non-streaming reader would need just to hold the XML tree. "bounded" means read's peak grows with the
records kept (the converted table), not with the XML text: compare the two columns.
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

ITEMS_PER_SUBJECT = 384  # synth scale: DM 8, EX 2 x 8, labs 55 x 6, findings 10 x 3 ItemData


def step(kind: str, items: int, workdir: Path) -> dict:
    t = time.perf_counter()
    export = workdir / "study.odm.xml"
    out: dict = {}
    if kind == "export":
        from msc_interop.odm.export import export_study
        from msc_interop.synth import generate

        subjects = max(1, round(items / ITEMS_PER_SUBJECT))
        generate(subjects, 1, "scale").write(workdir)
        t = time.perf_counter()
        export_study(workdir, export)
        out["subjects"] = subjects
    elif kind == "read":
        from msc_interop.odm import read_odm

        records = read_odm(export)
        out["records"] = {k: len(v) for k, v in records.forms.items()}
        out["rejects"] = len(records.rejects)
        out["notes"] = records.rejects.notes
    elif kind == "whole-tree":
        from lxml import etree

        tree = etree.parse(str(export))
        out["elements"] = sum(1 for _ in tree.iter())
    out["seconds"] = time.perf_counter() - t
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["file_mb"] = export.stat().st_size / 1e6 if export.exists() else 0
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, action="append", help="ItemData elements (repeatable); default 100k, 1M")
    ap.add_argument("--keep", type=Path, help="keep generated files here instead of a temp folder")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(step(args.child, args.items[0], args.workdir)))
        return
    print(f"{'ItemData':>10} {'step':<11} {'seconds':>8} {'ItemData/s':>11} {'peak RSS MB':>12} {'file MB':>8}")
    results = []
    for items in args.items or [100_000, 1_000_000]:
        with tempfile.TemporaryDirectory(prefix="msc-odm-bench-") as tmp:
            workdir = args.keep / str(items) if args.keep else Path(tmp)
            workdir.mkdir(parents=True, exist_ok=True)
            row = {"items": items}
            for kind in ("export", "read", "whole-tree"):
                cmd = [sys.executable, __file__, "--child", kind, "--items", str(items), "--workdir", str(workdir)]
                r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
                row[kind] = r
                n = r.get("notes", [""])[0] if kind == "read" else ""
                print(f"{items:>10,} {kind:<11} {r['seconds']:>8.2f} {items / r['seconds']:>11,.0f} "
                      f"{r['peak_rss_mb']:>12,.0f} {r['file_mb']:>8.1f}  {n}")
            results.append(row)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
