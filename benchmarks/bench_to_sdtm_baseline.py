"""`to-sdtm` (with its default validation) against the bare baseline, in one process (issue 18, first Must show).

Synth writes study records of about N LB rows (not timed); then, alternating for `--repeats` rounds, each path
runs after gc.collect() with its peak RSS (VmHWM) reset, so its peak is its own:

- base xpt (pyreadstat): pandas.read_csv of the lab records + pyreadstat.write_xport of that table (the
  issue's baseline);
- base xpt (ours): pandas.read_csv + msc-interop's column-wise XPT writer (sdtm/xpt.py) of the same table;
- base json: pandas.read_csv + orjson of {"columns", "rows"} of the same table, its bytes written 64 KiB a call
  as msc-interop writes (one 115 MB call was slow in some rounds on this VM: page_cache_writes.py);
- to-sdtm xpt / to-sdtm json: api.to_sdtm(records, formats=[fmt]) as the CLI runs it (define.xml, reject
  report, validation of what was written: validate/written.py, on the Study in memory);
- to-sdtm xpt/json --no-validate, and `validate` of that output folder (what the validation cost when it read
  the files back: no-validate + validate is the former to-sdtm).

Ratios are to-sdtm / base of the same round (the machine's speed drifts; the median over rounds is reported),
and the median to-sdtm against the baseline's fastest round (pyreadstat's own write calls, which cannot be paced, are
slow in some rounds on this VM, which flatters the per-round ratio: benchmarks/page_cache_writes.py).
`--lab-only`: the records are the study definition, subjects, exposures and labs only (the baseline's table and
what LB needs), so that to-sdtm does the work the baseline does plus the mapping, not 16 other domains.

    flock /tmp/msc-bench.lock python benchmarks/bench_to_sdtm_baseline.py --rows 1000000 --repeats 2 \
        --out benchmarks/results/bench_to_sdtm_1m_2026-12-04.json
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from proc_memory import reset_peak, status_mb

LAB_ROWS_PER_SUBJECT = 55  # 11 tests x 5 visits
CREATED = "2026-01-01T00:00:00"


def _timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(seconds, peak RSS MB) of one call, after a collection and with the peak reset (Linux clear_refs)."""
    gc.collect()
    reset_peak()
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t, status_mb("VmHWM")


def _lab_table(labs: Path):
    """The lab records as pandas reads them, named as XPT v5 allows (at most 8 characters), text as object
    (pyreadstat is ~3x slower on pandas 3 string columns: a fair baseline gives it object)."""
    import pandas as pd

    df = pd.read_csv(labs)
    df.columns = [c.upper()[:8] for c in df.columns]
    return df.astype({c: object for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])})


def base_xpt_pyreadstat(labs: Path, out: Path) -> None:
    import pyreadstat

    pyreadstat.write_xport(_lab_table(labs), str(out), table_name="LB", file_format_version=5)


def base_xpt_ours(labs: Path, out: Path) -> None:
    from msc_interop.sdtm import xpt

    xpt.write_conformed(_lab_table(labs), "LB", out)


def base_json(labs: Path, out: Path) -> None:
    import orjson
    import pandas as pd

    df = pd.read_csv(labs)
    doc = {"columns": [{"name": c, "dataType": str(t)} for c, t in df.dtypes.items()],
           "rows": df.to_numpy(dtype=object).tolist()}
    _write_paced(out, orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY))


