"""Time `validate` on generated studies (SDTM: up to 1M LB rows) and bundles (FHIR: up to 100k entries).

SDTM: synth + build a study of about N LB rows (not timed as validation), then time
  - validate_study (the SDTM rules over the in-memory Study: what to-sdtm runs at the end),
  - validate_paths on the written Dataset-JSON folder and on the XPT folder (file rules, reading, SDTM rules,
    define.xml XSD and cross-checks), each in a fresh process in the order base, validate, base, where base is
    reading every dataset of the same folder into pandas (pyreadstat for XPT, orjson + DataFrame for
    Dataset-JSON): the ratio is validate / mean(base); peak RSS (VmHWM, reset before validate) is validate's own.
FHIR: a collection Bundle of N entries (1 Patient per 50 Observations, half the references Type/id, half
urn:uuid), then time reading it, the reference rule alone (MSC-FHIR-008: must grow linearly) and all FHIR rules
except the fhir.resources structure check (`--structure` adds it; it runs ~3k resources/s).

    python benchmarks/bench_validate.py                      # 10k, 100k, 1M LB rows; 25k, 50k, 100k entries
    python benchmarks/bench_validate.py --rows 1000000 --entries 100000 --formats json
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

from proc_memory import reset_peak, status_mb

LAB_ROWS_PER_SUBJECT = 55  # 11 tests x 5 visits
CREATED = "2026-01-01T00:00:00"


def run_sdtm(rows: int, formats: list[str], workdir: Path) -> dict:
    from msc_interop.records import read_records
    from msc_interop.sdtm.build import build_study
    from msc_interop.sdtm.define import write_define
    from msc_interop.sdtm.formats import write_study
    from msc_interop.synth import generate
    from msc_interop.validate import validate_study

    subjects = max(1, round(rows / LAB_ROWS_PER_SUBJECT))
    generate(subjects, 1, "scale").write(workdir / "records")
    study, _ = build_study(read_records(workdir / "records"))
    stages: dict[str, float] = {}
    t = time.perf_counter()
    report = validate_study(study)
    stages["validate_study"] = time.perf_counter() - t
    findings = {"validate_study": len(report.findings)}
    measured: dict[str, dict] = {}
    for fmt in formats:
        folder = workdir / "sdtm" / fmt
        write_study(study, folder, [fmt], created=CREATED)
        if fmt in ("xpt", "json"):
            write_define(study, folder / "define.xml", dataset_format=fmt, created=CREATED)
        # in a fresh process: the study built here does not count in validate's peak memory
        cmd = [sys.executable, __file__, "--measure", f"{fmt}:{folder}"]
        r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
        measured[fmt] = r
        stages[f"validate_paths {fmt}"] = r["validate_s"]
        findings[f"validate_paths {fmt}"] = r["findings"]
    return {"lb_rows": len(study["LB"]), "subjects": subjects, "stages": stages, "findings": findings,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "measured": measured}


def read_baseline(folder: Path, fmt: str) -> tuple[float, int]:
    """The baseline: every dataset of the folder read into pandas (XPT with pyreadstat, Dataset-JSON with
    orjson + DataFrame), nothing checked; (seconds, rows)."""
    import orjson
    import pandas as pd
    import pyreadstat

    t = time.perf_counter()
    rows = 0
    for path in sorted(folder.glob(f"*.{fmt}")):
        if fmt == "xpt":
            df, _ = pyreadstat.read_xport(str(path))
        else:
            doc = orjson.loads(path.read_bytes())
            df = pd.DataFrame(doc["rows"], columns=[c["name"] for c in doc["columns"]])
        rows += len(df)
        del df
    return time.perf_counter() - t, rows


def measure(fmt: str, folder: Path) -> dict:
    """base, validate_paths, base in this one process (the shared machine drifts); validate's peak RSS."""
    from msc_interop.validate import validate_paths

    read_baseline(folder, fmt)  # imports, page cache
    b1, rows = read_baseline(folder, fmt)
    before = status_mb("VmRSS")
    reset_peak()  # the peak starts again from here
    t = time.perf_counter()
    report = validate_paths([folder])
    took = time.perf_counter() - t
    peak = status_mb("VmHWM")
    b2, _ = read_baseline(folder, fmt)
    return {"rows_read": rows, "base_s": [b1, b2], "validate_s": took, "ratio": took / ((b1 + b2) / 2),
            "rss_before_mb": before, "peak_mb": peak, "findings": len(report.findings),
            "bytes": sum(p.stat().st_size for p in folder.iterdir())}


