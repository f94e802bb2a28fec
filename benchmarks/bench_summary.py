"""Time the safety summary on generated studies: 1k, 10k and 100k subjects (55 LB rows each: 5.5 M at 100k).

The Study is built the way a user builds it: `synth` writes study records, `load_study` reads and converts them
(records -> DM, EX, AE, LB, SUPPEX, TS, TV); then `compute_tables` (all tables) and `summarize` (tables + figures,
CSV, Markdown and self-contained HTML) are timed. Each size runs in its own process. Memory: peak RSS of the
process, the RSS growth sampled during each summary stage (a floor: memory freed while building the Study is
reused), and with --trace-memory the allocation peak of compute_tables measured by tracemalloc. Usage:

    python benchmarks/bench_summary.py                      # 1k, 10k, 100k subjects
    python benchmarks/bench_summary.py --subjects 100000    # one size
    python benchmarks/bench_summary.py --keep /tmp/bench    # keep records and reports
    python benchmarks/bench_summary.py --subjects 100000 --trace-memory
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class PeakRss:
    """Sample this process's RSS every 20 ms while the block runs (Linux /proc)."""

    def __enter__(self) -> PeakRss:
        self.start = _rss_mb()
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, _rss_mb())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_mb())


def run_one(subjects: int, workdir: Path, trace_memory: bool = False) -> dict:
    from msc_interop.api import load_study
    from msc_interop.summary import compute_tables, summarize
    from msc_interop.synth import generate

    stages: dict[str, float] = {}
    cpu: dict[str, float] = {}

    def timed(stage: str, fn):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        stages[stage], cpu[stage] = time.perf_counter() - t, time.process_time() - c
        return out

    timed("synth", lambda: generate(subjects, 1, "scale").write(workdir / "records"))
    study, _ = timed("build Study", lambda: load_study(workdir / "records"))
    with PeakRss() as tables_mem:
        tables = timed("compute_tables", lambda: compute_tables(study))
    with PeakRss() as summary_mem:
        result = timed("summarize", lambda: summarize(study, workdir / "summary"))
    traced = None
    if trace_memory:  # a second, untimed pass: peak of the allocations made by compute_tables (numpy included)
        import tracemalloc

        tracemalloc.start()
        compute_tables(study)
        traced = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    html = workdir / "summary" / "summary.html"
    return {
        "compute_tables_traced_peak_mb": traced,
        "subjects": subjects, "lb_rows": len(study["LB"]), "tables": len(tables), "files": len(result.paths),
        "html_mb": html.stat().st_size / 2**20, "stages": stages, "cpu": cpu, "load": os.getloadavg()[0],
        "rss_before_summary_mb": summary_mem.start,
        "compute_tables_extra_mb": tables_mem.peak - tables_mem.start,
        "summarize_extra_mb": summary_mem.peak - summary_mem.start,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subjects", type=int, action="append", help="subjects (repeatable); default 1k, 10k, 100k")
    ap.add_argument("--keep", type=Path, help="keep generated files here instead of a temp folder")
    ap.add_argument("--trace-memory", action="store_true",
                    help="also measure compute_tables' allocation peak with tracemalloc (an extra, slower pass)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        workdir = args.keep or Path(tempfile.mkdtemp(prefix="msc-bench-"))
        print(json.dumps(run_one(args.subjects[0], workdir, args.trace_memory)))
        return
    sizes = args.subjects or [1_000, 10_000, 100_000]
    print(f"{'subjects':>9} {'LB rows':>10} {'stage':<15} {'seconds':>8} {'CPU s':>8} {'LB rows/s':>12}")
    results = []
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="msc-bench-") as tmp:
            cmd = [sys.executable, __file__, "--child", "--subjects", str(n),
                   "--keep", str(args.keep / str(n) if args.keep else tmp),
                   *(["--trace-memory"] if args.trace_memory else [])]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        results.append(r)
        for stage, secs in r["stages"].items():
            print(f"{r['subjects']:>9,} {r['lb_rows']:>10,} {stage:<15} {secs:>8.2f} {r['cpu'][stage]:>8.2f} "
                  f"{r['lb_rows'] / secs:>12,.0f}")
        print(f"{'':>9} {'':>10} memory: Study in memory {r['rss_before_summary_mb']:,.0f} MB; compute_tables "
              f"+{r['compute_tables_extra_mb']:,.0f} MB; summarize +{r['summarize_extra_mb']:,.0f} MB; "
              f"process peak {r['peak_rss_mb']:,.0f} MB; HTML {r['html_mb']:.1f} MB; load average {r['load']:.1f}")
        if r["compute_tables_traced_peak_mb"] is not None:
            print(f"{'':>9} {'':>10} compute_tables allocation peak (tracemalloc): "
                  f"{r['compute_tables_traced_peak_mb']:,.0f} MB")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
