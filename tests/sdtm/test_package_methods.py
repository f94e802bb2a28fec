"""define.xml written for an existing SDTM package keeps each MethodDef of the package's define.xml whole: its
FormalExpression children (the machine-readable algorithm: Context and text, in their order) and Alias
children, where the Define-XML 2.1 schema puts them (Description, FormalExpression, Alias, def:DocumentRef);
what it cannot carry is named in a note."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from msc_interop import api
from msc_interop.sdtm.define import xsd_errors

from .package_define import AE_CSV, CREATED, DEF, DM_CSV, ODM, TEXT, XSD

_SAS = "\n    if AESTDT >= RFSTDT then AESTDY = AESTDT - RFSTDT + 1;\n    else AESTDY = AESTDT - RFSTDT;\n   "
_PYTHON = "(d - rfst).days + (d >= rfst)  # d < rfst: no day 0 & no +1"

# the sponsor's MethodDef in the element order the Define-XML specification text lists (def:DocumentRef before
# FormalExpression), which its XSD does not accept: the written one is in the schema's order
_DEFINE = """<?xml version="1.0" encoding="UTF-8"?>
<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" xmlns:def="http://www.cdisc.org/ns/def/vDEF"
     xmlns:xlink="http://www.w3.org/1999/xlink" ODMVersion="1.3.2">
 <Study OID="S"><MetaDataVersion OID="M" Name="M" def:DefineVersion="DEF.0">
  <ItemGroupDef OID="IG.AE" Name="AE" Repeating="Yes">
   <ItemRef ItemOID="IT.AE.AETERM" Mandatory="Yes"/>
   <ItemRef ItemOID="IT.AE.AESTDY" Mandatory="No" MethodOID="MT.AESTDY"/>
  </ItemGroupDef>
  <ItemDef OID="IT.AE.AETERM" Name="AETERM" DataType="text"/>
  <ItemDef OID="IT.AE.AESTDY" Name="AESTDY" DataType="integer"/>
  <MethodDef OID="MT.AESTDY" Name="Algorithm to derive AESTDY" Type="Computation">
   <Description><TranslatedText xml:lang="en">AESTDTC - RFSTDTC + 1 if on or after RFSTDTC.</TranslatedText>
   </Description>
   <def:DocumentRef leafID="LF.algo"><def:PDFPageRef PageRefs="3" Type="NamedDestination"/></def:DocumentRef>
   <FormalExpression Context="SAS 9.4">SAS</FormalExpression>
   <Alias Context="SPONSOR" Name="DY01"/>
   <FormalExpression Context="Python 3.12">PYTHON</FormalExpression>
  </MethodDef>
  <def:leaf ID="LF.algo" xlink:href="algorithms.pdf"><def:title>Complex algorithms</def:title></def:leaf>
 </MetaDataVersion></Study>
