"""Small mapping steps every domain builder shares: controlled-term look-up, visits, epochs, --SEQ, SUPP--.

Each step works on whole columns and sends rows it cannot map to the reject report through
RawRecords.reject_rows, with the field and a reason a data manager can act on.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from msc_interop import dates, iso8601, mappings
from msc_interop.columns_frame import frame_of_columns
from msc_interop.distinct import (
    coded,
    column_codes,
    is_in,
    per_distinct,
    row_codes,
    sorted_positions,
    take_rows,
    value_ranks,
)
from msc_interop.records.reader import RawRecords
from msc_interop.rejects import Kept
from msc_interop.study import StudyMeta

# The VISIT of a record at an unplanned visit until sdtm/unscheduled.py numbers it (VISITNUM empty), and the word a
# records visit name starts with to mark one (SDTMIG 3.4 section 4.4.5; the CDISC pilot's SV: "UNSCHEDULED 5.1").
UNSCHEDULED = "UNSCHEDULED"
# Spellings that are not the mark but mean it (abbreviations): a reject proposes "Unscheduled" for them, as for a
# misspelling close to it; they are not taken as the mark, since a site's own code could mean something else.
UNSCHEDULED_LOOKALIKES = ("UNSCHEDULED", "UNSCHED", "UNSCH", "UNS", "UNSCHEDULED VISIT", "UNPLANNED")


def map_terms(records: RawRecords, form: str, column: str, lookup: Mapping[str, str], what: str,
              required: bool = False, hint: str = "", suggest: Mapping[str, str] | None = None) -> pd.Series:
    """Map a text column through an upper-cased look-up table; reject rows whose value is not in it.

    Empty cells map to "" unless `required`. `suggest` (upper-cased spelling -> the term to propose): where the
    reason's "did you mean" looks, when the look-up's own values are not what a person writes. Returns the mapped
    column for the rows that remain.
    """
    df = records.forms[form]
    if column not in df.columns:
        if required:
            raise KeyError(f"{form}: column {column!r} is required")  # the schema check catches this first
        return pd.Series("", index=df.index, dtype=object)

    def look_up(u: pd.Series) -> pd.DataFrame:
        text = u.str.upper()
        mapped = text.map(lookup)
        return pd.DataFrame({"mapped": mapped.fillna("").astype(object),  # (filled per distinct value: the
                             "unknown": mapped.isna() & (text.ne("") | required)})  # rows keep their codes)

    both = per_distinct(look_up, df[column])  # one pass over the distinct values for both answers
    mapped, unknown = both["mapped"], both["unknown"]
    if unknown.any():
        bad_values = pd.unique(df.loc[unknown, column])
        reasons = {v: unknown_reason(v, column, what, lookup if suggest is None else suggest, hint)
                   for v in bad_values}
        df = records.reject_rows(form, unknown, column, df[column].map(reasons), code="REJ-REC-006")
        mapped = mapped[~unknown]
    records.check_held(form, column, lambda u: look_up(u)["unknown"],  # (rows rejected for another field)
                       lambda u: u.map(lambda v: unknown_reason(v, column, what, lookup, hint)),
                       code="REJ-REC-006")
    return mapped


def unknown_reason(value: str, column: str, what: str, lookup: Mapping[str, str], hint: str) -> str:
    """Why `value` of `column` is not in `lookup`, with the closest term as a suggestion: the term it is once
    zero-padded ('1' for a site '01': a spreadsheet dropped the zeros), else the closest spelling."""
    if value == "":
        return f"'{column}' is empty; it must be {what}"
    padded = zero_padded_matches([value], lookup).get(value)
    if padded is not None:
        return f"'{value}' is not {what}; did you mean '{lookup[padded]}'? {LEADING_ZEROS}{hint}"
    close = difflib.get_close_matches(value.upper(), list(lookup), n=1, cutoff=0.75)
    suggestion = f"; did you mean {lookup[close[0]]}?" if close else ""
    return f"'{value}' is not {what}{suggestion}{hint}"


LEADING_ZEROS = "(a spreadsheet drops leading zeros: keep the column as text)"


def zero_padded_matches(values: Iterable[str], known: Iterable[str], shorter_only: bool = True) -> dict[str, str]:
    """Each of `values` (distinct values, all digits) that is one of `known` once zero-padded to that one's width
    ('1' -> '01', '001') -> that known value (the shortest, then the first in sorted order, where several are).
    `shorter_only` False: also a value that is a known one with leading zeros added ('01' -> '1': the known one
    lost them). Values and known values not all digits, or equal, never match."""
    wanted = {v for v in values if v.isdigit()}
    if not wanted:
        return {}
    by_digits: dict[str, str] = {}  # the value without its leading zeros -> the known value (shortest, first)
    for k in sorted((k for k in known if k.isdigit()), key=lambda k: (len(k), k)):
        by_digits.setdefault(k.lstrip("0"), k)
    out = {}
    for v in sorted(wanted):
        k = by_digits.get(v.lstrip("0"))
        if k is not None and k != v and (len(k) > len(v) or not shorter_only):
            out[v] = k
    return out


def codelist_lookup(name: str) -> dict[str, str]:
    return mappings.codelist(name).synonym_map


def visit_names(meta: StudyMeta) -> dict[str, str]:
    """Upper-cased visit name, alias or number -> the visit's name (what a reject proposes for a misspelling)."""
    return {str(key).strip().upper(): str(v.VISIT) for v in meta.visits.itertuples(index=False)
            for key in (v.VISIT, *v.aliases, f"{v.VISITNUM:g}")}


