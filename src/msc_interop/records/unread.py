"""Files of a records folder (and sheets of a workbook) that are no form's, and so are not read: each is a reject.

Why: a form is found by its file name (labs.csv) or sheet name (labs). A file saved as lab_results.csv or
Labs.CSV was skipped without a word, and its records were in no output and in no reject report (the run ended
with exit 0). Now each such file or sheet is a reject (REJ-REC-013) naming the form it most looks like, and the
run exits 1 as for any record not converted.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path

from msc_interop.rejects import REJECT_REPORT_NAMES, RejectReport

RECORD_SUFFIXES = (".csv", ".xlsx", ".xlsm", ".xls")  # what could hold a form's records
DEFINITION_SHEETS = ("study", "sites", "arms", "visits")  # a workbook's study definition, not a form
UNREAD = "REJ-REC-013"
WHOLE_FILE_FIELDS = ("(file)", "(sheet)")  # the field of such a reject: no row or column of it was read


def report_unread_files(folder: Path, form_files: dict[str, str], rejects: RejectReport) -> None:
    """A reject for each file in `folder` (not below it) that could hold records but is no form's file
    (`form_files`: form -> its file name). The reject reports a command writes are not records."""
    names = set(form_files.values())
    for path in sorted(folder.iterdir()):
        if (path.suffix.lower() in RECORD_SUFFIXES and path.name not in names
                and path.name not in REJECT_REPORT_NAMES and path.is_file()):
            lines = _data_lines(path) if path.suffix.lower() == ".csv" else None
            held = f"its {lines} line(s) after the header were" if lines is not None else "its records were"
            form = _likely_form(path.name, form_files)
            rename = (f"rename it {form_files[form]} if it holds the '{form}' form" if form
                      else "rename it to its form's file name")
            rejects.add(form, path.name, 0, WHOLE_FILE_FIELDS[0], path.name,
                        f"not read: '{path.name}' is not the file of a form, so {held} not converted; "
                        f"{rename} (the forms' files: {', '.join(sorted(names))}), or move it out of the folder",
                        code=UNREAD)


def report_unread_sheets(workbook: str, sheets: Iterable[str], forms: Iterable[str], rejects: RejectReport) -> None:
    """A reject for each sheet of `workbook` that is neither a form's (`forms`) nor part of the study definition
    (`sheets`: the names as the workbook has them)."""
    known = {f.lower() for f in forms} | set(DEFINITION_SHEETS)
    names = {f: f for f in forms}
    for sheet in sheets:
        if sheet.strip().lower() in known:
            continue
        form = _likely_form(sheet, names)
        rename = f"rename it '{form}' if it holds that form" if form else "rename it to its form's name"
        rejects.add(form, f"{workbook}[{sheet}]", 0, WHOLE_FILE_FIELDS[1], sheet,
                    f"not read: sheet '{sheet}' is not a form's sheet, so its records were not converted; {rename} "
                    f"(the forms' sheets: {', '.join(sorted(names))})", code=UNREAD)


def _likely_form(name: str, form_files: dict[str, str]) -> str:
    """The form whose file (or sheet) name `name` most looks like ("" if none is close): Labs.CSV and
    lab_results.csv -> labs."""
    stem = Path(name).stem.lower() if Path(name).suffix.lower() in RECORD_SUFFIXES else name.strip().lower()
    stems = {Path(f).stem.lower(): form for form, f in form_files.items()}
    if stem in stems:
        return stems[stem]
    starts = [form for s, form in stems.items() if stem.startswith(s.rstrip("s")) or s.startswith(stem.rstrip("s"))]
    if len(starts) == 1:
        return starts[0]
    close = difflib.get_close_matches(stem, list(stems), n=1, cutoff=0.6)
    return stems[close[0]] if close else ""


def _data_lines(path: Path) -> int | None:
    """Lines after the first (the header) of a CSV file, not counting a last empty one (None: unreadable)."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    lines = raw.count(b"\n") + (0 if raw.endswith(b"\n") or not raw else 1)
    return max(lines - 1, 0)
