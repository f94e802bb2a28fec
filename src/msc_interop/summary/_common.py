"""Shared pieces of the safety summary: the analysis population, arm columns and the cell formats.

Display conventions (what a reviewer of safety tables expects):
- counts as ``n (%)`` with one decimal in the percent, ``0`` for an empty cell;
- continuous values as ``mean (SD)``, ``median``, ``min, max``; the mean and median get one decimal more than the
  data, the SD two more (the usual rule for summary tables);
- numbers are rounded once, when a cell is formatted, so tables computed from the same values are byte-identical
  whatever order the rows arrived in (summation order only moves the last binary digits).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from msc_interop import iso8601
from msc_interop.distinct import per_distinct
from msc_interop.summary.ard import Ard
from msc_interop.summary.codes import shared_text

MISSING = "Missing"
NOT_ASSIGNED = "Not assigned"
LISTING_ROWS_SHOWN = 200  # listings longer than this are cut in the Markdown/HTML report (the CSV is complete)
LONG_TABLE = 10_000  # rows from which a table's text is held as shared strings (codes.shared_text)


@dataclass
class Section:
    """What one part of the summary produced: tables (in report order), titles, footnotes, data issues."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    footnotes: dict[str, list[str]] = field(default_factory=dict)
    issues: list[dict[str, object]] = field(default_factory=list)
    ard: Ard = field(default_factory=Ard)  # every number of the tables, as the tables compute it

    def add(self, name: str, title: str, table: pd.DataFrame, notes: Iterable[str] = ()) -> None:
        table = table.reset_index(drop=True)
        # a listing (every administration of a large study) is held until the report is written: its equal cells
        # as one string each
        self.tables[name] = shared_text(table) if len(table) > LONG_TABLE else table
        self.titles[name] = title
        self.footnotes[name] = [n for n in notes if n]

    def note(self, name: str, text: str) -> None:
        self.footnotes.setdefault(name, []).append(text)

    def issue(self, issue: str, dataset: str, records: int, subjects: int, detail: str, handling: str) -> None:
        self.issues.append({"Issue": issue, "Dataset": dataset, "Records": int(records), "Subjects": int(subjects),
                            "Detail": detail, "Handling": handling})


@dataclass(frozen=True)
class Population:
    """The subjects in the treatment columns (the safety population) with their arm; the denominators of every
    percentage. `all` keeps every DM subject with the population flags (populations.py says how they are made)."""

    subjects: pd.DataFrame  # USUBJID, ARMCD (column key: the arm code, NOT_ASSIGNED when empty), ARM
    arms: tuple[str, ...]  # arm codes in display order
    with_total: bool  # a Total column when there is more than one arm
    labels: dict[str, str] = field(default_factory=dict)  # arm code -> arm name shown in headers
    all: pd.DataFrame = field(default_factory=pd.DataFrame)  # every DM subject: ITTFL, SAFFL, REASON, TRTSDT...
    rules: tuple[str, ...] = ()  # how the populations and columns were made (footnotes)

    @property
    def n(self) -> int:
        return len(self.subjects)

    def arm_n(self) -> dict[str, int]:
        counts = self.subjects.attrs.get("_arm_n")
        if counts is None:
            vc = self.subjects["ARMCD"].value_counts()
            counts = {a: int(vc.get(a, 0)) for a in self.arms}
            if self.with_total:
                counts["Total"] = self.n
            self.subjects.attrs["_arm_n"] = counts
        return dict(counts)

    def columns(self) -> list[str]:
        """Column keys in display order (arm codes, then "Total" if there is more than one arm)."""
        return [*self.arms, "Total"] if self.with_total else list(self.arms)

    def label(self, key: str) -> str:
        """The arm's name (ARM/ACTARM text) for a column key; "Total" for the total."""
        return self.labels.get(key, key)

    def header(self, key: str, what: str = "") -> str:
        n = self.arm_n()[key]
        return f"{self.label(key)} (N={n})" + (f" {what}" if what else "")

    def attach_arm(self, df: pd.DataFrame) -> pd.DataFrame:
        """df with an ARMCD column (subjects outside the treatment columns get NOT_ASSIGNED)."""
        arm = self.subjects.set_index("USUBJID")["ARMCD"]
        out = df.copy()
        out["ARMCD"] = out["USUBJID"].map(arm).fillna(NOT_ASSIGNED)
        return out

    def within(self, df: pd.DataFrame) -> pd.DataFrame:
        """The rows of subjects in the treatment columns (the safety population)."""
        return df[df["USUBJID"].isin(self.subjects["USUBJID"]).to_numpy()]

    def expand(self, df: pd.DataFrame) -> pd.DataFrame:
        """Rows of the population's subjects once per arm, plus once more under "Total" when there is a Total."""
        df = self.attach_arm(self.within(df))
        if not self.with_total:
            return df
        total = df.copy()
        total["ARMCD"] = "Total"
        return pd.concat([df, total], ignore_index=True)


# --- cell formats -----------------------------------------------------------------------------------------


