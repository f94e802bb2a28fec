"""The ADaM variable metadata (mappings/adam_variables.yaml) as objects: what each dataset derives, and the label,
type and origin of a copied SDTM variable (its SDTM metadata), so writers and define.xml describe every column."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from msc_interop import mappings

SAS_EPOCH = np.datetime64("1960-01-01", "D")  # SAS dates count days from 1 January 1960


@dataclass(frozen=True)
class AdamVar:
    """One column of an ADaM dataset as define.xml and the file writers state it."""

    name: str
    label: str
    type: str  # Char / Num
    core: str  # Req / Cond / Perm
    origin: str  # Derived / Predecessor / Assigned
    format: str = ""  # SAS display format, DATE9. for numeric dates
    source: str = ""  # DOMAIN.VAR of a Predecessor
    method: str = ""  # the derivation of a Derived variable
    codelist: str = ""  # a key of the mapping's `codelists`, or a CT short name (a copied SDTM variable's)

    @property
    def is_date(self) -> bool:
        return self.format.startswith("DATE")


@dataclass(frozen=True)
class AdamDataset:
    name: str
    label: str
    cls: str
    structure: str
    keys: tuple[str, ...]
    predecessor: str
    variables: tuple[AdamVar, ...]

    @property
    def by_name(self) -> dict[str, AdamVar]:
        return {v.name: v for v in self.variables}


@functools.cache
def datasets() -> dict[str, AdamDataset]:
    """Every ADaM dataset msc-interop writes, by name, in the order of the mapping file (ADSL first)."""
    data = mappings.load("adam_variables")
    out = {}
    for name, d in data["datasets"].items():
        out[name] = AdamDataset(name, d["label"], d["class"], d["structure"], tuple(d["keys"]), d["predecessor"],
                                tuple(AdamVar(**v) for v in d["variables"]))
    return out


def standard() -> dict[str, str]:
    return dict(mappings.load("adam_variables")["standard"])


def age_groups() -> list[dict]:
    return list(mappings.load("adam_variables")["age_groups"])


def codelist_entries() -> dict[str, dict]:
    """The mapping's define.xml codelists by name (`ct`, `subset`, `name`, `decode`)."""
    return dict(mappings.load("adam_variables")["codelists"])


@functools.cache
def adam_ct() -> tuple[str, dict[str, mappings.Codelist]]:
    """(version, codelists) of the ADaM CT codelists the mapping holds, as mappings.Codelist objects."""
    data = mappings.load("adam_variables")["adam_ct"]
    out = {name: mappings.Codelist(name, c["nci_code"], c["name"], bool(c["extensible"]),
                                   tuple(mappings.Term(t["value"], t["nci_code"], (), t["preferred_term"])
                                         for t in c["terms"]))
           for name, c in data["codelists"].items()}
    return str(data["version"]), out


def supp_source(domain: str, qnam: str, idvar: str, qorig: str) -> str:
    from msc_interop.adam.supp import source_text

    return source_text(domain, qnam, idvar, qorig)


def column(ds: str, col: str, numeric: bool, qualifiers: dict | None = None) -> AdamVar:
    """The metadata of column `col` of ADaM dataset `ds`: the ADaM entry, else the predecessor's SDTM variable
    (copied as it is, origin Predecessor), a SUPP-- qualifier (`qualifiers`, frame.attrs["supp"]: its QLABEL), else
    a variable labelled by its name."""
    meta = datasets()[ds]
    if col in meta.by_name:
        return meta.by_name[col]
    kind = "Num" if numeric else "Char"
    q = (qualifiers or {}).get(col)
    if q is not None:
        return AdamVar(col, q["label"], kind, "Perm", "Predecessor",
                       source=supp_source(meta.predecessor, col, q["idvar"], q["qorig"]))
    sdtm = mappings.sdtm_domain(meta.predecessor)
    v = sdtm.by_name.get(col) if sdtm else None
    if v is not None:
        return AdamVar(col, v.label, kind, "Perm", "Predecessor", source=f"{meta.predecessor}.{col}",
                       codelist=v.codelist)
    return AdamVar(col, col, kind, "Perm", "Predecessor", source=f"{meta.predecessor}.{col}")


def columns(ds: str, frame: pd.DataFrame) -> list[AdamVar]:
    q = frame.attrs.get("supp", {})
    return [column(ds, c, pd.api.types.is_numeric_dtype(frame[c]), q) for c in frame.columns]


def order(ds: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The frame's columns in the mapping's order, copied SDTM variables after them (their own order)."""
    listed = [v.name for v in datasets()[ds].variables if v.name in frame.columns]
    return frame[listed + [c for c in frame.columns if c not in listed]]


def to_sas_date(values: pd.Series) -> pd.Series:
    """datetime64 -> SAS date numbers (days since 1960-01-01), NaN where missing."""
    d = pd.to_datetime(values).to_numpy(dtype="datetime64[D]")
    out = (d - SAS_EPOCH).astype("float64")
    out[np.isnat(d)] = np.nan
    return pd.Series(out, index=values.index, dtype="float64")


def from_sas_date(values: pd.Series) -> pd.Series:
    """SAS date numbers (or ISO 8601 date text, as Dataset-JSON carries them) -> datetime64, NaT where missing."""
    if pd.api.types.is_numeric_dtype(values):
        x = values.to_numpy(dtype="float64")
        days = np.where(np.isnan(x), 0, x).astype("int64")
        out = SAS_EPOCH + days.astype("timedelta64[D]")
        return pd.Series(np.where(np.isnan(x), np.datetime64("NaT"), out).astype("datetime64[ns]"), index=values.index)
    return pd.to_datetime(values.replace("", None), format="%Y-%m-%d", errors="coerce")


def iso_date(values: pd.Series) -> pd.Series:
    """datetime64 -> 'YYYY-MM-DD' text, '' where missing."""
    d = pd.to_datetime(values)
    return d.dt.strftime("%Y-%m-%d").fillna("").astype(object)
