"""VS <-> Observation (category vital-signs), R4 and R5 alike: build_vital_signs (writer, column-wise like LB) and
read_vital_signs (reader, from the flat records the lab Flattener made while the files were read).

Mapping (IG VS rows; docs/fhir-mapping.md "VS"): VSTESTCD/VSTEST -> code (the LOINC of the FHIR vital-signs profile
from mappings/vital_signs.yaml, msc-interop's cdisc-vstestcd coding (userSelected) and the NCI Thesaurus coding);
VSORRES/VSORRESU -> valueQuantity (UCUM code from units.yaml); VSDTC -> effectiveDateTime; VISITNUM -> encounter;
STUDYID -> extension workflow-researchStudy. VSSTRESC/N/U are derived from the original result through the test's
conversion (carried where the record differs), VSDY from VSDTC and RFSTDTC; VSPOS, the baseline flag and every
other variable are carried in sdtm-variables.

Hospital Observations: category vital-signs, or a LOINC of mappings/vital_signs.yaml, is a vital sign (is_vital_sign,
called from the lab reader); the test comes from the LOINC, the unit from the Quantity's UCUM code per test
("/min": beats/min for a heart rate, breaths/min for a respiratory rate); a blood-pressure panel (85354-9) becomes
one VS record per component whose coding is a LOINC (system and code) of the mapping, and a component with none is
listed (converted without it, REJ-FHIR-005). A vital sign the mapping has no test for is skipped and counted (exit 0).
Not done (SDTMIG 4.5.1.2, as LB): a dataAbsentReason, of the Observation or of a panel's component, gives a record
with VSORRES empty, VSSTAT NOT DONE and VSREASND its text; a vital sign with neither value nor dataAbsentReason is
rejected ("no value"), and a panel component with neither is named in the report (converted without it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import numpy as np
import orjson
import pandas as pd

from msc_interop import vital_signs
from msc_interop.distinct import per_distinct
from msc_interop.fhir import ids, terms
from msc_interop.fhir.columns import CHUNK_ROWS, SLOT, Element, Factorized, ResourceColumns
from msc_interop.fhir.common import Carrier, coding, concept, ct_coding, text
from msc_interop.fhir.context import WriteContext, encounter_lookup
from msc_interop.fhir.datetimes import dtc_to_fhir
from msc_interop.fhir.read_common import (
    ReadContext,
    apply_overrides,
    observation_admitted,
    seq_where_missing,
    study_days,
)
from msc_interop.fhir.read_common import shown as json_shown
from msc_interop.fhir.remarks import count_flags
from msc_interop.fhir.resources.lab.read import expand, result_text
from msc_interop.fhir.resources.lab.undated import say_undated
from msc_interop.fhir.resources.lab.write import result_value
from msc_interop.fhir.resources.vital_kind import own_test
from msc_interop.fhir.systems import read_system

DOMAIN = "VS"
_CATEGORY = "vital-signs"


# --- writing -------------------------------------------------------------------------------------------------

def build_vital_signs(ctx: WriteContext, chunk_size: int = CHUNK_ROWS) -> Iterator[ResourceColumns]:
    """Observations of the study's VS in chunks of `chunk_size` rows, each held column-wise."""
    vs = ctx.study.datasets.get(DOMAIN)
    if vs is None or vs.empty:
        return
    vs = vs.reset_index(drop=True)
    days = ctx.study_days(vs["VSDTC"] if "VSDTC" in vs.columns else pd.Series("", index=vs.index, dtype=object),
                          vs["USUBJID"]).to_numpy(dtype="float64", na_value=np.nan)
    rids = ctx.record_ids(DOMAIN)
    for start in range(0, len(vs), chunk_size):
        stop = min(start + chunk_size, len(vs))
        yield _chunk(ctx, vs.iloc[start:stop].reset_index(drop=True), rids[start:stop], days[start:stop], start)


