"""define.xml written for an existing SDTM package carries the value-level origins, methods and comments of the
package's define.xml onto the value-level items it writes (SUPP-- QVAL by QNAM, LB LBORRES / LBSTRESN by LBTESTCD),
and each dataset's comment; value-level metadata it writes no items for is named in a note, never dropped
silently."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from msc_interop import api
from msc_interop.sdtm.define import xsd_errors

from .package_define import CREATED, DEF, ODM, TEXT, XSD

_FILES = {
    "ae.csv": "STUDYID,DOMAIN,USUBJID,AESEQ,AETERM,AEDECOD,AESTDTC\nS1,AE,S1-1,1,HEADACHE,Headache,2024-01-05\n",
    "dm.csv": ("STUDYID,DOMAIN,USUBJID,SUBJID,SITEID,RFSTDTC,SEX,ARMCD,ARM,COUNTRY\n"
               "S1,DM,S1-1,1,01,2024-01-01,F,A,Arm A,USA\n"),
    "suppae.csv": ("STUDYID,RDOMAIN,USUBJID,IDVAR,IDVARVAL,QNAM,QLABEL,QVAL,QORIG,QEVAL\n"
                   "S1,AE,S1-1,AESEQ,1,AETRTEM,Treatment Emergent Flag,Y,DERIVED,\n"
                   "S1,AE,S1-1,AESEQ,1,AESOSP,Other Medically Important SAE,Y,CRF,\n"),
    "lb.csv": ("STUDYID,DOMAIN,USUBJID,LBSEQ,LBTESTCD,LBTEST,LBCAT,LBORRES,LBORRESU,LBSTRESC,LBSTRESN,LBSTRESU,"
               "LBSPEC,LBDTC\n"
               "S1,LB,S1-1,1,ALB,Albumin,CHEMISTRY,40,g/L,40,40,g/L,SERUM,2024-01-02\n"
               "S1,LB,S1-1,2,GLUC,Glucose,URINALYSIS,NEGATIVE,,NEGATIVE,,,URINE,2024-01-02\n"),
}

_DEFINE_21 = """<?xml version="1.0" encoding="UTF-8"?>
<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" xmlns:def="http://www.cdisc.org/ns/def/v2.1"
     xmlns:xlink="http://www.w3.org/1999/xlink" ODMVersion="1.3.2">
 <Study OID="S"><MetaDataVersion OID="M" Name="M" def:DefineVersion="2.1.0">
  <def:Standards><def:Standard OID="STD.1" Name="SDTMIG" Type="IG" Version="3.4" Status="Final"/></def:Standards>
  <def:ValueListDef OID="VL.SUPPAE.QVAL">
   <ItemRef ItemOID="IT.SUPPAE.QVAL.AETRTEM" Mandatory="Yes" MethodOID="MT.AETRTEM">
    <def:WhereClauseRef WhereClauseOID="WC.AETRTEM"/></ItemRef>
   <ItemRef ItemOID="IT.SUPPAE.QVAL.AESOSP" Mandatory="Yes"><def:WhereClauseRef WhereClauseOID="WC.AESOSP"/></ItemRef>
   <ItemRef ItemOID="IT.SUPPAE.QVAL.GONE" Mandatory="Yes"><def:WhereClauseRef WhereClauseOID="WC.GONE"/></ItemRef>
  </def:ValueListDef>
  <def:ValueListDef OID="VL.LB.LBORRES">
   <ItemRef ItemOID="IT.LB.LBORRES.ALB" Mandatory="No"><def:WhereClauseRef WhereClauseOID="WC.ALB"/></ItemRef>
   <ItemRef ItemOID="IT.LB.LBORRES.UGLUC" Mandatory="No"><def:WhereClauseRef WhereClauseOID="WC.UGLUC"/></ItemRef>
  </def:ValueListDef>
  <def:WhereClauseDef OID="WC.AETRTEM"><RangeCheck Comparator="EQ" SoftHard="Soft" def:ItemOID="IT.SUPPAE.QNAM">
   <CheckValue>AETRTEM</CheckValue></RangeCheck></def:WhereClauseDef>
  <def:WhereClauseDef OID="WC.AESOSP"><RangeCheck Comparator="IN" SoftHard="Soft" def:ItemOID="IT.SUPPAE.QNAM">
   <CheckValue>AESOSP</CheckValue><CheckValue>AESMIE</CheckValue></RangeCheck></def:WhereClauseDef>
  <def:WhereClauseDef OID="WC.GONE"><RangeCheck Comparator="EQ" SoftHard="Soft" def:ItemOID="IT.SUPPAE.QNAM">
   <CheckValue>GONE</CheckValue></RangeCheck></def:WhereClauseDef>
  <def:WhereClauseDef OID="WC.ALB"><RangeCheck Comparator="EQ" SoftHard="Soft" def:ItemOID="IT.LB.LBTESTCD">
   <CheckValue>ALB</CheckValue></RangeCheck></def:WhereClauseDef>
  <def:WhereClauseDef OID="WC.UGLUC">
   <RangeCheck Comparator="EQ" SoftHard="Soft" def:ItemOID="IT.LB.LBTESTCD"><CheckValue>GLUC</CheckValue></RangeCheck>
   <RangeCheck Comparator="EQ" SoftHard="Soft" def:ItemOID="IT.LB.LBSPEC"><CheckValue>URINE</CheckValue></RangeCheck>
  </def:WhereClauseDef>
  <ItemGroupDef OID="IG.AE" Name="AE" Repeating="Yes" def:CommentOID="COM.AE">
   <ItemRef ItemOID="IT.AE.AETERM" Mandatory="Yes"/>
  </ItemGroupDef>
  <ItemGroupDef OID="IG.SUPPAE" Name="SUPPAE" Repeating="Yes">
   <ItemRef ItemOID="IT.SUPPAE.QNAM" Mandatory="Yes"/><ItemRef ItemOID="IT.SUPPAE.QVAL" Mandatory="Yes"/>
  </ItemGroupDef>
  <ItemGroupDef OID="IG.LB" Name="LB" Repeating="Yes">
   <ItemRef ItemOID="IT.LB.LBTESTCD" Mandatory="Yes"/><ItemRef ItemOID="IT.LB.LBSPEC" Mandatory="No"/>
   <ItemRef ItemOID="IT.LB.LBORRES" Mandatory="No"/>
  </ItemGroupDef>
  <ItemDef OID="IT.AE.AETERM" Name="AETERM" DataType="text"/>
  <ItemDef OID="IT.SUPPAE.QNAM" Name="QNAM" DataType="text"/>
  <ItemDef OID="IT.SUPPAE.QVAL" Name="QVAL" DataType="text"><def:ValueListRef ValueListOID="VL.SUPPAE.QVAL"/></ItemDef>
  <ItemDef OID="IT.LB.LBTESTCD" Name="LBTESTCD" DataType="text"/>
  <ItemDef OID="IT.LB.LBSPEC" Name="LBSPEC" DataType="text"/>
  <ItemDef OID="IT.LB.LBORRES" Name="LBORRES" DataType="text"><def:ValueListRef ValueListOID="VL.LB.LBORRES"/></ItemDef>
  <ItemDef OID="IT.SUPPAE.QVAL.AETRTEM" Name="AETRTEM" DataType="text" def:CommentOID="COM.AETRTEM">
   <def:Origin Type="Derived" Source="Sponsor"/>
  </ItemDef>
  <ItemDef OID="IT.SUPPAE.QVAL.AESOSP" Name="AESOSP" DataType="text">
   <def:Origin Type="Collected" Source="Investigator">
    <def:DocumentRef leafID="LF.acrf"><def:PDFPageRef PageRefs="22" Type="PhysicalRef"/></def:DocumentRef>
   </def:Origin>
  </ItemDef>
  <ItemDef OID="IT.SUPPAE.QVAL.GONE" Name="GONE" DataType="text">
   <def:Origin Type="Assigned" Source="Sponsor"/></ItemDef>
  <ItemDef OID="IT.LB.LBORRES.ALB" Name="LBORRES" DataType="text">
   <def:Origin Type="Collected" Source="Vendor">
    <Description><TranslatedText xml:lang="en">Central lab transfer</TranslatedText></Description>
   </def:Origin>
  </ItemDef>
  <ItemDef OID="IT.LB.LBORRES.UGLUC" Name="LBORRES" DataType="text">
   <def:Origin Type="Collected" Source="Vendor"/></ItemDef>
  <MethodDef OID="MT.AETRTEM" Name="Algorithm to derive AETRTEM" Type="Computation">
   <Description><TranslatedText xml:lang="en">Y if AESTDTC on or after the first dose.</TranslatedText></Description>
  </MethodDef>
  <def:CommentDef OID="COM.AE">
   <Description><TranslatedText xml:lang="en">AEs of screening failures are not included.</TranslatedText></Description>
  </def:CommentDef>
  <def:CommentDef OID="COM.AETRTEM">
   <Description><TranslatedText xml:lang="en">See SAP section 9.</TranslatedText></Description>
  </def:CommentDef>
  <def:leaf ID="LF.acrf" xlink:href="acrf.pdf"><def:title>Annotated CRF</def:title></def:leaf>
 </MetaDataVersion></Study>
