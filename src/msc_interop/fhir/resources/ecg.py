"""EG <-> Observation (R4 and R5 alike): build_ecg_observations and read_ecg_observations.

One Observation per EG record (dicts: a study has a few hundred ECG values). code: the LOINC of
mappings/ecg.yaml, msc-interop's cdisc-egtestcd coding (userSelected, display EGTEST) and the NCI Thesaurus
coding; category procedure (as US Core's ECG examples). Intervals: valueQuantity (EGORRES, EGORRESU with its
UCUM code). INTP and finding records: valueCodeableConcept (text EGORRES, the NCI coding of EGSTRESC).
EGSTRESC/N/U and EGDY are derived on reading and carried only where the record differs; EGLOBXFL is carried.

Reading FHIR written by others (is_ecg): an Observation whose code is an EGTESTCD of the cdisc-egtestcd system
or an ECG LOINC of ecg.yaml lands in EG; one with `component`s of ECG codes (a 12-lead ECG report grouping its
intervals) gives one EG record per such component, its heart rate (LOINC 8867-4, ecg.yaml component_loinc)
EGHRMN; a component with a value and no ECG code is listed in the report (converted without it). A value in
seconds becomes ms (ecg.yaml unit_factors).
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import Any

import numpy as np
import orjson
import pandas as pd

from msc_interop import mappings
from msc_interop.fhir import terms
from msc_interop.fhir.common import Carrier, coding, concept, number_back, parse_number, read_carried, text
from msc_interop.fhir.context import WriteContext, column, encounter_lookup
from msc_interop.fhir.datetimes import FhirDateError, dtc_to_fhir
from msc_interop.fhir.read_common import (
    ReadContext,
    apply_overrides,
    prim_dtc,
    seq_where_missing,
    shown,
    shown_subject,
    study_days,
    subject_of,
)
from msc_interop.fhir.remarks import count_flags, display_flags, observation_flags, rejected_status
from msc_interop.fhir.systems import read_system
from msc_interop.sdtm import ecg_terms
from msc_interop.sdtm.eg import format_number


@functools.cache
def _conf() -> dict[str, Any]:
    return terms.data()["ecg"]


def _system() -> str:
    return _conf()["system"]["uri"]


def mapped_variables() -> frozenset[str]:
    return frozenset(v for v, e in _conf()["element_map"].items() if e["how"] != "carried")


# --- deriving the standard result (the writer and the reader use the same rule) -------------------------------

def derive_standard(testcd: pd.Series, orres: pd.Series, orresu: pd.Series, coded: pd.Series) -> pd.DataFrame:
    """EGSTRESC, EGSTRESN, EGSTRESU from EGTESTCD, EGORRES, EGORRESU and the CT term a coded result names
    (`coded`, "" if none): numbers rounded per ecg.yaml in the test's unit; coded results their term."""
    tests = ecg_terms.test_table()
    num = pd.to_numeric(orres.where(orres.map(lambda x: parse_number(text(x)) is not None), None), errors="coerce")
    dec = testcd.map(tests["decimals"])
    std = num.copy()
    for d in pd.unique(dec.dropna()):
        m = dec.eq(d)
        std[m] = num[m].round(int(d))
    is_num = num.notna() & orresu.ne("")
    unit = testcd.map(tests["unit"]).fillna(orresu).astype(object)
    return pd.DataFrame({
        "EGSTRESC": format_number(std.where(is_num)).where(is_num, coded.astype(object)),
        "EGSTRESN": std.where(is_num).astype("float64"),
        "EGSTRESU": unit.where(is_num, "").astype(object)}, index=testcd.index)


@functools.cache
def _term_by_nci() -> dict[str, str]:
    return {c: v for v, c in ecg_terms.result_codes().items()}


# --- writing -------------------------------------------------------------------------------------------------

