"""Observation (category laboratory) -> LB: one flat record per Observation while the files are read
(Flattener), then the LB rows from them (read_observations).

Observations written by msc-interop decode exactly (their CDISC coding or sdtm-seq identifier say so); those
written by others are placed through the mapping data (foreign.foreign_lab): the NCI Thesaurus code or LOINC
(lab_tests.yaml), units through UCUM (units.yaml), converted to the standard unit.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np
import orjson
import pandas as pd

from msc_interop.fhir import terms
from msc_interop.fhir.common import float_text, group_codes, number_back, parse_number, read_carried, text
from msc_interop.fhir.datetimes import FhirDateError
from msc_interop.fhir.io import Located
from msc_interop.fhir.read_common import (
    ReadContext,
    apply_overrides,
    dtc,
    json_kind,
    not_an_object,
    seq_where_missing,
    shown,
    study_days,
)
from msc_interop.fhir.resources.lab.foreign import ForeignLookups, foreign_lab
from msc_interop.fhir.resources.supp import read_supplemental

# --- standard results, derived from the original ones -----------------------------------------------------

def distinct(df: pd.DataFrame, cols: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """Group codes per row and the distinct value combinations (in order of first appearance)."""
    codes, first = group_codes(*(df[c] for c in cols))
    return codes, df[cols].iloc[first].reset_index(drop=True)


def derive_standard(orres: pd.Series, orresu: pd.Series, ornrlo: pd.Series, ornrhi: pd.Series) -> pd.DataFrame:
    """LBSTRESC/N/U and LBSTNRLO/HI as the reader derives them from the original result (same units); the
    writer carries them only where the record differs from this."""
    def one(u: pd.DataFrame) -> pd.DataFrame:
        rows = []
        for o, lo, hi in zip(u["o"], u["lo"], u["hi"], strict=True):
            o, lo, hi = text(o), text(lo), text(hi)
            n = parse_number(o)
            stresn = float(n) if n is not None else np.nan
            rows.append((float_text(stresn) if n is not None else o, stresn,
                         _num_or_nan(lo), _num_or_nan(hi)))
        return pd.DataFrame(rows, columns=["LBSTRESC", "LBSTRESN", "LBSTNRLO", "LBSTNRHI"])

    frame = pd.DataFrame({"o": orres.astype(object).to_numpy(), "lo": ornrlo.astype(object).to_numpy(),
                          "hi": ornrhi.astype(object).to_numpy()})
    codes, uniques = distinct(frame, ["o", "lo", "hi"])
    answer = one(uniques).iloc[codes].reset_index(drop=True)
    answer["LBSTRESU"] = orresu.astype(object).map(text).to_numpy()
    answer.index = orres.index
    return answer


def _num_or_nan(t: str) -> float:
    n = parse_number(t)
    return float(n) if n is not None else np.nan


# --- reading: one flat record per Observation --------------------------------------------------------------

FLAT_COLUMNS = (
    # per row
    "strict", "status", "subject", "encounter", "seq",
    # from category, code, performer, interpretation, the contained specimen and referenceRange (worked out once
    # per distinct combination); *_text: text() of the code's codes, range_text() of the limits
    "lab_category", "categories", "cdisc_code", "ncit_code", "loinc_codes", "code_text", "other_codes",
    "cdisc_code_text", "cdisc_display_text", "loinc_code_text", "performer", "interpretation_text",
    "interpretation_codes", "specimen_text", "rr_low", "rr_high", "rr_low_text", "rr_high_text",
    # value[x] (valueQuantity once per distinct value); for a valueQuantity, result_text() and text() of the unit
    "vkind", "qvalue", "qorig", "qcomp", "qunit", "qsystem", "qcode", "vtext", "qresult_text", "qunit_text",
    # per row; effective_el: the element `effective` came from; problem: None, or (element, reason, value, reject
    # code, whether the record is rejected) for an element without its FHIR shape (the first one found)
    "effective", "effective_orig", "absent", "carried", "supp", "effective_el", "problem",
)


def _codings(cc: Any) -> list[dict[str, Any]]:
    if not isinstance(cc, dict):
        return []
    return [c for c in cc.get("coding") or () if isinstance(c, dict)]


# Distinct element values remembered per read at most (a bound on memory when elements differ per row).
MEMO_LIMIT = 100_000


class Flattener:
    """One flat record (FLAT_COLUMNS) per Observation of a read: the fields reading needs.

    Why: a big file repeats the same few hundred codes, ranges, categories and interpretations. Each element's
    fields are parsed once per distinct value (keyed by its orjson bytes, equal for equal JSON) and the parsed
    fields are shared between rows (read only). Mapping URLs are looked up once.
    """

    def __init__(self) -> None:
        self.read_supplemental = read_supplemental
        self.sys_cd, self.sys_loinc = terms.system("cdisc_lbtestcd"), terms.system("loinc")
        self.sys_ncit, self.sys_interp = terms.system("ncit"), terms.system("interpretation")
        lab = terms.fixed("lab_category")
        self.sys_category, self.code_lab = terms.system(lab["system"]), lab["code"]
        self.seq_system = terms.id_system("seq")
        self.url_dtc = terms.ext_url("sdtm_dtc")
        self.url_orig = terms.ext_url("sdtm_original_text")
        self.url_supp = terms.ext_url("sdtm_supplemental")
        self.memo_static: dict[bytes, Any] = {}
        self.memo_quantity: dict[bytes, Any] = {}
        self.memo_carried: dict[bytes, Any] = {}

    @staticmethod
    def _memo(memo: dict[bytes, Any], value: Any, parse: Any) -> Any:
        """parse(value), remembered in `memo` per distinct JSON value of the element."""
        try:
            key = orjson.dumps(value)
        except orjson.JSONEncodeError:  # pragma: no cover - what orjson read it can write
            return parse(value)
        found = memo.get(key)
        if found is None:
            found = parse(value)
            if len(memo) < MEMO_LIMIT:
                memo[key] = found
        return found

    def flatten(self, res: dict[str, Any], in_bundle: bool) -> tuple:
        """The fields of an Observation that reading needs (the columns FLAT_COLUMNS), references left
        unresolved."""
        seq = None
        for ident in res.get("identifier") or ():
            if isinstance(ident, dict) and ident.get("system") == self.seq_system:
                seq = ident.get("value")
        contained = None
        sp = res.get("specimen")
        if isinstance(sp, dict) and sp.get("reference"):
            ref = sp["reference"]
            if ref.startswith("#"):
                contained = (ref, res.get("contained"))
        static = self._memo(self.memo_static, (res.get("category"), res.get("code") or {}, res.get("performer"),
                                               res.get("interpretation"), contained, res.get("referenceRange")),
                            self._static)
        # subject and encounter: a Reference object (its shape checked before its reference is read)
        problem = None
        subject = res.get("subject")
        if type(subject) is dict:
            subject = subject.get("reference")
        elif subject is not None:
            problem = ("Observation.subject", not_an_object("Observation", "subject", subject, True), shown(subject),
                       "REJ-FHIR-003", True)
            subject = None
        encounter = res.get("encounter")
        if type(encounter) is dict:
            encounter = encounter.get("reference")
        elif encounter is not None:
            if problem is None:  # the record is converted, without a visit
                problem = ("Observation.encounter", "converted without a visit: Observation.encounter is "
                           f"{json_kind(encounter)}, not a Reference object", shown(encounter), "REJ-FHIR-007", False)
            encounter = None
        if "valueQuantity" in res:
            value, value_problem = self._memo(self.memo_quantity, res["valueQuantity"], self._quantity)
            if value_problem is not None and (problem is None or not problem[4]):
                problem = value_problem
        else:
            vkind, vtext = self._other_value(res)
            value = (vkind, None, None, None, None, None, None, vtext, None, None)
        effective = res.get("effectiveDateTime")
        effective_el = "effectiveDateTime"
        effective_orig = self._kept(res.get("_effectiveDateTime"), self.url_dtc)
        if effective is None and isinstance(res.get("effectivePeriod"), dict):
            effective, effective_el = res["effectivePeriod"].get("start"), "effectivePeriod.start"
        if effective is None and res.get("effectiveInstant"):
            effective, effective_el = res["effectiveInstant"], "effectiveInstant"
        absent = None
        dar = res.get("dataAbsentReason")
        if isinstance(dar, dict):
            absent = dar.get("text") or next((c.get("display") or c.get("code") for c in _codings(dar)), "unknown")
        carried, has_supp = self._memo(self.memo_carried, res.get("extension"), self._carried)
        return (in_bundle, res.get("status"), subject, encounter, seq, *static, *value, effective, effective_orig,
                absent, carried, self.read_supplemental(res) if has_supp else [], effective_el, problem)

    def _static(self, elements: tuple) -> tuple:
        """The FLAT_COLUMNS fields from lab_category to rr_high_text."""
        category, code, performer, interpretation, contained, reference_range = elements
        cdisc_code, cdisc_display, ncit_code, loinc_code, loinc_codes, code_text, other = self._code(code)
        return (*self._category(category), cdisc_code, ncit_code, loinc_codes, code_text, other, text(cdisc_code),
                text(cdisc_display), text(loinc_code), _performers(performer), *self._interpretation(interpretation),
                _contained_specimen(contained) if contained is not None else None, *self._range(reference_range))

    @staticmethod
    def _kept(element: Any, url: str) -> str | None:
        """`primitive_original` with the extension URL given: the kept SDTM text on a `_name` element."""
        if not element:
            return None
        for e in element.get("extension") or ():
            if isinstance(e, dict) and e.get("url") == url:
                return e.get("valueString")
        return None

    def _category(self, category: Any) -> tuple[bool | None, list[Any]]:
        lab_category = None
        categories = []
        lab_sys, lab_code = self.sys_category, self.code_lab
        for cc in category or ():
            cods = _codings(cc)
            if any(c.get("system") == lab_sys for c in cods):
                if any(c.get("system") == lab_sys and c.get("code") == lab_code for c in cods):
                    lab_category = True
                elif lab_category is None:
                    lab_category = False
            elif isinstance(cc, dict) and cc.get("text"):
                categories.append(cc["text"])
        return lab_category, categories

    def _code(self, code: Any) -> tuple:
        cdisc_code = cdisc_display = ncit_code = loinc_code = None
        loinc_codes = []
        other = []
        for c in _codings(code):
            s = c.get("system")
            if s == self.sys_cd and cdisc_code is None:
                cdisc_code, cdisc_display = c.get("code"), c.get("display")
            elif s == self.sys_ncit and ncit_code is None:
                ncit_code = c.get("code")
            elif s == self.sys_loinc:
                loinc_codes.append(c.get("code"))
                loinc_code = loinc_code or c.get("code")
            else:
                other.append(f"{s}|{c.get('code')}")
        code_text = code.get("text") if isinstance(code, dict) else None
        return cdisc_code, cdisc_display, ncit_code, loinc_code, loinc_codes, code_text, other

    def _quantity(self, q: Any) -> tuple[tuple, tuple | None]:
        """(the value[x] fields, problem) of a valueQuantity: problem (as FLAT_COLUMNS) when it is not a Quantity
        object or its value is not a number."""
        q = q or {}
        if type(q) is not dict:
            return _NO_VALUE, ("Observation.valueQuantity", not_an_object("Observation", "valueQuantity", q), shown(q),
                               "REJ-FHIR-006", True)
        value, comparator, unit = q.get("value"), q.get("comparator"), q.get("unit")
        if value is not None and (type(value) is bool or not isinstance(value, int | float)):
            return _NO_VALUE, ("Observation.valueQuantity.value", f"valueQuantity.value is {json_kind(value)}, not "
                               "a number: the result cannot be read", shown(value), "REJ-FHIR-006", True)
        original = self._kept(q.get("_value"), self.url_orig) if q else None
        return ("q", value, original, comparator, unit, q.get("system"), q.get("code"), None,
                _result_text_or_none(value, original, comparator), text(unit)), None

    @staticmethod
    def _other_value(res: dict[str, Any]) -> tuple[str | None, Any]:
        """(vkind, vtext) for an Observation without valueQuantity."""
        if "valueCodeableConcept" in res:
            cc = res["valueCodeableConcept"] or {}
            return "cc", cc.get("text") or next((c.get("display") or c.get("code") for c in _codings(cc)), None)
        if "valueString" in res:
            return "s", res["valueString"]
        if any(k.startswith("value") for k in res):
            return "other:" + next(k for k in res if k.startswith("value")), None
        return None, None

    def _interpretation(self, interpretation: Any) -> tuple[Any, list[Any]]:
        it = (interpretation or [None])[0]
        text_ = it.get("text") if isinstance(it, dict) else None
        return text_, [c.get("code") for c in _codings(it) if c.get("system") == self.sys_interp]

    def _range(self, reference_range: Any) -> tuple:
        rr = (reference_range or [None])[0] or {}
        low, high = rr.get("low") or {}, rr.get("high") or {}
        low_value, high_value = low.get("value"), high.get("value")
        low_orig = self._kept(low.get("_value"), self.url_orig) if low else None
        high_orig = self._kept(high.get("_value"), self.url_orig) if high else None
        return low_value, high_value, range_text(low_value, low_orig), range_text(high_value, high_orig)

    def _carried(self, extension: Any) -> tuple[dict[str, Any], bool]:
        """The carried SDTM variables (read_carried) and whether there are SUPP-- records (read_supplemental)."""
        carried = read_carried({"extension": extension}, None)
        return carried, any(isinstance(e, dict) and e.get("url") == self.url_supp for e in extension or ())


_NO_VALUE = (None,) * 10  # the value[x] fields of an Observation whose value cannot be read


def _result_text_or_none(value: Any, original: Any, comparator: Any) -> str | None:
    """result_text() of a valueQuantity; None when it fails (malformed: the reader's own call then fails where
    the record is decoded, as before)."""
    try:
        return result_text("q", value, original, comparator, None)
    except Exception:
        return None


def _performers(performer: Any) -> list[tuple[Any, Any]]:
    return [(p.get("reference"), p.get("display")) for p in performer or () if isinstance(p, dict)]


def _contained_specimen(ref_contained: tuple[str, Any]) -> Any:
    """The type text of the contained Specimen `ref` points to."""
    ref, contained = ref_contained
    specimen_text = None
    for c in contained or ():
        if isinstance(c, dict) and c.get("id") == ref[1:] and c.get("resourceType") == "Specimen":
            typ = c.get("type") or {}
            specimen_text = typ.get("text") or next((x.get("display") for x in _codings(typ)), None)
    return specimen_text


def result_text(vkind: Any, qvalue: Any, qorig: Any, qcomp: Any, vtext: Any) -> str:
    """LBORRES of an Observation: the kept SDTM text, else comparator + number, else the coded/string text."""
    if qorig is not None:
        return str(qorig)
    if vkind == "q":
        if qvalue is None:
            return ""
        return (qcomp or "") + number_back(qvalue)
    if vkind in ("cc", "s"):
        return text(vtext)
    return ""


def range_text(value: Any, orig: Any) -> str:
    """LBORNRLO/HI of a referenceRange limit: the kept SDTM text, else the number as text."""
    if orig is not None:
        return str(orig)
    return "" if value is None else number_back(value)


# --- the LB rows ---------------------------------------------------------------------------------------------

def read_observations(r: ReadContext, subjects: dict[str, str], encounters: dict[str, dict[str, Any]],
                      orgs: dict[str, str], rfstdtc: dict[str, str], studyid: str) -> pd.DataFrame | None:
    """LB from the flat records the Flattener made while the files were read; None when there were no
    Observations. msc-interop's own records decode exactly, others through the mapping data (foreign.foreign_lab)."""
    if not r.flat_obs:
        return None
    flat_obs, r.flat_obs = r.flat_obs, []
    r.obs_supp = [rec for t in flat_obs for rec in t[_FLAT_SUPP]]
    tz = r.tz
    patients = {k: v for k, v in subjects.items()}
    # subjects, per distinct reference
    subj_of: dict[Any, tuple[str | None, str]] = {}
    for ref, strict in {(t[_FLAT_SUBJECT] if isinstance(t[_FLAT_SUBJECT], str) else None, t[_FLAT_STRICT])
                        for t in flat_obs}:
        subj_of[(ref, strict)] = r.subject(ref, strict, patients)
    rows_out: list[tuple | dict[str, Any]] = []  # tuples (_OWN_LB_COLUMNS) for msc-interop's own records
    over: list[dict[str, Any]] = []
    own_rows: list[int] = []
    foreign = ForeignLookups()
    imap = terms.code_map("nrind_to_interpretation")
    derived_subject = 0
    memo = _LbMemo(r, encounters, orgs, tz)
    for rec in map(_FlatRecord._make, flat_obs):
        loc: Located = rec.loc
        if rec.problem is not None:  # an element without its FHIR shape
            fld, reason, value, code, rejected = rec.problem
            if rejected:
                r.reject(loc, "Observation", fld, reason, value, code=code)
                continue
            r.report.add("Observation", loc.file, loc.position, fld, value, reason, code=code)
        usubjid, problem = subj_of[(rec.subject if isinstance(rec.subject, str) else None, rec.strict)]
        if usubjid is None:
            r.reject(loc, "Observation", "Observation.subject", problem, rec.subject, code="REJ-FHIR-003")
            continue
        if problem == "derived":
            derived_subject += 1
        if rec.status in ("entered-in-error", "cancelled"):
            r.reject(loc, "Observation", "Observation.status", f"status {rec.status}: not a result", rec.status,
                     code="REJ-FHIR-004")
            continue
        if rec.effective_orig is not None:
            lbdtc = rec.effective_orig
        else:
            lbdtc = memo.dtc(rec.effective)
            if lbdtc is None:  # an impossible date
                r.reject(loc, "Observation", f"Observation.{rec.effective_el}", memo.dtc_reason(rec.effective),
                         rec.effective, code="REJ-FHIR-006")
                continue
        enc = memo.encounter(rec.encounter)
        if rec.encounter and not enc and rec.strict:
            r.report.add("Observation", loc.file, loc.position, "Observation.encounter", rec.encounter,
                         f"converted without a visit: encounter reference {rec.encounter!r} does not resolve",
                         code="REJ-FHIR-007")
        nrind = text(rec.interpretation_text)
        if not nrind and rec.interpretation_codes:
            nrind = imap.cdisc(rec.interpretation_codes[0]) or ""
        if rec.cdisc_code is not None or rec.seq is not None:  # written by msc-interop: exact decoding
            seq = text(rec.seq).rsplit("/", 1)[-1] if rec.seq is not None else ""
            quantity = rec.vkind == "q"
            own_rows.append(len(rows_out))
            rows_out.append((
                studyid, "LB", usubjid, enc.get("VISITNUM"), enc.get("VISIT", ""), enc.get("EPOCH", ""),
                memo.lab_name(rec.performer), lbdtc, nrind, int(seq) if seq.lstrip("-").isdigit() else None,
                rec.cdisc_code_text, rec.cdisc_display_text, rec.categories[0] if rec.categories else "",
                rec.qresult_text if quantity and rec.qresult_text is not None else
                result_text(rec.vkind, rec.qvalue, rec.qorig, rec.qcomp, rec.vtext),
                rec.qunit_text if quantity else "", rec.rr_low_text, rec.rr_high_text, rec.loinc_code_text,
                text(rec.specimen_text)))
        else:
            row: dict[str, Any] = {"STUDYID": studyid, "DOMAIN": "LB", "USUBJID": usubjid,
                                   "VISITNUM": enc.get("VISITNUM"), "VISIT": enc.get("VISIT", ""),
                                   "EPOCH": enc.get("EPOCH", ""), "LBNAM": memo.lab_name(rec.performer),
                                   "LBDTC": lbdtc, "LBNRIND": nrind}
            problem = foreign_lab(rec, row, foreign.loinc_idx, foreign.by_nci)
            if problem:
                r.reject(loc, "Observation", problem[0], problem[1], problem[2], code=problem[3])
                continue
            rows_out.append(row)
        over.append(rec.carried or {})
    r.converted["Observation"] += len(rows_out)
    if derived_subject:
        r.report.notes.append(f"{derived_subject} Observation(s) name their subject by a reference to a Patient "
                              "that is not in the input: USUBJID is that Patient's id")
    if not rows_out:
        return pd.DataFrame(columns=["STUDYID", "DOMAIN", "USUBJID", "LBSEQ", "LBTESTCD", "LBTEST"])
    df = _lb_frame(rows_out)
    df = apply_overrides(df, over)
    own = np.zeros(len(df), dtype=bool)
    own[own_rows] = True
    # derived standard results (msc-interop's own records; others were converted above)
    if own.any():
        std = derive_standard(df["LBORRES"], df["LBORRESU"], df["LBORNRLO"], df["LBORNRHI"])
        for c in ("LBSTRESC", "LBSTRESN", "LBSTRESU", "LBSTNRLO", "LBSTNRHI"):
            if c not in df.columns:
                df[c] = pd.Series([np.nan if c in ("LBSTRESN", "LBSTNRLO", "LBSTNRHI") else ""] * len(df),
                                  dtype=object)
            carried = np.array([c in o for o in over], dtype=bool)
            take = own & ~carried
            df.loc[take, c] = std.loc[take, c]
    df = study_days(df, "LBDTC", "LBDY", over, rfstdtc)
    return seq_where_missing(df, "LB")


