"""The Python API: what the CLI calls and what scripts and notebooks use directly.

    >>> from msc_interop import api
    >>> result = api.to_sdtm("fixtures/example_study", "out/sdtm", formats=["xpt", "json"])
    >>> result.study["LB"].shape[0], result.rejects.n_rejected_records
    (494, 0)

Every function is reader -> Study -> writer; nothing here knows a file format's details.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from msc_interop import mappings
from msc_interop.atomic import remove_stale_parts
from msc_interop.distinct import shared_columns
from msc_interop.errors import InputError
from msc_interop.inputs.kinds import RECORDS_DEFINITIONS, InputKind, input_kind, refuse_own_outputs
from msc_interop.inputs.load import load_study, read_any
from msc_interop.outcome import EXIT_OK, exit_status
from msc_interop.partition import PARTITION_BYTES
from msc_interop.rejects import RejectReport
from msc_interop.runtime import gc_frozen, trim_freed_memory
from msc_interop.sdtm_output import checks_ahead, validate_written_sdtm, write_sdtm
from msc_interop.study import Study

__all__ = ["ConversionResult", "creation_time", "from_fhir", "load_study", "read_any", "summarize", "synth",
           "to_adam", "to_fhir", "to_sdtm", "validate", "write_sdtm"]

DEFAULT_SDTM_FORMATS = ("xpt", "json", "csv")


@dataclass
class ConversionResult:
    """What a conversion produced: the Study, the reject report and the files written."""

    study: Study
    rejects: RejectReport
    written: list[Path] = field(default_factory=list)
    validation: Any = None  # msc_interop.validate.Report of the files written, when asked for
    adam: dict[str, Any] = field(default_factory=dict)  # to_adam: the ADaM datasets written, by name
    partitions: int = 0  # to_sdtm: the subject partitions a big records folder was converted in (0: whole)
    rows: dict[str, int] = field(default_factory=dict)  # records per dataset written, where `study` is not all

    @property
    def ok(self) -> bool:
        """True when every input record was converted (no rejects) and what was written validates."""
        return exit_status(self.rejects, self.validation) == EXIT_OK


def creation_time(created: str | None = None) -> str:
    """Creation timestamp for output metadata: `created` if given, else SOURCE_DATE_EPOCH, else now (UTC).

    Pin it (an option or SOURCE_DATE_EPOCH) and two runs on the same input give byte-identical files.
    """
    if created:  # (checked here, before any input is read)
        from msc_interop.sdtm.define_model import ISO8601_KIND_PATTERNS

        if not re.fullmatch(ISO8601_KIND_PATTERNS["datetime"], created) or not _real_moment(created):
            raise InputError(f"--created {created!r}: not an ISO 8601 date-time with seconds (e.g. 2026-01-01T00:00:00 "
                             "or 2026-01-01T00:00:00+00:00): the creation time define.xml and Dataset-JSON state")
        return created
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _real_moment(text: str) -> bool:
    """Whether an ISO 8601 date-time names a real moment (no month 13, no hour 25)."""
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def to_sdtm(
    input_path: str | Path,
    outdir: str | Path,
    formats: Sequence[str] = DEFAULT_SDTM_FORMATS,
    define: bool = True,
    created: str | None = None,
    validate: bool = True,
    odm_map: str | Path | None = None,
    encoding: str | None = None,
    xpt_encoding: str | None = None,
    lab_map: str | Path | None = None,
    max_file_size: int | None = None,
    partition_subjects: int | str = "auto",
) -> ConversionResult:
    """Convert study records (or SDTM in another format) to SDTM files, one folder per format.

    Writes OUTDIR/<format>/<dataset>.<suffix>, define.xml beside the XPT and Dataset-JSON files, and the
    reject report (OUTDIR/rejects.csv, OUTDIR/rejects.json) with the per-form counts. With `validate`, the
    files written are checked by the same rules as `msc-interop validate` (result.validation). `encoding`:
    of SDTM XPT/CSV input (default: UTF-8, else Windows-1252, per file; see sdtm/text_encoding.py).
    `xpt_encoding`: of non-ASCII text in the XPT files written (default: the encoding the input package's
    file was read in, else UTF-8); each variable holding such text is named in a note. `max_file_size`: bytes
    (default 5 GB); an XPT dataset larger is written split by --CAT (LBCH, LBHE, ...; sdtm/split.py).
    `partition_subjects`: a records folder is read, built and written this many subjects at a time
    (sdtm/partitioned.py: the same files, the memory of one partition); "on": so, with ~250k records a
    partition; "auto": "on" when its CSV files exceed PARTITION_BYTES; 0: never.

    An existing SDTM package is converted as it is: its variable order, labels and lengths are kept, and a
    content problem (a value outside a codelist, say) is a note (and a finding where a rule checks it), never a
    reason to refuse a dataset; its define.xml states the package's SDTMIG/CT versions (sdtm/package.py).
    """
    outdir = Path(outdir)
    stamp = creation_time(created)
    if xpt_encoding:
        from msc_interop.sdtm.text_encoding import check_encoding

        xpt_encoding = check_encoding(xpt_encoding)
    _check_encoding_applies(input_path, encoding)
    why: list[str] = []  # why an input asked to be cut (on, N) was read whole
    if _partitioning(input_path, odm_map, partition_subjects, why):
        from msc_interop.sdtm.partitioned import scratch_folder

        with scratch_folder(outdir) as scratch:
            result = _to_sdtm_partitioned(Path(input_path), outdir, scratch, formats, define, stamp, validate,
                                          xpt_encoding, lab_map, max_file_size, partition_subjects, why)
        if result is not None:
            return result
    with shared_columns():  # the builders, writers, define.xml and rules factorize each column once between them
        with _lab_map(lab_map), gc_frozen():  # (lab_map: a site's codes are test names the records may use; the
            study, rejects = _load_decoded(input_path, odm_map, encoding)  # modules: not walked by the collector)
        trim_freed_memory()  # what reading the records took, given back before writing (runtime.py)
        if why and partition_subjects not in ("auto", 0, "off"):
            rejects.notes.append(f"--partition-subjects {partition_subjects}: read whole ({why[0]})")
        rows: dict[str, int] = {}
        ahead = checks_ahead(study) if validate else None
        with _report_even_if_writing_fails(rejects, outdir):
            written = write_sdtm(study, outdir, formats, define, stamp, xpt_encoding=xpt_encoding,
                                 notes=rejects.notes, max_file_size=max_file_size, rows=rows, ahead=ahead)
        written += rejects.write(outdir)
        validation = validate_written_sdtm(study, outdir, written, ahead) if validate else None
    return ConversionResult(study, rejects, written, validation=validation, rows=rows)




def _partitioning(input_path: str | Path, odm_map: str | Path | None, per_partition: int | str,
                  why: list[str]) -> bool:
    """Whether to-sdtm reads this input a subject partition at a time: a records folder (study.yaml + CSV)
    asked to (a number, "on") or big enough ("auto"); `why` hears why another input is read whole."""
    path = Path(input_path)
    if per_partition in (0, "off"):
        return False
    if odm_map is not None or not path.is_dir() or not any((path / n).is_file() for n in RECORDS_DEFINITIONS):
        why.append(f"{path.name} is not a study-records folder (study.yaml with CSV files): only those are cut "
                   "by subject")
        return False
    if per_partition == "auto":
        return sum(p.stat().st_size for p in path.glob("*.csv")) > PARTITION_BYTES
    if isinstance(per_partition, int) and per_partition < 0:
        raise InputError(f"partition_subjects: {per_partition} is not a number of subjects")
    return True


def _to_sdtm_partitioned(folder: Path, outdir: Path, scratch: Path, formats: Sequence[str], define: bool,
                         stamp: str, validate: bool, xpt_encoding: str | None, lab_map: str | Path | None,
                         max_file_size: int | None, per_partition: int | str, why: list[str]
                         ) -> ConversionResult | None:
    """to-sdtm a subject partition at a time (None: the folder is one partition, or cannot be cut: whole; `why`
    hears which)."""
    from msc_interop.sdtm.partitioned import load_partitioned
    from msc_interop.sdtm.partitioned_write import write_partitioned

    with _lab_map(lab_map):
        ps = load_partitioned(folder, scratch, per_partition if isinstance(per_partition, int) else None,
                              check_xpt="xpt" in formats, xpt_encoding=xpt_encoding, why=why)
    if ps is None:
        return None
    rejects = ps.rejects
    rows = ps.rows()
    with _report_even_if_writing_fails(rejects, outdir):
        written = write_partitioned(ps, outdir, formats, define, stamp, xpt_encoding=xpt_encoding,
                                    max_file_size=max_file_size, rows=rows)
    rejects.notes += [n for n in ps.notes if n not in rejects.notes]
    written += rejects.write(outdir)
    validation = None
    if validate:
        from msc_interop.validate.written_partitions import validate_written_partitions

        validation = validate_written_partitions(ps, outdir, written)
    return ConversionResult(ps.proxy_study(), rejects, written, validation=validation, partitions=ps.partitions,
                            rows=rows)


def _lab_map(path: str | Path | None) -> contextlib.AbstractContextManager[None]:
    """The site's lab map installed for the block (nothing installed without one)."""
    if path is None:
        return contextlib.nullcontext()
    from msc_interop.lab_map import load_lab_map

    return mappings.lab_map_installed(load_lab_map(path))


