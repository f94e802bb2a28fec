"""The VISITNUM and VISIT of unplanned visits (sdtm/unscheduled.py): the numbering rule, from the schedule alone.

Between two planned visits b and u (u the next VISITNUM of study.yaml after b; none after the last) a subject's
unscheduled visits are b + k/10^d, k = 1 to 99 in date order, d the fewest decimal places, at least 2, that keep
b + 99/10^d below u: after 3 before 4, 3.01 to 3.99; after 1 before 1.1, 1.001 to 1.099; after 1 before 1.02,
1.0001 to 1.0099. d depends on the schedule only, so every subject (and every part of a partitioned run) numbers
the same way and VISIT ("UNSCHEDULED " and the number, trailing zeros past two decimals dropped) is one to one
with VISITNUM. Before the subject's first planned visit b is the first planned VISITNUM rounded down minus 1,
not below 0 (0.01 before visit 1, 0.001 before visit 0.5). Never negative: before a first planned visit numbered
0 (or below) no number fits, nor past the 99th between two planned visits; those visits are refused, with why.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from msc_interop.sdtm.common import UNSCHEDULED
from msc_interop.study import StudyMeta

MOST = 99  # unscheduled visits between two planned visits
_PLACES = range(2, 10)  # (past 9 decimals a gap between two planned visits is not a schedule)


def places(base: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """The decimal places of the unscheduled visits between `base` and `upper` (0 where none fits)."""
    out = np.zeros(len(base), dtype=np.int64)
    for d in reversed(_PLACES):
        out = np.where(np.round(base + MOST / 10**d, d + 6) < upper, d, out)
    return out


def visit_text(number: float) -> str:
    """VISIT of an unscheduled VISITNUM: "UNSCHEDULED 3.01", "UNSCHEDULED 1.001" (at least two decimals). The
    number's shortest text (as repr: 300.01, never a fixed 15 decimals, which past 100 show the double's noise:
    300.009999999999991)."""
    whole, _, fraction = np.format_float_positional(number, unique=True, trim="-").partition(".")
    return f"{UNSCHEDULED} {whole}.{fraction.rstrip('0').ljust(2, '0')}"


def visit_numbers(planned: pd.DataFrame, unplanned: pd.DataFrame, meta: StudyMeta) -> pd.DataFrame:
    """One row per subject and date of an unplanned visit: its VISITNUM and VISIT, or VISITNUM NaN and the
    `reason` it cannot be numbered."""
    schedule = np.unique(meta.visits["VISITNUM"].astype("float64").to_numpy())
    names = dict(zip(meta.visits["VISITNUM"].astype("float64"), meta.visits["VISIT"], strict=True))
    planned = planned[np.isin(planned["VISITNUM"].to_numpy(), schedule)]
    starts = planned.groupby(["USUBJID", "VISITNUM"], as_index=False)["date"].min()
    starts = starts.sort_values(["USUBJID", "date", "VISITNUM"], kind="stable")
    starts["reached"] = starts.groupby("USUBJID")["VISITNUM"].cummax()  # (visits out of order: the highest so far)
    visits = unplanned[["USUBJID", "date"]].drop_duplicates()
    visits = pd.merge_asof(visits.sort_values("date", kind="stable"),
                           starts[["USUBJID", "date", "reached"]].sort_values("date", kind="stable"),
                           on="date", by="USUBJID", direction="backward")
    first = schedule[0] if len(schedule) else 1.0
    before_all = max(math.floor(first) - 1, 0) if first > 0 else np.nan  # (nothing non-negative below visit 0)
    visits["base"] = visits["reached"].fillna(before_all)
    visits = visits.sort_values(["USUBJID", "base", "date"], kind="stable").reset_index(drop=True)
    base = visits["base"].to_numpy(dtype="float64")
    k = visits.groupby(["USUBJID", "base"], dropna=False).cumcount().to_numpy() + 1
    following = np.searchsorted(schedule, np.nan_to_num(base, nan=-np.inf), side="right")
    upper = np.where(following < len(schedule), schedule[np.minimum(following, len(schedule) - 1)], np.inf)
    d = np.where(np.isnan(base), 0, places(np.nan_to_num(base), upper))
    fits = (d > 0) & (k <= MOST)
    number = np.full(len(visits), np.nan)
    for places_of in np.unique(d[fits]):  # (a rounding per number of decimal places: a few)
        at = fits & (d == places_of)
        number[at] = np.round(base[at] + k[at] / 10.0**places_of, int(places_of) + 6)
    visits["VISITNUM"] = number
    visits["VISIT"] = [visit_text(v) if fits[i] else "" for i, v in enumerate(number)]  # (a few per subject)
    visits["reason"] = ""
    if not fits.all():
        visits.loc[~fits, "reason"] = [_why(visits.loc[i], int(k[i]), upper[i], first, names)
                                       for i in np.flatnonzero(~fits)]  # (refused visits: rare)
    return visits[["USUBJID", "date", "VISITNUM", "VISIT", "reason"]]


def _why(row: pd.Series, k: int, upper: float, first: float, names: dict[float, str]) -> str:
    """Why the unplanned visit of `row` has no number, naming the planned visits around it and the limit."""
    day = f"{row['date']:%Y-%m-%d}"
    if np.isnan(row["base"]):
        return (f"the unscheduled visit of {day} is before the subject's first planned visit and the schedule starts "
                f"at visit {first:g} ({names.get(first, '')}): an unscheduled VISITNUM is not negative and stays "
                "below the next planned visit, so none fits; give the record its planned visit or correct its date")
    after = f"visit {row['base']:g} ({names[row['base']]})" if row["base"] in names else "the start of the study"
    before = f"visit {upper:g} ({names[upper]})" if upper in names else "the end of the schedule"
    return (f"the unscheduled visit of {day} would be the subject's unscheduled visit no. {k} between {after} and "
            f"{before}: at most {MOST} unscheduled visits are numbered between two planned visits")
