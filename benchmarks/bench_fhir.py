"""Benchmark: SDTM LB -> FHIR NDJSON -> SDTM, beside two baselines.

    python benchmarks/bench_fhir.py --rows 100000 1000000 [--version R4] [--repeats 3]

For each size, a study of that many LB rows is made by repeating the bundled example's subjects (same tests,
visits and dates shape; ~55 lab rows per subject, so 1M rows carry 18,000 Patients and 182,000 Encounters),
then, in a fresh process per size:
  * write   : write_fhir(..., bundle="none", ndjson=True, validate=True): build every resource, check every
              resource with the fast validator (jsonschema-rs, official schema subset), stream NDJSON to disk.
              Timed `--repeats` times.
  * base (b): bare orjson.dumps of the already-built Observation dicts (no building, no checking, no I/O);
              the dicts share their element objects between rows, as a dict-per-row builder makes them
              (200,000 of them at most). Timed after each write: this machine's speed drifts by tens of
              percent over minutes, so the ratio compares runs made side by side (best/best, median/median).
  * read    : read_fhir on the written folder back to a Study (and the LB must equal the original, cell for
              cell), once.
  * base (a): the same Observations built and serialised through fhir.resources models
              (Observation.model_validate(d).model_dump_json()), timed on `--sample` rows, in the parent.
Memory (Linux /proc/self/status): the process with the study made (VmRSS), and its peak during the first write
(VmHWM, reset after the study is made). Figures are rows (= Observations)
per second. Results go to stdout as a table and JSON.
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing as mp
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
from proc_memory import reset_peak, status_mb

REPO = Path(__file__).resolve().parents[1]


def make_study(rows: int):
    """A study with `rows` LB rows: the example's subjects repeated under new USUBJIDs (DM alongside)."""
    from msc_interop.api import load_study
    from msc_interop.study import Study

    base, _ = load_study(REPO / "fixtures" / "example_study")
    lb0, dm0 = base["LB"], base["DM"]
    reps = -(-rows // len(lb0))
    lbs, dms = [], []
    for k in range(reps):
        suffix = f"-R{k:06d}"
        lb = lb0.copy()
        lb["USUBJID"] = lb["USUBJID"] + suffix
        lbs.append(lb)
        dm = dm0.copy()
        dm["USUBJID"] = dm["USUBJID"] + suffix
        dm["SUBJID"] = dm["SUBJID"] + suffix
        dms.append(dm)
    lb = pd.concat(lbs, ignore_index=True).iloc[:rows].reset_index(drop=True)
    dm = pd.concat(dms, ignore_index=True)
    dm = dm[dm["USUBJID"].isin(set(lb["USUBJID"]))].reset_index(drop=True)
    return Study(base.meta, {"DM": dm, "LB": lb})


def _dump_rate(dicts: list[dict]) -> float:
    """Baseline (b): bare orjson.dumps of already-built dicts, in Observations per second."""
    t = time.perf_counter()
    for d in dicts:
        orjson.dumps(d)
    return len(dicts) / (time.perf_counter() - t)


def _child(rows: int, version: str, repeats: int, queue: mp.Queue) -> None:
    """One size, in a fresh process: the write timed `repeats` times with baseline (b) timed between the
    writes (this machine's speed drifts by tens of percent over minutes: interleaving keeps the ratio fair),
    then one read back. Peak memory is read after the first write, before the baseline's dicts exist."""
    from msc_interop.fhir import read_fhir, write_fhir
    from msc_interop.fhir.context import make_context
    from msc_interop.fhir.resources.lab import build_chunk
    from msc_interop.fhir.versions import get_version

    study = make_study(rows)
    gc.collect()
    rss_study = status_mb("VmRSS")
    reset_peak()  # the peak of making the study is not the writer's
    writes, dumps = [], []
    dicts: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(repeats):
            out = Path(tmp) / f"run{k}"
            t = time.perf_counter()
            result = write_fhir(study, out, version=version, bundle="none", ndjson=True, validate=True)
            writes.append(time.perf_counter() - t)
            if k == 0:
                rss_write = status_mb("VmHWM")
                size = sum(p.stat().st_size for p in out.glob("*.ndjson"))
                ctx = make_context(study, get_version(version), study.meta.timezone, in_bundle=False)
                # the same Observations as dicts sharing their element objects, as a dict-per-row builder makes
                dicts = build_chunk(ctx, 0, min(rows, 200_000)).dicts()
            dumps.append(_dump_rate(dicts))
            if k < repeats - 1:
                shutil.rmtree(out)
        t = time.perf_counter()
        back, report = read_fhir([out])
        t_read = time.perf_counter() - t
        same = back["LB"].equals(study["LB"]) and len(report) == 0
        pd.testing.assert_frame_equal(back["LB"], study["LB"])
    queue.put({"rows": rows, "write_s": writes, "b_dumps_per_s": dumps, "read_s": t_read,
               "findings": len(result.findings), "resources": result.total, "ndjson_bytes": size,
               "roundtrip_exact": bool(same), "rss_study_mb": rss_study, "rss_peak_write_mb": rss_write})


def baseline_a(version: str, sample: int) -> float:
    """(a) fhir.resources model_validate + model_dump_json of the same Observations, per second."""
    import importlib

    from msc_interop.fhir.context import make_context
    from msc_interop.fhir.resources.lab import build_chunk
    from msc_interop.fhir.versions import get_version

    spec = get_version(version)
    study = make_study(sample + 20)
    ctx = make_context(study, spec, study.meta.timezone, in_bundle=False)
    dicts = build_chunk(ctx, 0, len(study["LB"])).dicts()
    model = importlib.import_module(f"{spec.models_package}.observation").Observation
    for d in dicts[-20:]:  # warm up: pydantic builds its validators on first use
        model.model_validate(d).model_dump_json()
    t = time.perf_counter()
    for d in dicts[:sample]:
        model.model_validate(d).model_dump_json()
    return sample / (time.perf_counter() - t)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--version", default="R4", choices=["R4", "R5"])
    ap.add_argument("--sample", type=int, default=3000, help="rows timed for baseline (a)")
    ap.add_argument("--repeats", type=int, default=3, help="writes (and baseline (b) runs) per size")
    args = ap.parse_args(argv)
    a_rate = baseline_a(args.version, args.sample)
    results = []
    for rows in args.rows:
        q: mp.Queue = mp.get_context("spawn").Queue()
        p = mp.get_context("spawn").Process(target=_child, args=(rows, args.version, args.repeats, q))
        p.start()
        r = q.get()
        p.join()
        r["write_per_s_best"] = rows / min(r["write_s"])
        r["write_per_s_median"] = rows / statistics.median(r["write_s"])
        r["b_per_s_best"] = max(r["b_dumps_per_s"])
        r["b_per_s_median"] = statistics.median(r["b_dumps_per_s"])
        r["read_per_s"] = rows / r["read_s"]
        r["x_models"] = r["write_per_s_best"] / a_rate
        r["pct_of_dumps_best"] = 100 * r["write_per_s_best"] / r["b_per_s_best"]
        r["pct_of_dumps_median"] = 100 * r["write_per_s_median"] / r["b_per_s_median"]
        results.append(r)
    print(f"baseline (a) fhir.resources model_validate + model_dump_json: {a_rate:,.0f} Observations/s")
    print(f"write: best and median of {args.repeats} runs; baseline (b), orjson.dumps of the built dicts, timed "
          "after each write; %(b) = best/best and median/median")
    print(f"{'rows':>10} {'write/s':>16} {'(b)/s':>18} {'x(a)':>6} {'%(b)':>11} {'read/s':>8} {'findings':>8} "
          f"{'exact':>5} {'MB study':>8} {'MB peak':>8} {'NDJSON MB':>9}")
    for r in results:
        print(f"{r['rows']:>10,} {r['write_per_s_best']:>8,.0f} {r['write_per_s_median']:>7,.0f} "
              f"{r['b_per_s_best']:>9,.0f} {r['b_per_s_median']:>8,.0f} {r['x_models']:>6.0f} "
              f"{r['pct_of_dumps_best']:>5.1f} {r['pct_of_dumps_median']:>5.1f} {r['read_per_s']:>8,.0f} "
              f"{r['findings']:>8} {r['roundtrip_exact']!s:>5} {r['rss_study_mb']:>8.0f} "
              f"{r['rss_peak_write_mb']:>8.0f} {r['ndjson_bytes'] / 1e6:>9.0f}")
    print(json.dumps({"baseline_a_models_per_s": a_rate, "runs": results}, default=float))
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    raise SystemExit(main())