def _chunk(ctx: WriteContext, df: pd.DataFrame, rid: np.ndarray, days: np.ndarray, offset: int) -> ResourceColumns:
    cols = Factorized(df)
    n = cols.n
    subject_codes, subjects = cols.codes("USUBJID")
    seq_codes, seq_texts = ids.seq_text_codes(cols.series("VSSEQ"))
    heads = [f"{ctx.studyid}/{u}/VS/" for u in subjects]
    ident = (np.array([*heads, ""], dtype=object)[subject_codes]
             + np.array([*seq_texts, ""], dtype=object)[seq_codes]).tolist()
    enc = encounter_lookup(ctx, df) if "VISITNUM" in df.columns else None
    enc_codes, enc_values = _encounter_element(ctx, enc, n)
    v_codes, v_combos = cols.distinct_texts("VSORRES", "VSORRESU")
    values = [result_value(o, u) for o, u in v_combos]
    is_q = np.array([v is not None and v[0] == "valueQuantity" for v in values] + [False], dtype=bool)[v_codes]
    c_codes, c_combos = cols.distinct_texts("VSTESTCD", "VSTEST")
    d_codes, dtc = cols.codes("VSDTC")
    fhir_dt, keep = dtc_to_fhir(pd.Series(dtc, dtype=object), ctx.tz)
    url_dtc = terms.ext_url("sdtm_dtc")
    cat = terms.fixed("vital_signs_category")
    category = [{"coding": [coding(cat["system"], cat["code"], cat["display"])]}]
    s_codes, s_values = cols.codes("USUBJID")
    return ResourceColumns("Observation", n, [
        Element.constant("resourceType", "Observation", n),
        Element.per_row_values("id", rid.tolist()),
        _extension(ctx, cols, enc, is_q, days, offset),
        Element.text("identifier", [{"system": terms.id_system("seq"), "value": SLOT}], ident),
        Element.constant("status", terms.fixed("observation_status"), n),
        Element.constant("category", category, n),
        Element.shared("code", c_codes, [_code(t, name) for t, name in c_combos]),
        Element.shared("subject", s_codes, [{"reference": ctx.refs("Patient", ctx.patient_rids[u])} for u in s_values]),
        Element.shared("encounter", enc_codes, enc_values),
        Element.shared("effectiveDateTime", d_codes, fhir_dt.tolist()),
        Element.shared("_effectiveDateTime", d_codes, [{"extension": [{"url": url_dtc, "valueString": o}]} if k
                                                      else None for o, k in zip(dtc, keep, strict=True)]),
        Element.choice(v_codes, values, "value[x]"),
    ])


def _code(testcd: str, name: str) -> dict[str, Any]:
    """code: the profile's LOINC, the cdisc-vstestcd coding (userSelected) and the NCI Thesaurus coding."""
    t = vital_signs.tests().get(testcd)
    codings = [coding("loinc", t.loinc, t.loinc_display)] if t is not None else []
    if testcd:
        c: dict[str, Any] = {"system": terms.system("cdisc_vstestcd"), "code": testcd}
        if name:
            c["display"] = name
        c["userSelected"] = True
        codings.append(c)
        ncit = ct_coding("VSTESTCD", testcd)
        if ncit:
            codings.append(ncit)
    return concept(codings, name or testcd or "unnamed vital sign")


def _encounter_element(ctx: WriteContext, enc: pd.DataFrame | None, n: int) -> tuple[np.ndarray, list[Any]]:
    if enc is None:
        return np.full(n, 0, dtype=np.int64), [None]
    codes, uniques = pd.factorize(enc["id"].astype(object))
    codes = np.asarray(codes, dtype=np.int64)
    values: list[Any] = [ctx.ref("Encounter", r) for r in uniques]
    codes[codes < 0] = len(values)
    return codes, [*values, None]


def _extension(ctx: WriteContext, cols: Factorized, enc: pd.DataFrame | None, is_q: np.ndarray, days: np.ndarray,
               offset: int) -> Element:
    """workflow-researchStudy, the carried SDTM variables (unmapped ones; mapped ones FHIR would not give back
    as they are), the SUPPVS records."""
    df, n = cols.df, cols.n
    std = vital_signs.standardize(cols.series("VSTESTCD"), cols.series("VSORRES"), cols.series("VSORRESU"))
    special = {
        "STUDYID": cols.differs("STUDYID", ctx.studyid), "DOMAIN": cols.differs("DOMAIN", DOMAIN),
        "USUBJID": cols.blank("USUBJID"), "VSTESTCD": cols.blank("VSTESTCD"), "VSTEST": cols.blank("VSTESTCD"),
        "VSORRESU": ~is_q & ~cols.blank("VSORRESU"),
        "VSSTRESC": cols.texts("VSSTRESC") != std["VSSTRESC"].to_numpy(dtype=object),
        "VSSTRESU": cols.texts("VSSTRESU") != std["VSSTRESU"].to_numpy(dtype=object),
        "VSSTRESN": _differs_num(cols.series("VSSTRESN"), std["VSSTRESN"]),
        "VSDY": _differs_num(cols.series("VSDY"), pd.Series(days)),
    }
    if enc is not None:
        for var in ("VISIT", "EPOCH"):  # text() once per distinct visit, not once per record
            special[var] = cols.texts(var) != per_distinct(lambda u: u.map(text), enc[var]).to_numpy(dtype=object)
    carrier = Carrier(n, ctx.tz)
    carrier.add_dataset(df, terms.mapped_variables(DOMAIN), special, blank=cols.blank)
    carried_codes, carried = carrier.distinct()
    wf = {"url": terms.ext_url("workflow_research_study"), "valueReference": ctx.study_ref()}
    values: list[Any] = [[wf], *([wf, c] for c in carried)]
    codes = carried_codes + 1
    for row, extra in ctx.supp_rows(DOMAIN, offset, offset + n):
        c = carried_codes[row - offset]
        values.append([wf, *([carried[c]] if c >= 0 else []), *extra])
        codes[row - offset] = len(values) - 1
    return Element("extension", codes, values)


