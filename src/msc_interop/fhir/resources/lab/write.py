"""LB -> Observation (category laboratory), column-wise: the hot path for big studies.

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
import pandas as pd

from msc_interop import mappings
from msc_interop.fhir import ids, terms
from msc_interop.fhir.columns import CHUNK_ROWS, SLOT, Element, Factorized, ResourceColumns
from msc_interop.fhir.common import (
    Carrier,
    coding,
    concept,
    ct_coding,
    number_back,
    parse_number,
)
from msc_interop.fhir.context import WriteContext
from msc_interop.fhir.datetimes import dtc_to_fhir
from msc_interop.fhir.resources.lab.standard import derive_standard

COMPARATOR = ("<=", ">=", "<", ">")


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
        ncit = ct_coding("LBTESTCD", testcd)
        if ncit:
            codings.append(ncit)
    return concept(codings, test or testcd or "unnamed laboratory test")


def _loinc_display(testcd: str, loinc: str) -> str:
    c = mappings.lab_loinc_index().get(loinc)
    return c.display if c is not None and c.testcd == testcd else ""


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
    else:  # a result without a unit (pH, specific gravity): UCUM's unity, so the Quantity is still coded
        q.update({"system": terms.system("ucum"), "code": "1"})
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
    seq = cols.series("LBSEQ")
    rid, id_parts = ctx.record_ids("LB")[start:stop], None
    subject_codes, subjects = cols.codes("USUBJID")
    heads = [f"{ctx.studyid}/{u}/LB/" for u in subjects]
    seq_codes, seq_texts = ids.seq_text_codes(seq)
    ident_values = (np.array([*heads, ""], dtype=object)[subject_codes]
                    + np.array([*seq_texts, ""], dtype=object)[seq_codes]).tolist()
    visit = _visit_columns(ctx, start, stop)
    value, value_is_q, reference_range, carry_lo, carry_hi = _result_elements(cols)
    contained, specimen = _specimen_elements(cols)
    effective, effective_ext = _effective_elements(ctx, cols)
    code, loinc_derived = _code_element(cols)
    return ResourceColumns("Observation", n, [
        Element.constant("resourceType", "Observation", n),
        Element.per_row_values("id", rid.tolist(), parts=id_parts),
        contained,
        _extension_element(ctx, cols, start, visit, value_is_q, carry_lo, carry_hi, loinc_derived),
        Element.text("identifier", [{"system": terms.id_system("seq"), "value": SLOT}], ident_values,
                     parts=(heads, subject_codes, seq_texts, seq_codes)),
        Element.constant("status", terms.fixed("observation_status"), n),
        _category_element(cols),
        code,
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


def _code_element(cols: Factorized) -> tuple[Element, np.ndarray]:
    """code, and per row whether its LOINC coding comes from the catalogue (LBLOINC empty: carried as empty)."""
    codes, combos = cols.distinct_texts("LBTESTCD", "LBTEST", "LBLOINC", "LBORRESU", "LBSPEC")
    loincs = [loinc or catalogue_loinc(testcd, unit, spec) for testcd, _t, loinc, unit, spec in combos]
    derived = np.array([bool(lo) and not c[2] for lo, c in zip(loincs, combos, strict=True)] + [False], dtype=bool)
    return (Element.shared("code", codes, [_code(c[0], c[1], lo) for c, lo in zip(combos, loincs, strict=True)]),
            derived[codes])


def catalogue_loinc(testcd: str, unit: str, specimen: str) -> str:
    """The LOINC of mappings/lab_tests.yaml for a result of `testcd` in CDISC unit `unit` from `specimen`:
    of the test's LOINCs for that specimen (the test's own when LBSPEC is empty), the one made for the unit,
    else the first; "" when the test has none (then the Observation has no LOINC coding)."""
    site = mappings.site_loinc(testcd, specimen)  # a site's lab map (--lab-map) names the LOINC its lab uses
    if site:
        return site
    t = mappings.lab_tests().get(testcd)
    if t is None or not t.loincs:
        return ""
    spec = specimen or t.specimen
    same = [c for c in t.loincs if c.specimen == spec]
    if not same:
        return ""
    return next((c.code for c in same if unit and unit in c.for_units), same[0].code)


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
        ncit = ct_coding("SPECTYPE", t)
        if ncit:
            typ["coding"] = [ncit]
        typ["text"] = t
        contained.append([{"resourceType": "Specimen", "id": "spec", "type": typ}])
    spec_ref = {"reference": "#spec"}
    return (Element.shared("contained", codes, contained),
            Element.shared("specimen", codes, [spec_ref if c is not None else None for c in contained]))


def _extension_element(ctx: WriteContext, cols: Factorized, offset: int, visit: dict[str, Any],
                       value_is_q: np.ndarray, carry_lo: np.ndarray, carry_hi: np.ndarray,
                       loinc_derived: np.ndarray) -> Element:
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
        "LBLOINC": loinc_derived,   # empty LBLOINC: the LOINC coding comes from the catalogue, not the record
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
