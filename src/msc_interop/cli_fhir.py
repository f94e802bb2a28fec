"""from-fhir's options for data a hospital sends (who the subjects are, which clock, how strict), kept apart from
cli.py so that the command's other options and these change independently (imports click only: the CLI starts
fast)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

KEY_ENV = "MSC_PSEUDONYM_KEY"  # the environment variable holding the pseudonym key (fhir/resources/enrolment.py)

HOSPITAL_HELP = f"""\b
Hospital data (FHIR written by others):
  lab Observations (category laboratory, or a LOINC code) whose test is not in the mapping are carried into
    LB with a sponsor-defined LBTESTCD derived from the LOINC name (a warning and the notes name each),
    or rejected with --strict; vital signs (category vital-signs or a vital-sign LOINC) go to VS;
    Observations of other categories (survey, social-history, ...) and resource types with no SDTM
    domain (Claim, Immunization, ...) are skipped and counted (exit 0).
  --study gives STUDYID, sites, country, arms and the time zone; USUBJID/SUBJID come from --subjects
    (CSV: patient_id, subjid[, usubjid, siteid, armcd, actarmcd]) or a keyed pseudonym (HMAC-SHA256,
    key from --pseudonym-key-file or {KEY_ENV}; never printed), else the Patient id (warned).
  date-times with a UTC offset become local time of --timezone (default: the study's)."""


def hospital_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--study, --subjects, --pseudonym-key-file, --timezone, --strict."""
    for option in reversed([
        click.option("--study", "study", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="Study definition (study.yaml, as to-sdtm reads it): STUDYID, sites, arms, time zone."),
        click.option("--subjects", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="Enrolment table (CSV): hospital patient_id -> subjid [usubjid, siteid, armcd, actarmcd]."),
        click.option("--pseudonym-key-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help=f"Secret key for keyed pseudonyms as USUBJID (HMAC-SHA256; else ${KEY_ENV})."),
        click.option("--timezone", help="IANA time zone that date-times with a UTC offset are converted to "
                                        "(default: the study definition's; without one the clock time is kept)."),
        click.option("--strict", is_flag=True, default=False,
                     help="Reject lab results of tests not in the mapping instead of carrying them with a "
                          "sponsor-defined test code."),
    ]):
        f = option(f)
    return f


ENGINE_HELP = """\b
--engine dask (FHIR NDJSON only): the files are cut by subject as --partition-subjects on cuts them (auto
  means on), and the scan, the cut and each partition's read run as tasks on Dask workers (one core each);
  the files written, the reject report, the notes and the exit status are those of --engine local with the
  same --partition-subjects. Without --scheduler a local cluster of --workers processes is started for the
  run and stopped after it. With --scheduler (a scheduler from `dask scheduler`, workers from `dask worker
  ADDRESS`) every worker must read INPUT and write OUTDIR at the same paths as this machine (a shared file
  system: the partitions are cut into, and spilled to, a scratch folder in OUTDIR); the enrolment table or
  pseudonym key goes to the workers with the tasks. Input that cannot be cut exactly (one partition, a
  resource under two subjects, ...) is read whole in this process, and a note says why."""


def engine_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--engine, --scheduler, --workers (as validate has them)."""
    for option in reversed([
        click.option("--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True,
                     help="local: this process. dask: FHIR NDJSON read in subject partitions on a Dask cluster (the "
                          "same files)."),
        click.option("--scheduler", metavar="ADDRESS",
                     help="--engine dask: an existing cluster's scheduler (tcp://HOST:PORT); its workers must read "
                          "INPUT and write OUTDIR at the same paths. Default: a local cluster for this run."),
        click.option("--workers", type=int, metavar="N",
                     help="--engine dask without --scheduler: worker processes of the local cluster (default: CPU "
                          "count)."),
    ]):
        f = option(f)
    return f