def visit_lookup(meta: StudyMeta) -> dict[str, float]:
    """Upper-cased visit name, alias or number -> VISITNUM."""
    out: dict[str, float] = {}
    for v in meta.visits.itertuples(index=False):
        for key in (v.VISIT, *v.aliases, f"{v.VISITNUM:g}"):
            out[str(key).strip().upper()] = float(v.VISITNUM)
    return out


def map_visits(records: RawRecords, form: str, meta: StudyMeta, column: str = "visit",
               date: str | None = None) -> pd.DataFrame:
    """VISITNUM, VISIT and EPOCH of each row from the study's visit schedule; unknown visit names rejected.

    A visit not in the schedule whose name starts with "unscheduled" (any case: "Unscheduled", "UNSCHEDULED 2")
    is an unplanned visit (SDTMIG 3.4 section 4.4.5): VISITNUM empty and VISIT UNSCHEDULED until
    sdtm/unscheduled.py numbers it from its date once every form is built; its record needs a complete `date`
    (the form's date column), else it is rejected (REJ-REC-014)."""
    names = ", ".join(meta.visits["VISIT"])
    lookup = {k: f"{v:g}" for k, v in visit_lookup(meta).items()}
    suggest = visit_names(meta) | dict.fromkeys(UNSCHEDULED_LOOKALIKES, "Unscheduled")
    df = records.forms[form]
    if column in df.columns:  # the unplanned visits' spellings (a handful of distinct values) map to "U"
        codes, uniques = column_codes(df[column])  # (known already: no pass over the rows for a study without one)
        distinct = pd.Series(np.asarray(uniques, dtype=object), dtype=object).fillna("").astype(str)
        marked = is_unscheduled(distinct)
        if marked.any():
            lookup |= {v.upper(): "U" for v in distinct[marked]}
            _reject_undated(records, form, pd.Series(marked[codes], index=df.index), column, date)
    held = records.held.get(form)
    if held is not None and column in held.columns:  # (rows rejected for another field, which map_terms checks too:
        spelled = pd.Series(pd.unique(held[column].fillna("").astype(str)), dtype=object)  # their unscheduled
        lookup |= {v.upper(): "U" for v in spelled[is_unscheduled(spelled)]}  # visit is no unknown visit name)
    num = map_terms(records, form, column, lookup, "a visit of the study schedule", suggest=suggest,
                    hint=f" (visits: {names}; aliases in study.yaml; 'Unscheduled' for a visit off the schedule)")
    visitnum = per_distinct(lambda u: pd.to_numeric(u.replace(["", "U"], np.nan)), num)  # (the dtype the rows give)
    sched = meta.visits.set_index("VISITNUM")
    names_of = {f"{v:g}": name for v, name in sched["VISIT"].items()} | {"U": UNSCHEDULED}

    def of_visit(var: str) -> pd.Series:  # looked up per distinct visit, spread with its codes
        return per_distinct(lambda u: u.astype("float64").map(sched[var]).fillna("").astype(object), visitnum)

    visit = per_distinct(lambda u: u.map(names_of).fillna("").astype(object), num)
    return frame_of_columns({"VISITNUM": visitnum, "VISIT": visit, "EPOCH": of_visit("EPOCH")}, num.index)


def is_unscheduled(names: pd.Series) -> np.ndarray:
    """Whether each visit name marks an unplanned visit: it starts with "unscheduled", case and spaces aside."""
    return names.fillna("").astype(str).str.strip().str.upper().str.startswith(UNSCHEDULED).to_numpy(dtype=bool)


def _reject_undated(records: RawRecords, form: str, unplanned: pd.Series, column: str, date: str | None) -> None:
    """Reject the unplanned-visit rows without a complete date: the date is what numbers the visit. A date that is
    not valid at all is left to the form's date check (one reject, with that reason)."""
    df = records.forms[form]
    undated = unplanned.copy()
    if date is not None and date in df.columns:  # (only the unplanned visits' rows: a few)
        dtc, bad = dates.normalize_collected(df.loc[unplanned, date])
        undated[unplanned] = ~(dtc.str.match(iso8601.COMPLETE_DATE).astype(bool) | bad.astype(bool))
    if undated.any():
        field = date if date is not None else column
        records.reject_rows(form, undated, field,
                            f"'{field}' must be a complete date (YYYY-MM-DD) for a record of an unscheduled visit: "
                            "the visit is numbered from its date (VISITNUM after the last planned visit before it)",
                            code="REJ-REC-014")


