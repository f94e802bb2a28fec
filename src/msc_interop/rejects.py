"""The reject report that every reader fills.

Nothing is dropped silently: each input record is either converted or listed here with the file, the row as
a person finds it (study records: the line of the CSV file the record starts on, or the sheet row, header = 1;
SDTM datasets: the record number, 1 = first; ODM: the XML line), the field, the value and the reason. Counts per
form reconcile: read = converted + rejected.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ClassVar, TypeVar

import orjson
import pandas as pd

from msc_interop import mappings
from msc_interop.atomic import write_bytes_atomic
from msc_interop.errors import MappingDataError

REJECT_COLUMNS = ["form", "file", "row", "field", "value", "reason", "code"]
# The file names of the report beside every command's output (inputs.kinds skips them when reading a folder).
REJECT_REPORT_NAMES = ("rejects.csv", "rejects.json")


@dataclass(frozen=True, order=True)
class Reject:
    """One input record that was not converted, and why."""

    form: str
    file: str
    row: int
    field: str
    value: str
    reason: str
    code: str  # stable reason code from mappings/reject_codes.yaml (REJ-REC-006, ...)


@dataclass(frozen=True)
class Kept:
    """A record converted as collected though something in it is wrong (an end before its start): named in a note."""

    file: str
    row: int
    what: str
    values: str  # the values that show it, as the note quotes them
    then: str  # what was done, what to do


LISTED = 5  # the rows a note on a derivation made without rejected records lists per file (derived_without.py)

# (subject_id as the records give it, form, file): the rejected records of a form that a derivation about the
# subject reads (an infusion: the reference dates; a finding on or before the first dose: a baseline flag).
# Subject "": a whole file of the form not read (no subject known, no row).
UnsourcedKey = tuple[str, str, str]
# (subject_id, VISITNUM, VISIT of the schedule, file): the rejected records of a subject at a planned visit that SV
# does not hold for the subject (SV was built without them); (subject_id, None, date YYYY-MM-DD, file): those of
# an unscheduled visit on that date (one per subject and date) that SV does not hold.
UnvisitedKey = tuple[str, float | None, str, str]
K = TypeVar("K", UnsourcedKey, UnvisitedKey)


@dataclass(frozen=True)
class LostRows:
    """Rejected records of one file that a note names once the whole study is read (derived_without.py): how many
    they are, and the first LISTED of their rows (ascending), all the note lists. A summary, not a row each: a form
    whose every row is rejected (a wrong date format) keeps a few numbers per subject, however many rows it has."""

    count: int
    first: tuple[int, ...]


def add_lost(into: dict[K, LostRows], key: K, lost: LostRows) -> None:
    """`lost` added to into[key]: the counts add and the first rows are the smallest LISTED of both (the parts of a
    load hold the records of distinct subjects: sdtm/merge_parts.py)."""
    had = into.get(key)
    into[key] = lost if had is None else LostRows(had.count + lost.count,
                                                  tuple(sorted({*had.first, *lost.first}))[:LISTED])


@dataclass
class FormCount:
    """read = converted + rejected, per input form."""

    form: str
    read: int = 0
    converted: int = 0

    @property
    def rejected(self) -> int:
        return self.read - self.converted


@dataclass
class RejectReport:
    """All rejects of one run plus the per-form reconciliation counts."""

    row_unit: ClassVar[str] = "row"  # what Reject.row counts: a spreadsheet row (header = 1) or an XML line

    rejects: list[Reject] = field(default_factory=list)
    counts: dict[str, FormCount] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what a reader read but skipped on purpose (audit trails, ...)
    carried: set[str] = field(default_factory=set)  # forms kept in the Study as read, not mapped to SDTM yet
    kept: list[Kept] = field(default_factory=list)  # records converted as collected though wrong (settle_kept)
    unsourced: dict[UnsourcedKey, LostRows] = field(default_factory=dict)  # rejected records a derivation read
    unvisited: dict[UnvisitedKey, LostRows] = field(default_factory=dict)  # rejected records of a visit not in SV
    # (subject_id, VISITNUM) -> the note on an SV visit whose EPOCH was a choice (sdtm/sv.py), made a note with the
    # other per-subject notes once the whole study is read (derived_without.settle_derivations)
    visit_notes: dict[tuple[str, float], str] = field(default_factory=dict)
    # subject_id in DM, not a screen failure -> whether it has reference dates (derived_without.py)
    treated: dict[str, bool] = field(default_factory=dict)

    def settle_kept(self, most: int = 5) -> None:
        """The records converted as collected though wrong (`kept`), as one note per file and problem: its rows
        (the first `most`), the first one's values, and what was done. Made once the whole study is read, so that
        a load in two processes or by partitions gives the note a whole load gives."""
        rejected = {(r.file, r.row) for r in self.rejects}  # (a record a later check rejected was not converted)
        groups: dict[tuple[str, str, str], list[Kept]] = {}
        for k in sorted(self.kept, key=lambda k: (k.file, k.what, k.row)):
            if (k.file, k.row) not in rejected:
                groups.setdefault((k.file, k.what, k.then), []).append(k)
        for (file, what, then), ks in groups.items():
            listed = ", ".join(str(k.row) for k in ks[:most])
            listed += f" and {len(ks) - most} more" if len(ks) > most else ""
            self.notes.append(f"{file} row(s) {listed} ({len(ks)} record(s)): {what} (the first: {ks[0].values}): "
                              f"{then}")
        self.kept = []

    def add(self, form: str, file: str, row: int, field: str, value: object, reason: str, *, code: str) -> None:
        self.rejects.append(Reject(form, file, int(row), field, _text(value), reason, known_code(code)))

    def add_frame(self, form: str, file: str, rows: pd.Series, field: str, values: pd.Series, reason: str, *,
                  code: str) -> None:
        """Add many rejects at once (one per element of `rows`): the vectorised paths use this."""
        code = known_code(code)
        for r, v in zip(rows.tolist(), values.tolist(), strict=True):
            self.rejects.append(Reject(form, file, int(r), field, _text(v), reason, code))

    def annotate(self, file: str, where: Mapping[tuple[str, int], str]) -> None:
        """Append the location `where[(form, row)]` (e.g. an ODM OID path) to the reason of rejects from `file`."""
        self.rejects = [Reject(r.form, r.file, r.row, r.field, r.value, f"{r.reason} [at {where[(r.form, r.row)]}]",
                               r.code)
                        if r.file == file and (r.form, r.row) in where else r for r in self.rejects]

    def count(self, form: str, read: int, converted: int) -> None:
        self.counts[form] = FormCount(form, read, converted)

    def reconciliation(self) -> list[str]:
        """One line per form: read = converted (or carried) + rejected."""
        lines = []
        for c in sorted(self.counts.values(), key=lambda c: c.form):
            verb = "carried (not mapped to SDTM yet)" if c.form in self.carried else "converted"
            lines.append(f"{c.form}: read {c.read} = {verb} {c.converted} + rejected {c.rejected}")
        return lines

    def rejected_rows(self, form: str) -> set[int]:
        return {r.row for r in self.rejects if r.form == form}

    def __len__(self) -> int:
        return len(self.rejects)

    @property
    def n_rejected_records(self) -> int:
        return sum(c.rejected for c in self.counts.values())

    def sorted(self) -> list[Reject]:
        return sorted(set(self.rejects), key=lambda r: (r.form, r.file, r.row, r.field, r.reason, r.value))

    def to_frame(self) -> pd.DataFrame:
        rows = [asdict(r) for r in self.sorted()]
        return pd.DataFrame(rows, columns=REJECT_COLUMNS)

    def write(self, outdir: str | Path) -> list[Path]:
        """OUTDIR/rejects.csv and OUTDIR/rejects.json (the names every command uses and every reader skips)."""
        csv_path, json_path = (Path(outdir) / name for name in REJECT_REPORT_NAMES)
        self.write_csv(csv_path)
        self.write_json(json_path)
        return [csv_path, json_path]

    def write_csv(self, path: str | Path) -> None:
        """The report as CSV, each text that a spreadsheet would run as a formula escaped (csv_cell); rejects.json
        keeps the texts as they are."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(REJECT_COLUMNS)
        for r in self.sorted():
            w.writerow([csv_cell(r.form), csv_cell(r.file), r.row, csv_cell(r.field), csv_cell(r.value),
                        csv_cell(r.reason), r.code])
        write_bytes_atomic(path, buf.getvalue().encode("utf-8"))

    def write_json(self, path: str | Path) -> None:
        doc = {
            "counts": [
                {"form": c.form, "read": c.read, "converted": c.converted, "rejected": c.rejected}
                for c in sorted(self.counts.values(), key=lambda c: c.form)
            ],
            "rejects": [asdict(r) for r in self.sorted()],
        }
        if self.notes:
            doc["notes"] = list(self.notes)
        write_bytes_atomic(path, orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")


# a signed number (-5, +3.2, -.5, -1e3): a spreadsheet reads it as a number, not as a formula
_SIGNED_NUMBER = re.compile(r"[+-](?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def csv_cell(text: str) -> str:
    """`text` for a cell of a CSV report that people open in Excel or LibreOffice: one that the spreadsheet would
    run as a formula (starting with =, @, a tab or a carriage return, or with + or - but not as a signed number:
    the formula =129.58/2.2 of a rejected workbook cell, a payload such as =HYPERLINK(...) or -2+3+cmd|...) gets a
    leading ' so that it shows as text (OWASP, CSV injection); -5 and +3.2 stay as they are."""
    if text and (text[0] in "=@\t\r" or (text[0] in "+-" and not _SIGNED_NUMBER.fullmatch(text))):
        return "'" + text
    return text


def known_code(code: str) -> str:
    """`code` if mappings/reject_codes.yaml lists it: a typo in a reader fails its tests, not a user's report."""
    if code not in mappings.reject_codes():
        raise MappingDataError(f"reject code {code!r} is not in mappings/reject_codes.yaml")
    return code


def _text(value: object) -> str:
    if value is None:
        return ""
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)
