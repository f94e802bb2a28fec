"""Benchmark: from-fhir's peak memory and time at two sizes, as ratios (issue 16's pull, issue 18).

    python benchmarks/bench_from_fhir_memory.py --subjects 714 2856 [--out FILE] [--work DIR]
    python benchmarks/bench_from_fhir_memory.py --fhir DIR_1M DIR_10M --partition on   (existing NDJSON folders)

Per size, a study is generated (`synth --profile scale`: 140 Observations a subject, labs, vital signs, ECG; 714
subjects make 99,960 Observations, 115,443 resources) and written once as FHIR NDJSON (`to-fhir --ndjson --bundle
none`). Then, each in a fresh process:
  * from-fhir : `msc-interop from-fhir FOLDER -o OUT` (the default formats: xpt, json, csv, with define.xml);
                its own VmHWM and wall time;
  * base      : the same process kind importing msc-interop's CLI and parsing every NDJSON line with
                orjson.loads (nothing kept): the interpreter with its imports, and the parse every read pays.
Figures: peak RSS per size, its growth per extra 100,000 Observations, the ratio of the two peaks against the
ratio of the sizes (1.0 when memory grows as the input does), and time against the base's (ratios of runs made
side by side on the same machine).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_CHILD = """import sys, time
started = time.perf_counter()
from msc_interop.cli import main
if sys.argv[1] == "base":
    import orjson
    from pathlib import Path
    for f in sorted(Path(sys.argv[2]).glob("*.ndjson")):
        with f.open("rb") as fh:
            for line in fh:
                orjson.loads(line)
    rc = 0
else:
    try:
        main(sys.argv[1:])
    except SystemExit as e:
        rc = e.code or 0
    else:
        rc = 0
hwm = next(ln.split()[1] for ln in open("/proc/self/status") if ln.startswith("VmHWM"))
print("FIGURES", hwm, time.perf_counter() - started, file=sys.stderr)
sys.exit(rc)
"""


def _child(*args: str) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one fresh process (its own VmHWM: ru_maxrss would carry this process's)."""
    res = subprocess.run([sys.executable, "-c", _CHILD, *args], capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({res.returncode}):\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}")
    line = next(ln for ln in res.stderr.splitlines() if ln.startswith("FIGURES"))
    _, hwm, seconds = line.split()
    return float(seconds), int(hwm) / 1024


def _observations(fhir: Path) -> int:
    with (fhir / "Observation.ndjson").open("rb") as fh:
        return sum(1 for line in fh if line.strip())


def _prepare(work: Path, subjects: int) -> Path:
    from msc_interop.cli import main

    records, fhir = work / f"records-{subjects}", work / f"fhir-{subjects}"
    if not (fhir / "Observation.ndjson").exists():
        for args in (["synth", "--subjects", str(subjects), "--seed", "1", "-o", str(records)],
                     ["to-fhir", str(records), "-o", str(fhir), "--bundle", "none", "--ndjson", "--no-validate"]):
            try:
                main(args)
            except SystemExit as e:
                if e.code:
                    raise
    return fhir


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subjects", type=int, nargs=2, default=[714, 2856])
    ap.add_argument("--work", type=Path, help="scratch folder (kept: the inputs are reused); default: a new one, "
                    "removed")
    ap.add_argument("--out", type=Path, help="JSON results file")
    ap.add_argument("--fhir", type=Path, nargs=2, help="two NDJSON folders to read instead of generated ones")
    ap.add_argument("--partition", default="auto", help="from-fhir --partition-subjects (auto|on|off|N)")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_from_fhir_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        sizes = []
        for i, subjects in enumerate(args.subjects):
            fhir = args.fhir[i] if args.fhir else _prepare(work, subjects)
            out = work / f"sdtm-{i}"
            shutil.rmtree(out, ignore_errors=True)
            seconds, peak = _child("from-fhir", str(fhir), "-o", str(out), "--created", "2026-01-01T00:00:00",
                                   "--partition-subjects", args.partition)
            base_s, base_mb = _child("base", str(fhir))
            sizes.append({"subjects": subjects, "observations": _observations(fhir), "from_fhir_s": round(seconds, 2),
                          "from_fhir_peak_mb": round(peak, 1), "base_s": round(base_s, 2),
                          "base_peak_mb": round(base_mb, 1), "time_ratio": round(seconds / base_s, 2)})
            print(json.dumps(sizes[-1]), flush=True)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    small, large = sizes
    extra = (large["observations"] - small["observations"]) / 100_000
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "partition_subjects": args.partition,
        "commit": subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                                 text=True).stdout.strip(),
        "sizes": sizes,
        "peak_growth_mb_per_100k_observations": round((large["from_fhir_peak_mb"] - small["from_fhir_peak_mb"])
                                                      / extra, 1),
        "peak_ratio": round(large["from_fhir_peak_mb"] / small["from_fhir_peak_mb"], 2),
        "size_ratio": round(large["observations"] / small["observations"], 2),
        "time_ratio_large_to_small": round(large["from_fhir_s"] / small["from_fhir_s"], 2),
    }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
