"""The Dataset-JSON writer (column-wise, sdtm/json_encoded.py) against the row-wise reference, in one process.

Two frames, each written by both ways alternating for `--rounds` rounds, the peak RSS reset before each write
(so a peak is the write's own), the bytes compared:

- "LB-like": `--rows` rows of 12 variables of few distinct values each (tests, units, visits, a date a subject
  visit), as a lab dataset has;
- "an identifier a row": the same rows with a unique text and a unique number (LBREFID, a result): the column
  shape the column-wise writer is weakest on (every value distinct: Deferred, encoded a chunk at a time).

The reference is the row-wise writer the project had (4a8f569): a list of Python values per row from
`_Encoder.slice`, orjson of 100k rows at a time. Prints seconds, the peak RSS added by the write, and ratios.

    python benchmarks/bench_json_writer.py --rows 1000000 --rounds 2
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
from proc_memory import reset_peak, status_mb

from msc_interop.atomic import paced_open
from msc_interop.sdtm import datasetjson

CREATED = "2026-01-01T00:00:00"


def lb_like(n: int, unique: bool) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    tests = np.array(["ALT", "AST", "HGB", "WBC", "PLAT", "CREAT", "BILI", "ALB", "NEUT", "LYM", "AFP"], dtype=object)
    units = np.array(["U/L", "U/L", "g/L", "10^9/L", "10^9/L", "umol/L", "umol/L", "g/L", "10^9/L", "10^9/L", "ug/L"],
                     dtype=object)
    t = rng.integers(0, len(tests), n)
    subject = np.arange(n) // 55
    day = (subject * 7 + (np.arange(n) % 55) // 11 * 90) % 4000
    frame = pd.DataFrame({
        "STUDYID": np.full(n, "MSC-SLE", dtype=object), "DOMAIN": np.full(n, "LB", dtype=object),
        "USUBJID": np.array([f"MSC-SLE-{s:06d}" for s in range(subject[-1] + 1)], dtype=object)[subject],
        "LBSEQ": (np.arange(n) % 55 + 1).astype(np.int64), "LBTESTCD": tests[t], "LBORRESU": units[t],
        "LBORRES": np.array([f"{x:.1f}" for x in range(3000)], dtype=object)[rng.integers(0, 3000, n)],
        "LBSTRESN": rng.integers(0, 3000, n) / 10, "VISITNUM": ((np.arange(n) % 55) // 11 + 1).astype(np.float64),
        "LBDTC": (np.datetime64("2010-01-01") + day).astype(str).astype(object), "LBDY": day.astype(np.int64) + 1,
        "EPOCH": np.where(day > 7, "FOLLOW-UP", "TREATMENT").astype(object),
    })
    if unique:
        frame["LBREFID"] = np.array([f"SPEC-{i:09d}" for i in range(n)], dtype=object)
        frame["LBSTRESN"] = np.arange(n) * 0.25 + 0.125
    return frame


def row_wise(frame: pd.DataFrame, path: Path) -> None:
    """The reference: rows as lists of Python values, orjson 100k rows at a time (the header as the writer's)."""
    data = datasetjson._conformed("LB", frame)
    columns, _ = datasetjson._columns("LB", data)
    encoders = [datasetjson._Encoder(data[c["name"]], c["dataType"]) for c in columns]
    header = datasetjson._header("LB", data, columns, None, CREATED)
    with paced_open(path, "wb") as fh:  # (written as the tool writes: the encoding is what is compared)
        fh.write(orjson.dumps({**header, "rows": []})[:-2])
        for a in range(0, len(data), 100_000):
            b = min(a + 100_000, len(data))
            rows = list(zip(*(e.slice(a, b) for e in encoders), strict=True))
            fh.write(b"," if a else b"")
            fh.write(orjson.dumps(rows)[1:-1])
        fh.write(b"]}")


def column_wise(frame: pd.DataFrame, path: Path) -> None:
    datasetjson.write_dataset_json(frame, "LB", path, created=CREATED)


def timed(fn: Callable[[], None]) -> tuple[float, float]:
    """(seconds, MB the peak RSS rose above the RSS before) of one call."""
    gc.collect()
    reset_peak()
    before = status_mb("VmRSS")
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t, status_mb("VmHWM") - before


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="msc-json-") as tmp:
        for label, unique in (("LB-like", False), ("an identifier a row", True)):
            frame = lb_like(args.rows, unique)
            paths = {"row-wise": Path(tmp) / "ref.json", "column-wise": Path(tmp) / "new.json"}
            for r in range(args.rounds):
                got = {name: timed(lambda fn=fn, p=paths[name], f=frame: fn(f, p))
                       for name, fn in (("row-wise", row_wise), ("column-wise", column_wise))}
                same = paths["row-wise"].read_bytes() == paths["column-wise"].read_bytes()
                (rt, rm), (ct, cm) = got["row-wise"], got["column-wise"]
                print(f"{label:>20} round {r + 1}: row-wise {rt:.2f} s +{rm:.0f} MB, column-wise {ct:.2f} s "
                      f"+{cm:.0f} MB; time column/row {ct / rt:.2f}; same bytes {same}", flush=True)


if __name__ == "__main__":
    main()
