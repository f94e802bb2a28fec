"""Benchmark: `from-fhir --engine dask` on FHIR NDJSON with a LocalCluster of 1 worker and of 2 workers.

    flock /tmp/msc-bench.lock python benchmarks/bench_dask_from_fhir.py --data /work/bench/fval/f1 \
        --work /work/bench/NAME --rounds 2 --local --out benchmarks/results/bench_dask_from_fhir_1m_DATE.json

DATA: an NDJSON folder (read only), e.g. to-fhir --ndjson --bundle none of 1M LB rows. Each run is a fresh process
(this script with --one): it starts its cluster (LocalCluster, 1 thread per worker process; the start not timed),
then runs api.from_fhir(DATA, WORK/out, engine="dask", scheduler=the cluster, partition_subjects="on", the default
formats xpt, json, csv with define.xml), as `msc-interop from-fhir DATA -o OUT --engine dask --workers N` does; with
--local first, the in-process engine once (partition_subjects="on", the reference the files must equal). Runs
alternate 1, 2, 2, 1, ... workers (this shared machine's speed drifts; the pairs cancel a linear drift). Figures:
wall seconds per run and per step of the read (scan, subjects, check, cut, read, finish; the rest is writing),
speed-up = mean(1w) / mean(2w); CPU seconds of the driver and of each worker, and those the rest of the machine used
meanwhile (/proc/stat: the scheduler, the nannies and other people's work); peak RSS (VmHWM) of the driver and of
each worker process; the SHA-256 of every file written (rejects and define.xml too) and whether every run's equal
the first's. Each run's output is deleted after it is hashed. Table and JSON on stdout (--out: the JSON too).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from statistics import mean

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


def _hashes(folder: Path) -> dict[str, str]:
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h = hashlib.sha256()
            with open(p, "rb") as fh:
                for block in iter(lambda fh=fh: fh.read(1 << 24), b""):
                    h.update(block)
            out[str(p.relative_to(folder))] = h.hexdigest()
    return out


def _one(data: Path, outdir: Path, workers: int) -> dict:
    """One run in this (fresh) process: workers 0 = the in-process engine."""
    sys.path.insert(0, str(HERE))
    from proc_memory import reset_peak, status_mb

    from msc_interop import api
    from msc_interop.fhir import engines

    used: list = []
    original = engines.engine_tasks

    @contextlib.contextmanager
    def kept(*a, **k):  # the engine's tasks object, for its per-step times
        with original(*a, **k) as tasks:
            used.append(tasks)
            yield tasks

    engines.engine_tasks = kept
    out: dict = {"workers": workers}
    shutil.rmtree(outdir, ignore_errors=True)
    kw: dict = {}
    cluster = None
    if workers:
        from msc_interop.engine.cluster import Cluster

        t = time.perf_counter()
        cluster = Cluster(workers=workers)
        client = cluster.client()
        client.wait_for_workers(workers)
        out["start_s"] = time.perf_counter() - t
        kw = {"engine": "dask", "scheduler": client.scheduler.address}
        before = client.run(_worker_cpu)
    reset_peak()
    t, c, busy = time.perf_counter(), time.process_time(), _machine_busy()
    result = api.from_fhir([data], outdir, created="2026-01-01T00:00:00", partition_subjects="on", **kw)
    out["seconds"] = time.perf_counter() - t
    out["driver_cpu_s"] = time.process_time() - c
    busy = _machine_busy() - busy
    out["driver_peak_mb"] = status_mb("VmHWM")
    out["cpu_s"] = out["driver_cpu_s"]
    if cluster is not None:
        after = client.run(_worker_cpu)
        out["worker_cpu_s"] = sorted(after[w] - before[w] for w in after)
        out["cpu_s"] += sum(out["worker_cpu_s"])
        out["worker_peak_mb"] = sorted(client.run(_worker_peak).values())
        cluster.close()
    out["others_cpu_s"] = busy - out["cpu_s"]
    out["steps_s"] = dict(used[0].times) if used else {}
    out["steps_s"]["write and the rest"] = out["seconds"] - sum(out["steps_s"].values())
    out["read_again"] = list(getattr(used[0], "log", [])) if used else []
    out["partitions"] = result.partitions
    out["rejected"] = result.rejects.n_rejected_records
    out["notes"] = len(result.rejects.notes)
    out["files"] = _hashes(outdir)
    shutil.rmtree(outdir, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="the NDJSON folder (read only)")
    ap.add_argument("--work", type=Path, required=True, help="a folder for the output of each run (emptied after)")
    ap.add_argument("--rounds", type=int, default=2, help="pairs of runs (1 worker, 2 workers), alternating")
    ap.add_argument("--local", action="store_true", help="run the in-process engine once first, as reference")
    ap.add_argument("--out", type=Path, help="write the JSON result here too")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a child: one run, its JSON on stdout
    args = ap.parse_args(argv)
    if args.one is not None:
        print("RESULT " + json.dumps(_one(args.data, args.work / "out", args.one)))
        return 0
    load = os.getloadavg()
    order = [0] if args.local else []
    for r in range(args.rounds):
        order += [1, 2] if r % 2 == 0 else [2, 1]
    runs = []
    for workers in order:
        done = subprocess.run([sys.executable, __file__, "--data", str(args.data), "--work", str(args.work),
                               "--one", str(workers)], capture_output=True, text=True, check=False)
        line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            print(done.stdout[-3000:], done.stderr[-3000:], file=sys.stderr)
            return 2
        r = json.loads(line[len("RESULT "):])
        runs.append(r)
        steps = "  ".join(f"{k} {v:.1f}" for k, v in r["steps_s"].items())
        print(f"{r['workers'] or 'local':>6} worker(s)  {r['seconds']:7.1f} s  CPU {r['cpu_s']:6.1f} s (others on the "
              f"machine {r['others_cpu_s']:6.1f} s)  driver peak {r['driver_peak_mb']:6,.0f} MB  workers peak "
              f"{[round(x) for x in r.get('worker_peak_mb', [])]}  steps: {steps}", flush=True)
    reference = runs[0]["files"]
    same = all(r["files"] == reference for r in runs)
    one = [r["seconds"] for r in runs if r["workers"] == 1]
    two = [r["seconds"] for r in runs if r["workers"] == 2]
    result = {
        "data": str(args.data), "bytes": sum(p.stat().st_size for p in args.data.glob("*.ndjson")),
        "files_written": len(reference), "identical_files": same,
        "speedup_2w_over_1w": mean(one) / mean(two), "one_worker_s": one, "two_workers_s": two,
        "load_at_start": load,
        "runs": [{k: v for k, v in r.items() if k != "files"} for r in runs],
        "sha256": reference,
    }
    if args.local:
        result["local_s"] = runs[0]["seconds"]
        result["speedup_2w_over_local"] = runs[0]["seconds"] / mean(two)
    print(f"speed-up 2 workers / 1 worker: {result['speedup_2w_over_1w']:.2f}x  identical files: {same}")
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
