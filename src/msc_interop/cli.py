"""The `msc-interop` command: parse options, call msc_interop.api, print, set the exit status.

Exit status: 0 all records converted; 1 some records rejected (see the reject report); 2 the input or the
options could not be used at all (nothing, or nothing more, was written).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from msc_interop import api
from msc_interop.errors import MscInteropError

EXIT_OK, EXIT_REJECTS, EXIT_ERROR = 0, 1, 2


def _fail(exc: Exception) -> None:
    click.echo(f"error: {exc}", err=True)
    sys.exit(EXIT_ERROR)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="msc-interop")
def main() -> None:
    """Move clinical-study safety data between CDISC SDTM and HL7 FHIR.

    \b
    Start with the bundled example study:
      msc-interop to-sdtm fixtures/example_study -o out/sdtm
    """


def _split_formats(ctx: click.Context, param: click.Parameter, value: str) -> list[str]:
    formats = [f.strip().lower() for f in value.split(",") if f.strip()]
    from msc_interop.sdtm.formats import FORMATS

    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise click.BadParameter(f"unknown format(s) {unknown or value!r}; choose from {', '.join(FORMATS)}")
    return formats


@main.command("to-sdtm", epilog="""\b
Examples:
  msc-interop to-sdtm fixtures/example_study -o out/sdtm
  msc-interop to-sdtm records.xlsx -o out/sdtm --format xpt --created 2026-01-01T00:00:00
  msc-interop to-sdtm old_sdtm_folder/ -o out/json --format json,ndjson   (convert SDTM between formats)

\b
INPUT is a study-records folder (study.yaml + subjects.csv, exposures.csv, adverse_events.csv,
labs.csv, findings.csv), the same forms as sheets of one .xlsx workbook, or a folder of SDTM datasets.
Output: OUTDIR/<format>/dm.xpt ..., define.xml beside XPT and Dataset-JSON, and the reject report
OUTDIR/rejects.csv / rejects.json listing every record not converted (file, row, field, value, reason).
Exit status: 0 all converted, 1 some records rejected, 2 input unusable.""")
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--outdir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write into (created if missing).")
@click.option("--format", "formats", default="xpt,json,csv", show_default=True, callback=_split_formats,
              help="Comma-separated: xpt (SAS XPORT v5), json (Dataset-JSON 1.1), ndjson, csv.")
@click.option("--define/--no-define", default=True, show_default=True,
              help="Write Define-XML 2.1 beside the XPT / Dataset-JSON files.")
@click.option("--created", metavar="ISO-DATETIME",
              help="Creation timestamp to write into file metadata (default: SOURCE_DATE_EPOCH or now). "
                   "Pin it for byte-identical output.")
def to_sdtm(input_path: Path, outdir: Path, formats: list[str], define: bool, created: str | None) -> None:
    """Convert study records to SDTM DM, EX, AE, LB (+ SUPP--) with Define-XML 2.1."""
    try:
        result = api.to_sdtm(input_path, outdir, formats=formats, define=define, created=created)
    except MscInteropError as exc:
        _fail(exc)
    for path in result.written:
        name = path.stem.upper()
        n = len(result.study.datasets[name]) if name in result.study.datasets else None
        click.echo(f"wrote {path}" + (f" ({n} record{'' if n == 1 else 's'})" if n is not None else ""))
    _print_counts(result)
    sys.exit(EXIT_OK if result.ok else EXIT_REJECTS)


def _print_counts(result: api.ConversionResult) -> None:
    for c in sorted(result.rejects.counts.values(), key=lambda c: c.form):
        verb = "carried (not mapped to SDTM yet)" if c.form in _carried() else "converted"
        click.echo(f"{c.form}: read {c.read} = {verb} {c.converted} + rejected {c.rejected}")
    header = [r for r in result.rejects.rejects if r.row == 1]
    if len(result.rejects):
        shown = result.rejects.sorted()[:10]
        click.echo(f"{len(result.rejects)} problem(s); first {len(shown)}:", err=True)
        for r in shown:
            click.echo(f"  {r.file} row {r.row}, {r.field}={r.value!r}: {r.reason}", err=True)
        if header:
            click.echo(f"  ({len(header)} column(s) not part of their form were not converted)", err=True)
        click.echo("full list: rejects.csv / rejects.json in the output folder", err=True)


def _carried() -> tuple[str, ...]:
    from msc_interop.sdtm.build import CARRIED_FORMS

    return CARRIED_FORMS


@main.command("synth", epilog="""\b
Examples:
  msc-interop synth --subjects 9 --seed 2009 --profile seed -o my_example   (the bundled study)
  msc-interop synth --subjects 18200 --seed 1 -o big_study                  (about 1M lab rows)""")
@click.option("--subjects", "n_subjects", type=click.IntRange(min=1), default=9, show_default=True,
              help="Number of subjects (each has 55 lab rows: 11 tests x 5 visits).")
@click.option("--seed", type=int, default=2009, show_default=True, help="Random seed: same seed, same files.")
@click.option("--profile", type=click.Choice(["scale", "seed"]), default="scale", show_default=True,
              help="seed: the bundled example's hand-placed features; scale: the same shape at any size.")
@click.option("-o", "--outdir", required=True, type=click.Path(file_okay=False, path_type=Path))
def synth(n_subjects: int, seed: int, profile: str, outdir: Path) -> None:
    """Write synthetic study records shaped like the bundled study (for tests and benchmarks)."""
    try:
        paths = api.synth(outdir, n_subjects, seed, profile)
    except (MscInteropError, ValueError) as exc:
        _fail(exc)
    for p in paths:
        click.echo(f"wrote {p}")


if __name__ == "__main__":  # pragma: no cover
    main()