</ODM>
"""


def _convert(tmp_path: Path, define: str, extra: dict[str, str] | None = None) -> tuple[etree._Element, list[str]]:
    folder = tmp_path / "pkg"
    folder.mkdir()
    for name, text in {**_FILES, **(extra or {})}.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "define.xml").write_text(define, encoding="utf-8")
    result = api.to_sdtm(folder, tmp_path / "out", formats=["json"], created=CREATED, validate=False)
    written = tmp_path / "out" / "json" / "define.xml"
    assert xsd_errors(written, XSD) == []
    return etree.parse(str(written)).getroot(), result.rejects.notes


def _by_oid(root: etree._Element, tag: str, oid: str | None) -> etree._Element:
    return next(e for e in root.iter(tag) if e.get("OID") == oid)


def _vlm_ref(root: etree._Element, item_oid: str) -> etree._Element:
    return next(r for vl in root.iter(f"{DEF}ValueListDef") for r in vl if r.get("ItemOID") == item_oid)


def test_define_21_value_level_origins_methods_comments_are_kept(tmp_path: Path) -> None:
    root, notes = _convert(tmp_path, _DEFINE_21)
    # SUPPAE QVAL where QNAM is AETRTEM: the sponsor's method (on the value-level ItemRef) and comment
    trtem = _by_oid(root, f"{ODM}ItemDef", "IT.SUPPAE.QVAL.AETRTEM")
    assert [o.attrib for o in trtem.iterfind(f"{DEF}Origin")] == [{"Type": "Derived", "Source": "Sponsor"}]
    assert _by_oid(root, f"{DEF}CommentDef", trtem.get(f"{DEF}CommentOID")).findtext(TEXT) == "See SAP section 9."
    method = _by_oid(root, f"{ODM}MethodDef", _vlm_ref(root, "IT.SUPPAE.QVAL.AETRTEM").get("MethodOID"))
    assert method.findtext(TEXT) == "Y if AESTDTC on or after the first dose."
    # where QNAM IN (AESOSP, AESMIE): its origin with the aCRF page, instead of the one QORIG alone gives
    origins = list(_by_oid(root, f"{ODM}ItemDef", "IT.SUPPAE.QVAL.AESOSP").iterfind(f"{DEF}Origin"))
    assert len(origins) == 1 and origins[0].attrib == {"Type": "Collected", "Source": "Investigator"}
    page = origins[0].find(f"{DEF}DocumentRef/{DEF}PDFPageRef")
    assert (page.getparent().get("leafID"), page.get("PageRefs")) == ("LF.acrf", "22")
    assert any(e.get("ID") == "LF.acrf" for e in root.iter(f"{DEF}leaf"))
    # LB LBORRES where LBTESTCD is ALB: the vendor origin and its description
    alb = _by_oid(root, f"{ODM}ItemDef", "IT.LB.LBORRES.ALB").find(f"{DEF}Origin")
    assert (alb.attrib, alb.findtext(TEXT)) == ({"Type": "Collected", "Source": "Vendor"}, "Central lab transfer")
    # where LBTESTCD is GLUC and LBSPEC is URINE is not the item msc-interop writes (by LBTESTCD alone): not
    # given to it, and named in a note; so is the item of a QNAM no record has
    assert _by_oid(root, f"{ODM}ItemDef", "IT.LB.LBORRES.GLUC").find(f"{DEF}Origin") is None
    assert [n for n in notes if "VL.LB.LBORRES (LB.LBORRES: 1 item)" in n and "does not carry" in n]
    assert [n for n in notes if "SUPPAE.QVAL where QNAM is GONE" in n]
    # the dataset's comment
    ae = _by_oid(root, f"{ODM}ItemGroupDef", "IG.AE")
    assert _by_oid(root, f"{DEF}CommentDef", ae.get(f"{DEF}CommentOID")).findtext(TEXT) == (
        "AEs of screening failures are not included.")
    assert _by_oid(root, f"{ODM}ItemGroupDef", "IG.DM").get(f"{DEF}CommentOID") is None


def test_item_def_shared_by_datasets_keeps_value_level_metadata(tmp_path: Path) -> None:
    """ODM lets ItemGroupDefs share an ItemDef: one QNAM ItemDef referenced by SUPPAE and, after it, SUPPDM. The
    where clauses on it still select SUPPAE's QVAL items by QNAM."""
    shared = _DEFINE_21.replace("IT.SUPPAE.QNAM", "IT.QNAM").replace(
        '<ItemGroupDef OID="IG.LB"', '<ItemGroupDef OID="IG.SUPPDM" Name="SUPPDM" Repeating="Yes">'
        '<ItemRef ItemOID="IT.QNAM" Mandatory="Yes"/></ItemGroupDef>\n  <ItemGroupDef OID="IG.LB"')
    suppdm = ("STUDYID,RDOMAIN,USUBJID,IDVAR,IDVARVAL,QNAM,QLABEL,QVAL,QORIG,QEVAL\n"
              "S1,DM,S1-1,,,RACEOTH,Race Other,X,CRF,\n")
    root, notes = _convert(tmp_path, shared, {"suppdm.csv": suppdm})
    trtem = _by_oid(root, f"{ODM}ItemDef", "IT.SUPPAE.QVAL.AETRTEM")
    assert trtem.get(f"{DEF}CommentOID") == "COM.AETRTEM"
    assert _by_oid(root, f"{DEF}CommentDef", trtem.get(f"{DEF}CommentOID")).findtext(TEXT) == "See SAP section 9."
    assert _vlm_ref(root, "IT.SUPPAE.QVAL.AETRTEM").get("MethodOID") == "MT.AETRTEM"
    sosp = _by_oid(root, f"{ODM}ItemDef", "IT.SUPPAE.QVAL.AESOSP").find(f"{DEF}Origin")
    assert (sosp.get("Source"), sosp.find(f"{DEF}DocumentRef").get("leafID")) == ("Investigator", "LF.acrf")
    assert not [n for n in notes if "VL.SUPPAE.QVAL" in n]
    assert [n for n in notes if "SUPPAE.QVAL where QNAM is GONE" in n]


