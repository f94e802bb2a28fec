"""Unplanned visits (SDTMIG 3.4 section 4.4.5): their VISITNUM, VISIT and EPOCH, once every form is built.

A record at a visit off the schedule ("Unscheduled" in the records: sdtm/common.map_visits) is numbered here, not
by its builder: its number depends on the subject's planned visits in every dataset. Per subject, each distinct
date of its unplanned records is one visit; it gets the VISITNUM of the last planned visit the subject had on or
before that date (the visit's first complete date in any dataset) plus .01, .02, ... in date order (before any
planned visit: the first planned VISITNUM, rounded down, minus 1), VISIT "UNSCHEDULED 3.01" (the CDISC pilot
writes "UNSCHEDULED 5.1"; two decimals keep 99 of them between two planned visits in order), and the EPOCH of
its date as an event's (common.epoch_by_date). TV and VISITDY stay the planned visits' only: SV takes VISIT and
EPOCH from these records and leaves VISITDY empty (sdtm/sv.py).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from msc_interop import iso8601, mappings
from msc_interop.distinct import is_in, row_codes
from msc_interop.errors import MscInteropError
from msc_interop.sdtm.common import UNSCHEDULED, assign_seq, epoch_by_date
from msc_interop.study import StudyMeta

_SKIP = ("DM", "SV", "TS", "TV", "TA", "TE", "TI")


def _date_column(name: str, df: pd.DataFrame) -> str | None:
    """The dataset's date of a record (--DTC, else --STDTC)."""
    return next((c for c in (f"{name}DTC", f"{name}STDTC") if c in df.columns), None)


def _distinct_dates(df: pd.DataFrame, dtc: str, mask: np.ndarray | None = None) -> pd.DataFrame:
    """The distinct (USUBJID, VISITNUM, date) of the rows (at `mask`) with a complete date; date as datetime64."""
    part = df[["USUBJID", "VISITNUM", dtc]] if mask is None else df.loc[mask, ["USUBJID", "VISITNUM", dtc]]
    _, first = row_codes(part)  # a million lab rows hold a few thousand subject visits
    d = part.iloc[first].reset_index(drop=True)
    text = d[dtc].astype(str)
    complete = text.str.match(iso8601.COMPLETE_DATE).astype(bool)
    return pd.DataFrame({"USUBJID": d["USUBJID"][complete].to_numpy(dtype=object),
                         "VISITNUM": pd.to_numeric(d["VISITNUM"][complete]).to_numpy(dtype="float64"),
                         "date": pd.to_datetime(text[complete].str.slice(0, 10)).to_numpy()})


def number_unscheduled(datasets: dict[str, pd.DataFrame], meta: StudyMeta, dm: pd.DataFrame
                       ) -> dict[str, pd.DataFrame]:
    """The datasets with their unplanned visits numbered (unchanged when there is none); the --SEQ of a dataset
    ordered by VISITNUM is numbered again (the builder numbered it before the visit had its number)."""
    dated: dict[str, str] = {}
    found: dict[str, np.ndarray] = {}
    for name, df in datasets.items():
        if name in _SKIP or name.startswith("SUPP") or not {"VISITNUM", "VISIT"} <= set(df.columns) or df.empty:
            continue
        dtc = _date_column(name, df)
        if dtc is None:
            continue
        dated[name] = dtc
        mask = is_in(df["VISIT"], [UNSCHEDULED])  # (per distinct VISIT: no pass over the rows' text)
        if mask.any():
            found[name] = mask & datasets[name]["VISITNUM"].isna().to_numpy()
    if not found:  # (the planned visits' dates are gathered only when there is an unplanned visit to number)
        return datasets
    planned = pd.concat([_distinct_dates(datasets[name], dtc) for name, dtc in dated.items()], ignore_index=True)
    unplanned = pd.concat([_distinct_dates(datasets[name], dated[name], mask) for name, mask in found.items()],
                          ignore_index=True)
    visits = _numbered(planned, unplanned, meta, dm)
    out = dict(datasets)
    for name, mask in found.items():
        out[name] = _renumbered(name, datasets[name], dated[name], mask, visits)
    return out


