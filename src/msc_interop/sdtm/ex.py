"""EX (Exposure, SDTMIG 3.4 section 6.1.4): one record per infusion.

The product and dose form come from the study's `products` (study.yaml: each arm's treatment, a placebo), else
from mappings/exposure.yaml, and the route from CDISC ROUTE (with exposure.yaml's spellings); the dose stays as
collected (EXDOSE 1, EXDOSU 10^6/kg) and the body weight measured for the dose goes to SUPPEX (QNAM WEIGHT),
since EX has no variable for it and the total cells given (dose x weight) need it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_interop import dates, mappings
from msc_interop.columns_frame import frame_of_columns
from msc_interop.distinct import is_in, per_distinct
from msc_interop.records.reader import RawRecords
from msc_interop.sdtm.common import (
    assign_seq,
    codelist_lookup,
    make_supp,
    map_terms,
    map_visits,
    normalize_dates,
    note_ending_before_start,
    rows_at,
    subject_keys,
)
from msc_interop.study import StudyMeta

FORM = "exposures"


def _product_lookup(meta: StudyMeta) -> tuple[dict[str, str], dict[str, dict]]:
    """What names each product (name, EXTRT, aliases, upper-cased) and the products by name: the study's own
    (study.yaml `products`), else mappings/exposure.yaml's."""
    lookup, by_name = {}, {}
    for p in meta.products or mappings.exposure()["products"]:
        by_name[p["name"]] = p
        for alias in (p["name"], p["extrt"], *p.get("aliases", [])):
            lookup[alias.strip().upper()] = p["name"]
    return lookup, by_name


def _route_lookup() -> dict[str, str]:
    lookup = dict(codelist_lookup("ROUTE"))
    for r in mappings.exposure()["routes"]:
        for s in r.get("spellings", []):
            lookup[s.strip().upper()] = r["cdisc"]
    return lookup


def build_ex(records: RawRecords, meta: StudyMeta, dm: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """EX and SUPPEX rows (without study days: those need RFSTDTC, which EX itself defines)."""
    if FORM not in records.forms:
        return pd.DataFrame(), pd.DataFrame()
    keys = subject_keys(records, FORM, dm)
    if "_screen_failure" in dm.columns and dm["_screen_failure"].any():
        keys = _reject_screen_failures(records, dm, keys)
    products, by_name = _product_lookup(meta)
    product = map_terms(records, FORM, "product", products, "a product of the study's products (study.yaml)"
                        if meta.products else "a study product of mappings/exposure.yaml (or give the study's "
                        "products in study.yaml)")
    route = map_terms(records, FORM, "route", _route_lookup(), "a CDISC ROUTE term", required=True)
    df = records.forms[FORM]
    unit = mappings.normalize_unit(df["dose_unit"])
    ok_unit = unit.isin(mappings.codelist("UNIT").values)
    if (~ok_unit).any():
        df = records.reject_rows(FORM, ~ok_unit, "dose_unit",
                                 "dose unit is not a CDISC UNIT term or known spelling (e.g. 10^6/kg)",
                                 code="REJ-REC-010")
    dose = per_distinct(lambda u: pd.to_numeric(u, errors="coerce"), df["dose"])
    start = normalize_dates(records, FORM, "start_datetime")
    end = normalize_dates(records, FORM, "end_datetime") if "end_datetime" in df.columns else None
    note_ending_before_start(records, FORM, start, end, ("start_datetime", "end_datetime"))
    has_visit = "visit" in records.forms[FORM].columns
    visits = map_visits(records, FORM, meta, date="start_datetime") if has_visit else None

    df = records.forms[FORM]
    idx = df.index
    prod = per_distinct(lambda u: pd.DataFrame({  # (a product's names once, not a dict looked up per row)
        "extrt": u.map(by_name).map(lambda p: p["extrt"]),
        "form": u.map(by_name).map(lambda p: p.get("dose_form", ""))}), rows_at(product, idx))
    keys = rows_at(keys, idx)
    ex = frame_of_columns({  # (each column as it is: the codes the steps found stay known to the writers)
        "STUDYID": keys["STUDYID"],
        "DOMAIN": "EX",
        "USUBJID": keys["USUBJID"],
        "EXTRT": prod["extrt"],
        "EXDOSE": rows_at(dose, idx),
        "EXDOSU": rows_at(unit, idx),
        "EXDOSFRM": prod["form"],
        "EXDOSFRQ": "ONCE",
        "EXROUTE": rows_at(route, idx),
        "EXLOT": df["lot_number"] if "lot_number" in df.columns else "",
        "VISITNUM": rows_at(visits["VISITNUM"], idx) if visits is not None else np.nan,
        "VISIT": rows_at(visits["VISIT"], idx) if visits is not None else "",
        "EPOCH": rows_at(visits["EPOCH"], idx) if visits is not None else "",
        "EXSTDTC": rows_at(start, idx),
        "EXENDTC": rows_at(end, idx) if end is not None else "",
        "_weight": df["body_weight_kg"] if "body_weight_kg" in df.columns else "",
    }, idx)
    ex = assign_seq(ex, "EXSEQ", mappings.seq_order("EX"))
    weight = ex.pop("_weight")
    supp = make_supp("EX", ex, "EXSEQ", "WEIGHT", "Body Weight at Dosing (kg)", weight)
    return ex, supp


def _reject_screen_failures(records: RawRecords, dm: pd.DataFrame, keys: pd.DataFrame) -> pd.DataFrame:
    """An exposure of a subject given as a screen failure (subjects.csv arm_code SCREEN FAILURE) contradicts it: a
    screen failure is never treated. Rejected (REJ-REC-015), not converted into a treated screen failure."""
    failed = dm.loc[dm["_screen_failure"].astype(bool), "USUBJID"].tolist()
    hit = pd.Series(is_in(keys["USUBJID"], failed), index=keys.index)
    if hit.any():
        records.reject_rows(FORM, hit, "subject_id", "the subject is a screen failure (arm_code SCREEN FAILURE in "
                            "the subjects form), so it received no study treatment; correct arm_code or this "
                            "exposure", code="REJ-REC-015")
    return keys[~hit]


def add_study_days(ex: pd.DataFrame, dm: pd.DataFrame) -> pd.DataFrame:
    if ex.empty:
        return ex
    ref = ex["USUBJID"].map(dm.set_index("USUBJID")["RFSTDTC"])
    ex = ex.copy(deep=False)  # (its columns as they are: their codes stay known)
    ex["EXSTDY"] = dates.study_day(ex["EXSTDTC"], ref)
    ex["EXENDY"] = dates.study_day(ex["EXENDTC"], ref)
    return ex
