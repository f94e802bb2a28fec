"""Files of an output folder that this run did not write: named in a note, so that nobody takes them for its output.

Why: a second run into the same folder replaces the files it writes and leaves the others. to-sdtm of a study
without findings.csv beside an earlier run's pr.xpt, re.xpt and relrec.xpt left them there (validate then reported
datasets define.xml does not describe); to-fhir --ndjson left an earlier Procedure.ndjson, which from-fhir then
read as this study's procedures. They are not removed (the folder may hold files of the user's own that look like
ours): the note names them and says what to do.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from msc_interop.rejects import REJECT_REPORT_NAMES

SDTM_SUFFIXES = {"xpt": (".xpt", ".xml"), "json": (".json", ".ndjson", ".xml"), "csv": (".csv",)}  # (define.xml)
FHIR_SUFFIXES = (".ndjson", ".json")  # NDJSON files and bundle.json (the reject reports are not output)


def not_written_here(folder: Path, written: Iterable[Path], suffixes: tuple[str, ...], reader: str) -> list[str]:
    """A note naming the files of `folder` (not below it) with one of `suffixes` that are not in `written` (none:
    no note); `reader`: who would take them as part of the output."""
    if not folder.is_dir():
        return []
    ours = {_identity(Path(p)) for p in written} - {None}  # (the same file: where names ignore case, DM.XPT of an
    left = sorted(p.name for p in folder.iterdir()  # earlier run is the dm.xpt this one wrote)
                  if p.suffix.lower() in suffixes and p.name not in REJECT_REPORT_NAMES and p.is_file()
                  and _identity(p) not in ours)
    if not left:
        return []
    return [f"{folder}: {', '.join(left)} not written by this run (left by an earlier one?): {reader} takes "
            "them as part of this output; remove them, or write to an empty folder"]


def sdtm_not_written_here(outdir: Path, formats: Iterable[str], written: Iterable[Path]) -> list[str]:
    """not_written_here for each format folder of an SDTM output (OUTDIR/xpt, OUTDIR/json, OUTDIR/csv)."""
    written = list(written)
    return [note for fmt in formats if fmt in SDTM_SUFFIXES
            for note in not_written_here(outdir / fmt, written, SDTM_SUFFIXES[fmt],
                                         "validate (and any reader of the folder)")]


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of a file, None if it is not there."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino
