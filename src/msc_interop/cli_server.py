"""The commands that talk to FHIR servers: push and pull (the work itself is in msc_interop/server/)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click

from msc_interop.cli_common import fail as _fail
from msc_interop.cli_common import fhir_partition_option as _fhir_partition_option
from msc_interop.cli_common import max_file_size_of, max_file_size_option
from msc_interop.cli_common import partition_choice as _partition_choice
from msc_interop.cli_common import print_rejects as _print_rejects
from msc_interop.cli_common import sdtm_output_options as _sdtm_output_options
from msc_interop.errors import MscInteropError
from msc_interop.outcome import EXIT_OK, EXIT_REJECTS, exit_status


def _auth_options(default_scope: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """--token-file and the SMART Backend Services options, shared by push and pull."""

    def wrap(f: Callable[..., None]) -> Callable[..., None]:
        for opt in reversed([
            click.option("--token-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                         help="File holding a bearer token (default: $MSC_INTEROP_TOKEN)."),
            click.option("--smart-client-id", metavar="ID",
                         help="SMART Backend Services: the client id registered at the server's authorisation "
                              "server (with --smart-key)."),
            click.option("--smart-key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                         help="SMART Backend Services: the client's private key (PEM, RSA -> RS384 or EC P-384 "
                              "-> ES384) whose public key is registered for --smart-client-id."),
            click.option("--smart-scope", default=default_scope, show_default=True,
                         help="Scopes asked of the token endpoint (SMART v2 system scopes)."),
            click.option("--smart-token-url", metavar="URL",
                         help="Token endpoint (default: from [server]/.well-known/smart-configuration)."),
            click.option("--smart-kid", metavar="KID", help="Key id to put in the assertion's header (when the "
                                                             "client was registered by a JWKS with key ids)."),
            click.option("--ca-bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                         help="PEM file of the CA certificates to trust for https (e.g. a hospital's own CA); "
                              "default: the system's. Verification is never turned off."),
        ]):
            f = opt(f)
        return f

    return wrap


@click.command("push", epilog="""\b
Examples:
  msc-interop push fixtures/example_study --server http://127.0.0.1:8080/fhir
  msc-interop push out/fhir/bundle.json --server https://fhir.example.org/R4 --prune --token-file token.txt
  msc-interop push out/sdtm --server URL --dry-run --timezone Asia/Shanghai

