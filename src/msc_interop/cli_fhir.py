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
    or rejected with --strict; Observations of other categories (vital-signs, survey, ...) and resource
    types with no SDTM domain (Claim, Immunization, ...) are skipped and counted (exit 0).
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
