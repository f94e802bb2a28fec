"""Who a hospital's Patient is in the study: USUBJID, SUBJID, site and arm, never the hospital's own identifier.

from-fhir reads a hospital's Patients, whose ids (and identifiers: MRN, ...) are the hospital's. A sponsor dataset
must not carry them. In order of preference:
  --subjects FILE  an enrolment table (CSV, UTF-8, header row): patient_id (the Patient's id, or the value of
                   any of its identifiers), subjid (required), and optionally usubjid (default
                   STUDYID-SITEID-SUBJID, or STUDYID-SUBJID without a site), siteid, armcd, actarmcd. A Patient
                   that is not in the table is rejected with the records that refer to it (REJ-FHIR-003).
  a keyed pseudonym  HMAC-SHA256 of the Patient's id with a secret key (--pseudonym-key-file FILE, else the
                   environment variable MSC_PSEUDONYM_KEY): SUBJID = the first 16 hex digits (upper case),
                   USUBJID = STUDYID-SUBJID. Same key, same pseudonym; without the key nobody can go back. The
                   key is never printed, logged or written.
  neither          the Patient's id is used (as before), with a warning saying so.
A Patient posted without an id (a transaction's entry, known by its Bundle-local urn:uuid only) is found by its
identifiers instead: in the table, else pseudonymised, by one that is no national identifier (SSN, NHS number,
BSN, NNxxx, ...: mappings/fhir_identity.yaml national_identifiers, never used), the medical record number (MR)
first, then by system and value (not by the export's order); with neither it is refused, since its
identifiers are all the hospital's (`by_identifier`, `unplaced`).
With the study definition (--study), DM gets STUDYID, SITEID (the table's, else the study's only site), COUNTRY
(the site's) and ARM/ACTARM (the arm of ARMCD/ACTARMCD in the definition).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from msc_interop import mappings
from msc_interop.cli_fhir import KEY_ENV
from msc_interop.errors import InputError
from msc_interop.fhir import terms
from msc_interop.fhir.common import text
from msc_interop.fhir.systems import read_system
from msc_interop.study import StudyMeta

BY_IDENTIFIER = "Patient by identifier of "  # + the system: tallies of Patients without an id placed by one
_COLUMNS = ("patient_id", "subjid", "usubjid", "siteid", "armcd", "actarmcd")


@dataclass
class Enrolment:
    """How hospital Patient ids become study subjects (see the module's docstring)."""

    studyid: str = ""
    table: dict[str, dict[str, str]] | None = None  # hospital id -> row (usubjid filled in)
    source: str = ""  # the table's file name, or how the pseudonym key was given
    key: bytes | None = field(default=None, repr=False)  # never shown
    by_usubjid: dict[str, dict[str, str]] = field(default_factory=dict)
    hospital_ids: set[str] = field(default_factory=set, repr=False)  # Patient ids used as USUBJID (no table, no key)

    @property
    def kind(self) -> str:
        return "table" if self.table is not None else "pseudonym" if self.key is not None else "hospital id"

    def subject(self, pid: str, identifiers: list[str] | None = None) -> dict[str, str] | None:
        """USUBJID, SUBJID (and SITEID, ARMCD, ACTARMCD from a table) of the Patient with id `pid` (and these
        identifier values); None when a table is given and does not list it."""
        if self.table is not None:
            for hid in (pid, *(identifiers or ())):
                if hid in self.table:
                    return self.table[hid]
            return None
        if self.key is not None:
            subjid = hmac.new(self.key, pid.encode("utf-8"), hashlib.sha256).hexdigest()[:16].upper()
            row = {"usubjid": f"{self.studyid}-{subjid}" if self.studyid else subjid, "subjid": subjid}
        else:
            self.hospital_ids.add(pid)
            row = {"usubjid": pid, "subjid": pid}
        self.by_usubjid.setdefault(row["usubjid"], row)
        return row

    def by_identifier(self, idents: list[PatientIdentifier]) -> tuple[dict[str, str] | None, PatientIdentifier | None]:
        """The subject of a Patient without an id, and the identifier that found it: the table's row of one of its
        hospital identifiers, else the pseudonym of the first; (None, None) without either or with none usable."""
        usable = sorted((i for i in idents if i.usable), key=lambda i: (not i.preferred, i.system, i.value))
        if self.table is not None:
            return next(((self.table[i.value], i) for i in usable if i.value in self.table), (None, None))
        if self.key is not None and usable:
            return self.subject(usable[0].value), usable[0]
        return None, None

    def unplaced(self, idents: list[PatientIdentifier]) -> str:
        """Why a Patient without an id has no subject: the identifier systems it has, and what to give."""
        seen = "; ".join(sorted({i.described for i in idents})) or "none"
        usable = [i for i in idents if i.usable]
        if self.table is not None and usable:
            return (f"the Patient has no id and none of its hospital identifiers ({seen}) is a patient_id of the "
                    f"enrolment table {self.source}: not a study subject, so neither it nor its records are "
                    "converted")
        give = ("give an enrolment table (--subjects FILE, patient_id = the value of its identifier) or a pseudonym "
                f"key (--pseudonym-key-file FILE or {KEY_ENV})") if usable else (
                "give it a hospital identifier (MRN, ...) with its system and an enrolment table (--subjects FILE) "
                "or a pseudonym key")
        return (f"the Patient has no id (a POSTed entry known by its Bundle-local fullUrl only) and no study subject "
                f"identifier (system {terms.id_system('usubjid')}, on it or on a ResearchSubject pointing to it); its "
                f"identifier systems: {seen}; a hospital's identifier never becomes USUBJID, a national one is never "
                f"used: {give}, or send the study subject identifier")

    def missing(self, pid: str) -> str:
        """Why a Patient has no subject (a table that does not list it)."""
        return (f"Patient {pid!r} is not in the enrolment table {self.source} (patient_id): not a study subject, "
                "so neither it nor its records are converted")

    def notes(self) -> list[str]:
        """What the notes say about the subject identifiers used."""
        if self.kind == "table":
            return [f"USUBJID/SUBJID from the enrolment table {self.source}"]
        if self.kind == "pseudonym":
            return [f"USUBJID/SUBJID are keyed pseudonyms (HMAC-SHA256 of the Patient id, key from {self.source})"]
        return []

    def warning(self, usubjids: set[str]) -> str | None:
        """The warning when hospital Patient ids became USUBJIDs (of `usubjids`, the DM records written)."""
        used = self.hospital_ids & usubjids
        if self.kind == "hospital id" and used:
            return (f"USUBJID/SUBJID of {len(used)} subject(s) are the hospital's Patient ids: give an "
                    f"enrolment table (--subjects FILE) or a pseudonym key (--pseudonym-key-file FILE or "
                    f"{KEY_ENV}) so that no hospital identifier reaches the SDTM datasets")
        return None

    def fill_dm(self, dm: pd.DataFrame, meta: StudyMeta | None) -> pd.DataFrame:
        """SUBJID, SITEID, COUNTRY, ARMCD/ARM, ACTARMCD/ACTARM of the DM records of enrolled subjects (empty ones
        only), from the table and the study definition."""
        if not len(dm) or "USUBJID" not in dm.columns:
            return dm
        sites = {s["siteid"]: s for s in (meta.sites if meta else [])}
        only_site = next(iter(sites)) if len(sites) == 1 else ""
        arms = {a["armcd"]: a["arm"] for a in (meta.arms if meta else [])}
        dm = dm.copy()
        for var in ("SUBJID", "SITEID", "COUNTRY", "ARMCD", "ARM", "ACTARMCD", "ACTARM"):
            if var not in dm.columns:
                dm[var] = ""
        for i, u in enumerate(dm["USUBJID"].tolist()):
            row = self.by_usubjid.get(u, {})
            values = {"SUBJID": row.get("subjid", ""), "SITEID": row.get("siteid") or only_site,
                      "ARMCD": row.get("armcd", ""), "ACTARMCD": row.get("actarmcd", "")}
            values["COUNTRY"] = sites.get(values["SITEID"], {}).get("country", "")
            values["ARM"] = arms.get(values["ARMCD"], "")
            values["ACTARM"] = arms.get(values["ACTARMCD"], "")
            for var, value in values.items():
                if value and not text(dm.at[dm.index[i], var]):
                    dm.at[dm.index[i], var] = value
        return dm


def load_enrolment(studyid: str, subjects: str | Path | None = None, key_file: str | Path | None = None,
                   environ: dict[str, str] | None = None) -> Enrolment:
    """The Enrolment of a read: the table when given, else the pseudonym key (file, else environment), else none."""
    env = os.environ if environ is None else environ
    if subjects is not None:
        table, by_usubjid = _read_table(Path(subjects), studyid)
        return Enrolment(studyid, table, Path(subjects).name, by_usubjid=by_usubjid)
    if key_file is not None:
        path = Path(key_file)
        try:
            key = path.read_bytes().strip()
        except OSError as exc:
            raise InputError(f"{path}: the pseudonym key file cannot be read ({exc.strerror})") from exc
        if len(key) < 16:
            raise InputError(f"{path}: the pseudonym key is shorter than 16 bytes: use a long random secret")
        return Enrolment(studyid, None, f"the file {path.name}", key)
    if env.get(KEY_ENV):
        key = env[KEY_ENV].encode("utf-8")
        if len(key) < 16:
            raise InputError(f"{KEY_ENV}: the pseudonym key is shorter than 16 bytes: use a long random secret")
        return Enrolment(studyid, None, f"the environment variable {KEY_ENV}", key)
    return Enrolment(studyid)


def _read_table(path: Path, studyid: str) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """hospital id -> row, and usubjid -> row, of an enrolment CSV; InputError naming the line and column."""
    try:
        data = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InputError(f"{path}: the enrolment table cannot be read ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: the enrolment table is not UTF-8 text (byte {exc.start})") from exc
    reader = csv.DictReader(io.StringIO(data))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    for needed in ("patient_id", "subjid"):
        if needed not in header:
            raise InputError(f"{path}: the enrolment table has no column {needed!r} (columns: patient_id, subjid, "
                             "and optionally usubjid, siteid, armcd, actarmcd)")
    unknown = [h for h in header if h not in _COLUMNS]
    if unknown:
        raise InputError(f"{path}: unknown column(s) {', '.join(unknown)} (known: {', '.join(_COLUMNS)})")
    table: dict[str, dict[str, str]] = {}
    by_usubjid: dict[str, dict[str, str]] = {}
    for line, raw in enumerate(reader, start=2):
        row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k is not None}
        for needed in ("patient_id", "subjid"):
            if not row.get(needed):
                raise InputError(f"{path} line {line}: {needed} is empty")
        if not row.get("usubjid"):
            parts = [p for p in (studyid, row.get("siteid", ""), row["subjid"]) if p]
            row["usubjid"] = "-".join(parts)
        if row["patient_id"] in table:
            raise InputError(f"{path} line {line}: patient_id {row['patient_id']!r} is listed twice")
        if row["usubjid"] in by_usubjid:
            raise InputError(f"{path} line {line}: USUBJID {row['usubjid']!r} is given to two patients")
        table[row["patient_id"]] = by_usubjid[row["usubjid"]] = row
    return table, by_usubjid