def test_comment_and_method_document_refs_are_kept(tmp_path: Path) -> None:
    """def:DocumentRef (def:PDFPageRef) of a def:CommentDef and of a MethodDef are written after their Description
    (Define-XML 2.1) and their def:leaf is cited: copied beside define.xml, or a note says where to put it."""
    doc = '<def:DocumentRef leafID="{}"><def:PDFPageRef {}/></def:DocumentRef>'
    define = _DEFINE_21.replace(
        "not included.</TranslatedText></Description>",
        "not included.</TranslatedText></Description>" + doc.format("LF.sdrg", 'PageRefs="12" Type="PhysicalRef"'),
    ).replace(
        "first dose.</TranslatedText></Description>",
        "first dose.</TranslatedText></Description>"
        + doc.format("LF.sap", 'FirstPage="3" LastPage="5" Type="PhysicalRef"'),
    ).replace(
        "SAP section 9.</TranslatedText></Description>",
        "SAP section 9.</TranslatedText></Description>" + doc.format("LF.sap", 'PageRefs="9" Type="PhysicalRef"'),
    ).replace(
        '<def:leaf ID="LF.acrf"',
        '<def:leaf ID="LF.sdrg" xlink:href="csdrg.pdf"><def:title>Reviewers Guide</def:title></def:leaf>'
        '<def:leaf ID="LF.sap" xlink:href="sap.pdf"><def:title>SAP</def:title></def:leaf><def:leaf ID="LF.acrf"')
    root, notes = _convert(tmp_path, define, {"csdrg.pdf": "%PDF-1.4 guide"})

    def refs(el: etree._Element) -> list[tuple[str, str | None, dict[str, str]]]:
        return [(etree.QName(c).localname, c.get("leafID"), {k: v for p in c.iterfind(f"{DEF}PDFPageRef")
                                                                      for k, v in p.attrib.items()})
                for c in el]

    assert refs(_by_oid(root, f"{DEF}CommentDef", "COM.AE")) == [
        ("Description", None, {}), ("DocumentRef", "LF.sdrg", {"PageRefs": "12", "Type": "PhysicalRef"})]
    assert refs(_by_oid(root, f"{DEF}CommentDef", "COM.AETRTEM"))[1:] == [
        ("DocumentRef", "LF.sap", {"PageRefs": "9", "Type": "PhysicalRef"})]
    assert refs(_by_oid(root, f"{ODM}MethodDef", "MT.AETRTEM")) == [
        ("Description", None, {}),
        ("DocumentRef", "LF.sap", {"FirstPage": "3", "LastPage": "5", "Type": "PhysicalRef"})]
    leaves = {e.get("ID"): e.get("{http://www.w3.org/1999/xlink}href") for e in root.iter(f"{DEF}leaf")}
    assert (leaves.get("LF.sdrg"), leaves.get("LF.sap")) == ("csdrg.pdf", "sap.pdf")
    assert (tmp_path / "out" / "json" / "csdrg.pdf").read_text(encoding="utf-8") == "%PDF-1.4 guide"
    assert [n for n in notes if "'sap.pdf'" in n and "place the document at" in n]
    assert not [n for n in notes if "csdrg.pdf" in n or "not cited" in n]


