"""LB <-> Observation (category laboratory), column-wise: the hot path for big studies.

Building: every FHIR element is made once per distinct value of the SDTM columns it depends on (a million lab
rows hold a few hundred tests, units and ranges and tens of thousands of dates), and each row's resource is
one dict that shares those element objects; orjson serialises shared objects without copying. Only the id,
the identifier and the carried variables are made per row.

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
from msc_interop.dates import dtc_to_fhir
from msc_interop.fhir import ids, terms
from msc_interop.fhir.common import (
    Carrier,
    coding,
    float_text,
    is_blank,
    number_back,
    parse_number,
    text,
)
from msc_interop.fhir.context import WriteContext, encounter_lookup

COMPARATOR = ("<=", ">=", "<", ">")


def distinct(df: pd.DataFrame, cols: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """Group codes per row and the distinct value combinations (in order of first appearance)."""
    sub = df[cols]
    codes = sub.groupby(cols, sort=False, dropna=False).ngroup().to_numpy()
    uniques = sub.drop_duplicates().reset_index(drop=True)
    return codes, uniques


def _col(df: pd.DataFrame, col: str) -> pd.Series:
    return df[col] if col in df.columns else pd.Series("", index=df.index, dtype=object)


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


def _texts(s: pd.Series) -> np.ndarray:
    """Character column as an object array of str, "" for null (vectorised: no per-value Python)."""
    if s.dtype != object:
        s = s.astype(object)
    return s.where(s.notna(), "").to_numpy(dtype=object)


def _differs_text(a: pd.Series, b: pd.Series) -> np.ndarray:
    return _texts(a) != _texts(b)


def _differs_num(a: pd.Series, b: pd.Series) -> np.ndarray:
    x = pd.to_numeric(a, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    y = pd.to_numeric(b, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    both_nan = np.isnan(x) & np.isnan(y)
    return ~(both_nan | (x == y))


# --- building ----------------------------------------------------------------------------------------------

def build_observations(ctx: WriteContext, chunk_size: int = 25_000
                       ) -> Iterator[tuple[list[dict[str, Any]], dict[str, list[Any]]]]:
    """Observations in chunks, each with its `hints`: per element, the distinct objects the chunk shares."""
    lb = ctx.study.datasets.get("LB")
    if lb is None or lb.empty:
        return
    for start in range(0, len(lb), chunk_size):
        part = lb.iloc[start:start + chunk_size]
        hints: dict[str, list[Any]] = {}
        yield build_chunk(ctx, part, start, hints), hints


UNIQUE = ("id", "identifier", "extension")  # elements made per row (not shared through hints)


def build_chunk(ctx: WriteContext, lb: pd.DataFrame, offset: int = 0,
                hints: dict[str, list[Any]] | None = None) -> list[dict[str, Any]]:
    """Observation dicts for rows of LB (offset = position of the first row in the whole dataset).

    `hints`, when given, receives for every shared element the distinct objects used (the fast validator
    checks those once instead of once per resource; `id`, `identifier` and `extension` are per row).
    """
    lb = lb.reset_index(drop=True)
    n = len(lb)
    usubjid = lb["USUBJID"].astype(object)
    seq = _col(lb, "LBSEQ")
    rid = ids.record_ids("lb", ctx.studyid, usubjid, seq, "LB")
    seq_text = ids.seq_texts(seq)
    ident_values = (f"{ctx.studyid}/" + _texts(usubjid) + "/LB/" + seq_text).tolist()
    rid = rid.tolist()
    seq_system = terms.id_system("seq")

    subj_codes, subj_u = pd.factorize(usubjid.astype(object), use_na_sentinel=False)
    subj_objs = [{"reference": ctx.refs("Patient", ctx.patient_rids[text(u)])} for u in subj_u]
    subj_col = [subj_objs[c] for c in subj_codes.tolist()]

    # category (+ LBCAT)
    lab = terms.fixed("lab_category")
    lab_cc = {"coding": [coding(lab["system"], lab["code"], lab["display"])]}
    cat_codes, cat_u = distinct(lb.assign(_c=_col(lb, "LBCAT").astype(object)), ["_c"])
    cat_objs = [[lab_cc, {"text": text(c)}] if text(c) else [lab_cc] for c in cat_u["_c"]]

    # code
    frame = pd.DataFrame({"cd": _col(lb, "LBTESTCD").astype(object), "t": _col(lb, "LBTEST").astype(object),
                          "lo": _col(lb, "LBLOINC").astype(object)})
    code_codes, code_u = distinct(frame, ["cd", "t", "lo"])
    code_objs = [_code(text(a), text(b), text(c)) for a, b, c in code_u.itertuples(index=False)]

    # encounter, visit, epoch
    enc = encounter_lookup(ctx, lb)
    e_codes, e_u = pd.factorize(enc["id"].astype(object), use_na_sentinel=False)
    e_objs = [ctx.ref("Encounter", e) if isinstance(e, str) else None for e in e_u]
    enc_col = [e_objs[c] for c in e_codes.tolist()]

    # effective
    dtc = _col(lb, "LBDTC").astype(object)
    d_codes, d_u = distinct(pd.DataFrame({"d": dtc}), ["d"])
    d_val, d_keep = dtc_to_fhir(d_u["d"], ctx.tz)
    url_dtc = terms.ext_url("sdtm_dtc")
    d_ext = [{"extension": [{"url": url_dtc, "valueString": text(o)}]} if k else None
             for o, k in zip(d_u["d"], d_keep, strict=True)]
    d_val = d_val.tolist()

    # performer
    nam = _col(lb, "LBNAM").astype(object)
    p_codes, p_u = distinct(pd.DataFrame({"p": nam}), ["p"])
    p_objs = [[{**ctx.ref("Organization", ctx.org_rids[text(p)]), "display": text(p)}] if text(p) else None
              for p in p_u["p"]]

    # value + unit, reference range
    orres = _col(lb, "LBORRES").astype(object)
    orresu = _col(lb, "LBORRESU").astype(object)
    lo, hi = _col(lb, "LBORNRLO").astype(object), _col(lb, "LBORNRHI").astype(object)
    v_codes, v_u = distinct(pd.DataFrame({"o": orres, "u": orresu}), ["o", "u"])
    v_objs = [result_value(text(o), text(u)) for o, u in v_u.itertuples(index=False)]
    v_is_q = np.array([v is not None and v[0] == "valueQuantity" for v in v_objs], dtype=bool)
    r_codes, r_u = distinct(pd.DataFrame({"lo": lo, "hi": hi, "u": orresu}), ["lo", "hi", "u"])
    r_res = [_range(text(a), text(b), text(c)) for a, b, c in r_u.itertuples(index=False)]
    r_objs = [r[0] for r in r_res]
    carry_lo = np.array([r[1] for r in r_res], dtype=bool)[r_codes] if n else np.zeros(0, bool)
    carry_hi = np.array([r[2] for r in r_res], dtype=bool)[r_codes] if n else np.zeros(0, bool)

    # interpretation
    nr = _col(lb, "LBNRIND").astype(object)
    i_codes, i_u = distinct(pd.DataFrame({"i": nr}), ["i"])
    imap = terms.code_map("nrind_to_interpretation")
    i_objs = []
    for x in i_u["i"]:
        t = text(x)
        if not t:
            i_objs.append(None)
            continue
        c = imap.code(t)
        cc: dict[str, Any] = {"coding": [coding("interpretation", c[0], c[1])]} if c else {}
        cc["text"] = t
        i_objs.append([cc])

    # specimen (contained Specimen with the SPECTYPE term)
    spec = _col(lb, "LBSPEC").astype(object)
    s_codes, s_u = distinct(pd.DataFrame({"s": spec}), ["s"])
    s_objs = []
    for x in s_u["s"]:
        t = text(x)
        if not t:
            s_objs.append(None)
            continue
        typ: dict[str, Any] = {}
        nci = terms.ct_nci("SPECTYPE", t)
        if nci:
            term = mappings.codelist("SPECTYPE").term(t)
            typ["coding"] = [coding("ncit", nci, (term.preferred_term if term else "") or None)]
        typ["text"] = t
        s_objs.append([{"resourceType": "Specimen", "id": "spec", "type": typ}])
    spec_ref = {"reference": "#spec"}

    # carried variables: unmapped columns, and mapped ones whose FHIR home cannot give them back here
    carrier = Carrier(n, ctx.tz)
    mapped = terms.mapped_variables("LB")
    std = derive_standard(orres, orresu, lo, hi)
    dy = ctx.study_days(dtc, usubjid)
    visit_differs = _differs_text(_col(lb, "VISIT"), enc["VISIT"])
    epoch_differs = _differs_text(_col(lb, "EPOCH"), enc["EPOCH"])
    special = {
        "STUDYID": _texts(_col(lb, "STUDYID")) != ctx.studyid,
        "DOMAIN": _texts(_col(lb, "DOMAIN")) != "LB",
        "LBTESTCD": is_blank(_col(lb, "LBTESTCD")),
        "LBTEST": is_blank(_col(lb, "LBTESTCD")),
        "LBORRESU": ~v_is_q[v_codes] & ~is_blank(orresu) if n else np.zeros(0, bool),
        "LBORNRLO": carry_lo,
        "LBORNRHI": carry_hi,
        "LBSTRESC": _differs_text(_col(lb, "LBSTRESC"), std["LBSTRESC"]),
        "LBSTRESU": _differs_text(_col(lb, "LBSTRESU"), std["LBSTRESU"]),
        "LBSTRESN": _differs_num(_col(lb, "LBSTRESN"), std["LBSTRESN"]),
        "LBSTNRLO": _differs_num(_col(lb, "LBSTNRLO"), std["LBSTNRLO"]),
        "LBSTNRHI": _differs_num(_col(lb, "LBSTNRHI"), std["LBSTNRHI"]),
        "VISIT": visit_differs,
        "EPOCH": epoch_differs,
        "LBDY": _differs_num(_col(lb, "LBDY"), dy),
        "USUBJID": is_blank(usubjid),
    }
    for col in lb.columns:
        if col not in mapped:
            carrier.add(col, lb[col], ~is_blank(lb[col]))
        elif col in special:
            carrier.add(col, lb[col], special[col])
    carried = carrier.extensions()

    wf = {"url": terms.ext_url("workflow_research_study"), "valueReference": ctx.study_ref()}
    wf_only = [wf]
    supp = ctx.supp
    # plain Python lists: indexing them with Python ints is several times faster than numpy scalars
    s_codes, cat_codes, code_codes, d_codes = s_codes.tolist(), cat_codes.tolist(), code_codes.tolist(), \
        d_codes.tolist()
    p_codes, v_codes, i_codes, r_codes = p_codes.tolist(), v_codes.tolist(), i_codes.tolist(), r_codes.tolist()
    carried = carried.tolist()
    if hints is not None:
        values: dict[str, list[Any]] = {"valueQuantity": [], "valueCodeableConcept": []}
        for v in v_objs:
            if v is not None:
                values[v[0]].append(v[1])
        hints.update({
            "resourceType": ["Observation"], "status": ["final"], "contained": s_objs, "category": cat_objs,
            "code": code_objs, "subject": subj_objs, "encounter": e_objs, "effectiveDateTime": d_val,
            "_effectiveDateTime": d_ext, "performer": p_objs, "interpretation": i_objs, "specimen": [spec_ref],
            "referenceRange": r_objs, **values})
        for k in list(hints):
            hints[k] = [x for x in hints[k] if x is not None]
    out: list[dict[str, Any]] = []
    for i in range(n):
        r: dict[str, Any] = {"resourceType": "Observation", "id": rid[i]}
        s_obj = s_objs[s_codes[i]]
        if s_obj is not None:
            r["contained"] = s_obj
        c = carried[i]
        extra = supp.get(("LB", offset + i)) if supp else None
        if c is None and not extra:
            r["extension"] = wf_only
        else:
            r["extension"] = [wf, *([c] if c is not None else []), *(extra or [])]
        r["identifier"] = [{"system": seq_system, "value": ident_values[i]}]
        r["status"] = "final"
        r["category"] = cat_objs[cat_codes[i]]
        r["code"] = code_objs[code_codes[i]]
        r["subject"] = subj_col[i]
        e = enc_col[i]
        if e is not None:
            r["encounter"] = e
        dv = d_val[d_codes[i]]
        if dv is not None:
            r["effectiveDateTime"] = dv
        de = d_ext[d_codes[i]]
        if de is not None:
            r["_effectiveDateTime"] = de
        p = p_objs[p_codes[i]]
        if p is not None:
            r["performer"] = p
        val = v_objs[v_codes[i]]
        if val is not None:
            r[val[0]] = val[1]
        it = i_objs[i_codes[i]]
        if it is not None:
            r["interpretation"] = it
        if s_obj is not None:
            r["specimen"] = spec_ref
        rr = r_objs[r_codes[i]]
        if rr is not None:
            r["referenceRange"] = rr
        out.append(r)
    return out


# --- reading: one flat record per Observation --------------------------------------------------------------

FLAT_COLUMNS = (
    "source", "pos", "strict", "rtype", "id", "status", "subject", "encounter", "seq", "lab_category",
    "categories", "cdisc_code", "cdisc_display", "ncit_code", "loinc_code", "loinc_codes", "code_text",
    "other_codes", "vkind", "qvalue", "qorig", "qcomp", "qunit", "qsystem", "qcode", "vtext", "effective",
    "effective_orig", "performer", "performer_display", "interpretation_text", "interpretation_codes",
    "specimen_text", "specimen_ref", "rr_low", "rr_low_orig", "rr_high", "rr_high_orig", "rr_text",
    "absent", "carried", "supp", "version_hint",
)


def _codings(cc: Any) -> list[dict[str, Any]]:
    if not isinstance(cc, dict):
        return []
    return [c for c in cc.get("coding") or () if isinstance(c, dict)]


def flatten(res: dict[str, Any], source: str, pos: int, in_bundle: bool) -> tuple:
    """The fields of an Observation that reading needs, references left unresolved."""
    from msc_interop.fhir.common import primitive_original, read_carried
    from msc_interop.fhir.resources.supp import read_supplemental

    sys_cd, sys_loinc, sys_ncit = terms.system("cdisc_lbtestcd"), terms.system("loinc"), terms.system("ncit")
    seq = None
    for ident in res.get("identifier") or ():
        if isinstance(ident, dict) and ident.get("system") == terms.id_system("seq"):
            seq = ident.get("value")
    lab_category = None
    categories = []
    lab_sys = terms.system("observation_category")
    for cc in res.get("category") or ():
        cods = _codings(cc)
        if any(c.get("system") == lab_sys for c in cods):
            if any(c.get("system") == lab_sys and c.get("code") == "laboratory" for c in cods):
                lab_category = True
            elif lab_category is None:
                lab_category = False
        elif isinstance(cc, dict) and cc.get("text"):
            categories.append(cc["text"])
    code = res.get("code") or {}
    cdisc_code = cdisc_display = ncit_code = loinc_code = None
    loinc_codes = []
    other = []
    for c in _codings(code):
        s = c.get("system")
        if s == sys_cd and cdisc_code is None:
            cdisc_code, cdisc_display = c.get("code"), c.get("display")
        elif s == sys_ncit and ncit_code is None:
            ncit_code = c.get("code")
        elif s == sys_loinc:
            loinc_codes.append(c.get("code"))
            loinc_code = loinc_code or c.get("code")
        else:
            other.append(f"{s}|{c.get('code')}")
    vkind = qvalue = qorig = qcomp = qunit = qsystem = qcode = vtext = None
    if "valueQuantity" in res:
        q = res["valueQuantity"] or {}
        vkind, qvalue, qcomp, qunit = "q", q.get("value"), q.get("comparator"), q.get("unit")
        qsystem, qcode = q.get("system"), q.get("code")
        qorig = primitive_original(q, "value", "sdtm_original_text")
    elif "valueCodeableConcept" in res:
        cc = res["valueCodeableConcept"] or {}
        vkind = "cc"
        vtext = cc.get("text") or next((c.get("display") or c.get("code") for c in _codings(cc)), None)
    elif "valueString" in res:
        vkind, vtext = "s", res["valueString"]
    elif any(k.startswith("value") for k in res):
        vkind = "other:" + next(k for k in res if k.startswith("value"))
    effective = res.get("effectiveDateTime")
    effective_orig = primitive_original(res, "effectiveDateTime", "sdtm_dtc")
    if effective is None and isinstance(res.get("effectivePeriod"), dict):
        effective = res["effectivePeriod"].get("start")
    if effective is None and res.get("effectiveInstant"):
        effective = res["effectiveInstant"]
    performer = [(p.get("reference"), p.get("display")) for p in res.get("performer") or () if isinstance(p, dict)]
    performer_display = None
    it = (res.get("interpretation") or [None])[0]
    interpretation_text = it.get("text") if isinstance(it, dict) else None
    interpretation_codes = [c.get("code") for c in _codings(it)
                            if c.get("system") == terms.system("interpretation")]
    specimen_text = specimen_ref = None
    sp = res.get("specimen")
    if isinstance(sp, dict) and sp.get("reference"):
        ref = sp["reference"]
        if ref.startswith("#"):
            for c in res.get("contained") or ():
                if isinstance(c, dict) and c.get("id") == ref[1:] and c.get("resourceType") == "Specimen":
                    typ = c.get("type") or {}
                    specimen_text = typ.get("text") or next((x.get("display") for x in _codings(typ)), None)
        else:
            specimen_ref = ref
    rr = (res.get("referenceRange") or [None])[0] or {}
    low, high = rr.get("low") or {}, rr.get("high") or {}
    absent = None
    dar = res.get("dataAbsentReason")
    if isinstance(dar, dict):
        absent = dar.get("text") or next((c.get("display") or c.get("code") for c in _codings(dar)), "unknown")
    subject = (res.get("subject") or {}).get("reference")
    encounter = (res.get("encounter") or {}).get("reference")
    return (source, pos, in_bundle, "Observation", res.get("id"), res.get("status"), subject, encounter, seq,
            lab_category, categories, cdisc_code, cdisc_display, ncit_code, loinc_code, loinc_codes,
            code.get("text") if isinstance(code, dict) else None, other, vkind, qvalue, qorig, qcomp, qunit,
            qsystem, qcode, vtext, effective, effective_orig, performer, performer_display, interpretation_text,
            interpretation_codes, specimen_text, specimen_ref, low.get("value"),
            primitive_original(low, "value", "sdtm_original_text"), high.get("value"),
            primitive_original(high, "value", "sdtm_original_text"), rr.get("text"), absent,
            read_carried(res, None), read_supplemental(res), None)


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
