"""What a validation run produces: findings, each from a rule whose metadata is data (mappings/validation_rules.yaml).

A `Finding` is one breach at one place: the rule id and severity, the file, the SDTM dataset or FHIR resource,
the row (SDTM, 1-based) or entry (Bundle entry index, 0-based as in Bundle.entry[i]; NDJSON line, 1-based; XML
line for define.xml), the subject and --SEQ where known, the variable or FHIRPath, the value and the message.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any

import pandas as pd


class Severity(StrEnum):
    """How bad a finding is. error: breaks the standard; warning: probably wrong or needs declaring; notice: info."""

    ERROR = "error"
    WARNING = "warning"
    NOTICE = "notice"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Severity.ERROR: 3, Severity.WARNING: 2, Severity.NOTICE: 1}


class Scope(StrEnum):
    """What a rule reads."""

    SDTM = "sdtm"
    XPT = "xpt"
    DATASETJSON = "datasetjson"
    DEFINE = "define"
    FHIR = "fhir"
    RECORDS = "records"
    ADAM = "adam"
    IO = "io"


class Reach(StrEnum):
    """What an SDTM rule reads, so that a study held one range of subjects at a time is checked like the whole
    (validate/partitioned.py). Every SDTM rule says which it is where it is registered (`@rule(id, reach=...)`).

    SUBJECTS: findings at rows, each decided by the rows of one subject (all of which are in one partition), the
    study-level datasets (TS, TV, ... whole in every partition) and the whole-study facts the rule reads through
    `SdtmContext.fact`: it runs on every partition. STUDY: findings about datasets, variables or the study
    (a missing variable, the SDTMIG version), decided by the study's shape and its facts: it runs once.
    """

    SUBJECTS = "subjects"
    STUDY = "study"


@dataclass(frozen=True, slots=True)
class Finding:
    """One breach of one rule at one place."""

    rule_id: str
    severity: str
    file: str = ""
    dataset_or_resource: str = ""
    row_or_entry: int | None = None
    usubjid: str = ""
    seq: int | None = None
    variable_or_path: str = ""
    value: str = ""
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


FINDING_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Finding))


@dataclass(frozen=True)
class RuleMeta:
    """A rule as the data describes it (mappings/validation_rules.yaml), plus finding builders."""

    id: str
    title: str
    severity: Severity
    scope: Scope
    applies_to: tuple[str, ...]
    checks: str
    message: str
    citation: str
    raised_by: str = "function"
    variants: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    # the ids of the same check elsewhere, so that users can reconcile reports: p21 (Pinnacle 21 SDxxxx/CTxxxx),
    # sdtmig_cg (SDTMIG Conformance Rules CGxxxx), core (CDISC CORE-nnnnnn), each a tuple of ids
    references: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    references_source: str = ""

    def reference_text(self) -> str:
        """The references as one line: "P21 SD0021; SDTMIG CG0425" ("" when there are none)."""
        names = {"p21": "P21", "sdtmig_cg": "SDTMIG", "core": "CORE"}
        return "; ".join(f"{names.get(k, k)} {', '.join(v)}" for k, v in self.references.items() if v)

    def template(self, variant: str | None = None) -> str:
        if variant is None:
            return self.message
        try:
            return self.variants[variant]
        except KeyError:
            raise KeyError(f"rule {self.id} has no message variant {variant!r} "
                           f"(it has: {', '.join(self.variants) or 'none'})") from None

    def finding(self, *, file: str = "", dataset: str = "", row: int | None = None, usubjid: str = "",
                seq: int | None = None, variable: str = "", value: Any = "", variant: str | None = None,
                **extra: Any) -> Finding:
        """One finding of this rule; the message is the rule's template filled with the location and `extra`."""
        text = as_text(value)
        fill = {"file": file, "dataset": dataset, "row": "" if row is None else row, "usubjid": usubjid,
                "seq": "" if seq is None else seq, "variable": variable, "value": text,
                **{k: as_text(v) for k, v in extra.items()}}
        return Finding(self.id, str(self.severity), file, dataset, row, usubjid, seq, variable, text,
                       self.template(variant).format_map(fill))


def as_text(value: Any) -> str:
    """A cell as report text: "" for null/NaN, whole floats without ".0", other floats by repr."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        # float(): numpy 2 prints a np.float64 (a float subclass) as "np.float64(0.625)"
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(float(value))
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    if hasattr(value, "item"):  # numpy scalar
        return as_text(value.item())
    return str(value)
