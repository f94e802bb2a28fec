"""A row of a form whose every field is empty (a CSV line of separators only, `,,,,,,`, as Excel writes a row it
once held; a sheet row whose cells hold only spaces) is no record: it is skipped as a blank line is, not counted
in `read`, and named in one note per file, so that nothing is lost silently and no row of nothing is rejected as
five empty required fields. The same note names a workbook's rows left out as holding no value that can be read
(records/workbook_cells.py: formulas with no saved result filled down below the data), as ranges of rows.

Column-wise: each column's codes and distinct values (distinct.column_codes, known from the parse) say which rows
hold "" there; a form whose first column never holds "" (the subject_id of a clean export) costs one look at its
distinct values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_interop.distinct import column_codes, take_rows

LISTED = 5  # rows the note names (then "and N more")


def every_field_empty(table: pd.DataFrame, row_column: str) -> np.ndarray:
    """Whether each row of `table` (stripped text, as the reader makes it) holds "" in every column but
    `row_column` (the row's location)."""
    empty = np.ones(len(table), dtype=bool)
    for column in table.columns:
        if column == row_column:
            continue
        codes, uniques = column_codes(table[column])
        blank = np.flatnonzero(np.asarray(uniques, dtype=object) == "")
        if not len(blank):
            return np.zeros(len(table), dtype=bool)
        empty &= codes == blank[0]  # (the distinct values are distinct: "" at one code at most)
        if not empty.any():
            break
    return empty


def empty_rows_note(file: str, rows: np.ndarray, unread: tuple[np.ndarray, str, str] | None = None) -> str:
    """The note naming the rows of `file` skipped as holding no field at all (`rows`: their locations), and those
    skipped as holding no value that can be read (`unread`: their locations, consecutive ones as a range, what they
    hold, a workbook's formulas with no saved result filled down below the data, and what to do if one is a
    record)."""
    parts = []
    if len(rows):
        first = np.sort(np.asarray(rows, dtype=np.int64))[:LISTED].tolist()
        listed = ", ".join(map(str, first)) + (f" and {len(rows) - LISTED} more" if len(rows) > LISTED else "")
        parts.append(f"row {listed}: every field empty, read as a blank line (not a record: not counted in read)"
                     if len(rows) == 1 else f"rows {listed} ({len(rows)} rows): every field empty, read as blank "
                     "lines (not records: not counted in read)")
    if unread is not None and len(unread[0]):
        (at, what, then), n = unread, len(unread[0])
        parts.append(f"row {_spans(at)}: {what}, read as a blank line (not a record: not counted in read); if it is "
                     f"one, {then}" if n == 1 else f"rows {_spans(at)} ({n} rows): {what}, read as blank lines (not "
                     f"records: not counted in read); if one is a record, {then}")
    return f"{file} " + "; ".join(parts)


def _spans(rows: np.ndarray) -> str:
    """Row numbers with consecutive ones as a range: 20-69, 75 (the first LISTED ranges, then "and N more rows")."""
    rows = np.unique(np.asarray(rows, dtype=np.int64))
    starts = np.flatnonzero(np.r_[True, np.diff(rows) != 1])
    ends = np.r_[starts[1:], len(rows)] - 1
    spans = [str(rows[a]) if a == b else f"{rows[a]}-{rows[b]}" for a, b in zip(starts, ends, strict=True)]
    more = int(len(rows) - (ends[LISTED - 1] + 1)) if len(spans) > LISTED else 0
    return ", ".join(spans[:LISTED]) + (f" and {more} more rows" if more else "")


Unread = tuple[np.ndarray, str, str]  # rows left out as holding no value that can be read (empty_rows_note)


def without_empty_rows(table: pd.DataFrame, file: str, row_column: str, unread: Unread | None = None
                       ) -> tuple[pd.DataFrame, np.ndarray, str | None]:
    """`table` without its rows of nothing (every_field_empty), the mask of the rows kept, and the note naming those
    left out (None: none), with the rows `unread` left out before (empty_rows_note)."""
    empty = every_field_empty(table, row_column)
    unread = unread if unread is not None and len(unread[0]) else None
    if not empty.any():
        return table, ~empty, None if unread is None else empty_rows_note(file, np.array([], dtype=np.int64), unread)
    rows = table[row_column].to_numpy()[empty]
    return take_rows(table, np.flatnonzero(~empty)), ~empty, empty_rows_note(file, rows, unread)
