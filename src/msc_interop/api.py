"""The Python API: what the CLI calls and what scripts and notebooks use directly.

    >>> from msc_interop import api
    >>> result = api.to_sdtm("fixtures/example_study", "out/sdtm", formats=["xpt", "json"])
    >>> result.study["LB"].shape[0], result.rejects.n_rejected_records
    (494, 0)

Every function is reader -> Study -> writer; nothing here knows a file format's details.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from msc_interop.errors import InputError
from msc_interop.records import read_records
from msc_interop.rejects import RejectReport
from msc_interop.sdtm.build import build_study
from msc_interop.study import Study

DEFAULT_SDTM_FORMATS = ("xpt", "json", "csv")
SDTM_SUFFIXES = (".xpt", ".json", ".ndjson", ".csv")


@dataclass
class ConversionResult:
    """What a conversion produced: the Study, the reject report and the files written."""

    study: Study
    rejects: RejectReport
    written: list[Path] = field(default_factory=list)
    validation: Any = None  # msc_interop.validate.Report of the files written, when asked for

    @property
    def ok(self) -> bool:
        """True when every input record was converted (no rejects) and what was written validates."""
        return len(self.rejects) == 0 and (self.validation is None or self.validation.valid)


def creation_time(created: str | None = None) -> str:
    """Creation timestamp for output metadata: `created` if given, else SOURCE_DATE_EPOCH, else now (UTC).

    Pin it (an option or SOURCE_DATE_EPOCH) and two runs on the same input give byte-identical files.
    """
    if created:
        return created
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def input_kind(path: str | Path) -> str:
    """'records' (study records folder or workbook), 'odm' (CDISC ODM export) or 'sdtm' (SDTM datasets)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.is_file():
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            return "records"
        if path.suffix.lower() == ".xml":
            from msc_interop.odm import is_odm

            if not is_odm(path):
                raise InputError(f"{path}: an .xml input must be a CDISC ODM 1.3 export (ClinicalData); this file "
                                 "is not (a define.xml describes SDTM datasets: give the dataset folder instead)")
            return "odm"
        if path.suffix.lower() in SDTM_SUFFIXES:
            return "sdtm"
        raise InputError(f"{path}: not a study-records workbook (.xlsx), a CDISC ODM export (.xml) or an SDTM "
                         f"dataset ({', '.join(SDTM_SUFFIXES)})")
    if any((path / n).exists() for n in ("study.yaml", "study.yml", "study.json")):
        return "records"
    if sdtm_folder(path) is not None:
        return "sdtm"
    raise InputError(f"{path}: holds neither study records (study.yaml + CSV forms) nor SDTM datasets "
                     f"({', '.join(SDTM_SUFFIXES)})")


def sdtm_folder(path: Path) -> Path | None:
    """The folder of SDTM datasets at `path`: itself, or the best format folder of a `to-sdtm` output
    (json, ndjson, xpt, csv subfolders); None if there is none."""
    from msc_interop.sdtm.formats import READ_PREFERENCE

    def has_datasets(folder: Path) -> bool:
        return any(p.suffix.lower() in SDTM_SUFFIXES and p.stem.lower() != "rejects" for p in folder.iterdir())

    if has_datasets(path):
        return path
    for fmt in READ_PREFERENCE:
        if (path / fmt).is_dir() and has_datasets(path / fmt):
            return path / fmt
    return None


def load_study(path: str | Path, odm_map: str | Path | None = None) -> tuple[Study, RejectReport]:
    """Read study records (CSV / XLSX / ODM export, the latter with its mapping file) or SDTM datasets into a
    Study (SDTM input has no rejects at this stage)."""
    kind = input_kind(path)
    if odm_map is not None and kind != "odm":
        raise InputError(f"{path}: --odm-map applies to a CDISC ODM export (.xml) only")
    if kind == "records":
        return build_study(read_records(path))
    if kind == "odm":
        from msc_interop.odm import read_odm

        records = read_odm(path, odm_map)
        study, rejects = build_study(records)
        rejects.annotate(Path(path).name, records.where)
        return study, rejects
    from msc_interop.sdtm.formats import read_sdtm

    path = Path(path)
    return read_sdtm(sdtm_folder(path) if path.is_dir() else path), RejectReport()


def to_sdtm(
    input_path: str | Path,
    outdir: str | Path,
    formats: Sequence[str] = DEFAULT_SDTM_FORMATS,
    define: bool = True,
    created: str | None = None,
    validate: bool = True,
    odm_map: str | Path | None = None,
) -> ConversionResult:
    """Convert study records (or SDTM in another format) to SDTM files, one folder per format.

    Writes OUTDIR/<format>/<dataset>.<suffix>, define.xml beside the XPT and Dataset-JSON files, and the
    reject report (OUTDIR/rejects.csv, OUTDIR/rejects.json) with the per-form counts. With `validate`, the
    files written are checked by the same rules as `msc-interop validate` (result.validation).
    """
    outdir = Path(outdir)
    stamp = creation_time(created)
    study, rejects = load_study(input_path, odm_map)
    written = write_sdtm(study, outdir, formats, define, stamp)
    rejects.write_csv(outdir / "rejects.csv")
    rejects.write_json(outdir / "rejects.json")
    written += [outdir / "rejects.csv", outdir / "rejects.json"]
    return ConversionResult(study, rejects, written, validation=validate_written(outdir) if validate else None)


def validate_written(outdir: Path, fhir_version: str | None = None):
    """The validate rules over what a conversion just wrote (so the output is what `validate` accepts);
    FHIR output is checked as the version it was written in."""
    from msc_interop.validate import validate_paths

    return validate_paths([outdir], fhir_version=fhir_version)