@dataclass(frozen=True)
class PatientIdentifier:
    """One of a Patient's identifiers: its system ("" without one), value, and whether it is a national one."""

    system: str
    value: str
    national: bool
    preferred: bool = False  # typed a medical record number (v2-0203 MR): the first to stand for the Patient

    @property
    def usable(self) -> bool:
        """May stand for a Patient without an id: a hospital's (it has a system, and is no national identifier)."""
        return bool(self.system) and not self.national

    @property
    def described(self) -> str:
        return (self.system or "(no system: cannot be told from a national identifier)") + (
            " (a national identifier: never used)" if self.national else "")


def identifiers_of(res: dict[str, Any], seen: Counter[str]) -> list[PatientIdentifier]:
    """A Patient's identifiers with a value, in order, each marked national by its system or its type (v2-0203).
    The type is a Coding: its system as fhir/systems.py read_system reads it (STU3's http://hl7.org/fhir/v2/0203
    is v2-0203, tallied in `seen`); Identifier.system is no code system and is compared as given."""
    idents = res.get("identifier")
    if isinstance(idents, dict):
        idents = [idents]
    conf = mappings.fhir_identity()["national_identifiers"]
    national_systems, type_codes = set(conf["systems"]), set(conf["type_codes"])
    type_system = conf["type_system"]  # (table 0203's THO URI; read_system reads its STU3 URI as it)
    prefixes, preferred_codes = tuple(conf.get("type_code_prefixes", ())), set(conf.get("preferred_type_codes", ()))
    out = []
    for i in idents if isinstance(idents, list) else ():
        if not isinstance(i, dict) or not isinstance(i.get("value"), str) or not i["value"]:
            continue
        system = i.get("system") if isinstance(i.get("system"), str) else ""
        codings = (i.get("type") or {}).get("coding") if isinstance(i.get("type"), dict) else None
        types = {c.get("code") for c in codings if isinstance(c, dict) and isinstance(c.get("code"), str)
                 and read_system(c.get("system"), seen) == type_system} if isinstance(codings, list) else set()
        typed = bool(types & type_codes) or any(t.startswith(prefixes) for t in types)  # (NNCHN, NNDNK ...)
        out.append(PatientIdentifier(system, i["value"], system in national_systems or typed,
                                     bool(types & preferred_codes)))
    return out


def patient_identifiers(res: dict[str, Any]) -> list[str]:
    """The values of a Patient's identifiers (to find it in an enrolment table by MRN, ...)."""
    idents = res.get("identifier")
    return [i["value"] for i in idents if isinstance(i, dict) and isinstance(i.get("value"), str)] \
        if isinstance(idents, list) else []