_DEFINE_10 = """<?xml version="1.0" encoding="UTF-8"?>
<ODM xmlns="http://www.cdisc.org/ns/odm/v1.2" xmlns:def="http://www.cdisc.org/ns/def/v1.0"
     xmlns:xlink="http://www.w3.org/1999/xlink" ODMVersion="1.2">
 <Study OID="S"><MetaDataVersion OID="M" Name="M" def:DefineVersion="1.0.0" def:StandardName="CDISC SDTM"
   def:StandardVersion="3.1.2">
  <def:AnnotatedCRF><def:DocumentRef leafID="blankcrf"/></def:AnnotatedCRF>
  <def:leaf ID="blankcrf" xlink:href="blankcrf.pdf"><def:title>Annotated Case Report Form</def:title></def:leaf>
  <def:ComputationMethod OID="COMPMETHOD.TRTEM">Y if AESTDTC &gt;= first dose</def:ComputationMethod>
  <def:ValueListDef OID="ValueList.SUPPAE.QNAM">
   <ItemRef ItemOID="SUPPAE.QNAM.AETRTEM" Mandatory="No"/>
   <ItemRef ItemOID="SUPPAE.QNAM.AESOSP" Mandatory="No"/>
  </def:ValueListDef>
  <def:ValueListDef OID="ValueList.LB.LBTESTCD">
   <ItemRef ItemOID="LB.LBTESTCD.ALB" Mandatory="No"/>
  </def:ValueListDef>
  <ItemGroupDef OID="AE" Name="AE" Repeating="Yes" Comment="One record per reported event">
   <ItemRef ItemOID="AE.AETERM" Mandatory="Yes"/>
  </ItemGroupDef>
  <ItemGroupDef OID="SUPPAE" Name="SUPPAE" Repeating="Yes">
   <ItemRef ItemOID="SUPPAE.QNAM" Mandatory="Yes"/>
  </ItemGroupDef>
  <ItemGroupDef OID="LB" Name="LB" Repeating="Yes">
   <ItemRef ItemOID="LB.LBTESTCD" Mandatory="Yes"/>
  </ItemGroupDef>
  <ItemDef OID="AE.AETERM" Name="AETERM" DataType="text" Origin="CRF Page 5"/>
  <ItemDef OID="SUPPAE.QNAM" Name="QNAM" DataType="text" Origin="Assigned">
   <def:ValueListRef ValueListOID="ValueList.SUPPAE.QNAM"/>
  </ItemDef>
  <ItemDef OID="SUPPAE.QNAM.AETRTEM" Name="AETRTEM" DataType="text" Origin="Derived" Comment="see SAP"
   def:ComputationMethodOID="COMPMETHOD.TRTEM"/>
  <ItemDef OID="SUPPAE.QNAM.AESOSP" Name="AESOSP" DataType="text" Origin="CRF Page 31"/>
  <ItemDef OID="LB.LBTESTCD" Name="LBTESTCD" DataType="text" Origin="eDT">
   <def:ValueListRef ValueListOID="ValueList.LB.LBTESTCD"/>
  </ItemDef>
  <ItemDef OID="LB.LBTESTCD.ALB" Name="ALB" DataType="float" Origin="eDT"/>
 </MetaDataVersion></Study>
</ODM>
"""


