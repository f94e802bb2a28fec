"""The parts of an ODM export's Study / MetaDataVersion and AdminData that reading its ClinicalData needs.

ItemDefs give each value its DataType, Length, CodeList (to decode CodedValues) and MeasurementUnits; the
StudyEventDef / FormDef / ItemGroupDef names let `odm-map` propose a mapping and let error messages say what
an OID is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from msc_interop import mappings

NS = mappings.load("odm")["namespace"]


def q(tag: str) -> str:
    """Clark name of an ODM element: q("ItemDef") -> "{http://www.cdisc.org/ns/odm/v1.3}ItemDef"."""
    return f"{{{NS}}}{tag}"


@dataclass
class ItemDef:
    oid: str
    name: str
    datatype: str
    length: int | None = None
    sds_var: str = ""
    question: str = ""
    codelist: str = ""
    units: tuple[str, ...] = ()


@dataclass
class GroupDef:
    """StudyEventDef, FormDef or ItemGroupDef: name, repeating flag and the OIDs it refers to, in order."""

    oid: str
    name: str
    repeating: bool
    refs: tuple[str, ...]
    domain: str = ""


@dataclass
class Metadata:
    """One MetaDataVersion (plus GlobalVariables and AdminData Locations) of one Study."""

    study_oid: str = ""
    version_oid: str = ""
    study_name: str = ""
    protocol_name: str = ""
    description: str = ""
    protocol: tuple[str, ...] = ()  # StudyEventOIDs in Protocol order
    study_events: dict[str, GroupDef] = field(default_factory=dict)
    forms: dict[str, GroupDef] = field(default_factory=dict)
    item_groups: dict[str, GroupDef] = field(default_factory=dict)
    items: dict[str, ItemDef] = field(default_factory=dict)
    codelists: dict[str, dict[str, str]] = field(default_factory=dict)  # OID -> CodedValue -> decode
    codelist_types: dict[str, str] = field(default_factory=dict)  # OID -> CodeList DataType (text, integer, ...)
    external_codelists: dict[str, str] = field(default_factory=dict)  # OID -> dictionary (MedDRA, ...): no decode
    units: dict[str, str] = field(default_factory=dict)  # MeasurementUnitOID -> symbol
    locations: dict[str, str] = field(default_factory=dict)  # LocationOID -> name

    def describe(self, oid: str) -> str:
        """'IG.LB (Laboratory results)': an OID with its name, for messages."""
        for table in (self.study_events, self.forms, self.item_groups, self.items):
            if oid in table and table[oid].name and table[oid].name != oid:
                return f"{oid} ({table[oid].name})"
        return oid


def _text(elem: etree._Element | None) -> str:
    """The first TranslatedText under `elem` (Description, Question, Decode, Symbol), stripped."""
    if elem is None:
        return ""
    tt = elem.find(q("TranslatedText"))
    return (tt.text or "").strip() if tt is not None else ""


def _refs(elem: etree._Element, ref_tag: str, attr: str) -> tuple[str, ...]:
    refs = [(int(r.get("OrderNumber") or i), r.get(attr, "")) for i, r in enumerate(elem.iterchildren(q(ref_tag)))]
    return tuple(oid for _, oid in sorted(refs, key=lambda t: t[0]))


def read_metadata_version(mdv: etree._Element, meta: Metadata) -> None:
    """Fill `meta` from a MetaDataVersion element."""
    meta.version_oid = mdv.get("OID", "")
    protocol = mdv.find(q("Protocol"))
    if protocol is not None:
        meta.protocol = _refs(protocol, "StudyEventRef", "StudyEventOID")
    for el in mdv.iterchildren(q("StudyEventDef")):
        meta.study_events[el.get("OID")] = GroupDef(el.get("OID"), el.get("Name", ""), el.get("Repeating") == "Yes",
                                                    _refs(el, "FormRef", "FormOID"))
    for el in mdv.iterchildren(q("FormDef")):
        meta.forms[el.get("OID")] = GroupDef(el.get("OID"), el.get("Name", ""), el.get("Repeating") == "Yes",
                                             _refs(el, "ItemGroupRef", "ItemGroupOID"))
    for el in mdv.iterchildren(q("ItemGroupDef")):
        meta.item_groups[el.get("OID")] = GroupDef(el.get("OID"), el.get("Name", ""), el.get("Repeating") == "Yes",
                                                   _refs(el, "ItemRef", "ItemOID"), el.get("Domain", ""))
    for el in mdv.iterchildren(q("ItemDef")):
        cl = el.find(q("CodeListRef"))
        length = el.get("Length")
        meta.items[el.get("OID")] = ItemDef(
            oid=el.get("OID"), name=el.get("Name", ""), datatype=el.get("DataType", "text"),
            length=int(length) if length and length.isdigit() else None, sds_var=el.get("SDSVarName", ""),
            question=_text(el.find(q("Question"))), codelist=cl.get("CodeListOID", "") if cl is not None else "",
            units=tuple(u.get("MeasurementUnitOID", "") for u in el.iterchildren(q("MeasurementUnitRef"))))
    for el in mdv.iterchildren(q("CodeList")):
        oid = el.get("OID")
        external = el.find(q("ExternalCodeList"))
        if external is not None:  # values come from a dictionary (MedDRA, WHODrug): read as they are
            meta.external_codelists[oid] = external.get("Dictionary", "external dictionary")
            continue
        decode: dict[str, str] = {}
        for item in el.iterchildren(q("CodeListItem"), q("EnumeratedItem")):
            coded = item.get("CodedValue", "")
            decode[coded] = _text(item.find(q("Decode"))) or coded
        meta.codelists[oid] = decode
        meta.codelist_types[oid] = el.get("DataType", "text")


def read_basic_definitions(elem: etree._Element, meta: Metadata) -> None:
    for mu in elem.iterchildren(q("MeasurementUnit")):
        meta.units[mu.get("OID")] = _text(mu.find(q("Symbol"))) or mu.get("Name", "")


def read_global_variables(elem: etree._Element, meta: Metadata) -> None:
    meta.study_name = (elem.findtext(q("StudyName")) or "").strip()
    meta.description = (elem.findtext(q("StudyDescription")) or "").strip()
    meta.protocol_name = (elem.findtext(q("ProtocolName")) or "").strip()


def read_location(elem: etree._Element, meta: Metadata) -> None:
    meta.locations[elem.get("OID", "")] = elem.get("Name", "")


def merge(versions: list[Metadata]) -> Metadata:
    """One Metadata for several MetaDataVersions of a study (CRF amendments): the union of their definitions,
    a later version's definition of the same OID winning. Its version_oid lists them ("MDV.1+MDV.2")."""
    out = Metadata(study_oid=versions[0].study_oid, study_name=versions[0].study_name,
                   protocol_name=versions[0].protocol_name, description=versions[0].description)
    protocol: list[str] = []
    for m in versions:
        for name in ("study_events", "forms", "item_groups", "items", "codelists", "codelist_types",
                     "external_codelists", "units", "locations"):
            getattr(out, name).update(getattr(m, name))
        protocol += [oid for oid in m.protocol if oid not in protocol]
    out.protocol = tuple(protocol)
    out.version_oid = "+".join(m.version_oid for m in versions)
    return out


