"""A sponsor's own origins, methods and comments, read from an SDTM package's define.xml and written again in
the Define-XML 2.1 msc-interop writes for that package (sdtm/define.py).

Only the sponsor knows where a variable of its package comes from (CRF, eDT, derived, assigned, protocol), how
a derived one was computed and what it wanted to say of it: msc-interop, which did not build the data, must
neither drop that nor replace it with its own derivations. Read from either shape:

- Define-XML 2.0 / 2.1: the ItemDef's def:Origin elements (Type, Source, Description, def:DocumentRef with
  def:PDFPageRef), ItemRef MethodOID -> MethodDef (with its FormalExpression and Alias children; what else it
  holds is named in a note), ItemDef def:CommentOID -> def:CommentDef (each with its own def:DocumentRef pages);
  the def:leaf of each referenced document is carried along. An ItemDef several
  ItemGroupDefs share (ODM allows it) is read for each. A 2.0 Type that 2.1 does not have (CRF, eDT) is mapped as the
  1.0 text of that name is (`origin_types_2_1`, `origins_1_0`), so the 2.1 written passes its XSD.
- Define-XML 1.0: the ItemDef's Origin text ("CRF Page 121, 122, 123", "Derived", "eDT"), mapped to a 2.1 Type
  and Source by mappings/define_xml.yaml `origins_1_0` (the text itself kept as the Origin's Description
  where it says more than the type); the Comment attribute as a def:CommentDef; def:ComputationMethodOID ->
  def:ComputationMethod as a MethodDef of Type Computation. An Origin text that names no known type is not
  guessed at: it is kept in the variable's comment. "CRF Page(s) N, ..." of a package with one annotated CRF
  becomes a def:DocumentRef to it with a def:PDFPageRef of exactly those pages (`crf_pages_1_0`).

Beside the variables: the def:AnnotatedCRF and def:SupplementalDoc documents (and their def:leaf), a dataset's
comment (2.x ItemGroupDef def:CommentOID, 1.0 ItemGroupDef Comment), and the value-level items of each
def:ValueListDef with the conditions that select them (2.x def:WhereClauseDef range checks; 1.0: the item's Name
is the value of the variable the list hangs from, `value_lists_1_0` naming the variable described) as
`SponsorValue`s. The writer puts them on the value-level items it writes and names in a note those it has none for.
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


Documents = tuple[tuple[str, tuple[tuple[tuple[str, str], ...], ...]], ...]  # (leaf ID, PDFPageRef attributes)


@dataclass(frozen=True)
class Origin:
    """One def:Origin: Type, Source, its description, and the document pages it cites (leaf ID, PDFPageRef
    attributes)."""

    type: str
    source: str | None = None
    text: str = ""
    documents: Documents = ()


@dataclass(frozen=True)
class Method:
    """A MethodDef of the package: OID, Name, Type, its description, the document pages it cites, its
    FormalExpressions (Context, None when it states none; the text as written) and Alias (Context, Name) in their
    order, and what of it define.xml cannot carry (`unread`: named in a note where the method is written)."""

    oid: str
    name: str
    type: str
    type_said: str  # "" or what a note says of the Type written (none stated, another spelling)
    text: str
    documents: Documents = ()
    expressions: tuple[tuple[str | None, str], ...] = ()
    aliases: tuple[tuple[str, str], ...] = ()
    unread: tuple[str, ...] = ()


Comment = tuple[str, str, Documents]  # a def:CommentDef: OID, text, the document pages it cites


@dataclass(frozen=True)
class SponsorItem:
    """What the package's define.xml says of one variable beyond its shape."""

    origins: tuple[Origin, ...] = ()
    method: Method | None = None
    comment: Comment | None = None


Where = tuple[tuple[str, str, tuple[str, ...]], ...]  # (variable, Comparator, CheckValues) of one where clause


@dataclass(frozen=True)
class SponsorValue:
    """One value-level item of the package's define.xml: the def:ValueListDef it is in, the variable it describes
    ("": Define-XML 1.0 does not say), the conditions that select it, and what it says."""

    list_oid: str
    variable: str
    where: Where
    item: SponsorItem


