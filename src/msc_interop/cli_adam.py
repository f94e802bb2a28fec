"""The `to-adam` command (click only, so the CLI starts fast): ADaM ADSL, ADAE, ADLB, ADEX with define.xml."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from msc_interop import api
from msc_interop.cli_common import fail, print_rejects
from msc_interop.errors import MscInteropError
from msc_interop.outcome import exit_status


@click.command("to-adam", epilog="""\b
Examples:
  msc-interop to-adam fixtures/example_study -o out/adam
  msc-interop to-adam out/sdtm -o out/adam --format json --te-window 30

\b
INPUT: study records (CSV folder, .xlsx, ODM export), an SDTM folder (or a to-sdtm output folder), or FHIR
(Bundle JSON / NDJSON files or a folder of them), as for `summary`. Writes OUTDIR/<format>/adsl.xpt, adae,
adlb, adex (one file per dataset; datasets without source records are left out) with define.xml (Define-XML
2.1, ADaMIG 1.3) beside them, and the reject report of the input (OUTDIR/rejects.csv, rejects.json).
Populations, treatment-emergent flags and lab baselines are those of `summary` (same derivations), so
`msc-interop summary OUTDIR` gives the same numbers as the summary of INPUT.
Exit status: 0 every input record in the ADaM, 1 some input records could not be read, 2 input unusable.""")
@click.argument("inputs", metavar="INPUT...", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--outdir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write into (created if missing).")
@click.option("--format", "formats", default="xpt,json", show_default=True,
              help="Comma-separated: xpt (SAS XPORT v5, numeric dates DATE9.), json (Dataset-JSON 1.1).")
@click.option("--te-window", metavar="DAYS|none", default="none", show_default=True,
              help="An AE starting up to DAYS after the last dose is still treatment-emergent (TRTEMFL); none: "
                   "no limit. As summary --te-window.")
@click.option("--define/--no-define", default=True, show_default=True, help="Write define.xml beside the datasets.")
@click.option("--created", metavar="ISO-DATETIME",
              help="Creation timestamp in the file metadata (default: SOURCE_DATE_EPOCH or now).")
@click.option("--validate/--no-validate", default=True, show_default=True,
              help="Check the files written with the rules of `msc-interop validate` (ADaM rules, define.xml XSD).")
@click.option("--fhir-version", type=click.Choice(["R4", "R5"]), help="Force the FHIR version of FHIR input.")
def to_adam_command(inputs: tuple[Path, ...], outdir: Path, formats: str, te_window: str, define: bool,
                    created: str | None, validate: bool, fhir_version: str | None) -> None:
    """Derive ADaM ADSL, ADAE, ADLB (and ADEX) as XPT / Dataset-JSON with Define-XML 2.1."""
    window = None if te_window.strip().lower() in ("none", "") else te_window.strip()
    if window is not None and not window.isdigit():
        fail(MscInteropError(f"--te-window {te_window!r}: give a whole number of days (0 or more) or 'none'"))
    try:
        days = None if window is None else int(window)
        result = api.to_adam(list(inputs), outdir, formats.split(","), te_window=days, created=created,
                             define=define, validate=validate, fhir_version=fhir_version)
    except MscInteropError as exc:
        fail(exc)
    for path in result.written:
        df = result.adam.get(path.stem.upper())
        click.echo(f"wrote {path}" + (f" ({len(df)} record{'' if len(df) == 1 else 's'})" if df is not None else ""))
    adsl = result.adam["ADSL"]
    click.echo(f"ADSL: {len(adsl)} subjects, {int(adsl['SAFFL'].eq('Y').sum())} in the safety population (SAFFL), "
               f"{int(adsl['ITTFL'].eq('Y').sum())} randomised (ITTFL)")
    if "ADAE" in result.adam:
        ae = result.adam["ADAE"]
        te = ae[ae["TRTEMFL"].eq("Y")]
        click.echo(f"ADAE: {len(ae)} AE records, {len(te)} treatment-emergent (TRTEMFL = Y) in "
                   f"{te['USUBJID'].nunique()} subjects")
    print_rejects(result.rejects)
    report = result.validation
    if report is not None:
        counts = report.counts_by_severity()
        click.echo(f"validation of the files written: {counts.get('error', 0)} error(s), "
                   f"{counts.get('warning', 0)} warning(s), {counts.get('notice', 0)} notice(s)")
        for f in report.findings[:10]:
            click.echo(f"  {f.rule_id} {f.message}", err=True)
    sys.exit(exit_status(result.rejects, report))
