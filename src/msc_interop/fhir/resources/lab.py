"""LB <-> Observation (category laboratory), column-wise: the hot path for big studies.

Building: every FHIR element is made once per distinct value of the SDTM columns it depends on (a million lab
rows hold a few hundred tests, units and ranges and tens of thousands of dates), held column-wise
(fhir/columns.py: per row, which distinct value each element takes). No dict is made per row: each distinct
value is serialised once and each row's JSON is joined from those pieces. Only the id and the identifier's
value are made per row.

Mapping (IG LB rows; docs/fhir-mapping.md): LBTESTCD/LBTEST -> code (msc-interop's cdisc-lbtestcd coding,
userSelected, as the IG's "selected" coding; the NCI Thesaurus C-code of the CT term; LBLOINC as the LOINC
coding); LBORRES/LBORRESU -> valueQuantity (UCUM code from units.yaml) or valueCodeableConcept.text;
LBORNRLO/HI -> referenceRange; LBNRIND -> interpretation (v3 N/L/H/A, text = LBNRIND); LBDTC ->
effectiveDateTime; VISITNUM -> encounter; LBNAM -> performer (Organization); LBSPEC -> contained Specimen.type;
LBCAT -> a second category (text). LBSTRESC/N/U and LBSTNRLO/HI are derived from the original result when
they equal it, else carried; LBDY is derived from LBDTC and RFSTDTC, else carried.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import orjson
import pandas as pd

from msc_interop import mappings
from msc_interop.dates import dtc_to_fhir
from msc_interop.fhir import ids, terms
from msc_interop.fhir.columns import CHUNK_ROWS, SLOT, Element, Factorized, ResourceColumns
from msc_interop.fhir.common import (
    Carrier,
    coding,
    float_text,
    group_codes,
    number_back,
    parse_number,
    text,
)
from msc_interop.fhir.context import WriteContext

COMPARATOR = ("<=", ">=", "<", ">")


def distinct(df: pd.DataFrame, cols: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """Group codes per row and the distinct value combinations (in order of first appearance)."""
    codes, first = group_codes(*(df[c] for c in cols))
    return codes, df[cols].iloc[first].reset_index(drop=True)


# --- per-distinct element builders -------------------------------------------------------------------------

def _code(testcd: str, test: str, loinc: str) -> dict[str, Any]:
    codings = []
    if loinc:
        codings.append(coding("loinc", loinc, _loinc_display(testcd, loinc) or None))
    if testcd:
        c = {"system": terms.system("cdisc_lbtestcd"), "code": testcd}
        if test:
            c["display"] = test
        c["userSelected"] = True
        codings.append(c)
        nci = terms.ct_nci("LBTESTCD", testcd)
        if nci:
            term = mappings.codelist("LBTESTCD").term(testcd)
            codings.append(coding("ncit", nci, (term.preferred_term if term else "") or None))
    out: dict[str, Any] = {}
    if codings:
        out["coding"] = codings
    out["text"] = test or testcd or "unnamed laboratory test"
    return out


def _loinc_display(testcd: str, loinc: str) -> str:
    t = mappings.lab_tests().get(testcd)
    if t is None:
        return ""
    if t.loinc == loinc:
        return t.loinc_display
    return ""


def _unit_coding(unit: str) -> dict[str, str]:
    u = mappings.units().get(unit)
    return {"system": terms.system("ucum"), "code": u.ucum} if u else {}


def _quantity(value: int | float, unit: str, original: str | None, comparator: str = "") -> dict[str, Any]:
    q: dict[str, Any] = {"value": value}
    if original is not None:
        q["_value"] = {"extension": [{"url": terms.ext_url("sdtm_original_text"), "valueString": original}]}
    if comparator:
        q["comparator"] = comparator
    if unit:
        q["unit"] = unit
        q.update(_unit_coding(unit))
    return q


def result_value(orres: str, unit: str) -> tuple[str, Any] | None:
    """(element name, value) for LBORRES: valueQuantity for numbers (with comparator), else the text."""
    if orres == "":
        return None
    num = parse_number(orres)
    if num is not None:
        return "valueQuantity", _quantity(num, unit, None if number_back(num) == orres else orres)
    for comp in COMPARATOR:
        if orres.startswith(comp):
            rest = orres[len(comp):]
            num = parse_number(rest)
            if num is not None:
                exact = comp + number_back(num) == orres
                return "valueQuantity", _quantity(num, unit, None if exact else orres, comp)
            break
    return "valueCodeableConcept", {"text": orres}


def _range(lo: str, hi: str, unit: str) -> tuple[list[dict[str, Any]] | None, bool, bool]:
    """referenceRange for numeric LBORNRLO/HI; flags say which of them must be carried instead."""
    rr: dict[str, Any] = {}
    carry_lo = carry_hi = False
    for name, t in (("low", lo), ("high", hi)):
        if t == "":
            continue
        num = parse_number(t)
        if num is None:
            if name == "low":
                carry_lo = True
            else:
                carry_hi = True
            continue
        rr[name] = _quantity(num, unit, None if number_back(num) == t else t)
    return ([rr] if rr else None), carry_lo, carry_hi


def derive_standard(orres: pd.Series, orresu: pd.Series, ornrlo: pd.Series, ornrhi: pd.Series) -> pd.DataFrame:
    """LBSTRESC/N/U and LBSTNRLO/HI as the reader derives them from the original result (same units)."""
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


def _differs_num(a: pd.Series, b: pd.Series) -> np.ndarray:
    x = pd.to_numeric(a, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    y = pd.to_numeric(b, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    both_nan = np.isnan(x) & np.isnan(y)
    return ~(both_nan | (x == y))


# --- building ----------------------------------------------------------------------------------------------

def build_observations(ctx: WriteContext, chunk_size: int = CHUNK_ROWS) -> Iterator[ResourceColumns]:
    """Observations in chunks of `chunk_size` LB rows, each held column-wise (fhir/columns.py)."""
    lb = ctx.study.datasets.get("LB")
    if lb is None or lb.empty:
        return
    for start in range(0, len(lb), chunk_size):
        yield build_chunk(ctx, start, min(start + chunk_size, len(lb)))


def build_chunk(ctx: WriteContext, start: int, stop: int) -> ResourceColumns:
    """The Observations of rows start..stop-1 of the study's LB.

    Each element is made once per distinct value of the LB columns it depends on (each column hashed once,
    `Factorized`); only the id and the identifier's value are made per row. The element order is the order
    of the keys in the JSON.
    """
    cols = Factorized(ctx.study["LB"].iloc[start:stop].reset_index(drop=True))
    n = cols.n
    usubjid = cols.series("USUBJID").astype(object)
    seq = cols.series("LBSEQ")
    rid, id_parts = ids.record_id_parts("lb", ctx.studyid, usubjid, seq, "LB")
    subject_codes, subjects = cols.codes("USUBJID")
    heads = [f"{ctx.studyid}/{u}/LB/" for u in subjects]
    seq_codes, seq_texts = ids.seq_text_codes(seq)
    ident_values = (np.array([*heads, ""], dtype=object)[subject_codes]
                    + np.array([*seq_texts, ""], dtype=object)[seq_codes]).tolist()
    visit = _visit_columns(ctx, start, stop)
    value, value_is_q, reference_range, carry_lo, carry_hi = _result_elements(cols)
    contained, specimen = _specimen_elements(cols)
    effective, effective_ext = _effective_elements(ctx, cols)
    return ResourceColumns("Observation", n, [
        Element.constant("resourceType", "Observation", n),
        Element.per_row_values("id", rid.tolist(), parts=id_parts),
        contained,
        _extension_element(ctx, cols, start, visit, value_is_q, carry_lo, carry_hi),
        Element.text("identifier", [{"system": terms.id_system("seq"), "value": SLOT}], ident_values,
                     parts=(heads, subject_codes, seq_texts, seq_codes)),
        Element.constant("status", "final", n),
        _category_element(cols),
        _code_element(cols),
        _subject_element(ctx, cols),
        Element.shared("encounter", visit["codes"], visit["encounter"]),
        effective,
        effective_ext,
        _performer_element(ctx, cols),
        value,
        _interpretation_element(cols),
        specimen,
        reference_range,
    ])


def _visit_columns(ctx: WriteContext, start: int, stop: int) -> dict[str, Any]:
    """Per distinct subject visit of LB rows start..stop-1 (rows of the Encounter table, made with the context):
    its Encounter reference (None without VISITNUM) and the visit's VISIT and EPOCH; `codes` gives each row's."""
    rows = ctx.lb_encounter_rows[start:stop]
    visits, codes = np.unique(rows, return_inverse=True)  # -1 (no visit) first when present
    hit = visits >= 0
    refs: list[Any] = [None] * int((~hit).sum()) + ctx.encounter_references(visits[hit])

    def column(name: str) -> np.ndarray:
        out = np.full(len(visits), "", dtype=object)
        out[hit] = ctx.encounter_columns[name][visits[hit]]
        return out

    return {"codes": codes.reshape(-1), "encounter": refs, "VISIT": column("VISIT"), "EPOCH": column("EPOCH")}


def _category_element(cols: Factorized) -> Element:
    """category: laboratory, and LBCAT as a second category (text only)."""
    lab = terms.fixed("lab_category")
    lab_cc = {"coding": [coding(lab["system"], lab["code"], lab["display"])]}
    codes, values = cols.codes("LBCAT")
    return Element.shared("category", codes, [[lab_cc, {"text": c}] if c else [lab_cc] for c in values])


def _code_element(cols: Factorized) -> Element:
    codes, combos = cols.distinct_texts("LBTESTCD", "LBTEST", "LBLOINC")
    return Element.shared("code", codes, [_code(*combo) for combo in combos])


def _subject_element(ctx: WriteContext, cols: Factorized) -> Element:
    codes, values = cols.codes("USUBJID")
    return Element.shared("subject", codes, [{"reference": ctx.refs("Patient", ctx.patient_rids[u])}
                                             for u in values])


def _effective_elements(ctx: WriteContext, cols: Factorized) -> tuple[Element, Element]:
    """effectiveDateTime, and `_effectiveDateTime` with the LBDTC text where FHIR cannot hold it exactly."""
    codes, dtc = cols.codes("LBDTC")
    values, keep = dtc_to_fhir(pd.Series(dtc, dtype=object), ctx.tz)
    url_dtc = terms.ext_url("sdtm_dtc")
    originals = [{"extension": [{"url": url_dtc, "valueString": o}]} if k else None
                 for o, k in zip(dtc, keep, strict=True)]
    return (Element.shared("effectiveDateTime", codes, values.tolist()),
            Element.shared("_effectiveDateTime", codes, originals))


def _performer_element(ctx: WriteContext, cols: Factorized) -> Element:
    codes, values = cols.codes("LBNAM")
    return Element.shared("performer", codes, [
        [{**ctx.ref("Organization", ctx.org_rids[p]), "display": p}] if p else None for p in values])


def _result_elements(cols: Factorized) -> tuple[Element, np.ndarray, Element, np.ndarray, np.ndarray]:
    """value[x] and referenceRange; per row: whether the value is a Quantity, whether LBORNRLO/HI must be
    carried (not a number)."""
    v_codes, v_combos = cols.distinct_texts("LBORRES", "LBORRESU")
    values = [result_value(o, u) for o, u in v_combos]
    is_q = np.array([v is not None and v[0] == "valueQuantity" for v in values] + [False], dtype=bool)
    r_codes, r_combos = cols.distinct_texts("LBORNRLO", "LBORNRHI", "LBORRESU")
    ranges = [_range(lo, hi, u) for lo, hi, u in r_combos]
    carry_lo = np.array([r[1] for r in ranges] + [False], dtype=bool)[r_codes]
    carry_hi = np.array([r[2] for r in ranges] + [False], dtype=bool)[r_codes]
    return (Element.choice(v_codes, values, "value[x]"), is_q[v_codes],
            Element.shared("referenceRange", r_codes, [r[0] for r in ranges]), carry_lo, carry_hi)


def _interpretation_element(cols: Factorized) -> Element:
    """LBNRIND -> interpretation: the v3 ObservationInterpretation coding (N/L/H/A) and the text."""
    codes, nrind = cols.codes("LBNRIND")
    imap = terms.code_map("nrind_to_interpretation")
    values: list[Any] = []
    for t in nrind:
        if not t:
            values.append(None)
            continue
        c = imap.code(t)
        cc: dict[str, Any] = {"coding": [coding("interpretation", c[0], c[1])]} if c else {}
        cc["text"] = t
        values.append([cc])
    return Element.shared("interpretation", codes, values)


def _specimen_elements(cols: Factorized) -> tuple[Element, Element]:
    """LBSPEC -> a contained Specimen (type: NCI coding of the SPECTYPE term + text) and the reference to it."""
    codes, specs = cols.codes("LBSPEC")
    contained: list[Any] = []
    for t in specs:
        if not t:
            contained.append(None)
            continue
        typ: dict[str, Any] = {}
        nci = terms.ct_nci("SPECTYPE", t)
        if nci:
            term = mappings.codelist("SPECTYPE").term(t)
            typ["coding"] = [coding("ncit", nci, (term.preferred_term if term else "") or None)]
        typ["text"] = t
        contained.append([{"resourceType": "Specimen", "id": "spec", "type": typ}])
    spec_ref = {"reference": "#spec"}
    return (Element.shared("contained", codes, contained),
            Element.shared("specimen", codes, [spec_ref if c is not None else None for c in contained]))


def _extension_element(ctx: WriteContext, cols: Factorized, offset: int, visit: dict[str, Any],
                       value_is_q: np.ndarray, carry_lo: np.ndarray, carry_hi: np.ndarray) -> Element:
    """extension: the study (workflow-researchStudy), the carried SDTM variables, the SUPPLB records.

    Carried: unmapped columns, and mapped ones whose FHIR home cannot give them back here (the derived ones
    where the record differs from what the reader would derive).
    """
    n, lb = cols.n, cols.df
    special = {
        "STUDYID": cols.differs("STUDYID", ctx.studyid),
        "DOMAIN": cols.differs("DOMAIN", "LB"),
        "LBTESTCD": cols.blank("LBTESTCD"),
        "LBTEST": cols.blank("LBTESTCD"),
        "LBORRESU": ~value_is_q & ~cols.blank("LBORRESU"),
        "LBORNRLO": carry_lo,
        "LBORNRHI": carry_hi,
        **_standard_differs(cols),
        "VISIT": cols.differs_by_code("VISIT", visit["codes"], visit["VISIT"]),
        "EPOCH": cols.differs_by_code("EPOCH", visit["codes"], visit["EPOCH"]),
        "LBDY": _study_day_differs(ctx, cols, offset),
        "USUBJID": cols.blank("USUBJID"),
    }
    carrier = Carrier(n, ctx.tz)
    mapped = terms.mapped_variables("LB")
    carrier.add_dataset(lb, mapped, special, blank=cols.blank)
    carried_codes, carried = carrier.distinct()
    wf = {"url": terms.ext_url("workflow_research_study"), "valueReference": ctx.study_ref()}
    values: list[Any] = [[wf], *([wf, c] for c in carried)]
    codes = carried_codes + 1
    for i, extra in _supp_rows(ctx, offset, n):
        c = carried_codes[i]
        values.append([wf, *([carried[c]] if c >= 0 else []), *extra])
        codes[i] = len(values) - 1
    return Element("extension", codes, values)


def _standard_differs(cols: Factorized) -> dict[str, np.ndarray]:
    """Per row, whether LBSTRESC/U/N and LBSTNRLO/HI differ from what the reader derives from the original
    result (derived once per distinct LBORRES, LBORNRLO, LBORNRHI)."""
    codes, combos = cols.distinct_texts("LBORRES", "LBORNRLO", "LBORNRHI")
    o, lo, hi = (pd.Series([c[k] for c in combos], dtype=object) for k in range(3))
    std = derive_standard(o, pd.Series("", index=o.index, dtype=object), lo, hi)
    units, first = cols.group("LBSTRESU", "LBORRESU")
    out = {"LBSTRESC": cols.differs_by_code("LBSTRESC", codes, std["LBSTRESC"].to_numpy(dtype=object)),
           "LBSTRESU": (cols.texts("LBSTRESU")[first] != cols.texts("LBORRESU")[first])[units]}
    for name in ("LBSTRESN", "LBSTNRLO", "LBSTNRHI"):
        out[name] = _differs_num(cols.series(name), pd.Series(std[name].to_numpy(dtype="float64")[codes]))
    return out


def _study_day_differs(ctx: WriteContext, cols: Factorized, start: int) -> np.ndarray:
    """Per row, whether LBDY differs from the study day the reader derives (LBDTC and RFSTDTC; worked out
    for the whole dataset with the context)."""
    return _differs_num(cols.series("LBDY"), pd.Series(ctx.lb_study_days[start:start + cols.n]))


def _supp_rows(ctx: WriteContext, offset: int, n: int) -> list[tuple[int, list[dict[str, Any]]]]:
    """(row in the chunk, SUPPLB extensions) for the chunk's rows that have SUPPLB records."""
    return [(row - offset, extra) for row, extra in ctx.supp_rows("LB", offset, offset + n)]


