"""Unplanned visits (SDTMIG 3.4 section 4.4.5): their VISITNUM, VISIT and EPOCH, once every form is built.

A record at a visit off the schedule ("Unscheduled" in the records: sdtm/common.map_visits) is numbered here, not
by its builder: its number depends on the subject's planned visits in every dataset. Per subject, each distinct
date of its unplanned records is one visit, numbered after the last planned visit the subject had on or before
that date (the visit's first complete date in any dataset), in date order (visit_numbers says how). VISIT is
"UNSCHEDULED " and that number (the CDISC pilot writes "UNSCHEDULED 5.1"), a function of VISITNUM, so the two
stay one to one across subjects. EPOCH is each record's own, from its date and time as an event's
(common.epoch_by_date). A visit that cannot be numbered is rejected with its records (REJ-REC-016). TV and VISITDY
stay the planned visits' only: SV takes VISIT from these records, EPOCH from those at the visit's start (SVSTDTC:
a visit straddling the first dose starts in SCREENING), and leaves VISITDY empty (sdtm/sv.py says how).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_interop import dates, iso8601, mappings
from msc_interop.distinct import column_codes, is_in, per_distinct, row_codes, sorted_positions, take_rows
from msc_interop.records.reader import ROW, RawRecords
from msc_interop.sdtm.common import UNSCHEDULED, epoch_by_date, is_unscheduled, numbered_within_runs
from msc_interop.sdtm.unscheduled_numbers import visit_numbers
from msc_interop.study import StudyMeta

_SKIP = ("DM", "SV", "TS", "TV", "TA", "TE", "TI")
# the date column of each form that the builders give map_visits (the date that numbers an unplanned visit)
FORM_DATES = {"labs": "collection_datetime", "vital_signs": "date", "ecg": "date", "findings": "date",
               "exposures": "start_datetime"}


def _date_column(name: str, df: pd.DataFrame) -> str | None:
    """The dataset's date of a record (--DTC, else --STDTC)."""
    return next((c for c in (f"{name}DTC", f"{name}STDTC") if c in df.columns), None)


def _distinct_dates(df: pd.DataFrame, dtc: str, mask: np.ndarray) -> pd.DataFrame:
    """The distinct (USUBJID, VISITNUM, date) of the rows at `mask` with a complete date; date as datetime64."""
    part = df.loc[mask, ["USUBJID", "VISITNUM", dtc]]
    _, first = row_codes(part)  # a subject's lab rows hold a few tens of visits
    d = part.iloc[first].reset_index(drop=True)
    text = d[dtc].astype(str)
    complete = text.str.match(iso8601.COMPLETE_DATE).astype(bool)
    return pd.DataFrame({"USUBJID": d["USUBJID"][complete].to_numpy(dtype=object),
                         "VISITNUM": pd.to_numeric(d["VISITNUM"][complete]).to_numpy(dtype="float64"),
                         "date": pd.to_datetime(text[complete].str.slice(0, 10)).to_numpy()})


