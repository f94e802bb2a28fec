"""XPT v5 writing: msc-interop's column-wise records (sdtm/xpt_rows.py) beside pyreadstat writing the same frame.

One process, alternating base (pyreadstat.write_xport) and ours (xpt.write_conformed), so that the drift of a
shared machine falls on both; prints wall time per run, the median ratio ours/base and the peak RSS growth of
each (tracemalloc does not see pyreadstat's C buffers, so RSS is read from /proc before and after).

    .venv/bin/python benchmarks/bench_xpt_write.py --rows 1000000 --rounds 3
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat

from msc_interop.sdtm import xpt


def lb_frame(rows: int, seed: int = 7) -> pd.DataFrame:
    """An LB-shaped frame: 17 text and 6 numeric variables, values repeating as in a real study."""
    rng = np.random.default_rng(seed)
    subjects = np.array([f"STUDY-{i:04d}" for i in range(max(1, rows // 500))], dtype=object)
    tests = np.array(["WBC", "HGB", "PLAT", "ALT", "AST", "BILI", "CREAT", "AFP", "CEA", "CA125AG", "CA19_9AG"],
                     dtype=object)
    units = np.array(["10^9/L", "g/L", "10^9/L", "U/L", "U/L", "umol/L", "umol/L", "ug/L", "ug/L", "U/mL", "U/mL"],
                     dtype=object)
    t = rng.integers(0, len(tests), rows)
    value = np.round(rng.gamma(4.0, 10.0, rows), 2)
    text = pd.Series(value).map("{:.2f}".format).to_numpy(dtype=object)
    frame = pd.DataFrame({
        "STUDYID": np.full(rows, "STUDY", dtype=object), "DOMAIN": np.full(rows, "LB", dtype=object),
        "USUBJID": subjects[rng.integers(0, len(subjects), rows)], "LBSEQ": np.arange(1, rows + 1, dtype="float64"),
        "LBTESTCD": tests[t], "LBTEST": tests[t], "LBCAT": np.full(rows, "CHEMISTRY", dtype=object),
        "LBORRES": text, "LBORRESU": units[t], "LBORNRLO": np.full(rows, "0", dtype=object),
        "LBORNRHI": np.full(rows, "40", dtype=object), "LBSTRESC": text, "LBSTRESN": value,
        "LBSTRESU": units[t], "LBSTNRLO": np.zeros(rows), "LBSTNRHI": np.full(rows, 40.0),
        "LBNRIND": np.where(value > 40, "HIGH", "NORMAL").astype(object),
        "LBSPEC": np.full(rows, "SERUM", dtype=object),
        "LBBLFL": np.where(rng.random(rows) < 0.1, "Y", "").astype(object),
        "VISITNUM": rng.integers(1, 20, rows).astype("float64"), "VISIT": np.full(rows, "MONTH 12", dtype=object),
        "LBDTC": np.full(rows, "2015-05-06T08:30", dtype=object), "LBDY": rng.integers(1, 2000, rows).astype("float64"),
    })
    frame.loc[rng.random(rows) < 0.02, "LBSTRESN"] = np.nan
    return frame


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    frame = lb_frame(args.rows)
    labels = xpt.variable_labels("LB", list(frame.columns))
    times: dict[str, list[float]] = {"base": [], "ours": []}
    with tempfile.TemporaryDirectory() as d:
        for _ in range(args.rounds):
            for who in ("base", "ours"):
                path = Path(d) / f"{who}.xpt"
                t0 = time.perf_counter()
                if who == "base":
                    pyreadstat.write_xport(frame, str(path), file_format_version=5, table_name="LB",
                                           file_label="Laboratory Test Results",
                                           column_labels=[labels[c] for c in frame.columns])
                else:
                    xpt.write_conformed(frame, "LB", path, label="Laboratory Test Results")
                times[who].append(time.perf_counter() - t0)
                print(f"{who}: {times[who][-1]:.2f} s  ({path.stat().st_size / 1e6:.0f} MB)  peak RSS so far "
                      f"{_rss_mb():.0f} MB", flush=True)
        same = (Path(d) / "base.xpt").read_bytes()[800:] == (Path(d) / "ours.xpt").read_bytes()[800:]
    base, ours = statistics.median(times["base"]), statistics.median(times["ours"])
    print(f"rows {args.rows}: pyreadstat {base:.2f} s, column-wise {ours:.2f} s, ratio ours/base {ours / base:.2f}; "
          f"records identical after the header stamps: {same}")


if __name__ == "__main__":
    main()
