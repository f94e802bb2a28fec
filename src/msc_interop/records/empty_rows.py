"""A row of a form whose every field is empty (a CSV line of separators only, `,,,,,,`, as Excel writes a row it
once held; a sheet row whose cells hold only spaces) is no record: it is skipped as a blank line is, not counted
in `read`, and named in one note per file, so that nothing is lost silently and no row of nothing is rejected as
five empty required fields.

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


def empty_rows_note(file: str, rows: np.ndarray) -> str:
    """The note naming the rows of `file` skipped as holding no field at all (`rows`: their locations)."""
    first = np.sort(np.asarray(rows, dtype=np.int64))[:LISTED].tolist()
    listed = ", ".join(map(str, first)) + (f" and {len(rows) - LISTED} more" if len(rows) > LISTED else "")
    if len(rows) == 1:
        return (f"{file} row {listed}: every field empty, read as a blank line (not a record: not counted in "
                "read)")
    return (f"{file} rows {listed} ({len(rows)} rows): every field empty, read as blank lines (not records: not "
            "counted in read)")


def without_empty_rows(table: pd.DataFrame, file: str, row_column: str) -> tuple[pd.DataFrame, np.ndarray, str | None]:
    """`table` without its rows of nothing (every_field_empty), the mask of the rows kept, and the note naming those
    left out (None: none)."""
    empty = every_field_empty(table, row_column)
    if not empty.any():
        return table, ~empty, None
    rows = table[row_column].to_numpy()[empty]
    return take_rows(table, np.flatnonzero(~empty)), ~empty, empty_rows_note(file, rows)
