"""What the readers of every resource share: the read context, FHIR dates as --DTC, carried values, study
days, --SEQ and the datasets' columns.

fhir/read.py fills a ReadContext from files and Bundles; each fhir/resources module reads its resources
through it (references, rejects, counts), so that no resource module needs the orchestration.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import orjson
import pandas as pd

from msc_interop import mappings
from msc_interop.dates import study_day
from msc_interop.fhir import terms
from msc_interop.fhir.common import primitive_original
from msc_interop.fhir.datetimes import FhirDateError, fhir_value_to_dtc
from msc_interop.fhir.io import Located
from msc_interop.rejects import RejectReport
from msc_interop.sdtm.common import assign_seq
from msc_interop.study import StudyMeta

_REF = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")


@dataclass
class FhirReadReport(RejectReport):
    """The reject report, plus resource types skipped (no SDTM home) and notes about the reading."""

    row_unit: ClassVar[str] = "entry/line"  # a Bundle entry or an NDJSON line

    skipped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    version: str = ""

    def reconciliation(self) -> list[str]:
        """One line per resource type: read = converted + rejected + skipped."""
        lines = []
        for form in sorted(set(self.counts) | set(self.skipped)):
            c = self.counts.get(form)
            read = (c.read if c else 0) + self.skipped.get(form, 0)
            conv = c.converted if c else 0
            rej = c.rejected if c else 0
            skipped = self.skipped.get(form, 0)
            lines.append(f"{form}: read {read} = converted {conv} + rejected {rej} + skipped {skipped}")
        return lines


def strict_bundle(loc: Located) -> bool:
    """References inside collection / transaction / document Bundles must resolve inside the Bundle."""
    return loc.where == "entry" and loc.bundle_type in ("collection", "transaction", "document", "batch")


class ReadContext:
    """The resources of one read, found by type, id and fullUrl, and where rejects and counts go."""

    def __init__(self, study_meta: StudyMeta | None):
        self.study_meta = study_meta
        self.report = FhirReadReport()
        self.converted: Counter[str] = Counter()
        self.by_type: dict[str, list[Located]] = defaultdict(list)
        self.index: dict[str, Located] = {}  # "Type/id" -> resource
        self.urls: dict[str, str] = {}  # fullUrl -> "Type/id"
        self.flat_obs: list[tuple] = []  # one flat record per Observation (lab.Flattener) and its Located
        self.tz: str | None = None
        self.obs_supp: list[dict[str, Any]] = []
        self.derived_subjects: dict[str, None] = {}

    def reject(self, item: Located, form: str, fld: str, reason: str, value: Any = "", *, code: str) -> None:
        """A record that cannot be placed: into the report with where it was (file, line or Bundle entry) and
        its reason code (mappings/reject_codes.yaml)."""
        where = f"Bundle entry {item.position}: " if item.where == "entry" else ""
        self.report.add(form, item.file, item.position, fld, value, where + reason, code=code)

    def resolve(self, ref: Any) -> str | None:
        """"Type/id" of the resource a reference points to, if it is in the input."""
        if not isinstance(ref, str) or not ref:
            return None
        if ref in self.urls:
            return self.urls[ref]
        m = _REF.search(ref)
        if m:
            key = f"{m.group(1)}/{m.group(2)}"
            if key in self.index:
                return key
        return None

    @staticmethod
    def ref_id(ref: Any, rtype: str) -> str | None:
        """The id inside a `Type/id` reference (for references to resources not in the input)."""
        if not isinstance(ref, str):
            return None
        m = _REF.search(ref)
        return m.group(2) if m and m.group(1) == rtype else None

    def typed(self, rtype: str) -> dict[str, Located]:
        """The resources of one type by "Type/id" (or "Type/fullUrl" without an id), first one kept."""
        out = {}
        for loc in self.by_type.get(rtype, []):
            rid = loc.resource.get("id")
            key = f"{rtype}/{rid}" if isinstance(rid, str) else f"{rtype}/{loc.full_url}"
            out.setdefault(key, loc)
        return out

    def subject(self, ref: str | None, strict: bool, subjects: dict[str, str]) -> tuple[str | None, str]:
        """(USUBJID, "") of a record's subject reference; (None, reason) when it cannot be placed; (the
        Patient's id, "derived") for a Patient that is not in the input, where references may point outside."""
        key = self.resolve(ref)
        if key is not None and key in subjects:
            return subjects[key], ""
        if not ref:
            return None, "no subject: the record cannot be placed with a study subject"
        if key is not None and key.startswith("Group/"):
            return None, "the subject is a Group, not one study subject"
        if strict:
            return None, f"dangling reference: subject {ref!r} is not in the Bundle"
        pid = self.ref_id(ref, "Patient")
        if pid is None:
            return None, f"subject reference {ref!r} is not a Patient reference"
        self.derived_subjects[pid] = None
        return pid, "derived"