def write_bundle(path: Path, n: int) -> None:
    patients = max(1, n // 50)
    entries = [{"fullUrl": f"urn:uuid:00000000-0000-4000-8000-{i:012d}",
                "resource": {"resourceType": "Patient", "id": f"P{i}", "gender": "female"}} for i in range(patients)]
    for i in range(n - patients):
        p = i % patients
        ref = f"Patient/P{p}" if i % 2 else f"urn:uuid:00000000-0000-4000-8000-{p:012d}"
        entries.append({"fullUrl": f"urn:uuid:10000000-0000-4000-8000-{i:012d}", "resource": {
            "resourceType": "Observation", "id": f"O{i}", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "6690-2"}]},
            "subject": {"reference": ref}, "effectiveDateTime": "2009-03-20T08:30:00+08:00",
            "valueQuantity": {"value": 5.6, "unit": "10^9/L", "system": "http://unitsofmeasure.org", "code": "10*9/L"},
            "interpretation": [{"coding": [{"system":
                                            "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                                            "code": "N"}]}],
            "referenceRange": [{"low": {"value": 3.5, "system": "http://unitsofmeasure.org", "code": "10*9/L"},
                                "high": {"value": 9.5, "system": "http://unitsofmeasure.org", "code": "10*9/L"}}]}})
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}), encoding="utf-8")


def run_fhir(n: int, workdir: Path, structure: bool) -> dict:
    from msc_interop.validate import get_rule
    from msc_interop.validate.fhir_rules import read_fhir, references_resolve
    from msc_interop.validate.model import Scope
    from msc_interop.validate.registry import registered_functions

    path = workdir / f"bundle_{n}.json"
    write_bundle(path, n)
    stages: dict[str, float] = {}
    t = time.perf_counter()
    ctx, _ = read_fhir([path], "R4")
    stages["read"] = time.perf_counter() - t
    t = time.perf_counter()
    unresolved = list(references_resolve(ctx, get_rule("MSC-FHIR-008")))
    stages["references (MSC-FHIR-008)"] = time.perf_counter() - t
    functions = registered_functions()
    total = 0
    t = time.perf_counter()
    from msc_interop.validate import list_rules

    for meta in list_rules():
        if meta.scope == Scope.FHIR and (structure or meta.id != "MSC-FHIR-001"):
            total += len(list(functions[meta.id](ctx, meta)))
    stages["all FHIR rules" + ("" if structure else " but structure")] = time.perf_counter() - t
    return {"entries": n, "stages": stages, "unresolved": len(unresolved), "findings": total,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, action="append", help="LB rows (repeatable); default 10k, 100k, 1M")
    ap.add_argument("--entries", type=int, action="append", help="Bundle entries (repeatable); default 25k-100k")
    ap.add_argument("--formats", default="json,xpt", help="formats written and validated with validate_paths")
    ap.add_argument("--structure", action="store_true", help="include the fhir.resources structure check")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one size in this process
    ap.add_argument("--measure", help=argparse.SUPPRESS)  # internal: fmt:folder, base/validate/base
    args = ap.parse_args()
    if args.measure:
        fmt, folder = args.measure.split(":", 1)
        print(json.dumps(measure(fmt, Path(folder))))
        return
    if args.one:
        kind, size = args.one.split(":")
        with tempfile.TemporaryDirectory() as tmp:
            if kind == "sdtm":
                result = run_sdtm(int(size), args.formats.split(","), Path(tmp))
            else:
                result = run_fhir(int(size), Path(tmp), args.structure)
        print(json.dumps(result))
        return
    jobs = [("sdtm", r) for r in (args.rows or [10_000, 100_000, 1_000_000])]
    jobs += [("fhir", n) for n in (args.entries or [25_000, 50_000, 100_000])]
    for kind, size in jobs:  # each size in its own process: peak memory is that size's own
        cmd = [sys.executable, __file__, "--one", f"{kind}:{size}", "--formats", args.formats]
        cmd += ["--structure"] if args.structure else []
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        if kind == "sdtm":
            print(f"SDTM: {r['lb_rows']:>9,} LB rows ({r['subjects']:,} subjects), peak RSS {r['peak_rss_mb']:.0f} MB")
            for stage, seconds in r["stages"].items():
                print(f"    {stage:<24} {seconds:7.2f} s   {r['lb_rows'] / seconds:>10,.0f} LB rows/s   "
                      f"findings: {r['findings'][stage]}")
            for fmt, m in r["measured"].items():
                print(f"    {fmt}: base (pandas read) {m['base_s'][0]:.2f} / {m['base_s'][1]:.2f} s, validate "
                      f"{m['validate_s']:.2f} s, ratio {m['ratio']:.2f}x, peak RSS {m['peak_mb']:,.0f} MB "
                      f"(before {m['rss_before_mb']:,.0f}), {m['bytes'] / 1e6:,.0f} MB on disk")
            print(json.dumps(r))
        else:
            print(f"FHIR: {r['entries']:>9,} Bundle entries, peak RSS {r['peak_rss_mb']:.0f} MB, "
                  f"unresolved references: {r['unresolved']}, findings: {r['findings']}")
            for stage, seconds in r["stages"].items():
                print(f"    {stage:<32} {seconds:7.2f} s   {r['entries'] / seconds:>10,.0f} entries/s")


if __name__ == "__main__":
    main()
