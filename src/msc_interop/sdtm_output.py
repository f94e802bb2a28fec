"""to-sdtm's output of a Study in memory: the dataset files of every format, define.xml beside XPT and
Dataset-JSON, and the validation of what was written (on two cores where it can: forked.py).

Split from api.py (the commands) as its own step: to_sdtm and from_fhir write through it; the partitioned runs
write a range at a time (sdtm/partitioned_write.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from msc_interop.study import Study

CONCURRENT_ROWS = 50_000  # records of a study from which write_sdtm writes its files in a forked process


def checks_ahead(study: Study) -> Any:
    """What write_sdtm needs to run the SDTM rules while its files are written (validate/written.py)."""
    from msc_interop.validate.written import ChecksAhead

    return ChecksAhead(study)


def validate_written_sdtm(study: Study, outdir: Path, written: list[Path], ahead: Any = None):
    """What `validate_written(outdir)` finds in a to-sdtm output, from the Study that was written instead of
    the files read back (validate/written.py; file-level checks still read what they need of each file);
    `ahead`: the ChecksAhead given to write_sdtm."""
    from msc_interop.validate import validate_paths
    from msc_interop.validate.written import validate_written_study

    if any(p.suffix == ".xpt" and p.stem.upper() not in study.datasets for p in written):
        return validate_paths([outdir])  # split datasets (LBCH, ...): checked as validate reads them
    return validate_written_study(study, outdir, written, ahead)


def write_sdtm(study: Study, outdir: Path, formats: Sequence[str], define: bool, stamp: str, *,
               xpt_encoding: str | None = None, notes: list[str] | None = None,
               max_file_size: int | None = None, rows: dict[str, int] | None = None,
               ahead: Any = None) -> list[Path]:
    """SDTM files, one folder per format, with define.xml beside XPT and Dataset-JSON; what a reader of them
    must know (non-ASCII text in XPT, what define.xml could not state as the data are) is added to `notes`;
    the records of each dataset written (split pieces too: LBCH ...) to `rows`.
    `max_file_size` (bytes; default 5 GB): an XPT dataset larger is written split by --CAT (sdtm/split.py);
    Dataset-JSON, NDJSON and CSV are written whole (FDA's limit is on XPT transport files).
    `ahead` (validate/written.py ChecksAhead): the SDTM rules of what is written run on it while a forked
    process writes the dataset files, on a study of CONCURRENT_ROWS records or more where forked.can_fork();
    the files are the same either way."""
    from msc_interop.atomic import write_bytes_atomic
    from msc_interop.forked import Forked, ForkedFailure, can_fork
    from msc_interop.runtime import gc_frozen
    from msc_interop.sdtm.define import define_document
    from msc_interop.sdtm.define_documents import place_documents
    from msc_interop.sdtm.formats import check_fits, dataset_file_name, text_encoding_of, write_study
    from msc_interop.sdtm.split import DEFAULT_MAX_FILE_SIZE, remove_stale_pieces, split_study
    from msc_interop.stale_outputs import sdtm_not_written_here

    forked = ahead is not None and can_fork() and sum(map(len, study.datasets.values())) >= CONCURRENT_ROWS
    # all formats checked before any is written (forked: by the process that writes them, first)
    said = [] if forked else check_fits(study, formats, xpt_encoding)
    split = None
    if "xpt" in formats:
        split = split_study(study, max_file_size or DEFAULT_MAX_FILE_SIZE,
                            lambda name: text_encoding_of(study, name, xpt_encoding))
    as_written = {fmt: split.study if fmt == "xpt" and split is not None else study for fmt in formats}

    def dataset_files(fmt: str) -> list[Path]:
        return write_study(as_written[fmt], outdir / fmt, [fmt], created=stamp, xpt_encoding=xpt_encoding,
                           checked=as_written[fmt] is study, define_beside=define and fmt in ("xpt", "json"))

    def folder_files(fmt: str) -> dict[str, Path]:
        return {n: outdir / fmt / dataset_file_name(n, fmt) for n in study.names}

    def define_of(fmt: str) -> tuple[bytes, list[str], list[tuple[str, str, str]]] | None:
        return define_document(study, dataset_format=fmt, created=stamp, split=split if fmt == "xpt" else None,
                               xpt_encoding=lambda name: text_encoding_of(study, name, xpt_encoding)
                               ) if define and fmt in ("xpt", "json") else None

    def checked_and_written(received: Callable[[], dict[str, bytes]]
                            ) -> tuple[list[str], dict[str, list[Path]], dict[str, Any]]:
        """(the limits' notes, each format's files, what the files and define.xml are found to hold: checked here
        after the writing, on the core the rules leave free, with the define.xml documents this process `received`
        from the parent)."""
        fits, files_of = check_fits(study, formats, xpt_encoding), {fmt: dataset_files(fmt) for fmt in formats}
        checks = {}
        try:
            defines = received()
            for fmt in formats:
                if as_written[fmt] is study:  # (split pieces are checked as validate reads them)
                    checks[fmt] = ahead.checks_after_writing(fmt, folder_files(fmt), outdir / fmt / "define.xml"
                                                             if fmt in defines else None, defines.get(fmt))
        except Exception:  # the files are written: the validation checks the folders itself (and meets the same
            checks = {}  # problem, with its own message)
        return fits, files_of, checks

    written: list[Path] = []
    with gc_frozen():  # from before the fork: neither process walks (nor, in the child, copies) the study's objects
        child = None
        if forked:
            try:
                child = Forked(checked_and_written, inbox=True)
            except OSError:  # no fork now (memory, a process limit): all in this process
                said = check_fits(study, formats, xpt_encoding)
        with child if child is not None else contextlib.nullcontext():
            documents = {fmt: document for fmt in formats if (document := define_of(fmt)) is not None}
            files_of = None
            if child is not None:
                child.send({fmt: document[0] for fmt, document in documents.items()})
                for fmt in formats:
                    if as_written[fmt] is study:  # (split pieces are checked as validate reads them)
                        document = documents.get(fmt)
                        ahead.run_ahead(fmt, folder_files(fmt), outdir / fmt / "define.xml" if document else None,
                                        document[0] if document else None)
                try:
                    fits, files_of, checks = child.result()
                    said = fits
                    ahead.runs.after_writing.update({fmt: found for fmt, found in checks.items() if found is not None})
                except ForkedFailure:  # checked and written here instead: the same files, or the error with its own
                    said, files_of = check_fits(study, formats, xpt_encoding), None  # message
            said += split.notes if split is not None else []
            for fmt in formats:
                written += files_of[fmt] if files_of is not None else dataset_files(fmt)
                if rows is not None:
                    rows.update({name: len(df) for name, df in as_written[fmt].datasets.items()})
                if fmt in documents:
                    write_bytes_atomic(outdir / fmt / "define.xml", documents[fmt][0])
                    said += [n for n in documents[fmt][1] if n not in said]
                    written.append(outdir / fmt / "define.xml")
                    placed, placing = place_documents(study, documents[fmt][2], outdir / fmt, written)
                    written += placed  # the package's aCRF beside the define.xml that cites it
                    said += placing
    said += remove_stale_pieces(written)
    said += sdtm_not_written_here(outdir, formats, written)
    if notes is not None:
        notes.extend(said)
    return written
