"""define.xml of an existing SDTM package keeps the package's own keys (its define.xml's KeySequence, or the
def:DomainKeys of Define-XML 1.0), and describes the trial design datasets TA, TE, TI as the standard SDTMIG
domains they are (class TRIAL DESIGN, reference data, their SDTMIG keys), not as non-standard datasets."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from lxml import etree

from msc_interop import api
from msc_interop.sdtm import package

CREATED = "2026-01-01T00:00:00"
DEF = "{http://www.cdisc.org/ns/def/v2.1}"
ODM = "{http://www.cdisc.org/ns/odm/v1.3}"


def _keys(define: Path) -> dict[str, list[str]]:
    """Dataset -> its variables in KeySequence order, as a written Define-XML 2.1 states them."""
    root = etree.parse(str(define)).getroot()
    out = {}
    for group in root.iter(f"{ODM}ItemGroupDef"):
        refs = sorted((int(r.get("KeySequence")), r.get("ItemOID").split(".")[-1])
                      for r in group.iter(f"{ODM}ItemRef") if r.get("KeySequence"))
        out[group.get("Name")] = [n for _, n in refs]
    return out


def _json_keys(path: Path) -> list[str]:
    """A Dataset-JSON's variables in keySequence order."""
    columns = json.loads(path.read_bytes())["columns"]
    return [c["name"] for c in sorted((c for c in columns if "keySequence" in c), key=lambda c: c["keySequence"])]


_DEFINE_21 = """<?xml version="1.0" encoding="UTF-8"?>
<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" xmlns:def="http://www.cdisc.org/ns/def/v2.1" ODMVersion="1.3.2">
 <Study OID="S"><MetaDataVersion OID="M" Name="M">
  <ItemGroupDef OID="IG.AE" Name="AE" Repeating="Yes">
   <ItemRef ItemOID="IT.AE.STUDYID" Mandatory="Yes" KeySequence="1"/>
   <ItemRef ItemOID="IT.AE.USUBJID" Mandatory="Yes" KeySequence="2"/>
   <ItemRef ItemOID="IT.AE.AESEQ" Mandatory="Yes" KeySequence="4"/>
   <ItemRef ItemOID="IT.AE.AETERM" Mandatory="Yes" KeySequence="3"/>
   <ItemRef ItemOID="IT.AE.AEDECOD" Mandatory="Yes"/>
  </ItemGroupDef>
  <ItemDef OID="IT.AE.STUDYID" Name="STUDYID" DataType="text"/>
  <ItemDef OID="IT.AE.USUBJID" Name="USUBJID" DataType="text"/>
  <ItemDef OID="IT.AE.AESEQ" Name="AESEQ" DataType="integer"/>
  <ItemDef OID="IT.AE.AETERM" Name="AETERM" DataType="text"/>
  <ItemDef OID="IT.AE.AEDECOD" Name="AEDECOD" DataType="text"/>
 </MetaDataVersion></Study>
</ODM>
"""


def test_keys_from_define_21_keysequence(tmp_path: Path) -> None:
    path = tmp_path / "define.xml"
    path.write_text(_DEFINE_21, encoding="utf-8")
    assert package.keys_from_define(path) == {"AE": ["STUDYID", "USUBJID", "AETERM", "AESEQ"]}


def test_pilot_define_10_domain_keys_are_kept(pilot: Path, tmp_path: Path) -> None:
    """The pilot's Define-XML 1.0 states AE's keys as def:DomainKeys="STUDYID, USUBJID, AETERM, AESTDTC,
    AESEQ" (unique in its AE; the SDTMIG-style STUDYID, USUBJID, AEDECOD, AESTDTC are not): kept."""
    stated = package.keys_from_define(pilot / "define.xml")
    assert stated["AE"] == ["STUDYID", "USUBJID", "AETERM", "AESTDTC", "AESEQ"]
    assert stated["TI"] == ["STUDYID", "IETESTCD"] and stated["TA"] == ["STUDYID", "ARMCD", "TAETORD"]
    api.to_sdtm(pilot, tmp_path, formats=["json"], created=CREATED, validate=False)
    written = _keys(tmp_path / "json" / "define.xml")
    for ds in ("TA", "TE", "TI", "TS", "TV", "DM", "SV", "CM", "EX", "AE", "SUPPAE", "SUPPDM"):
        assert written[ds] == stated[ds], ds
    for ds in written:  # one source: each Dataset-JSON's keySequence is define.xml's KeySequence
        assert _json_keys(tmp_path / "json" / f"{ds.lower()}.json") == written[ds], ds
    ae = json.loads((tmp_path / "json" / "ae.json").read_bytes())
    rows = pd.DataFrame(ae["rows"], columns=[c["name"] for c in ae["columns"]])
    assert not rows.duplicated(stated["AE"]).any()
    assert rows.duplicated(["STUDYID", "USUBJID", "AEDECOD", "AESTDTC"]).any()


