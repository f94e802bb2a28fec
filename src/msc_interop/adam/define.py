"""Define-XML 2.1 for the ADaM datasets: standard ADaMIG 1.3, one ItemGroupDef per dataset (Purpose Analysis, its
ADaM class and structure), one ItemDef per column (DataType and Length measured on the data, DATE9. numeric dates
as integer with def:DisplayFormat), def:Origin Derived (with a MethodDef from mappings/adam_variables.yaml) or
Predecessor (naming the SDTM variable); a CodeList for each coded variable (adam/codelists.py). XML helpers and
the XSD check are sdtm/define.py's."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from lxml import etree

from msc_interop.adam import codelists, metadata
from msc_interop.adam.files import SUFFIX, canonical, mdv_oid
from msc_interop.atomic import write_bytes_atomic
from msc_interop.sdtm.define import (
    _NSMAP,
    DEFINE_VERSION,
    XLINK_NS,
    _check_created,
    _def,
    _description,
    _el,
    _odm,
    _package_version,
    to_bytes,
)
from msc_interop.sdtm.define_model import Shape, iso8601_datatype, nonempty_text, numeric_shape

STD_IG = "STD.ADaMIG"


def _shape(s: pd.Series, v: metadata.AdamVar) -> Shape:
    if v.type == "Num" or pd.api.types.is_numeric_dtype(s):
        x = pd.to_numeric(s, errors="coerce").dropna()
        whole = bool(len(x)) and bool(((x % 1) == 0).all())
        return numeric_shape(s, "integer" if whole or v.is_date or not len(x) else "float")
    values = nonempty_text(s)
    if v.name.endswith("DTC"):  # a copied SDTM date/time: its ISO 8601 DataType, as the SDTM define.xml states
        datatype = iso8601_datatype(values)
        if datatype != "text":
            return Shape(datatype, None, None, bool(values))
    return Shape("text", max([1, *(len(t.encode("utf-8")) for t in values)]), None, bool(values))


def build_define(datasets: Mapping[str, pd.DataFrame], studyid: str, *, dataset_format: str = "xpt",
                 created: str | None = None, title: str = "") -> etree._ElementTree:
    """The Define-XML 2.1 document of the ADaM datasets (the data as they are, the metadata of the mapping)."""
    stamp = _check_created(created)
    std = metadata.standard()
    root = etree.Element(_odm("ODM"), nsmap=_NSMAP)
    for k, val in {"ODMVersion": "1.3.2", "FileType": "Snapshot",
                   "FileOID": f"{studyid}.ADaM.Define-XML_{DEFINE_VERSION}", "CreationDateTime": stamp,
                   "Originator": "msc-interop", "SourceSystem": "msc-interop",
                   "SourceSystemVersion": _package_version(), _def("Context"): "Submission"}.items():
        root.set(k, val)
    st = _el(root, _odm("Study"), {"OID": f"STDY.{studyid}"})
    gv = _el(st, _odm("GlobalVariables"))
    _el(gv, _odm("StudyName"), text=studyid)
    _el(gv, _odm("StudyDescription"), text=title or studyid)
    _el(gv, _odm("ProtocolName"), text=studyid)
    mdv = _el(st, _odm("MetaDataVersion"), {
        "OID": mdv_oid(studyid), "Name": f"{studyid} ADaM metadata",
        "Description": f"Data definitions for the ADaM datasets of {studyid} ({std['name']} {std['version']}), "
                       "derived from the study's SDTM by msc-interop", _def("DefineVersion"): DEFINE_VERSION})
    stds = _el(mdv, _def("Standards"))
    _el(stds, _def("Standard"), {"OID": STD_IG, "Name": std["name"], "Type": "IG", "Version": std["version"],
                                 "Status": "Final"})
    canon = {name: canonical(name, frame) for name, frame in datasets.items()}
    uses, refs = codelists.collect(canon)
    for attrs in codelists.standards(uses):
        _el(stds, _def("Standard"), attrs)
    item_defs: list[etree._Element] = []
    methods: dict[str, tuple[str, str]] = {}
    for name, data in canon.items():
        meta = metadata.datasets()[name]
        has_rows = len(data) > 0
        ig = _el(mdv, _odm("ItemGroupDef"), {
            "OID": f"IG.{name}", "Name": name, "Repeating": "No" if name == "ADSL" else "Yes",
            "IsReferenceData": "No", "SASDatasetName": name, "Purpose": "Analysis",
            _def("Structure"): meta.structure, _def("StandardOID"): STD_IG,
            _def("HasNoData"): None if has_rows else "Yes",
            _def("ArchiveLocationID"): f"LF.{name}" if has_rows else None})
        _description(ig, meta.label)
        keys = [k for k in meta.keys if k in data.columns]
        for order, v in enumerate(metadata.columns(name, data), start=1):
            method = None
            if v.origin == "Derived":
                method = f"MT.{name}.{v.name}"
                methods[method] = (f"Algorithm to derive {name}.{v.name}", v.method or v.label)
            _el(ig, _odm("ItemRef"), {
                "ItemOID": f"IT.{name}.{v.name}", "OrderNumber": str(order),
                "Mandatory": "Yes" if v.core == "Req" else "No",
                "KeySequence": str(keys.index(v.name) + 1) if v.name in keys else None, "MethodOID": method})
            item_defs.append(_item_def(name, v, data[v.name], refs.get((name, v.name))))
        _el(ig, _def("Class"), {"Name": meta.cls})
        if has_rows:
            href = name.lower() + SUFFIX[dataset_format]
            leaf = _el(ig, _def("leaf"), {"ID": f"LF.{name}", f"{{{XLINK_NS}}}href": href})
            _el(leaf, _def("title"), text=href)
    for e in item_defs:
        mdv.append(e)
    codelists.write(mdv, uses)
    for oid in sorted(methods):
        label, text = methods[oid]
        m = _el(mdv, _odm("MethodDef"), {"OID": oid, "Name": label, "Type": "Computation"})
        _description(m, text)
    return etree.ElementTree(root)


def _item_def(ds: str, v: metadata.AdamVar, s: pd.Series, codelist: str | None) -> etree._Element:
    shape = _shape(s, v)
    e = etree.Element(_odm("ItemDef"), {"OID": f"IT.{ds}.{v.name}", "Name": v.name, "DataType": shape.datatype})
    if shape.length is not None:
        e.set("Length", str(shape.length))
    if shape.digits is not None:
        e.set("SignificantDigits", str(shape.digits))
    e.set("SASFieldName", v.name)
    if v.format:
        e.set(_def("DisplayFormat"), v.format)
    _description(e, v.label)
    if codelist:
        _el(e, _odm("CodeListRef"), {"CodeListOID": codelist})
    origin = _el(e, _def("Origin"), {"Type": v.origin, "Source": "Sponsor" if v.origin != "Predecessor" else None})
    if v.origin == "Predecessor" and v.source:
        _description(origin, v.source)
    return e


def write_define(datasets: Mapping[str, pd.DataFrame], path: Path, studyid: str, *, dataset_format: str = "xpt",
                 created: str | None = None, title: str = "") -> Path:
    write_bytes_atomic(path, to_bytes(build_define(datasets, studyid, dataset_format=dataset_format,
                                                   created=created, title=title)))
    return path