def n_pct(n: int, total: int) -> str:
    """``n (%)``: "1 (11.1%)"; "0" for no subjects."""
    n = int(n)
    if n == 0 or total <= 0:
        return "0" if n == 0 else str(n)
    return f"{n} ({100.0 * n / total:.1f}%)"


def num(x: float | None, decimals: int) -> str:
    """A number to fixed decimals; "-" when it cannot be computed (NaN, or SD of one value)."""
    if x is None or (isinstance(x, float) and math.isnan(x)) or pd.isna(x):
        return "-"
    decimals = max(0, int(decimals))
    txt = f"{float(x):.{decimals}f}"  # correctly rounded from the binary value, like printf
    return txt[1:] if txt.startswith("-") and txt.strip("-0.") == "" else txt  # no "-0.00"


def num_column(values: pd.Series | np.ndarray, decimals: int) -> list[str]:
    """`num` over a whole column, formatted in C (listings of 10^5+ rows); "-" for NaN."""
    x = np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"), dtype="float64")
    decimals = max(0, int(decimals))
    fmt = f"%.{decimals}f"
    out = np.char.mod(fmt, x).astype(object)
    zero = fmt % 0.0
    neg_zero = out == "-" + zero
    out[neg_zero] = zero
    out[np.isnan(x)] = "-"
    return out.tolist()


def mean_sd(mean: float, sd: float, decimals: int) -> str:
    return f"{num(mean, decimals + 1)} ({num(sd, decimals + 2)})"


def min_max(lo: float, hi: float, decimals: int) -> str:
    return f"{num(lo, decimals)}, {num(hi, decimals)}"


def p_value(p: float) -> str:
    if p is None or pd.isna(p):
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def visitnum_text(v: float) -> str:
    if pd.isna(v):
        return ""
    return f"{float(v):g}"


def visit_counts(df: pd.DataFrame) -> pd.Series:
    """Records per (VISITNUM, VISIT): what labels_of decides from (ranges of rows add up)."""
    return df[["VISITNUM", "VISIT"]].value_counts(dropna=True)


def labels_of(counts: Sequence[pd.Series]) -> dict[float, str]:
    """VISITNUM -> VISIT text (the most frequent, ties alphabetical) for labelling, from the visit_counts of one
    or more ranges of rows."""
    if not counts:
        return {}
    total = counts[0] if len(counts) == 1 else pd.concat(counts).groupby(level=[0, 1]).sum()
    vv = total.reset_index(name="k")
    vv = vv.sort_values(["VISITNUM", "k", "VISIT"], ascending=[True, False, True])
    return {float(v): str(t) for v, t in vv.drop_duplicates("VISITNUM")[["VISITNUM", "VISIT"]].itertuples(
        index=False, name=None)}


def decimals_of(text: pd.Series) -> int:
    """Decimals printed in numeric result text ("4.15" -> 2), the largest seen, capped at 4."""
    values = pd.Series(pd.unique(text.to_numpy()), dtype=object)
    frac = values.astype(str).str.extract(r"^[+-]?\d*\.(\d+)$")[0].dropna()
    return int(min(4, frac.str.len().max())) if len(frac) else 0


def category_order(values: Iterable[str], preferred: Sequence[str] = ()) -> list[str]:
    """Preferred (CT) order first, then the others alphabetically, Missing last."""
    seen = set(values)
    first = [p for p in preferred if p in seen]
    rest = sorted(v for v in seen if v not in first and v != MISSING)
    return first + rest + ([MISSING] if MISSING in seen else [])


def subjects_text(usubjids: Iterable[str], limit: int = 10) -> str:
    ids = sorted(set(usubjids))
    head = ", ".join(ids[:limit])
    return head + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


# --- dates ------------------------------------------------------------------------------------------------


def instant(dtc: pd.Series) -> pd.Series:
    """datetime64 of --DTC values that carry a date and a time (to the minute); NaT otherwise."""
    def parse(u: pd.Series) -> pd.Series:
        text = u.where(u.notna(), "").map(str)
        timed = text.str.match(iso8601.COMPLETE_DATETIME).astype(bool)
        return pd.to_datetime(text.str.slice(0, 16).where(timed), format="%Y-%m-%dT%H:%M", errors="coerce")

    return per_distinct(parse, dtc)


def is_partial(dtc: pd.Series) -> pd.Series:
    """True where a non-empty --DTC lacks a complete calendar date (SDTM right truncation, e.g. "2015-05")."""
    def check(u: pd.Series) -> pd.Series:
        text = u.where(u.notna(), "").map(str)
        return (text.ne("") & ~text.str.match(iso8601.DATE_PREFIX).astype(bool)).astype(bool)

    return per_distinct(check, dtc).astype(bool)


def text_col(df: pd.DataFrame, name: str) -> pd.Series:
    """A character column, or "" everywhere when the dataset lacks it (optional SDTM variables)."""
    if name in df:
        return df[name]
    return pd.Series("", index=df.index, dtype=object)


def num_col(df: pd.DataFrame, name: str) -> pd.Series:
    if name in df:
        return pd.to_numeric(df[name], errors="coerce").astype("float64")
    return pd.Series(np.nan, index=df.index, dtype="float64")
