"""A sponsor's own origins, methods and comments, read from an SDTM package's define.xml and written again in
the Define-XML 2.1 msc-interop writes for that package (sdtm/define.py).

Only the sponsor knows where a variable of its package comes from (CRF, eDT, derived, assigned, protocol), how
a derived one was computed and what it wanted to say of it: msc-interop, which did not build the data, must
neither drop that nor replace it with its own derivations. Read from either shape:

- Define-XML 2.0 / 2.1: the ItemDef's def:Origin elements (Type, Source, Description, def:DocumentRef with
  def:PDFPageRef), ItemRef MethodOID -> MethodDef, ItemDef def:CommentOID -> def:CommentDef; the def:leaf of
  each referenced document is carried along. A 2.0 Type that 2.1 does not have (CRF, eDT) is mapped as the
  1.0 text of that name is (`origin_types_2_1`, `origins_1_0`), so the 2.1 written passes its XSD.
- Define-XML 1.0: the ItemDef's Origin text ("CRF Page 121, 122, 123", "Derived", "eDT"), mapped to a 2.1 Type
  and Source by mappings/define_xml.yaml `origins_1_0` (the text itself kept as the Origin's Description
  where it says more than the type); the Comment attribute as a def:CommentDef; def:ComputationMethodOID ->
  def:ComputationMethod as a MethodDef of Type Computation. An Origin text that names no known type is not
  guessed at: it is kept in the variable's comment.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from msc_interop import mappings

_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"


@dataclass(frozen=True)
class Origin:
    """One def:Origin: Type, Source, its description, and the document pages it cites (leaf ID, PDFPageRef
    attributes)."""

    type: str
    source: str | None = None
    text: str = ""
    documents: tuple[tuple[str, tuple[tuple[tuple[str, str], ...], ...]], ...] = ()


@dataclass(frozen=True)
class Method:
    """A MethodDef of the package: OID, Name, Type and its description."""

    oid: str
    name: str
    type: str
    text: str


@dataclass(frozen=True)
class SponsorItem:
    """What the package's define.xml says of one variable beyond its shape."""

    origins: tuple[Origin, ...] = ()
    method: Method | None = None
    comment: tuple[str, str] | None = None  # (def:CommentDef OID, text)


@dataclass
class SponsorDefine:
    """Per dataset and variable, the sponsor's metadata; the def:leaf (href, title) of each document cited."""

    items: dict[str, dict[str, SponsorItem]] = field(default_factory=dict)
    leaves: dict[str, tuple[str, str]] = field(default_factory=dict)


def _text(el: etree._Element | None) -> str:
    """The (English, else first) TranslatedText of an element's Description."""
    if el is None:
        return ""
    texts = list(el.iterfind("{*}Description/{*}TranslatedText"))
    chosen = next((t for t in texts if t.get(_XML_LANG, "en") == "en"), texts[0] if texts else None)
    return (chosen.text or "").strip() if chosen is not None else ""


def _origins_1_0() -> list[tuple[re.Pattern[str], str, str | None]]:
    return [(re.compile(rf"(?i){re.escape(o['text'])}\b"), o["type"], o.get("source"))
            for o in mappings.load("define_xml")["origins_1_0"]]


def _types_2_1() -> frozenset[str]:
    return frozenset(mappings.load("define_xml")["origin_types_2_1"])


def origin_of_1_0(text: str) -> Origin | None:
    """A Define-XML 1.0 Origin text as a 2.1 def:Origin (None: it names no type msc-interop knows)."""
    text = " ".join(text.split())
    for pattern, otype, source in _origins_1_0():
        m = pattern.match(text)
        if m:
            return Origin(otype, source, "" if m.end() == len(text) else text)
    return None


def read_sponsor_define(path: Path) -> SponsorDefine:
    """The sponsor metadata of a package's define.xml (1.0, 2.0 or 2.1); empty when it cannot be read."""
    try:
        root = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
    except (etree.XMLSyntaxError, OSError):
        return SponsorDefine()  # validate reports an unreadable define.xml
    out = SponsorDefine()
    methods = {m.get("OID"): Method(m.get("OID") or "", m.get("Name") or m.get("OID") or "",
                                    m.get("Type") or "Computation", _text(m)) for m in root.iter("{*}MethodDef")}
    for m in root.iter("{*}ComputationMethod"):  # Define-XML 1.0: the text is the method
        oid = m.get("OID") or ""
        methods[oid] = Method(oid, oid, "Computation", " ".join((m.text or "").split()))
    comments = {c.get("OID"): _text(c) for c in root.iter("{*}CommentDef")}
    defs = {d.get("OID"): d for d in root.iter("{*}ItemDef")}
    cited: set[str] = set()
    for group in root.iter("{*}ItemGroupDef"):
        ds = (group.get("Name") or "").upper()
        for ref in group.iterfind("{*}ItemRef"):
            item = defs.get(ref.get("ItemOID"))
            if item is None or not item.get("Name"):
                continue
            found = _item(ds, item, ref, methods, comments)
            if found != SponsorItem():
                out.items.setdefault(ds, {})[item.get("Name") or ""] = found
                cited.update(leaf for o in found.origins for leaf, _ in o.documents)
    for leaf in root.iter("{*}leaf"):
        if leaf.get("ID") in cited:
            out.leaves[leaf.get("ID") or ""] = (leaf.get(_XLINK_HREF) or "", (leaf.findtext("{*}title") or "").strip())
    return out


