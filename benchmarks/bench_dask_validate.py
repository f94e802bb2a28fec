"""Benchmark: `validate --engine dask` on FHIR NDJSON with a LocalCluster of 1 worker and of 2 workers.

    flock /tmp/msc-bench.lock python benchmarks/bench_dask_validate.py --rows 1000000 --data /tmp/dask_bench

The NDJSON set is bench_fhir_validate.py's (its generator `_make`: `rows` Observations plus their Patients,
Encounters, ResearchSubjects, written by write_fhir without validation), plus a seeded file of a few lines that
give findings of the whole-set rules (an id repeated from the generated Patients, a broken reference) and of
per-resource rules, so that "identical findings" compares something. Then, in this one process, validate
(validate/fhir_rules.fhir_rules with a DaskNdjson engine, as `msc-interop validate DIR --engine dask` runs it)
with clusters of 1 and 2 worker processes (1 thread each), alternating 1, 2, 2, 1, ... (this shared machine's
speed drifts; the pairs cancel a linear drift). Each cluster is started before its run (not timed; its start is
reported) and closed after. With --local, the in-process engine runs once first (the reference the findings
must equal, and its time). Figures: wall seconds per run, speed-up = mean(1w) / mean(2w), peak RSS of the
driver (VmHWM, reset before each run) and of each worker (VmHWM of the fresh worker process after the run),
whether every run's findings are equal; CPU seconds of the run (driver + workers) and those the rest of the
machine used meanwhile (/proc/stat: the scheduler, the nannies and other people's work), which tell a speed-up
held back by the code from one held back by cores that were busy elsewhere. Table and JSON on stdout (--out:
the JSON to a file too).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path
from statistics import mean

from proc_memory import reset_peak, status_mb

HERE = Path(__file__).resolve().parent


def _worker_peak() -> float:
    """VmHWM of a worker process in MB (sent to the workers by value: this module is not importable there)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _worker_cpu() -> float:
    """CPU seconds of a worker process so far (sent to the workers by value, as _worker_peak)."""
    return time.process_time()