@dataclass
class SponsorDefine:
    """Per dataset and variable, the sponsor's metadata; the def:leaf (href, title) of each document cited; the
    leaf IDs of its def:AnnotatedCRF and def:SupplementalDoc; each dataset's comment; its value-level items."""

    items: dict[str, dict[str, SponsorItem]] = field(default_factory=dict)
    leaves: dict[str, tuple[str, str]] = field(default_factory=dict)
    documents: dict[str, tuple[str, ...]] = field(default_factory=dict)
    datasets: dict[str, Comment] = field(default_factory=dict)  # dataset -> its def:CommentDef
    values: dict[str, list[SponsorValue]] = field(default_factory=dict)


def _english(text: etree._Element) -> bool:
    """A TranslatedText in English: xml:lang absent (ODM: the default language), "en" or "en-..." (en-US)."""
    lang = text.get(_XML_LANG, "en").strip().lower()
    return lang == "en" or lang.startswith("en-")


def _translations(el: etree._Element) -> tuple[list[etree._Element], etree._Element | None]:
    """The TranslatedTexts of an element's Description, and the one read: English, else the first."""
    texts = list(el.iterfind("{*}Description/{*}TranslatedText"))
    return texts, next((t for t in texts if _english(t)), texts[0] if texts else None)


def english_description(el: etree._Element) -> str:
    """The English TranslatedText of an element's Description, whole; "" when it has none in English."""
    chosen = next((t for t in el.iterfind("{*}Description/{*}TranslatedText") if _english(t)), None)
    return _all_text(chosen).strip() if chosen is not None else ""


class Translated(str):
    """A description's text read from a package's define.xml, with the language its TranslatedText states
    (`lang`; "en" when it states none): written back under that language (_describe), so that a description the
    package gives only in another language is not passed off as English."""

    lang: str = "en"

    def __new__(cls, text: str, lang: str = "en") -> Translated:
        out = super().__new__(cls, text)
        out.lang = lang
        return out


def description_text(el: etree._Element | None) -> str:
    """The (English, else first) TranslatedText of an element's Description, as Translated (its language kept)."""
    chosen = _translations(el)[1] if el is not None else None
    if chosen is None:
        return ""
    return Translated(_all_text(chosen).strip(), (chosen.get(_XML_LANG) or "en").strip() or "en")


def _all_text(el: etree._Element) -> str:
    """An element's text whole: an XML comment or processing instruction inside splits it in several text nodes
    (lxml's .text is the first only)."""
    return "".join(el.xpath("text()"))


def _documents(el: etree._Element) -> Documents:
    """The def:DocumentRef children of an element: leaf ID and the attributes of each def:PDFPageRef."""
    return tuple((d.get("leafID") or "", tuple(tuple(sorted(p.attrib.items())) for p in d.iterfind("{*}PDFPageRef")))
                 for d in el.iterfind("{*}DocumentRef"))


_METHOD_PARTS = frozenset({"Description", "FormalExpression", "Alias", "DocumentRef"})  # what a MethodDef carries


def _method(m: etree._Element) -> Method:
    """A Define-XML 2.x MethodDef; what define.xml does not write of it (a Description in another language than
    the one `_text` reads, an element or attribute Define-XML does not define there) is listed in `unread`."""
    oid = m.get("OID") or ""
    texts, chosen = _translations(m)
    unread = [f"Description (xml:lang {t.get(_XML_LANG, 'unstated')})" for t in texts if t is not chosen]
    unread += [f"element {c.tag}" for c in m
               if isinstance(c.tag, str) and etree.QName(c).localname not in _METHOD_PARTS]
    unread += [f"attribute {k}" for k in m.attrib if k not in ("OID", "Name", "Type")]
    aliases: dict[str, str] = {}  # Context -> Name: ODM requires both, and one Alias per Context (UC-ME-1)
    for a in m.iterfind("{*}Alias"):
        context, name = a.get("Context"), a.get("Name")
        if context is None or name is None or context in aliases:
            why = "a second one of that Context" if context in aliases else "Context and Name are required"
            said = " ".join(f"{k}={v!r}" for k, v in a.attrib.items()) or "without attributes"
            unread.append(f"Alias {said} ({why})")
        else:
            aliases[context] = name
    expressions = []
    for f in m.iterfind("{*}FormalExpression"):
        expressions.append((f.get("Context"), _all_text(f)))
        unread += [f"element {c.tag} inside FormalExpression Context={f.get('Context')!r}" for c in f
                   if isinstance(c.tag, str)]
        unread += [f"processing instruction <?{c.target} {c.text or ''}?> inside FormalExpression Context="
                   f"{f.get('Context')!r}" for c in f if isinstance(c, etree._ProcessingInstruction)]
    return Method(oid, m.get("Name") or oid, *_method_type(m.get("Type")), description_text(m), _documents(m),
                  tuple(expressions), tuple(aliases.items()), tuple(unread))


