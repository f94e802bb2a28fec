"""What an existing SDTM package says about itself, kept so that converting it between formats changes nothing.

A Study read from SDTM files is put in canonical form (column order from msc-interop's metadata, labels from
it), which is right for data msc-interop builds and wrong for a sponsor's package: converting CDISC's pilot
from XPT to Dataset-JSON must keep the sponsor's variable order, labels and lengths, and the define.xml written
beside it must state the package's own SDTMIG and CT versions, not msc-interop's. The readers leave what the
file states in `DataFrame.attrs` (XPT: labels, storage lengths, text encoding; Dataset-JSON: the column
metadata and header); `package_of` gathers it per dataset, with the versions from the folder's define.xml or
TS, into a `Package` the writers and the define.xml writer read from `StudyMeta.package`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from msc_interop.sdtm.package_origins import SponsorDefine, SponsorItem, english_description, read_sponsor_define
from msc_interop.study import as_text

XPT_ATTRS = "msc_xpt"  # DataFrame.attrs key read_xpt fills: labels, label, lengths, encoding
JSON_ATTRS = "msc_datasetjson"  # key _read_json fills: the Dataset-JSON metadata (header and columns)


@dataclass(frozen=True)
class DatasetLayout:
    """One dataset as its file states it: variable order, labels, character lengths, text encoding."""

    source: str  # the file read
    columns: tuple[str, ...]
    labels: Mapping[str, str]
    label: str | None  # dataset label, when the file has one
    lengths: Mapping[str, int]  # character variables: bytes stored (XPT) or `length` (Dataset-JSON)
    encoding: str | None = None  # text encoding of the file when it held non-ASCII text ("utf-8", "cp1252")
    json_columns: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # Dataset-JSON column metadata
    types: Mapping[str, str] = field(default_factory=dict)  # variable -> "text", "integer" or "float" as read
    db_modified: str | None = None  # Dataset-JSON dbLastModifiedDateTime: when the source data last changed
    define_types: dict[str, str] = field(default_factory=dict)  # variable -> define.xml DataType (XPT has none)
    define_keys: list[str] = field(default_factory=list)  # the package define.xml's keys, in KeySequence order
    sponsor: dict[str, SponsorItem] = field(default_factory=dict)  # its define.xml's origins, methods, comments


def package_keys(lay: DatasetLayout | None, columns: Any) -> list[str]:
    """The keys the package states for a dataset, those among `columns`, in order: its define.xml's
    (KeySequence, 1.0 def:DomainKeys), else its Dataset-JSON columns' keySequence; [] when it states none
    (msc-interop's SDTM metadata gives them then). The one source of both the define.xml's KeySequence and
    the Dataset-JSON keySequence written for the package, so the two never disagree."""
    if lay is None:
        return []
    present = {str(c) for c in columns}
    keys = [k for k in lay.define_keys if k in present]
    if not keys:
        ranked = sorted((int(c["keySequence"]), k) for k, c in lay.json_columns.items()
                        if isinstance(c.get("keySequence"), int) and k in present)
        keys = [k for _, k in ranked]
    return keys


@dataclass(frozen=True)
class DatasetStated:
    """What a package's define.xml says of one dataset (ItemGroupDef), "" / None where it says nothing: its label
    (1.0 def:Label, 2.x Description in English), def:Structure, class (def:Class, an attribute to 2.0, an element
    in 2.1), IsReferenceData, and whether it is a standard dataset (2.1: def:StandardOID, def:IsNonStandard)."""

    label: str = ""
    structure: str = ""
    cls: str = ""
    reference: str = ""
    standard: bool | None = None


@dataclass
class Package:
    """The datasets' layouts and the standard versions the package states (None: it does not say)."""

    layouts: dict[str, DatasetLayout]
    sdtmig: str | None = None
    sdtmig_source: str = ""
    ct: str | None = None
    ct_source: str = ""
    # its define.xml's documents (aCRF, def:leaf), dataset comments, value-level metadata (sdtm/package_origins.py)
    define: SponsorDefine = field(default_factory=SponsorDefine)
    define_folder: Path | None = None  # the folder of that define.xml: its def:leaf hrefs are relative to it
    stated: dict[str, DatasetStated] = field(default_factory=dict)  # dataset -> its define.xml's ItemGroupDef

    def encodings(self) -> set[str]:
        """Text encodings of the files read that held non-ASCII text."""
        return {lay.encoding for lay in self.layouts.values() if lay.encoding}


def layout_from_frame(name: str, df: pd.DataFrame, source: Path) -> DatasetLayout:
    """The layout a reader left in `df.attrs` (CSV states no labels or lengths: only the order is kept)."""
    columns = tuple(str(c) for c in df.columns)
    xpt = df.attrs.get(XPT_ATTRS)
    if xpt:
        types = {c: "float" if pd.api.types.is_numeric_dtype(df[c]) else "text" for c in columns}
        labels = {k: v or "" for k, v in (xpt.get("labels") or {}).items()}  # blank: "", never None
        return DatasetLayout(source.name, columns, labels, xpt.get("label") or "",
                             {k: int(v) for k, v in (xpt.get("lengths") or {}).items() if types.get(k) == "text"},
                             xpt.get("encoding"), types=types)
    js = df.attrs.get(JSON_ATTRS)
    if js:
        # a null or absent column label (the schema wants text) is a blank label: ""
        cols = {str(c.get("name")): {**c, "label": c.get("label") if c.get("label") is not None else ""}
                for c in js.get("columns") or [] if isinstance(c, dict)}
        types = {k: "integer" if c.get("dataType") == "integer" else "float"
                 if c.get("dataType") in ("float", "double", "decimal") else "text" for k, c in cols.items()}
        return DatasetLayout(source.name, columns,
                             {k: str(c["label"]) for k, c in cols.items() if isinstance(c.get("label"), str)},
                             js.get("label") if isinstance(js.get("label"), str) else None,
                             {k: int(c["length"]) for k, c in cols.items() if isinstance(c.get("length"), int)},
                             None, cols, types, js.get("dbLastModifiedDateTime") if isinstance(
                                 js.get("dbLastModifiedDateTime"), str) else None)
    return DatasetLayout(source.name, columns, {}, None, {})


def package_of(datasets: Mapping[str, pd.DataFrame], sources: Mapping[str, Path], folder: Path | None
               ) -> Package:
    """The Package of datasets read from files (before the Study reorders them); versions from define.xml in
    `folder`, else TS (SDTIGVER for the SDTMIG version)."""
    pkg = Package({name: layout_from_frame(name, df, sources[name]) for name, df in datasets.items()})
    define = folder / "define.xml" if folder is not None else None
    if define is not None and define.is_file():
        _versions_from_define(pkg, define)
        for name, types in datatypes_from_define(define).items():
            if name in pkg.layouts and not pkg.layouts[name].json_columns:
                pkg.layouts[name].define_types.update(types)
        for name, keys in keys_from_define(define).items():
            if name in pkg.layouts:
                pkg.layouts[name].define_keys[:] = keys
        sponsor = pkg.define = read_sponsor_define(define)
        pkg.define_folder = define.parent
        for name, items in sponsor.items.items():
            if name in pkg.layouts:
                pkg.layouts[name].sponsor.update(items)
    if pkg.sdtmig is None:
        from msc_interop.validate.standard import normalise_version, ts_version

        ts = ts_version(datasets)
        if ts and normalise_version(ts)[0]:
            pkg.sdtmig, pkg.sdtmig_source = normalise_version(ts)[0], "TS TSPARMCD SDTIGVER"
    return pkg


def datatypes_from_define(path: Path) -> dict[str, dict[str, str]]:
    """Dataset -> variable -> DataType as the folder's define.xml states them (ODM ItemGroupDef / ItemRef /
    ItemDef, the same in Define-XML 1.0 to 2.1): XPT keeps only "number", so integer vs float comes from here;
    CSV keeps no type at all (sdtm/csvio.py). {} when there is no readable define.xml. Parsed once per file
    version (each CSV of a folder asks)."""
    try:
        stat = path.stat()
    except OSError:
        return {}
    return _datatypes_from_define(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)
def _datatypes_from_define(path: str, _mtime_ns: int, _size: int) -> dict[str, dict[str, str]]:
    from lxml import etree

    try:
        root = etree.parse(path, etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
    except (etree.XMLSyntaxError, OSError):
        return {}  # validate reports an unreadable define.xml
    items = {e.get("OID"): (e.get("Name"), e.get("DataType")) for e in root.iter("{*}ItemDef")}
    out: dict[str, dict[str, str]] = {}
    for group in root.iter("{*}ItemGroupDef"):
        name = group.get("Name") or ""
        for ref in group.iter("{*}ItemRef"):
            var, dtype = items.get(ref.get("ItemOID"), (None, None))
            if var and dtype:
                out.setdefault(name.upper(), {})[var] = dtype
    return out


def keys_from_define(path: Path) -> dict[str, list[str]]:
    """Dataset -> its key variables as the package's define.xml states them: ItemRef KeySequence (Define-XML
    2.0 / 2.1), else the ItemGroupDef's def:DomainKeys list (Define-XML 1.0: the CDISC pilot's "STUDYID,
    USUBJID, AETERM, AESTDTC, AESEQ"). {} without a readable define.xml."""
    from lxml import etree

    try:
        root = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
    except (etree.XMLSyntaxError, OSError):
        return {}
    names = {e.get("OID"): e.get("Name") for e in root.iter("{*}ItemDef")}
    out: dict[str, list[str]] = {}
    for group in root.iter("{*}ItemGroupDef"):
        ranked = sorted((int(ref.get("KeySequence")), names.get(ref.get("ItemOID")) or "")
                        for ref in group.iter("{*}ItemRef") if (ref.get("KeySequence") or "").isdigit())
        keys = [n for _, n in ranked if n]
        if not keys:
            listed = next((v for k, v in group.attrib.items() if k.endswith("}DomainKeys")), "")
            keys = [k.strip().upper() for k in listed.split(",") if k.strip()]
        if keys:
            out[(group.get("Name") or "").upper()] = keys
    return out


def _versions_from_define(pkg: Package, path: Path) -> None:
    """SDTMIG and SDTM CT versions as the package's define.xml (1.0, 2.0 or 2.1) states them, and what it says of
    each dataset (datasets_stated)."""
    from lxml import etree

    from msc_interop.validate.define_versions import detect, stated_standard
    from msc_interop.validate.standard import normalise_version

    try:
        tree = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))
    except (etree.XMLSyntaxError, OSError):
        return  # validate reports an unreadable define.xml; the data are still converted
    version = detect(tree)
    if version is None:
        return
    pkg.stated = datasets_stated(tree, version)
    stated = stated_standard(tree, version)
    if stated:
        pkg.sdtmig = normalise_version(stated[0])[0] or stated[0]
        pkg.sdtmig_source = stated[1]
    if version.standard_elements:
        for std in tree.getroot().iter(version.def_tag("Standard")):
            if std.get("Type") == "CT" and std.get("PublishingSet", "SDTM") == "SDTM" and std.get("Version"):
                pkg.ct = std.get("Version")
                pkg.ct_source = f"define.xml def:Standard Type=\"CT\" Version=\"{pkg.ct}\" (line {std.sourceline})"
                break


