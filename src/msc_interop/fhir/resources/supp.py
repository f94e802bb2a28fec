"""SUPP-- records as the `sdtm-supplemental` extension on their parent record's resource (and back)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pandas as pd

from msc_interop.fhir import terms
from msc_interop.fhir.common import text
from msc_interop.fhir.read_common import ReadContext


def supplemental_extension(dataset: str, rec: dict[str, Any], row: int, columns: list[str]) -> dict[str, Any]:
    """The extension for one SUPP-- record (row = its 1-based position in the dataset, to restore the order)."""
    subs: list[dict[str, Any]] = [{"url": "row", "valueInteger": row}]
    if dataset != "SUPP" + text(rec.get("RDOMAIN")):
        subs.append({"url": "dataset", "valueString": dataset})
    for c in columns:
        v = rec.get(c)
        t = text(v)
        if t == "":
            continue
        if isinstance(v, float):
            subs.append({"url": c, "valueDecimal": v})
        else:
            subs.append({"url": c, "valueString": t})
    return {"url": terms.ext_url("sdtm_supplemental"), "extension": subs}


def read_supplemental(resource: dict[str, Any]) -> list[dict[str, Any]]:
    """The SUPP-- records carried on a resource: dicts of column -> value plus '_row' and '_dataset'."""
    url = terms.ext_url("sdtm_supplemental")
    out: list[dict[str, Any]] = []
    extensions = resource.get("extension")
    if not isinstance(extensions, list):  # resources of types no reader checks (skipped types) may have anything
        return out
    for e in extensions:
        if not isinstance(e, dict) or e.get("url") != url or not isinstance(e.get("extension"), list):
            continue
        rec: dict[str, Any] = {}
        for sub in e["extension"]:
            if not isinstance(sub, dict):
                continue
            name = sub.get("url")
            value = next((sub[k] for k in sub if k.startswith("value")), None)
            if name == "row":
                rec["_row"] = value
            elif name == "dataset":
                rec["_dataset"] = value
            else:
                rec[name] = value
        out.append(rec)
    return out


def read_supp_datasets(r: ReadContext, keep_row: tuple[str, ...] = ()) -> dict[str, pd.DataFrame]:
    """The SUPP-- datasets from the records carried on every resource read and not rejected (a SUPP-- record
    without its parent record would be an orphan), in their original row order. The datasets of `keep_row` keep
    their rows' places in a `_row` column (their other records come from elements: merge_rows puts them together)."""
    recs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    found = [rec for items in r.by_type.values() for loc in items if id(loc) not in r.rejected_ids
             for rec in read_supplemental(loc.resource)]
    for rec in found + r.obs_supp:
        name = rec.pop("_dataset", None) or "SUPP" + text(rec.get("RDOMAIN"))
        recs[name].append(rec)
    for name, lst in recs.items():
        lst.sort(key=lambda x: x.get("_row") or 0)
        if name not in keep_row:
            for x in lst:
                x.pop("_row", None)
    return {name: pd.DataFrame(lst) for name, lst in recs.items()}


def merge_rows(*frames: pd.DataFrame | None) -> pd.DataFrame | None:
    """One dataset from the parts read from elements and from sdtm-supplemental, each row at its `_row` place."""
    found = [f for f in frames if f is not None and len(f)]
    if not found:
        return None
    df = pd.concat(found, ignore_index=True)
    if "_row" in df.columns:
        df = df.sort_values("_row", kind="stable").drop(columns="_row")
    return df.reset_index(drop=True)