def _method_type(stated: str | None) -> tuple[str, str]:
    """(the Define-XML 2.1 Type written, "" or what a note says of it) of a MethodDef Type as stated: a Type the
    2.1 enumeration does not hold would make the define.xml fail its XSD (mappings/define_xml.yaml
    method_types_2_1)."""
    types = mappings.load("define_xml")["method_types_2_1"]
    if stated is None or not stated.strip():
        return "Computation", "no Type (Define-XML requires one): written as Computation"
    same = next((t for t in types if t.lower() == stated.strip().lower()), None)
    if same == stated:
        return same, ""
    if same is not None:
        return same, f"Type {stated!r}: written as {same}"
    return "Other", f"Type {stated!r}, which Define-XML 2.1 does not have ({', '.join(types)}): written as Other"


def _origins_1_0() -> list[tuple[re.Pattern[str], str, str | None, bool]]:
    return [(re.compile(rf"(?i){re.escape(o['text'])}\b"), o["type"], o.get("source"), bool(o.get("pages")))
            for o in mappings.load("define_xml")["origins_1_0"]]


def _types_2_1() -> frozenset[str]:
    return frozenset(mappings.load("define_xml")["origin_types_2_1"])


def crf_pages(rest: str) -> tuple[tuple[tuple[str, str], ...], ...] | None:
    """The def:PDFPageRef attributes of the page list after "CRF" in a Define-XML 1.0 Origin (" Pages 25, 36,
    42": PageRefs "25 36 42"; "12-14": FirstPage 12, LastPage 14); None when the text says anything else."""
    config = mappings.load("define_xml")["crf_pages_1_0"]
    words = "|".join(re.escape(w) for w in config["words"])
    m = re.fullmatch(rf"(?is)\s*(?:(?:{words})\b)?\s*(.*?)\s*", rest)
    tokens = [t for t in re.split(r"\s*[,;]\s*|\s+and\s+|\s+", re.sub(r"\s*-\s*", "-", m.group(1) if m else ""))
              if t]
    singles: list[str] = []
    ranges: list[tuple[str, str]] = []
    for token in tokens:
        pages = re.fullmatch(r"([1-9][0-9]*)(?:-([1-9][0-9]*))?", token)
        if pages is None or (pages.group(2) and int(pages.group(2)) < int(pages.group(1))):
            return None
        if pages.group(2):
            ranges.append((pages.group(1), pages.group(2)))
        elif pages.group(1) not in singles:
            singles.append(pages.group(1))
    if not tokens:
        return None
    kind = ("Type", config["pdf_page_type"])
    refs = [(("PageRefs", " ".join(singles)), kind)] if singles else []
    return tuple(refs + [(("FirstPage", a), ("LastPage", b), kind) for a, b in ranges])


def origin_of_1_0(text: str, acrf: str | None = None) -> Origin | None:
    """A Define-XML 1.0 Origin text as a 2.1 def:Origin (None: it names no type msc-interop knows). `acrf`: the
    def:leaf ID of the package's annotated CRF, which a "CRF Page(s) N, ..." text cites by page."""
    text = " ".join(text.split())
    for pattern, otype, source, pages in _origins_1_0():
        m = pattern.match(text)
        if m:
            refs = crf_pages(text[m.end():]) if pages and acrf and m.end() < len(text) else None
            if refs:
                return Origin(otype, source, "", ((acrf, refs),))
            return Origin(otype, source, "" if m.end() == len(text) else text)
    return None