def _differs_num(a: pd.Series, b: pd.Series) -> np.ndarray:
    x = pd.to_numeric(a, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    y = pd.to_numeric(b, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return ~((np.isnan(x) & np.isnan(y)) | (x == y))


# --- reading -------------------------------------------------------------------------------------------------

_ROW = ["STUDYID", "DOMAIN", "USUBJID", "VSTESTCD", "VSTEST", "VSORRES", "VSORRESU", "VSSTAT", "VSREASND", "VSDTC",
        "VSSEQ", "VISITNUM", "VISIT", "EPOCH"]
_NOT_DONE = "NOT DONE"


def read_vital_signs(r: ReadContext, rfstdtc: dict[str, str], studyid: str) -> pd.DataFrame | None:
    """VS from the vital-sign flat records the lab reader set aside (r.vs_found: the records with where they are,
    subject(rec) -> (USUBJID or None, problem), and its per-distinct dates and encounters); None when none."""
    if r.vs_found is None or not r.vs_found[0]:
        return None
    found, subj_of, memo = r.vs_found
    r.vs_found = None
    component_test = _ComponentTests(r.tallies)
    rows: list[tuple[Any, ...]] = []
    over: list[dict[str, Any]] = []
    for held in found:
        rec = expand(held)
        loc = rec.loc
        usubjid, problem = subj_of(rec)
        if not observation_admitted(r, loc, rec, usubjid, problem):
            continue
        own = own_test(rec)
        parts, unplaced = _parts(rec, own, component_test)
        if not parts:
            r.skip("Observation", _no_parts_reason(rec))
            continue
        if rec.effective_orig is not None:
            vsdtc = rec.effective_orig
        else:
            vsdtc = memo.dtc(rec.effective)
            if vsdtc is None:
                r.reject(loc, "Observation", f"Observation.{rec.effective_el}", memo.dtc_reason(rec.effective),
                         rec.effective, code="REJ-FHIR-006")
                continue
        made, bad, missing = [], None, []
        for testcd, name, value, absent in parts:
            if own is None and not _has_value(value):
                if absent is not None:  # not done (SDTMIG 4.5.1.2): no result, the status and the reason
                    made.append((testcd, name, "", "", _NOT_DONE, text(absent)))
                else:
                    missing.append(testcd)
                continue
            orres, unit, why = _result(testcd, value, own is not None)
            if why:
                bad = why
                break
            made.append((testcd, name, orres, unit, "", ""))
        if bad is None and not made:
            bad = ("Observation.value[x]", "no value and no dataAbsentReason", "", "REJ-FHIR-006")
        if bad is not None:
            r.reject(loc, "Observation", bad[0], bad[1], bad[2], code=bad[3])
            continue
        say_undated(r, loc, rec, "VSDTC")
        if rec.rr_shown is not None or rec.components:
            _say_ranges(r, loc, rec, component_test)
        for testcd in missing:  # a panel's component with nothing: the record converted without it, said
            r.note_field(loc, "Observation", "Observation.component.value[x]", f"converted without {testcd}: its "
                         "component has no value and no dataAbsentReason", testcd, code="REJ-FHIR-006")
        for index, shown in unplaced:  # a component with no vital-sign code: the record converted without it, said
            r.note_field(loc, "Observation", "Observation.component.code", f"converted without component[{index}]: "
                         f"its code is no vital-sign test of mappings/vital_signs.yaml (a LOINC there, system "
                         f"{component_test.loinc})", shown, code="REJ-FHIR-005")
        enc = memo.encounter(loc, rec.encounter)
        seq = text(rec.seq).rsplit("/", 1)[-1] if rec.seq is not None else ""
        vsseq = int(seq) if seq.lstrip("-").isdigit() and len(made) == 1 else None
        visit = (vsseq, enc.get("VISITNUM"), enc.get("VISIT", ""), enc.get("EPOCH", ""))
        for made_row in made:  # a tuple per row (_ROW): a million dicts cost more than their data
            rows.append((studyid, DOMAIN, usubjid, *made_row, vsdtc, *visit))
            over.append(rec.carried or {})
        if rec.supp:
            r.obs_supp += rec.supp
        count_flags(r, DOMAIN, loc, rec.flagged, len(made))  # status, dates without an offset, LOINC displays
        r.converted["Observation"] += 1
    del found  # the records are rows now: not held while VS is made
    if not rows:
        return pd.DataFrame(columns=["STUDYID", "DOMAIN", "USUBJID", "VSSEQ", "VSTESTCD", "VSTEST"])
    frame = pd.DataFrame(rows, columns=_ROW)
    del rows
    if not frame["VSSTAT"].astype(bool).any():  # no record not done: no VSSTAT / VSREASND columns
        frame = frame.drop(columns=["VSSTAT", "VSREASND"])
    df = apply_overrides(frame, over)
    std = vital_signs.standardize(df["VSTESTCD"], df["VSORRES"], df["VSORRESU"])
    for c in ("VSSTRESC", "VSSTRESN", "VSSTRESU"):  # derived where the record does not carry its own
        carried = np.array([c in o for o in over], dtype=bool)
        df[c] = std[c].where(~carried, df[c]) if c in df.columns else std[c]
    df = study_days(df, "VSDTC", "VSDY", over, rfstdtc)
    return seq_where_missing(df, DOMAIN)


_NO_RANGE = ("SDTMIG VS has no normal-range variables (VSORNRLO/VSORNRHI are SDTM model variables msc-interop does "
             "not add to VS)")


def _say_ranges(r: ReadContext, loc: Any, rec: Any, component_test: _ComponentTests) -> None:
    """A vital sign converted without its referenceRange, or a panel component's: said (VS holds no range)."""
    if rec.rr_shown is not None:
        r.note_field(loc, "Observation", "Observation.referenceRange", f"converted without the referenceRange: "
                     f"{_NO_RANGE}", rec.rr_shown, code="REJ-FHIR-006")
    for i, comp in enumerate(rec.components or ()):
        if isinstance(comp, dict) and comp.get("referenceRange"):
            testcd = component_test(comp.get("code"))[0] or f"component[{i}]"
            r.note_field(loc, "Observation", "Observation.component.referenceRange", f"converted without the "
                         f"referenceRange of {testcd}: {_NO_RANGE}", json_shown(comp["referenceRange"], 200),
                         code="REJ-FHIR-006")


class _ComponentTests:
    """The VSTESTCD of a panel component's code: a coding whose system reads as LOINC (fhir/systems.py read_system:
    a known non-canonical URI of LOINC is LOINC, tallied for the read's notes) and whose code is a test of
    mappings/vital_signs.yaml; 8480-6 under a local code system is not LOINC's systolic pressure. Worked out once
    per distinct code element (keyed by its JSON, as the lab Flattener's memos), with the codings as the report
    shows them (system|code) for a component that has none."""

    def __init__(self, seen: Counter[str]) -> None:
        self.seen = seen
        self.loinc = terms.system("loinc")
        self.memo: dict[bytes, tuple[str | None, str]] = {}

    def __call__(self, code: Any) -> tuple[str | None, str]:
        """(VSTESTCD or None, the codings shown) of a component's `code` element."""
        try:
            key = orjson.dumps(code)
        except orjson.JSONEncodeError:  # an integer beyond 64 bits: not remembered
            return self._test(code)
        found = self.memo.get(key)
        if found is None:
            found = self._test(code)
            if len(self.memo) < 100_000:
                self.memo[bytes(memoryview(key))] = found
        return found

    def _test(self, code: Any) -> tuple[str | None, str]:
        codings = [c for c in code.get("coding") or () if isinstance(c, dict)] if isinstance(code, dict) else []
        index, loinc = vital_signs.loinc_index(), self.loinc
        testcd = next((index[c["code"]] for c in codings if isinstance(c.get("code"), str) and c["code"] in index
                       and read_system(c.get("system"), self.seen) == loinc), None)
        shown = "; ".join(f"{text(c.get('system'))}|{text(c.get('code'))}" for c in codings)
        return testcd, shown or (text(code.get("text")) if isinstance(code, dict) else "")


def _parts(rec: Any, own: str | None, component_test: _ComponentTests
           ) -> tuple[list[tuple[str, str, tuple, Any]], list[tuple[int, str]]]:
    """(VSTESTCD, VSTEST, value fields, dataAbsentReason text or None) per VS record the Observation holds: one, or
    one per component of a panel (a component with a vital-sign code, whatever its value); and (index, codings
    shown) of each component with no vital-sign code, which gives no record."""
    value = (rec.vkind, rec.qvalue, rec.qorig, rec.qcomp, rec.vtext, rec.qunit, rec.qcode, rec.qunit_text)
    if own:
        return [(own, text(rec.cdisc_display_text) or _own_display(rec, own), value, rec.absent)], []
    index = vital_signs.loinc_index()
    for code in rec.loinc_codes or ():
        if code in index:
            t = vital_signs.test(index[code])
            return [(t.testcd, t.test, value, rec.absent)], []
    out, unplaced = [], []
    for i, comp in enumerate(rec.components or ()):
        if not isinstance(comp, dict):
            continue
        testcd, shown = component_test(comp.get("code"))
        if testcd is None:
            unplaced.append((i, shown))
            continue
        t = vital_signs.test(testcd)
        out.append((t.testcd, t.test, _component_value(comp), _absent(comp.get("dataAbsentReason"))))
    return out, unplaced


def _component_value(comp: dict[str, Any]) -> tuple:
    """The value fields (as _parts gives them) of a panel's component."""
    q = comp.get("valueQuantity")
    if isinstance(q, dict):
        return ("q", q.get("value"), None, q.get("comparator"), None, q.get("unit"), q.get("code"), text(q.get("unit")))
    cc = comp.get("valueCodeableConcept")
    if isinstance(cc, dict):
        shown = cc.get("text") or next((c.get("display") or c.get("code") for c in cc.get("coding") or ()
                                        if isinstance(c, dict)), None)
        return ("cc", None, None, None, shown, None, None, "")
    if isinstance(comp.get("valueString"), str):
        return ("s", None, None, None, comp["valueString"], None, None, "")
    other = next((k for k in comp if k.startswith("value")), None)
    return ("other:" + other if other else None, None, None, None, None, None, None, "")


def _absent(dar: Any) -> str | None:
    """The text of a dataAbsentReason (as the lab Flattener reads it), None without one."""
    if not isinstance(dar, dict):
        return None
    return dar.get("text") or next((c.get("display") or c.get("code") for c in dar.get("coding") or ()
                                    if isinstance(c, dict)), "unknown")


def _has_value(value: tuple) -> bool:
    """Whether value fields hold a result (a number, a coded or string result, or another value[x] kind)."""
    vkind, qvalue, qorig = value[0], value[1], value[2]
    return (vkind == "q" and (qvalue is not None or qorig is not None)) or (vkind is not None and vkind != "q")


def _no_parts_reason(rec: Any) -> str:
    """Why a vital sign gives no VS record (its code is no test of mappings/vital_signs.yaml, nor a panel with one)."""
    panel = next((c for c in rec.loinc_codes or () if c in vital_signs.panels()), None)
    if panel is not None:
        return (f"category vital-signs: a panel ({panel}) none of whose components has a vital-sign code "
                f"mappings/vital_signs.yaml knows (a LOINC there, system {terms.system('loinc')})")
    return "category vital-signs: a vital sign mappings/vital_signs.yaml has no test for (its LOINC is not there)"


def _own_display(rec: Any, testcd: str) -> str:
    t = vital_signs.tests().get(testcd)
    return t.test if t is not None else text(rec.code_display)


def _result(testcd: str, value: tuple, own: bool) -> tuple[str, str, tuple | None]:
    """(VSORRES, VSORRESU, None) of one value, or ("", "", (field, reason, value, code)) when it cannot be read."""
    vkind, qvalue, qorig, qcomp, vtext, qunit, qcode, qunit_text = value
    orres = result_text(vkind, qvalue, qorig, qcomp, vtext)
    if isinstance(vkind, str) and vkind.startswith("other:"):
        return "", "", ("Observation.value[x]", f"a {vkind[6:]} result has no VS form here", vkind[6:], "REJ-FHIR-006")
    if vkind != "q":
        return orres, "", None
    if own:  # msc-interop wrote the CDISC unit as valueQuantity.unit
        return orres, qunit_text or "", None
    for candidate in (qcode, qunit):
        unit = vital_signs.unit_of(testcd, text(candidate)) if candidate else None
        if unit:
            return orres, unit, None
    if qvalue is not None and (qcode or qunit):
        known = vital_signs.known_units(testcd)
        return "", "", ("Observation.valueQuantity.code", f"unit {text(qcode or qunit)!r} is not a unit of vital "
                        f"sign {testcd} (known: {known}; add it in mappings/vital_signs.yaml)",
                        text(qcode or qunit), "REJ-FHIR-006")
    return orres, "", None
