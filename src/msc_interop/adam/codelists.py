"""The CodeLists of the ADaM define.xml: which values each coded variable holds, stated against CDISC CT where a CT
codelist governs the variable (NY, its Y-only subset, NRIND, ADaM CT DATEFL; a copied SDTM variable keeps its SDTM
codelist) and as the sponsor's codelist otherwise (PARAMCD decoded by PARAM, AGEGR1, AGEGR1N decoded by AGEGR1, ...).

Like the SDTM define.xml (sdtm/define.py) a codelist lists the values that occur. A CT value gets the term's NCI code
(`Alias Context="nci:ExtCodeID"`); a value CT lacks is listed without one, marked def:ExtendedValue="Yes" when the
codelist is extensible (validate reports values outside a non-extensible codelist on the SDTM, not here)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd
from lxml import etree

from msc_interop import mappings
from msc_interop.adam import metadata
from msc_interop.sdtm.define import _def, _description, _el, _odm
from msc_interop.sdtm.define_model import nonempty_text

STD_CT_SDTM = "STD.CT.SDTM"
STD_CT_ADAM = "STD.CT.ADaM"


@dataclass
class _Use:
    """One define.xml codelist: its CT codelist (None for the sponsor's), the values seen, their decodes."""

    oid: str
    name: str
    ct: mappings.Codelist | None
    standard: str | None
    subset: tuple[str, ...] = ()
    numeric: bool = False
    values: set[str] = field(default_factory=set)
    decodes: dict[str, str] = field(default_factory=dict)
    rank: dict[str, float] = field(default_factory=dict)  # a value's order (its numeric partner, e.g. AGEGR1N)


def _text(s: pd.Series) -> pd.Series:
    """Codes as define.xml writes them: whole numbers without a decimal point, text as it is, "" when missing."""
    if pd.api.types.is_numeric_dtype(s):
        x = pd.to_numeric(s, errors="coerce")
        return x.map(lambda v: "" if pd.isna(v) else (str(int(v)) if float(v).is_integer() else repr(float(v))))
    return s.astype(object).where(s.notna(), "").astype(str)


def _use(cid: str) -> _Use:
    entry = metadata.codelist_entries().get(cid, {"ct": cid})  # a bare CT short name: a copied SDTM variable's
    ct_name = entry.get("ct")
    if ct_name is None:
        return _Use(f"CL.{cid}", entry.get("name", cid), None, None)
    _, adam = metadata.adam_ct()
    ct, std = (adam[ct_name], STD_CT_ADAM) if ct_name in adam else (mappings.codelist(ct_name), STD_CT_SDTM)
    subset = tuple(entry.get("subset", ()))
    name = entry.get("name", ct.long_name)
    return _Use(f"CL.{cid}" if cid != ct_name or subset else f"CL.{ct_name}", name, ct, std, subset)


def collect(datasets: Mapping[str, pd.DataFrame]) -> tuple[dict[str, _Use], dict[tuple[str, str], str]]:
    """(codelists by OID, (dataset, variable) -> codelist OID) for the canonical frames of `datasets`."""
    uses: dict[str, _Use] = {}
    refs: dict[tuple[str, str], str] = {}
    entries = metadata.codelist_entries()
    for ds, frame in datasets.items():
        for v in metadata.columns(ds, frame):
            if not v.codelist:
                continue
            entry = entries.get(v.codelist, {})
            decode = entry.get("decode") or (v.name[:-2] if v.name.endswith("TESTCD") else None)  # --TESTCD: --TEST
            partners = [c for c in (decode, entry.get("order")) if c and c in frame.columns and c != v.name]
            distinct = frame[[v.name, *partners]].drop_duplicates()  # a few rows, however long the dataset
            values = _text(distinct[v.name])
            present = nonempty_text(values)
            if not present:
                continue
            u = _use(v.codelist)
            u = uses.setdefault(u.oid, u)
            u.numeric = u.numeric or v.type == "Num" or pd.api.types.is_numeric_dtype(frame[v.name])
            u.values.update(present)
            refs[(ds, v.name)] = u.oid
            if entry.get("order") in partners:
                ranks = pd.to_numeric(distinct[entry["order"]], errors="coerce").groupby(values).min()
                u.rank.update({k: float(r) for k, r in ranks.items() if k and r == r})
            if decode in partners:
                pairs = pd.DataFrame({"c": values, "d": _text(distinct[decode])}).drop_duplicates()
                for code, text in pairs.sort_values(["c", "d"]).itertuples(index=False):
                    if code and text:
                        u.decodes.setdefault(code, text)
    return uses, refs


def standards(uses: Mapping[str, _Use]) -> list[dict[str, str]]:
    """The def:Standard attributes of the CT packages the codelists name (SDTM CT, ADaM CT)."""
    adam_version, _ = metadata.adam_ct()
    named = {u.standard for u in uses.values()}
    return [s for s in ({"OID": STD_CT_SDTM, "Name": "CDISC/NCI", "Type": "CT", "PublishingSet": "SDTM",
                         "Version": mappings.ct_source().get("package_date", ""), "Status": "Final"},
                        {"OID": STD_CT_ADAM, "Name": "CDISC/NCI", "Type": "CT", "PublishingSet": "ADaM",
                         "Version": adam_version, "Status": "Final"}) if s["OID"] in named]


def _order(u: _Use) -> list[str]:
    if u.numeric:
        return sorted(u.values, key=lambda x: (float(x), x))
    return sorted(u.values, key=lambda x: (u.rank.get(x, float("inf")), x))


def _datatype(u: _Use) -> str:
    if not u.numeric:
        return "text"
    return "integer" if all(float(x).is_integer() for x in u.values) else "float"


def write(mdv: etree._Element, uses: Mapping[str, _Use]) -> None:
    """One CodeList per entry of `uses`, in OID order, after the ItemDefs (Define-XML 2.1 element order)."""
    for oid in sorted(uses):
        u = uses[oid]
        cle = _el(mdv, _odm("CodeList"), {"OID": oid, "Name": u.name,
                                          "DataType": _datatype(u),
                                          _def("StandardOID"): u.standard})
        for order, value in enumerate(_order(u), start=1):
            term = u.ct.term(value) if u.ct is not None else None
            attrs = {"CodedValue": value, "OrderNumber": str(order),
                     _def("ExtendedValue"): "Yes" if u.ct is not None and term is None and u.ct.extensible else None}
            if u.decodes:  # one kind of item per codelist (XSD): a code without a pair decodes as itself
                item = _el(cle, _odm("CodeListItem"), attrs)
                _description(item, u.decodes.get(value, value), tag="Decode")
            else:
                item = _el(cle, _odm("EnumeratedItem"), attrs)
            if term is not None:
                _el(item, _odm("Alias"), {"Context": "nci:ExtCodeID", "Name": term.nci_code})
        if u.ct is not None:
            _el(cle, _odm("Alias"), {"Context": "nci:ExtCodeID", "Name": u.ct.nci_code})
