"""define.xml written for an existing SDTM package carries the package's annotated CRF the Define-XML 2.1 way:
def:AnnotatedCRF and its def:leaf in MetaDataVersion, and each "CRF Page(s) N, ..." Origin of a Define-XML 1.0
as a def:DocumentRef to it with a def:PDFPageRef of exactly the pages the text states. The document itself is
copied beside each define.xml written (its href is relative to define.xml); one the package lacks is cited
anyway, and the reject report's notes say where to put it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree

from msc_interop import api
from msc_interop.sdtm.define import xsd_errors
from msc_interop.sdtm.package_origins import crf_pages

from .package_define import AE_CSV, CREATED, DEF, DM_CSV, ODM, TEXT, XSD

XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
PDF = b"%PDF-1.4\n% the sponsor's annotated CRF\n%%EOF\n"


_DEFINE_10 = """<?xml version="1.0" encoding="UTF-8"?>
<ODM xmlns="http://www.cdisc.org/ns/odm/v1.2" xmlns:def="http://www.cdisc.org/ns/def/v1.0"
     xmlns:xlink="http://www.w3.org/1999/xlink" ODMVersion="1.2">
 <Study OID="S"><MetaDataVersion OID="M" Name="M" def:DefineVersion="1.0.0" def:StandardName="CDISC SDTM"
   def:StandardVersion="3.1.2">
  <def:AnnotatedCRF><def:DocumentRef leafID="blankcrf"/></def:AnnotatedCRF>
  <def:leaf ID="blankcrf" xlink:href="HREF"><def:title>Annotated Case Report Form</def:title></def:leaf>
  <ItemGroupDef OID="AE" Name="AE" Repeating="Yes">
   <ItemRef ItemOID="AE.AETERM" Mandatory="Yes"/>
   <ItemRef ItemOID="AE.AEDECOD" Mandatory="Yes"/>
   <ItemRef ItemOID="AE.AESTDTC" Mandatory="No"/>
   <ItemRef ItemOID="AE.AESTDY" Mandatory="No"/>
  </ItemGroupDef>
  <ItemGroupDef OID="DM" Name="DM" Repeating="No">
   <ItemRef ItemOID="DM.SEX" Mandatory="Yes"/>
  </ItemGroupDef>
  <ItemDef OID="AE.AETERM" Name="AETERM" DataType="text" Origin="CRF Pages 25, 36, 42, 36"/>
  <ItemDef OID="AE.AEDECOD" Name="AEDECOD" DataType="text" Origin="CRF Page 7 (coded by the sponsor)"/>
  <ItemDef OID="AE.AESTDTC" Name="AESTDTC" DataType="date" Origin="CRF Pages 12-14"/>
  <ItemDef OID="AE.AESTDY" Name="AESTDY" DataType="integer" Origin="Derived"/>
  <ItemDef OID="DM.SEX" Name="SEX" DataType="text" Origin="CRF"/>
 </MetaDataVersion></Study>
