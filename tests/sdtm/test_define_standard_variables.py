"""def:IsNonStandard on a variable's ItemRef marks only a variable the SDTMIG gives no place in its domain: a
variable of the domain's SDTMIG 3.4 table (TV.ARM, DM.DMDTC, CM.CMSPID: Perm) or an SDTM model variable of the
domain's class a sponsor may add (CM.VISITNUM, AE.AEDTC: "Model Permissible") is standard even where
msc-interop's own builder metadata (mappings/sdtm_variables.yaml) does not list it (mappings/sdtmig_domains.yaml:
P21's SDTM-IG 3.4 configuration; mappings/define_xml.yaml standard_variable_cores)."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from msc_interop import api, mappings

CREATED = "2026-01-01T00:00:00"
DEF = "{http://www.cdisc.org/ns/def/v2.1}"
ODM = "{http://www.cdisc.org/ns/odm/v1.3}"

_FILES = {
    "dm.csv": ("STUDYID,DOMAIN,USUBJID,SUBJID,SITEID,RFSTDTC,SEX,ARMCD,ARM,COUNTRY,DMDTC,DMDY\n"
               "S1,DM,S1-1,1,01,2024-01-01,F,A,Arm A,USA,2023-12-20,-12\n"),
    "tv.csv": ("STUDYID,DOMAIN,VISITNUM,VISIT,VISITDY,ARMCD,ARM,TVSTRL\n"
               "S1,TV,1,SCREENING,-7,A,Arm A,Start of screening\n"),
    "cm.csv": ("STUDYID,DOMAIN,USUBJID,CMSEQ,CMSPID,CMTRT,VISITNUM,VISIT,VISITDY,CMDTC,CMXFOO\n"
               "S1,CM,S1-1,1,7,ASPIRIN,1,SCREENING,-7,2023-12-25,x\n"),
    "ae.csv": ("STUDYID,DOMAIN,USUBJID,AESEQ,AETERM,AEDECOD,AESTDTC,AEDTC,AEOCCUR\n"
               "S1,AE,S1-1,1,HEADACHE,Headache,2024-01-05,2024-01-06,Y\n"),
}


def _non_standard(define: Path) -> set[str]:
    root = etree.parse(str(define)).getroot()
    return {r.get("ItemOID") for r in root.iter(f"{ODM}ItemRef") if r.get(f"{DEF}IsNonStandard") == "Yes"}


def test_sdtmig_table_and_model_permissible_variables_are_standard(tmp_path: Path) -> None:
    folder = tmp_path / "pkg"
    folder.mkdir()
    for name, text in _FILES.items():
        (folder / name).write_text(text, encoding="utf-8")
    api.to_sdtm(folder, tmp_path / "out", formats=["json"], created=CREATED, validate=False)
    # CMXFOO is in no table and not in the model; AEOCCUR is an Events variable the SDTMIG prohibits in AE
    assert _non_standard(tmp_path / "out" / "json" / "define.xml") == {"IT.CM.CMXFOO", "IT.AE.AEOCCUR"}


def test_the_cores_named_standard_are_the_sdtmig_tables_own() -> None:
    cores = {v["core"] for d in mappings.load("sdtmig_domains")["domains"].values() for v in d["variables"]}
    assert set(mappings.load("define_xml")["standard_variable_cores"]) == {"Req", "Exp", "Perm", "Model Permissible"}
    assert set(mappings.load("define_xml")["standard_variable_cores"]) < cores


def test_pilot_standard_variables(pilot: Path, tmp_path: Path) -> None:
    """The pilot's TV.ARM, DM.DMDTC, DM.DMDY, CM.CMSPID, CM.VISITNUM, CM.VISIT, CM.VISITDY, CM.CMDTC, EX.VISITDY
    and AE.AEDTC were all marked non-standard; each is in its SDTMIG 3.4 table or Model Permissible there."""
    api.to_sdtm(pilot, tmp_path, formats=["xpt"], created=CREATED, validate=False)
    assert _non_standard(tmp_path / "xpt" / "define.xml") == set()
