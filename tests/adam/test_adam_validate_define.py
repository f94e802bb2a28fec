"""validate on an ADaM folder checks the data against the define.xml beside it (the define.xml rules of SDTM, one
copy of them), but not def:Class against the SDTM class of a domain; and the to-adam outputs of the bundled study
and of CDISC's pilot SDTM package validate without a finding."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
from lxml import etree

from msc_interop.adam import files
from msc_interop.validate import validate_paths
from msc_interop.validate.model import Scope
from msc_interop.validate.registry import run
from msc_interop.validate.rules.define import DefineContext


def _counts(folder: Path) -> Counter:
    return Counter((f.rule_id, f.severity) for f in validate_paths([folder]).findings)


def test_to_adam_outputs_validate_without_findings(adam_example, adam_pilot):
    """Every format folder of both outputs, define.xml included: no finding of any rule (the pilot package has no
    LB, so its folders have no ADLB and the BDS rules have nothing to check there)."""
    for out in (adam_example[0], adam_pilot[0]):
        for fmt in ("xpt", "json"):
            assert _counts(out / fmt) == Counter(), (out, fmt)
    assert (adam_example[0] / "xpt" / "adlb.xpt").is_file()
    assert not (adam_pilot[0] / "xpt" / "adlb.xpt").exists()


def test_define_checks_run_on_an_adam_folder_and_name_the_place(adam_example, tmp_path):
    """A value outside its define.xml codelist (ANRIND outside CL.NRIND) and a column define.xml describes but the
    file lacks: found in an ADaM folder as in an SDTM one, with the file, dataset, variable, row and subject."""
    folder = tmp_path / "json"
    folder.mkdir()
    for p in (adam_example[0] / "json").iterdir():
        (folder / p.name).write_bytes(p.read_bytes())
    _, adlb = files.read_dataset(folder / "adlb.json")
    adlb.loc[6, "ANRIND"] = "ABNORMAL"
    adlb = adlb.drop(columns=["ANL01FL"])
    files.write_dataset("ADLB", adlb, folder / "adlb.json", "json", studyid=adlb["STUDYID"].iloc[0],
                        created="2026-01-01T00:00:00")
    got = {(f.rule_id, Path(f.file).name, f.dataset_or_resource, f.variable_or_path, f.row_or_entry, f.usubjid)
           for f in validate_paths([folder]).findings}
    assert ("MSC-DEF-007", "adlb.json", "ADLB", "ANRIND", 7, adlb["USUBJID"].iloc[6]) in got
    assert ("MSC-DEF-004", "define.xml", "ADLB", "ANL01FL", None, "") in got
    # ANRIND is 'ABNORMAL' (8 bytes) where define.xml gives Length 6 (NORMAL, the longest value written)
    assert ("MSC-DEF-006", "adlb.json", "ADLB", "ANRIND", 7, adlb["USUBJID"].iloc[6]) in got
    assert len(got) == 3, got


def _class_findings(model: str) -> list[str]:
    """MSC-DEF-011 over a define.xml that gives a dataset named LB (an SDTM Findings domain's name) the ADaM class
    BASIC DATA STRUCTURE."""
    doc = etree.fromstring(
        b'<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" xmlns:def="http://www.cdisc.org/ns/def/v2.1">'
        b'<Study OID="S"><MetaDataVersion OID="M" def:DefineVersion="2.1.0">'
        b'<ItemGroupDef OID="IG.LB" Name="LB" Repeating="Yes" Purpose="Analysis">'
        b'<def:Class Name="BASIC DATA STRUCTURE"/></ItemGroupDef></MetaDataVersion></Study></ODM>')
    data = {"LB": pd.DataFrame({"STUDYID": ["S"], "DOMAIN": ["LB"], "USUBJID": ["S-1"]})}
    ctx = DefineContext(Path("define.xml"), etree.ElementTree(doc), data, {}, "xpt", model=model)
    return [f.message for f in run(Scope.DEFINE, ctx) if f.rule_id == "MSC-DEF-011"]


def test_sdtm_class_check_is_not_made_on_adam_classes():
    assert _class_findings("SDTM") == ["define.xml gives LB def:Class 'BASIC DATA STRUCTURE' but LB is an SDTM "
                                       "FINDINGS domain"]
    assert _class_findings("ADaM") == []
