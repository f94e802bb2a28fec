"""Display tables rendered from the analysis results data (ARD), so that a number is computed once, recorded in
the ARD, and the CSV/Markdown/HTML cell is only its formatting (one source of truth).

A summary module builds each table as a layout: label cells (text) and `Cell`s, each naming a format and the ARD
rows (by position) of the statistics it shows. `render_tables` turns the layouts into display tables with the
numbers of an ARD frame: the summary renders them with its own ARD, and a test renders them with a changed ARD and
sees every row change. Listings (one row per record), the study facts and the data-handling table hold no `Cell`:
they are records and metadata, not analysis results (NOT_FROM_ARD).

`count_rows` lays out the count tables of the AE section (TEAE overview, SOC/PT): one display row per ARD row key
(variable, variable_level, group2_level) in the order the ARD recorded them, and per treatment column (group1_level,
in the order given) the cells "<arm> (N=<N>) n (%)" and "<arm> events" ("-" when the ARD has no events for it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from msc_interop.summary._common import mean_sd, min_max, n_pct, num, p_value

RowKey = tuple[str, str, str]  # variable, variable_level, group2_level ("" when none)
SAS_EPOCH = dt.date(1960, 1, 1)  # dates in the ARD are days since 1960-01-01 (SAS/ADaM numeric dates)
NOT_FROM_ARD = frozenset({"study", "data_issues", "population_listing", "exposure_listing", "ae_infusion",
                          "ae_listing", "ae_pretreatment", "lab_abnormal_listing"})


@dataclass(frozen=True)
class Cell:
    """A table cell formatted from ARD rows: `fmt` (see FORMATS) of the statistics at ARD positions `at`."""

    fmt: str
    at: tuple[tuple[str, int], ...]  # (stat_name, position of the ARD row)
    decimals: int = 0
    around: str = ""  # text around the formatted number ("{}" marks it), e.g. a label of the same cell

    def shifted(self, offset: int) -> Cell:
        return Cell(self.fmt, tuple((s, i + offset) for s, i in self.at), self.decimals, self.around)


def cell(ref: Mapping[str, int], fmt: str, decimals: int = 0, stat: str | None = None) -> Cell:
    """The cell of format `fmt` over the statistics of one ARD record `ref` (stat_name -> position)."""
    names = (stat,) if stat else FORMATS[fmt][0]
    return Cell(fmt, tuple((s, ref[s]) for s in names), decimals)


def continuous_cells(ref: Mapping[str, int], decimals: int) -> dict[str, Cell]:
    """n, Mean (SD), Median, Min, Max of one continuous ARD record (Ard.values) as cells."""
    return {"n": cell(ref, "text", stat="N"), "Mean (SD)": cell(ref, "mean_sd", decimals),
            "Median": cell(ref, "median", decimals), "Min, Max": cell(ref, "min_max", decimals)}


def _text(v: dict) -> str:
    x = next(iter(v.values()))
    return "-" if x is None else str(int(x))


def _date(days: object) -> str:
    return (SAS_EPOCH + dt.timedelta(days=int(days))).isoformat()


FORMATS: dict[str, tuple[tuple[str, ...], Callable[[dict, int], object]]] = {
    "n_pct": (("n", "N"), lambda v, d: n_pct(int(v["n"] or 0), int(v["N"] or 0))),
    # a count of a variable not collected (every record empty): n is null in the ARD, the cell says so, not 0
    "n_pct_nc": (("n", "N"), lambda v, d: "not collected" if v["n"] is None else n_pct(int(v["n"]), int(v["N"] or 0))),
    "int": (("n",), lambda v, d: int(next(iter(v.values())) or 0)),
    "text": (("n",), lambda v, d: _text(v)),
    "num": (("sum",), lambda v, d: num(next(iter(v.values())), d)),
    "mean_sd": (("mean", "sd"), lambda v, d: "-" if v["mean"] is None else mean_sd(v["mean"], v["sd"], d)),
    "median": (("median",), lambda v, d: num(v["median"], d + 1)),
    "min_max": (("min", "max"), lambda v, d: "-" if v["min"] is None else min_max(v["min"], v["max"], d)),
    "p_value": (("p.value",), lambda v, d: p_value(v["p.value"])),
    "signed": (("median",), lambda v, d: "-" if v["median"] is None else f"{v['median']:+g}"),
    "date_range": (("min", "max"), lambda v, d: "-" if v["min"] is None else f"{_date(v['min'])} to "
                   f"{_date(v['max'])}"),
    "rest": (("n", "N"), lambda v, d: str(int(v["N"] or 0) - int(v["n"] or 0))),
}


def render(layout: pd.DataFrame, stats: Sequence[object]) -> pd.DataFrame:
    """The display table of `layout`: every Cell formatted from `stats` (the ARD's stat column, by position)."""
    out = layout.copy()
    for col in out.columns:
        values = out[col].tolist()
        if any(isinstance(v, Cell) for v in values):
            out[col] = [_format(v, stats) if isinstance(v, Cell) else v for v in values]
    return out


def _format(c: Cell, stats: Sequence[object]) -> object:
    v = {name: _plain(stats[i]) for name, i in c.at}
    out = FORMATS[c.fmt][1](v, c.decimals)
    return c.around.format(out) if c.around else out


def _plain(x: object) -> object:
    if x is None or (isinstance(x, float) and x != x):
        return None
    return x


def render_tables(layouts: Mapping[str, pd.DataFrame], ard: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Every table of the summary rendered from `ard` (tables without Cells are returned as they are)."""
    stats = ard["stat"].tolist() if len(ard) else []
    return {name: render(t, stats) for name, t in layouts.items()}


def has_cells(layout: pd.DataFrame) -> pd.Series:
    """Per row of a layout: True when it holds at least one Cell (a row formatted from the ARD)."""
    if layout.empty:
        return pd.Series(dtype=bool)
    return layout.apply(lambda r: any(isinstance(v, Cell) for v in r), axis=1)


def shift_cells(layout: pd.DataFrame, offset: int) -> pd.DataFrame:
    """The layout with every Cell pointing `offset` rows further (its ARD rows appended to a larger ARD)."""
    out = layout.copy()
    for col in out.columns:
        out[col] = [v.shifted(offset) if isinstance(v, Cell) else v for v in out[col].tolist()]
    return out


def count_rows(ard: pd.DataFrame, table: str, arms: Sequence[str], lead: Callable[[RowKey], dict[str, str]]
               ) -> list[dict[str, object]]:
    """The layout rows of count table `table` from its ARD rows; `lead(key)` gives each row's leading cells.
    Column headers carry N from the ARD."""
    part = ard[ard["table"].eq(table)]
    if part.empty:
        return []
    g2 = part["group2_level"].where(part["group2_level"].notna(), "").astype(str)
    keys = list(zip(part["variable"].astype(str), part["variable_level"].astype(str), g2, strict=True))
    refs: dict[tuple[RowKey, str], dict[str, int]] = {}
    big_n: dict[str, int] = {}
    order: dict[RowKey, None] = {}
    for pos, key, arm, name, value in zip(part.index, keys, part["group1_level"], part["stat_name"], part["stat"],
                                          strict=True):
        order.setdefault(key, None)
        refs.setdefault((key, str(arm)), {})[str(name)] = int(pos)
        if name == "N":
            big_n.setdefault(str(arm), int(value))
    rows = []
    for key in order:
        row: dict[str, object] = dict(lead(key))
        for arm in arms:
            r = refs.get((key, arm), {})
            row[f"{arm} (N={big_n.get(arm, 0)}) n (%)"] = cell(r, "n_pct") if "n" in r else "0"
            row[f"{arm} events"] = cell(r, "text", stat="events") if "events" in r else "-"
        rows.append(row)
    return rows