class _Read:
    """What the items of a define.xml refer to: its methods, comments, ItemDefs, and the one annotated CRF."""

    def __init__(self, root: etree._Element) -> None:
        self.methods = {m.get("OID"): _method(m) for m in root.iter("{*}MethodDef")}
        for m in root.iter("{*}ComputationMethod"):  # Define-XML 1.0: the text is the method
            oid = m.get("OID") or ""
            self.methods[oid] = Method(oid, oid, "Computation", "", " ".join(_all_text(m).split()))
        self.comments = {c.get("OID"): (description_text(c), _documents(c)) for c in root.iter("{*}CommentDef")}
        self.defs = {d.get("OID"): d for d in root.iter("{*}ItemDef")}
        self.leaf_ids = {leaf.get("ID") for leaf in root.iter("{*}leaf")}
        self.documents = {kind: ids for kind in ("AnnotatedCRF", "SupplementalDoc")
                          if (ids := tuple(dict.fromkeys(d.get("leafID") or "" for el in root.iter(f"{{*}}{kind}")
                                                         for d in el.iterfind("{*}DocumentRef"))))}
        acrf = [leaf for leaf in self.documents.get("AnnotatedCRF", ()) if leaf in self.leaf_ids]
        self.acrf = acrf[0] if len(acrf) == 1 else None  # pages of which document, if it had two: not guessed


def read_sponsor_define(path: Path) -> SponsorDefine:
    """The sponsor metadata of a package's define.xml (1.0, 2.0 or 2.1); empty when it cannot be read."""
    try:
        root = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
    except (etree.XMLSyntaxError, OSError):
        return SponsorDefine()  # validate reads an unreadable define.xml
    read = _Read(root)
    out = SponsorDefine(documents=read.documents)
    owner: dict[str | None, list[str]] = {}  # ItemDef OID -> the datasets referencing it (ODM lets them share it)
    for group in root.iter("{*}ItemGroupDef"):
        ds = (group.get("Name") or "").upper()
        comment = _comment(group, read, [], f"COM.{ds}")
        if comment:
            out.datasets[ds] = comment
        for ref in group.iterfind("{*}ItemRef"):
            item = read.defs.get(ref.get("ItemOID"))
            if item is None or not item.get("Name"):
                continue
            if ds not in owner.setdefault(item.get("OID"), []):
                owner[item.get("OID")].append(ds)
            found = _item(item, ref, read, f"COM.{ds}.{item.get('Name')}")
            if found != SponsorItem():
                out.items.setdefault(ds, {})[item.get("Name") or ""] = found
    lists = {vl.get("OID"): vl for vl in root.iter("{*}ValueListDef")}
    clauses = {wc.get("OID"): wc for wc in root.iter("{*}WhereClauseDef")}
    for oid, datasets in owner.items():
        ref = read.defs[oid].find("{*}ValueListRef")
        if ref is not None and ref.get("ValueListOID") in lists:
            for ds in datasets:
                _values(ds, read.defs[oid].get("Name") or "", (), lists[ref.get("ValueListOID")], lists, clauses,
                        owner, read, out, set())
    cited = {leaf for ids in out.documents.values() for leaf in ids}
    cited.update(leaf for comment in out.datasets.values() for leaf, _ in comment[2])
    found = [*(f for items in out.items.values() for f in items.values()),
             *(v.item for values in out.values.values() for v in values)]
    cited.update(leaf for f in found for leaf, _ in (*(d for o in f.origins for d in o.documents),
                                                      *(f.method.documents if f.method else ()),
                                                      *(f.comment[2] if f.comment else ())))
    for leaf in root.iter("{*}leaf"):
        if leaf.get("ID") in cited:
            out.leaves[leaf.get("ID") or ""] = (leaf.get(_XLINK_HREF) or "", (leaf.findtext("{*}title") or "").strip())
    return out


def _values(ds: str, var: str, where: Where, vl: etree._Element, lists: dict, clauses: dict,
            owner: dict[str | None, list[str]], read: _Read, out: SponsorDefine, seen: set[str | None]) -> None:
    """The items of one def:ValueListDef hanging from `var` of `ds` (`where`: the conditions of the item it hangs
    from, in a Define-XML 1.0 list of lists)."""
    seen = seen | {vl.get("OID")}
    v1 = etree.QName(vl).namespace == "http://www.cdisc.org/ns/def/v1.0"
    for ref in vl.iterfind("{*}ItemRef"):
        item = read.defs.get(ref.get("ItemOID"))
        if item is None or not item.get("Name"):
            continue
        found = _item(item, ref, read, f"COM.{item.get('OID')}")
        if v1:  # the item's Name is the value of `var` that selects it (a list of lists: of a variable 1.0 does
            selects = [(*where, (var, "EQ", (item.get("Name") or "",)))]  # not name, "")
            described = "" if where else mappings.load("define_xml")["value_lists_1_0"].get(var, "")
        else:
            selects = [_where(clauses.get(c.get("WhereClauseOID")), ds, owner, read)
                       for c in ref.iterfind("{*}WhereClauseRef")]
            described = var
        if found != SponsorItem():
            out.values.setdefault(ds, []).extend(SponsorValue(vl.get("OID") or "", described, w, found)
                                                 for w in selects or [()])
        nested = item.find("{*}ValueListRef")
        if v1 and nested is not None and nested.get("ValueListOID") in lists and nested.get("ValueListOID") not in seen:
            _values(ds, "", selects[0], lists[nested.get("ValueListOID")], lists, clauses, owner, read, out, seen)


