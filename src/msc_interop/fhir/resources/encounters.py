"""Encounter per subject visit (IG: VISITNUM -> Encounter.identifier; VISIT -> Encounter.type.text here)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from msc_interop.fhir import terms
from msc_interop.fhir.columns import Element, Factorized, ResourceColumns
from msc_interop.fhir.common import coding, float_text, read_carried
from msc_interop.fhir.context import WriteContext
from msc_interop.fhir.shapes import EXTENSION_PATHS, Shape


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
    url = terms.ext_url("sdtm_variables")
    return ResourceColumns("Encounter", n, [
        Element.constant("resourceType", "Encounter", n),
        Element.per_row_values("id", cols.series("id").tolist()),
        Element.shared("extension", epoch_codes, [
            [{"url": url, "extension": [{"url": "EPOCH", "valueString": e}]}] if e else None for e in epochs]),
        Element.shared("identifier", visitnum_codes, [
            [{"system": terms.id_system("visitnum"), "value": float_text(float(x))}] for x in visitnums]),
        Element.constant("status", terms.fixed("encounter_status")[v.name], n),
        Element.constant("class", class_coding if v.has("Encounter.class_coding") else [{"coding": [class_coding]}],
                         n),
        Element.shared("type", visit_codes, [[{"text": x}] if x else None for x in visits]),
        Element.shared("subject", subject_codes, [ctx.ref("Patient", ctx.patient_rids[u]) for u in subjects]),
    ])


# The elements read, with their FHIR JSON shape (fhir/shapes.py)
ENCOUNTER = Shape("Encounter", ["id", "identifier.system", "identifier.value", "type.text", *EXTENSION_PATHS])


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
