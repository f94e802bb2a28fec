"""Study -> FHIR resources -> Bundle JSON and/or Bulk-Data NDJSON files (streamed in chunks)."""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from msc_interop.atomic import atomic_open
from msc_interop.distinct import column_codes
from msc_interop.errors import InputError
from msc_interop.fhir import ids, unwritten
from msc_interop.fhir.columns import CHUNK_ROWS, ResourceColumns
from msc_interop.fhir.context import CARRIED_ON_SUBJECT, WRITTEN_DOMAINS, WriteContext, make_context
from msc_interop.fhir.datetimes import check_timezone
from msc_interop.fhir.io import BackgroundWrites, BundleWriter, NdjsonWriter
from msc_interop.fhir.resources import (
    adverse_events,
    conditions,
    ecg,
    encounters,
    exposure,
    lab,
    medication_statements,
    procedures,
    study,
    subjects,
    vital_signs,
)
from msc_interop.fhir.resources.study import TRIAL_DESIGN
from msc_interop.fhir.validate import FastValidator, Finding, ModelValidator
from msc_interop.fhir.versions import get_version
from msc_interop.runtime import gc_frozen
from msc_interop.study import Study

BUNDLE_TYPES = ("collection", "transaction", "none")


@dataclass
class FhirWriteResult:
    """What `write_fhir` wrote: the files, resources per type, validation findings and warnings."""

    paths: list[Path] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    version: str = "R4"
    validated: str = ""  # "", "fast" (jsonschema-rs, official schema subset) or "models" (fhir.resources)
    not_written: dict[str, int] = field(default_factory=dict)  # dataset -> records FHIR cannot carry (unwritten.py)
    partitions: int = 0  # the subject partitions a big study was written in (0: whole; fhir/partitioned.py)

    @property
    def valid(self) -> bool:
        return not self.findings

    @property
    def total(self) -> int:
        return sum(self.counts.values())


Chunk = list[dict[str, Any]] | ResourceColumns


def _one(build: Callable[[WriteContext], Chunk]) -> Callable[[WriteContext, int], Iterator[Chunk]]:
    return lambda ctx, _chunk_size: iter([build(ctx)])


# The resources of a study in the order they are written: studies and labs, subjects, visits, then the records.
# The first stage is about the study (no subject's rows); a partitioned write builds it once (fhir/partitioned.py).
STAGES: tuple[Callable[[WriteContext, int], Iterator[Chunk]], ...] = (
    _one(study.build_studies),
    _one(subjects.build_patients),
    _one(subjects.build_research_subjects),
    _one(encounters.build_encounters),
    _one(exposure.build_medication_administrations),
    _one(adverse_events.build_adverse_events),
    _one(medication_statements.build_medication_statements),
    lab.build_observations,
    vital_signs.build_vital_signs,
    _one(ecg.build_ecg_observations),
    _one(conditions.build_conditions),
    _one(procedures.build_procedures),
    _one(procedures.build_imaging_observations),
)


def generate(ctx: WriteContext, chunk_size: int = CHUNK_ROWS) -> Iterator[Chunk]:
    """All resources of the study in chunks, stage after stage (STAGES). The Encounters and Observations (most
    of a study) come column-wise (fhir/columns.py), the rest as dicts."""
    for stage in STAGES:
        yield from stage(ctx, chunk_size)


def check_chunk(validator: FastValidator | ModelValidator, chunk: Chunk) -> dict[int, list[str]]:
    """Problems per resource of a chunk (only those with problems), by position in the chunk."""
    if isinstance(validator, FastValidator):
        if isinstance(chunk, ResourceColumns):
            found = validator.errors_columns(chunk)
        else:
            found = {i: m for i, m in enumerate(validator.errors_many(chunk)) if m}
        validator.clear()
        return found
    resources = chunk.resources() if isinstance(chunk, ResourceColumns) else chunk
    return {i: m for i, m in enumerate(validator.errors(r) for r in resources) if m}


def chunk_types(chunk: Chunk) -> list[str]:
    """Resource type of each resource of a chunk."""
    if isinstance(chunk, ResourceColumns):
        return [chunk.resource_type] * chunk.n
    return [r["resourceType"] for r in chunk]