def as_package_states(df: pd.DataFrame, lay: DatasetLayout | None) -> pd.DataFrame:
    """A Study dataset back in its package's variable order and types: the Study types variables by
    msc-interop's metadata (AE.AELLTCD Num), the package may not (CDISC's example: Char, all blank); a
    variable the package gives as numbers goes back to numbers only when every value is one."""
    if lay is None:
        return df
    out = df
    for col, kind in lay.types.items():
        if col not in df.columns:
            continue
        s = df[col]
        numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
        if kind == "text" and numeric:
            new = as_text(s.astype("float64"))
        elif kind != "text" and not numeric:
            num = pd.to_numeric(s.replace("", np.nan), errors="coerce")
            if (num.isna() & (s != "")).any() or (kind == "integer" and (num.dropna() % 1 != 0).any()):
                continue
            new = num.astype("Int64") if kind == "integer" else num.astype("float64")
        else:
            continue
        out = out.copy() if out is df else out
        out[col] = new
    if set(lay.columns) == set(out.columns) and list(lay.columns) != list(out.columns):
        out = out[list(lay.columns)]
    return out


def datasets_stated(tree: Any, version: Any) -> dict[str, DatasetStated]:
    """Dataset (ItemGroupDef Name, upper case) -> its label, structure, class and standing as a define.xml (`tree`,
    of the validate.define_versions `version` detected) states them. Why: a domain msc-interop has no metadata of
    (QS, SC, IE, a sponsor's own) is described in the define.xml written for the package by what the package says
    of it. A label in another language only is not taken (define.xml writes its labels as English)."""
    from msc_interop.validate.define_versions import stated_classes

    classes = {name.upper(): cls for name, cls in stated_classes(tree, version).items()}
    out = {}
    for group in tree.getroot().iter(version.odm_tag("ItemGroupDef")):
        name = (group.get("Name") or "").upper()
        if not name:
            continue
        label = group.get(version.def_tag("Label")) or english_description(group)
        standard = (False if group.get(version.def_tag("IsNonStandard")) == "Yes" else
                    True if group.get(version.def_tag("StandardOID")) else None)
        structure = " ".join((group.get(version.def_tag("Structure")) or "").split())
        found = DatasetStated(" ".join(label.split()), structure, classes.get(name, "").strip(),
                              group.get("IsReferenceData") or "", standard)
        if found != DatasetStated():
            out[name] = found
    return out
