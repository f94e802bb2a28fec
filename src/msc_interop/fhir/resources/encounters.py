"""Encounter per subject visit (IG: VISITNUM -> Encounter.identifier; VISIT -> Encounter.type.text here), and SV.

An Encounter that holds the visit's SV record says so with the sdtm-record extension (dataset SV, its row) and
has the visit's period (SVSTDTC..SVENDTC: R4 period, R5 actualPeriod); SV variables with no element ride in its
sdtm-variables beside EPOCH. Reading gives SV back from those Encounters only: a hospital's Encounter has no
VISITNUM (records are placed without a visit, fhir/read_common.py `visit`), so it cannot be an SV record.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from msc_interop.fhir import terms
from msc_interop.fhir.columns import Element, Factorized, ResourceColumns
from msc_interop.fhir.common import Carrier, coding, float_text, periods, read_carried, text, texts
from msc_interop.fhir.context import WriteContext
from msc_interop.fhir.read_common import (
    ReadContext,
    apply_overrides,
    kept_dtc,
    strict_bundle,
    study_days,
    subject_of,
)
from msc_interop.fhir.shapes import EXTENSION_PATHS, Shape, kept_text


def build_encounters(ctx: WriteContext) -> ResourceColumns:
    """One Encounter per subject visit, column-wise (fhir/columns.py): each element once per distinct value."""
    v = ctx.version
    cls = terms.fixed("encounter_class")
    class_coding = coding(cls["system"], cls["code"], cls["display"])
    cols = Factorized(ctx.encounters.reset_index(drop=True))
    n = cols.n
    epoch_codes, epochs = cols.codes("EPOCH")
    visitnum_codes, visitnums = pd.factorize(cols.series("VISITNUM"), use_na_sentinel=False)
    visit_codes, visits = cols.codes("VISIT")
    subject_codes, subjects = cols.codes("USUBJID")
    sv_ext, sv_periods = _sv_parts(ctx)
    rows = np.arange(n, dtype=np.int64)
    return ResourceColumns("Encounter", n, [
        Element.constant("resourceType", "Encounter", n),
        Element.per_row_values("id", cols.series("id").tolist()),
        Element.shared("extension", rows, [_extension(epochs[c] if c >= 0 else "", sv_ext[i])
                                           for i, c in enumerate(epoch_codes.tolist())]),
        Element.shared("identifier", visitnum_codes, [
            [{"system": terms.id_system("visitnum"), "value": float_text(float(x))}] for x in visitnums]),
        Element.constant("status", terms.fixed("encounter_status")[v.name], n),
        Element.constant("class", class_coding if v.has("Encounter.class_coding") else [{"coding": [class_coding]}],
                         n),
        Element.shared("type", visit_codes, [[{"text": x}] if x else None for x in visits]),
        Element.shared("subject", subject_codes, [ctx.ref("Patient", ctx.patient_rids[u]) for u in subjects]),
        Element.shared(v.el("Encounter.period"), rows, sv_periods),
    ])


def _sv_parts(ctx: WriteContext) -> tuple[list[list[dict[str, Any]]], list[dict[str, Any] | None]]:
    """Per Encounter: the SV record's extensions (sdtm-record, its carried variables) and its period."""
    held = ctx.encounter_sv_rows
    n = len(held)
    exts: list[list[dict[str, Any]]] = [[] for _ in range(n)]
    spans: list[dict[str, Any] | None] = [None] * n
    enc = np.flatnonzero(held >= 0)
    if not len(enc):
        return exts, spans
    sv = ctx.study["SV"].reset_index(drop=True)
    rows = held[enc]
    sub = sv.iloc[rows].reset_index(drop=True)
    start, end = (sub[c].astype(object) if c in sub.columns else pd.Series("", index=sub.index, dtype=object)
                  for c in ("SVSTDTC", "SVENDTC"))
    carried = sv_carrier(ctx, sub, start, end).extensions()
    record = terms.ext_url("sdtm_record")
    made = periods(list(zip(texts(start).tolist(), texts(end).tolist(), strict=True)), ctx.tz)
    for k, (e, r) in enumerate(zip(enc.tolist(), rows.tolist(), strict=True)):
        exts[e] = [*([carried[k]] if carried[k] is not None else []), {"url": record, "extension": [
            {"url": "dataset", "valueCode": "SV"}, {"url": "row", "valueInteger": ctx.row_base.get("SV", 0) + r + 1}]}]
        spans[e] = made[k]
    return exts, spans


def sv_carrier(ctx: WriteContext, sub: pd.DataFrame, start: pd.Series, end: pd.Series) -> Carrier:
    """The SV variables no element gives back: those the mapping does not place, and the derived ones (study
    days, STUDYID, DOMAIN) where the record's own value differs from what a reader derives."""
    derived = {"SVSTDY": ctx.study_days(start, sub["USUBJID"]), "SVENDY": ctx.study_days(end, sub["USUBJID"]),
               "STUDYID": pd.Series(ctx.studyid, index=sub.index, dtype=object),
               "DOMAIN": pd.Series("SV", index=sub.index, dtype=object)}
    special = {c: differs(sub[c], d) for c, d in derived.items() if c in sub.columns}
    carrier = Carrier(len(sub), ctx.tz)
    carrier.add_dataset(sub, terms.mapped_variables("SV"), special)
    return carrier


