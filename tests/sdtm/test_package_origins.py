"""define.xml written for an existing SDTM package keeps the sponsor's origins, methods and comments from the
package's own define.xml (Define-XML 2.x as they are; 1.0 Origin text mapped to a 2.1 Origin Type and Source),
and stays valid Define-XML 2.1."""

from __future__ import annotations

import json
from pathlib import Path

from lxml import etree

from msc_interop import api
from msc_interop.sdtm.define import xsd_errors

from .package_define import AE_CSV, CREATED, DEF, ODM, TEXT, XSD, converted_define

_DEFINE_21 = """<?xml version="1.0" encoding="UTF-8"?>
<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" xmlns:def="http://www.cdisc.org/ns/def/v2.1"
     xmlns:xlink="http://www.w3.org/1999/xlink" ODMVersion="1.3.2">
 <Study OID="S"><MetaDataVersion OID="M" Name="M" def:DefineVersion="2.1.0">
  <def:Standards><def:Standard OID="STD.1" Name="SDTMIG" Type="IG" Version="3.4" Status="Final"/></def:Standards>
  <ItemGroupDef OID="IG.AE" Name="AE" Repeating="Yes">
   <ItemRef ItemOID="IT.AE.AETERM" Mandatory="Yes"/>
   <ItemRef ItemOID="IT.AE.AEDECOD" Mandatory="Yes"/>
   <ItemRef ItemOID="IT.AE.AESTDY" Mandatory="No" MethodOID="MT.DAYCALC"/>
  </ItemGroupDef>
  <ItemDef OID="IT.AE.AETERM" Name="AETERM" DataType="text">
   <def:Origin Type="Collected" Source="Investigator">
    <def:DocumentRef leafID="LF.acrf"><def:PDFPageRef PageRefs="22 23" Type="PhysicalRef"/></def:DocumentRef>
   </def:Origin>
  </ItemDef>
  <ItemDef OID="IT.AE.AEDECOD" Name="AEDECOD" DataType="text" def:CommentOID="COM.AEDECOD">
   <def:Origin Type="Assigned" Source="Sponsor"/>
  </ItemDef>
  <ItemDef OID="IT.AE.AESTDY" Name="AESTDY" DataType="integer"><def:Origin Type="Derived" Source="Sponsor"/></ItemDef>
  <MethodDef OID="MT.DAYCALC" Name="Algorithm to derive DAYCALC" Type="Computation">
   <Description><TranslatedText xml:lang="en">Date - RFSTDTC + 1 if on or after RFSTDTC.</TranslatedText></Description>
  </MethodDef>
  <def:CommentDef OID="COM.AEDECOD">
   <Description><TranslatedText xml:lang="en">Coded with MedDRA 26.0.</TranslatedText></Description>
  </def:CommentDef>
  <def:leaf ID="LF.acrf" xlink:href="acrf.pdf"><def:title>Annotated CRF</def:title></def:leaf>
 </MetaDataVersion></Study>
</ODM>
"""