@contextlib.contextmanager
def _report_even_if_writing_fails(rejects: RejectReport, outdir: Path) -> Iterator[None]:
    """Clear what an interrupted run left in `outdir` (noted in the report), then run the block that writes the
    output; if it fails, the reject report of the input read is still written (noting the failure), so the
    records rejected on the way are not lost with the run."""
    removed = remove_stale_parts(outdir)
    if removed:
        names = ", ".join(str(p.relative_to(outdir)) for p in removed[:5]) + (" ..." if len(removed) > 5 else "")
        rejects.notes.append(f"removed {len(removed)} unfinished temporary file(s) an interrupted run left in "
                             f"{outdir}: {names}")
    try:
        yield
    except Exception as exc:
        rejects.notes.append(f"the run stopped before its output was complete: {exc}")
        with contextlib.suppress(Exception):  # the folder itself may be what cannot be written
            rejects.write(outdir)
            n = rejects.n_rejected_records
            exc.add_note(f"the reject report of the input read ({n or 'no'} record{'' if n == 1 else 's'} rejected) "
                         f"is in {outdir / 'rejects.csv'} and rejects.json")
        raise


def _check_encoding_applies(input_path: str | Path, encoding: str | None) -> None:
    """--encoding other than UTF-8 with study records or an ODM export: an error (it was silently ignored, and a
    Windows-1252 CSV then failed as not UTF-8 as if the option had not been given)."""
    import codecs

    if encoding is None:
        return
    try:
        utf8 = codecs.lookup(encoding).name in ("utf-8", "utf-8-sig", "ascii")  # (how records are read, BOM or not)
    except LookupError:  # (the readers name an unknown codec themselves)
        return
    if not utf8 and input_kind(input_path) in (InputKind.RECORDS, InputKind.ODM):
        raise InputError(f"{input_path}: --encoding {encoding} applies to SDTM XPT/CSV input only: study records are "
                         "read as UTF-8 (save the CSV files as 'CSV UTF-8'), an ODM export in the encoding its XML "
                         "declaration names")