def test_define_10_value_lists_and_dataset_comment_are_kept(tmp_path: Path) -> None:
    """Define-XML 1.0 hangs the list from QNAM and names each item by its value; QNAM's items describe QVAL
    (mappings/define_xml.yaml value_lists_1_0). A list by LBTESTCD does not say which result it describes: named
    in a note, not given to LBORRES or LBSTRESN."""
    root, notes = _convert(tmp_path, _DEFINE_10)
    trtem = _by_oid(root, f"{ODM}ItemDef", "IT.SUPPAE.QVAL.AETRTEM")
    assert _by_oid(root, f"{DEF}CommentDef", trtem.get(f"{DEF}CommentOID")).findtext(TEXT) == "see SAP"
    assert _vlm_ref(root, "IT.SUPPAE.QVAL.AETRTEM").get("MethodOID") == "COMPMETHOD.TRTEM"
    assert _by_oid(root, f"{ODM}MethodDef", "COMPMETHOD.TRTEM").findtext(TEXT) == "Y if AESTDTC >= first dose"
    sosp = _by_oid(root, f"{ODM}ItemDef", "IT.SUPPAE.QVAL.AESOSP").find(f"{DEF}Origin")
    assert sosp.attrib == {"Type": "Collected", "Source": "Investigator"}
    assert sosp.find(f"{DEF}DocumentRef/{DEF}PDFPageRef").attrib == {"PageRefs": "31", "Type": "PhysicalRef"}
    for var in ("LBORRES", "LBSTRESN"):
        assert _by_oid(root, f"{ODM}ItemDef", f"IT.LB.{var}.ALB").find(f"{DEF}Origin") is None
    assert [n for n in notes if "ValueList.LB.LBTESTCD (LB: 1 item)" in n]
    ae = _by_oid(root, f"{ODM}ItemGroupDef", "IG.AE")
    assert _by_oid(root, f"{DEF}CommentDef", ae.get(f"{DEF}CommentOID")).findtext(TEXT) == (
        "One record per reported event")


