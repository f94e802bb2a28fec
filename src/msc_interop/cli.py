"""The `msc-interop` command: parse options, call msc_interop.api, print, set the exit status.

Exit status: 0 all records converted; 1 some (or all) records rejected (see the reject report); 2 the input or the
options could not be used at all (nothing, or nothing more, was written); 3 an internal error (a bug: please
report it). outcome.py decides 0 and 1.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from msc_interop import api
from msc_interop.cli_adam import to_adam_command
from msc_interop.cli_common import fail as _fail
from msc_interop.cli_common import fhir_partition_option as _fhir_partition_option
from msc_interop.cli_common import max_file_size_of, max_file_size_option
from msc_interop.cli_common import partition_choice as _partition_choice
from msc_interop.cli_common import print_rejects as _print_rejects
from msc_interop.cli_common import sdtm_output_options as _sdtm_output_options
from msc_interop.cli_fhir import ENGINE_HELP, HOSPITAL_HELP, engine_options, hospital_options
from msc_interop.cli_server import pull_command, push_command
from msc_interop.errors import MscInteropError
from msc_interop.outcome import EXIT_ERROR, EXIT_INTERNAL, EXIT_OK, exit_status
from msc_interop.runtime import return_freed_memory, small_pages


def _end_cleanly_on_sigterm() -> None:
    """SIGTERM (`kill`, a batch scheduler's time limit) ends the run as Ctrl-C does: through its cleanup, so that
    no temporary file or scratch folder (as big as the input in a partitioned run) is left. Python's default
    would end the process at once."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminated)


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


class _Guarded(click.Group):
    """Any exception a command did not turn into a message becomes exit 3, naming the command line, so that
    exit 1 always means "records rejected" and a cron job can tell a bug from bad data."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["msc_interop.command_line"] = " ".join(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> object:
        command_line = ctx.meta.get("msc_interop.command_line", "")
        _end_cleanly_on_sigterm()
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit, KeyboardInterrupt):
            raise
        except OSError as exc:  # the file system said no (not a folder, no permission, disk full): not a bug
            if os.environ.get("MSC_INTEROP_DEBUG"):
                raise
            where = f"{exc.filename}: " if exc.filename else ""
            click.echo(f"error: {where}{exc.strerror or exc}", err=True)
            sys.exit(EXIT_ERROR)
        except Exception as exc:
            if os.environ.get("MSC_INTEROP_DEBUG"):
                raise
            click.echo(f"internal error: {type(exc).__name__}: {exc}\n  while running: msc-interop {command_line}\n"
                       "  this is a bug in msc-interop, not in your data alone: please report it with this message "
                       "(MSC_INTEROP_DEBUG=1 shows the traceback)", err=True)
            sys.exit(EXIT_INTERNAL)


@click.group(cls=_Guarded, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="msc-interop")
def main() -> None:
    """Move clinical-study safety data between CDISC SDTM and HL7 FHIR.

    \b
    Start with the bundled example study:
      msc-interop to-sdtm fixtures/example_study -o out/sdtm
    """
    small_pages()  # new memory in 4 KiB pages: see runtime.small_pages


def _odm_map_option(f: Callable[..., None]) -> Callable[..., None]:
    return click.option(
        "--odm-map", "odm_map", type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Mapping file for a CDISC ODM export given as INPUT (default: EXPORT.odm-map.yaml or odm-map.yaml "
             "beside it). Propose one with `msc-interop odm-map EXPORT.xml`.")(f)


def _lab_map_option(f: Callable[..., None]) -> Callable[..., None]:
    return click.option(
        "--lab-map", "lab_map", type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="A site's lab map (YAML or CSV: code, system, testcd, specimen, method, unit, loinc): its local codes "
             "or LOINCs win over the built-in lab table. See docs/lab-map.md.")(f)


def _encoding_option(f: Callable[..., None]) -> Callable[..., None]:
    return click.option(
        "--encoding", metavar="CODEC",
        help="Text encoding of SDTM XPT/CSV input (default: per file, UTF-8 if valid, else Windows-1252).")(f)


# the SDTMIG versions validate has metadata for (mappings/sdtmig_versions.yaml; a test keeps the two equal)
SDTMIG_CHOICES = ["3.1.2", "3.1.3", "3.2", "3.3", "3.4"]


_partition_option = click.option(
    "--partition-subjects", metavar="auto|on|off|N", default="auto", show_default=True,
    help="Convert a records folder N subjects at a time, so memory holds one partition (~250k records) instead of "
         "the whole study; the files are the same as a whole run's (a scratch folder in OUTDIR holds the rest). "
         "auto: when its CSV files exceed 512 MB; on: always, N chosen from the files' size; off: never.")


@main.command("to-sdtm", epilog="""\b
Examples:
  msc-interop to-sdtm fixtures/example_study -o out/sdtm
  msc-interop to-sdtm records.xlsx -o out/sdtm --format xpt --created 2026-01-01T00:00:00
  msc-interop to-sdtm old_sdtm_folder/ -o out/json --format json,ndjson   (convert SDTM between formats)
  msc-interop to-sdtm fixtures/example_study_odm/example_study.odm.xml -o out/sdtm-odm   (EDC export)
  msc-interop to-sdtm big_study/ -o out/sdtm --format xpt --max-file-size 5GB   (LB over 5 GB -> LBCH, LBHE, ...)

\b
INPUT is a study-records folder (study.yaml + subjects.csv and exposures.csv, and any of
adverse_events.csv, labs.csv, vital_signs.csv, ecg.csv, findings.csv, medical_history.csv,
medications.csv, disposition.csv), the same forms as sheets of one .xlsx workbook, a CDISC ODM 1.3
export (.xml, with its mapping file: --odm-map), or a folder of SDTM datasets. A CSV file or sheet
that is no form's is a reject (it is not read).
Output: OUTDIR/<format>/dm.xpt ..., define.xml beside XPT and Dataset-JSON, and the reject report
OUTDIR/rejects.csv / rejects.json listing every record not converted (file, row, field, value, reason,
code: mappings/reject_codes.yaml).
An SDTM package is converted as it is: variable order, labels and lengths kept; a content problem (a value
outside a codelist) is a note, never a refused dataset; its define.xml states the
package's own SDTMIG/CT versions and no msc-interop derivations.
Exit status: 0 all converted, 1 some (or all) records rejected, 2 input unusable.""")
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True, path_type=Path))
@_sdtm_output_options
@click.option("--created", metavar="ISO-DATETIME",
              help="Creation timestamp to write into file metadata (default: SOURCE_DATE_EPOCH or now). "
                   "Pin it for byte-identical output.")
@click.option("--validate/--no-validate", default=True, show_default=True,
              help="Check the files written with the rules of `msc-interop validate`.")
@_odm_map_option
@_encoding_option
@click.option("--xpt-encoding", metavar="CODEC",
              help="Text encoding of non-ASCII values in the XPT files written (XPT v5 cannot state one; the FDA "
                   "accepts ASCII only). Default: the encoding each input XPT file was read in (an SDTM package "
                   "in Windows-1252 is written back so), else UTF-8. Each variable holding such text is named "
                   "in a note.")
@_lab_map_option
@max_file_size_option
@_partition_option
def to_sdtm(input_path: Path, outdir: Path, formats: list[str], define: bool, created: str | None,
            validate: bool, odm_map: Path | None, encoding: str | None, xpt_encoding: str | None,
            lab_map: Path | None, max_file_size: str, partition_subjects: str) -> None:
    """Convert study records to SDTM (DM, EX, AE, LB, VS, EG, CM, MH, ... + SUPP--, TS, TV) with Define-XML 2.1."""
    try:
        result = api.to_sdtm(input_path, outdir, formats=formats, define=define, created=created, validate=validate,
                             odm_map=odm_map, encoding=encoding, xpt_encoding=xpt_encoding, lab_map=lab_map,
                             max_file_size=max_file_size_of(max_file_size),
                             partition_subjects=_partition_choice(partition_subjects))
    except MscInteropError as exc:
        _fail(exc)
    if result.partitions:
        click.echo(f"converted in {result.partitions} subject partitions (--partition-subjects)")
    for path in result.written:
        name = path.stem.upper()
        n = result.rows.get(name, len(result.study.datasets[name]) if name in result.study.datasets else None)
        click.echo(f"wrote {path}" + (f" ({n} record{'' if n == 1 else 's'})" if n is not None else ""))
    _print_rejects(result.rejects)
    _print_validation(result.validation)
    sys.exit(exit_status(result.rejects, result.validation))


def _print_validation(report) -> None:
    if report is None:
        return
    counts = report.counts_by_severity()
    click.echo(f"validation of the files written: {counts.get('error', 0)} error(s), {counts.get('warning', 0)} "
               f"warning(s), {counts.get('notice', 0)} notice(s)")
    if not report.valid:
        from rich.console import Console

        report.console(Console(stderr=True), limit=10)


@main.command("to-fhir", epilog="""\b
Examples:
  msc-interop to-fhir fixtures/example_study -o out/fhir
  msc-interop to-fhir out/sdtm -o out/fhir-r5 --fhir-version R5 --bundle transaction --ndjson --timezone Asia/Shanghai
  msc-interop to-fhir fixtures/example_study -o out/bulk --bundle none --ndjson

\b
INPUT: study records (CSV folder, .xlsx, ODM export) or SDTM datasets. Writes OUT/bundle.json (one Bundle
for the study; transaction entries are PUT Type/id so loading twice updates) and/or
OUT/<ResourceType>.ndjson (Bulk Data): Patient, ResearchStudy, ResearchSubject, Organization (the
laboratories, LBNAM: the Observations' performer), Encounter, Observation (LB, VS, EG, RE),
AdverseEvent, MedicationAdministration (EX), MedicationStatement (CM), Condition (MH), Procedure (PR);
and the reject report
OUT/rejects.csv / rejects.json (SDTM input: records FHIR cannot hold as they are, e.g. an invalid --DTC, a
USUBJID not in DM, an unknown unit, with dataset, row, variable and code). Mapping: docs/fhir-mapping.md.
Exit status: 0 all written and valid, 1 records rejected or resources invalid, 2 input unusable.""")
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--outdir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write into (created if missing).")
@click.option("--fhir-version", type=click.Choice(["R4", "R5"]), default="R4", show_default=True,
              help="FHIR release of the resources written.")
@click.option("--bundle", type=click.Choice(["collection", "transaction", "none"]), default="collection",
              show_default=True, help="Bundle type of OUT/bundle.json, or none.")
@click.option("--ndjson/--no-ndjson", default=False, show_default=True, help="Also write Bulk-Data NDJSON files.")
@click.option("--timezone", metavar="ZONE", help="IANA time zone of the input's local date-times (e.g. "
              "Asia/Shanghai; FHIR states each time's UTC offset). Study records and ODM: default the study "
              "definition's. SDTM states none: needed when its --DTC hold times of day (--timezone UTC if they "
              "are UTC), else to-fhir stops (exit 2).")
@click.option("--validate/--no-validate", default=True, show_default=True,
              help="Check every resource written (fast JSON Schema validator, equivalent to fhir.resources).")
@_odm_map_option
@_encoding_option
@_lab_map_option
@_partition_option
def to_fhir(input_path: Path, outdir: Path, fhir_version: str, bundle: str, ndjson: bool, timezone: str | None,
            validate: bool, odm_map: Path | None, encoding: str | None, lab_map: Path | None,
            partition_subjects: str) -> None:
    """Convert study records or SDTM to HL7 FHIR R4/R5 resources."""
    try:
        result, rejects = api.to_fhir(input_path, outdir, fhir_version=fhir_version, bundle=bundle, ndjson=ndjson,
                                      timezone=timezone, validate=validate, odm_map=odm_map, encoding=encoding,
                                      lab_map=lab_map, partition_subjects=_partition_choice(partition_subjects))
    except MscInteropError as exc:
        _fail(exc)
    if result.partitions:
        click.echo(f"converted in {result.partitions} subject partitions (--partition-subjects)")
    for path in result.paths:
        click.echo(f"wrote {path}")
    for rtype, n in sorted(result.counts.items()):
        click.echo(f"{rtype}: {n}")
    _print_rejects(rejects)
    for w in result.warnings:
        click.echo(f"warning: {w}", err=True)
    if validate:
        click.echo(f"validation ({result.validated}): {len(result.findings)} problem(s) in {result.total} resources")
        for f in result.findings[:10]:
            click.echo(f"  {f}", err=True)
    _print_validation(result.validation)
    sys.exit(exit_status(rejects, result.valid, result.validation))


@main.command("from-fhir", epilog="""\b
Examples:
  msc-interop from-fhir out/fhir/bundle.json -o out/sdtm-from-fhir
  msc-interop from-fhir export/*.ndjson -o out/sdtm --format json --fhir-version R4
  msc-interop from-fhir export/ -o out/sdtm --engine dask --workers 2
  msc-interop from-fhir /shared/export -o /shared/sdtm --engine dask --scheduler tcp://10.0.0.5:8786

\b
INPUT: FHIR Bundles (collection, transaction, searchset), single resources, NDJSON files, or folders of
them; R4 or R5 (detected, or forced). Lab Observations whose LOINC or CDISC code is in the mapping data
become LB rows; resource types with no SDTM home are skipped and counted; anything that cannot be placed is
listed in OUTDIR/rejects.csv with file, entry/line, reason and code. Prints read = converted + rejected +
skipped, and notes (e.g. msc-interop's own reports found in a folder and skipped).

\b
Bad input:
  a line of an NDJSON file that is not JSON: listed by its line number; the other lines are read.
  a file that cannot be read at all (truncated, not JSON, NaN, nested too deep): listed in the reject
    report as a whole file, saying that an unknown number of resources in it were lost (and how often
    its text names a resourceType); the other files are still converted (exit 1). Exit 2 when no
    resource could be read from any file.
  an element of the wrong JSON type (an object for a list, a number for a string, null): the record is
    rejected naming the element; a malformed visit or subject detail is dropped and listed as a note.
  the same resource (type and id) more than once: identical copies are converted once and counted as
    skipped; otherwise the newest by meta.versionId / meta.lastUpdated is converted and the older ones
    are listed as skipped; with nothing to say which is newest, every copy is rejected.
  A record converted without one of its fields is listed (reason "converted without ...") and counted
  apart from the rejected records. Exit status: 0 all converted, 1 anything listed in the reject report,
  2 input unusable.

""" + HOSPITAL_HELP + "\n\n" + ENGINE_HELP)
@click.argument("inputs", metavar="INPUT...", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@_sdtm_output_options
@click.option("--created", metavar="ISO-DATETIME", help="Pin the creation timestamp for byte-identical output.")
@click.option("--fhir-version", type=click.Choice(["R4", "R5"]), help="Refuse resources of the other version.")
@_lab_map_option
@hospital_options
@max_file_size_option
@_fhir_partition_option
@engine_options
def from_fhir(inputs: tuple[Path, ...], outdir: Path, formats: list[str], define: bool, created: str | None,
              fhir_version: str | None, lab_map: Path | None, max_file_size: str, partition_subjects: str,
              engine: str, scheduler: str | None, workers: int | None, **hospital: Any) -> None:
    """Read FHIR into SDTM (DM, EX, AE, LB, VS, EG, CM, MH, ...) as to-sdtm writes them."""
    from msc_interop.server.commands import progress_bar

    try:
        bar = progress_bar("from-fhir: Dask tasks") if engine == "dask" else contextlib.nullcontext()
        with bar as progress:
            result = api.from_fhir(list(inputs), outdir, formats=formats, define=define, created=created,
                                   fhir_version=fhir_version, lab_map=lab_map,
                                   max_file_size=max_file_size_of(max_file_size),
                                   partition_subjects=_partition_choice(partition_subjects), engine=engine,
                                   scheduler=scheduler, workers=workers, progress=progress, **hospital)
    except MscInteropError as exc:
        _fail(exc)
    for path in result.written:
        click.echo(f"wrote {path}")
    if result.partitions:
        click.echo(f"converted in {result.partitions} subject partitions (--partition-subjects)")
    _print_rejects(result.rejects)
    for line in result.rejects.skipped_lines():
        click.echo(line)
    for w in result.rejects.warnings:
        click.echo(f"warning: {w}", err=True)
    sys.exit(exit_status(result.rejects))


@main.command("validate", epilog="""\b
Examples:
  msc-interop validate out/sdtm
  msc-interop validate out/sdtm/xpt out/fhir/bundle.json --report findings.html
  msc-interop validate out/fhir --fhir-version R5 --fail-on warning
  msc-interop validate --list-rules
  msc-interop validate export/ --engine dask --workers 2
  msc-interop validate /shared/export --engine dask --scheduler tcp://10.0.0.5:8786

\b
PATH: an SDTM folder (XPT / Dataset-JSON / CSV, with define.xml if present), a to-sdtm output folder,
study records (CSV folder, .xlsx, ODM export), or FHIR (Bundle JSON / NDJSON). The report (--report
x.json|x.csv|x.html) lists rule id, severity, file, dataset/resource, row or entry, USUBJID, --SEQ,
variable or FHIRPath, value and message.
--engine dask: FHIR NDJSON is cut into partitions validated on Dask workers (one core each), with the same
findings, report and exit status as --engine local. Without --scheduler a local cluster of --workers
processes is started and stopped; with --scheduler (from `dask scheduler`, workers from `dask worker
ADDRESS`) every worker must read the PATHs where this machine does (a shared file system). Other input
(SDTM, FHIR Bundle JSON) is validated in this process; a note on stderr names such PATHs.
--partition-subjects: an SDTM folder whose dataset files exceed 512 MB (auto) is validated a range of subjects
at a time (big datasets held in a scratch folder under TMPDIR, sorted by USUBJID or not), with the same
findings as a whole read; a note on stderr says so.
Exit status: 0 passed at --fail-on, 1 findings at or above it, 2 unusable input.""")
@click.argument("paths", metavar="PATH...", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--fhir-version", type=click.Choice(["R4", "R5"]), help="FHIR version of FHIR input (default: detect).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the full report: .json, .csv, .html or .xlsx (P21-style sheets).")
@click.option("--fail-on", type=click.Choice(["error", "warning"]), default="error", show_default=True,
              help="Lowest severity that makes the exit status 1 (notices never do).")
@click.option("--list-rules", is_flag=True, help="Print every rule (id, severity, scope, message) and exit.")
@click.option("--limit", type=int, default=20, show_default=True, help="Findings shown on the console.")
@_odm_map_option
@_encoding_option
@click.option("--sdtmig", type=click.Choice(SDTMIG_CHOICES),
              help="SDTMIG version to check against (default: as define.xml or TS SDTIGVER states, else 3.4).")
@click.option("--deep", is_flag=True,
              help="FHIR: run the fhir.resources models on every resource, not only on those the fast JSON Schema "
                   "check refuses (several times slower; a second opinion on the structure).")
@click.option("--ct", metavar="YYYY-MM-DD",
              help="CDISC CT version the study uses (default: as define.xml 2.1 states). CT rules use the one "
                   "package msc-interop holds (2025-03-25); a notice says so when the study's differs.")
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="local: this process. dask: FHIR NDJSON in partitions on a Dask cluster (same report).")
@click.option("--scheduler", metavar="ADDRESS",
              help="--engine dask: an existing cluster's scheduler (tcp://HOST:PORT); its workers must read the "
                   "PATHs at the same place. Default: a local cluster for this run.")
@click.option("--workers", type=int, metavar="N",
              help="--engine dask without --scheduler: worker processes of the local cluster (default: CPU count).")
@click.option("--partition-size", type=int, metavar="BYTES",
              help="--engine dask: bytes of NDJSON per partition (default: the set split so that each worker gets "
                   "about 4).")
@click.option("--partition-subjects", metavar="auto|on|off|N", default="auto", show_default=True,
              help="Validate an SDTM folder N subjects at a time, so memory holds one range (~250k rows) and the "
                   "small datasets instead of every dataset; the findings are the same as a whole read's. auto: "
                   "when its dataset files exceed 512 MB; on: always, N chosen from the row counts; off: never. "
                   "A file a range cannot show exactly (text not UTF-8, --encoding, a malformed row) makes its "
                   "folder read whole.")
def validate(paths: tuple[Path, ...], fhir_version: str | None, report_path: Path | None, fail_on: str,
             list_rules: bool, limit: int, odm_map: Path | None, encoding: str | None, sdtmig: str | None,
             deep: bool, ct: str | None, engine: str, scheduler: str | None, workers: int | None,
             partition_size: int | None, partition_subjects: str) -> None:
    """Check SDTM and FHIR against the standards; one report of what is wrong and exactly where."""
    from rich.console import Console

    from msc_interop import validate as v
    from msc_interop.server.commands import progress_bar

    if list_rules:
        for r in v.list_rules():
            click.echo(f"{r.id}\t{r.severity}\t{r.scope}\t{r.title}")
        sys.exit(EXIT_OK)
    if not paths:
        raise click.UsageError("give at least one PATH (or --list-rules)")
    notes: list[str] = []
    try:
        bar = progress_bar("validate: NDJSON partitions") if engine == "dask" else contextlib.nullcontext()
        with bar as progress:
            report = api.validate(list(paths), fhir_version=fhir_version, odm_map=odm_map, encoding=encoding,
                                  sdtmig=sdtmig, deep=deep, ct=ct, engine=engine, scheduler=scheduler,
                                  workers=workers, partition_size=partition_size, note=notes.append,
                                  progress=progress, partition_subjects=_partition_choice(partition_subjects))
        report.fail_on = fail_on  # (the verdict printed and written is the one the exit status gives)
        for line in notes:
            click.echo(f"note: {line}", err=True)
        if report_path is not None:
            report.write(report_path)
    except MscInteropError as exc:
        _fail(exc)
    report.console(Console(), limit=limit)
    if report_path is not None:
        click.echo(f"wrote {report_path}")
    sys.exit(exit_status(None, report, fail_on=fail_on))


@main.command("summary", epilog="""\b
Examples:
  msc-interop summary fixtures/example_study -o out/summary
  msc-interop summary out/sdtm -o out/summary-from-sdtm --format csv
  msc-interop summary out/fhir/bundle.json -o out/summary-from-fhir

\b
INPUT: study records (CSV folder, .xlsx, ODM export), an SDTM folder (or a to-sdtm output folder), or FHIR
(Bundle JSON / NDJSON files or a folder of them). Writes OUTDIR/summary.html (self-contained, opens
offline), OUTDIR/summary.md with OUTDIR/figures/*.svg, and OUTDIR/csv/<table>.csv: populations (safety,
full analysis set), demographics, disposition, exposure, treatment-emergent adverse events (by SOC/PT,
severity, relationship; infusion-related with minutes from infusion when EX says infusion), lab statistics by
visit, change from baseline with Wilcoxon signed-rank tests, out-of-range counts, shift tables and listings,
by treatment arm (safety population) plus Total.
Exit status: 0 summary of every record, 1 some input records could not be read into the study (the summary
leaves them out; the console says how many), 2 input unusable.""")
@click.argument("inputs", metavar="INPUT...", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--outdir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write into (created if missing).")
@click.option("--format", "formats", default="html,md,csv", show_default=True,
              help="Comma-separated: html, md, csv, ard (OUTDIR/ard/ard.csv and ard.json: every number of the "
                   "tables as analysis results data in the pharmaverse {cards} layout).")
@click.option("--by-visit/--no-by-visit", default=True, show_default=True,
              help="Lab statistics per visit (the default), or overall only.")
@click.option("--baseline", metavar="VISIT",
              help="Visit name to use as baseline (default: the LBBLFL records, else LBLOBXFL).")
@click.option("--arms", type=click.Choice(["actual", "planned"]), default="actual", show_default=True,
              help="Treatment columns by actual treatment (ACTARMCD/ACTARM) or planned arm (ARMCD/ARM).")
@click.option("--te-window", metavar="DAYS|none", default="none", show_default=True,
              help="An AE starting up to DAYS after the last dose is still treatment-emergent; none: no limit "
                   "(until the end of the study). SAPs often use 30.")
@click.option("--ae-groups", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML file grouping AEREL (related / not related), severity and outcome, instead of "
                   "mappings/ae_groups.yaml (same schema).")
@click.option("--fhir-version", type=click.Choice(["R4", "R5"]), help="Force the FHIR version of FHIR input.")
@_odm_map_option
def summary(inputs: tuple[Path, ...], outdir: Path, formats: str, by_visit: bool, baseline: str | None,
            arms: str, te_window: str, ae_groups: Path | None, fhir_version: str | None,
            odm_map: Path | None) -> None:
    """Write the study's safety summary: tables, figures, Markdown and HTML reports."""
    window = None if te_window.strip().lower() in ("none", "") else te_window.strip()
    if window is not None and not window.isdigit():
        _fail(MscInteropError(f"--te-window {te_window!r}: give a whole number of days (0 or more) or 'none'"))
    return_freed_memory()  # big LB/VS/EG files are read a range at a time (summary/load.py)
    try:
        result, rejects = api.summarize(list(inputs), outdir, formats=formats.split(","), by_visit=by_visit,
                                        baseline=baseline, fhir_version=fhir_version, odm_map=odm_map, arms=arms,
                                        te_window=None if window is None else int(window), ae_groups=ae_groups)
    except MscInteropError as exc:
        _fail(exc)
    for path in result.paths:
        click.echo(f"wrote {path}")
    for line in result.highlights:
        click.echo(line)
    for note in rejects.notes:  # e.g. the tool's own reports found in an input folder and skipped
        click.echo(note)
    if len(rejects):
        click.echo(f"{len(rejects)} input record(s) could not be read into the Study and are not in the summary",
                   err=True)
    sys.exit(exit_status(rejects))


@main.command("synth", epilog="""\b
Examples:
  msc-interop synth --subjects 9 --seed 2009 --profile seed -o my_example   (the bundled study)
  msc-interop synth --subjects 18200 --seed 1 -o big_study                  (about 1M lab rows)
  msc-interop synth --subjects 40 --placebo -o two_arms                     (UC-MSC and placebo arms)

\b
Exit status: 0 written, 2 the output folder cannot be written.""")
@click.option("--subjects", "n_subjects", type=click.IntRange(min=1), default=9, show_default=True,
              help="Number of subjects (each has 55 lab rows: 11 tests x 5 visits).")
@click.option("--seed", type=int, default=2009, show_default=True, help="Random seed: same seed, same files.")
@click.option("--profile", type=click.Choice(["scale", "seed"]), default="scale", show_default=True,
              help="seed: the bundled example's hand-placed features; scale: the same shape at any size.")
@click.option("-o", "--outdir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the study records into (created if missing).")
@click.option("--odm/--no-odm", default=False, show_default=True,
              help="Also write the records as a CDISC ODM 1.3.2 export (OUTDIR/study.odm.xml) with the mapping "
                   "that reads it (OUTDIR/odm-map.yaml).")
@click.option("--placebo/--no-placebo", default=False, show_default=True,
              help="Two arms: every second subject (02, 04, ...) in a PLACEBO arm given saline (dose 0) on the same "
                   "days; study.yaml then lists the study's products. Without it, one arm (UC-MSC).")
def synth(n_subjects: int, seed: int, profile: str, outdir: Path, odm: bool, placebo: bool) -> None:
    """Write synthetic study records shaped like the bundled study (for tests and benchmarks)."""
    try:
        paths = api.synth(outdir, n_subjects, seed, profile, placebo)
        if odm:
            from msc_interop.odm.export import export_study

            paths += list(export_study(outdir, outdir / "study.odm.xml", created=api.creation_time(None)))
    except (MscInteropError, ValueError) as exc:
        _fail(exc)
    for p in paths:
        click.echo(f"wrote {p}")


@main.command("odm-map", epilog="""\b
Examples:
  msc-interop odm-map export.xml > odm-map.yaml
  msc-interop odm-map fixtures/example_study_odm/example_study.odm.xml -o my-map.yaml

\b
Reads the export's MetaDataVersion (not its clinical data) and proposes the mapping file that
to-sdtm / to-fhir / validate / summary need for an ODM INPUT: forms from ItemGroupDef/@Domain, fields from
ItemDef/@SDSVarName or @Name, visits from StudyEventDef names, sites from Locations, lab units from
MeasurementUnitRefs. Lines marked DECIDE need a person: the study definition (protocol days, windows,
epochs, arms, time zone are not in ODM), the site ids, and anything the proposal could not place.
Exit status: 0 proposal written, 2 the export cannot be read (the message names the file and line).""")
@click.argument("export", metavar="EXPORT.xml", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the proposal to this file instead of standard output.")
def odm_map(export: Path, output: Path | None) -> None:
    """Propose an ODM mapping file from an EDC export's metadata."""
    from msc_interop.odm.propose import propose

    try:
        text = propose(export)
    except MscInteropError as exc:
        _fail(exc)
    if output is None:
        click.echo(text, nl=False)
    else:
        from msc_interop.atomic import write_bytes_atomic

        write_bytes_atomic(output, text.encode("utf-8"))
        click.echo(f"wrote {output}", err=True)
    sys.exit(EXIT_OK)


main.add_command(to_adam_command)
main.add_command(push_command)
main.add_command(pull_command)


if __name__ == "__main__":  # pragma: no cover
    main()