def write_fhir(study_: Study, out: Path, *, version: str = "R4", bundle: str = "collection", ndjson: bool = False,
               timezone: str | None = None, validate: bool | str = True, chunk_size: int = CHUNK_ROWS
               ) -> FhirWriteResult:
    """Write the study's DM, EX, AE, LB (and SUPP--) as FHIR resources into folder `out`.

    `bundle`: "collection" or "transaction" writes one Bundle for the whole study to out/bundle.json
    (transaction entries are PUT Type/id, so loading twice updates instead of duplicating), "none" writes
    none. `ndjson` writes out/<ResourceType>.ndjson (Bulk Data). `timezone` (IANA) gives SDTM local date-times
    their UTC offset (default: the study definition's, else UTC; SDTM datasets state none, and api.to_fhir stops
    before writing when their --DTC hold times of day and no zone is given: check_zone_known). `validate`: True
    or "fast" checks every resource with the fast JSON Schema validator, "models" with fhir.resources, False not
    at all; problems are returned as findings (the files are written all the same).

        >>> result = write_fhir(study, Path("out/fhir"), version="R5", ndjson=True)
        >>> result.counts["Observation"], result.valid
        (494, True)
    """
    out = Path(out)
    spec, tz, result, validator, outputs = setup(study_.meta.timezone, version, bundle, ndjson, timezone, validate)
    result.not_written = unwritten.not_written(study_, WRITTEN_DOMAINS, TRIAL_DESIGN + CARRIED_ON_SUBJECT)
    describe_not_written(result)
    with gc_frozen():  # the study's objects are not walked again by every collection
        for kind, in_bundle in outputs:
            ctx = make_context(study_, spec, tz, in_bundle)
            counts: Counter[str] = Counter()
            check = validator if not result.counts else None  # validate once (both outputs hold the same content)
            # the background writes end (and are waited for) before the files are closed and renamed
            with contextlib.ExitStack() as stack, BackgroundWrites() as background:
                if kind == "bundle":
                    target = out / "bundle.json"
                    fh = stack.enter_context(atomic_open(target, "wb"))
                    writer: Any = BundleWriter(fh, bundle, ids.simple_id("bundle", ctx.studyid), background.write)
                    file_label = "bundle.json"
                else:
                    writer = NdjsonWriter(out, stack, background.write)
                    file_label = ""
                for chunk in generate(ctx, chunk_size):
                    types = chunk_types(chunk)
                    if check is not None:
                        result.findings += chunk_findings(chunk, types, check_chunk(check, chunk), counts, file_label)
                    counts.update(types)
                    writer.add(chunk)
                if kind == "bundle":
                    writer.close()
                    result.paths.append(out / "bundle.json")
                else:
                    result.paths += writer.paths
            result.counts = dict(counts)
            for w in ctx.warnings:
                if w not in result.warnings:
                    result.warnings.append(w)
    return result


def setup(study_tz: str, version: str, bundle: str, ndjson: bool, timezone: str | None, validate: bool | str
          ) -> tuple[Any, str, FhirWriteResult, Any, list[tuple[str, bool]]]:
    """write_fhir's options checked: (version spec, time zone, an empty result, the validator or None, the
    outputs as (kind, in a Bundle))."""
    spec = get_version(version)
    if bundle not in BUNDLE_TYPES:
        raise InputError(f"unknown bundle type {bundle!r}; choose {', '.join(BUNDLE_TYPES)}")
    if bundle == "none" and not ndjson:
        raise InputError("nothing to write: bundle='none' and ndjson=False; ask for a Bundle or NDJSON")
    tz = timezone or study_tz or "UTC"
    try:
        check_timezone(tz)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if validate is True:
        validate = "fast"
    if validate not in (False, "fast", "models"):
        raise InputError(f"validate must be True, False, 'fast' or 'models', not {validate!r}")
    result = FhirWriteResult(version=spec.name, validated=validate or "")
    outputs = ([("bundle", True)] if bundle != "none" else []) + ([("ndjson", False)] if ndjson else [])
    validator: Any = None
    if validate == "fast":
        validator = FastValidator(spec)
    elif validate == "models":
        validator = ModelValidator(spec)
    return spec, tz, result, validator, outputs


def check_zone_known(study_: Study, timezone: str | None) -> None:
    """InputError when the study's date-times need a UTC offset that nothing gives: SDTM --DTC values are local
    clock times without a zone, a FHIR dateTime with a time must state its offset (R4/R5 datatypes), and SDTM
    datasets do not say where they were collected; assuming UTC moved every instant of a study in Shanghai by
    8 hours, silently. A study definition (study.yaml: timezone) or --timezone says it; a study without any time
    of day needs neither."""
    if timezone or study_.meta.timezone:
        return
    for name in study_.names:
        df = study_[name]
        for col in (c for c in df.columns if str(c).endswith("DTC") and df[c].dtype == object):
            values = pd.Series(column_codes(df[col])[1], dtype=object)
            timed = values[values.map(lambda v: isinstance(v, str) and _TIME_OF_DAY.search(v) is not None)]
            if len(timed):
                raise InputError(
                    f"{name}.{col} holds times of day ('{timed.iloc[0]}') but the input does not say their time "
                    "zone (SDTM date-times are local clock times), and a FHIR dateTime with a time must state its "
                    "UTC offset: give --timezone with the IANA zone of the study's sites (e.g. Asia/Shanghai, "
                    "Europe/Berlin), or --timezone UTC if the times are UTC")


_TIME_OF_DAY = re.compile(r"T\d")


def describe_not_written(result: FhirWriteResult) -> None:
    if result.not_written:
        result.warnings.append("not written to FHIR (counted in rejects.json notes): " + ", ".join(
            f"{name} {n} record(s)" for name, n in sorted(result.not_written.items())))


def chunk_findings(chunk: Chunk, types: list[str], problems: dict[int, list[str]], counts: Counter[str],
              file_label: str) -> list[Finding]:
    """Findings for the problems of a chunk; positions count per resource type from `counts` (before it)."""
    if not problems:
        return []
    resources = chunk.resources() if isinstance(chunk, ResourceColumns) else chunk
    seen: Counter[str] = Counter()
    out = []
    for i, (r, rtype) in enumerate(zip(resources, types, strict=True)):
        seen[rtype] += 1
        for m in problems.get(i, ()):
            out.append(Finding(file_label or f"{rtype}.ndjson", counts[rtype] + seen[rtype], str(rtype),
                               str(r.get("id")), m))
    return out