def synth(outdir: str | Path, subjects: int = 9, seed: int = 2009, profile: str = "scale") -> list[Path]:
    """Write synthetic study records (the shape of the bundled study) for `subjects` subjects."""
    from msc_interop.synth import generate

    return generate(subjects, seed, profile).write(outdir)


FHIR_SUFFIXES = (".json", ".ndjson")


def is_fhir(path: str | Path) -> bool:
    """True for a FHIR Bundle/resource JSON file, an NDJSON file of resources, or a folder of them."""
    path = Path(path)
    if path.is_dir():
        return any(is_fhir(p) for p in sorted(path.iterdir()) if p.suffix.lower() in FHIR_SUFFIXES)
    if path.suffix.lower() not in FHIR_SUFFIXES or not path.is_file():
        return False
    with open(path, "rb") as fh:
        head = fh.read(4096)
    return b'"resourceType"' in head and b'"datasetJSONVersion"' not in head


def read_any(paths: Sequence[str | Path], fhir_version: str | None = None,
             odm_map: str | Path | None = None) -> tuple[Study, RejectReport]:
    """One Study from study records (CSV, XLSX, ODM), SDTM datasets, or FHIR (Bundles / NDJSON, one or more)."""
    paths = [Path(p) for p in paths]
    if all(is_fhir(p) for p in paths):
        from msc_interop.fhir import read_fhir

        return read_fhir(paths, version=fhir_version)
    if len(paths) != 1:
        raise InputError("give one study-records folder or SDTM folder, or one or more FHIR files")
    return load_study(paths[0], odm_map)


def write_sdtm(study: Study, outdir: Path, formats: Sequence[str], define: bool, stamp: str) -> list[Path]:
    """SDTM files, one folder per format, with define.xml beside XPT and Dataset-JSON."""
    from msc_interop.sdtm.define import write_define
    from msc_interop.sdtm.formats import write_study

    written: list[Path] = []
    for fmt in formats:
        folder = outdir / fmt
        written += write_study(study, folder, [fmt], created=stamp)
        if define and fmt in ("xpt", "json"):
            write_define(study, folder / "define.xml", dataset_format=fmt, created=stamp)
            written.append(folder / "define.xml")
    return written


def from_fhir(
    inputs: Sequence[str | Path],
    outdir: str | Path,
    formats: Sequence[str] = DEFAULT_SDTM_FORMATS,
    define: bool = True,
    created: str | None = None,
    fhir_version: str | None = None,
) -> ConversionResult:
    """Read FHIR Bundles / NDJSON into a Study and write SDTM as `to_sdtm` does (plus the reject report)."""
    from msc_interop.fhir import read_fhir

    outdir = Path(outdir)
    study, rejects = read_fhir([Path(p) for p in inputs], version=fhir_version)
    written = write_sdtm(study, outdir, formats, define, creation_time(created))
    rejects.write_csv(outdir / "rejects.csv")
    rejects.write_json(outdir / "rejects.json")
    return ConversionResult(study, rejects, [*written, outdir / "rejects.csv", outdir / "rejects.json"])


def summarize(
    inputs: Sequence[str | Path],
    outdir: str | Path,
    formats: Sequence[str] = ("html", "md", "csv"),
    by_visit: bool = True,
    baseline: str | None = None,
    fhir_version: str | None = None,
    odm_map: str | Path | None = None,
):
    """The safety summary (tables, figures, reports) of study records, SDTM or FHIR: same numbers each way."""
    from msc_interop.summary import summarize as _summarize

    study, rejects = read_any(inputs, fhir_version=fhir_version, odm_map=odm_map)
    return _summarize(study, Path(outdir), formats=formats, by_visit=by_visit, baseline=baseline), rejects


def to_fhir(
    input_path: str | Path,
    outdir: str | Path,
    fhir_version: str = "R4",
    bundle: str = "collection",
    ndjson: bool = False,
    timezone: str | None = None,
    validate: bool | str = True,
    odm_map: str | Path | None = None,
):
    """Study records or SDTM -> FHIR Bundle and/or NDJSON; returns (FhirWriteResult, RejectReport)."""
    from msc_interop.fhir import write_fhir

    outdir = Path(outdir)
    study, rejects = load_study(input_path, odm_map)
    result = write_fhir(study, outdir, version=fhir_version, bundle=bundle, ndjson=ndjson, timezone=timezone,
                        validate=validate)
    rejects.write_csv(outdir / "rejects.csv")
    rejects.write_json(outdir / "rejects.json")
    result.validation = None
    if validate and result.total <= VALIDATE_WRITTEN_LIMIT:
        result.validation = validate_written(outdir, fhir_version)
    elif validate:
        result.warnings.append(
            f"each of the {result.total:,} resources was validated as it was written; the other rules of "
            f"`msc-interop validate` (codings, units, dates, references) were not run on so big an output: run "
            f"`msc-interop validate {outdir}` for them (it holds every resource and checks each with the "
            "fhir.resources models: ~1 ms and ~15 KB per resource here)")
    return result, rejects


# Resources up to which to-fhir also runs the `validate` rules on what it wrote. Beyond, they cost minutes
# and GBs (every resource in memory, checked with the models: 112,757 resources took 118 s and 1.6 GB), while
# the writer has already validated every resource with the fast validator.
VALIDATE_WRITTEN_LIMIT = 50_000


def validate(paths: Sequence[str | Path], fhir_version: str | None = None, odm_map: str | Path | None = None):
    """Run every rule that applies to what each path holds; one Report (see msc_interop.validate)."""
    from msc_interop.validate import validate_paths

    return validate_paths([Path(p) for p in paths], fhir_version=fhir_version, odm_map=odm_map)
