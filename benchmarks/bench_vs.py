"""Benchmark: VS at the LB path's rates. The same process times VS and LB of the same size through the same three
paths, alternating LB, VS, LB, VS, ... so the drift of a shared machine falls on both:

    python benchmarks/bench_vs.py --rows 1000000 [--repeats 2] [--version R4]

  * to-sdtm  : the builder of the domain (sdtm/lb.py build_lb, sdtm/vs.py build_vs) on checked records (synth
               "scale": ~55 lab rows and ~50 vital signs per subject; subjects enough for `rows` vital signs,
               the labs cut to the same number of rows). Reading the CSVs is shared code and not timed here.
  * to-fhir  : write_fhir of DM + the domain (NDJSON, every resource checked by the fast validator, as to-fhir).
  * from-fhir: read_fhir of that NDJSON folder back to a Study (the domain must come back with every row).
Figures: rows per second of each path for each domain, best and median over `--repeats`, and the ratio VS / LB
(1.0 = the same rate; below 1, VS is slower). Results as a table and JSON on stdout.
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
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


def run(rows: int, repeats: int, version: str) -> dict:
    from msc_interop.fhir import read_fhir, write_fhir
    from msc_interop.study import Study

    workdir = Path(tempfile.mkdtemp(prefix="msc-bench-vs-"))
    try:
        records = _records(rows, workdir)
        meta, dm = _base_study(records)
        times: dict[tuple[str, str], list[float]] = {}
        n: dict[str, int] = {}
        for _ in range(repeats):
            for domain in ("LB", "VS"):
                gc.collect()  # each path starts without the garbage of the one before (the other domain's)
                t = time.perf_counter()
                df = _build(domain, records, meta, dm)
                times.setdefault((domain, "to-sdtm"), []).append(time.perf_counter() - t)
                n[domain] = len(df)
                study = Study(meta, {"DM": dm, domain: df})
                out = workdir / f"fhir-{domain}"
                shutil.rmtree(out, ignore_errors=True)
                gc.collect()
                t = time.perf_counter()
                result = write_fhir(study, out, version=version, bundle="none", ndjson=True, validate=True)
                times.setdefault((domain, "to-fhir"), []).append(time.perf_counter() - t)
                assert result.valid and result.counts["Observation"] == len(df), (domain, result.findings[:3])
                del result
                gc.collect()
                t = time.perf_counter()
                back, report = read_fhir([out])
                times.setdefault((domain, "from-fhir"), []).append(time.perf_counter() - t)
                assert len(back[domain]) == len(df) and report.n_rejected_records == 0, domain
                del back, report, study, df
        out: dict = {"rows": n, "version": version, "repeats": repeats, "paths": {}}
        for path in ("to-sdtm", "to-fhir", "from-fhir"):
            rate = {d: (n[d] / min(times[(d, path)]), n[d] / statistics.median(times[(d, path)]))
                    for d in ("LB", "VS")}
            out["paths"][path] = {
                "LB rows/s (best, median)": [round(x) for x in rate["LB"]],
                "VS rows/s (best, median)": [round(x) for x in rate["VS"]],
                "VS/LB (best, median)": [round(rate["VS"][k] / rate["LB"][k], 2) for k in (0, 1)],
                "seconds LB": [round(x, 2) for x in times[("LB", path)]],
                "seconds VS": [round(x, 2) for x in times[("VS", path)]],
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