# --- reading: one flat record per Observation --------------------------------------------------------------

FLAT_COLUMNS = (
    # per row
    "source", "pos", "strict", "rtype", "id", "status", "subject", "encounter", "seq",
    # from category, code, performer, interpretation, the contained specimen and referenceRange (worked out once
    # per distinct combination); *_text: text() of the code's codes, range_text() of the limits
    "lab_category", "categories", "cdisc_code", "cdisc_display", "ncit_code", "loinc_code", "loinc_codes",
    "code_text", "other_codes", "cdisc_code_text", "cdisc_display_text", "loinc_code_text", "performer",
    "performer_display", "interpretation_text", "interpretation_codes", "specimen_text", "rr_low", "rr_low_orig",
    "rr_high", "rr_high_orig", "rr_text", "rr_low_text", "rr_high_text",
    # value[x] (valueQuantity once per distinct value); for a valueQuantity, result_text() and text() of the unit
    "vkind", "qvalue", "qorig", "qcomp", "qunit", "qsystem", "qcode", "vtext", "qresult_text", "qunit_text",
    # per row
    "effective", "effective_orig", "specimen_ref", "absent", "carried", "supp", "version_hint",
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
        from msc_interop.fhir.resources.supp import read_supplemental

        self.read_supplemental = read_supplemental
        self.sys_cd, self.sys_loinc = terms.system("cdisc_lbtestcd"), terms.system("loinc")
        self.sys_ncit, self.sys_interp = terms.system("ncit"), terms.system("interpretation")
        self.sys_category = terms.system("observation_category")
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

    def flatten(self, res: dict[str, Any], source: str, pos: int, in_bundle: bool) -> tuple:
        """The fields of an Observation that reading needs (the columns FLAT_COLUMNS), references left
        unresolved."""
        seq = None
        for ident in res.get("identifier") or ():
            if isinstance(ident, dict) and ident.get("system") == self.seq_system:
                seq = ident.get("value")
        specimen_ref = contained = None
        sp = res.get("specimen")
        if isinstance(sp, dict) and sp.get("reference"):
            ref = sp["reference"]
            if ref.startswith("#"):
                contained = (ref, res.get("contained"))
            else:
                specimen_ref = ref
        static = self._memo(self.memo_static, (res.get("category"), res.get("code") or {}, res.get("performer"),
                                               res.get("interpretation"), contained, res.get("referenceRange")),
                            self._static)
        if "valueQuantity" in res:
            value = self._memo(self.memo_quantity, res["valueQuantity"], self._quantity)
        else:
            vkind, vtext = self._other_value(res)
            value = (vkind, None, None, None, None, None, None, vtext, None, None)
        effective = res.get("effectiveDateTime")
        effective_orig = self._kept(res.get("_effectiveDateTime"), self.url_dtc)
        if effective is None and isinstance(res.get("effectivePeriod"), dict):
            effective = res["effectivePeriod"].get("start")
        if effective is None and res.get("effectiveInstant"):
            effective = res["effectiveInstant"]
        absent = None
        dar = res.get("dataAbsentReason")
        if isinstance(dar, dict):
            absent = dar.get("text") or next((c.get("display") or c.get("code") for c in _codings(dar)), "unknown")
        subject = (res.get("subject") or {}).get("reference")
        encounter = (res.get("encounter") or {}).get("reference")
        carried, has_supp = self._memo(self.memo_carried, res.get("extension"), self._carried)
        return (source, pos, in_bundle, "Observation", res.get("id"), res.get("status"), subject, encounter, seq,
                *static, *value, effective, effective_orig, specimen_ref, absent, carried,
                self.read_supplemental(res) if has_supp else [], None)

    def _static(self, elements: tuple) -> tuple:
        """The FLAT_COLUMNS fields from lab_category to rr_high_text."""
        category, code, performer, interpretation, contained, reference_range = elements
        cdisc_code, cdisc_display, ncit_code, loinc_code, loinc_codes, code_text, other = self._code(code)
        return (*self._category(category), cdisc_code, cdisc_display, ncit_code, loinc_code, loinc_codes,
                code_text, other, text(cdisc_code), text(cdisc_display), text(loinc_code), _performers(performer),
                None, *self._interpretation(interpretation),
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
        lab_sys = self.sys_category
        for cc in category or ():
            cods = _codings(cc)
            if any(c.get("system") == lab_sys for c in cods):
                if any(c.get("system") == lab_sys and c.get("code") == "laboratory" for c in cods):
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

    def _quantity(self, q: Any) -> tuple:
        q = q or {}
        value, comparator, unit = q.get("value"), q.get("comparator"), q.get("unit")
        original = self._kept(q.get("_value"), self.url_orig) if q else None
        return ("q", value, original, comparator, unit, q.get("system"), q.get("code"), None,
                _result_text_or_none(value, original, comparator), text(unit))

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
        return (low_value, low_orig, high_value, high_orig, rr.get("text"), range_text(low_value, low_orig),
                range_text(high_value, high_orig))

    def _carried(self, extension: Any) -> tuple[dict[str, Any], bool]:
        """The carried SDTM variables (read_carried) and whether there are SUPP-- records (read_supplemental)."""
        from msc_interop.fhir.common import read_carried

        carried = read_carried({"extension": extension}, None)
        return carried, any(isinstance(e, dict) and e.get("url") == self.url_supp for e in extension or ())


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
    if orig is not None:
        return str(orig)
    return "" if value is None else number_back(value)


def standard_conversion(testcd: str, unit: str) -> tuple[float, str] | None:
    """(factor, standard unit) for a result of test `testcd` in CDISC unit `unit`, from lab_tests.yaml."""
    t = mappings.lab_tests().get(testcd)
    if t is None:
        return None
    for u, f in t.units:
        if u == unit:
            return f, t.standard_unit
    return None