def json_kind(value: Any) -> str:
    """What a JSON value is, in words (for a reason that says an element has the wrong shape)."""
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    return "an object" if isinstance(value, dict) else "null"


def shown(value: Any, limit: int = 80) -> str:
    """A JSON value as compact JSON for the reject report's value column, cut at `limit` characters."""
    try:
        out = orjson.dumps(value).decode()
    except TypeError:  # pragma: no cover - what orjson read it can write
        out = repr(value)
    return out if len(out) <= limit else out[:limit - 3] + "..."


def not_an_object(rtype: str, name: str, value: Any, reference: bool = False) -> str:
    """The reason for an element `name` that holds `value` where FHIR has an object (a Reference if `reference`)."""
    if reference:
        return (f"{rtype}.{name} is {json_kind(value)}, not a Reference object such as "
                '{"reference": "Patient/123"}: the record cannot be read')
    return f"{rtype}.{name} is {json_kind(value)}, not an object: the record cannot be read"


def object_problem(res: dict[str, Any], rtype: str, names: dict[str, str], references: frozenset[str] = frozenset()
                   ) -> tuple[str, str, Any, str] | None:
    """(element, reason, value, reject code) for the first element of `names` (name -> reject code) present in
    `res` that is not a JSON object; None when all have their shape."""
    for name, code in names.items():
        value = res.get(name)
        if value is not None and type(value) is not dict:
            return f"{rtype}.{name}", not_an_object(rtype, name, value, name in references), shown(value), code
    return None


def identifier_value(resource: dict[str, Any], system_key: str) -> str | None:
    """The value of the resource's identifier in msc-interop's identifier system `system_key`."""
    system = terms.id_system(system_key)
    idents = resource.get("identifier")
    if isinstance(idents, dict):
        idents = [idents]
    for i in idents or ():
        if isinstance(i, dict) and i.get("system") == system and i.get("value") is not None:
            return str(i["value"])
    return None


# --- values ------------------------------------------------------------------------------------------------

def dtc(value: Any, tz: str | None) -> str:
    """A FHIR date/dateTime/instant as SDTM --DTC ("" when absent)."""
    if value is None:
        return ""
    return fhir_value_to_dtc(str(value), tz)


def prim_dtc(parent: dict[str, Any], name: str, tz: str | None) -> str:
    """--DTC of primitive `name` of `parent`: the kept SDTM text when there is one, else converted."""
    orig = primitive_original(parent, name, "sdtm_dtc")
    return orig if orig is not None else dtc(parent.get(name), tz)


def kept_dtc(r: ReadContext, loc: Located, form: str, parent: dict[str, Any], name: str, element: str,
             tz: str | None) -> str:
    """prim_dtc for a record that is kept whatever its date (a subject): an impossible date is left empty and
    said in the report (element, value, reason; REJ-FHIR-006) instead of losing the record."""
    try:
        return prim_dtc(parent, name, tz)
    except FhirDateError as exc:
        r.report.add(form, loc.file, loc.position, element, exc.value, f"converted without this date: {exc}",
                     code="REJ-FHIR-006")
        return ""


def _ucum_to_cdisc() -> dict[str, str]:
    out: dict[str, str] = {}
    for u in mappings.units().values():
        out.setdefault(u.ucum, u.cdisc)
    for d in mappings.exposure().get("dose_units", []):
        out.setdefault(d["ucum"], d["cdisc"])
    return out


def cdisc_unit(system: Any, code: Any, unit: Any) -> str | None:
    """The CDISC unit of a FHIR Quantity written by others: by its UCUM code, else by the unit's spelling."""
    if system == terms.system("ucum") and code:
        found = _ucum_to_cdisc().get(str(code))
        if found:
            return found
    for candidate in (unit, code):
        if candidate:
            n = mappings.normalize_unit(pd.Series([str(candidate)], dtype=object)).iloc[0]
            if isinstance(n, str) and n:
                return n
    return None