def _load_decoded(input_path: str | Path, odm_map: str | Path | None, encoding: str | None
                  ) -> tuple[Study, RejectReport]:
    """load_study, with what the SDTM readers decoded (files not in UTF-8, values in no encoding) as notes."""
    from msc_interop.sdtm.text_encoding import reading

    with reading(encoding) as log:
        study, rejects = load_study(input_path, odm_map)
    rejects.notes.extend(log.notes())
    return study, rejects


def validate_written(outdir: Path, fhir_version: str | None = None):
    """The validate rules over what a conversion just wrote (so the output is what `validate` accepts);
    FHIR output is checked as the version it was written in."""
    from msc_interop.validate import validate_paths

    return validate_paths([outdir], fhir_version=fhir_version)


def synth(outdir: str | Path, subjects: int = 9, seed: int = 2009, profile: str = "scale",
          placebo: bool = False) -> list[Path]:
    """Write synthetic study records (the shape of the bundled study) for `subjects` subjects; `placebo`: every
    second subject in a placebo arm (two arms, the study's products in study.yaml)."""
    from msc_interop.synth import generate

    return generate(subjects, seed, profile, placebo).write(outdir)


def from_fhir(
    inputs: Sequence[str | Path],
    outdir: str | Path,
    formats: Sequence[str] = DEFAULT_SDTM_FORMATS,
    define: bool = True,
    created: str | None = None,
    fhir_version: str | None = None,
    *,
    lab_map: str | Path | None = None,
    study: str | Path | None = None,
    subjects: str | Path | None = None,
    pseudonym_key_file: str | Path | None = None,
    timezone: str | None = None,
    strict: bool = False,
    partition_subjects: int | str = "auto",
    max_file_size: int | None = None,
    engine: str = "local",
    scheduler: str | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ConversionResult:
    """Read FHIR Bundles / NDJSON into a Study and write SDTM as `to_sdtm` does (plus the reject report).

    `study`: the study definition (study.yaml, as to-sdtm reads it) for STUDYID, sites, arms, visits and the time
    zone; `subjects`: the enrolment table (hospital Patient id -> SUBJID/USUBJID); `pseudonym_key_file`: the
    secret of keyed pseudonyms (else the environment variable MSC_PSEUDONYM_KEY); `timezone`: IANA name that
    date-times with an offset are converted to; `strict`: reject lab results of tests not in the mapping;
    `lab_map`: a site's lab map (msc_interop.lab_map), whose codes win over the built-in lab table.
    `partition_subjects`: FHIR NDJSON is read and written this many subjects at a time
    (fhir/read_partitioned.py: the same files, the memory of one partition); "on": ~100k resources a partition;
    "auto": "on" when the NDJSON files exceed PARTITION_BYTES; 0: never. `engine` "dask": the NDJSON cut by subject
    as "on" does ("auto" is "on"), the scan, the cut and each partition's read on a Dask cluster (a local one of
    `workers` processes, or the one at `scheduler`, whose workers must reach the input and `outdir` at the same
    paths), the same files as `engine` "local"; `progress` hears (tasks done, tasks submitted)."""
    from msc_interop.fhir import read_fhir
    from msc_interop.fhir.engines import engine_tasks, fhir_engine
    from msc_interop.fhir.resources.enrolment import load_enrolment

    outdir = Path(outdir)
    paths = [Path(p) for p in inputs]
    refuse_own_outputs(paths)
    stamp = creation_time(created)  # (a bad --created or --timezone stops the run before anything is read)
    if timezone is not None:
        _check_timezone(timezone)
    meta = _study_meta(study) if study is not None else None
    enrolment = load_enrolment(meta.studyid if meta else "", subjects, pseudonym_key_file)
    partition_subjects = fhir_engine(paths, engine, scheduler, workers, partition_subjects)
    why: list[str] = []  # why an input asked to be cut (on, N) was read whole
    if _fhir_partitioning(paths, partition_subjects, why):
        from msc_interop.fhir.read_partitioned import ReadOptions
        from msc_interop.sdtm.partitioned import scratch_folder

        options = ReadOptions(fhir_version, meta, timezone, strict, enrolment)
        with _lab_map(lab_map), scratch_folder(outdir) as scratch, \
                engine_tasks(engine, scheduler, workers, progress) as tasks:
            result = _from_fhir_partitioned(paths, outdir, scratch, options, formats, define, stamp,
                                            partition_subjects, why, max_file_size, tasks)
        if result is not None:
            return result
    with _lab_map(lab_map):
        study_, rejects = read_fhir(paths, version=fhir_version, study_meta=meta, timezone=timezone,
                                    strict=strict, enrolment=enrolment)
    if why and engine == "dask":
        rejects.notes.append(f"--engine dask: read whole in this process ({why[0]})")
    elif why and partition_subjects not in ("auto", 0, "off"):
        rejects.notes.append(f"--partition-subjects {partition_subjects}: read whole ({why[0]})")
    with _report_even_if_writing_fails(rejects, outdir):
        written = write_sdtm(study_, outdir, formats, define, stamp, max_file_size=max_file_size)
    return ConversionResult(study_, rejects, [*written, *rejects.write(outdir)])


def _fhir_partitioning(paths: Sequence[Path], per_partition: int | str, why: list[str]) -> bool:
    """Whether from-fhir reads this input a subject partition at a time: NDJSON asked to (a number, "on") or
    big enough ("auto"). Other FHIR files are read whole (subject_cut.py says why; so does `why`)."""
    from msc_interop.inputs.kinds import fhir_files

    if isinstance(per_partition, int) and per_partition < 0:
        raise InputError(f"partition_subjects: {per_partition} is not a number of subjects")
    if per_partition in (0, "off"):
        return False
    files, _ = fhir_files(paths)
    other = next((f for f in files if f.suffix.lower() != ".ndjson"), None)
    if not files or other is not None:
        why.append(f"{other.name} is not NDJSON: only NDJSON is cut by subject; give the .ndjson files alone (a "
                   "folder of to-fhir --ndjson also holds bundle.json: --bundle none leaves it out)" if other
                   else "no FHIR files")
        return False
    return per_partition != "auto" or sum(f.stat().st_size for f in files) > PARTITION_BYTES


def _from_fhir_partitioned(paths: list[Path], outdir: Path, scratch: Path, options: Any, formats: Sequence[str],
                           define: bool, stamp: str, per_partition: int | str, why: list[str],
                           max_file_size: int | None, tasks: Any = None) -> ConversionResult | None:
    """from-fhir a subject partition at a time (None: one partition, or the input cannot be cut: whole; `why`
    says which)."""
    from msc_interop.fhir.read_partitioned import read_fhir_partitioned
    from msc_interop.sdtm.partitioned_write import write_partitioned

    got = read_fhir_partitioned(paths, scratch, options, per_partition if isinstance(per_partition, int) else None,
                                why=why, tasks=tasks)
    if got is None:
        return None
    ps, rejects = got
    with _report_even_if_writing_fails(rejects, outdir):
        written = write_partitioned(ps, outdir, formats, define, stamp, max_file_size=max_file_size,
                                    tasks=tasks if tasks is not None and tasks.distributed else None)
    return ConversionResult(ps.proxy_study(), rejects, [*written, *rejects.write(outdir)], partitions=ps.partitions,
                            rows=ps.rows())


def _study_meta(path: str | Path):
    """StudyMeta of a study definition file (study.yaml), checked against its schema as to-sdtm checks it."""
    from msc_interop.records.definition import read_definition
    from msc_interop.study import StudyMeta

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: the study definition (--study) is not a file")
    return StudyMeta.from_definition(read_definition(p))


def _check_timezone(tz: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InputError(f"--timezone {tz!r}: not an IANA time zone name (e.g. Europe/Berlin, America/New_York, "
                         "UTC)") from exc


def summarize(
    inputs: Sequence[str | Path],
    outdir: str | Path,
    formats: Sequence[str] = ("html", "md", "csv"),
    by_visit: bool = True,
    baseline: str | None = None,
    fhir_version: str | None = None,
    odm_map: str | Path | None = None,
    **options: object,
):
    """The safety summary (tables, figures, reports) of study records, SDTM or FHIR: same numbers each way.

    `options`: arms ("actual"/"planned"), te_window (days or None), ae_groups (file): summary.Options.
    """
    from msc_interop.summary import summarize as _summarize
    from msc_interop.summary.load import read_for_summary

    study, rejects = read_for_summary(inputs, fhir_version=fhir_version, odm_map=odm_map)
    return _summarize(study, Path(outdir), formats=formats, by_visit=by_visit, baseline=baseline, **options), rejects


def to_adam(inputs: Sequence[str | Path], outdir: str | Path, formats: Sequence[str] = ("xpt", "json"), *,
            te_window: int | None = None, created: str | None = None, define: bool = True, validate: bool = True,
            fhir_version: str | None = None, odm_map: str | Path | None = None) -> ConversionResult:
    """ADaM ADSL, ADAE, ADLB, ADEX (msc_interop.adam) from study records, ODM, SDTM or FHIR, as `summary` reads
    them: OUTDIR/<format>/adsl.xpt ... with define.xml beside each format, and the reject report of the input.
    `te_window`: days after the last dose an AE is still treatment-emergent (summary --te-window)."""
    from msc_interop.adam.build import build_adam
    from msc_interop.adam.define import write_define
    from msc_interop.adam.files import SUFFIX, write_datasets
    from msc_interop.errors import UnknownFormatError

    formats = [f.strip().lower() for f in formats if f.strip()]
    unknown = [f for f in formats if f not in SUFFIX]
    if unknown or not formats:
        raise UnknownFormatError(f"ADaM format(s) {unknown or formats} unknown; choose from {', '.join(SUFFIX)}")
    outdir = Path(outdir)
    stamp = creation_time(created)  # (checked before anything is read)
    study, rejects = read_any(inputs, fhir_version=fhir_version, odm_map=odm_map)
    try:
        adam = build_adam(study, te_window=te_window)  # all derived before anything is written
    except InputError as exc:
        raise InputError(f"{', '.join(str(p) for p in inputs)}: {exc}") from exc
    written: list[Path] = []
    with _report_even_if_writing_fails(rejects, outdir):
        for fmt in formats:
            written += write_datasets(adam, outdir / fmt, fmt, studyid=study.meta.studyid, created=stamp)
            if define:
                written.append(write_define(adam, outdir / fmt / "define.xml", study.meta.studyid,
                                            dataset_format=fmt, created=stamp, title=study.meta.title))
    written += rejects.write(outdir)
    result = ConversionResult(study, rejects, written, validation=validate_written(outdir) if validate else None)
    result.adam = adam
    return result


def to_fhir(
    input_path: str | Path,
    outdir: str | Path,
    fhir_version: str = "R4",
    bundle: str = "collection",
    ndjson: bool = False,
    timezone: str | None = None,
    validate: bool | str = True,
    odm_map: str | Path | None = None,
    encoding: str | None = None,
    lab_map: str | Path | None = None,
    partition_subjects: int | str = "auto",
):
    """Study records or SDTM -> FHIR Bundle and/or NDJSON; returns (FhirWriteResult, RejectReport).
    `lab_map`: a site's lab map; its codes name tests in records and the LOINC written for a test.
    `partition_subjects`: as for to_sdtm (a big records folder is converted a range of subjects at a time)."""
    from msc_interop.fhir import write_fhir
    from msc_interop.fhir.unwritten import describe as describe_unwritten
    from msc_interop.fhir.write import check_zone_known

    outdir = Path(outdir)
    _check_encoding_applies(input_path, encoding)
    if timezone is not None:
        _check_timezone(timezone)  # (before anything is read)
    why: list[str] = []  # why an input asked to be cut (on, N) was read whole
    if _partitioning(input_path, odm_map, partition_subjects, why):
        from msc_interop.fhir.partitioned import write_fhir_partitioned
        from msc_interop.sdtm.partitioned import load_partitioned, scratch_folder

        with scratch_folder(outdir) as scratch:
            with _lab_map(lab_map):
                ps = load_partitioned(Path(input_path), scratch / "study",
                                      partition_subjects if isinstance(partition_subjects, int) else None,
                                      check_xpt=False, why=why)
            if ps is not None:
                rejects = ps.rejects
                with _report_even_if_writing_fails(rejects, outdir), _lab_map(lab_map):
                    result = write_fhir_partitioned(ps, outdir, scratch / "fhir", version=fhir_version,
                                                    bundle=bundle, ndjson=ndjson, timezone=timezone,
                                                    validate=validate)
                result.partitions = ps.partitions
        if ps is not None:
            rejects.notes.extend(describe_unwritten(result.not_written) + _fhir_not_written_here(outdir, result))
            rejects.write(outdir)
            result.validation = validate_written(outdir, fhir_version) if validate else None
            return result, rejects
    with _lab_map(lab_map):
        study, rejects = _load_decoded(input_path, odm_map, encoding)
    if why and partition_subjects not in ("auto", 0, "off"):
        rejects.notes.append(f"--partition-subjects {partition_subjects}: read whole ({why[0]})")
    if input_kind(input_path) == InputKind.SDTM:  # records were checked by their reader; SDTM comes as it is
        from msc_interop.fhir.admit import admit_sdtm
        from msc_interop.inputs.load import whole_domains

        study, rejects = whole_domains(study, rejects)
        study = admit_sdtm(study, rejects)
    check_zone_known(study, timezone)  # (before anything is written)
    with _report_even_if_writing_fails(rejects, outdir), _lab_map(lab_map):
        result = write_fhir(study, outdir, version=fhir_version, bundle=bundle, ndjson=ndjson, timezone=timezone,
                            validate=validate)
    rejects.notes.extend(describe_unwritten(result.not_written) + _fhir_not_written_here(outdir, result))
    rejects.write(outdir)
    # every rule of `msc-interop validate` on everything written, whatever its size: NDJSON is validated as a
    # stream (validate/fhir_stream.py), so the exit code never depends on the study's size
    result.validation = validate_written(outdir, fhir_version) if validate else None
    return result, rejects


def _fhir_not_written_here(outdir: Path, result: Any) -> list[str]:
    """The note naming FHIR files of OUTDIR that this run did not write (stale_outputs.py)."""
    from msc_interop.stale_outputs import FHIR_SUFFIXES, not_written_here

    return not_written_here(Path(outdir), result.paths, FHIR_SUFFIXES, "from-fhir (and any reader of the folder)")


def validate(paths: Sequence[str | Path], fhir_version: str | None = None, odm_map: str | Path | None = None,
             encoding: str | None = None, sdtmig: str | None = None, deep: bool = False, ct: str | None = None,
             engine: str = "local", scheduler: str | None = None, workers: int | None = None,
             partition_size: int | None = None, note: Callable[[str], None] | None = None,
             progress: Callable[[int, int], None] | None = None, partition_subjects: int | str = "auto"):
    """Run every rule that applies to what each path holds; one Report (see msc_interop.validate).
    `encoding` of XPT/CSV text (default: detect per file); `sdtmig` the SDTMIG version to check against
    (default: what define.xml or TS SDTIGVER states); `deep` runs the fhir.resources models on every FHIR
    resource; `ct` the CDISC CT version the study uses (default: what define.xml 2.1 states).
    `engine` "dask": FHIR NDJSON validated in partitions (`partition_size` bytes; default: several per worker)
    on a Dask cluster, a local one of `workers` processes or the one at `scheduler` (validate/fhir_dask.py),
    with the same report; `note` hears the paths validated in this process, `progress` (done, total)
    partitions. `partition_subjects`: an SDTM format folder whose files exceed PARTITION_BYTES ("auto"), or
    any ("on", a number of subjects), is validated a range of subjects at a time with the same findings
    (validate/folder_partitions.py); `note` hears which; 0 / "off": read whole."""
    from msc_interop.validate import validate_paths
    from msc_interop.validate.folder_partitions import FolderPartitions, check_per_partition

    paths = [Path(p) for p in paths]
    refuse_own_outputs(paths)  # as every command does; inside a folder they are skipped
    sdtm = FolderPartitions(check_per_partition(partition_subjects), PARTITION_BYTES)
    if engine == "local":
        if scheduler is not None or workers is not None or partition_size is not None:
            raise InputError("--scheduler, --workers and --partition-size go with --engine dask")
        report = validate_paths(paths, fhir_version=fhir_version, odm_map=odm_map, encoding=encoding,
                                sdtmig=sdtmig, deep=deep, ct=ct, sdtm_partitions=sdtm)
    elif engine != "dask":
        raise InputError(f"engine {engine!r} is not known; use local or dask")
    else:
        from msc_interop.validate.fhir_dask import DaskEngine

        with DaskEngine(scheduler, workers, partition_size, progress) as dask:
            report = validate_paths(paths, fhir_version=fhir_version, odm_map=odm_map, encoding=encoding,
                                    sdtmig=sdtmig, deep=deep, ct=ct, fhir_engine=dask.ndjson, sdtm_partitions=sdtm)
        for line in dask.notes(paths):
            if note is not None:
                note(line)
    if note is not None:
        for line in sdtm.notes():
            note(line)
    return report