</ODM>
"""


def _convert(tmp_path: Path, define: str, pdf: bytes | None, href: str = "blankcrf.pdf"
             ) -> tuple[api.ConversionResult, Path]:
    folder = tmp_path / "pkg"
    folder.mkdir(exist_ok=True)
    (folder / "ae.csv").write_text(AE_CSV, encoding="utf-8")
    (folder / "dm.csv").write_text(DM_CSV, encoding="utf-8")
    (folder / "define.xml").write_text(define.replace("HREF", href), encoding="utf-8")
    if pdf is not None:
        (folder / "blankcrf.pdf").write_bytes(pdf)
    out = tmp_path / "out"
    result = api.to_sdtm(folder, out, formats=["xpt", "json"], created=CREATED, validate=False)
    for fmt in ("xpt", "json"):
        assert xsd_errors(out / fmt / "define.xml", XSD) == []
    return result, out


def _origin(root: etree._Element, oid: str) -> etree._Element:
    return next(e for e in root.iter(f"{ODM}ItemDef") if e.get("OID") == oid).find(f"{DEF}Origin")


def _pages(origin: etree._Element) -> list[tuple[str | None, dict[str, str]]]:
    return [(d.get("leafID"), dict(p.attrib)) for d in origin.iterfind(f"{DEF}DocumentRef")
            for p in d.iterfind(f"{DEF}PDFPageRef")]


def test_define_10_acrf_and_crf_pages_become_21_document_refs(tmp_path: Path) -> None:
    result, out = _convert(tmp_path, _DEFINE_10, PDF)
    root = etree.parse(str(out / "json" / "define.xml")).getroot()
    mdv = root.find(f"{ODM}Study/{ODM}MetaDataVersion")
    children = [etree.QName(c).localname for c in mdv]
    assert children[:2] == ["Standards", "AnnotatedCRF"]  # 2.1 order: def:Standards, def:AnnotatedCRF, ...
    assert [d.get("leafID") for d in mdv.find(f"{DEF}AnnotatedCRF")] == ["blankcrf"]
    leaf = next(e for e in mdv.iterfind(f"{DEF}leaf") if e.get("ID") == "blankcrf")
    assert (leaf.get(XLINK_HREF), leaf.findtext(f"{DEF}title")) == ("blankcrf.pdf", "Annotated Case Report Form")
    term = _origin(root, "IT.AE.AETERM")
    assert (term.get("Type"), term.get("Source")) == ("Collected", "Investigator")
    # the pages the text states, each once, in its order; the text itself is no longer needed
    assert _pages(term) == [("blankcrf", {"PageRefs": "25 36 42", "Type": "PhysicalRef"})]
    assert term.find(f"{ODM}Description") is None
    assert _pages(_origin(root, "IT.AE.AESTDTC")) == [
        ("blankcrf", {"FirstPage": "12", "LastPage": "14", "Type": "PhysicalRef"})]
    # a text that says more than its pages is kept as it is, with no page guessed from it
    decod = _origin(root, "IT.AE.AEDECOD")
    assert decod.findtext(TEXT) == "CRF Page 7 (coded by the sponsor)"
    assert decod.find(f"{DEF}DocumentRef") is None
    # "CRF" alone names no page
    assert _origin(root, "IT.DM.SEX").attrib == {"Type": "Collected", "Source": "Investigator"}
    assert _origin(root, "IT.DM.SEX").find(f"{DEF}DocumentRef") is None
    # the document beside each define.xml that cites it, as the package has it; no note then
    for fmt in ("xpt", "json"):
        assert (out / fmt / "blankcrf.pdf").read_bytes() == PDF
        assert out / fmt / "blankcrf.pdf" in result.written
    assert not [n for n in result.rejects.notes if "blankcrf" in n]


def test_missing_acrf_is_cited_and_the_notes_say_where_to_put_it(tmp_path: Path) -> None:
    _, out = _convert(tmp_path, _DEFINE_10, None)
    for fmt in ("xpt", "json"):
        root = etree.parse(str(out / fmt / "define.xml")).getroot()
        assert [e.get(XLINK_HREF) for e in root.iter(f"{DEF}leaf") if e.get("ID") == "blankcrf"] == ["blankcrf.pdf"]
        assert _pages(_origin(root, "IT.AE.AETERM")) == [("blankcrf", {"PageRefs": "25 36 42", "Type": "PhysicalRef"})]
        assert not (out / fmt / "blankcrf.pdf").exists()
    notes = json.loads((out / "rejects.json").read_text(encoding="utf-8"))["notes"]
    said = [n for n in notes if "blankcrf.pdf" in n]
    assert len(said) == 2
    for fmt, note in zip(("xpt", "json"), said, strict=True):
        assert str(tmp_path / "pkg" / "blankcrf.pdf") in note
        assert f"place the document at {out / fmt / 'blankcrf.pdf'}" in note


@pytest.mark.parametrize("href", ["../blankcrf.pdf", "https://example.org/blankcrf.pdf", "/abs/blankcrf.pdf"])
def test_acrf_outside_the_folder_is_cited_not_copied(tmp_path: Path, href: str) -> None:
    """An href that is not a path inside define.xml's folder is kept as the package has it and never followed
    (nothing is written outside the output folders); the notes name it."""
    result, out = _convert(tmp_path, _DEFINE_10, PDF, href=href)
    root = etree.parse(str(out / "xpt" / "define.xml")).getroot()
    assert [e.get(XLINK_HREF) for e in root.iter(f"{DEF}leaf") if e.get("ID") == "blankcrf"] == [href]
    assert not (tmp_path / "blankcrf.pdf").exists() and not (out / "blankcrf.pdf").exists()
    assert len([n for n in result.rejects.notes if repr(href) in n and "not copied" in n]) == 2


def test_acrf_named_as_a_dataset_file_is_not_copied_over_it(tmp_path: Path) -> None:
    """A def:leaf whose href is a file this run writes (ae.json) never replaces it."""
    result, out = _convert(tmp_path, _DEFINE_10, None, href="ae.json")
    assert json.loads((out / "json" / "ae.json").read_text(encoding="utf-8"))["name"] == "AE"
    assert [n for n in result.rejects.notes if "'ae.json'" in n and "a file this run writes" in n]


_DEFINE_20 = """<?xml version="1.0" encoding="UTF-8"?>
<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" xmlns:def="http://www.cdisc.org/ns/def/v2.0"
     xmlns:xlink="http://www.w3.org/1999/xlink" ODMVersion="1.3.2">
 <Study OID="S"><MetaDataVersion OID="M" Name="M" def:DefineVersion="2.0.0" def:StandardName="SDTM-IG"
   def:StandardVersion="3.2">
  <def:AnnotatedCRF><def:DocumentRef leafID="LF.acrf"/></def:AnnotatedCRF>
  <def:SupplementalDoc><def:DocumentRef leafID="LF.guide"/></def:SupplementalDoc>
  <ItemGroupDef OID="IG.AE" Name="AE" Repeating="Yes">
   <ItemRef ItemOID="IT.AE.AETERM" Mandatory="Yes"/>
  </ItemGroupDef>
  <ItemDef OID="IT.AE.AETERM" Name="AETERM" DataType="text">
   <def:Origin Type="CRF">
    <def:DocumentRef leafID="LF.acrf"><def:PDFPageRef PageRefs="22 23" Type="PhysicalRef"/></def:DocumentRef>
   </def:Origin>
  </ItemDef>
  <def:leaf ID="LF.acrf" xlink:href="blankcrf.pdf"><def:title>Annotated CRF</def:title></def:leaf>
  <def:leaf ID="LF.guide" xlink:href="docs/csdrg.pdf"><def:title>Reviewer's Guide</def:title></def:leaf>
 </MetaDataVersion></Study>
