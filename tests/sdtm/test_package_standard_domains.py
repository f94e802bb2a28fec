"""define.xml written for an existing SDTM package describes an SDTMIG domain msc-interop does not build (QS, SC,
SE, ...) as the standard domain it is: def:StandardOID, no def:IsNonStandard, its SDTM class (SDTMIG domain list,
mappings/sdtm_model.yaml), Mandatory="Yes" on its SDTMIG Required variables; and by what the package's own
define.xml says of it (Structure, label). A sponsor's own domain stays non-standard, with the class its define.xml
states. Each against the Define-XML 2.1 XSD."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
from lxml import etree

from msc_interop import api
from msc_interop.sdtm.define import xsd_errors
from msc_interop.sdtm.xpt import write_xpt

from .package_define import CREATED, DEF, DM_CSV, ODM, TEXT, XSD, converted_define

QS_CSV = ("STUDYID,DOMAIN,USUBJID,QSSEQ,QSTESTCD,QSTEST,QSCAT,QSORRES,QSSTRESC,VISITNUM,QSDTC\n"
          "S1,QS,S1-1,1,ACITM01,Word Recall Task,ADAS-COG,4,4,1,2024-01-02\n")
XQ_CSV = "STUDYID,DOMAIN,USUBJID,XQSEQ,XQTESTCD,XQTEST,XQORRES\nS1,XQ,S1-1,1,T1,Test one,5\n"

_DEFINE_10 = """<?xml version="1.0" encoding="UTF-8"?>
<ODM xmlns="http://www.cdisc.org/ns/odm/v1.2" xmlns:def="http://www.cdisc.org/ns/def/v1.0" ODMVersion="1.2">
 <Study OID="S"><MetaDataVersion OID="M" Name="M" def:DefineVersion="1.0.0" def:StandardName="CDISC SDTM"
   def:StandardVersion="3.1.2">
  <ItemGroupDef OID="QS" Name="QS" Repeating="Yes" def:Label="Questionnaires"
   def:Structure="One record per question per visit per subject" def:Class="Findings">
   <ItemRef ItemOID="QS.QSTESTCD" Mandatory="Yes"/>
  </ItemGroupDef>
  <ItemGroupDef OID="XQ" Name="XQ" Repeating="Yes" def:Label="Sponsor Questions"
   def:Structure="One record per sponsor question per subject" def:Class="Findings">
   <ItemRef ItemOID="XQ.XQTESTCD" Mandatory="Yes"/>
  </ItemGroupDef>
  <ItemDef OID="QS.QSTESTCD" Name="QSTESTCD" DataType="text" Origin="CRF"/>
  <ItemDef OID="XQ.XQTESTCD" Name="XQTESTCD" DataType="text" Origin="CRF"/>
 </MetaDataVersion></Study>