</ODM>
"""


def _convert(tmp_path: Path, define: str) -> tuple[etree._Element, list[str]]:
    folder = tmp_path / "pkg"
    folder.mkdir()
    (folder / "ae.csv").write_text(AE_CSV, encoding="utf-8")
    (folder / "dm.csv").write_text(DM_CSV, encoding="utf-8")
    (folder / "define.xml").write_text(define, encoding="utf-8")
    result = api.to_sdtm(folder, tmp_path / "out", formats=["json"], created=CREATED, validate=False)
    written = tmp_path / "out" / "json" / "define.xml"
    assert xsd_errors(written, XSD) == []
    return etree.parse(str(written)).getroot(), result.rejects.notes


def _method(root: etree._Element) -> etree._Element:
    oid = next(r for r in root.iter(f"{ODM}ItemRef") if r.get("ItemOID") == "IT.AE.AESTDY").get("MethodOID")
    return next(m for m in root.iter(f"{ODM}MethodDef") if m.get("OID") == oid)


def _define(version: str, method_extra: str = "") -> str:
    text = _DEFINE.replace("vDEF", f"v{version}").replace("DEF.0", f"{version}.0").replace(
        ">SAS<", f">{_SAS.replace('<', '&lt;').replace('>', '&gt;')}<").replace(
        ">PYTHON<", f">{_PYTHON.replace('&', '&amp;').replace('<', '&lt;')}<")
    return text.replace("  </MethodDef>", f"{method_extra}  </MethodDef>")


@pytest.mark.parametrize("version", ["2.1", "2.0"])
def test_method_formal_expressions_are_kept_in_schema_order(tmp_path: Path, version: str) -> None:
    root, notes = _convert(tmp_path, _define(version))
    method = _method(root)
    assert method.get("OID") == "MT.AESTDY"
    assert [etree.QName(c).localname for c in method] == [
        "Description", "FormalExpression", "FormalExpression", "Alias", "DocumentRef"]
    assert method.findtext(TEXT) == "AESTDTC - RFSTDTC + 1 if on or after RFSTDTC."
    # each expression with its Context, its text as the sponsor wrote it (the code's lines and indentation)
    assert [(f.get("Context"), f.text) for f in method.iterfind(f"{ODM}FormalExpression")] == [
        ("SAS 9.4", _SAS), ("Python 3.12", _PYTHON)]
    assert method.find(f"{ODM}Alias").attrib == {"Context": "SPONSOR", "Name": "DY01"}
    doc = method.find(f"{DEF}DocumentRef")
    assert doc.get("leafID") == "LF.algo"
    assert doc.find(f"{DEF}PDFPageRef").attrib == {"PageRefs": "3", "Type": "NamedDestination"}
    assert not [n for n in notes if "MT.AESTDY" in n]  # all of it carried: nothing to say


def test_what_a_method_def_cannot_carry_is_noted(tmp_path: Path) -> None:
    """A second language of the description and an element Define-XML does not define are not written (the one
    description is written in English, an unknown element would fail the XSD): a note names them and the
    MethodDef."""
    extra = ('   <FormalExpression>no context</FormalExpression>\n   <Code xmlns="urn:vendor">AESTDY = 1</Code>\n'
             '   <Alias Context="SPONSOR" Name="DY02"/>\n   <Alias Name="DY03"/>\n')
    define = _define("2.1", extra).replace(
        "</TranslatedText>\n   </Description>",
        '</TranslatedText>\n   <TranslatedText xml:lang="fr">Jour d\'étude.</TranslatedText></Description>')
    root, notes = _convert(tmp_path, define)
    method = _method(root)
    # a FormalExpression without Context (ODM allows it) is carried as it is
    assert [(f.get("Context"), f.text) for f in method.iterfind(f"{ODM}FormalExpression")] == [
        ("SAS 9.4", _SAS), ("Python 3.12", _PYTHON), (None, "no context")]
    assert [t.text for t in method.iter(f"{ODM}TranslatedText")] == [
        "AESTDTC - RFSTDTC + 1 if on or after RFSTDTC."]
    # ODM allows one Alias per Context, and requires Context: the first SPONSOR alias is written, not the others
    assert [a.attrib for a in method.iterfind(f"{ODM}Alias")] == [{"Context": "SPONSOR", "Name": "DY01"}]
    said = [n for n in notes if "MT.AESTDY" in n]
    assert len(said) == 1
    for part in ("Description (xml:lang fr)", "{urn:vendor}Code", "Context='SPONSOR' Name='DY02'", "Name='DY03'"):
        assert part in said[0]


def test_a_formal_expression_split_by_a_comment_is_kept_whole(tmp_path: Path) -> None:
    """An XML comment inside a FormalExpression splits its text in two text nodes (lxml's .text is the first):
    the code written is all of it, without the comment; an element inside one is named in the note."""
    extra = ('   <FormalExpression Context="SAS 9.4 step">data x; <!-- step 1 --> set y;\n run;</FormalExpression>\n'
             '   <FormalExpression Context="R">a &lt;- 1<b xmlns="urn:vendor">bold</b> + 2</FormalExpression>\n')
    root, notes = _convert(tmp_path, _define("2.1", extra))
    written = [(f.get("Context"), f.text) for f in _method(root).iterfind(f"{ODM}FormalExpression")]
    assert written[2:] == [("SAS 9.4 step", "data x;  set y;\n run;"), ("R", "a <- 1 + 2")]
    said = [n for n in notes if "MT.AESTDY" in n]
    assert len(said) == 1 and "{urn:vendor}b inside FormalExpression Context='R'" in said[0]


def test_descriptions_split_by_a_comment_are_kept_whole(tmp_path: Path) -> None:
    """A MethodDef's Description (as every description read from the package's define.xml) split by an XML comment
    is written whole; a processing instruction inside a FormalExpression is named in the note."""
    define = _define("2.1", '   <FormalExpression Context="R">a <?pi x?> + 2</FormalExpression>\n').replace(
        "AESTDTC - RFSTDTC + 1", "AESTDTC - RFSTDTC <!-- c --> + 1")
    root, notes = _convert(tmp_path, define)
    method = _method(root)
    assert method.findtext(TEXT) == "AESTDTC - RFSTDTC  + 1 if on or after RFSTDTC."
    assert [(f.get("Context"), f.text) for f in method.iterfind(f"{ODM}FormalExpression")][2:] == [("R", "a  + 2")]
    said = [n for n in notes if "MT.AESTDY" in n]
    assert len(said) == 1 and "processing instruction <?pi x?> inside FormalExpression Context='R'" in said[0]
