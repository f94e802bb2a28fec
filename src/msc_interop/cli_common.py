"""What the commands of cli.py and cli_server.py share: the failure exit, the SDTM output options, the
reconciliation and first problems of a reject report. Kept apart so that both command modules import it and
neither imports the other."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click

from msc_interop.outcome import EXIT_ERROR
from msc_interop.records.unread import WHOLE_FILE_FIELDS
from msc_interop.rejects import RejectReport


def fail(exc: Exception) -> None:
    click.echo(f"error: {exc}", err=True)
    for note in getattr(exc, "__notes__", ()):  # e.g. where the reject report of a run that failed late is
        click.echo(f"note: {note}", err=True)
    sys.exit(EXIT_ERROR)


def split_formats(ctx: click.Context, param: click.Parameter, value: str) -> list[str]:
    formats = [f.strip().lower() for f in value.split(",") if f.strip()]
    from msc_interop.sdtm.formats import FORMATS

    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise click.BadParameter(f"unknown format(s) {unknown or value!r}; choose from {', '.join(FORMATS)}")
    return formats


def sdtm_output_options(f: Callable[..., None]) -> Callable[..., None]:
    """-o, --format, --define: where and how the commands that write SDTM (to-sdtm, from-fhir) write it."""
    f = click.option("--define/--no-define", default=True, show_default=True,
                     help="Write Define-XML 2.1 beside the XPT / Dataset-JSON files.")(f)
    f = click.option("--format", "formats", default="xpt,json,csv", show_default=True, callback=split_formats,
                     help="Comma-separated: xpt (SAS XPORT v5), json (Dataset-JSON 1.1), ndjson, csv.")(f)
    return click.option("-o", "--outdir", required=True, type=click.Path(file_okay=False, path_type=Path),
                        help="Folder to write into (created if missing).")(f)


def print_rejects(rejects: RejectReport) -> None:
    """read = converted + rejected per form (or resource type), the notes, then the first problems (the full
    list is in the reject report)."""
    for line in rejects.reconciliation():
        click.echo(line)
    for note in rejects.notes:
        click.echo(note)
    header = [r for r in rejects.rejects if r.row == 1]
    if len(rejects):
        shown = rejects.sorted()[:10]
        click.echo(f"{len(rejects)} problem(s); first {len(shown)}:", err=True)
        for r in shown:
            if r.field in WHOLE_FILE_FIELDS:  # (a file or sheet not read at all: no row to name)
                click.echo(f"  {r.file}: {r.reason}", err=True)
                continue
            where = place_word(rejects, r.file, r.row)
            click.echo(f"  {r.file} {where} {r.row}, {r.field}={r.value!r}: {r.reason}", err=True)
        if header and rejects.row_unit == "row":
            click.echo(f"  ({len(header)} column(s) not part of their form were not converted)", err=True)
        click.echo("full list: rejects.csv / rejects.json in the output folder", err=True)
    rejected = rejects.n_rejected_records
    if rejected and not any(c.converted for c in rejects.counts.values()):  # (exit 1 still: the input was read, and
        # the reject report, the one output that helps, is written; 2 is for input not read at all: outcome.py)
        click.echo(f"nothing converted: every one of the {rejected} record(s) read was rejected, so what was written "
                   "holds none of them (exit status 1, as for any reject: the reject report says why for each)",
                   err=True)


def place_word(rejects: RejectReport, file: str, row: int) -> str:
    """What a reject's row number counts: spreadsheet rows, XML lines (ODM), FHIR entries or NDJSON lines."""
    place_unit = getattr(rejects, "place_unit", None)  # the FHIR report knows it per reject
    if place_unit is not None:
        return place_unit(file, row)
    return "line" if rejects.row_unit == "row" and file.lower().endswith(".xml") else rejects.row_unit


max_file_size_option = click.option(
    "--max-file-size", metavar="SIZE", default="5GB", show_default=True,
    help="Largest XPT file to write (5GB, 500MB, 1MB; KB/MB/GB decimal, KiB/MiB/GiB binary; no space). A larger "
         "dataset is split the SDTMIG 4.1.7 way by its --CAT (LB -> LBCH, LBHE, ...; DOMAIN stays LB; SUPP-- "
         "alongside; mappings/split_datasets.yaml) and define.xml describes each piece. Dataset-JSON/NDJSON/CSV "
         "are written whole. A run by --partition-subjects splits the same way, streamed (the same files). "
         "summary, to-adam and to-fhir read the pieces back as one dataset. E.g. --max-file-size 500MB")


def max_file_size_of(text: str) -> int:
    """The --max-file-size option's bytes (MscInteropError naming the option when it is not a size)."""
    from msc_interop.sdtm.split import parse_size

    return parse_size(text)


fhir_partition_option = click.option(
    "--partition-subjects", metavar="auto|on|off|N", default="auto", show_default=True,
    help="Read FHIR NDJSON N subjects at a time (the files are cut by subject in a scratch folder in OUTDIR), so "
         "memory holds one partition (~100k resources) instead of the whole export; the SDTM is the same as a "
         "whole read's. auto: when the NDJSON files exceed 512 MB; on: always; off: never. Bundles are read whole.")


def partition_choice(value: str) -> int | str:
    """--partition-subjects: auto, on, off (0) or a positive number of subjects."""
    value = value.strip().lower()
    if value in ("auto", "on"):
        return value
    if value == "off":
        return 0
    if value.isdigit():
        return int(value)
    raise click.BadParameter(f"{value!r}: give auto, on, off or a number of subjects (e.g. 2000)",
                             param_hint="--partition-subjects")
