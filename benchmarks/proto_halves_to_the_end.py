"""A timing prototype, not a conversion: what "halves carried to the end" could save in to-sdtm on two cores.

The question (benchmarks/README.md, issue 18): today the records are built in two processes (sdtm/load_in_two.py),
the other half is shipped and joined here (~0.45 s with a core idle at 1M lab rows), and then the whole study is
validated here while a forked process writes the files. Would each process validating and writing its own half
(no shipping, no join) be faster? This script times an upper bound of that design's benefit: each process builds
its half and then runs write_sdtm (define.xml, SDTM rules, Dataset-JSON files, their checks) on its half as if
it were a study of its own, with none of the exchanges a real design needs (whole-study facts for the rules,
findings merged, the two halves' rows of a dataset made one file, define.xml from both). Its output is two
half studies, not a study: only the times mean anything.

Rounds alternate the real `api.to_sdtm` (load split, as the CLI runs it) and the prototype in one process (the
first of each is a warm-up): wall, CPU of this process and its children, and when each process of the prototype
finished.

    python benchmarks/proto_halves_to_the_end.py --records /path/to/records-lab-only --rounds 3
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

CREATED = "2026-01-01T00:00:00"


def _cpu() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def real_run(records: Path, out: Path) -> dict[str, float]:
    """to-sdtm --format json of `records`, its load split in two processes (as on an idle machine)."""
    from msc_interop import api
    from msc_interop.sdtm import load_in_two

    load_in_two.SPLIT_BYTES, load_in_two.core_free = 0, lambda *a, **k: True
    shutil.rmtree(out, ignore_errors=True)
    cpu, t0 = _cpu(), time.perf_counter()
    api.to_sdtm(records, out, formats=["json"], created=CREATED)
    return {"wall": time.perf_counter() - t0, "cpu": _cpu() - cpu}


def _half_written(half, out: Path) -> int:
    """write_sdtm of one half as a study of its own (no fork inside: this process does all of it)."""
    import msc_interop.sdtm_output as sdtm_output
    from msc_interop.sdtm.build import study_level_datasets
    from msc_interop.study import Study

    datasets = dict(half.datasets)
    datasets.update({n: df for n, df in study_level_datasets(half.meta, datasets.get("EX"), datasets.get("DM")
                                                             ).items() if len(df.columns)})
    study = Study.of_conformed(half.meta, datasets)
    ahead = sdtm_output.checks_ahead(study)
    shutil.rmtree(out, ignore_errors=True)
    concurrent, sdtm_output.CONCURRENT_ROWS = sdtm_output.CONCURRENT_ROWS, 1 << 62
    try:
        written = sdtm_output.write_sdtm(study, out, ["json"], True, CREATED, ahead=ahead)
    finally:
        sdtm_output.CONCURRENT_ROWS = concurrent  # (the real run after this one forks its writer again)
    return len(sdtm_output.validate_written_sdtm(study, out, written, ahead).findings)


def prototype_run(records: Path, out: Path) -> dict[str, float]:
    """Each half built, validated and written by its own process; when each finished."""
    from msc_interop.distinct import shared_columns
    from msc_interop.forked import Forked
    from msc_interop.runtime import gc_frozen
    from msc_interop.sdtm import load_in_two

    cpu, t0 = _cpu(), time.perf_counter()
    with shared_columns(), gc_frozen():
        second = load_in_two.second_half_subjects(records)
        preparsed = load_in_two.preparse(records)

        def other() -> float:
            half = load_in_two.built_half(records, second, inside=True, preparsed=preparsed)
            _half_written(half, out / "other")
            return time.perf_counter() - t0

        with Forked(other) as child:
            half = load_in_two.built_half(records, second, inside=False, preparsed=preparsed)
            built = time.perf_counter() - t0
            _half_written(half, out / "this")
            this_done = time.perf_counter() - t0
            other_done = child.result()
    return {"wall": time.perf_counter() - t0, "cpu": _cpu() - cpu, "built": built, "this_done": this_done,
            "other_done": other_done}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=Path, required=True, help="a records folder (synth, lab-only)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from msc_interop.runtime import small_pages

    small_pages()  # (as the CLI)
    runs: dict[str, list[dict[str, float]]] = {"real": [], "prototype": []}
    with tempfile.TemporaryDirectory(prefix="msc-proto-") as tmp:
        out = Path(tmp)
        for i in range(args.rounds + 1):
            for name, fn in (("real", real_run), ("prototype", prototype_run)):
                figures = fn(args.records, out / name)
                if i:
                    runs[name].append(figures)
                    print(name, " ".join(f"{k} {v:.2f}" for k, v in figures.items()), flush=True)
    for name, figures in runs.items():
        print(f"{name}: median wall {statistics.median(f['wall'] for f in figures):.2f} s, "
              f"cpu {statistics.median(f['cpu'] for f in figures):.2f} core-s")


if __name__ == "__main__":
    main()
