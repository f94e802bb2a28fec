"""What the readers of every resource share: the read context, FHIR dates as --DTC, carried values, study
days, --SEQ and the datasets' columns.

fhir/read.py fills a ReadContext from files and Bundles; each fhir/resources module reads its resources
through it (references, rejects, counts), so that no resource module needs the orchestration.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import orjson
import pandas as pd

from msc_interop import mappings
from msc_interop.atomic import write_bytes_atomic
from msc_interop.dates import study_day
from msc_interop.fhir import terms
from msc_interop.fhir.common import primitive_original
from msc_interop.fhir.datetimes import FhirDateError, fhir_value_to_dtc
from msc_interop.fhir.io import Located
from msc_interop.fhir.remarks import rejected_status
from msc_interop.fhir.resources.enrolment import Enrolment
from msc_interop.fhir.shapes import ShapeProblem, json_kind
from msc_interop.rejects import RejectReport
from msc_interop.sdtm.common import assign_seq
from msc_interop.study import StudyMeta

_REF = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")


@dataclass
class FhirReadReport(RejectReport):
    """The reject report, plus what was skipped on purpose and notes about the reading.

    Two kinds of lines in the report: a record not converted (counted as rejected), and a note about one field of
    a record that was converted without it (its reason starts "converted without"; counted per form apart from
    the rejected records, so that the counts line and the report agree).
    """

    row_unit: ClassVar[str] = "entry/line"  # a Bundle entry or an NDJSON line

    # per resource type: resources not converted on purpose (types with no SDTM home; copies of a resource that
    # was read once; older versions of a resource): read = converted + rejected + skipped
    skipped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    version: str = ""
    incomplete: dict[str, set[tuple[str, int]]] = field(default_factory=dict)  # form -> (file, row) converted
    # without a field (see note_field)
    units: dict[tuple[str, int], str] = field(default_factory=dict)  # (file, row) -> "line" or "entry"
    # (resource type, why) -> how many were skipped on purpose for that reason (the "skipped" section)
    skipped_why: dict[tuple[str, str], int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # what the user must look at although nothing was rejected
    # older versions of a resource whose newest version was converted: skipped, each said with where it was (not
    # a reject: an export with history is not bad data)
    superseded: list[str] = field(default_factory=list)

    def skipped_lines(self) -> list[str]:
        """One line per resource type and reason of what was skipped on purpose, with the count."""
        return [f"skipped {n} {form}: {why}" for (form, why), n in sorted(self.skipped_why.items())]

    def place_unit(self, file: str, row: int) -> str:
        """What a reject's row counts in `file`: an NDJSON or JSON line, or a Bundle entry (0-based)."""
        return self.units.get((file, row)) or ("line" if file.lower().endswith(".ndjson") else "entry/line")

    def note_field(self, form: str, file: str, row: int, fld: str, value: Any, reason: str, *, code: str) -> None:
        """A record converted without one of its fields: listed with the field and why (the reason says
        "converted without ..."), not counted as a rejected record."""
        self.add(form, file, row, fld, value, reason, code=code)
        self.incomplete.setdefault(form, set()).add((file, int(row)))

    def form_counts(self) -> list[dict[str, Any]]:
        """Per resource type: read, converted, rejected, skipped, and the converted records listed for a field."""
        out = []
        for form in sorted(set(self.counts) | set(self.skipped)):
            c = self.counts.get(form)
            skipped = self.skipped.get(form, 0)
            out.append({"form": form, "read": (c.read if c else 0) + skipped, "converted": c.converted if c else 0,
                        "rejected": c.rejected if c else 0, "skipped": skipped,
                        "converted_without_a_field": len(self.incomplete.get(form, ()))})
        return out

    def reconciliation(self) -> list[str]:
        """One line per resource type: read = converted + rejected + skipped (and how many of the converted
        records are listed in the report for a field they were converted without)."""
        lines = []
        for c in self.form_counts():
            line = (f"{c['form']}: read {c['read']} = converted {c['converted']} + rejected {c['rejected']} + "
                    f"skipped {c['skipped']}")
            if c["converted_without_a_field"]:
                line += (f" ({c['converted_without_a_field']} of the converted without a field: listed in the reject "
                         "report)")
            lines.append(line)
        return lines

    def write_json(self, path: str | Path) -> None:
        """rejects.json with the FHIR counts (read includes the skipped resources, as the counts line says)."""
        doc: dict[str, Any] = {"counts": self.form_counts(), "rejects": [asdict(r) for r in self.sorted()]}
        if self.skipped_why:
            doc["skipped"] = [{"form": form, "reason": why, "count": n}
                              for (form, why), n in sorted(self.skipped_why.items())]
        if self.warnings:
            doc["warnings"] = list(self.warnings)
        if self.superseded:
            doc["superseded"] = sorted(self.superseded)
        if self.notes:
            doc["notes"] = list(self.notes)
        write_bytes_atomic(path, orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")


def strict_bundle(loc: Located) -> bool:
    """References inside collection / transaction / document Bundles must resolve inside the Bundle."""
    return loc.where == "entry" and loc.bundle_type in ("collection", "transaction", "document", "batch")


def canonical_reference(ref: str, urls: dict[str, str]) -> str:
    """A reference written one way: "Type/id" for a fullUrl of the input (`urls`) or a URL ending in Type/id
    (with or without _history); else as it is."""
    if ref in urls:
        return urls[ref]
    m = _REF.search(ref)
    return f"{m.group(1)}/{m.group(2)}" if m else ref


def subject_of(element: Any) -> str | tuple[str, Any, Any] | None:
    """What a record's subject Reference gives to place it: its reference, else ("identifier", system, value) for
    a subject given by identifier only (Reference.identifier), else None. The element's shape is checked before."""
    if type(element) is not dict:
        return None
    ref = element.get("reference")
    if ref is not None:
        return ref
    ident = element.get("identifier")
    if type(ident) is dict:
        return ("identifier", ident.get("system"), ident.get("value"))
    return None


def shown_subject(subject: Any) -> str:
    """A subject (subject_of) as the reject report's value."""
    if isinstance(subject, tuple):
        return f"identifier {subject[1]}|{subject[2]}" if subject[1] else f"identifier {subject[2]}"
    return "" if subject is None else str(subject)


def observation_admitted(r: ReadContext, loc: Located, rec: Any, usubjid: str | None, problem: str) -> bool:
    """Whether an Observation's flat record (LB and VS readers) is a result of a known subject; if not, it is
    rejected: no subject (REJ-FHIR-003), or status entered-in-error / cancelled, not a result (REJ-FHIR-004)."""
    if usubjid is None:
        r.reject(loc, "Observation", "Observation.subject", problem, shown_subject(rec.subject), code="REJ-FHIR-003")
        return False
    if rejected_status(rec.status):  # entered-in-error, cancelled (fhir_mapping.yaml observation_status_reading)
        r.reject(loc, "Observation", "Observation.status", f"status {rec.status}: not a result", rec.status,
                 code="REJ-FHIR-004")
        return False
    return True


_AMBIGUOUS = "\x00ambiguous"


class ReadContext:
    """The resources of one read, found by type, id and fullUrl, and where rejects and counts go."""

    def __init__(self, study_meta: StudyMeta | None):
        self.study_meta = study_meta
        self.report = FhirReadReport()
        self.converted: Counter[str] = Counter()
        self.by_type: dict[str, list[Located]] = defaultdict(list)
        self.index: dict[str, Located] = {}  # "Type/id" -> resource
        self.urls: dict[str, str] = {}  # fullUrl -> "Type/id"
        # resources rejected before any reader read them (wrong shape, conflicting copies): "Type/id" -> why, so
        # that what refers to them says so; their fullUrls; the rejected resources themselves
        self.withdrawn: dict[str, str] = {}
        self.withdrawn_urls: dict[str, str] = {}
        self.withdrawn_items: dict[str, list[Located]] = defaultdict(list)
        self.withdrawn_locs: dict[str, Located] = {}
        self.flat_obs: list[tuple] = []  # one flat record per Observation (lab.Flattener) and its Located
        self.ecg_obs: list[tuple] = []  # one compact record per ECG Observation (ecg.EcgFlattener) and its Located
        self.tz: str | None = None
        self.obs_supp: list[dict[str, Any]] = []
        self.vs_found: Any = None  # the vital-sign Observations the lab reader set aside (resources/vital_signs.py)
        self.derived_subjects: dict[str, None] = {}
        self._patient_ids: dict[tuple[Any, Any], str] | None = None
        self.unresolved_encounters = 0  # encounter references to nothing in the input, where that may be
        self.rejected_ids: set[int] = set()  # id() of the Located of each record rejected (its SUPP-- go with it)
        self.enrolment = Enrolment()  # hospital Patient id -> study subject (fhir/resources/enrolment.py)
        self.strict = False  # --strict: lab results of tests not in the mapping are rejected, not carried
        self.skipped: Counter[str] = Counter()  # resources skipped on purpose by a reader (skip)
        # what the notes count, said once at the end of the read (fhir/read.py finish_read): Patients whose
        # USUBJID came from the enrolment, Observations whose subject is only a reference, identical copies
        self.tallies: Counter[str] = Counter()
        self.examples: dict[str, list[tuple[str, int, str]]] = {}  # tallies key -> first resources (fhir/remarks.py)
        self.identical: Counter[str] = Counter()  # resource type -> identical copies skipped
        self.identical_examples: list[str] = []
        # read-wide: one object for every subject partition of a read (fhir/read_partitioned.py), so that a
        # sponsor-defined test gets one code and the notes name every test and route once
        self._sponsor: Any = None
        self._routes: Any = None

    def sponsor_tests(self) -> Any:
        """The lab tests carried with sponsor-defined codes in this read (lab/sponsor.py), made once."""
        if self._sponsor is None:
            from msc_interop.fhir.resources.lab.sponsor import SponsorTests

            self._sponsor = SponsorTests()
        return self._sponsor

    def routes_forms(self) -> Any:
        """The routes and dose forms met in this read (resources/routes.py), made once."""
        if self._routes is None:
            from msc_interop.fhir.resources.routes import RoutesForms

            self._routes = RoutesForms()
        return self._routes

    def share_read_wide(self, first: ReadContext) -> None:
        """Use `first`'s read-wide objects (the first subject partition's reader): one read, many partitions."""
        self.use_read_wide(first.enrolment, first.sponsor_tests(), first.routes_forms())

    def use_read_wide(self, enrolment: Enrolment, sponsor: Any, routes: Any) -> None:
        """Use these read-wide objects (routes None: made when first needed)."""
        self.enrolment, self._sponsor, self._routes = enrolment, sponsor, routes

    def skip(self, form: str, why: str) -> None:
        """A resource a reader leaves out on purpose (not a record of its domain): counted per type and reason."""
        self.skipped[form] += 1
        key = (form, why)
        self.report.skipped_why[key] = self.report.skipped_why.get(key, 0) + 1

    def reject(self, item: Located, form: str, fld: str, reason: str, value: Any = "", *, code: str) -> None:
        """A record that cannot be placed: into the report with where it was (file, line or Bundle entry) and
        its reason code (mappings/reject_codes.yaml)."""
        where = f"Bundle entry {item.position}: " if item.where == "entry" else ""
        self.report.add(form, item.file, item.position, fld, value, where + reason, code=code)
        self.report.units[(item.file, item.position)] = item.where
        self.rejected_ids.add(id(item))

    def add_at(self, item: Located, form: str, fld: str, value: Any, reason: str, *, code: str) -> None:
        """A line in the report for the resource at `item`, its reason as given."""
        self.report.add(form, item.file, item.position, fld, value, reason, code=code)
        self.report.units[(item.file, item.position)] = item.where

    def note_field(self, item: Located, form: str, fld: str, reason: str, value: Any = "", *, code: str) -> None:
        """A record converted without one field: listed (FhirReadReport.note_field), not rejected."""
        where = f"Bundle entry {item.position}: " if item.where == "entry" else ""
        self.report.note_field(form, item.file, item.position, fld, value, where + reason, code=code)
        self.report.units[(item.file, item.position)] = item.where

    def withdraw(self, key: str, item: Located, why: str) -> None:
        """Take resource `key` out of the read (it was rejected): references to it then say why."""
        self.withdrawn.setdefault(key, why)
        self.withdrawn_locs[key] = item
        self.withdrawn_items[key.split("/", 1)[0]].append(item)
        if item.full_url:
            self.withdrawn_urls[item.full_url] = key
            if self.urls.get(item.full_url) == key:
                del self.urls[item.full_url]
        if self.index.get(key) is item:
            del self.index[key]

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

    def withdrawn_key(self, ref: Any) -> str | None:
        """"Type/id" of a rejected resource that `ref` points to (None: it points to none)."""
        if not isinstance(ref, str) or not ref or not self.withdrawn:
            return None
        if ref in self.withdrawn_urls:
            return self.withdrawn_urls[ref]
        m = _REF.search(ref)
        key = f"{m.group(1)}/{m.group(2)}" if m else None
        return key if key in self.withdrawn else None

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

    def subject(self, ref: Any, strict: bool, subjects: dict[str, str]) -> tuple[str | None, str]:
        """(USUBJID, "") of a record's subject (subject_of: a reference, or an identifier); (None, reason) when it
        cannot be placed; (the Patient's id, "derived") for a Patient that is not in the input, where references
        may point outside."""
        if isinstance(ref, tuple):
            return self._subject_by_identifier(ref[1], ref[2], subjects)
        key = self.resolve(ref)
        if key is not None and key in subjects:
            return subjects[key], ""
        if not ref:
            return None, "no subject: the record cannot be placed with a study subject"
        gone = self.withdrawn_key(ref)
        if gone is not None:
            return None, f"its subject {gone} was rejected ({self.withdrawn[gone]}): the record cannot be placed"
        if key is not None and key.startswith("Group/"):
            return None, "the subject is a Group, not one study subject"
        if key is not None and not key.startswith("Patient/"):
            return None, f"the subject {ref!r} is a {key.split('/')[0]}, not a Patient"
        if strict:
            return None, f"dangling reference: subject {ref!r} is not in the Bundle"
        pid = self.ref_id(ref, "Patient")
        if pid is None:
            return None, f"subject reference {ref!r} is not a Patient reference"
        found = self.enrolment.subject(pid)
        if found is None:
            return None, self.enrolment.missing(pid)
        self.derived_subjects[found["usubjid"]] = None
        return found["usubjid"], "derived"

    def _subject_by_identifier(self, system: Any, value: Any, subjects: dict[str, str]) -> tuple[str | None, str]:
        """The subject of a record whose subject is given as an identifier (no reference): the Patient of the
        input with that identifier (system and value; the value alone when no system is given)."""
        shown = shown_subject(("identifier", system, value))
        if not isinstance(value, str) or not value:
            return None, "no subject: subject.identifier has no value (and there is no subject.reference)"
        if self._patient_ids is None:
            self._patient_ids = self._identifiers_of_patients()
        key = self._patient_ids.get((system, value) if system else (None, value))
        if key is None:
            return None, (f"subject {shown} (given by identifier, without a reference) matches no identifier of a "
                          "Patient in the input: the record cannot be placed")
        if key == _AMBIGUOUS:
            return None, f"subject {shown} matches the identifiers of more than one Patient in the input"
        if key in subjects:
            return subjects[key], ""
        why = self.withdrawn.get(key, "not read")
        return None, f"its subject {key} (found by {shown}) was rejected ({why}): the record cannot be placed"

    def _identifiers_of_patients(self) -> dict[tuple[Any, Any], str]:
        """(system, value) and (None, value) of every Patient identifier -> "Patient/id" (_AMBIGUOUS when two
        Patients share it); rejected Patients too, so that a record can be told its Patient was rejected."""
        out: dict[tuple[Any, Any], str] = {}
        items = [*self.by_type.get("Patient", []), *self.withdrawn_items.get("Patient", [])]
        for loc in items:
            rid = loc.resource.get("id")
            key = f"Patient/{rid}" if isinstance(rid, str) else f"Patient/{loc.full_url}"
            idents = loc.resource.get("identifier")
            for ident in [idents] if isinstance(idents, dict) else idents if isinstance(idents, list) else ():
                if not isinstance(ident, dict) or not isinstance(ident.get("value"), str):
                    continue
                for k in {(ident.get("system"), ident["value"]), (None, ident["value"])}:
                    out[k] = key if out.get(k, key) == key else _AMBIGUOUS
        return out

    def visit(self, item: Located, form: str, fld: str, ref: Any, encounters: dict[str, dict[str, Any]]
              ) -> dict[str, Any]:
        """VISITNUM, VISIT, EPOCH of a record's encounter reference ({} when it has none). A reference that does
        not resolve (or to an Encounter that was rejected) leaves the record converted without a visit, listed as
        a note about the field, when it must resolve: inside a Bundle that holds what it references, or when the
        input has Encounters at all; otherwise counted in one note."""
        if ref is None:
            return {}
        key = self.resolve(ref)
        enc = encounters.get(key or "")
        if enc is not None:
            return enc
        gone = self.withdrawn_key(ref)
        if gone is not None:
            why = f"converted without a visit: encounter {gone} was rejected ({self.withdrawn[gone]})"
        elif not isinstance(ref, str):
            why = f"converted without a visit: encounter.reference is {json_kind(ref)}, not a string"
        elif strict_bundle(item) or encounters:
            why = f"converted without a visit: encounter reference {ref!r} does not resolve"
        else:
            self.unresolved_encounters += 1
            return {}
        self.note_field(item, form, fld, why, ref if isinstance(ref, str) else shown(ref), code="REJ-FHIR-007")
        return {}


def shown(value: Any, limit: int = 80) -> str:
    """A JSON value as compact JSON for the reject report's value column, cut at `limit` characters."""
    try:
        out = orjson.dumps(value).decode()
    except TypeError:  # pragma: no cover - what orjson read it can write
        out = repr(value)
    return out if len(out) <= limit else out[:limit - 3] + "..."


def shape_reject(r: ReadContext, item: Located, problem: ShapeProblem) -> None:
    """A record rejected because an element it needs is not of its FHIR JSON type (REJ-FHIR-009)."""
    r.reject(item, problem.rtype, problem.field, problem.reason(), shown(problem.value), code="REJ-FHIR-009")


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
        r.note_field(loc, form, element, f"converted without this date: {exc}", exc.value, code="REJ-FHIR-006")
        return ""


def _ucum_to_cdisc() -> dict[str, str]:
    out: dict[str, str] = {}
    for u in mappings.units().values():
        out.setdefault(u.ucum, u.cdisc)
    for d in mappings.exposure().get("dose_units", []):
        out.setdefault(d["ucum"], d["cdisc"])
    return out


def unitless_ucum(system: Any, code: Any) -> bool:
    """A UCUM code that states no unit: the unity "1", an annotation alone ("{INR}", "{SG}": UCUM section 2.4
    gives an annotation alone the value 1), or "[pH]" (the pH scale, a number without dimension)."""
    if system != terms.system("ucum") or not isinstance(code, str):
        return False
    return code in ("1", "[pH]") or (code.startswith("{") and code.endswith("}") and "}" not in code[1:-1])


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
                        _looked_up(df["USUBJID"], rfstdtc))
    carried = np.array([dy in o for o in over], dtype=bool) if over else np.zeros(len(df), bool)
    if dy in df.columns:
        current = pd.to_numeric(df[dy], errors="coerce").astype("Int64")
        df[dy] = current.where(carried, derived)
    else:
        df[dy] = derived
    return df


def _looked_up(keys: pd.Series, table: dict[str, str]) -> pd.Series:
    """table[key] per row ("" where the key is not there): one hash look-up per row, not a Python call."""
    found = keys.map(table).astype(object)
    return found.where(found.notna(), "")


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
        rank = {v.name: i for i, v in enumerate(meta.variables)}  # whatever order the records met them in
        cols.sort(key=lambda c: (rank.get(c, len(rank)), c if c not in rank else ""))
    spec = {"variables": cols, "numeric": []}
    return columns(name, df.reindex(columns=[c for c in cols if c in df.columns]), spec)