@dataclass
class MetadataCollector:
    """Gathers the metadata elements of an export as a stream passes them: per Study its GlobalVariables,
    BasicDefinitions (units) and AdminData Locations, and each MetaDataVersion with those copied in."""

    studies: dict[str, Metadata] = field(default_factory=dict)
    versions: list[Metadata] = field(default_factory=list)

    TAGS = ("GlobalVariables", "BasicDefinitions", "MetaDataVersion", "Location")

    def take(self, elem: etree._Element) -> None:
        local = elem.tag.split("}")[-1]
        study_oid = _study_oid(elem)
        base = self.studies.setdefault(study_oid, Metadata(study_oid=study_oid))
        if local == "GlobalVariables":
            read_global_variables(elem, base)
        elif local == "BasicDefinitions":
            read_basic_definitions(elem, base)
        elif local == "Location":
            for m in [base, *self.versions]:
                read_location(elem, m)
        elif local == "MetaDataVersion":
            m = Metadata(study_oid=study_oid, study_name=base.study_name, protocol_name=base.protocol_name,
                         description=base.description, units=dict(base.units), locations=dict(base.locations))
            read_metadata_version(elem, m)
            self.versions.append(m)


def _study_oid(elem: etree._Element) -> str:
    """The OID of the Study an element belongs to (a Location names it in its MetaDataVersionRef)."""
    node = elem
    while node is not None and node.tag != q("Study"):
        node = node.getparent()
    if node is not None:
        return node.get("OID", "")
    ref = elem.find(q("MetaDataVersionRef"))
    return ref.get("StudyOID", "") if ref is not None else ""
