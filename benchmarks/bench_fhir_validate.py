"""Benchmark: `validate` on a FHIR NDJSON folder (streamed), beside jsonschema-rs alone on the same lines.

    python benchmarks/bench_fhir_validate.py --rows 100000 1000000 [--version R4] [--data DIR] [--keep]

For each size, the folder is made first in its own process (bench_fhir.make_study: the example's subjects
repeated, ~55 LB rows each, written by write_fhir as NDJSON without validation: `rows` Observations plus their
Patients, Encounters, ResearchSubjects), then in one fresh process:
  * base     : every line of every file parsed (orjson.loads) and checked whole with jsonschema-rs against the
               official schema subset (fhir/validate.py `_full_validator`): structure only, nothing held.
  * validate : validate/fhir_rules.fhir_rules on the same files, as `msc-interop validate DIR` runs it: every
               FHIR rule (structure, value sets, codings, units, LOINC, interpretation, references, ids, dates).
Order base, validate, base: the ratio is validate / mean(base), both timed in the same process minutes apart,
since this shared machine's speed drifts by tens of percent; wall and CPU (process_time) ratios both, the CPU
one being the steadier when other work shares the cores. Memory (Linux /proc/self/status): VmRSS before,
and the peak (VmHWM) during validate, reset just before it. Figures go to stdout as a table and JSON.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import shutil
import sys
import tempfile
import time
from pathlib import Path

from proc_memory import reset_peak, status_mb

HERE = Path(__file__).resolve().parent


def _make(rows: int, folder: str, version: str) -> None:
    sys.path.insert(0, str(HERE))
    from bench_fhir import make_study

    from msc_interop.fhir import write_fhir

    write_fhir(make_study(rows), folder, version=version, bundle="none", ndjson=True, validate=False)


def _baseline(paths: list[Path], version: str) -> tuple[float, int, int, float]:
    """jsonschema-rs alone: each line parsed and checked whole; (seconds, lines, invalid, CPU seconds)."""
    import orjson

    from msc_interop.fhir.validate import _full_validator
    from msc_interop.fhir.versions import get_version

    schema = get_version(version).schema_name
    validators: dict[str, object] = {}
    t, c = time.perf_counter(), time.process_time()
    n = bad = 0
    for p in paths:
        with open(p, "rb") as fh:
            for line in fh:
                r = orjson.loads(line)
                v = validators.get(r["resourceType"])
                if v is None:
                    v = validators[r["resourceType"]] = _full_validator(schema, r["resourceType"])
                n += 1
                bad += not v.is_valid(r)  # type: ignore[attr-defined]
    return time.perf_counter() - t, n, bad, time.process_time() - c


def _child(folder: str, version: str, queue: mp.Queue) -> None:
    from msc_interop.validate.fhir_rules import fhir_rules

    paths = sorted(Path(folder).glob("*.ndjson"))
    _baseline(paths[:1], version)  # compile the validators, load the schema
    b1, lines, invalid, c1 = _baseline(paths, version)
    rss = status_mb("VmRSS")
    reset_peak()  # the peak starts again from here
    t, c = time.perf_counter(), time.process_time()
    findings = fhir_rules(paths, version)
    took, cpu = time.perf_counter() - t, time.process_time() - c
    peak = status_mb("VmHWM")
    b2, _, _, c2 = _baseline(paths, version)
    queue.put({"lines": lines, "invalid_by_schema": invalid, "findings": len(findings), "base_s": [b1, b2],
               "validate_s": took, "ratio": took / ((b1 + b2) / 2), "base_cpu_s": [c1, c2], "validate_cpu_s": cpu,
               "cpu_ratio": cpu / ((c1 + c2) / 2), "rss_before_mb": rss, "peak_mb": peak,
               "bytes": sum(p.stat().st_size for p in paths)})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[100_000])
    ap.add_argument("--version", default="R4", choices=["R4", "R5"])
    ap.add_argument("--data", type=Path, help="folder for the generated NDJSON (kept); default a temp folder")
    args = ap.parse_args(argv)
    spawn = mp.get_context("spawn")
    results = []
    for rows in args.rows:
        root = args.data or Path(tempfile.mkdtemp(prefix="bench_fhir_validate_"))
        folder = root / f"{rows}-{args.version}"
        if not any(folder.glob("*.ndjson")):
            t = time.perf_counter()
            p = spawn.Process(target=_make, args=(rows, str(folder), args.version))
            p.start()
            p.join()
            print(f"{rows:>10,} made in {time.perf_counter() - t:.1f} s", flush=True)
        q: mp.Queue = spawn.Queue()
        p = spawn.Process(target=_child, args=(str(folder), args.version, q))
        p.start()
        r = q.get()
        p.join()
        r["rows"] = rows
        results.append(r)
        print(f"{rows:>10,} obs {r['lines']:>10,} lines {r['bytes'] / 1e6:>7,.0f} MB  base {r['base_s'][0]:6.1f} "
              f"{r['base_s'][1]:6.1f} s  validate {r['validate_s']:6.1f} s  ratio {r['ratio']:4.2f}x  "
              f"(CPU {r['cpu_ratio']:4.2f}x)  peak {r['peak_mb']:6,.0f} MB (before {r['rss_before_mb']:,.0f})  "
              f"findings {r['findings']}",
              flush=True)
        if args.data is None:
            shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