</ODM>
"""


def test_define_20_annotated_crf_and_supplemental_doc_are_kept(tmp_path: Path) -> None:
    (tmp_path / "pkg" / "docs").mkdir(parents=True)
    (tmp_path / "pkg" / "docs" / "csdrg.pdf").write_bytes(b"%PDF-1.4 guide")
    result, out = _convert(tmp_path, _DEFINE_20, PDF)
    mdv = etree.parse(str(out / "xpt" / "define.xml")).getroot().find(f"{ODM}Study/{ODM}MetaDataVersion")
    assert [etree.QName(c).localname for c in mdv][:3] == ["Standards", "AnnotatedCRF", "SupplementalDoc"]
    assert [d.get("leafID") for d in mdv.find(f"{DEF}AnnotatedCRF")] == ["LF.acrf"]
    assert [d.get("leafID") for d in mdv.find(f"{DEF}SupplementalDoc")] == ["LF.guide"]
    assert {e.get("ID"): e.get(XLINK_HREF) for e in mdv.iterfind(f"{DEF}leaf") if not e.get("ID").startswith(
        "LF.AE")} == {"LF.acrf": "blankcrf.pdf", "LF.guide": "docs/csdrg.pdf"}
    assert (out / "xpt" / "docs" / "csdrg.pdf").read_bytes() == b"%PDF-1.4 guide"
    assert (out / "json" / "blankcrf.pdf").read_bytes() == PDF
    assert not [n for n in result.rejects.notes if ".pdf" in n]


def test_pilot_acrf_pages(pilot: Path, tmp_path: Path) -> None:
    """The pilot's define.xml names its aCRF (def:AnnotatedCRF -> def:leaf blankcrf, blankcrf.pdf, which the
    package does not hold) and cites its pages: AE.AETERM "CRF Page 121, 122, 123"; DM.BRTHDTC... "CRF Pages 7,
    22, 25, ..., 121, 122, 123, 123, 125, ...": 123 twice in the text, once in PageRefs."""
    result = api.to_sdtm(pilot, tmp_path, formats=["xpt"], created=CREATED, validate=False)
    written = tmp_path / "xpt" / "define.xml"
    assert xsd_errors(written, XSD) == []
    root = etree.parse(str(written)).getroot()
    assert [d.get("leafID") for d in root.iter(f"{DEF}AnnotatedCRF") for d in d] == ["blankcrf"]
    assert _pages(_origin(root, "IT.AE.AETERM")) == [("blankcrf", {"PageRefs": "121 122 123", "Type": "PhysicalRef"})]
    refs = [p["PageRefs"] for e in root.iter(f"{ODM}ItemDef") if (o := e.find(f"{DEF}Origin")) is not None
            for _, p in _pages(o)]
    long = next(r for r in refs if r.startswith("7 22 25"))
    assert long.split().count("123") == 1 and long.split()[-3:] == ["125", "126", "128"]
    assert not [e for e in root.iter(f"{DEF}Origin") if (e.findtext(TEXT) or "").startswith("CRF")]
    assert [n for n in result.rejects.notes if "blankcrf.pdf" in n and "place the document at" in n]


@pytest.mark.parametrize(("rest", "refs"), [
    (" Page 7", ((("PageRefs", "7"), ("Type", "PhysicalRef")),)),
    (" Pages 25, 36 and 42", ((("PageRefs", "25 36 42"), ("Type", "PhysicalRef")),)),
    (" pages 3, 10 - 12", ((("PageRefs", "3"), ("Type", "PhysicalRef")),
                           (("FirstPage", "10"), ("LastPage", "12"), ("Type", "PhysicalRef")))),
    (" Pages 14-12", None),  # not a range: kept as text
    (" Page 0", None),
    (" Page 7 (Demographics)", None),
    (" Pages", None),
    (" Page 7a", None),
])
def test_crf_pages(rest: str, refs: tuple | None) -> None:
    assert crf_pages(rest) == refs