def _where(clause: etree._Element | None, ds: str, owner: dict[str | None, list[str]], read: _Read) -> Where:
    """The range checks of a def:WhereClauseDef as (variable, Comparator, CheckValues); a variable of another
    dataset (an ItemDef `ds` does not reference; of several, the first) is named DS.VAR."""
    if clause is None:
        return ()
    checks = []
    for rc in clause.iterfind("{*}RangeCheck"):
        oid = next((v for k, v in rc.attrib.items() if etree.QName(k).localname == "ItemOID"), None)
        of = owner.get(oid) or [ds]
        name = (read.defs[oid].get("Name") or "") if oid in read.defs else ""
        checks.append((name if ds in of else f"{of[0]}.{name}", rc.get("Comparator") or "",
                       tuple(_all_text(c).strip() for c in rc.iterfind("{*}CheckValue"))))
    return tuple(checks)


def _comment(el: etree._Element, read: _Read, notes: list[str], own_oid: str) -> Comment | None:
    """(OID, text, documents) of the def:CommentDef an element points to (def:CommentOID) and of its 1.0 Comment
    attribute and `notes`, joined; its OID the sponsor's when that says all, else `own_oid`."""
    attrs = {etree.QName(k).localname: v for k, v in el.attrib.items()}
    stated, documents = read.comments.get(attrs.get("CommentOID"), ("", ()))
    texts = [c for c in [stated, (attrs.get("Comment") or "").strip(), *notes] if c]
    if not texts and not documents:
        return None
    text = texts[0] if len(texts) == 1 else " ".join(texts)  # (one: as read, its language kept: Translated)
    return (attrs["CommentOID"] if text == stated else own_oid), text, documents


def _item(item: etree._Element, ref: etree._Element, read: _Read, comment_oid: str) -> SponsorItem:
    attrs = {etree.QName(k).localname: v for k, v in item.attrib.items()}
    notes: list[str] = []
    origins: list[Origin] = []
    for o in item.iterfind("{*}Origin"):
        docs = _documents(o)
        otype, source = o.get("Type") or "", o.get("Source")
        if otype not in _types_2_1():  # a 2.0 Type 2.1 dropped (CRF, eDT): mapped as a 1.0 Origin text is
            mapped = origin_of_1_0(otype)
            if mapped is None:
                notes.append(f"Origin Type in the package's define.xml: {otype}")
                continue
            otype, source = mapped.type, source or mapped.source
        origins.append(Origin(otype, source, description_text(o), docs))
    if not origins and (attrs.get("Origin") or "").strip():  # Define-XML 1.0
        mapped = origin_of_1_0(attrs["Origin"], read.acrf)
        if mapped is None:
            notes.append(f"Origin in the package's Define-XML 1.0: {attrs['Origin'].strip()}")
        else:
            origins.append(mapped)
    method = read.methods.get(ref.get("MethodOID") or attrs.get("ComputationMethodOID"))
    return SponsorItem(tuple(origins), method, _comment(item, read, notes, comment_oid))


# --- writing -------------------------------------------------------------------------------------------------