def differs(actual: pd.Series, derived: pd.Series) -> np.ndarray:
    """Where a record's value is not the one a reader derives (numbers compared as numbers, else as text)."""
    a, d = actual.reset_index(drop=True), derived.reset_index(drop=True)
    if pd.api.types.is_numeric_dtype(a.dtype):
        x = pd.to_numeric(a, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        y = pd.to_numeric(d, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        return ~((np.isnan(x) & np.isnan(y)) | (x == y))
    return texts(a) != texts(d)


def _extension(epoch: str, sv: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """The Encounter's extensions: sdtm-variables with EPOCH (and the SV record's carried variables), sdtm-record."""
    url = terms.ext_url("sdtm_variables")
    subs = [{"url": "EPOCH", "valueString": epoch}] if epoch else []
    rest = [e for e in sv if e["url"] != url]
    subs += [s for e in sv if e["url"] == url for s in e["extension"]]
    return ([{"url": url, "extension": subs}] if subs else []) + rest or None


# The elements read, with their FHIR JSON shape (fhir/shapes.py)
ENCOUNTER = Shape("Encounter", [
    "id", "identifier.system", "identifier.value", "type.text", *EXTENSION_PATHS, "subject.reference",
    "period.start", "period.end", *kept_text("period._start"), *kept_text("period._end"), "actualPeriod.start",
    "actualPeriod.end", *kept_text("actualPeriod._start"), *kept_text("actualPeriod._end"),
], kept={"subject": "its SV record", "period": "SVSTDTC and SVENDTC", "actualPeriod": "SVSTDTC and SVENDTC"})


def read_encounter(res: dict[str, Any]) -> dict[str, Any]:
    """VISITNUM (float or None), VISIT, EPOCH of an Encounter (VISITNUM only from msc-interop's identifier)."""
    visitnum = None
    for i in res.get("identifier") or ():
        if i.get("system") == terms.id_system("visitnum"):
            try:
                visitnum = float(i.get("value"))
            except (TypeError, ValueError):
                visitnum = None
    visit = ""
    for t in res.get("type") or ():
        if isinstance(t, dict) and t.get("text"):
            visit = t["text"]
            break
    epoch = read_carried(res, None).get("EPOCH") or ""
    return {"VISITNUM": visitnum, "VISIT": visit, "EPOCH": epoch}


def record_row(element: dict[str, Any] | None, dataset: str) -> int | None:
    """The 1-based row of the `dataset` record an element holds (its sdtm-record extension), None if it holds none."""
    url = terms.ext_url("sdtm_record")
    for e in (element or {}).get("extension") or ():
        if isinstance(e, dict) and e.get("url") == url:
            subs = {s.get("url"): next((s[k] for k in s if k.startswith("value")), None)
                    for s in e.get("extension") or () if isinstance(s, dict)}
            if subs.get("dataset") == dataset and isinstance(subs.get("row"), int):
                return subs["row"]
    return None


def read_sv(r: ReadContext, subjects: dict[str, str], rfstdtc: dict[str, str], studyid: str) -> pd.DataFrame | None:
    """SV from the Encounters that hold an SV record (with `_row`, their place in the dataset); None if none do."""
    rows: list[dict[str, Any]] = []
    over: list[dict[str, Any]] = []
    for loc in r.by_type.get("Encounter", []):
        res = loc.resource
        row_no = record_row(res, "SV")
        if row_no is None:
            continue
        usubjid, why = r.subject(subject_of(res.get("subject")), strict_bundle(loc), subjects)
        if usubjid is None:
            r.note_field(loc, "Encounter", "Encounter.subject", f"converted without its SV record: {why}",
                         text((res.get("subject") or {}).get("reference")), code="REJ-FHIR-003")
            continue
        name = "period" if "period" in res else "actualPeriod"
        span = res.get(name) or {}
        row = {"STUDYID": studyid, "DOMAIN": "SV", "USUBJID": usubjid, **read_encounter(res), "_row": row_no}
        for var, part in (("SVSTDTC", "start"), ("SVENDTC", "end")):
            row[var] = kept_dtc(r, loc, "Encounter", span, part, f"Encounter.{name}.{part}", r.tz)
        rows.append(row)
        carried = read_carried(res, r.tz)
        carried.pop("EPOCH", None)
        over.append(carried)
    if not rows:
        return None
    df = apply_overrides(pd.DataFrame(rows), over)
    for part in ("ST", "EN"):
        df = study_days(df, f"SV{part}DTC", f"SV{part}DY", over, rfstdtc)
    return df