# --- frames ------------------------------------------------------------------------------------------------

def apply_overrides(df: pd.DataFrame, overrides: list[dict[str, Any]]) -> pd.DataFrame:
    """Carried values win over decoded ones (None = the variable is empty in this record)."""
    if not overrides or not any(overrides):
        return df
    updates: dict[str, dict[int, Any]] = defaultdict(dict)
    for i, over in enumerate(overrides):
        for k, v in over.items():
            updates[k][i] = v
    df = df.copy()
    for k, vals in updates.items():
        col = df[k].astype(object).tolist() if k in df.columns else [None] * len(df)
        for i, v in vals.items():
            col[i] = v
        df[k] = pd.Series(col, index=df.index, dtype=object)
    return df


def study_days(df: pd.DataFrame, dtc_var: str, dy: str, over: list[dict[str, Any]], rfstdtc: dict[str, str]
               ) -> pd.DataFrame:
    """--DY from --DTC and the subject's RFSTDTC, except where the record carries its own."""
    derived = study_day(df[dtc_var].astype(object),
                        df["USUBJID"].map(lambda u: rfstdtc.get(u, "")).astype(object))
    carried = np.array([dy in o for o in over], dtype=bool) if over else np.zeros(len(df), bool)
    if dy in df.columns:
        current = pd.to_numeric(df[dy], errors="coerce").astype("Int64")
        df[dy] = current.where(carried, derived)
    else:
        df[dy] = derived
    return df


def seq_where_missing(df: pd.DataFrame, domain: str) -> pd.DataFrame:
    """--SEQ 1..n per subject when some record has none (FHIR written by others), in the order stated once in
    mappings/sdtm_variables.yaml (`seq_order`, as to-sdtm and the define.xml say); variables absent are skipped."""
    seq_var = f"{domain}SEQ"
    if seq_var in df.columns and not df[seq_var].isna().any():
        return df
    return assign_seq(df, seq_var, [c for c in mappings.seq_order(domain) if c in df.columns])


def domain_frame(domain: str, topic: str, rows: list[dict[str, Any]], over: list[dict[str, Any]],
                 rfstdtc: dict[str, str]) -> pd.DataFrame:
    """The SDTM frame of an events or interventions domain read from FHIR (one dict per record): carried
    variables applied, --STDY / --ENDY derived where not carried, --SEQ where missing."""
    if not rows:
        return pd.DataFrame(columns=["STUDYID", "DOMAIN", "USUBJID", f"{domain}SEQ", topic])
    df = apply_overrides(pd.DataFrame(rows), over)
    for start_or_end in ("ST", "EN"):
        df = study_days(df, f"{domain}{start_or_end}DTC", f"{domain}{start_or_end}DY", over, rfstdtc)
    return seq_where_missing(df, domain)


def columns(name: str, df: pd.DataFrame, spec: dict[str, list[str]]) -> pd.DataFrame:
    """The dataset's own variables in their order (written by msc-interop in the sdtm-dataset extension)."""
    meta = mappings.sdtm_domain(name)
    known = meta.by_name if meta else {}
    numeric = set(spec.get("numeric", []))
    out = {}
    n = len(df)
    for col in spec["variables"]:
        if col in df.columns:
            s = df[col]
            if s.dtype == object:
                s = s.where(s.notna(), None)
            out[col] = s
            if col in numeric or (known.get(col) is not None and known[col].type == "Num"):
                out[col] = pd.to_numeric(s, errors="coerce")
            elif s.dtype == object:
                out[col] = s.map(lambda x: "" if x is None else x)
        elif col in numeric or (known.get(col) is not None and known[col].type == "Num"):
            out[col] = pd.Series([np.nan] * n, dtype="float64")
        else:
            out[col] = pd.Series([""] * n, dtype=object)
    return pd.DataFrame(out, index=df.index).reset_index(drop=True)


def foreign_columns(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """FHIR written by others: the SDTM metadata's Req variables, then what was found, in metadata order."""
    meta = mappings.sdtm_domain(name)
    cols = list(df.columns)
    if meta:
        for v in meta.variables:
            if v.core == "Req" and v.name not in cols:
                cols.append(v.name)
    spec = {"variables": cols, "numeric": []}
    return columns(name, df.reindex(columns=[c for c in cols if c in df.columns]), spec)