def _item(ds: str, item: etree._Element, ref: etree._Element, methods: dict[str | None, Method],
          comments: dict[str | None, str]) -> SponsorItem:
    attrs = {etree.QName(k).localname: v for k, v in item.attrib.items()}
    notes = [c for c in [comments.get(attrs.get("CommentOID"), ""), (attrs.get("Comment") or "").strip()] if c]
    origins: list[Origin] = []
    for o in item.iterfind("{*}Origin"):
        docs = tuple((d.get("leafID") or "", tuple(tuple(sorted(p.attrib.items()))
                                                   for p in d.iterfind("{*}PDFPageRef")))
                     for d in o.iterfind("{*}DocumentRef"))
        otype, source = o.get("Type") or "", o.get("Source")
        if otype not in _types_2_1():  # a 2.0 Type 2.1 dropped (CRF, eDT): mapped as a 1.0 Origin text is
            mapped = origin_of_1_0(otype)
            if mapped is None:
                notes.append(f"Origin Type in the package's define.xml: {otype}")
                continue
            otype, source = mapped.type, source or mapped.source
        origins.append(Origin(otype, source, _text(o), docs))
    if not origins and (attrs.get("Origin") or "").strip():  # Define-XML 1.0
        mapped = origin_of_1_0(attrs["Origin"])
        if mapped is None:
            notes.append(f"Origin in the package's Define-XML 1.0: {attrs['Origin'].strip()}")
        else:
            origins.append(mapped)
    method = methods.get(ref.get("MethodOID") or attrs.get("ComputationMethodOID"))
    oid = attrs.get("CommentOID") if comments.get(attrs.get("CommentOID")) else f"COM.{ds}.{attrs['Name']}"
    return SponsorItem(tuple(origins), method, (oid, " ".join(notes)) if notes else None)


# --- writing -------------------------------------------------------------------------------------------------

class SponsorWriter:
    """Writes the sponsor's origins into ItemDefs, and its MethodDefs, def:CommentDefs and cited def:leaf
    elements at their places in MetaDataVersion. `taken`: def:leaf IDs the document gives its datasets (a
    sponsor document leaf of the same ID is not cited, and the note says so)."""

    def __init__(self, leaves: dict[str, tuple[str, str]], taken: Iterable[str], notes: list[str]) -> None:
        self.leaves = {k: v for k, v in leaves.items() if k not in set(taken)}
        self.notes = notes
        self.methods: dict[str, Method] = {}
        self.comments: dict[str, str] = {}
        self.cited: set[str] = set()

    def method_oid(self, item: SponsorItem | None) -> str | None:
        if item is None or item.method is None:
            return None
        self.methods[item.method.oid] = item.method
        return item.method.oid

    def item_def(self, e: etree._Element, item: SponsorItem | None, ns: tuple[str, str]) -> None:
        """def:CommentOID and def:Origin elements of an ItemDef (`ns`: the ODM and def namespaces)."""
        if item is None:
            return
        odm, dns = ns
        if item.comment:
            self.comments[item.comment[0]] = item.comment[1]
            e.set(f"{{{dns}}}CommentOID", item.comment[0])
        for o in item.origins:
            el = etree.SubElement(e, f"{{{dns}}}Origin", {"Type": o.type, **({"Source": o.source} if o.source else {})})
            if o.text:
                _describe(el, o.text, odm)
            for leaf, pages in o.documents:
                if leaf not in self.leaves:
                    self.notes.append(f"define.xml: {e.get('OID')} cites document {leaf!r}, which the package's "
                                      "define.xml does not list or whose ID names a dataset here: not cited")
                    continue
                self.cited.add(leaf)
                doc = etree.SubElement(el, f"{{{dns}}}DocumentRef", {"leafID": leaf})
                for attrs in pages:
                    etree.SubElement(doc, f"{{{dns}}}PDFPageRef", dict(attrs))

    def write_methods(self, mdv: etree._Element, ns: tuple[str, str]) -> None:
        for oid in sorted(self.methods):
            m = self.methods[oid]
            el = etree.SubElement(mdv, f"{{{ns[0]}}}MethodDef", {"OID": oid, "Name": m.name, "Type": m.type})
            _describe(el, m.text or m.name, ns[0])

    def write_comments_and_leaves(self, mdv: etree._Element, ns: tuple[str, str]) -> None:
        for oid in sorted(self.comments):
            _describe(etree.SubElement(mdv, f"{{{ns[1]}}}CommentDef", {"OID": oid}), self.comments[oid], ns[0])
        for leaf in sorted(self.cited):
            href, title = self.leaves[leaf]
            el = etree.SubElement(mdv, f"{{{ns[1]}}}leaf", {"ID": leaf, _XLINK_HREF: href})
            etree.SubElement(el, f"{{{ns[1]}}}title").text = title or href


def _describe(parent: etree._Element, text: str, odm: str) -> None:
    d = etree.SubElement(parent, f"{{{odm}}}Description")
    etree.SubElement(d, f"{{{odm}}}TranslatedText", {_XML_LANG: "en"}).text = text