</ODM>
"""

_DEFINE_21 = """<?xml version="1.0" encoding="UTF-8"?>
<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" xmlns:def="http://www.cdisc.org/ns/def/v2.1" ODMVersion="1.3.2">
 <Study OID="S"><MetaDataVersion OID="M" Name="M" def:DefineVersion="2.1.0">
  <def:Standards><def:Standard OID="STD.1" Name="SDTMIG" Type="IG" Version="3.4" Status="Final"/></def:Standards>
  <ItemGroupDef OID="IG.QS" Name="QS" Repeating="Yes" def:Structure="One record per question per subject">
   <Description><TranslatedText xml:lang="en">Questionnaires (sponsor's words)</TranslatedText></Description>
   <ItemRef ItemOID="IT.QS.QSTESTCD" Mandatory="Yes"/>
   <def:Class Name="FINDINGS"/>
  </ItemGroupDef>
  <ItemDef OID="IT.QS.QSTESTCD" Name="QSTESTCD" DataType="text"/>
 </MetaDataVersion></Study>
</ODM>
"""


def _group(root: etree._Element, name: str) -> etree._Element:
    return next(g for g in root.iter(f"{ODM}ItemGroupDef") if g.get("Name") == name)


def _mandatory(group: etree._Element) -> dict[str, str]:
    return {r.get("ItemOID").split(".")[-1]: r.get("Mandatory") for r in group.iter(f"{ODM}ItemRef")}


def _standard_described(group: etree._Element) -> None:
    assert group.get(f"{DEF}IsNonStandard") is None
    assert group.get(f"{DEF}StandardOID")
    assert group.find(f"{DEF}Class").get("Name") == "FINDINGS"


def test_qs_of_a_define_10_package_is_a_standard_findings_domain(tmp_path: Path) -> None:
    """QS is in the SDTMIG (section 6.3, Findings); its Structure and label are the package's own; its Required
    variables (SDTMIG QS table: STUDYID, DOMAIN, USUBJID, QSSEQ, QSTESTCD, QSTEST, QSCAT) Mandatory. XQ, a sponsor
    domain, stays non-standard and keeps the class the package states."""
    root = converted_define(tmp_path, {"qs.csv": QS_CSV, "xq.csv": XQ_CSV, "define.xml": _DEFINE_10})
    qs = _group(root, "QS")
    _standard_described(qs)
    assert qs.get(f"{DEF}Structure") == "One record per question per visit per subject"
    assert qs.findtext(TEXT) == "Questionnaires"
    assert qs.get("IsReferenceData") == "No"
    mandatory = _mandatory(qs)
    assert {v for v, m in mandatory.items() if m == "Yes"} == {
        "STUDYID", "DOMAIN", "USUBJID", "QSSEQ", "QSTESTCD", "QSTEST", "QSCAT"}
    xq = _group(root, "XQ")
    assert xq.get(f"{DEF}IsNonStandard") == "Yes" and xq.get(f"{DEF}StandardOID") is None
    assert xq.find(f"{DEF}Class").get("Name") == "FINDINGS"
    assert xq.get(f"{DEF}Structure") == "One record per sponsor question per subject"
    assert xq.findtext(TEXT) == "Sponsor Questions"
    # (no SDTMIG table: the Required variables of the class the package states, as validate reads them)
    assert {v for v, m in _mandatory(xq).items() if m == "Yes"} == {
        "STUDYID", "DOMAIN", "USUBJID", "XQSEQ", "XQTESTCD", "XQTEST"}


def test_qs_of_a_define_21_package_takes_its_description(tmp_path: Path) -> None:
    """Define-XML 2.1 states the class as an element and the label as the Description."""
    qs = _group(converted_define(tmp_path, {"qs.csv": QS_CSV, "define.xml": _DEFINE_21}), "QS")
    _standard_described(qs)
    assert qs.get(f"{DEF}Structure") == "One record per question per subject"
    assert qs.findtext(TEXT) == "Questionnaires (sponsor's words)"


def test_without_a_define_the_sdtmig_list_gives_the_class(tmp_path: Path) -> None:
    """No define.xml beside the package: QS is still standard and FINDINGS, its Structure not described (nothing
    says it); the sponsor domain XQ is non-standard with no class (nothing says it either)."""
    root = converted_define(tmp_path, {"qs.csv": QS_CSV, "xq.csv": XQ_CSV})
    qs = _group(root, "QS")
    _standard_described(qs)
    assert qs.get(f"{DEF}Structure") == "Not described by the msc-interop SDTM metadata"
    xq = _group(root, "XQ")
    assert xq.get(f"{DEF}IsNonStandard") == "Yes" and xq.find(f"{DEF}Class") is None


def test_pilot_with_its_qs_is_described_by_the_pilot_define(pilot: Path, tmp_path: Path) -> None:
    """The CDISC pilot's define.xml (1.0) describes QS, which the package here lacks: a qs.xpt added beside it is
    described as the pilot's define.xml says (def:Label "Questionnaires", its Structure), and its SV by its own
    Structure ("One record per actual visit per subject", where msc-interop's SDTMIG 3.4 text says "actual or
    planned") and label."""
    folder = tmp_path / "pkg"
    shutil.copytree(pilot, folder)
    dm = pd.read_sas(folder / "dm.xpt", format="xport", encoding="cp1252")
    qs = pd.DataFrame({"STUDYID": "CDISCPILOT01", "DOMAIN": "QS", "USUBJID": dm["USUBJID"].head(2).tolist(),
                       "QSSEQ": [1.0, 1.0], "QSTESTCD": "ACITM01", "QSTEST": "Word Recall Task",
                       "QSCAT": "ALZHEIMER'S DISEASE ASSESSMENT SCALE", "QSORRES": "4", "QSSTRESC": "4",
                       "VISITNUM": 1.0, "QSDTC": "2013-01-02"})
    write_xpt(qs, "QS", folder / "qs.xpt", label="")  # (blank, as the pilot's own files)
    api.to_sdtm(folder, tmp_path / "out", formats=["xpt"], created=CREATED, validate=False)
    written = tmp_path / "out" / "xpt" / "define.xml"
    assert xsd_errors(written, XSD) == []
    root = etree.parse(str(written)).getroot()
    group = _group(root, "QS")
    _standard_described(group)
    assert group.get(f"{DEF}Structure") == (
        "One record per questionnaire per question per time point per visit per subject")
    assert group.findtext(TEXT) == "Questionnaires"
    sv = _group(root, "SV")
    assert sv.get(f"{DEF}Structure") == "One record per actual visit per subject"
    assert sv.findtext(TEXT) == "Subject Visits"


_DEFINE_21_STATED = """<?xml version="1.0" encoding="UTF-8"?>
<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" xmlns:def="http://www.cdisc.org/ns/def/v2.1" ODMVersion="1.3.2">
 <Study OID="S"><MetaDataVersion OID="M" Name="M" def:DefineVersion="2.1.0">
  <def:Standards><def:Standard OID="STD.1" Name="SDTMIG" Type="IG" Version="3.4" Status="Final"/></def:Standards>
  <ItemGroupDef OID="IG.CP" Name="CP" Repeating="Yes" def:Structure="One record per panel item" def:IsNonStandard="Yes">
   <Description><TranslatedText xml:lang="en">Custom Panel (sponsor domain)</TranslatedText></Description>
   <ItemRef ItemOID="IT.CP.CPTESTCD" Mandatory="Yes"/><def:Class Name="FINDINGS"/>
  </ItemGroupDef>
  <ItemGroupDef OID="IG.OI" Name="OI" Repeating="Yes" IsReferenceData="Yes" def:StandardOID="STD.1"
   def:Structure="One record per taxon per non-host organism">
   <Description><TranslatedText xml:lang="en-US">Non-host Organism Identifiers</TranslatedText></Description>
   <ItemRef ItemOID="IT.OI.NHOID" Mandatory="Yes"/><def:Class Name="STUDY REFERENCE"/>
  </ItemGroupDef>
  <ItemGroupDef OID="IG.QS" Name="QS" Repeating="Yes" def:Structure="One record per question per subject">
   <Description><TranslatedText xml:lang="fr">Questionnaires (fr)</TranslatedText></Description>
   <ItemRef ItemOID="IT.QS.QSTESTCD" Mandatory="Yes"/><def:Class Name="EVENTS"/>
  </ItemGroupDef>
  <ItemDef OID="IT.CP.CPTESTCD" Name="CPTESTCD" DataType="text"/>
  <ItemDef OID="IT.OI.NHOID" Name="NHOID" DataType="text"/>
  <ItemDef OID="IT.QS.QSTESTCD" Name="QSTESTCD" DataType="text"/>
 </MetaDataVersion></Study>
</ODM>
"""


def test_what_a_define_21_package_states_of_its_datasets_is_honoured(tmp_path: Path) -> None:
    """A domain code of the SDTMIG list the package declares its own (def:IsNonStandard) stays non-standard; one
    the list lacks that the package declares standard (OI, class STUDY REFERENCE, reference data) is standard with
    its class; a label in French only is not written as English (QS: its name); a class that is not the SDTM class
    of an SDTMIG domain is written as the SDTM one, with a note. SE, whose SDTMIG table msc-interop holds, marks
    its sponsor variable SEFOO non-standard; QS, whose table it does not hold, marks none and a note says so."""
    cp = "STUDYID,DOMAIN,USUBJID,CPSEQ,CPTESTCD,CPTEST,CPORRES\nS1,CP,S1-1,1,P1,Panel item,3\n"
    oi = "STUDYID,DOMAIN,NHOID,OISEQ,OIPARMCD,OIPARM,OIVAL\nS1,OI,ORG1,1,GENUS,Genus,Escherichia\n"
    se = ("STUDYID,DOMAIN,USUBJID,SESEQ,ETCD,ELEMENT,SESTDTC,SEENDTC,SEFOO\n"
          "S1,SE,S1-1,1,SCRN,Screening,2024-01-01,2024-01-02,x\n")
    qs = QS_CSV.replace("QSDTC\n", "QSDTC,QSFOO\n").replace("2024-01-02\n", "2024-01-02,y\n")
    folder = tmp_path / "pkg"
    folder.mkdir()
    for name, text in {"dm.csv": DM_CSV, "cp.csv": cp, "oi.csv": oi, "se.csv": se, "qs.csv": qs,
                       "define.xml": _DEFINE_21_STATED}.items():
        (folder / name).write_text(text, encoding="utf-8")
    result = api.to_sdtm(folder, tmp_path / "out", formats=["json"], created=CREATED, validate=False)
    written = tmp_path / "out" / "json" / "define.xml"
    assert xsd_errors(written, XSD) == []
    root = etree.parse(str(written)).getroot()
    group = _group(root, "CP")
    assert group.get(f"{DEF}IsNonStandard") == "Yes" and group.get(f"{DEF}StandardOID") is None
    group = _group(root, "OI")
    assert group.get(f"{DEF}IsNonStandard") is None and group.get(f"{DEF}StandardOID")
    assert group.find(f"{DEF}Class").get("Name") == "STUDY REFERENCE" and group.get("IsReferenceData") == "Yes"
    assert group.findtext(TEXT) == "Non-host Organism Identifiers"
    group = _group(root, "QS")
    _standard_described(group)
    assert group.findtext(TEXT) == "QS"
    assert not [r for r in group.iter(f"{ODM}ItemRef") if r.get(f"{DEF}IsNonStandard")]
    flagged = [r.get("ItemOID") for r in _group(root, "SE").iter(f"{ODM}ItemRef") if r.get(f"{DEF}IsNonStandard")]
    assert flagged == ["IT.SE.SEFOO"]
    notes = result.rejects.notes
    assert ("define.xml: the package's define.xml gives QS def:Class \"EVENTS\"; written as the SDTM class of QS, "
            "FINDINGS (SDTMIG domain list, mappings/sdtm_model.yaml)") in notes
    assert any(n.startswith("define.xml: msc-interop holds no SDTMIG variable table of OI, QS: no variable of them")
               for n in notes)


def test_a_split_piece_is_named_apart_from_its_domain(tmp_path: Path) -> None:
    """QSCG, a piece of QS (DOMAIN QS, SDTMIG 4.1.7), that the package's define.xml does not describe: its label is
    its domain's with its name (not the domain's own label, which would not tell the two apart)."""
    folder = tmp_path / "pkg"
    folder.mkdir()
    for name, text in {"dm.csv": DM_CSV, "qscg.csv": QS_CSV, "define.xml": _DEFINE_10}.items():
        (folder / name).write_text(text, encoding="utf-8")
    api.to_sdtm(folder, tmp_path / "out", formats=["json"], created=CREATED, validate=False)
    root = etree.parse(str(tmp_path / "out" / "json" / "define.xml")).getroot()
    group = _group(root, "QSCG")
    _standard_described(group)
    assert group.findtext(TEXT) == "Questionnaires (QSCG)"
    assert group.get(f"{DEF}Structure") == "One record per question per visit per subject"