# The EPOCHs epoch_by_date gives, in the study's order: a record placed by its date can be in any of them whatever
# epochs the schedule names (trial_arms.py derives TA with each of them, so that TA has every EPOCH of the data)
DATE_EPOCHS = ("SCREENING", "TREATMENT", "FOLLOW-UP")


def epoch_by_date(dtc: pd.Series, first_dose: pd.Series, last_dose: pd.Series) -> pd.Series:
    """EPOCH of an event from its date (DATE_EPOCHS): before first dose SCREENING, to the last dose day TREATMENT,
    then FOLLOW-UP. "" when the date is partial (the epoch cannot be known)."""
    d, first, last = dates.date_part(dtc), dates.date_part(first_dose), dates.date_part(last_dose)
    before = dates.on_or_before(dtc, first_dose) & ~dates.on_or_before(first_dose, dtc)
    out = pd.Series("", index=dtc.index, dtype=object)
    known = d.notna() & first.notna()
    screening, treatment, follow_up = DATE_EPOCHS
    out[known & before] = screening
    out[known & ~before & (last.isna() | (d <= last))] = treatment
    out[known & ~before & last.notna() & (d > last)] = follow_up
    return out


def normalize_dates(records: RawRecords, form: str, column: str) -> pd.Series:
    """SDTM --DTC from a collected date column; invalid dates are rejected with the reason."""
    dtc, bad = dates.normalize_collected(records.forms[form][column])
    return reject_bad_dates(records, form, column, dtc, bad)


def reject_bad_dates(records: RawRecords, form: str, column: str, dtc: pd.Series, bad: pd.Series) -> pd.Series:
    """The second half of normalize_dates, for a builder that normalised the column's distinct values itself
    (VS: once per distinct date and time): rejects the `bad` rows, returns `dtc` of the rows that remain."""
    if bad.any():
        records.reject_rows(form, bad, column,
                            f"'{column}' is not a valid date (ISO 8601 YYYY-MM-DD, optionally Thh:mm, "
                            "or partial YYYY-MM / YYYY; UN for an unknown day or month)", code="REJ-REC-007")
        dtc = dtc[~bad]
    return dtc


def note_ending_before_start(records: RawRecords, form: str, start: pd.Series | None, end: pd.Series | None,
                             columns: tuple[str, str]) -> None:
    """A note naming the records whose end date (`columns[1]`) is certainly before their start (`columns[0]`),
    compared at the precision both give (2020-03 is not before 2020-03-15). They are converted as collected (SDTM
    submits data as collected: an adverse event dropped for a wrong date would be missing from the safety tables);
    the validation flags them in the output (MSC-SDTM-012), and the note says which records they are."""
    if start is None or end is None:
        return
    df = records.forms[form]
    first, last = start.reindex(df.index), end.reindex(df.index)
    backwards = dates.certainly_before(last.to_numpy(dtype=object), first.to_numpy(dtype=object))
    if backwards.any():
        note_records(records, form, backwards, f"{columns[1]} is before {columns[0]}",
                     (df[columns[1]], df[columns[0]]), "converted as collected (validate flags them: MSC-SDTM-012); "
                     "correct whichever date is wrong at the source")


def note_records(records: RawRecords, form: str, mask: np.ndarray, what: str, shown: tuple[pd.Series, pd.Series],
                 then: str) -> None:
    """The records of `form` at `mask`, converted as collected though `what` is wrong with them: kept for the note
    RejectReport.settle_kept makes of them once the study is read (their rows, the first one's two values `shown`,
    and `then`: what was done)."""
    rows = records.forms[form]["_row"].to_numpy()[mask]
    first, second = (values.to_numpy(dtype=object)[mask] for values in shown)
    file = records.files.get(form, form)
    records.rejects.kept += [Kept(file, int(r), what, f"{a!r} and {b!r}", then)
                             for r, a, b in zip(rows.tolist(), first.tolist(), second.tolist(), strict=True)]


