"""The input of `summary`: read_any's Study, except that in an SDTM folder the datasets whose file is bigger than
`hold_bytes` stay in their files (LB, VS, EG: 95% of a large study's rows; SV, PR, ...) and are read a range of
rows at a time by the tables that use them (summary/dataset_rows.py), so that the summary of 10M lab rows runs in
the memory of their numbers, not of their text. Split pieces (LBCH, LBHE, ...) are read whole and put together.
The tables are the same either way (tests/summary/test_summary_large.py compares every file written).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from msc_interop.adam.reverse import is_adam_folder
from msc_interop.errors import InputError
from msc_interop.inputs.kinds import SDTM_SUFFIXES, InputKind, input_kind, is_fhir, listed_files, sdtm_folder
from msc_interop.inputs.load import read_any, whole_domains
from msc_interop.rejects import RejectReport
from msc_interop.sdtm.formats import _BY_SUFFIX, _choose_files, read_sdtm
from msc_interop.study import Study
from msc_interop.summary.codes import Codes
from msc_interop.summary.dataset_rows import FileRows, LargeStudy
from msc_interop.validate.folder_chunks import Declined

__all__ = ["HELD_VARIABLES", "HOLD_BYTES", "READ_WHOLE", "read_for_summary"]

# the datasets some table reads whole, every variable (summary/*.py `study.datasets`): held whatever their size.
# Every other dataset stays in its file when it is bigger than the hold size: LB, VS, EG (their tables reduce them a
# range at a time), CM, DS, MH, RE (their tables read a few variables: frame_of), SV, PR, QS, ... (only counted by
# the disposition and study tables).
READ_WHOLE = frozenset({"DM", "EX", "SUPPEX", "AE", "TS", "TV", "TA"})
# what the tables read of the datasets held whole, when a study is large (read_for_summary): held without their
# other variables (DM's unused dates and identifiers, one string per subject each, are ~70 MB at 180k subjects).
# VISITNUM and VISIT of every one: the disposition table counts the subject-visits of any dataset that has them.
# tests/summary/test_summary_large.py proves every table the same as with every variable held, and fails when the
# summary's code names a variable of these domains (SDTMIG 3.4's lists) that is not here.
HELD_VARIABLES = {
    "DM": ("STUDYID", "DOMAIN", "USUBJID", "RFXSTDTC", "RFXENDTC", "DTHFL", "AGE", "AGEU", "SEX", "RACE", "ETHNIC",
           "ARMCD", "ARM", "ACTARMCD", "ACTARM", "ARMNRS", "COUNTRY", "VISITNUM", "VISIT", "VISITDY",
           "EPOCH"),
    "EX": ("STUDYID", "DOMAIN", "USUBJID", "EXSEQ", "EXTRT", "EXDOSE", "EXDOSU", "EXDOSFRM", "EXDOSFRQ", "EXROUTE",
           "EXOCCUR", "VISITNUM", "VISIT", "VISITDY", "EPOCH", "EXSTDTC", "EXENDTC", "EXSTDY"),
    "SUPPEX": ("STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "QNAM", "QVAL"),
    "AE": ("STUDYID", "DOMAIN", "USUBJID", "AESEQ", "AETERM", "AEDECOD", "AEBODSYS", "AESOC", "AESEV", "AESER",
           "AEACN", "AEREL", "AEOUT", "EPOCH", "AESTDTC", "AEENDTC", "AESTDY", "VISITNUM", "VISIT", "VISITDY"),
}
HOLD_BYTES = 16 << 20  # files up to this size are read whole ($MSC_INTEROP_SUMMARY_HOLD_MB sets another size)
HOLD_ENV = "MSC_INTEROP_SUMMARY_HOLD_MB"


def read_for_summary(paths: Sequence[str | Path], fhir_version: str | None = None,
                     odm_map: str | Path | None = None, *, hold_bytes: int | None = None,
                     chunk_rows: int | None = None) -> tuple[Study, RejectReport]:
    """The Study `summary` reads (see the module docstring); `chunk_rows`: rows per range (tests make it small)."""
    paths = [Path(p) for p in paths]
    hold_bytes = _hold_bytes() if hold_bytes is None else hold_bytes
    folder = _plain_sdtm_folder(paths)
    if folder is None:
        return read_any(paths, fhir_version=fhir_version, odm_map=odm_map)
    on_disk: dict[str, FileRows] = {}
    texts = Codes()  # USUBJID and VISIT values, held once for every file
    for f in _choose_files(folder)[0]:
        name = f.stem.upper()
        if name not in READ_WHOLE and f.stat().st_size > hold_bytes:
            try:
                on_disk[name] = FileRows(name, _BY_SUFFIX[f.suffix.lower()], f, chunk_rows, texts)
            except Declined:  # read whole, as every other dataset (what cannot be read by range, the whole read says)
                continue
    if not on_disk:
        return read_any(paths, fhir_version=fhir_version, odm_map=odm_map)
    facts = {n: r.facts for n, r in on_disk.items()}
    study = read_sdtm(folder, not_read=facts)
    study.sources.update({n: r.path.name for n, r in on_disk.items()})
    notes = listed_files(folder, SDTM_SUFFIXES)[1] + study.reading_notes
    study, rejects = whole_domains(study, RejectReport(notes=notes))
    for name, keep in HELD_VARIABLES.items():
        df = study.datasets.get(name)
        if df is not None and not set(df.columns) <= set(keep):
            study.datasets[name] = df[[c for c in df.columns if c in keep]]
    return LargeStudy(study, dict(on_disk)), rejects


def _hold_bytes() -> int:
    text = os.environ.get(HOLD_ENV)
    if text is None:
        return HOLD_BYTES
    try:
        return int(float(text) * (1 << 20))
    except ValueError:
        raise InputError(f"${HOLD_ENV}={text!r} is not a number of megabytes") from None


def _plain_sdtm_folder(paths: list[Path]) -> Path | None:
    """The SDTM folder given alone (not FHIR, study records, an ODM export or an ADaM folder), else None."""
    if len(paths) != 1 or not paths[0].is_dir() or is_fhir(paths[0]) or input_kind(paths[0]) != InputKind.SDTM:
        return None
    folder = sdtm_folder(paths[0])
    return None if folder is None or is_adam_folder(folder) else folder