class SponsorWriter:
    """Writes the sponsor's origins into ItemDefs, its def:AnnotatedCRF / def:SupplementalDoc, MethodDefs,
    def:CommentDefs and cited def:leaf elements at their places in MetaDataVersion. `taken`: def:leaf IDs the
    document gives its datasets (a sponsor document leaf of the same ID is not cited, and the note says so)."""

    def __init__(self, sponsor: SponsorDefine, taken: Iterable[str], notes: list[str]) -> None:
        self.leaves = {k: v for k, v in sponsor.leaves.items() if k not in set(taken)}
        self.sponsor = sponsor
        self.notes = notes
        self.methods: dict[str, Method] = {}
        self.comments: dict[str, tuple[str, Documents]] = {}
        self.cited: set[str] = set()
        self.used: set[int] = set()  # id() of the SponsorValues carried
        self.lists: set[tuple[str, str, str]] = set()  # (dataset, variable, where variable) given value-level items
        # (dataset, variable, where variable, value) -> the value-level item a single EQ / IN check selects
        self.by_value: dict[tuple[str, str, str, str], SponsorValue] = {}
        for ds, values in sponsor.values.items():
            for v in values:
                if len(v.where) == 1 and v.where[0][1] in ("EQ", "IN"):
                    for value in v.where[0][2]:
                        self.by_value.setdefault((ds, v.variable, v.where[0][0], value), v)

    def method_oid(self, item: SponsorItem | None) -> str | None:
        if item is None or item.method is None:
            return None
        self.methods[item.method.oid] = item.method
        return item.method.oid

    def dataset_comment(self, ds: str) -> str | None:
        """The def:CommentOID of a dataset the package's define.xml comments on."""
        comment = self.sponsor.datasets.get(ds)
        if comment is None:
            return None
        self.comments[comment[0]] = comment[1:]
        return comment[0]

    def value_item(self, ds: str, var: str, where_var: str, value: str) -> SponsorItem | None:
        """What the package's define.xml says of `var` of `ds` where `where_var` is `value` (None: nothing)."""
        self.lists.add((ds, var, where_var))
        found = self.by_value.get((ds, var, where_var, value))
        if found is None:
            return None
        self.used.add(id(found))
        return found.item

    def note_values_not_carried(self, names: Iterable[str]) -> None:
        """A note naming the value-level items of the package's define.xml, for datasets written, that define.xml
        does not carry: of value lists msc-interop does not write, and of values no record holds."""
        unwritten: dict[tuple[str, str], int] = {}
        absent: dict[tuple[str, str], list[str]] = {}
        for ds in names:
            for v in self.sponsor.values.get(ds, []):
                if id(v) in self.used:
                    continue
                listed = len(v.where) == 1 and (ds, v.variable, v.where[0][0]) in self.lists
                if listed:
                    absent.setdefault((ds, f"{v.variable} where {v.where[0][0]} is"), []).extend(v.where[0][2])
                else:
                    key = (v.list_oid, f"{ds}.{v.variable}" if v.variable else ds)
                    unwritten[key] = unwritten.get(key, 0) + 1
        if unwritten:
            said = "; ".join(f"{oid} ({of}: {n} item{'' if n == 1 else 's'})"
                             for (oid, of), n in sorted(unwritten.items()))
            self.notes.append(f"define.xml: the package's define.xml gives origins, methods or comments of "
                              f"value-level items that define.xml does not carry: {said}; msc-interop writes "
                              "value-level metadata of a package only for SUPP-- QVAL by QNAM and LB LBORRES, "
                              "LBSTRESN by LBTESTCD")
        if absent:
            said = "; ".join(f"{ds}.{of} {', '.join(sorted(set(values)))}"
                             for (ds, of), values in sorted(absent.items()))
            self.notes.append(f"define.xml: the package's define.xml describes value-level items of values no "
                              f"record holds, not carried: {said}")

    def write_documents(self, mdv: etree._Element, ns: tuple[str, str]) -> None:
        """def:AnnotatedCRF and def:SupplementalDoc of the package's define.xml (after def:Standards)."""
        for kind in ("AnnotatedCRF", "SupplementalDoc"):
            ids = self.sponsor.documents.get(kind, ())
            lost = [leaf for leaf in ids if leaf not in self.leaves]
            if lost:
                self.notes.append(f"define.xml: the package's def:{kind} cites document(s) {', '.join(lost)}, which "
                                  "its define.xml does not list (def:leaf) or whose ID names a dataset here: not cited")
            if len(lost) < len(ids):
                el = etree.SubElement(mdv, f"{{{ns[1]}}}{kind}")
                for leaf in (leaf for leaf in ids if leaf in self.leaves):
                    etree.SubElement(el, f"{{{ns[1]}}}DocumentRef", {"leafID": leaf})
                    self.cited.add(leaf)

    def documents(self) -> list[tuple[str, str, str]]:
        """(def:leaf ID, href, title) of each sponsor document the written define.xml cites."""
        return [(leaf, *self.leaves[leaf]) for leaf in sorted(self.cited)]

    def item_def(self, e: etree._Element, item: SponsorItem | None, ns: tuple[str, str]) -> None:
        """def:CommentOID and def:Origin elements of an ItemDef (`ns`: the ODM and def namespaces)."""
        if item is None:
            return
        odm, dns = ns
        if item.comment:
            self.comments[item.comment[0]] = item.comment[1:]
            e.set(f"{{{dns}}}CommentOID", item.comment[0])
        for o in item.origins:
            el = etree.SubElement(e, f"{{{dns}}}Origin", {"Type": o.type, **({"Source": o.source} if o.source else {})})
            if o.text:
                _describe(el, o.text, odm)
            self._document_refs(el, o.documents, str(e.get("OID")), dns)

    def _document_refs(self, el: etree._Element, documents: Documents, who: str, dns: str) -> None:
        """def:DocumentRef (with its def:PDFPageRef) children of `el`, each citing its def:leaf; one whose leaf the
        package's define.xml does not list is named in a note."""
        for leaf, pages in documents:
            if leaf not in self.leaves:
                self.notes.append(f"define.xml: {who} cites document {leaf!r}, which the package's "
                                  "define.xml does not list or whose ID names a dataset here: not cited")
                continue
            self.cited.add(leaf)
            doc = etree.SubElement(el, f"{{{dns}}}DocumentRef", {"leafID": leaf})
            for attrs in pages:
                etree.SubElement(doc, f"{{{dns}}}PDFPageRef", dict(attrs))

    def write_methods(self, mdv: etree._Element, ns: tuple[str, str]) -> None:
        """MethodDefs: Description, FormalExpression, Alias, then def:DocumentRef (the Define-XML 2.1 XSD's order:
        ODM's sequence, the def: extension after it); a note names what of one is not carried."""
        odm = ns[0]
        for oid in sorted(self.methods):
            m = self.methods[oid]
            el = etree.SubElement(mdv, f"{{{odm}}}MethodDef", {"OID": oid, "Name": m.name, "Type": m.type})
            _describe(el, m.text or m.name, odm)
            for context, code in m.expressions:
                etree.SubElement(el, f"{{{odm}}}FormalExpression", {"Context": context} if context is not None
                                 else {}).text = code
            for context, name in m.aliases:
                etree.SubElement(el, f"{{{odm}}}Alias", {"Context": context, "Name": name})
            self._document_refs(el, m.documents, oid, ns[1])
            if m.type_said:
                self.notes.append(f"define.xml: MethodDef {oid} of the package's define.xml has {m.type_said}")
            if m.unread:
                self.notes.append(f"define.xml: MethodDef {oid} of the package's define.xml has "
                                  f"{'; '.join(m.unread)}, which define.xml does not carry (it writes the "
                                  "method's Description in one language, its FormalExpression, Alias and "
                                  "def:DocumentRef)")

    def write_comments_and_leaves(self, mdv: etree._Element, ns: tuple[str, str]) -> None:
        """def:CommentDefs (Description, def:DocumentRef), then the def:leaf of each document cited."""
        for oid in sorted(self.comments):
            text, documents = self.comments[oid]
            el = etree.SubElement(mdv, f"{{{ns[1]}}}CommentDef", {"OID": oid})
            _describe(el, text, ns[0])
            self._document_refs(el, documents, oid, ns[1])
        for leaf in sorted(self.cited):
            href, title = self.leaves[leaf]
            el = etree.SubElement(mdv, f"{{{ns[1]}}}leaf", {"ID": leaf, _XLINK_HREF: href})
            etree.SubElement(el, f"{{{ns[1]}}}title").text = title or href


def _describe(parent: etree._Element, text: str, odm: str) -> None:
    """A Description of `text` in its language (Translated: the package's; any other text: English)."""
    d = etree.SubElement(parent, f"{{{odm}}}Description")
    etree.SubElement(d, f"{{{odm}}}TranslatedText", {_XML_LANG: getattr(text, "lang", "en")}).text = str(text)