def _machine_busy() -> float:
    """CPU seconds every process of the machine has used since boot (/proc/stat: all but idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def _seeded(folder: Path, data: Path) -> Path:
    """A small NDJSON file with findings: a Patient id the generated set already has (MSC-FHIR-009), a reference
    to a Patient that is not there (MSC-FHIR-008), a status outside its value set (MSC-FHIR-002)."""
    import orjson

    with open(data / "Patient.ndjson", "rb") as fh:
        patient = orjson.loads(fh.readline())
    with open(data / "Observation.ndjson", "rb") as fh:
        obs = orjson.loads(fh.readline())
    lost = {**obs, "id": "seeded-lost", "subject": {"reference": "Patient/not-in-the-set"}}
    wrong = {**obs, "id": "seeded-status", "status": "done"}
    path = folder / "seeded.ndjson"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in (patient, lost, wrong)))
    return path


def _run(paths: list[Path], version: str, workers: int | None) -> dict:
    from msc_interop.engine.cluster import Cluster
    from msc_interop.validate.fhir_dask import DaskNdjson
    from msc_interop.validate.fhir_rules import fhir_rules

    out: dict = {"workers": workers or 0}
    if workers is None:
        reset_peak()
        t, c, busy = time.perf_counter(), time.process_time(), _machine_busy()
        findings = fhir_rules(paths, version)
        out["seconds"] = time.perf_counter() - t
        out["cpu_s"] = time.process_time() - c
        out["others_cpu_s"] = _machine_busy() - busy - out["cpu_s"]
        out["driver_peak_mb"] = status_mb("VmHWM")
        return out | {"findings": [f.as_dict() for f in findings]}
    t = time.perf_counter()
    with Cluster(workers=workers) as cluster:
        client = cluster.client()
        client.wait_for_workers(workers)
        out["start_s"] = time.perf_counter() - t
        engine = DaskNdjson(cluster)
        reset_peak()
        before = client.run(_worker_cpu)
        t, c, busy = time.perf_counter(), time.process_time(), _machine_busy()
        findings = fhir_rules(paths, version, engine=engine)
        out["seconds"] = time.perf_counter() - t
        out["driver_cpu_s"] = time.process_time() - c
        busy = _machine_busy() - busy
        after = client.run(_worker_cpu)
        out["worker_cpu_s"] = sorted(after[w] - before[w] for w in after)
        out["cpu_s"] = out["driver_cpu_s"] + sum(out["worker_cpu_s"])
        out["others_cpu_s"] = busy - out["cpu_s"]  # the scheduler and nannies (small), and other work
        out["driver_peak_mb"] = status_mb("VmHWM")
        out["worker_peak_mb"] = sorted(client.run(_worker_peak).values())
    return out | {"findings": [f.as_dict() for f in findings]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--version", default="R4", choices=["R4", "R5"])
    ap.add_argument("--data", type=Path, required=True, help="folder for the generated NDJSON (made once, kept)")
    ap.add_argument("--rounds", type=int, default=2, help="pairs of runs (1 worker, 2 workers), alternating")
    ap.add_argument("--local", action="store_true", help="run the in-process engine once first, as reference")
    ap.add_argument("--out", type=Path, help="write the JSON result here too")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(HERE))
    from bench_fhir_validate import _make

    folder = args.data / f"{args.rows}-{args.version}"
    if not any(folder.glob("*.ndjson")):
        t = time.perf_counter()
        p = mp.get_context("spawn").Process(target=_make, args=(args.rows, str(folder), args.version))
        p.start()
        p.join()
        print(f"{args.rows:,} made in {time.perf_counter() - t:.1f} s", flush=True)
    extra = args.data / f"{args.rows}-{args.version}-seeded"
    extra.mkdir(exist_ok=True)
    paths = [*sorted(folder.glob("*.ndjson")), _seeded(extra, folder)]
    order: list[int | None] = [None] if args.local else []
    for r in range(args.rounds):
        order += [1, 2] if r % 2 == 0 else [2, 1]
    runs = []
    for workers in order:
        r = _run(paths, args.version, workers)
        runs.append(r)
        print(f"{r['workers'] or 'local':>6} worker(s)  {r['seconds']:7.1f} s  CPU {r['cpu_s']:6.1f} s (others on the "
              f"machine {r['others_cpu_s']:6.1f} s)  start {r.get('start_s', 0):4.1f} s  "
              f"driver peak {r['driver_peak_mb']:6,.0f} MB  workers peak {r.get('worker_peak_mb', [])}  "
              f"findings {len(r['findings'])}", flush=True)
    reference = runs[0]["findings"]
    same = all(r["findings"] == reference for r in runs)
    one = [r["seconds"] for r in runs if r["workers"] == 1]
    two = [r["seconds"] for r in runs if r["workers"] == 2]
    result = {
        "rows": args.rows, "version": args.version, "lines": sum(_lines(p) for p in paths),
        "bytes": sum(p.stat().st_size for p in paths), "findings": len(reference),
        "findings_by_rule": _by_rule(reference), "identical_findings": same,
        "speedup_2w_over_1w": mean(one) / mean(two), "one_worker_s": one, "two_workers_s": two,
        "runs": [{k: v for k, v in r.items() if k != "findings"} for r in runs],
    }
    if args.local:
        result["local_s"] = runs[0]["seconds"]
        result["speedup_2w_over_local"] = runs[0]["seconds"] / mean(two)
    print(f"speed-up 2 workers / 1 worker: {result['speedup_2w_over_1w']:.2f}x  identical findings: {same}")
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0 if same else 1


def _lines(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for _ in fh)


def _by_rule(findings: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for f in findings:
        counts[f["rule_id"]] = counts.get(f["rule_id"], 0) + 1
    return dict(sorted(counts.items()))


if __name__ == "__main__":
    raise SystemExit(main())