_OWN_LB_COLUMNS = ["STUDYID", "DOMAIN", "USUBJID", "VISITNUM", "VISIT", "EPOCH", "LBNAM", "LBDTC", "LBNRIND",
                   "LBSEQ", "LBTESTCD", "LBTEST", "LBCAT", "LBORRES", "LBORRESU", "LBORNRLO", "LBORNRHI",
                   "LBLOINC", "LBSPEC"]


def _lb_frame(rows: list[tuple | dict[str, Any]]) -> pd.DataFrame:
    """The LB rows as a DataFrame, as pandas makes it from the rows as dicts.

    Why tuples: when every row is msc-interop's own (the same keys in the same order), pandas builds the same
    frame from tuples (both go through one object array per column) without a dict per row.
    """
    if all(type(row) is tuple for row in rows):
        return pd.DataFrame(rows, columns=_OWN_LB_COLUMNS)
    return pd.DataFrame([dict(zip(_OWN_LB_COLUMNS, row, strict=True)) if type(row) is tuple else row
                         for row in rows])


_FlatRecord = namedtuple("_FlatRecord", [*FLAT_COLUMNS, "loc"])  # type: ignore[misc]
_FLAT_SUBJECT, _FLAT_STRICT, _FLAT_SUPP = (FLAT_COLUMNS.index(c) for c in ("subject", "strict", "supp"))


