"""Benchmark: VS at the LB path's rates. The same process times VS and LB of the same size through the same three
paths, alternating the order per repeat (LB then VS, then VS then LB, ...) so that neither domain always runs
second (after the other's garbage and dirty pages) and the drift of a shared machine falls on both:

    python benchmarks/bench_vs.py --rows 1000000 [--repeats 2] [--version R4]

  * to-sdtm  : the builder of the domain (sdtm/lb.py build_lb, sdtm/vs.py build_vs) on checked records (synth
               "scale": ~55 lab rows and ~50 vital signs per subject; subjects enough for `rows` vital signs,
               the labs cut to the same number of rows). Reading the CSVs is shared code and not timed here.
  * to-fhir  : write_fhir of DM + the domain (NDJSON, every resource checked by the fast validator, as to-fhir).
  * from-fhir: read_fhir of that NDJSON folder back to a Study (the domain must come back with every row).
Each path starts alike: gc.collect() before its clock starts, and after it os.sync() (the pages to-fhir wrote
reach the disk before from-fhir is timed; from-fhir's input is removed and synced before the next path), so no
path pays for the writes or garbage of the one before. Use an even `--repeats` (each order as often).
Figures: rows per second of each path for each domain, best and median over `--repeats`, and the ratio VS / LB
(1.0 = the same rate; below 1, VS is slower). Beside the wall-clock figures, the process's CPU seconds of each path
and the ratio by CPU time: on a shared machine whose load changes during a run, wall time counts the waits of
other work too. Results as a table and JSON on stdout.
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROWS_PER_SUBJECT = 50  # vital signs per subject in synth (7 visits x 7 tests + HEIGHT once)


def _records(rows: int, workdir: Path):
    """Checked records with `rows` vital signs and as many lab rows (the labs form cut to that length)."""
    from msc_interop.records import read_records
    from msc_interop.synth import generate

    subjects = -(-rows // ROWS_PER_SUBJECT)
    generate(subjects, 1, "scale").write(workdir / "records")
    records = read_records(workdir / "records")
    for form in ("labs", "vital_signs"):
        records.forms[form] = records.forms[form].iloc[:rows]
    return records


def _base_study(records):
    """DM (and EX, which DM's reference dates need) of the records, built once."""
    from msc_interop.sdtm.dm import build_dm_base, complete_dm
    from msc_interop.sdtm.ex import build_ex
    from msc_interop.study import StudyMeta

    meta = StudyMeta.from_definition(records.definition)
    dm_base = build_dm_base(records, meta)
    ex, _ = build_ex(records, meta, dm_base)
    return meta, complete_dm(dm_base, ex)


def _build(domain: str, records, meta, dm):
    from msc_interop.sdtm.lb import build_lb
    from msc_interop.sdtm.vs import build_vs

    fresh = copy.copy(records)
    fresh.forms = dict(records.forms)
    return (build_lb if domain == "LB" else build_vs)(fresh, meta, dm)


def _timed(times: dict[tuple[str, str], list[float]], key: tuple[str, str], fn, *args, **kwargs):
    """fn(*args, **kwargs), timed into times[key]: garbage collected before the clock starts, the page cache's
    dirty pages written out (os.sync) after it stops."""
    gc.collect()
    t, cpu = time.perf_counter(), time.process_time()
    result = fn(*args, **kwargs)
    times.setdefault(key, []).append(time.perf_counter() - t)
    times.setdefault((*key, "cpu"), []).append(time.process_time() - cpu)
    os.sync()
    return result


def _one_round(domain: str, records, meta, dm, out: Path, version: str,
               times: dict[tuple[str, str], list[float]]) -> int:
    """The three paths of one domain, each timed; the FHIR folder removed (and synced) at the end."""
    from msc_interop.fhir import read_fhir, write_fhir
    from msc_interop.study import Study

    df = _timed(times, (domain, "to-sdtm"), _build, domain, records, meta, dm)
    rows = len(df)
    study = Study(meta, {"DM": dm, domain: df})
    del df
    shutil.rmtree(out, ignore_errors=True)
    result = _timed(times, (domain, "to-fhir"), write_fhir, study, out, version=version, bundle="none",
                    ndjson=True, validate=True)
    assert result.valid and result.counts["Observation"] == rows, (domain, result.findings[:3])
    del result, study
    back, report = _timed(times, (domain, "from-fhir"), read_fhir, [out])
    assert len(back[domain]) == rows and report.n_rejected_records == 0, domain
    del back, report
    shutil.rmtree(out, ignore_errors=True)
    os.sync()
    return rows


def run(rows: int, repeats: int, version: str) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="msc-bench-vs-"))
    try:
        records = _records(rows, workdir)
        meta, dm = _base_study(records)
        times: dict[tuple[str, str], list[float]] = {}
        n: dict[str, int] = {}
        for repeat in range(repeats):
            for domain in ("LB", "VS") if repeat % 2 == 0 else ("VS", "LB"):
                n[domain] = _one_round(domain, records, meta, dm, workdir / f"fhir-{domain}", version, times)
        out: dict = {"rows": n, "version": version, "repeats": repeats,
                     "order per repeat": ["LB,VS" if k % 2 == 0 else "VS,LB" for k in range(repeats)], "paths": {}}
        for path in ("to-sdtm", "to-fhir", "from-fhir"):
            rate = {d: (n[d] / min(times[(d, path)]), n[d] / statistics.median(times[(d, path)]))
                    for d in ("LB", "VS")}
            out["paths"][path] = {
                "LB rows/s (best, median)": [round(x) for x in rate["LB"]],
                "VS rows/s (best, median)": [round(x) for x in rate["VS"]],
                "VS/LB (best, median)": [round(rate["VS"][k] / rate["LB"][k], 2) for k in (0, 1)],
                "seconds LB": [round(x, 2) for x in times[("LB", path)]],
                "seconds VS": [round(x, 2) for x in times[("VS", path)]],
                "VS/LB by CPU time (best, median)": [
                    round(agg(times[("LB", path, "cpu")]) / agg(times[("VS", path, "cpu")]), 2)
                    for agg in (min, statistics.median)],
                "CPU seconds LB": [round(x, 2) for x in times[("LB", path, "cpu")]],
                "CPU seconds VS": [round(x, 2) for x in times[("VS", path, "cpu")]],
            }
        return out
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--version", default="R4", choices=["R4", "R5"])
    args = ap.parse_args()
    result = run(args.rows, args.repeats, args.version)
    print(f"{'path':<10} {'LB rows/s':>12} {'VS rows/s':>12} {'VS/LB':>6}   (best of {args.repeats}; "
          f"LB {result['rows']['LB']} rows, VS {result['rows']['VS']} rows)")
    for path, r in result["paths"].items():
        print(f"{path:<10} {r['LB rows/s (best, median)'][0]:>12} {r['VS rows/s (best, median)'][0]:>12} "
              f"{r['VS/LB (best, median)'][0]:>6}")
    json.dump(result, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
