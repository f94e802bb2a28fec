"""Encounter per subject visit (IG: VISITNUM -> Encounter.identifier; VISIT -> Encounter.type.text here)."""

from __future__ import annotations

from typing import Any

from msc_interop.fhir import terms
from msc_interop.fhir.common import coding, float_text, read_carried, text
from msc_interop.fhir.context import WriteContext


def build_encounters(ctx: WriteContext) -> list[dict[str, Any]]:
    v = ctx.version
    status = terms.fixed("encounter_status")[v.name]
    cls = terms.fixed("encounter_class")
    class_coding = coding(cls["system"], cls["code"], cls["display"])
    out = []
    for rec in ctx.encounters.to_dict("records"):
        res: dict[str, Any] = {"resourceType": "Encounter", "id": rec["id"]}
        if text(rec["EPOCH"]):
            res["extension"] = [{"url": terms.ext_url("sdtm_variables"),
                                 "extension": [{"url": "EPOCH", "valueString": text(rec["EPOCH"])}]}]
        res["identifier"] = [{"system": terms.id_system("visitnum"), "value": float_text(float(rec["VISITNUM"]))}]
        res["status"] = status
        if v.has("Encounter.class_coding"):
            res["class"] = class_coding
        else:
            res["class"] = [{"coding": [class_coding]}]
        if text(rec["VISIT"]):
            res["type"] = [{"text": text(rec["VISIT"])}]
        res["subject"] = ctx.ref("Patient", ctx.patient_rids[text(rec["USUBJID"])])
        out.append(res)
    return out


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