_DEFINE_10 = """<?xml version="1.0" encoding="UTF-8"?>
<ODM xmlns="http://www.cdisc.org/ns/odm/v1.2" xmlns:def="http://www.cdisc.org/ns/def/v1.0" ODMVersion="1.2">
 <Study OID="S"><MetaDataVersion OID="M" Name="M" def:DefineVersion="1.0.0" def:StandardName="CDISC SDTM"
   def:StandardVersion="3.1.2">
  <def:ComputationMethod OID="COMPMETHOD.STUDY_DAY">(date of --DTC) minus (date of RFSTDTC), add 1
  </def:ComputationMethod>
  <ItemGroupDef OID="AE" Name="AE" Repeating="Yes" def:DomainKeys="STUDYID, USUBJID, AESEQ">
   <ItemRef ItemOID="AE.USUBJID" Mandatory="Yes"/>
   <ItemRef ItemOID="AE.AETERM" Mandatory="Yes"/>
   <ItemRef ItemOID="AE.AEDECOD" Mandatory="Yes"/>
   <ItemRef ItemOID="AE.AESTDTC" Mandatory="No"/>
   <ItemRef ItemOID="AE.AESTDY" Mandatory="No"/>
  </ItemGroupDef>
  <ItemDef OID="AE.USUBJID" Name="USUBJID" DataType="text" Origin="Derived"
   Comment="Concatenation of STUDYID and SUBJID"/>
  <ItemDef OID="AE.AETERM" Name="AETERM" DataType="text" Origin="CRF Page 121, 122, 123" Comment=" "/>
  <ItemDef OID="AE.AEDECOD" Name="AEDECOD" DataType="text" Origin="eDT"/>
  <ItemDef OID="AE.AESTDTC" Name="AESTDTC" DataType="date" Origin="Sponsor lookup table"/>
  <ItemDef OID="AE.AESTDY" Name="AESTDY" DataType="integer" Origin="Derived"
   def:ComputationMethodOID="COMPMETHOD.STUDY_DAY"/>
 </MetaDataVersion></Study>
</ODM>
"""


def _package(tmp_path: Path, define: str) -> etree._Element:
    return converted_define(tmp_path, {"ae.csv": AE_CSV, "define.xml": define})


def _item(root: etree._Element, oid: str) -> etree._Element:
    return next(e for e in root.iter(f"{ODM}ItemDef") if e.get("OID") == oid)


def _ref(root: etree._Element, ds: str, var: str) -> etree._Element:
    return next(r for r in root.iter(f"{ODM}ItemRef") if r.get("ItemOID") == f"IT.{ds}.{var}")


def _by_oid(root: etree._Element, tag: str, oid: str | None) -> etree._Element:
    return next(e for e in root.iter(tag) if e.get("OID") == oid)


def test_define_21_origins_methods_comments_are_kept(tmp_path: Path) -> None:
    root = _package(tmp_path, _DEFINE_21)
    origin = _item(root, "IT.AE.AETERM").find(f"{DEF}Origin")
    assert (origin.get("Type"), origin.get("Source")) == ("Collected", "Investigator")
    doc = origin.find(f"{DEF}DocumentRef")
    assert doc.get("leafID") == "LF.acrf"
    assert doc.find(f"{DEF}PDFPageRef").attrib == {"PageRefs": "22 23", "Type": "PhysicalRef"}
    leaf = next(e for e in root.iter(f"{DEF}leaf") if e.get("ID") == "LF.acrf")
    assert leaf.get("{http://www.w3.org/1999/xlink}href") == "acrf.pdf"
    decod = _item(root, "IT.AE.AEDECOD")
    assert decod.find(f"{DEF}Origin").attrib == {"Type": "Assigned", "Source": "Sponsor"}
    comment = _by_oid(root, f"{DEF}CommentDef", decod.get(f"{DEF}CommentOID"))
    assert comment.findtext(TEXT) == "Coded with MedDRA 26.0."
    method = _by_oid(root, f"{ODM}MethodDef", _ref(root, "AE", "AESTDY").get("MethodOID"))
    assert (method.get("Name"), method.get("Type")) == ("Algorithm to derive DAYCALC", "Computation")
    assert method.findtext(TEXT) == "Date - RFSTDTC + 1 if on or after RFSTDTC."
    # a variable the package's define.xml does not describe gets no origin msc-interop would claim for it
    assert _item(root, "IT.DM.SEX").find(f"{DEF}Origin") is None