def number_unscheduled(datasets: dict[str, pd.DataFrame], meta: StudyMeta, dm: pd.DataFrame,
                       records: RawRecords) -> dict[str, pd.DataFrame]:
    """The datasets with their unplanned visits numbered (unchanged when there is none); the --SEQ of a dataset
    ordered by VISITNUM is numbered again (the builder numbered it before the visit had its number). A visit that
    cannot be numbered leaves the datasets, its records go to the reject report."""
    dated: dict[str, str] = {}
    found: dict[str, np.ndarray] = {}
    for name, df in datasets.items():
        if name in _SKIP or name.startswith("SUPP") or not {"VISITNUM", "VISIT"} <= set(df.columns) or df.empty:
            continue
        dtc = _date_column(name, df)
        if dtc is None:
            continue
        dated[name] = dtc
        unnumbered = df["VISITNUM"].isna().to_numpy()  # (a pass over floats: a study without one stops here)
        if not unnumbered.any():
            continue
        mask = unnumbered & is_in(df["VISIT"], [UNSCHEDULED])  # (per distinct VISIT: no pass over the rows' text)
        if mask.any():
            found[name] = mask
    if not found:  # (the planned visits' dates are gathered only when there is an unplanned visit to number)
        return datasets
    subjects = pd.unique(np.concatenate([datasets[n]["USUBJID"].to_numpy(dtype=object)[m] for n, m in found.items()]))
    planned = pd.concat([_distinct_dates(datasets[name], dtc, is_in(datasets[name]["USUBJID"], list(subjects)))
                         for name, dtc in dated.items()], ignore_index=True)  # (those subjects' rows only)
    unplanned = pd.concat([_distinct_dates(datasets[name], dated[name], mask) for name, mask in found.items()],
                          ignore_index=True)
    visits = visit_numbers(planned, unplanned, meta)
    refused = visits[visits["VISITNUM"].isna()]
    if len(refused):
        _reject(records, refused, dm)
    out = dict(datasets)
    for name, mask in found.items():
        out[name] = _renumbered(name, datasets[name], dated[name], mask, visits, dm)
        supp = f"SUPP{name}"
        if supp in out and len(out[name]) < len(datasets[name]):
            out[supp] = _supp_renumbered(out[supp], datasets[name], out[name], f"{name}SEQ")
    return out


def _renumbered(name: str, df: pd.DataFrame, dtc: str, mask: np.ndarray, visits: pd.DataFrame,
                dm: pd.DataFrame) -> pd.DataFrame:
    """The dataset with the rows at `mask` given their unplanned visit's VISITNUM and VISIT, their own EPOCH (and
    --LNKID, which names the visit: sdtm/pr.py), the rows of a visit not numbered dropped; --SEQ numbered again
    within the subjects that have an unplanned visit when VISITNUM orders it (or when rows were dropped)."""
    rows = df.loc[mask, ["USUBJID", dtc]]
    key = pd.DataFrame({"USUBJID": rows["USUBJID"].to_numpy(dtype=object),
                        "date": pd.to_datetime(rows[dtc].astype(str).str.slice(0, 10)).to_numpy()})
    got = key.merge(visits, how="left", on=["USUBJID", "date"], validate="many_to_one")
    out = df.copy(deep=False)
    at = np.flatnonzero(mask)
    for col in ("VISITNUM", "VISIT"):
        if col in out.columns:
            values = out[col].to_numpy(copy=True)
            values[at] = got[col].to_numpy(dtype=values.dtype)
            out[col] = values
    if "EPOCH" in out.columns:  # each record's own date and time (a sample before the dose on its day: SCREENING)
        ref = dm.set_index("USUBJID")
        values = out["EPOCH"].to_numpy(dtype=object, copy=True)
        values[at] = epoch_by_date(rows[dtc].astype(object).reset_index(drop=True),
                                   pd.Series(ref["RFXSTDTC"].reindex(key["USUBJID"]).to_numpy(dtype=object)),
                                   pd.Series(ref["RFXENDTC"].reindex(key["USUBJID"]).to_numpy(dtype=object))
                                   ).to_numpy(dtype=object)
        out["EPOCH"] = values
    lnkid = f"{name}LNKID"
    if lnkid in out.columns:  # "<procedure>-<VISITNUM>"
        values = out[lnkid].to_numpy(dtype=object, copy=True)
        values[at] = [f"{text.rsplit('-', 1)[0]}-{v:g}" for text, v in zip(values[at], got["VISITNUM"], strict=True)]
        out[lnkid] = values
    keep = np.ones(len(out), dtype=bool)
    keep[at] = got["VISITNUM"].notna().to_numpy()
    seq = f"{name}SEQ"
    order = mappings.seq_order(name)
    if seq not in out.columns or ("VISITNUM" not in order and keep.all()):
        return out if keep.all() else out[keep].reset_index(drop=True)
    return _seq_within(out, keep, seq, order if "VISITNUM" in order else [], np.unique(key["USUBJID"]))


