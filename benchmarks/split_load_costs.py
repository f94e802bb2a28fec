"""What a to-sdtm load split over two processes would cost and save (issue 18: Dataset-JSON within 2x), measured.

to-sdtm reads and builds the study on one core (~3.4 s of ~4.8 s at 1M lab rows), then writes on two. This
measures the parts of loading each half of the subjects in its own process, in one process, without changing
the tool:

1. read_records and build_study of the whole records folder and of the records of the first half of the
   subjects (their rows of subjects.csv, exposures.csv and labs.csv; written to a temp folder first, not timed);
2. shipping the second half of LB from a forked process to this one as each column's codes and distinct values
   (pickle through a pipe), and joining it to the first half by codes: the distinct values united, the second
   half's codes renumbered into the union, each column taken from the union (checked equal to the whole LB).

    python benchmarks/split_load_costs.py --records /path/to/records-lab-only --rounds 2
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

PER_SUBJECT_FILES = ("subjects.csv", "exposures.csv", "labs.csv")


def half_of_subjects(records: Path, out: Path) -> int:
    """The records of the first half of the subjects (subjects.csv order) in `out`; returns that many subjects."""
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(records / "study.yaml", out / "study.yaml")
    subjects = pd.read_csv(records / "subjects.csv", dtype=str, keep_default_na=False)
    keep = set(subjects["subject_id"].iloc[: len(subjects) // 2])
    for name in PER_SUBJECT_FILES:
        table = pd.read_csv(records / name, dtype=str, keep_default_na=False)
        table[table["subject_id"].isin(keep)].to_csv(out / name, index=False)
    return len(keep)


def load_times(records: Path) -> tuple[float, float]:
    """(read_records, build_study) seconds, as to-sdtm runs them (shared_columns)."""
    from msc_interop.distinct import shared_columns
    from msc_interop.records import read_records
    from msc_interop.sdtm.build import build_study

    with shared_columns():
        t = time.perf_counter()
        raw = read_records(records)
        t1 = time.perf_counter()
        build_study(raw)
        return t1 - t, time.perf_counter() - t1


def _coded(df: pd.DataFrame) -> dict[str, tuple[np.ndarray | None, np.ndarray]]:
    """Each text column as (int32 codes, distinct values); other columns as (None, values)."""
    out = {}
    for col in df.columns:
        if df[col].dtype == object:
            codes, uniques = pd.factorize(df[col].to_numpy(dtype=object), use_na_sentinel=False)
            out[col] = (codes.astype(np.int32), np.asarray(uniques, dtype=object))
        else:
            out[col] = (None, df[col].to_numpy())
    return out


def ship_and_join(lb: pd.DataFrame) -> tuple[float, float, float, int, bool]:
    """(pickle s, pipe + unpickle s, join s, MB shipped, joined == whole) for LB cut in two halves."""
    half = len(lb) // 2
    first, second = _coded(lb.iloc[:half]), _coded(lb.iloc[half:])
    t0 = time.perf_counter()
    blob = pickle.dumps(second, protocol=pickle.HIGHEST_PROTOCOL)
    t1 = time.perf_counter()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the other process: hands its half over
        os.close(read_end)
        with os.fdopen(write_end, "wb") as fh:
            fh.write(blob)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as fh:
        got = pickle.loads(fh.read())
    os.waitpid(pid, 0)
    t2 = time.perf_counter()
    joined = {}
    for col in lb.columns:
        (a_codes, a_values), (b_codes, b_values) = first[col], got[col]
        if a_codes is None:
            joined[col] = np.concatenate([a_values, b_values])
            continue
        at = pd.Index(a_values).get_indexer(b_values)
        new = at < 0
        union = np.concatenate([a_values, b_values[new]])
        at[new] = len(a_values) + np.arange(int(new.sum()))
        joined[col] = union[np.concatenate([a_codes, at[b_codes].astype(np.int32)])]
    t3 = time.perf_counter()
    same = all(np.array_equal(np.asarray(joined[c], dtype=object), lb[c].to_numpy(dtype=object))
               for c in lb.columns if lb[c].dtype == object)
    return t1 - t0, t2 - t1, t3 - t2, len(blob) >> 20, same


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=Path, required=True, help="a records folder (study.yaml + CSV files)")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()

    from msc_interop import api
    from msc_interop.distinct import shared_columns
    from msc_interop.runtime import small_pages

    small_pages()
    with tempfile.TemporaryDirectory(prefix="msc-half-") as tmp:
        half = Path(tmp) / "half"
        n = half_of_subjects(args.records, half)
        for r in range(args.rounds):
            for label, folder in (("all subjects", args.records), (f"first {n} subjects", half)):
                read, build = load_times(folder)
                print(f"round {r + 1} {label:>22}: read {read:.2f} s, build {build:.2f} s, load {read + build:.2f} s",
                      flush=True)
    with shared_columns():
        study, _ = api._load_decoded(args.records, None, None)
    for r in range(args.rounds):
        pickled, piped, join, mb, same = ship_and_join(study["LB"])
        print(f"round {r + 1} LB's second half: pickle {pickled:.3f} s ({mb} MB), pipe + unpickle {piped:.3f} s, "
              f"join by codes {join:.3f} s; joined equals the whole: {same}", flush=True)


if __name__ == "__main__":
    main()