def test_define_10_origin_text_becomes_21_origin(tmp_path: Path) -> None:
    """Define-XML 2.1 has no CRF or eDT type: CRF pages are Collected by the Investigator, eDT Collected from a
    Vendor (CDISC's 2.1 example: its central lab LB.LBORRES); the page text is kept as the description."""
    root = _package(tmp_path, _DEFINE_10)
    term = _item(root, "IT.AE.AETERM")
    origin = term.find(f"{DEF}Origin")
    assert (origin.get("Type"), origin.get("Source")) == ("Collected", "Investigator")
    assert origin.findtext(TEXT) == "CRF Page 121, 122, 123"
    assert term.get(f"{DEF}CommentOID") is None  # Comment=" " says nothing
    assert _item(root, "IT.AE.AEDECOD").find(f"{DEF}Origin").attrib == {"Type": "Collected", "Source": "Vendor"}
    usubjid = _item(root, "IT.AE.USUBJID")
    assert usubjid.find(f"{DEF}Origin").attrib == {"Type": "Derived", "Source": "Sponsor"}
    comment = _by_oid(root, f"{DEF}CommentDef", usubjid.get(f"{DEF}CommentOID"))
    assert comment.findtext(TEXT) == "Concatenation of STUDYID and SUBJID"
    method = _by_oid(root, f"{ODM}MethodDef", _ref(root, "AE", "AESTDY").get("MethodOID"))
    assert method.get("Type") == "Computation"
    assert method.findtext(TEXT) == "(date of --DTC) minus (date of RFSTDTC), add 1"
    # an Origin text naming no Define-XML type is not guessed at: no def:Origin, the text kept as a comment
    stdtc = _item(root, "IT.AE.AESTDTC")
    assert stdtc.find(f"{DEF}Origin") is None
    assert _by_oid(root, f"{DEF}CommentDef", stdtc.get(f"{DEF}CommentOID")).findtext(TEXT) == (
        "Origin in the package's Define-XML 1.0: Sponsor lookup table")


def test_pilot_define_10_metadata_is_kept(pilot: Path, tmp_path: Path) -> None:
    """The pilot's define.xml: AE.AETERM Origin="CRF Page 121, 122, 123" (its aCRF's pages:
    test_package_acrf.py); AE.USUBJID Origin="Derived" Comment="Concatenation of STUDYID, DM.SITEID and
    DM.SUBJID"; AE.AESTDY def:ComputationMethodOID COMPMETHOD.STUDY_DAY; TS items Origin="Protocol"."""
    api.to_sdtm(pilot, tmp_path, formats=["xpt"], created=CREATED, validate=False)
    written = tmp_path / "xpt" / "define.xml"
    assert xsd_errors(written, XSD) == []
    root = etree.parse(str(written)).getroot()
    origin = _item(root, "IT.AE.AETERM").find(f"{DEF}Origin")
    assert (origin.get("Type"), origin.get("Source")) == ("Collected", "Investigator")
    assert origin.find(f"{DEF}DocumentRef/{DEF}PDFPageRef").get("PageRefs") == "121 122 123"
    usubjid = _item(root, "IT.AE.USUBJID")
    assert usubjid.find(f"{DEF}Origin").get("Type") == "Derived"
    assert _by_oid(root, f"{DEF}CommentDef", usubjid.get(f"{DEF}CommentOID")).findtext(TEXT) == (
        "Concatenation of STUDYID, DM.SITEID and DM.SUBJID")
    assert _ref(root, "AE", "AESTDY").get("MethodOID") == "COMPMETHOD.STUDY_DAY"
    assert _by_oid(root, f"{ODM}MethodDef", "COMPMETHOD.STUDY_DAY").findtext(TEXT).startswith(
        "(date portion of --DTC) minus (date portion of RFSTDTC)")
    assert _item(root, "IT.TS.TSVAL").find(f"{DEF}Origin").get("Type") == "Protocol"


