"""Observation (category laboratory) -> LB: one flat record per Observation while the files are read
(Flattener), then the LB rows from them (read_observations).

Observations written by msc-interop decode exactly (their CDISC coding or sdtm-seq identifier say so); those
written by others are placed through the mapping data (foreign.foreign_lab): the NCI Thesaurus code or LOINC
(lab_tests.yaml), units through UCUM (units.yaml), converted to the standard unit.
"""

from __future__ import annotations

from collections import Counter, namedtuple
from typing import Any

import numpy as np
import orjson
import pandas as pd

from msc_interop.fhir import terms
from msc_interop.fhir.common import number_back, read_carried, text
from msc_interop.fhir.compact import Compactor
from msc_interop.fhir.io import Located
from msc_interop.fhir.read_common import (
    ReadContext,
    apply_overrides,
    observation_admitted,
    seq_where_missing,
    shown,
    study_days,
    subject_of,
)
from msc_interop.fhir.remarks import count_flags, display_flags, observation_flags
from msc_interop.fhir.resources.lab import indicator, population, ranges
from msc_interop.fhir.resources.lab.foreign import (
    ForeignLookups,
    foreign_lab,
    foreign_nrind,
    mapped_test,
    own_test,
)
from msc_interop.fhir.resources.lab.memo import LbMemo
from msc_interop.fhir.resources.lab.panels import expand_panels, panel_components, settle_panels
from msc_interop.fhir.resources.lab.shape import OBSERVATION, PER_ROW, STATIC
from msc_interop.fhir.resources.lab.sponsor import code_display, lab_kind
from msc_interop.fhir.resources.lab.standard import derive_standard
from msc_interop.fhir.resources.lab.undated import INSTEAD, say_undated
from msc_interop.fhir.resources.supp import read_supplemental
from msc_interop.fhir.resources.vital_kind import is_vital_sign
from msc_interop.fhir.shapes import ShapeProblem
from msc_interop.fhir.systems import QUANTITIES, read_system

# --- reading: one flat record per Observation --------------------------------------------------------------