\b
INPUT as for to-fhir (study records, ODM, SDTM) or FHIR (Bundle / NDJSON files or a folder). Every resource is
PUT by its stable id with meta.tags naming the study and its content hash: what the server holds unchanged
is not sent again; with --prune the study's resources no longer in INPUT are deleted. An interrupted push
resumes from its checkpoint (--state-dir) when run again. The report (created / updated / unchanged /
deleted / failed per type, each failure with the server's OperationOutcome) is printed and written as JSON.
Credentials: a bearer token (--token-file, or the MSC_INTEROP_TOKEN environment variable) or SMART Backend
Services (--smart-client-id with --smart-key); neither token is ever printed. docs/fhir-servers.md.
Exit status: 0 everything on the server, 1 some resources failed or records were rejected, 2 input or
server unusable (the checkpoint keeps what was sent).""")
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True, path_type=Path))
@click.option("--server", required=True, metavar="URL", help="FHIR base URL (e.g. http://host/fhir).")
@click.option("--fhir-version", type=click.Choice(["R4", "R5"]), default="R4", show_default=True,
              help="FHIR release to send (records / SDTM input) and to expect of the server.")
@click.option("--batch-size", type=click.IntRange(min=1), default=50, show_default=True,
              help="Entries per Bundle (Medplum refuses transactions of more than 50 updates).")
@click.option("--mode", type=click.Choice(["transaction", "batch"]), default="transaction", show_default=True,
              help="Bundle type sent; a refused transaction is sent again as a batch.")
@click.option("--prune", is_flag=True, help="Delete the study's resources on the server that INPUT no longer has.")
@click.option("--dry-run", is_flag=True, help="Compare with the server and report; send nothing.")
@_auth_options("system/*.cruds")
@click.option("--study", help="STUDYID for the study tag when INPUT has no ResearchStudy saying it.")
@click.option("--timezone", metavar="ZONE", help="IANA time zone of an SDTM INPUT's local date-times (e.g. "
              "Asia/Shanghai; FHIR states each time's UTC offset); records and ODM: the study definition's.")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where the checkpoint is kept (default: $XDG_STATE_HOME/msc-interop).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              help="JSON report file (default: push-report.json in --state-dir).")
@click.option("--retries", type=click.IntRange(min=0), default=5, show_default=True,
              help="Retries of a request answered 429/502/503/504 or cut off (Retry-After honoured).")
@click.option("--timeout", type=click.FloatRange(min=1), default=60.0, show_default=True,
              help="Seconds to wait for each answer.")
def push_command(input_path: Path, server: str, fhir_version: str, batch_size: int, mode: str, prune: bool,
                 dry_run: bool, token_file: Path | None, smart_client_id: str | None, smart_key: Path | None,
                 smart_scope: str, smart_token_url: str | None, smart_kid: str | None, ca_bundle: Path | None,
                 study: str | None, timezone: str | None,
                 state_dir: Path | None, report_path: Path | None, retries: int, timeout: float) -> None:
    """Load study records, SDTM or FHIR into a FHIR server, safely again and again."""
    from msc_interop.server import commands
    from msc_interop.server.push import PushOptions, push
    from msc_interop.server.state import default_state_dir

    state_dir = state_dir or default_state_dir()
    report_path = report_path or state_dir / "push-report.json"
    try:
        opts = PushOptions(server=server, state_dir=state_dir, fhir_version=fhir_version, batch_size=batch_size,
                           mode=mode, prune=prune, dry_run=dry_run, token=commands.bearer_token(token_file),
                           smart=commands.smart_backend(smart_client_id, smart_key, smart_scope, smart_token_url,
                                                        smart_kid),
                           ca_bundle=ca_bundle, study=study, retries=retries, timeout=timeout,
                           timezone=timezone)
        with commands.progress_bar("push") as progress:
            report = push(input_path, opts, progress)
    except MscInteropError as exc:
        partial = getattr(exc, "report", None)
        if partial is not None:
            commands.write_report(report_path, partial.to_json())
            exc.add_note(f"what was sent is in {report_path}; run the same command again to resume")
        _fail(exc)
    commands.write_report(report_path, report.to_json())
    for line in report.lines():
        click.echo(line)
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"wrote {report_path}")
    sys.exit(EXIT_OK if report.complete else EXIT_REJECTS)


@click.command("pull", epilog="""\b
Examples:
  msc-interop pull --server http://127.0.0.1:8080/fhir --study MSC-SLE-2009 -o out/pulled
  msc-interop pull --server URL --study MSC-SLE-2009 -o out/pulled --since-last-run
  msc-interop pull --server URL --patients patient-ids.txt -o out/pulled --since 2026-01-01T00:00:00Z
  msc-interop pull --server URL --study MSC-SLE-2009 -o out/pulled --bulk --smart-client-id ID --smart-key k.pem

\b
REST search, every `next` link followed: with --study, the study's resources as push tagged them; with
--patients (a file of Patient ids, one a line), those patients and their Observation, AdverseEvent,
MedicationAdministration, Encounter and ResearchSubject resources, with the studies and laboratories they
reference. Writes OUT/fhir/<Type>.ndjson and converts them as from-fhir does into OUT/sdtm (with its reject
report). --since / --since-last-run fetch only what changed and merge it into OUT/fhir of the earlier pull.
--bulk: one Bulk Data $export instead of searches (kick-off, status polls honouring Retry-After, NDJSON files
streamed to disk, the job deleted after); its transactionTime is where --since-last-run starts next.
Exit status: 0 all converted, 1 records rejected, 2 server or input unusable. docs/fhir-servers.md.""")
@click.option("--server", required=True, metavar="URL", help="FHIR base URL (e.g. http://host/fhir).")
@_sdtm_output_options
@click.option("--study", help="STUDYID of the study to pull (its resources' study tag).")
@click.option("--patients", "patients_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="File of Patient ids, one a line: pull those patients' resources.")
@click.option("--since", metavar="DATETIME", help="Only resources changed since (FHIR instant, with time zone).")
@click.option("--since-last-run", is_flag=True, help="Only what changed since the last pull of the same study.")
@click.option("--fhir-version", type=click.Choice(["R4", "R5"]), help="Refuse resources of the other version.")
@click.option("--bulk", is_flag=True, help="Fetch by a Bulk Data $export (asynchronous, NDJSON) instead of searches.")
@click.option("--bulk-timeout", type=click.FloatRange(min=1), default=3600.0, show_default=True,
              help="Seconds to wait for a $export job in all.")
@click.option("--bulk-type-filter", is_flag=True,
              help="Ask the server to export only the study's resources (_typeFilter by study tag); without it "
                   "the study's types are exported and the study's resources kept here.")
@_auth_options("system/*.rs")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where the time of the last pull is kept (default: $XDG_STATE_HOME/msc-interop).")
@click.option("--timeout", type=click.FloatRange(min=1), default=60.0, show_default=True,
              help="Seconds to wait for each answer.")
@click.option("--page-size", type=click.IntRange(min=1), default=500, show_default=True,
              help="Resources per search page (_count).")
@max_file_size_option
@_fhir_partition_option
def pull_command(server: str, outdir: Path, formats: list[str], define: bool, study: str | None,
                 patients_file: Path | None, since: str | None, since_last_run: bool, fhir_version: str | None,
                 bulk: bool, bulk_timeout: float, bulk_type_filter: bool, token_file: Path | None,
                 smart_client_id: str | None, smart_key: Path | None, smart_scope: str,
                 smart_token_url: str | None, smart_kid: str | None, ca_bundle: Path | None,
                 state_dir: Path | None, timeout: float, page_size: int, max_file_size: str,
                 partition_subjects: str) -> None:
    """Search a FHIR server for a study's resources and convert them to SDTM."""
    from msc_interop.server import commands
    from msc_interop.server.client import FhirClient
    from msc_interop.server.pull import BulkOptions, pull
    from msc_interop.server.state import default_state_dir

    try:
        if since and since_last_run:
            raise click.UsageError("give --since or --since-last-run, not both")
        patients = commands.patient_ids(patients_file) if patients_file else None
        smart = commands.smart_backend(smart_client_id, smart_key, smart_scope, smart_token_url, smart_kid)
        with FhirClient(server, token=commands.bearer_token(token_file), timeout=timeout, smart=smart,
                        ca_bundle=ca_bundle) as client:
            result = pull(client, outdir, state_dir or default_state_dir(), study=study, patients=patients,
                          since=commands.since_instant(since), since_last_run=since_last_run,
                          fhir_version=fhir_version, page_size=page_size, formats=formats, define=define,
                          partition_subjects=_partition_choice(partition_subjects),
                          max_file_size=max_file_size_of(max_file_size),
                          bulk=BulkOptions(bulk_timeout, bulk_type_filter,
                                           lambda text: click.echo(f"$export: {text}", err=True)) if bulk else None)
    except MscInteropError as exc:
        _fail(exc)
    click.echo(f"fetched{' since ' + result.since if result.since else ''}: "
               + (", ".join(f"{t} {n}" for t, n in sorted(result.counts.items())) or "nothing new"))
    for path in [*result.files, *result.conversion.written]:
        click.echo(f"wrote {path}")
    if result.conversion.partitions:
        click.echo(f"converted in {result.conversion.partitions} subject partitions (--partition-subjects)")
    _print_rejects(result.conversion.rejects)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    sys.exit(exit_status(result.conversion.rejects))