def build_ecg_observations(ctx: WriteContext) -> list[dict[str, Any]]:
    """One Observation per EG record."""
    eg = ctx.study.datasets.get("EG")
    if eg is None or eg.empty:
        return []
    eg = eg.reset_index(drop=True)
    n = len(eg)
    rid = ctx.record_ids("EG")
    enc = encounter_lookup(ctx, eg)
    s = {c: column(eg, c).astype(object).map(text) for c in ("EGTESTCD", "EGTEST", "EGORRES", "EGORRESU",
                                                            "EGSTRESC", "EGDTC", "USUBJID", "VISIT", "EPOCH")}
    coded = s["EGSTRESC"].where(s["EGSTRESC"].isin(list(ecg_terms.result_codes())) & s["EGORRESU"].eq(""), "")
    std = derive_standard(s["EGTESTCD"], s["EGORRES"], s["EGORRESU"], coded)
    special = {
        "STUDYID": column(eg, "STUDYID").astype(object).map(text).to_numpy() != ctx.studyid,
        "DOMAIN": column(eg, "DOMAIN").astype(object).map(text).to_numpy() != "EG",
        "USUBJID": s["USUBJID"].eq("").to_numpy(),
        "EGTESTCD": s["EGTESTCD"].eq("").to_numpy(),
        "EGTEST": (s["EGTEST"] != s["EGTESTCD"].map(ecg_terms.test_names()).fillna("")).to_numpy(),
        "EGSTRESC": (s["EGSTRESC"] != std["EGSTRESC"]).to_numpy(),
        "EGSTRESU": (s["EGSTRESU"] if "EGSTRESU" in s else column(eg, "EGSTRESU").astype(object).map(text)
                     ).to_numpy() != std["EGSTRESU"].to_numpy(),
        "EGSTRESN": _differs(column(eg, "EGSTRESN"), std["EGSTRESN"]),
        "EGORRESU": (s["EGORRESU"].ne("") & s["EGORRES"].map(lambda x: parse_number(x) is None)).to_numpy(),
        "VISIT": (s["VISIT"] != enc["VISIT"].map(text)).to_numpy(),
        "EPOCH": (s["EPOCH"] != enc["EPOCH"].map(text)).to_numpy(),
        "EGDY": _differs(column(eg, "EGDY"), ctx.study_days(column(eg, "EGDTC"), s["USUBJID"])),
    }
    carrier = Carrier(n, ctx.tz)
    carrier.add_dataset(eg, mapped_variables(), special)
    carried = carrier.extensions()
    eff, keep = dtc_to_fhir(s["EGDTC"], ctx.tz)
    cat = _conf()["category"]
    category = [{"coding": [coding(cat["system"], cat["code"], cat["display"])]}]
    wf = {"url": terms.ext_url("workflow_research_study"), "valueReference": ctx.study_ref()}
    url_dtc = terms.ext_url("sdtm_dtc")
    seqs = column(eg, "EGSEQ")
    out = []
    for i in range(n):
        u, tcd = s["USUBJID"].iloc[i], s["EGTESTCD"].iloc[i]
        exts = [wf] + ([carried[i]] if carried[i] is not None else []) + ctx.supp.get(("EG", i), [])
        seq = seqs.iloc[i]
        res: dict[str, Any] = {
            "resourceType": "Observation", "id": rid[i], "extension": exts,
            "identifier": [{"system": terms.id_system("seq"),
                            "value": f"{ctx.studyid}/{u}/EG/{'' if pd.isna(seq) else int(seq)}"}],
            "status": terms.fixed("observation_status"), "category": category,
            "code": _code(tcd, s["EGTEST"].iloc[i]),
            "subject": {"reference": ctx.refs("Patient", ctx.patient_rids[u])},
        }
        if isinstance(enc["id"].iloc[i], str):
            res["encounter"] = ctx.ref("Encounter", enc["id"].iloc[i])
        if eff.iloc[i] is not None:
            res["effectiveDateTime"] = eff.iloc[i]
        if keep.iloc[i]:
            res["_effectiveDateTime"] = {"extension": [{"url": url_dtc, "valueString": s["EGDTC"].iloc[i]}]}
        value = _value(s["EGORRES"].iloc[i], s["EGORRESU"].iloc[i], coded.iloc[i])
        if value is not None:
            res[value[0]] = value[1]
        out.append(res)
    return out


