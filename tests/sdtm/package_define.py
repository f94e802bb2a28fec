"""What the tests of a converted SDTM package's define.xml share: the namespaces, the Define-XML 2.1 schema, a
one-subject package's AE and DM (test_package_origins, test_package_acrf, test_package_values) and its conversion
to Dataset-JSON (converted_define)."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from msc_interop import api
from msc_interop.sdtm.define import xsd_errors

CREATED = "2026-01-01T00:00:00"
DEF = "{http://www.cdisc.org/ns/def/v2.1}"
ODM = "{http://www.cdisc.org/ns/odm/v1.3}"
XSD = (Path(__file__).parents[2] / "mappings" / "schema" / "external" / "define-xml-2.1" / "cdisc-definexml-2.1.0"
       / "define2-1-0.xsd")
TEXT = f"{ODM}Description/{ODM}TranslatedText"

AE_CSV = ("STUDYID,DOMAIN,USUBJID,AESEQ,AETERM,AEDECOD,AESTDTC,AESTDY\n"
          "S1,AE,S1-1,1,HEADACHE,Headache,2024-01-05,5\n")
DM_CSV = ("STUDYID,DOMAIN,USUBJID,SUBJID,SITEID,RFSTDTC,SEX,ARMCD,ARM,COUNTRY\n"
          "S1,DM,S1-1,1,01,2024-01-01,F,A,Arm A,USA\n")


def converted_define(tmp_path: Path, files: dict[str, str]) -> etree._Element:
    """The define.xml root of a package folder of DM_CSV and `files` (name -> text) converted to Dataset-JSON
    (tmp_path/pkg -> tmp_path/out), after checking it against the Define-XML 2.1 XSD."""
    folder = tmp_path / "pkg"
    folder.mkdir()
    for name, text in {"dm.csv": DM_CSV, **files}.items():
        (folder / name).write_text(text, encoding="utf-8")
    api.to_sdtm(folder, tmp_path / "out", formats=["json"], created=CREATED, validate=False)
    written = tmp_path / "out" / "json" / "define.xml"
    assert xsd_errors(written, XSD) == []
    return etree.parse(str(written)).getroot()