def _write_paced(out: Path, blob: bytes) -> None:
    """`blob` written in calls of atomic.WRITE_PIECE bytes, as every msc-interop writer writes: one big write call
    is slow in some rounds on this VM (large page-cache folios of never-touched memory: page_cache_writes.py), a
    cost of the call's size, not of the work, which made the baseline bimodal (2.0 / 2.6 s) and flattered the
    per-round ratio."""
    from msc_interop.atomic import WRITE_PIECE

    view = memoryview(blob)
    with open(out, "wb", buffering=0) as fh:
        for at in range(0, len(view), WRITE_PIECE):
            fh.write(view[at:at + WRITE_PIECE])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000, help="LB rows (about)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--work", type=Path, help="folder for the generated files (default: a temp folder)")
    ap.add_argument("--out", type=Path, help="write the results JSON here")
    ap.add_argument("--lab-only", action="store_true",
                    help="records of subjects, exposures and labs only (see the module docstring)")
    args = ap.parse_args()

    from msc_interop import api
    from msc_interop.runtime import small_pages
    from msc_interop.synth import generate
    from msc_interop.validate import validate_paths

    small_pages()  # as every CLI command runs (runtime.small_pages); the baselines run with it too

    work = args.work or Path(tempfile.mkdtemp(prefix="msc-bench-"))
    records = work / "records"
    if not (records / "labs.csv").is_file():
        generate(max(1, round(args.rows / LAB_ROWS_PER_SUBJECT)), 1, "scale").write(records)
    if args.lab_only:
        lab_only = work / "records-lab-only"
        if not (lab_only / "labs.csv").is_file():
            lab_only.mkdir(parents=True, exist_ok=True)
            for name in ("study.yaml", "subjects.csv", "exposures.csv", "labs.csv"):
                shutil.copyfile(records / name, lab_only / name)
        records = lab_only
    labs = records / "labs.csv"

    def to_sdtm(fmt: str, validate: bool) -> Callable[[], object]:
        def go() -> None:
            out = work / f"sdtm_{fmt}"
            shutil.rmtree(out, ignore_errors=True)
            result = api.to_sdtm(records, out, formats=[fmt], created=CREATED, validate=validate)
            seen["lb_rows"] = len(result.study["LB"])
            if validate:
                seen[f"findings {fmt}"] = len(result.validation.findings)
        return go

    def read_back(fmt: str) -> Callable[[], object]:
        def go() -> None:
            seen[f"findings read back {fmt}"] = len(validate_paths([work / f"sdtm_{fmt}"]).findings)
        return go

    seen: dict[str, int] = {}
    paths: dict[str, Callable[[], object]] = {
        "base xpt (pyreadstat)": lambda: base_xpt_pyreadstat(labs, work / "base.xpt"),
        "base xpt (ours)": lambda: base_xpt_ours(labs, work / "base_ours.xpt"),
        "to-sdtm xpt": to_sdtm("xpt", True),
        "to-sdtm xpt --no-validate": to_sdtm("xpt", False),
        "validate xpt output (read back)": read_back("xpt"),
        "base json": lambda: base_json(labs, work / "base.json"),
        "to-sdtm json": to_sdtm("json", True),
        "to-sdtm json --no-validate": to_sdtm("json", False),
        "validate json output (read back)": read_back("json"),
    }
    rounds: list[dict[str, tuple[float, float]]] = []
    for r in range(args.repeats):
        times = {}
        for name, fn in paths.items():
            times[name] = _timed(fn)
            print(f"round {r + 1} {name:<34} {times[name][0]:8.2f} s  peak {times[name][1]:7.0f} MB", flush=True)
        rounds.append(times)
        summary = _summary(rounds, paths, seen, "subjects, exposures, labs" if args.lab_only
                           else "every form synth writes")  # written after every round: a stopped run keeps its rounds
        if args.out:
            args.out.write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(summary, indent=1))


def _summary(rounds: list[dict[str, tuple[float, float]]], paths: dict, seen: dict[str, int], records: str) -> dict:
    """Seconds, peak RSS and ratios of the rounds so far."""

    def ratio(a: str, b: str) -> list[float]:
        return [round(t[a][0] / t[b][0], 2) for t in rounds]

    def former(fmt: str) -> str:
        return f"to-sdtm {fmt} --no-validate"

    summary = {
        "records": records,
        "lb_rows": seen.get("lb_rows"),
        "findings": {k: v for k, v in seen.items() if k.startswith("findings")},
        "seconds": {name: [round(t[name][0], 2) for t in rounds] for name in paths},
        "peak_rss_mb": {name: [round(t[name][1]) for t in rounds] for name in paths},
        "ratios (per round)": {
            "to-sdtm xpt / base xpt (pyreadstat)": ratio("to-sdtm xpt", "base xpt (pyreadstat)"),
            "to-sdtm xpt / base xpt (ours)": ratio("to-sdtm xpt", "base xpt (ours)"),
            "to-sdtm json / base json": ratio("to-sdtm json", "base json"),
            "former to-sdtm xpt (no-validate + read back) / base xpt (pyreadstat)": [
                round((t[former("xpt")][0] + t["validate xpt output (read back)"][0])
                      / t["base xpt (pyreadstat)"][0], 2) for t in rounds],
            "former to-sdtm json (no-validate + read back) / base json": [
                round((t[former("json")][0] + t["validate json output (read back)"][0]) / t["base json"][0], 2)
                for t in rounds],
        },
    }
    summary["ratios (median)"] = {k: round(statistics.median(v), 2) for k, v in summary["ratios (per round)"].items()}
    # the baselines' one big write call is slow on some rounds (a page-cache effect of this VM: page_cache_writes.py),
    # which flatters a ratio; this one takes each baseline at its fastest round
    summary["ratios (median run / fastest baseline round)"] = {
        f"{run} / {base}": round(statistics.median(t[run][0] for t in rounds) / min(t[base][0] for t in rounds), 2)
        for run, base in (("to-sdtm xpt", "base xpt (pyreadstat)"), ("to-sdtm json", "base json"))}
    return summary


if __name__ == "__main__":
    main()