def test_trial_design_datasets_are_standard_with_sdtmig_keys(tmp_path: Path) -> None:
    """Without a define.xml beside the package: TA, TE, TI get the keys of CDISC's MSG v2.0 sample define.xml
    (TA: STUDYID, ARMCD, TAETORD; TE: STUDYID, ETCD; TI: STUDYID, IETESTCD, TIVERS), class TRIAL DESIGN."""
    folder = tmp_path / "pkg"
    folder.mkdir()
    (folder / "ta.csv").write_text("STUDYID,DOMAIN,ARMCD,ARM,TAETORD,ETCD,ELEMENT,EPOCH\n"
                                   "S1,TA,A,Arm A,1,SCRN,Screening,SCREENING\n", encoding="utf-8")
    (folder / "te.csv").write_text("STUDYID,DOMAIN,ETCD,ELEMENT,TESTRL\nS1,TE,SCRN,Screening,Informed consent\n",
                                   encoding="utf-8")
    (folder / "ti.csv").write_text("STUDYID,DOMAIN,IETESTCD,IETEST,IECAT,TIVERS\nS1,TI,IN01,Age 18 or over,"
                                   "INCLUSION,1\n", encoding="utf-8")
    (folder / "dm.csv").write_text("STUDYID,DOMAIN,USUBJID,SUBJID,SITEID,SEX,ARMCD,ARM,COUNTRY\n"
                                   "S1,DM,S1-1,1,01,F,A,Arm A,USA\n", encoding="utf-8")
    api.to_sdtm(folder, tmp_path / "out", formats=["json"], created=CREATED, validate=False)
    define = tmp_path / "out" / "json" / "define.xml"
    keys = _keys(define)
    assert keys["TA"] == ["STUDYID", "ARMCD", "TAETORD"]
    assert keys["TE"] == ["STUDYID", "ETCD"]
    assert keys["TI"] == ["STUDYID", "IETESTCD", "TIVERS"]
    root = etree.parse(str(define)).getroot()
    for group in root.iter(f"{ODM}ItemGroupDef"):
        if group.get("Name") in ("TA", "TE", "TI"):
            assert group.get(f"{DEF}IsNonStandard") is None and group.get(f"{DEF}StandardOID")
            assert group.get("IsReferenceData") == "Yes"
            assert group.find(f"{DEF}Class").get("Name") == "TRIAL DESIGN"
            assert not [r for r in group.iter(f"{ODM}ItemRef") if r.get(f"{DEF}IsNonStandard")]


def test_dataset_json_package_keys_are_its_own_in_both(tmp_path: Path) -> None:
    """A Dataset-JSON package without define.xml that states AE's keys as STUDYID, USUBJID, AETERM, AESEQ
    (keySequence 1-4): written again, ae.json and define.xml both state those keys, not the SDTMIG's."""
    folder = tmp_path / "pkg"
    folder.mkdir()
    names = [("STUDYID", "string", 1), ("DOMAIN", "string", None), ("USUBJID", "string", 2),
             ("AESEQ", "integer", 4), ("AETERM", "string", 3), ("AEDECOD", "string", None),
             ("AESTDTC", "date", None)]
    ae = {"datasetJSONCreationDateTime": CREATED, "datasetJSONVersion": "1.1.0", "itemGroupOID": "IG.AE",
          "records": 1, "name": "AE", "label": "Adverse Events",
          "columns": [{"itemOID": f"IT.AE.{n}", "name": n, "label": n, "dataType": t,
                       **({"keySequence": k} if k else {})} for n, t, k in names],
          "rows": [["S1", "AE", "S1-1", 1, "HEADACHE", "Headache", "2024-01-05"]]}
    (folder / "ae.json").write_text(json.dumps(ae), encoding="utf-8")
    (folder / "dm.csv").write_text("STUDYID,DOMAIN,USUBJID,SUBJID,SITEID,SEX,ARMCD,ARM,COUNTRY\n"
                                   "S1,DM,S1-1,1,01,F,A,Arm A,USA\n", encoding="utf-8")
    api.to_sdtm(folder, tmp_path / "out", formats=["json"], created=CREATED, validate=False)
    want = ["STUDYID", "USUBJID", "AETERM", "AESEQ"]
    assert _keys(tmp_path / "out" / "json" / "define.xml")["AE"] == want
    assert _json_keys(tmp_path / "out" / "json" / "ae.json") == want