FLAT_COLUMNS = (
    # per row
    "strict", "status", "subject", "encounter", "seq",
    # from category, code, performer, interpretation, the contained specimen and referenceRange (worked out once
    # per distinct combination); *_text: text() of the code's codes, range_text() of the limits; rr_note: what the
    # range LB takes leaves out (None: nothing), rr_shown: the referenceRange as the report shows it (None: none),
    # rr_choices: several ranges for different populations, decided per subject (lab/population.py; else None)
    "lab_category", "categories", "category_codes", "cdisc_code", "ncit_code", "loinc_codes", "code_text",
    "other_codes", "cdisc_code_text", "cdisc_display_text", "loinc_code_text", "code_display", "performer",
    "interpretation_text", "interpretation_codes", "specimen_text", "rr_low", "rr_high", "rr_low_text",
    "rr_high_text", "rr_unit", "rr_note", "rr_shown", "rr_choices",
    # the remarks (fhir/remarks.py) of the code's LOINC displays; whether the Observation has a code element; the
    # first of these elements without its FHIR shape, or None
    "display_flags", "has_code", "static_problem",
    # value[x] (valueQuantity once per distinct value); for a valueQuantity, result_text() and text() of the unit
    "vkind", "qvalue", "qorig", "qcomp", "qunit", "qsystem", "qcode", "vtext", "qresult_text", "qunit_text",
    # per row; flagged: what to say when it is converted (fhir/remarks.py observation_flags: status, dates without
    # an offset, LOINC displays), else None; effective_el: the element `effective` came from; problem: None, or
    # (element, reason, value, reject code, whether the record is rejected) for an element without its FHIR shape
    # (the first one found)
    "effective", "effective_orig", "effective_end", "absent", "carried", "supp", "flagged", "components",
    "effective_el", "problem",
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
    fields are shared between rows (read only). Mapping URLs are looked up once. A record is held in a compact
    form until LB is built (`expand` gives the FLAT_COLUMNS back): the fields parsed once per distinct value as
    one shared tuple each, the strings that repeat between rows (subject, encounter, date) shared (`texts`).
    Code systems are compared through read_system in these parsers (tallied in `seen`: fhir/systems.py).
    """

    def __init__(self, texts: Any = None, seen: Counter[str] | None = None) -> None:
        self.texts = texts if texts is not None else Compactor()
        self.seen: Counter[str] = seen if seen is not None else Counter()
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
        self.row_ok = OBSERVATION.checker(PER_ROW)

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
                memo[bytes(memoryview(key))] = found  # a copy: orjson's bytes keep ~4 KB spare room
        return found

    def flatten(self, res: dict[str, Any], in_bundle: bool) -> tuple:
        """The fields of an Observation that reading needs (the columns FLAT_COLUMNS), references left
        unresolved. The shape of every element read is checked first (lab/shape.py): the elements that repeat
        between rows once per distinct value (in the memos), the others here."""
        bad, kept = (None, ()) if self.row_ok(res) else OBSERVATION.problems(res, PER_ROW)
        if bad is None and None in res.values():  # a null among the elements checked in the memos
            bad = OBSERVATION.problem(res, (*STATIC, "valueQuantity", "extension"))
        if bad is not None:
            return _rejected(in_bundle, bad)
        seq = None
        for ident in res.get("identifier") or ():
            if ident.get("system") == self.seq_system:
                seq = ident.get("value")
        contained = None
        sp = res.get("specimen")
        if sp is not None and isinstance(sp.get("reference"), str) and sp["reference"].startswith("#"):
            contained = sp["reference"]
        static = self._memo(self.memo_static, (res.get("category"), res.get("code"), res.get("performer"),
                                               res.get("interpretation"), contained, res.get("contained"),
                                               res.get("referenceRange")), self._static)
        if static[-1] is not None:
            return _rejected(in_bundle, static[-1])
        problem = None
        if kept:  # the record is converted, without a visit
            problem = (kept[0].field, kept[0].reason("converted without a visit"), shown(kept[0].value), "REJ-FHIR-009",
                       False)
        subject = subject_of(res.get("subject"))
        encounter = res.get("encounter") if not kept else None
        if encounter is not None:
            encounter = encounter.get("reference")
        if "valueQuantity" in res:
            value, value_problem = self._memo(self.memo_quantity, res["valueQuantity"], self._quantity)
            if value_problem is not None:
                return _rejected(in_bundle, value_problem)
        else:
            vkind, vtext = self._other_value(res)
            value = (vkind, None, None, None, None, None, None, vtext, None, None)
        effective = res.get("effectiveDateTime")
        effective_el = "effectiveDateTime"
        effective_orig = self._kept(res.get("_effectiveDateTime"), self.url_dtc)
        effective_end = None
        if effective is None and res.get("effectivePeriod") is not None:
            effective, effective_el = res["effectivePeriod"].get("start"), "effectivePeriod.start"
            effective_end = res["effectivePeriod"].get("end")
        if effective is None and res.get("effectiveInstant"):
            effective, effective_el = res["effectiveInstant"], "effectiveInstant"
        if effective is None:  # no date: what it has instead, for the report (lab/undated.py)
            effective_el = next((k for k in INSTEAD if k in res), effective_el)
        absent = None
        dar = res.get("dataAbsentReason")
        if dar is not None:
            absent = dar.get("text") or next((c.get("display") or c.get("code") for c in _codings(dar)), "unknown")
        carried, has_supp, ext_problem = self._memo(self.memo_carried, res.get("extension"), self._carried)
        if ext_problem is not None:
            return _rejected(in_bundle, ext_problem)
        share = self.texts.text
        return (in_bundle, share("Observation.status", res.get("status")), share("Observation.subject", subject),
                share("Observation.encounter", encounter), seq, static, value,
                share("Observation.effective", effective), effective_orig, effective_end, absent, carried,
                self.read_supplemental(res) if has_supp else (),
                observation_flags(res, static[_DISPLAYS], (effective, effective_end)),
                panel_components(self, res, in_bundle), effective_el, problem)

    def _static(self, elements: tuple) -> tuple:
        """The FLAT_COLUMNS fields from lab_category to static_problem (the first element of these without its
        FHIR shape, else None)."""
        category, code, performer, interpretation, ref, contained, reference_range = elements
        for name, value in zip(STATIC, (category, code, performer, interpretation, contained, reference_range),
                               strict=True):
            found = OBSERVATION.element_problem(name, value)
            if found is not None:
                return (*_NO_STATIC, found)
        cdisc_code, cdisc_display, ncit_code, loinc_code, loinc_codes, code_text, other = self._code(code)
        return (*self._category(category), cdisc_code, ncit_code, loinc_codes, code_text, other, text(cdisc_code),
                text(cdisc_display), text(loinc_code), code_display(code), _performers(performer),
                *self._interpretation(interpretation),
                _contained_specimen(ref, contained) if ref is not None else None, *self._range(reference_range),
                display_flags(code), code is not None, None)

    @staticmethod
    def _kept(element: Any, url: str) -> str | None:
        """`primitive_original` with the extension URL given: the kept SDTM text on a `_name` element."""
        if not element:
            return None
        for e in element.get("extension") or ():
            if isinstance(e, dict) and e.get("url") == url:
                return e.get("valueString")
        return None

    def _category(self, category: Any) -> tuple[bool | None, list[Any], tuple[str, ...]]:
        """(True: category laboratory, False: other categories of the observation-category system only, None:
        none of that system), the texts of other categories, and the observation-category codes."""
        lab_category = None
        categories = []
        codes = []
        lab_sys, lab_code, seen = self.sys_category, self.code_lab, self.seen
        for cc in category or ():
            cods = [c for c in _codings(cc) if read_system(c.get("system"), seen) == lab_sys]
            codes += [text(c.get("code")) for c in cods]
            if cods:
                if any(c.get("code") == lab_code for c in cods):
                    lab_category = True
                elif lab_category is None:
                    lab_category = False
            elif isinstance(cc, dict) and cc.get("text"):
                categories.append(cc["text"])
        return lab_category, categories, tuple(codes)

    def _code(self, code: Any) -> tuple:
        cdisc_code = cdisc_display = ncit_code = loinc_code = None
        loinc_codes = []
        other = []
        for c in _codings(code):
            s = read_system(c.get("system"), self.seen)
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

    def _quantity(self, q: Any) -> tuple[tuple, ShapeProblem | None]:
        """(the value[x] fields, problem) of a valueQuantity: the problem when it does not have its FHIR shape."""
        found = OBSERVATION.element_problem("valueQuantity", q)
        if found is not None:
            return _NO_VALUE, found
        value, comparator, unit = q.get("value"), q.get("comparator"), q.get("unit")
        original = self._kept(q.get("_value"), self.url_orig)
        system = read_system(q.get("system"), self.seen, QUANTITIES)
        return ("q", value, original, comparator, unit, system, q.get("code"), None,
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
        return text_, [(read_system(c.get("system"), self.seen), c["code"], c.get("system")) for c in _codings(it)
                       if c.get("code") is not None]

    def _range(self, reference_range: Any) -> tuple:
        rr, note, contest = ranges.pick(reference_range, self.seen)  # the normal range (lab/ranges.py), a note
        choices = None
        if contest is not None:  # several for different populations: decided per subject (lab/population.py)
            head, notes, competing = contest
            choices = (head, notes, tuple(population.candidate(r, ranges.limits_of(r), self._limits(taken, said),
                                                               self.seen) for r, taken, said in competing))
        return (*self._limits(rr, note), shown(reference_range, 200) if reference_range else None, choices)

    def _limits(self, rr: dict[str, Any], note: str | None) -> tuple:
        """The FLAT_COLUMNS fields rr_low to rr_note of the range LB takes (`rr`, an empty dict: none)."""
        low, high = rr.get("low") or {}, rr.get("high") or {}
        low_value, high_value = low.get("value"), high.get("value")
        low_orig = self._kept(low.get("_value"), self.url_orig) if low else None
        high_orig = self._kept(high.get("_value"), self.url_orig) if high else None
        return (low_value, high_value, range_text(low_value, low_orig), range_text(high_value, high_orig),
                ranges.limit_unit(rr, self.seen), note)

    def _carried(self, extension: Any) -> tuple[dict[str, Any], bool, ShapeProblem | None]:
        """The carried SDTM variables (read_carried), whether there are SUPP-- records (read_supplemental), and
        the extension's shape problem (None: none)."""
        found = OBSERVATION.element_problem("extension", extension)
        if found is not None:
            return {}, False, found
        carried = read_carried({"extension": extension}, None)
        return carried, any(e.get("url") == self.url_supp for e in extension or ()), None


_NO_VALUE = (None,) * 10  # the value[x] fields of an Observation whose value cannot be read
_NO_STATIC = (None,) * (FLAT_COLUMNS.index("static_problem") - FLAT_COLUMNS.index("lab_category"))
_DISPLAYS = FLAT_COLUMNS.index("display_flags") - FLAT_COLUMNS.index("lab_category")  # its place in the static tuple


def _rejected(in_bundle: bool, problem: ShapeProblem) -> tuple:
    """The flat record of an Observation rejected for an element without its FHIR shape: only where it is rejected
    and why (FLAT_COLUMNS' problem)."""
    return (in_bundle, None, None, None, None, (*_NO_STATIC, None), _NO_VALUE, *(None,) * 9,
            (problem.field, problem.reason(), shown(problem.value), "REJ-FHIR-009", True))


def expand(held: tuple) -> Any:
    """The record (FLAT_COLUMNS and loc, by name) of a compact one as Flattener.flatten made it with its Located
    after it: the shared tuples of the static and value[x] fields spread out."""
    return _FlatRecord._make((*held[:5], *held[5], *held[6], *held[7:]))


def _result_text_or_none(value: Any, original: Any, comparator: Any) -> str | None:
    """result_text() of a valueQuantity; None when it fails (malformed: the reader's own call then fails where
    the record is decoded, as before)."""
    try:
        return result_text("q", value, original, comparator, None)
    except Exception:
        return None


def _performers(performer: Any) -> list[tuple[Any, Any]]:
    return [(p.get("reference"), p.get("display")) for p in performer or () if isinstance(p, dict)]


def _contained_specimen(ref: str, contained: Any) -> Any:
    """The type text of the contained Specimen `ref` points to."""
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
                      orgs: dict[str, str], rfstdtc: dict[str, str], studyid: str,
                      dm: pd.DataFrame | None = None) -> pd.DataFrame | None:
    """LB from the flat records the Flattener made while the files were read; None when there were no
    Observations. msc-interop's own records decode exactly, others through the mapping data (foreign.foreign_lab).
    `dm`: the subjects' SEX, BRTHDTC, AGE (lab/population.py: the range for the subject, of several)."""
    if not r.flat_obs:
        return None
    (flat_obs, panels), r.flat_obs = expand_panels(r.flat_obs), []  # a lab panel: a record per component
    tz = r.tz
    patients = {k: v for k, v in subjects.items()}
    # subjects, per distinct reference (or identifier)
    subj_of: dict[Any, tuple[str | None, str]] = {}
    for ref, strict in {(t[2], t[0]) for t in flat_obs}:  # subject, strict of the compact records
        subj_of[(ref, strict)] = r.subject(ref, strict, patients)
    rows_out: list[tuple | dict[str, Any]] = []  # tuples (_OWN_LB_COLUMNS) for msc-interop's own records
    over: list[dict[str, Any]] = []
    own_rows: list[int] = []
    unread_interpretation: list[int] = []  # others' rows whose interpretation was given but maps to no NRIND
    foreign = ForeignLookups()
    imap, imap_system = terms.code_map("nrind_to_interpretation"), terms.system("interpretation")
    derived_subject = 0
    memo = LbMemo(r, encounters, orgs, tz)
    people = population.Subjects(dm)
    sponsor = None if r.strict else r.sponsor_tests()
    vital: list[tuple] = []  # vital signs (compact records): VS, not LB (fhir/resources/vital_signs.py)
    for held in flat_obs:
        rec = expand(held)
        loc: Located = rec.loc
        if rec.problem is not None and rec.problem[4]:  # an element without its FHIR shape
            fld, reason, value, code, _ = rec.problem
            r.reject(loc, "Observation", fld, reason, value, code=code)
            continue
        if is_vital_sign(rec):
            vital.append(held)
            continue
        own = rec.cdisc_code is not None or rec.seq is not None
        mapped = None if own else mapped_test(rec, foreign.loinc_idx, foreign.by_nci)
        if not own:
            kind, why = lab_kind(rec, mapped)
            if kind == "skip":  # not a lab result: counted, not rejected (lab/sponsor.py)
                r.skip("Observation", why)
                continue
        usubjid, problem = subj_of[(rec.subject, rec.strict)]
        if not observation_admitted(r, loc, rec, usubjid, problem):
            continue
        if not rec.has_code:
            r.reject(loc, "Observation", "Observation.code", "no code: the Observation does not say what was "
                     "measured, so it has no LB test (LBTESTCD)", "", code="REJ-FHIR-005")
            continue
        if rec.effective_orig is not None:
            lbdtc = rec.effective_orig
        else:
            lbdtc = memo.dtc(rec.effective)
            if lbdtc is None:  # an impossible date
                r.reject(loc, "Observation", f"Observation.{rec.effective_el}", memo.dtc_reason(rec.effective),
                         rec.effective, code="REJ-FHIR-006")
                continue
        if own:  # the text is the LBNRIND msc-interop wrote
            nrind, nrind_given = text(rec.interpretation_text) or next(
                (imap.cdisc(c) or "" for s, c, _ in rec.interpretation_codes if s == imap_system), ""), ""
        else:
            nrind, nrind_given = foreign_nrind(rec.interpretation_text, rec.interpretation_codes)
        if rec.rr_choices is not None:  # several ranges for different populations: the subject's, if one
            rec = people.choose(rec, usubjid, lbdtc)
        range_note = rec.rr_note
        if own:  # written by msc-interop: exact decoding
            test = (rec.cdisc_code, rec.cdisc_display_text) if type(rec.cdisc_code) is str and rec.cdisc_code else \
                own_test(rec, foreign)
            if len(test) == 4:
                r.reject(loc, "Observation", test[0], test[1], test[2], code=test[3])
                continue
            quantity = rec.vkind == "q"
            unit_problem = memo.unit_problem(rec) if quantity else None
            if unit_problem is not None:
                r.reject(loc, "Observation", unit_problem[0], unit_problem[1], unit_problem[2], code=unit_problem[3])
                continue
            enc = memo.encounter(loc, rec.encounter)
            seq = text(rec.seq).rsplit("/", 1)[-1] if rec.seq is not None else ""
            own_rows.append(len(rows_out))
            rows_out.append((
                studyid, "LB", usubjid, enc.get("VISITNUM"), enc.get("VISIT", ""), enc.get("EPOCH", ""),
                memo.lab_name(rec.performer), lbdtc, nrind, int(seq) if seq.lstrip("-").isdigit() else None,
                test[0], test[1], rec.categories[0] if rec.categories else "",
                rec.qresult_text if quantity and rec.qresult_text is not None else
                result_text(rec.vkind, rec.qvalue, rec.qorig, rec.qcomp, rec.vtext),
                rec.qunit_text if quantity else "", rec.rr_low_text, rec.rr_high_text, rec.loinc_code_text,
                text(rec.specimen_text)))
        else:
            row: dict[str, Any] = {"STUDYID": studyid, "DOMAIN": "LB", "USUBJID": usubjid,
                                   "LBNAM": memo.lab_name(rec.performer), "LBDTC": lbdtc, "LBNRIND": nrind}
            bad = foreign_lab(rec, row, mapped, sponsor)
            range_note = ranges.joined(range_note, row.pop(ranges.NOTE_KEY, None))
            if bad:
                r.reject(loc, "Observation", bad[0], bad[1], bad[2], code=bad[3])
                continue
            if rec.effective_end is not None:
                row["LBENDTC"] = memo.dtc(rec.effective_end)
                if row["LBENDTC"] is None:
                    r.reject(loc, "Observation", "Observation.effectivePeriod.end", memo.dtc_reason(rec.effective_end),
                             rec.effective_end, code="REJ-FHIR-006")
                    continue
            if sponsor is not None and mapped is None:
                sponsor.counted(rec)
            enc = memo.encounter(loc, rec.encounter)
            row.update(VISITNUM=enc.get("VISITNUM"), VISIT=enc.get("VISIT", ""), EPOCH=enc.get("EPOCH", ""))
            if nrind_given:
                unread_interpretation.append(len(rows_out))
            rows_out.append(row)
        # converted: what it was converted without, its SUPPLB records, whether its subject was derived
        if rec.flagged is not None:  # its status, dates without an offset, LOINC displays (fhir/remarks.py)
            count_flags(r, "LB", loc, rec.flagged)
        if rec.problem is not None:
            fld, reason, value, code, _ = rec.problem
            r.note_field(loc, "Observation", fld, reason, value, code=code)
        if range_note:
            r.note_field(loc, "Observation", "Observation.referenceRange", range_note, rec.rr_shown,
                         code="REJ-FHIR-006")
        say_undated(r, loc, rec, "LBDTC")
        if nrind_given:
            r.note_field(loc, "Observation", "Observation.interpretation", "converted without LBNRIND: the "
                         "interpretation is no v3-ObservationInterpretation code mapped to NRIND and its text no "
                         "NRIND term", nrind_given, code="REJ-FHIR-006")
        if rec.supp:
            r.obs_supp += rec.supp
        if rec.rr_choices is population.CHOSEN:  # given the range of its subject's sex / age (lab/population.py)
            r.tallies[population.CHOSEN] += 1
        if problem == "derived":
            derived_subject += 1
        over.append(rec.carried or {})
    del flat_obs  # the records are rows now (the vital signs' are in `vital`): not held while LB is made
    r.converted["Observation"] += len(rows_out)
    settle_panels(r, panels)  # a panel is one Observation: counted once, its components' problems said as its own
    r.vs_found = (vital, lambda rec: subj_of[(rec.subject, rec.strict)], memo)  # read by vital_signs.py
    r.tallies["derived subject Observation"] += derived_subject
    if not rows_out:
        return pd.DataFrame(columns=["STUDYID", "DOMAIN", "USUBJID", "LBSEQ", "LBTESTCD", "LBTEST"])
    df = _lb_frame(rows_out)
    del rows_out
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
    as_given = own.copy()  # (an interpretation given that maps to no NRIND is said so, not replaced by the range's)
    as_given[unread_interpretation] = True
    df = indicator.derive_missing(df, as_given, r.tallies, r.examples)  # others' records without an interpretation
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
