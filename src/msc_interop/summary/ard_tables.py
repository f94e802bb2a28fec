"""Display tables rendered from the analysis results data (ARD), so that a number is computed once, recorded in
the ARD, and the CSV/Markdown/HTML cell is only its formatting (one source of truth).

`count_rows` renders the count tables of the AE section (TEAE overview, SOC/PT): one display row per ARD row key
(variable, variable_level, group2_level) in the order the ARD recorded them, and per treatment column (group1_level,
in the order given) the cells "<arm> (N=<N>) n (%)" = n_pct(n, N) and "<arm> events" = events ("-" when the ARD
has no events for it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd

from msc_interop.summary._common import n_pct

RowKey = tuple[str, str, str]  # variable, variable_level, group2_level ("" when none)


def count_rows(ard: pd.DataFrame, table: str, arms: Sequence[str], lead: Callable[[RowKey], dict[str, str]]
               ) -> list[dict[str, str]]:
    """The display rows of count table `table` from its ARD rows; `lead(key)` gives each row's leading cells."""
    part = ard[ard["table"].eq(table)]
    if part.empty:
        return []
    g2 = part["group2_level"].where(part["group2_level"].notna(), "").astype(str)
    keys = list(zip(part["variable"].astype(str), part["variable_level"].astype(str), g2, strict=True))
    stats: dict[tuple[RowKey, str], dict[str, object]] = {}
    order: dict[RowKey, None] = {}
    for key, arm, name, value in zip(keys, part["group1_level"], part["stat_name"], part["stat"], strict=True):
        order.setdefault(key, None)
        stats.setdefault((key, str(arm)), {})[str(name)] = value
    rows = []
    for key in order:
        row = lead(key)
        for arm in arms:
            s = stats.get((key, arm), {})
            n, big_n = int(s.get("n", 0) or 0), int(s.get("N", 0) or 0)
            row[f"{arm} (N={big_n}) n (%)"] = n_pct(n, big_n)
            row[f"{arm} events"] = "-" if s.get("events") is None else str(int(s["events"]))
        rows.append(row)
    return rows


def recorded_stats(ard: pd.DataFrame, table: str) -> list[dict[str, float]]:
    """The statistics of each ARD row group of `table` (group levels and variable), in the order recorded: what a
    continuous table (lab statistics, change from baseline) formats its cells from. None becomes NaN."""
    part = ard[ard["table"].eq(table)]
    cols = ["group1_level", "group2_level", "group3_level", "variable", "variable_level"]
    keys = list(zip(*(part[c].astype(str) for c in cols), strict=True))
    out: dict[tuple, dict[str, float]] = {}
    for key, name, value in zip(keys, part["stat_name"], part["stat"], strict=True):
        out.setdefault(key, {})[str(name)] = float("nan") if value is None else float(value)
    return list(out.values())
