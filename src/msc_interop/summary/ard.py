"""Analysis results data (ARD): every number of the summary tables as one long table, in the layout of the
pharmaverse {cards} ARDs (group1, group1_level, group2, group2_level, group3, group3_level, variable,
variable_level, context, stat_name, stat_label, stat), plus ``table``: the summary table the number is shown in.

group1 is always TRTA (the treatment column: the arm's name, or "Total"); stat_name n / N / p (p a proportion,
0-1, as {cards}), events, mean / sd / median / min / max, sum, p.value. The rows are recorded where the tables
compute their numbers; the tables are then rendered from them (summary/ard_tables.py). Written as
OUTDIR/ard/ard.csv and ard.json (an array of row objects, null where a column does not apply); schema:
mappings/schema/ard.schema.json.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from msc_interop.atomic import write_bytes_atomic

COLUMNS = ["table", "group1", "group1_level", "group2", "group2_level", "group3", "group3_level", "variable",
           "variable_level", "context", "stat_name", "stat_label", "stat"]
LABELS = {"n": "n", "N": "N", "p": "%", "events": "Number of events", "mean": "Mean", "sd": "SD",
          "median": "Median", "min": "Min", "max": "Max", "p.value": "p-value", "sum": "Sum"}


Ref = dict[str, int]  # stat_name -> position of its row in the ARD


class Ard:
    """Collects ARD rows as the tables compute them."""

    def __init__(self) -> None:
        self.rows: list[tuple] = []

    def add(self, table: str, trta: str, variable: str, level: object, stats: dict[str, float | int | None], *,
            groups: tuple[tuple[str, object], ...] = (), context: str = "categorical") -> Ref:
        """One row per statistic: group1 = TRTA `trta`, group2/group3 from `groups` ((name, level) pairs).
        Returns where each statistic's row is (what a table cell refers to: summary/ard_tables.py)."""
        g = [*groups, (None, None), (None, None)][:2]
        ref: Ref = {}
        for name, value in stats.items():
            if value is None or (isinstance(value, float) and math.isnan(value)):
                value = None
            elif isinstance(value, float) and value.is_integer() and name in ("n", "N", "events"):
                value = int(value)
            ref[name] = len(self.rows)
            self.rows.append((table, "TRTA", trta, g[0][0], _level(g[0][1]), g[1][0], _level(g[1][1]), variable,
                              _level(level), context, name, LABELS.get(name, name), value))
        return ref

    def counts(self, table: str, trta: str, variable: str, level: object, n: int, big_n: int,
               events: int | None = None, groups: tuple[tuple[str, object], ...] = (),
               context: str = "categorical") -> Ref:
        stats: dict[str, float | int | None] = {"n": int(n), "N": int(big_n),
                                                "p": (int(n) / big_n) if big_n else None}
        if events is not None:
            stats["events"] = int(events)
        return self.add(table, trta, variable, level, stats, groups=groups, context=context)

    def values(self, table: str, trta: str, variable: str, values: object, *,
               groups: tuple[tuple[str, object], ...] = ()) -> Ref:
        """The continuous statistics (N, mean, sd, median, min, max) of numeric `values` (NaN dropped)."""
        v = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").dropna().astype(float).to_numpy()
        if len(v) == 0:
            stats: dict[str, float | int | None] = {"N": 0, "mean": None, "sd": None, "median": None, "min": None,
                                                    "max": None}
        else:
            mean, sd = exact_mean_sd(v)
            stats = {"N": len(v), "mean": mean, "sd": sd, "median": float(np.median(v)), "min": float(v.min()),
                     "max": float(v.max())}
        return self.add(table, trta, variable, None, stats, groups=groups, context="continuous")

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=COLUMNS, dtype=object)


def _level(v: object) -> object:
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def write(ard: pd.DataFrame, folder: Path) -> list[Path]:
    """OUTDIR/ard/ard.csv and ard.json (rows as objects; numbers as JSON numbers, null for none)."""
    csv_path, json_path = folder / "ard.csv", folder / "ard.json"
    write_bytes_atomic(csv_path, ard.to_csv(index=False, lineterminator="\n").encode("utf-8"))
    records = [{c: _json_value(v) for c, v in zip(COLUMNS, row, strict=True)}
               for row in ard.itertuples(index=False, name=None)]
    text = "[\n" + ",\n".join(json.dumps(r, ensure_ascii=False, allow_nan=False) for r in records) + "\n]\n"
    write_bytes_atomic(json_path, text.encode("utf-8"))
    return [csv_path, json_path]


def _json_value(v: object) -> object:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if hasattr(v, "item"):  # numpy scalars
        return v.item()
    return v


def exact_mean_sd(x: np.ndarray) -> tuple[float, float]:
    """Mean and SD (n - 1) from exact sums (math.fsum), so they do not depend on the order the values came in."""
    mean = math.fsum(x.tolist()) / len(x)
    sd = math.sqrt(math.fsum(((x - mean) ** 2).tolist()) / (len(x) - 1)) if len(x) > 1 else float("nan")
    return mean, sd
