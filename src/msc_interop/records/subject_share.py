"""The rows of some subjects only: what each process of a load on two cores reads (sdtm/load_in_two.py).

Each process keeps the rows of its subjects of a form file, by the distinct values of the subject column, before
any check runs: from the codes of the parse made once before the fork (csv_arrow.plain_frame: no column of the
other rows is made), or from the read table where pandas read the file. So each row is checked, and rejected if
it must be, by exactly one process, and names the line of the file it is on. The share that is not `inside`
keeps every other row (a subject not in the subjects form, or rejected there, included: there its rows are
rejected with the reason a whole read gives), and is the one that reports what is about a file, not a row (a
value spanning lines).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from msc_interop.distinct import column_codes, stripped_text, take_rows
from msc_interop.records.csv_arrow import Parsed, RowsWanted

SUBJECT_COLUMN = "subject_id"


@dataclass(frozen=True)
class SubjectShare:
    """The rows whose (stripped) subject_id is in `subjects` (`inside`), or all the others (not `inside`)."""

    subjects: frozenset[str]
    inside: bool

    @property
    def reports_files(self) -> bool:
        """Whether this share reports the findings about a whole file (one share must, the other must not)."""
        return not self.inside

    def wanted(self, normalized: Callable[[list[str]], list[str]]) -> RowsWanted:
        """The mask of a parsed file's records that are this share's, from its columns' codes and distinct values
        (csv_arrow.read_plain_csv); `normalized` names the header's columns as the reader does."""
        def mask(columns: Parsed) -> np.ndarray:
            names = normalized(list(columns))
            if SUBJECT_COLUMN not in names:
                return np.full(len(next(iter(columns.values()))[0]) if columns else 0, not self.inside)
            codes, distinct = columns[list(columns)[names.index(SUBJECT_COLUMN)]]
            return self._mine(codes, stripped_text(pd.Series(distinct, dtype=object)))

        return mask

    def _mine(self, codes: np.ndarray, distinct: pd.Series) -> np.ndarray:
        """Whether each row (its code into the stripped `distinct` subject ids) is this share's."""
        mine = distinct.isin(self.subjects).to_numpy(dtype=bool)[codes]
        return mine if self.inside else ~mine

    def rows_of(self, form: pd.DataFrame) -> pd.DataFrame:
        """The rows of `form` (a form's table as the reader makes it: stripped text, `_row`) that are this share's;
        a table without the subject column is the outside share's (its missing column is reported there)."""
        if SUBJECT_COLUMN not in form.columns:
            return form if not self.inside else form.iloc[:0]
        codes, distinct = column_codes(form[SUBJECT_COLUMN])  # (known: the reader factorized it)
        keep = self._mine(codes, pd.Series(distinct, dtype=object))
        return form if keep.all() else take_rows(form, np.flatnonzero(keep))