def assign_seq(df: pd.DataFrame, seq_var: str, order: list[str], ties: np.ndarray | None = None) -> pd.DataFrame:
    """--SEQ: 1..n per USUBJID in the order of `order` (deterministic; stable sort). `ties`: the order of rows
    equal in those (their positions in the file), where the rows are not in file order (lb.py sorts them early)."""
    by = list(dict.fromkeys(["USUBJID", *order]))
    df = take_rows(df, sorted_positions(df, by, ties))  # the keys sorted alone, the variables taken once in order
    codes, subjects = column_codes(df["USUBJID"])
    if pd.isna(np.asarray(subjects, dtype=object)).any():  # (rows without a subject get none, as pandas gives)
        df[seq_var] = df.groupby("USUBJID", sort=False).cumcount() + 1
    else:
        df[seq_var] = numbered_within_runs(codes)  # (sorted: a subject's rows are together)
    return df


def numbered_within_runs(codes: np.ndarray) -> np.ndarray:
    """1, 2, ... along each run of equal codes (a subject's rows, once sorted by subject): groupby().cumcount() + 1
    of sorted keys, in numpy."""
    n = len(codes)
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if n else np.zeros(0, dtype=np.int64)
    run_start = np.zeros(n, dtype=np.int64)
    run_start[starts] = starts
    return np.arange(1, n + 1, dtype=np.int64) - np.maximum.accumulate(run_start) if n else run_start


def make_supp(rdomain: str, parent: pd.DataFrame, seq_var: str, qnam: str, qlabel: str, values: pd.Series,
              qorig: str = "CRF") -> pd.DataFrame:
    """SUPP-- rows (SDTMIG 8.4) for one non-standard variable; empty values produce no row."""
    keep = values.ne("") & values.notna()
    p = parent.loc[keep]
    return frame_of_columns({  # (the constants coded once: distinct.coded)
        "STUDYID": p["STUDYID"].values,
        "RDOMAIN": rdomain,
        "USUBJID": p["USUBJID"].values,
        "IDVAR": seq_var,
        "IDVARVAL": p[seq_var].astype(str).values,
        "QNAM": qnam,
        "QLABEL": qlabel,
        "QVAL": values[keep].astype(str).values,
        "QORIG": qorig,
        "QEVAL": "",
    }, pd.RangeIndex(len(p)))


def rows_at(values: pd.Series | pd.DataFrame, idx: pd.Index) -> pd.Series | pd.DataFrame:
    """`values` at the rows `idx` (the rows left after later rejects): as they are when none was rejected, so
    their columns keep the codes the builders found (distinct.shared_columns) instead of being copied."""
    return values if values.index.equals(idx) else values.loc[idx]


def subject_keys(records: RawRecords, form: str, dm: pd.DataFrame,
                 wanted: tuple[str, ...] = ("STUDYID", "USUBJID", "RFSTDTC", "RFXSTDTC", "RFXENDTC")) -> pd.DataFrame:
    """Attach STUDYID/USUBJID and the reference dates of DM (those `wanted` that DM has) to a form's rows; reject
    unknown subjects."""
    df = records.forms[form]
    known = pd.Series(is_in(df["subject_id"], dm["SUBJID"].tolist()), index=df.index)  # (per distinct subject)
    if (~known).any():
        df = records.reject_rows(form, ~known, "subject_id",
                                 "subject is not in subjects.csv (or its subject row was rejected)", code="REJ-REC-008")
    cols = [c for c in wanted if c in dm.columns]
    ref = dm.set_index("SUBJID")[cols]
    # per distinct subject: a million lab rows hold a few thousand subjects, and the columns come with their codes
    return frame_of_columns({c: per_distinct(lambda u, c=c: ref[c].reindex(u.to_numpy()).astype(object),
                                             df["subject_id"]) for c in cols}, df.index)


def last_before_first_dose(df: pd.DataFrame, first_dose: pd.Series, *, dtc: str, result: str,
                           by: list[str], ties: np.ndarray | None = None) -> pd.Series:
    """--LOBXFL (and VS's --BLFL): "Y" on the last record with a result on or before the first dose, per `by`
    (subject and test), the last by --DTC then VISITNUM (then record order: `ties`, the records' positions in the
    file, where the rows are in another order). Column-wise: each distinct --DTC and first dose is parsed once
    (dates.on_or_before), the rows compare datetime64 values, and the ordering runs on integer codes, not on a
    million strings."""
    before = dates.on_or_before(df[dtc], first_dose.reindex(df.index)).astype(bool)
    eligible = ~is_in(df[result], [""]) & before.to_numpy(dtype=bool)  # (per distinct result)
    flag = np.zeros(len(df), dtype=np.int8)  # an index into ["", "Y"]
    if eligible.any():
        at = np.flatnonzero(eligible)
        group = row_codes(df[by])[0][at]  # (the whole columns' codes are known: distinct.shared_columns)
        order = np.lexsort((at if ties is None else ties[at], *(value_ranks(df[c])[at] for c in ("VISITNUM", dtc)),
                            group))
        ends = np.r_[np.flatnonzero(np.diff(group[order])), len(order) - 1]
        flag[at[order[ends]]] = 1
    return coded(flag, ["", "Y"], df.index)
