"""The Study read from an input, whatever it is: study records (CSV / XLSX), an ODM export with its mapping,
SDTM datasets, or FHIR. `api` (every command) and `validate` read through here."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from msc_interop.errors import InputError
from msc_interop.inputs.kinds import (
    SDTM_SUFFIXES,
    InputKind,
    input_kind,
    is_fhir,
    listed_files,
    refuse_own_outputs,
    sdtm_folder,
)
from msc_interop.rejects import RejectReport
from msc_interop.study import Study


def load_study(path: str | Path, odm_map: str | Path | None = None) -> tuple[Study, RejectReport]:
    """Read study records (CSV / XLSX / ODM export, the latter with its mapping file), SDTM datasets or an ADaM
    folder (adam/reverse.py) into a Study (SDTM and ADaM input have no rejects at this stage)."""
    kind = input_kind(path)
    if odm_map is not None and kind != InputKind.ODM:
        raise InputError(f"{path}: --odm-map applies to a CDISC ODM export (.xml) only")
    if kind == InputKind.RECORDS:
        from msc_interop.records import read_records
        from msc_interop.sdtm.build import build_study

        if Path(path).is_dir():  # a big folder on two cores, its halves of the subjects joined (same study)
            from msc_interop.sdtm.load_in_two import load_in_two, worth_splitting

            loaded = load_in_two(Path(path)) if worth_splitting(Path(path)) else None
            if loaded is not None:
                return _with_epoch_note(*loaded)
        return _with_epoch_note(*build_study(read_records(path)))
    if kind == InputKind.ODM:
        from msc_interop.odm import read_odm
        from msc_interop.sdtm.build import build_study

        records = read_odm(path, odm_map)
        study, rejects = build_study(records)
        rejects.annotate(Path(path).name, records.where)
        return _with_epoch_note(study, rejects)
    from msc_interop.sdtm.formats import read_sdtm

    path = Path(path)
    if path.is_file():
        return read_sdtm(path), RejectReport()
    folder = sdtm_folder(path)
    from msc_interop.adam.reverse import is_adam_folder, read_notes, study_from_adam

    if folder is not None and is_adam_folder(folder):  # ADaM (to-adam output): its SDTM predecessors
        return study_from_adam(folder), RejectReport(notes=read_notes(folder))
    study = read_sdtm(folder)
    return study, RejectReport(notes=listed_files(folder, SDTM_SUFFIXES)[1] + study.reading_notes)


def _with_epoch_note(study: Study, rejects: RejectReport) -> tuple[Study, RejectReport]:
    """The study built from records, with the warning about records whose EPOCH no TA row has (trial_arms.py)."""
    from msc_interop.trial_arms import epoch_note, epochs_not_in_ta

    note = epoch_note(epochs_not_in_ta(study.datasets))
    if note and note not in rejects.notes:
        rejects.notes.append(note)
    return study, rejects


def read_any(paths: Sequence[str | Path], fhir_version: str | None = None,
             odm_map: str | Path | None = None) -> tuple[Study, RejectReport]:
    """One Study from study records (CSV, XLSX, ODM), SDTM datasets, or FHIR (Bundles / NDJSON, one or more)."""
    paths = [Path(p) for p in paths]
    refuse_own_outputs(paths)
    if all(is_fhir(p) for p in paths):
        from msc_interop.fhir import read_fhir

        return read_fhir(paths, version=fhir_version)
    if len(paths) != 1:
        raise InputError("give one study-records folder or SDTM folder, or one or more FHIR files")
    study, rejects = load_study(paths[0], odm_map)
    return whole_domains(study, rejects)


def whole_domains(study: Study, rejects: RejectReport) -> tuple[Study, RejectReport]:
    """The study with datasets split by --CAT put back together (LBCH, LBHE -> LB), saying so in the notes:
    what summary, to-adam and to-fhir read (validate keeps the pieces, and names them)."""
    from msc_interop.sdtm.join_split import join_split_pieces

    study, notes = join_split_pieces(study)
    rejects.notes += [n for n in notes if n not in rejects.notes]
    return study, rejects