def test_pilot_value_level_comments_and_notes(pilot: Path, tmp_path: Path) -> None:
    """The pilot's SUPPDM value list (ValueList.SUPPDM.QNAM: COMPLT16 ... Origin="Derived" Comment="see SAP") is
    carried onto SUPPDM.QVAL's items; its TS list (ValueList.TS.TSPARMCD, Origin="Protocol") has no item here, and
    its SUPPAE list names QNAM TRTEMFL where suppae.xpt holds AETRTEM: both named in notes."""
    result = api.to_sdtm(pilot, tmp_path, formats=["xpt"], created=CREATED, validate=False)
    written = tmp_path / "xpt" / "define.xml"
    assert xsd_errors(written, XSD) == []
    root = etree.parse(str(written)).getroot()
    for qnam in ("COMPLT16", "COMPLT24", "COMPLT8", "EFFICACY", "ITT", "SAFETY"):
        item = _by_oid(root, f"{ODM}ItemDef", f"IT.SUPPDM.QVAL.{qnam}")
        assert _by_oid(root, f"{DEF}CommentDef", item.get(f"{DEF}CommentOID")).findtext(TEXT) == "see SAP"
        assert [o.attrib for o in item.iterfind(f"{DEF}Origin")] == [{"Type": "Derived", "Source": "Sponsor"}]
    assert [n for n in result.rejects.notes if "ValueList.TS.TSPARMCD (TS.TSVAL:" in n]
    assert [n for n in result.rejects.notes if "SUPPAE.QVAL where QNAM is TRTEMFL" in n]
