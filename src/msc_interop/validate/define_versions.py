"""Which Define-XML a define.xml is (1.0, 2.0 or 2.1), told by its namespaces, and what it says of the standard.

The three versions share the ODM shape the cross-checks read (ItemGroupDef / ItemRef / ItemDef / CodeList,
def:leaf) but in different namespaces: 1.0 extends ODM 1.2 (def/v1.0), 2.0 and 2.1 extend ODM 1.3.2 (def/v2.0,
def/v2.1). The namespaces, the XSD msc-interop ships per version and where each states the SDTMIG version are
data: mappings/define_xml.yaml (with the sources they were taken from).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass

from lxml import etree

from msc_interop import mappings


@dataclass(frozen=True)
class DefineVersion:
    """One Define-XML version: its namespaces, its XSD (None: not shipped) and where it states the standard."""

    version: str
    odm: str
    def_ns: str
    xsd: str | None
    standard_elements: bool
    standard_attributes: tuple[str, ...]
    citation: str
    iso8601_cover: Mapping[str, frozenset[str]] | None = None  # None: the ODM 1.3.2 types, strictly
    numeric_length_checked: bool = True  # False: Length of numbers is SAS's storage length (8 bytes)

    def odm_tag(self, name: str) -> str:
        return f"{{{self.odm}}}{name}"

    def def_tag(self, name: str) -> str:
        return f"{{{self.def_ns}}}{name}"


@functools.cache
def define_versions() -> tuple[DefineVersion, ...]:
    return tuple(DefineVersion(v["version"], v["odm_namespace"], v["def_namespace"], v["xsd"],
                               bool(v.get("standard_elements", False)), tuple(v.get("standard_attributes", ())),
                               v["citation"],
                               {k: frozenset(kinds) for k, kinds in v["iso8601_cover"].items()}
                               if "iso8601_cover" in v else None,
                               bool(v.get("numeric_length_checked", True)))
                 for v in mappings.load("define_xml")["versions"])


def detect(tree: etree._ElementTree) -> DefineVersion | None:
    """The version whose ODM namespace is the root's and whose def namespace the document declares (on the
    root or on MetaDataVersion, where the def attributes are); None when it is none of them."""
    root = tree.getroot()
    odm = etree.QName(root).namespace or ""
    declared = set(root.nsmap.values())
    for mdv in root.iter(f"{{{odm}}}MetaDataVersion"):
        declared |= set(mdv.nsmap.values())
        break
    for v in define_versions():
        if v.odm == odm and v.def_ns in declared:
            return v
    return None


def root_namespaces(tree: etree._ElementTree) -> str:
    """What the root declares, for a message about a document that is no known version."""
    root = tree.getroot()
    odm = etree.QName(root).namespace or "(none)"
    defs = sorted(u for u in root.nsmap.values() if u and "/ns/def/" in u)
    return f"root {etree.QName(root).localname} in namespace {odm}" + (f", def namespace {', '.join(defs)}"
                                                                      if defs else ", no def namespace")


_IG_NAME = re.compile(r"^[A-Z]*IG$")  # SDTMIG (and CDISC's own example's typo STDTMIG); not SDTMIG-MD, SDTMIG-AP


# def:CommentOID msc-interop puts on the SDTMIG def:Standard of a converted package that states no version
# (sdtm/define_package.py): that Version is not the sponsor's statement and is not read as one
IG_NOT_STATED = "COM.SDTMIG.NOT-STATED"


def stated_standard(tree: etree._ElementTree, v: DefineVersion) -> tuple[str, str] | None:
    """(SDTMIG version as written, where it is written) or None when the document does not say (nor does a
    def:Standard marked IG_NOT_STATED, which names the version msc-interop checked a package against)."""
    root = tree.getroot()
    mdv = next(root.iter(v.odm_tag("MetaDataVersion")), None)
    if mdv is None:
        return None
    if v.standard_elements:
        for std in mdv.iter(v.def_tag("Standard")):
            name = (std.get("Name") or "").upper().replace("-", "")
            if std.get("Type") == "IG" and _IG_NAME.match(name) and std.get("Version") and \
                    std.get(v.def_tag("CommentOID")) != IG_NOT_STATED:
                return std.get("Version", ""), (f"define.xml def:Standard Name=\"{std.get('Name')}\" "
                                                f"Version=\"{std.get('Version')}\" (line {std.sourceline})")
        return None
    name_attr, version_attr = v.standard_attributes
    version = mdv.get(v.def_tag(version_attr))
    if not version:
        return None
    name = mdv.get(v.def_tag(name_attr), "")
    return version, (f"define.xml MetaDataVersion def:{name_attr}=\"{name}\" def:{version_attr}=\"{version}\" "
                     f"(line {mdv.sourceline})")


def stated_ct(tree: etree._ElementTree, v: DefineVersion) -> tuple[str, str] | None:
    """(CDISC CT version, where it is written) the document states: Define-XML 2.1 def:Standard Type="CT"
    (Name "CDISC/NCI", the SDTM publishing set before any other); None for 1.0 and 2.0, which have no place
    for it."""
    if not v.standard_elements:
        return None
    root = tree.getroot()
    found = [std for std in root.iter(v.def_tag("Standard")) if std.get("Type") == "CT" and std.get("Version")]
    found.sort(key=lambda std: (std.get("PublishingSet") or "SDTM") != "SDTM")
    for std in found:
        return std.get("Version", ""), (f"define.xml def:Standard Name=\"{std.get('Name')}\" Type=\"CT\""
                                        + (f" PublishingSet=\"{std.get('PublishingSet')}\""
                                           if std.get("PublishingSet") else "")
                                        + f" Version=\"{std.get('Version')}\" (line {std.sourceline})")
    return None


def stated_classes(tree: etree._ElementTree, v: DefineVersion) -> dict[str, str]:
    """ItemGroupDef Name -> def:Class as written (2.1 may write it as a def:Class element with a Name)."""
    out: dict[str, str] = {}
    for g in tree.getroot().iter(v.odm_tag("ItemGroupDef")):
        cls = g.get(v.def_tag("Class"))
        if cls is None:
            element = g.find(v.def_tag("Class"))
            cls = element.get("Name") if element is not None else None
        if cls and g.get("Name"):
            out[g.get("Name", "")] = cls
    return out