_DEFINE_20 = """<?xml version="1.0" encoding="UTF-8"?>
<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" xmlns:def="http://www.cdisc.org/ns/def/v2.0"
     xmlns:xlink="http://www.w3.org/1999/xlink" ODMVersion="1.3.2">
 <Study OID="S"><MetaDataVersion OID="M" Name="M" def:DefineVersion="2.0.0" def:StandardName="SDTM-IG"
   def:StandardVersion="3.2">
  <ItemGroupDef OID="IG.AE" Name="AE" Repeating="Yes">
   <ItemRef ItemOID="IT.AE.AETERM" Mandatory="Yes"/>
   <ItemRef ItemOID="IT.AE.AEDECOD" Mandatory="Yes"/>
   <ItemRef ItemOID="IT.AE.AESTDY" Mandatory="No"/>
   <ItemRef ItemOID="IT.AE.AESTDTC" Mandatory="No"/>
  </ItemGroupDef>
  <ItemDef OID="IT.AE.AETERM" Name="AETERM" DataType="text">
   <def:Origin Type="CRF">
    <def:DocumentRef leafID="LF.blankcrf"><def:PDFPageRef PageRefs="22 23" Type="PhysicalRef"/></def:DocumentRef>
   </def:Origin>
  </ItemDef>
  <ItemDef OID="IT.AE.AEDECOD" Name="AEDECOD" DataType="text"><def:Origin Type="eDT"/></ItemDef>
  <ItemDef OID="IT.AE.AESTDY" Name="AESTDY" DataType="integer"><def:Origin Type="Derived"/></ItemDef>
  <ItemDef OID="IT.AE.AESTDTC" Name="AESTDTC" DataType="date"><def:Origin Type="Lookup"/></ItemDef>
  <def:leaf ID="LF.blankcrf" xlink:href="blankcrf.pdf"><def:title>Annotated CRF</def:title></def:leaf>
 </MetaDataVersion></Study>
</ODM>
"""


def test_define_20_origin_types_become_21_types(tmp_path: Path) -> None:
    """Define-XML 2.0's Origin Types CRF and eDT are not in 2.1's OriginType enumeration (define-enumerations.xsd:
    Assigned, Collected, Derived, Not Available, Other, Predecessor, Protocol): CRF is Collected by the
    Investigator (pages kept), eDT Collected from a Vendor; a 2.1 Type (Derived) is kept as it is; a Type
    neither version has is not guessed at. `_package` checks the result against the 2.1 XSD."""
    root = _package(tmp_path, _DEFINE_20)
    origin = _item(root, "IT.AE.AETERM").find(f"{DEF}Origin")
    assert (origin.get("Type"), origin.get("Source")) == ("Collected", "Investigator")
    doc = origin.find(f"{DEF}DocumentRef")
    assert doc.get("leafID") == "LF.blankcrf"
    assert doc.find(f"{DEF}PDFPageRef").attrib == {"PageRefs": "22 23", "Type": "PhysicalRef"}
    assert _item(root, "IT.AE.AEDECOD").find(f"{DEF}Origin").attrib == {"Type": "Collected", "Source": "Vendor"}
    assert _item(root, "IT.AE.AESTDY").find(f"{DEF}Origin").attrib == {"Type": "Derived"}
    stdtc = _item(root, "IT.AE.AESTDTC")
    assert stdtc.find(f"{DEF}Origin") is None
    assert _by_oid(root, f"{DEF}CommentDef", stdtc.get(f"{DEF}CommentOID")).findtext(TEXT) == (
        "Origin Type in the package's define.xml: Lookup")