def _numbered(planned: pd.DataFrame, unplanned: pd.DataFrame, meta: StudyMeta, dm: pd.DataFrame) -> pd.DataFrame:
    """One row per subject and date of an unplanned visit: its VISITNUM, VISIT and EPOCH."""
    schedule = np.sort(meta.visits["VISITNUM"].astype("float64").to_numpy())
    planned = planned[np.isin(planned["VISITNUM"].to_numpy(), schedule)]
    starts = planned.groupby(["USUBJID", "VISITNUM"], as_index=False)["date"].min()
    starts = starts.sort_values(["USUBJID", "date", "VISITNUM"], kind="stable")
    starts["reached"] = starts.groupby("USUBJID")["VISITNUM"].cummax()  # (visits out of order: the highest so far)
    visits = unplanned[["USUBJID", "date"]].drop_duplicates()
    visits = pd.merge_asof(visits.sort_values("date", kind="stable"),
                           starts[["USUBJID", "date", "reached"]].sort_values("date", kind="stable"),
                           on="date", by="USUBJID", direction="backward")
    before_all = math.floor(schedule[0]) - 1 if len(schedule) else 0
    visits["base"] = visits["reached"].fillna(before_all)
    visits = visits.sort_values(["USUBJID", "base", "date"], kind="stable").reset_index(drop=True)
    k = visits.groupby(["USUBJID", "base"]).cumcount().to_numpy() + 1
    number = np.round(visits["base"].to_numpy() + k / 100, 2)
    following = np.searchsorted(schedule, visits["base"].to_numpy(), side="right")
    upper = np.where(following < len(schedule), schedule[np.minimum(following, len(schedule) - 1)], np.inf)
    over = (k > 99) | (number >= upper)
    if over.any():
        i = int(np.flatnonzero(over)[0])
        raise MscInteropError(
            f"subject {visits['USUBJID'][i]}: the unscheduled visit of {visits['date'][i]:%Y-%m-%d} cannot be "
            f"numbered after visit {visits['base'][i]:g} (VISITNUM {number[i]:.2f}): at most 99 unscheduled "
            "visits fit between two planned visits, numbered .01 to .99 below the next VISITNUM of study.yaml")
    visits["VISITNUM"] = number
    visits["VISIT"] = [f"{UNSCHEDULED} {v:.2f}" for v in number]  # (a few per subject: the unplanned visits)
    day = pd.Series(visits["date"].dt.strftime("%Y-%m-%d").to_numpy(dtype=object))
    ref = dm.set_index("USUBJID").reindex(visits["USUBJID"].to_numpy())
    visits["EPOCH"] = epoch_by_date(day, pd.Series(ref["RFXSTDTC"].to_numpy(dtype=object)),
                                    pd.Series(ref["RFXENDTC"].to_numpy(dtype=object))).to_numpy()
    return visits[["USUBJID", "date", "VISITNUM", "VISIT", "EPOCH"]]


def _renumbered(name: str, df: pd.DataFrame, dtc: str, mask: np.ndarray, visits: pd.DataFrame) -> pd.DataFrame:
    """The dataset with the rows at `mask` given their unplanned visit's VISITNUM, VISIT and EPOCH (and --LNKID,
    which names the visit: sdtm/pr.py), --SEQ numbered again when VISITNUM orders it."""
    rows = df.loc[mask, ["USUBJID", dtc]]
    key = pd.DataFrame({"USUBJID": rows["USUBJID"].to_numpy(dtype=object),
                        "date": pd.to_datetime(rows[dtc].astype(str).str.slice(0, 10)).to_numpy()})
    got = key.merge(visits, how="left", on=["USUBJID", "date"], validate="many_to_one")
    out = df.copy(deep=False)
    at = np.flatnonzero(mask)
    for col in ("VISITNUM", "VISIT", "EPOCH"):
        if col in out.columns:
            values = out[col].to_numpy(copy=True)
            values[at] = got[col].to_numpy(dtype=values.dtype)
            out[col] = values
    lnkid = f"{name}LNKID"
    if lnkid in out.columns:  # "<procedure>-<VISITNUM>"
        values = out[lnkid].to_numpy(dtype=object, copy=True)
        values[at] = [f"{text.rsplit('-', 1)[0]}-{v:g}" for text, v in zip(values[at], got["VISITNUM"], strict=True)]
        out[lnkid] = values
    seq = f"{name}SEQ"
    order = mappings.seq_order(name)
    if seq in out.columns and "VISITNUM" in order:
        out = assign_seq(out.drop(columns=seq), seq, order)
        columns = list(df.columns)
        out = out[columns]
    return out
