"""Benchmark: SDTM LB -> FHIR NDJSON -> SDTM, beside two baselines.

    python benchmarks/bench_fhir.py --rows 100000 1000000 [--version R4] [--sample 5000]

For each size, a study of that many LB rows is made by repeating the bundled example's subjects (same tests,
visits and dates shape), then:
  * write   : write_fhir(..., bundle="none", ndjson=True, validate=True): build every resource, check every
              resource with the fast validator (jsonschema-rs, official schema subset), stream NDJSON to disk;
  * read    : read_fhir on that folder back to a Study (and the LB must equal the original, cell for cell);
  * base (a): the same Observations built and serialised through fhir.resources models
              (Observation.model_validate(d).model_dump_json()), timed on `--sample` rows and scaled;
  * base (b): bare orjson.dumps of the already-built Observation dicts (no building, no checking, no I/O);
              the dicts share their element objects between rows, as a dict-per-row builder makes them.
Peak memory (ru_maxrss) is measured in a child process per size: after the study is made, and after writing.
Figures are rows (= Observations) per second. Results go to stdout as a table and JSON.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson
import pandas as pd

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


def _child(rows: int, version: str, queue: mp.Queue) -> None:
    from msc_interop.fhir import read_fhir, write_fhir

    study = make_study(rows)
    rss_study = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        t = time.perf_counter()
        result = write_fhir(study, out, version=version, bundle="none", ndjson=True, validate=True)
        t_write = time.perf_counter() - t
        rss_write = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        size = sum(p.stat().st_size for p in out.glob("*.ndjson"))
        t = time.perf_counter()
        back, report = read_fhir([out])
        t_read = time.perf_counter() - t
        same = back["LB"].equals(study["LB"]) and len(report) == 0
        pd.testing.assert_frame_equal(back["LB"], study["LB"])
    queue.put({"rows": rows, "write_s": t_write, "read_s": t_read, "findings": len(result.findings),
               "resources": result.total, "ndjson_bytes": size, "roundtrip_exact": bool(same),
               "rss_after_study_mb": rss_study / 1024, "rss_after_write_mb": rss_write / 1024})


def baselines(rows: int, version: str, sample: int) -> dict[str, float]:
    """(a) fhir.resources build + dump and (b) bare orjson.dumps, on the same Observation dicts."""
    import importlib

    from msc_interop.fhir.context import make_context
    from msc_interop.fhir.resources.lab import build_chunk
    from msc_interop.fhir.versions import get_version

    spec = get_version(version)
    study = make_study(min(rows, 200_000))
    ctx = make_context(study, spec, study.meta.timezone, in_bundle=False)
    t = time.perf_counter()
    chunk = build_chunk(ctx, study["LB"])
    t_build = time.perf_counter() - t
    dicts = chunk.dicts()  # the same Observations as dicts (element objects shared between rows)
    t = time.perf_counter()
    for d in dicts:
        orjson.dumps(d)
    t_dump = time.perf_counter() - t
    model = importlib.import_module(f"{spec.models_package}.observation").Observation
    some = dicts[:sample]
    for d in dicts[-20:]:  # warm up: pydantic builds its validators on first use
        model.model_validate(d).model_dump_json()
    t = time.perf_counter()
    for d in some:
        model.model_validate(d).model_dump_json()
    t_models = time.perf_counter() - t
    return {"b_dumps_per_s": len(dicts) / t_dump, "a_models_per_s": len(some) / t_models,
            "build_only_per_s": len(dicts) / t_build}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--version", default="R4", choices=["R4", "R5"])
    ap.add_argument("--sample", type=int, default=3000, help="rows timed for baseline (a)")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(REPO / "src"))
    results = []
    base = baselines(max(args.rows), args.version, args.sample)
    for rows in args.rows:
        q: mp.Queue = mp.get_context("spawn").Queue()
        p = mp.get_context("spawn").Process(target=_child, args=(rows, args.version, q))
        p.start()
        r = q.get()
        p.join()
        r["write_per_s"] = rows / r["write_s"]
        r["read_per_s"] = rows / r["read_s"]
        r["x_models"] = r["write_per_s"] / base["a_models_per_s"]
        r["pct_of_dumps"] = 100 * r["write_per_s"] / base["b_dumps_per_s"]
        results.append(r)
    print(f"baseline (a) fhir.resources model_validate + model_dump_json: {base['a_models_per_s']:,.0f} Observations/s")
    print(f"baseline (b) orjson.dumps of built dicts:                    {base['b_dumps_per_s']:,.0f} Observations/s")
    print(f"(building the Observations column-wise alone, one chunk:     {base['build_only_per_s']:,.0f}/s)")
    print(f"{'rows':>10} {'write/s':>10} {'x(a)':>7} {'%(b)':>6} {'read/s':>10} {'findings':>9} {'exact':>6} "
          f"{'MB study':>9} {'MB write':>9} {'NDJSON MB':>10}")
    for r in results:
        print(f"{r['rows']:>10,} {r['write_per_s']:>10,.0f} {r['x_models']:>7.1f} {r['pct_of_dumps']:>6.1f} "
              f"{r['read_per_s']:>10,.0f} {r['findings']:>9} {r['roundtrip_exact']!s:>6} "
              f"{r['rss_after_study_mb']:>9.0f} {r['rss_after_write_mb']:>9.0f} {r['ndjson_bytes'] / 1e6:>10.0f}")
    print(json.dumps({"baselines": base, "runs": results}, default=float))
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    raise SystemExit(main())