def test_a_description_given_only_in_another_language_keeps_that_language(tmp_path: Path) -> None:
    """ODM 1.3.2 TranslatedText xml:lang states the text's language: a comment the package gives only in French
    and a method only in German are written under their own language, not as English; an English one of several
    (en-US beside ja) is the one taken."""
    define = (_DEFINE_21
              .replace('<TranslatedText xml:lang="en">Coded with MedDRA 26.0.</TranslatedText>',
                       '<TranslatedText xml:lang="fr">Codé avec MedDRA 26.0.</TranslatedText>')
              .replace('<TranslatedText xml:lang="en">Date - RFSTDTC + 1 if on or after RFSTDTC.</TranslatedText>',
                       '<TranslatedText xml:lang="de">Datum - RFSTDTC + 1.</TranslatedText>')
              .replace('<def:Origin Type="Assigned" Source="Sponsor"/>',
                       '<def:Origin Type="Assigned" Source="Sponsor"><Description>'
                       '<TranslatedText xml:lang="ja">スポンサー</TranslatedText>'
                       '<TranslatedText xml:lang="en-US">Assigned by the sponsor</TranslatedText>'
                       '</Description></def:Origin>'))
    root = _package(tmp_path, define)
    lang = "{http://www.w3.org/XML/1998/namespace}lang"
    comment = _by_oid(root, f"{DEF}CommentDef", _item(root, "IT.AE.AEDECOD").get(f"{DEF}CommentOID"))
    text = comment.find(TEXT)
    assert (text.text, text.get(lang)) == ("Codé avec MedDRA 26.0.", "fr")
    method = _by_oid(root, f"{ODM}MethodDef", _ref(root, "AE", "AESTDY").get("MethodOID"))
    assert (method.findtext(TEXT), method.find(TEXT).get(lang)) == ("Datum - RFSTDTC + 1.", "de")
    origin = _item(root, "IT.AE.AEDECOD").find(f"{DEF}Origin").find(TEXT)
    assert (origin.text, origin.get(lang)) == ("Assigned by the sponsor", "en-US")


def test_a_method_type_define_xml_21_does_not_have_is_mended_and_noted(tmp_path: Path) -> None:
    """MethodDef Type is required (Define-XML 2.0, 2.1) and one of Computation, Imputation, Transpose, Other in 2.1
    (define-enumerations.xsd MethodType): a package's method without one is written as Computation, one in other
    case as the 2.1 spelling, an unknown one as Other, each named in a note; the define.xml passes the XSD."""
    define = _DEFINE_21.replace('<MethodDef OID="MT.DAYCALC" Name="Algorithm to derive DAYCALC" Type="Computation">',
                                '<MethodDef OID="MT.DAYCALC" Name="Algorithm to derive DAYCALC">')
    (tmp_path / "none").mkdir()
    root = _package(tmp_path / "none", define)
    assert _by_oid(root, f"{ODM}MethodDef", "MT.DAYCALC").get("Type") == "Computation"
    for stated, written in (("imputation", "Imputation"), ("Algorithm", "Other")):
        folder = tmp_path / stated
        folder.mkdir()
        root = _package(folder, _DEFINE_21.replace('Type="Computation">', f'Type="{stated}">'))
        assert _by_oid(root, f"{ODM}MethodDef", "MT.DAYCALC").get("Type") == written
    notes = json.loads((tmp_path / "none" / "out" / "rejects.json").read_text())["notes"]
    assert ("define.xml: MethodDef MT.DAYCALC of the package's define.xml has no Type (Define-XML requires one): "
            "written as Computation") in notes
    notes = json.loads((tmp_path / "Algorithm" / "out" / "rejects.json").read_text())["notes"]
    assert any("has Type 'Algorithm', which Define-XML 2.1 does not have" in n for n in notes)


def test_a_stated_integer_type_with_fractions_in_the_data_is_written_as_float(pilot: Path, tmp_path: Path) -> None:
    """The pilot's CMDOSE is "integer" in its define.xml but holds 0.625: Define-XML 2.1's integer holds whole
    numbers only, and the Dataset-JSON beside the define.xml says float; so does the define.xml now, with a note
    (the output failed its own MSC-DEF-005 check)."""
    result = api.to_sdtm(pilot, tmp_path, formats=["json"], created=CREATED)
    root = etree.parse(str(tmp_path / "json" / "define.xml")).getroot()
    assert _item(root, "IT.CM.CMDOSE").get("DataType") == "float"
    assert ("define.xml: CM.CMDOSE: the package's define.xml gives DataType integer, but the data hold numbers with "
            "a fraction (3 decimal place(s)); written as float, as the dataset files state it") in result.rejects.notes
    assert not [f for f in result.validation.findings if f.rule_id == "MSC-DEF-005"]