_UNSEEN = object()


class _LbMemo:
    """Per distinct value, what an LB row takes from references and dates: a big file repeats a few thousand
    encounters, performers and dates over a million Observations."""

    def __init__(self, r: ReadContext, encounters: dict[str, dict[str, Any]], orgs: dict[str, str], tz: str | None):
        self.r, self.encounters, self.orgs, self.tz = r, encounters, orgs, tz
        self.encounter_of: dict[str, dict[str, Any]] = {}
        self.name_of: dict[tuple, str] = {}
        self.dtc_of: dict[str, str | None] = {}
        self.dtc_problem: dict[Any, str] = {}  # why a date has no --DTC (dtc() gave None)

    def encounter(self, ref: Any) -> dict[str, Any]:
        if not isinstance(ref, str):
            return self.encounters.get(self.r.resolve(ref) or "", {})
        found = self.encounter_of.get(ref)
        if found is None:
            found = self.encounter_of[ref] = self.encounters.get(self.r.resolve(ref) or "", {})
        return found

    def lab_name(self, performers: list[tuple[Any, Any]]) -> str:
        try:
            key = tuple(performers)
            found = self.name_of.get(key)
        except TypeError:  # a reference or display that is not a string (malformed input): not remembered
            return _lab_name(self.r, performers, self.orgs)
        if found is None:
            found = self.name_of[key] = _lab_name(self.r, performers, self.orgs)
        return found

    def dtc(self, value: Any) -> str | None:
        """--DTC of a FHIR date; None when it is impossible (the reason in dtc_problem[value])."""
        if type(value) is not str:
            return self._dtc(value)
        found = self.dtc_of.get(value, _UNSEEN)
        if found is _UNSEEN:
            found = self.dtc_of[value] = self._dtc(value)
        return found

    def _dtc(self, value: Any) -> str | None:
        try:
            return dtc(value, self.tz)
        except FhirDateError as exc:
            self.dtc_problem[repr(value)] = str(exc)
            return None

    def dtc_reason(self, value: Any) -> str:
        """Why dtc(value) gave None."""
        return self.dtc_problem[repr(value)]


def _lab_name(r: ReadContext, performers: list[tuple[Any, Any]], orgs: dict[str, str]) -> str:
    """LBNAM: the first performer that is an Organization (a practitioner's name is never read)."""
    for ref, display in performers:
        key = r.resolve(ref) or (ref if isinstance(ref, str) else "")
        if key.startswith("Organization/") or "/Organization/" in key:
            return text(display) or orgs.get(key, "")
    return ""