def _code(testcd: str, test: str) -> dict[str, Any]:
    codings = []
    loinc = _loinc_of().get(testcd)
    if loinc:
        codings.append(coding("loinc", loinc[0], loinc[1]))
    if testcd:
        c = {"system": _system(), "code": testcd}
        if test:
            c["display"] = test
        c["userSelected"] = True
        codings.append(c)
        term = mappings.codelist("EGTESTCD").term(testcd)
        if term is not None and term.nci_code:
            codings.append(coding("ncit", term.nci_code, term.preferred_term or None))
    return concept(codings, test or testcd or "unnamed ECG test")


@functools.cache
def _loinc_of() -> dict[str, tuple[str, str]]:
    """EGTESTCD -> (LOINC, display) of ecg.yaml."""
    t = ecg_terms.test_table()
    out = {cd: (row.loinc, row.loinc_display) for cd, row in t.iterrows()}
    i = ecg_terms.interpretation()
    out[i["testcd"]] = (i["loinc"], i["loinc_display"])
    return out


def _value(orres: str, unit: str, coded: str) -> tuple[str, dict[str, Any]] | None:
    if orres == "":
        return None
    num = parse_number(orres)
    if num is not None and unit:
        q: dict[str, Any] = {"value": num}
        if number_back(num) != orres:
            q["_value"] = {"extension": [{"url": terms.ext_url("sdtm_original_text"), "valueString": orres}]}
        q["unit"] = unit
        ucum = _ucum_of().get(unit)
        if ucum:
            q.update({"system": terms.system("ucum"), "code": ucum})
        return "valueQuantity", q
    cc: dict[str, Any] = {}
    nci = ecg_terms.result_codes().get(coded)
    if nci:
        cc["coding"] = [coding("ncit", nci, coded)]
    cc["text"] = orres
    return "valueCodeableConcept", cc


@functools.cache
def _ucum_of() -> dict[str, str]:
    """CDISC unit -> UCUM (ecg.yaml)."""
    t = ecg_terms.test_table()
    return dict(zip(t["unit"], t["ucum"], strict=True))


