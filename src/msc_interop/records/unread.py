"""Files of a records folder (and sheets of a workbook) that hold records but are no form's: each is a reject.

Why: a form is found by its file name (labs.csv) or sheet name (labs). A file saved as lab_results.csv or
Labs.CSV was skipped without a word, and its records were in no output and in no reject report (the run ended
with exit 0). Now each such file or sheet is a reject (REJ-REC-013) naming the form it most looks like, and the
run exits 1 as for any record not converted.

What holds records: a header row naming subject_id, as every form's does. Anything else in the folder (a lab map,
notes, Excel's lock files ~$labs.csv, macOS's ._labs.csv, an empty Sheet1, a sheet of drop-down lists) is not a
reject. A file the reader opened under its form's name (Labs.CSV on a case-insensitive file system) was read.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable
from pathlib import Path

from msc_interop.rejects import REJECT_REPORT_NAMES, LostRows, RejectReport, add_lost

RECORD_SUFFIXES = (".csv", ".xlsx", ".xlsm", ".xls")  # what could hold a form's records
UNREAD = "REJ-REC-013"
WHOLE_FILE_FIELDS = ("(file)", "(sheet)")  # the field of such a reject: no row or column of it was read
_SUBJECT = re.compile(r"(^|[,;\t|\"'])\s*subject[ _-]?id\s*([,;\t|\"']|$)", re.IGNORECASE)
_COUNT_PIECE = 1 << 20


def holds_records(first_line: str) -> bool:
    """Whether a header row names subject_id (as every form's does; 'Subject ID' too, as the reader takes it)."""
    return bool(_SUBJECT.search(first_line.strip().lstrip("\ufeff")))


def report_unread_files(folder: Path, form_files: dict[str, str], rejects: RejectReport) -> None:
    """A reject for each file in `folder` (not below it) that holds records but is not a form's file (`form_files`:
    form -> its file name) as the reader opened it."""
    read = [folder / name for name in form_files.values() if (folder / name).is_file()]
    for path in sorted(folder.iterdir()):
        if (path.suffix.lower() not in RECORD_SUFFIXES or path.name.startswith((".", "~$"))
                or path.name in REJECT_REPORT_NAMES or not path.is_file() or _among(path, read)):
            continue
        csv = path.suffix.lower() == ".csv"
        if csv and not holds_records(_first_line(path)):
            continue
        lines = _data_lines(path) if csv else None
        held = f"its {lines} line(s) after the header were" if lines is not None else "its records were"
        form = _likely_form(path.name, form_files)
        if not form:
            advice = "rename it to its form's file name"
        elif (folder / form_files[form]).is_file():
            advice = f"{form_files[form]} is there too: put its records in that file"
        else:
            advice = f"rename it {form_files[form]} if it holds the '{form}' form"
        rejects.add(form, path.name, 0, WHOLE_FILE_FIELDS[0], path.name,
                    f"not read: '{path.name}' is not the file of a form, so {held} not converted; {advice} "
                    f"(the forms' files: {', '.join(sorted(form_files.values()))}), or move it out of the folder",
                    code=UNREAD)
        _unsourced(rejects, form, path.name)


def report_unread_sheets(workbook: str, headers: dict[str, list[str]], forms: Iterable[str],
                         rejects: RejectReport) -> None:
    """A reject for each sheet of `workbook` (`headers`: sheet name as the workbook has it -> its first row) whose
    header names subject_id but whose name is no form's."""
    names = {f: f for f in forms}
    for sheet, header in headers.items():
        if sheet.strip().lower() in names or not holds_records(",".join(str(c) for c in header)):
            continue
        form = _likely_form(sheet, names)
        advice = (f"the sheet '{form}' is there too: put its records in that sheet" if form and form in
                  {s.strip().lower() for s in headers} else f"rename it '{form}' if it holds that form" if form
                  else "rename it to its form's name")
        rejects.add(form, f"{workbook}[{sheet}]", 0, WHOLE_FILE_FIELDS[1], sheet,
                    f"not read: sheet '{sheet}' is not a form's sheet, so its records were not converted; {advice} "
                    f"(the forms' sheets: {', '.join(sorted(names))})", code=UNREAD)
        _unsourced(rejects, form, f"{workbook}[{sheet}]")


def _unsourced(rejects: RejectReport, form: str, file: str) -> None:
    """A file (or sheet) not read that looks like `form`: if that form feeds a derivation about the subjects, every
    subject's was made without it (no subject of it is known: subject ""; derived_without.py says so once)."""
    if form:
        add_lost(rejects.unsourced, ("", form, file), LostRows(0, ()))


def _among(path: Path, read: list[Path]) -> bool:
    """Whether `path` is one of the files read (the same file: Labs.CSV opened as labs.csv where names ignore case)."""
    for other in read:
        try:
            if os.path.samefile(path, other):
                return True
        except OSError:
            continue
    return False


def _likely_form(name: str, form_files: dict[str, str]) -> str:
    """The form whose file (or sheet) name `name` most looks like ("" if none is close): Labs.CSV and
    lab_results.csv -> labs."""
    stem = Path(name).stem.lower() if Path(name).suffix.lower() in RECORD_SUFFIXES else name.strip().lower()
    stems = {Path(f).stem.lower(): form for form, f in form_files.items()}
    if stem in stems:
        return stems[stem]
    within = [form for s, form in stems.items() if s.rstrip("s") in stem or stem.rstrip("s") in s]  # (lab_results,
    if len(within) == 1:  # extra labs, subjects_v2)
        return within[0]
    close = difflib.get_close_matches(stem, list(stems), n=1, cutoff=0.6)
    return stems[close[0]] if close else ""


def _first_line(path: Path) -> str:
    try:
        with path.open("rb") as f:
            return f.readline(1 << 16).decode("utf-8", errors="replace")
    except OSError:
        return ""


def _data_lines(path: Path) -> int | None:
    """Lines after the first (the header) of a CSV file, not counting a last empty one (None: unreadable); read a
    piece at a time (an old export left in the folder may be big)."""
    lines, last = 0, b""
    try:
        with path.open("rb") as f:
            while piece := f.read(_COUNT_PIECE):
                lines += piece.count(b"\n")
                last = piece[-1:]
    except OSError:
        return None
    lines += 1 if last not in (b"\n", b"") else 0
    return max(lines - 1, 0)
