"""An SDTM folder with the same subjects as SOURCE and K times the follow-up: LB, VS and EG (the findings with
visits) repeated K times, copy k at VISITNUM + k * STEP with VISIT "<visit> +k" and --SEQ shifted past the
subject's others; the baseline flags (--BLFL, --LOBXFL) kept on the first copy only. Every other dataset is
linked as it is. What it is for: memory that should grow with the subjects but not with the rows (the summary's
lab/vital-sign/ECG tables read one parameter at a time) measured at 10x the rows of the same study, next to
the study with 10x the subjects (benchmarks/README.md).

    python benchmarks/make_long_followup.py /work/bench/s1/xpt /work/bench/long10/xpt --copies 10
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import pandas as pd

from msc_interop.sdtm.spill import representative_rows
from msc_interop.sdtm.xpt import read_xpt, write_frames

FINDINGS = ("LB", "VS", "EG")
STEP = 1000.0  # VISITNUM offset of each copy (past every real visit number)


def copy_of(df: pd.DataFrame, name: str, k: int, seq_step: float) -> pd.DataFrame:
    """Copy k of the findings `df` (copy 0: the rows as they are)."""
    if k == 0:
        return df
    out = df.copy()
    out["VISITNUM"] = out["VISITNUM"] + k * STEP
    out["VISIT"] = out["VISIT"].astype(object) + f" +{k}"
    out[f"{name}SEQ"] = out[f"{name}SEQ"] + k * seq_step
    for flag in (f"{name}BLFL", f"{name}LOBXFL"):
        if flag in out.columns:
            out[flag] = ""
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", type=Path, help="SDTM folder of XPT files")
    ap.add_argument("target", type=Path, help="folder to write (created)")
    ap.add_argument("--copies", type=int, default=10)
    a = ap.parse_args()
    a.target.mkdir(parents=True, exist_ok=True)
    for path in sorted(a.source.glob("*.xpt")):
        name = path.stem.upper()
        out = a.target / path.name
        if name not in FINDINGS:
            if not out.exists():
                os.symlink(path.resolve(), out)
            continue
        t = time.perf_counter()
        _, df = read_xpt(path)
        seq_step = float(df[f"{name}SEQ"].max()) + 1.0
        shape = pd.concat([copy_of(representative_rows(df, name), name, k, seq_step) for k in range(a.copies)],
                          ignore_index=True)
        write_frames(shape, lambda df=df, name=name, seq_step=seq_step: (
            copy_of(df, name, k, seq_step) for k in range(a.copies)), name, out)
        print(f"{name}: {len(df)} rows x {a.copies} -> {out} ({out.stat().st_size / 2**30:.2f} GiB, "
              f"{time.perf_counter() - t:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