def _seq_within(df: pd.DataFrame, keep: np.ndarray, seq: str, order: list[str], subjects: np.ndarray
                ) -> pd.DataFrame:
    """`df` without the rows not kept, the rows of `subjects` sorted by `order` again (none: as they are) and their
    --SEQ numbered again; the other subjects' rows untouched (a study's few subjects with an unplanned visit: LB
    is not sorted again). The dataset is sorted by USUBJID first (common.assign_seq), so those subjects' rows,
    sorted among themselves, go back to the positions they held."""
    df = df[keep].reset_index(drop=True) if not keep.all() else df
    mine = np.flatnonzero(is_in(df["USUBJID"], list(subjects)))
    if order:
        within = sorted_positions(df.iloc[mine][["USUBJID", *order]], ["USUBJID", *order])
        if (within != np.arange(len(mine))).any():
            perm = np.arange(len(df))
            perm[mine] = mine[within]
            df = take_rows(df, perm)
    values = df[seq].to_numpy(copy=True)
    values[mine] = numbered_within_runs(column_codes(df["USUBJID"].iloc[mine].to_numpy(dtype=object))[0])
    out = df.copy(deep=False)
    out[seq] = values
    return out


def _supp_renumbered(supp: pd.DataFrame, before: pd.DataFrame, after: pd.DataFrame, seq: str) -> pd.DataFrame:
    """SUPP-- of a dataset whose rows were dropped and --SEQ renumbered: each row's IDVARVAL follows its parent
    (matched by the parent's unchanged columns but --SEQ), the rows of a dropped parent dropped."""
    keys = [c for c in before.columns if c != seq]
    old = before[[*keys, seq]].astype(str)
    new = after[[*keys, seq]].astype(str).rename(columns={seq: "_new"})
    link = old.merge(new, how="inner", on=keys, validate="one_to_one")[["USUBJID", seq, "_new"]]
    on = supp["IDVAR"].eq(seq)
    got = supp.loc[on, ["USUBJID", "IDVARVAL"]].merge(link, how="left", left_on=["USUBJID", "IDVARVAL"],
                                                      right_on=["USUBJID", seq])
    out = supp.copy()
    out.loc[on, "IDVARVAL"] = got["_new"].to_numpy(dtype=object)
    return out[~on | out["IDVARVAL"].notna()].reset_index(drop=True)


def _reject(records: RawRecords, refused: pd.DataFrame, dm: pd.DataFrame) -> None:
    """Reject the records of each refused visit (a subject and date) from the forms they came from, with why; their
    rows are kept in records.unnumbered (no note on SV's lack of the visit repeats the reject: lost_records.py)."""
    subjid = dm.set_index("USUBJID")["SUBJID"]
    why = pd.Series(refused["reason"].to_numpy(dtype=object),
                    index=pd.MultiIndex.from_arrays([subjid.reindex(refused["USUBJID"]).to_numpy(dtype=object),
                                                     refused["date"].dt.strftime("%Y-%m-%d").to_numpy(dtype=object)]))
    for form, column in FORM_DATES.items():
        df = records.forms.get(form)
        if df is None or "visit" not in df.columns or column not in df.columns:
            continue
        unplanned = per_distinct(lambda u: pd.Series(is_unscheduled(u), index=u.index), df["visit"]).astype(bool)
        if not unplanned.any():
            continue
        dtc, _ = dates.normalize_collected(df.loc[unplanned, column])
        pairs = pd.MultiIndex.from_arrays([df.loc[unplanned, "subject_id"].to_numpy(dtype=object),
                                           dtc.astype(str).str.slice(0, 10).to_numpy(dtype=object)])
        reason = pd.Series(why.reindex(pairs).to_numpy(dtype=object), index=dtc.index)
        hit = reason.notna().reindex(df.index, fill_value=False)
        if hit.any():
            rows = df[ROW].to_numpy()[hit.to_numpy(dtype=bool)]
            records.reject_rows(form, hit, column, reason.reindex(df.index), code="REJ-REC-016")
            had = records.unnumbered.get(form)
            records.unnumbered[form] = rows if had is None else np.concatenate([had, rows])