def _differs(a: pd.Series, b: pd.Series) -> np.ndarray:
    x = pd.to_numeric(a, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    y = pd.to_numeric(b, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return ~((np.isnan(x) & np.isnan(y)) | (x == y))


# --- reading -------------------------------------------------------------------------------------------------

def _codings(cc: Any) -> list[dict[str, Any]]:
    return [c for c in (cc.get("coding") or ()) if isinstance(c, dict)] if isinstance(cc, dict) else []


@functools.cache
def _systems() -> tuple[str, str]:
    return _system(), terms.system("loinc")


def ecg_test(code: Any, seen: Counter[str] | None = None) -> str | None:
    """The EGTESTCD a code names (cdisc-egtestcd coding, else an ECG LOINC of ecg.yaml); None if not ECG. The
    system of a coding whose code is an ECG LOINC is read by read_system (a known non-canonical URI of LOINC is
    LOINC; only such codings are looked up: is_ecg asks for every Observation), tallied in `seen` when given (the
    EcgFlattener's, once per distinct code)."""
    if not isinstance(code, dict):
        return None
    codings = code.get("coding")
    if not isinstance(codings, list):
        return None
    own, loinc = _systems()
    loincs = ecg_terms.loinc_index()
    found = None
    for c in codings:
        if not isinstance(c, dict):
            continue
        system, value = c.get("system"), c.get("code")
        if not isinstance(value, str) or not value:
            continue
        if system == own:  # msc-interop's own code system: no other URI
            return value
        if found is None and value in loincs and (system == loinc or read_system(system, seen) == loinc):
            found = loincs[value]
    return found


def component_test(code: Any, seen: Counter[str] | None = None) -> str | None:
    """The EGTESTCD of a component of an ECG Observation: ecg_test, else a component_loinc of ecg.yaml (8867-4
    heart rate: EGHRMN, the rate the ECG measured); None if neither."""
    found = ecg_test(code, seen)
    if found is not None or not isinstance(code, dict) or not isinstance(code.get("coding"), list):
        return found
    loinc, only = _systems()[1], ecg_terms.component_loinc_index()
    return next((only[c["code"]] for c in code["coding"] if isinstance(c, dict) and isinstance(c.get("code"), str)
                 and c["code"] in only and (c.get("system") == loinc or read_system(c.get("system"), seen) == loinc)),
                None)


def _unplaced(res: dict[str, Any]) -> tuple[str, ...]:
    """The codes of the components with a value that are no ECG test (said in the report, not dropped silently)."""
    out = []
    for c in res.get("component") or ():
        if isinstance(c, dict) and _has_value(c) and component_test(c.get("code")) is None:
            cc = c.get("code")
            named = text(cc.get("text")) if isinstance(cc, dict) else ""
            out.append(next((f"{text(x.get('system'))}|{text(x.get('code'))}" for x in _codings(cc)), named))
    return tuple(out)


_NO_RANGE = ("EG as msc-interop writes it holds no normal range (EGORNRLO/EGORNRHI are SDTM model variables it does "
             "not add to EG)")


def _ranges(res: dict[str, Any]) -> tuple[tuple[str, str, str], ...]:
    """(path, " of <test>" or "", the range as shown) of each referenceRange of an ECG Observation and of its ECG
    components: said in the report (REJ-FHIR-006), not dropped silently, as EG holds no range."""
    out = []
    if res.get("referenceRange"):
        out.append(("Observation.referenceRange", "", shown(res["referenceRange"], 200)))
    for i, c in enumerate(res.get("component") or ()):
        if isinstance(c, dict) and c.get("referenceRange") and component_test(c.get("code")):
            out.append(("Observation.component.referenceRange", f" of {component_test(c.get('code')) or i}",
                        shown(c["referenceRange"], 200)))
    return tuple(out)


def is_ecg(res: dict[str, Any]) -> bool:
    """Whether an Observation belongs to EG: its code, or one of its components' codes, is an ECG test."""
    if ecg_test(res.get("code")) is not None:
        return True
    comps = res.get("component")
    return isinstance(comps, list) and any(isinstance(c, dict) and ecg_test(c.get("code")) for c in comps)


@functools.cache
def _unit_of_ucum() -> dict[str, tuple[str, float]]:
    """UCUM code or unit text -> (CDISC unit, factor to it): the tests' own units and ecg.yaml unit_factors."""
    out = {u: (c, 1.0) for c, u in _ucum_of().items()}
    out.update({c: (c, 1.0) for c in _ucum_of()})
    for f in mappings.load("ecg").get("unit_factors", ()):
        out[f["ucum"]] = (f["unit"], float(f["factor"]))
    return out


class EcgFlattener:
    """One compact record per ECG Observation while the files are read (fhir/read.py), so that the resource is not
    held until EG is made: (strict, subject, status, date elements, EG fields of its parts, seq, encounter
    reference, extension, components not placed, ranges, what to say when converted: fhir/remarks.py). What
    repeats between Observations is shared: strings and elements through `share` (fhir/compact.py), the EG fields
    of the parts once per distinct JSON of what _record reads (where a known non-canonical code system URI met is
    tallied in `seen`, the read's tallies: fhir/systems.py)."""

    _PART = ("code", "valueQuantity", "valueCodeableConcept", "valueString")

    def __init__(self, share: Any, seen: Counter[str] | None = None) -> None:
        self.share = share
        self.parts: dict[bytes, tuple] = {}
        self.seen: Counter[str] = seen if seen is not None else Counter()

    def flatten(self, res: dict[str, Any], strict: bool) -> tuple:
        share = self.share
        dates = {k: share(f"Observation.{k}", res[k]) for k in ("effectiveDateTime", "_effectiveDateTime") if k in res}
        seq = None
        for ident in res.get("identifier") or ():
            if isinstance(ident, dict) and ident.get("system") == terms.id_system("seq"):
                seq = text(ident.get("value")).rsplit("/", 1)[-1]
        parts, displays = self._parts(res)
        return (strict, share("Observation.subject", subject_of(res.get("subject"))),
                share("Observation.status", res.get("status")), dates or None, parts, seq,
                share("Observation.encounter", (res.get("encounter") or {}).get("reference")),
                share("Observation.extension", res.get("extension")), _unplaced(res), _ranges(res),
                observation_flags(res, displays, (res.get("effectiveDateTime"),)))

    def _parts(self, res: dict[str, Any]) -> tuple[tuple, tuple[str, ...]]:
        """_record of the Observation (when it has an ECG code and a value) and of each component with an ECG code
        (component_test: its heart rate too); and the display flags of their codes (fhir/remarks.py), one per record
        made with the code: a component's wrong display is said of its record, not of the others'."""
        parts = [res] if ecg_test(res.get("code")) and _has_value(res) else []
        parts += [c for c in res.get("component") or () if isinstance(c, dict) and component_test(c.get("code"))]
        views = [{k: p[k] for k in self._PART if k in p} for p in parts]
        try:
            key = orjson.dumps(views)
        except orjson.JSONEncodeError:  # an integer beyond 64 bits: not remembered
            return self._made(views)
        found = self.parts.get(key)
        if found is None:
            found = self._made(views)
            if len(self.parts) < 100_000:
                self.parts[bytes(memoryview(key))] = found  # a copy: orjson's bytes keep ~4 KB spare room
        return found

    def _made(self, views: list[dict[str, Any]]) -> tuple[tuple, tuple[str, ...]]:
        return (tuple(_record(v, self.seen) for v in views),
                tuple(flag for v in views for flag in display_flags(v.get("code"))))


def read_ecg_observations(r: ReadContext, subjects: dict[str, str], encounters: dict[str, dict[str, Any]],
                          rfstdtc: dict[str, str], studyid: str) -> pd.DataFrame | None:
    """EG from the compact records read.py made of the Observations it set aside for it (is_ecg, EcgFlattener);
    None when there are none."""
    items, r.ecg_obs = r.ecg_obs, []
    if not items:
        return None
    rows, over, coded = [], [], []
    carried_of: dict[int, dict[str, Any]] = {}  # read_carried per distinct (shared) extension
    for strict, subject, status, dates, parts, seq, encounter, extension, unplaced, ranges, flagged, loc in items:
        usubjid, problem = r.subject(subject, strict, subjects)
        if usubjid is None:
            r.reject(loc, "Observation", "Observation.subject", problem, shown_subject(subject), code="REJ-FHIR-003")
            continue
        if rejected_status(status):
            r.reject(loc, "Observation", "Observation.status", f"status {status}: not a result",
                     status, code="REJ-FHIR-004")
            continue
        try:
            dtc = prim_dtc(dates, "effectiveDateTime", r.tz) if dates else ""
        except FhirDateError as exc:
            r.reject(loc, "Observation", "Observation.effectiveDateTime", str(exc), exc.value, code="REJ-FHIR-006")
            continue
        bad = next((got for got in parts if isinstance(got, tuple)), None)
        if bad is not None or not parts:
            fld, why, value = bad or ("Observation.value[x]", "no ECG value (neither the Observation nor a "
                                      "component with an ECG code has a value)", "")
            r.reject(loc, "Observation", fld, why, value, code="REJ-FHIR-006")
            continue
        enc = r.visit(loc, "Observation", "Observation.encounter", encounter, encounters)
        carried = carried_of.get(id(extension))
        if carried is None:
            carried = carried_of[id(extension)] = read_carried({"extension": extension} if extension is not None
                                                               else {}, r.tz)
        for rec in parts:
            rows.append({"STUDYID": studyid, "DOMAIN": "EG", "USUBJID": usubjid,
                         "EGSEQ": int(seq) if seq and seq.lstrip("-").isdigit() and len(parts) == 1 else None,
                         "EGTESTCD": rec["EGTESTCD"], "EGTEST": rec["EGTEST"], "EGORRES": rec["EGORRES"],
                         "EGORRESU": rec["EGORRESU"], "VISITNUM": enc.get("VISITNUM"), "VISIT": enc.get("VISIT", ""),
                         "EPOCH": enc.get("EPOCH", ""), "EGDTC": dtc})
            coded.append(rec["coded"])
            over.append(carried)
        for code in unplaced:
            r.note_field(loc, "Observation", "Observation.component.code", "converted without this component: its "
                         "code is no ECG test of mappings/ecg.yaml", code, code="REJ-FHIR-005")
        for path, of, range_shown in ranges:
            r.note_field(loc, "Observation", path, f"converted without the referenceRange{of}: {_NO_RANGE}",
                         range_shown, code="REJ-FHIR-006")
        count_flags(r, "EG", loc, flagged, len(parts))  # status, dates without an offset, LOINC displays
        r.converted["Observation"] += 1
    del items
    if not rows:
        return pd.DataFrame(columns=["STUDYID", "DOMAIN", "USUBJID", "EGSEQ", "EGTESTCD", "EGTEST"])
    df = pd.DataFrame(rows)
    del rows
    std = derive_standard(df["EGTESTCD"], df["EGORRES"], df["EGORRESU"], pd.Series(coded, dtype=object))
    for c in std.columns:
        df[c] = std[c]
    df = apply_overrides(df, over)
    df = study_days(df, "EGDTC", "EGDY", over, rfstdtc)
    df = seq_where_missing(df, "EG")
    order = [v.name for v in mappings.sdtm_domain("EG").variables]
    return df[[c for c in order if c in df.columns] + [c for c in df.columns if c not in order]]


def _has_value(part: dict[str, Any]) -> bool:
    return any(k.startswith("value") for k in part)


def _record(part: dict[str, Any], seen: Counter[str]) -> dict[str, Any] | tuple[str, str, Any]:
    """The EG fields of an Observation or component with an ECG code; (field, reason, value) if unusable."""
    code = part.get("code")
    testcd = component_test(code, seen)  # the Observation's own code is an ECG test (_parts): ecg_test gives the same
    name = next((text(c.get("display")) for c in _codings(code) if read_system(c.get("system"), seen) == _system()),
                "")
    rec: dict[str, Any] = {"EGTESTCD": testcd, "EGTEST": name or ecg_terms.test_names().get(testcd, testcd),
                           "EGORRESU": "", "coded": ""}
    q = part.get("valueQuantity")
    if isinstance(q, dict):
        value = q.get("value")
        if not isinstance(value, int | float) or isinstance(value, bool):
            return "valueQuantity.value", "the ECG value is not a number", text(value)
        orig = next((e.get("valueString") for e in (q.get("_value") or {}).get("extension") or ()
                     if isinstance(e, dict) and e.get("url") == terms.ext_url("sdtm_original_text")), None)
        unit = text(q.get("code")) or text(q.get("unit"))
        own = text(q.get("unit")) in _ucum_of()
        cdisc, factor = (text(q.get("unit")), 1.0) if own else _unit_of_ucum().get(unit, (None, 1.0))
        if cdisc is None:
            known = ", ".join(sorted(_unit_of_ucum()))
            return "valueQuantity.code", f"unit '{unit}' is not an ECG unit (known: {known})", unit
        rec["EGORRESU"] = cdisc
        if factor != 1.0:  # converted (s -> ms): the product to 6 decimals, so 0.16 s is "160", not 160.00000000000003
            rec["EGORRES"] = format_number(pd.Series([round(value * factor, 6)]))[0]
        else:
            rec["EGORRES"] = orig if orig is not None else number_back(value)
        return rec
    cc = part.get("valueCodeableConcept")
    if isinstance(cc, dict):
        term = next((_term_by_nci().get(c.get("code")) for c in _codings(cc)
                     if read_system(c.get("system"), seen) == terms.system("ncit")
                     and _term_by_nci().get(c.get("code"))), "")
        rec["EGORRES"] = text(cc.get("text")) or next((text(c.get("display")) for c in _codings(cc)), "")
        rec["coded"] = term or (rec["EGORRES"].upper() if rec["EGORRES"].upper() in ecg_terms.result_codes()
                                else "")
        return rec
    if isinstance(part.get("valueString"), str):
        rec["EGORRES"] = part["valueString"]
        up = rec["EGORRES"].upper()
        rec["coded"] = up if up in ecg_terms.result_codes() else ""
        return rec
    return "value[x]", "the ECG value is neither a Quantity, a CodeableConcept nor a string", ""
