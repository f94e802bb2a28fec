"""Bad ODM input: what cannot be read stops with a message naming the file and line (and OID where it helps);
what is wrong with single values rejects that record with the line of its ItemGroupData and its OID path."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import EXAMPLE, REPO
from msc_interop import api
from msc_interop.errors import InputError
from msc_interop.odm import read_odm

EXPORT = REPO / "fixtures" / "example_study_odm" / "example_study.odm.xml"
TEXT = EXPORT.read_text(encoding="utf-8")
ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"


def mapping_data() -> dict:
    data = yaml.safe_load((EXPORT.parent / "odm-map.yaml").read_text(encoding="utf-8"))
    data["study_definition"] = str(EXAMPLE / "study.yaml")
    return data


def write_export(folder: Path, text: str = TEXT, mapping: dict | None = None, name: str = "export.odm.xml",
                 with_mapping: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if with_mapping:
        (folder / "odm-map.yaml").write_text(yaml.safe_dump(mapping or mapping_data(), sort_keys=False),
                                             encoding="utf-8")
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str, after: int = 0) -> int:
    """1-based line of the first line at or after line `after` that contains `needle`."""
    lines = text.splitlines()
    return next(i for i in range(max(after, 1), len(lines) + 1) if needle in lines[i - 1])


def group_line(text: str, value_line: int) -> int:
    """The line of the ItemGroupData that holds the ItemData on `value_line`."""
    lines = text.splitlines()
    return next(i for i in range(value_line, 0, -1) if "<ItemGroupData " in lines[i - 1])


# --- the file cannot be used: InputError ---------------------------------------------------------------------

@pytest.mark.parametrize(("broken", "message"), [
    # an unclosed ItemData: reported where the parser notices, at the ItemGroupData end tag
    ('<ItemData ItemOID="IT.DM.SEX" Value="F">', "Opening and ending tag mismatch: ItemData line {line}"),
    # an HTML entity typed into a value: no DOCTYPE defines it
    ('<ItemData ItemOID="IT.DM.SEX" Value="F&nbsp;"/>', "Entity 'nbsp' not defined"),
    ('<ItemData ItemOID="IT.DM.SEX" Value="F & M"/>', "xmlParseEntityRef: no name"),
])
def test_not_well_formed_names_file_line_and_column(tmp_path, broken, message) -> None:
    text = TEXT.replace('<ItemData ItemOID="IT.DM.SEX" Value="F"/>', broken, 1)
    bad_line = line_of(text, broken)
    path = write_export(tmp_path, text)
    with pytest.raises(InputError) as err:
        api.load_study(path)
    msg = str(err.value)
    assert msg.startswith("export.odm.xml: not well-formed XML at line ")
    assert message.format(line=bad_line) in msg
    line, col = map(int, re.search(r"at line (\d+), column (\d+)", msg).groups())
    assert col > 0
    assert line == (line_of(text, "</ItemGroupData>", bad_line) if "tag mismatch" in message else bad_line)


def test_truncated_file_is_not_well_formed(tmp_path) -> None:
    text = TEXT[: len(TEXT) // 2]
    path = write_export(tmp_path, text)
    with pytest.raises(InputError, match=r"export\.odm\.xml: not well-formed XML at line \d+, column \d+"):
        read_odm(path)


def test_odm_12_namespace_is_named(tmp_path) -> None:
    path = write_export(tmp_path, TEXT.replace(ODM_NS, "http://www.cdisc.org/ns/odm/v1.2"))
    with pytest.raises(InputError) as err:
        api.load_study(path)
    msg = str(err.value)
    assert msg.startswith("export.odm.xml: line 2: <ODM> is in namespace 'http://www.cdisc.org/ns/odm/v1.2'")
    assert f"whose namespace is '{ODM_NS}'" in msg


def test_odm_without_namespace_is_named(tmp_path) -> None:
    text = TEXT.replace(f' xmlns="{ODM_NS}"', "")
    with pytest.raises(InputError, match=r"<ODM> is in namespace '\(none\)'"):
        api.load_study(write_export(tmp_path, text))


def test_root_that_is_not_odm(tmp_path) -> None:
    clinical = TEXT[TEXT.index("  <ClinicalData"): TEXT.rindex("</ODM>")]
    text = "<?xml version='1.0' encoding='UTF-8'?>\n" + clinical.strip().replace(
        "<ClinicalData ", f'<ClinicalData xmlns="{ODM_NS}" ', 1) + "\n"
    path = write_export(tmp_path, text, name="clinical.xml")
    with pytest.raises(InputError, match=r"clinical\.xml: not a CDISC ODM file: the root element is "
                                         r"<ClinicalData>, expected <ODM>"):
        read_odm(path)
    with pytest.raises(InputError, match=r"clinical\.xml: an \.xml input must be a CDISC ODM 1\.3 export"):
        api.load_study(path)


DEFINE_XML = """<?xml version="1.0" encoding="UTF-8"?>
<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" xmlns:def="http://www.cdisc.org/ns/def/v2.1"
     xmlns:xlink="http://www.w3.org/1999/xlink" ODMVersion="1.3.2" FileType="Snapshot"
     FileOID="MSC-SLE-2009.SDTM.Define-XML_2.1.0" CreationDateTime="2026-01-01T00:00:00" def:Context="Submission">
  <Study OID="STDY.MSC-SLE-2009">
    <GlobalVariables><StudyName>MSC-SLE-2009</StudyName><StudyDescription>x</StudyDescription>
      <ProtocolName>MSC-SLE-2009</ProtocolName></GlobalVariables>
    <MetaDataVersion OID="MDV.MSC-SLE-2009.SDTMIG.3.4" Name="SDTM" def:DefineVersion="2.1.0">
      <ItemGroupDef OID="IG.DM" Name="DM" Repeating="No" Domain="DM" SASDatasetName="DM" def:Structure="x"
                    def:ArchiveLocationID="LF.DM"><ItemRef ItemOID="IT.DM.STUDYID" Mandatory="Yes"/></ItemGroupDef>
      <ItemDef OID="IT.DM.STUDYID" Name="STUDYID" DataType="text" Length="12"/>
    </MetaDataVersion>
  </Study>
</ODM>
"""


@pytest.fixture
def define_xml(tmp_path) -> Path:
    """A Define-XML 2.1 file (an ODM document with def: metadata and no ClinicalData), a mapping beside it."""
    return write_export(tmp_path, DEFINE_XML, name="define.xml")


def test_define_xml_is_refused_as_input(define_xml) -> None:
    with pytest.raises(InputError) as err:
        api.load_study(define_xml)
    assert str(define_xml) in str(err.value) and "define.xml describes SDTM datasets" in str(err.value)
    # the reader itself, given a mapping, says what the file is rather than "no MetaDataVersion matches"
    with pytest.raises(InputError, match=r"define\.xml: this is a Define-XML file"):
        read_odm(define_xml, define_xml.parent / "odm-map.yaml")


def test_no_metadata_version(tmp_path) -> None:
    start, end = TEXT.index("    <MetaDataVersion"), TEXT.index("</MetaDataVersion>") + len("</MetaDataVersion>\n")
    path = write_export(tmp_path, TEXT[:start] + TEXT[end:])
    with pytest.raises(InputError, match=r"^export\.odm\.xml: no Study/MetaDataVersion before the ClinicalData"):
        api.load_study(path)


def test_metadata_version_other_than_the_mappings(tmp_path) -> None:
    path = write_export(tmp_path, TEXT.replace('MetaDataVersion OID="MDV.1"', 'MetaDataVersion OID="MDV.2"'))
    with pytest.raises(InputError) as err:
        api.load_study(path)
    assert "no MetaDataVersion matches the mapping" in str(err.value)
    assert "Study S.MSC-SLE-2009 / MetaDataVersion MDV.2" in str(err.value)


def test_missing_mapping_tells_how_to_propose_one(tmp_path) -> None:
    path = write_export(tmp_path, with_mapping=False)
    with pytest.raises(InputError) as err:
        api.load_study(path)
    msg = str(err.value)
    assert msg.startswith("export.odm.xml: an ODM export needs a mapping file")
    assert "--odm-map FILE" in msg and "msc-interop odm-map export.odm.xml > odm-map.yaml" in msg
    with pytest.raises(InputError, match=r"nope\.yaml: no such ODM mapping file \(propose one with "
                                         r"`msc-interop odm-map EXPORT\.xml`\)"):
        api.load_study(path, odm_map=tmp_path / "nope.yaml")


def test_mapping_naming_unknown_oids_lists_them_with_did_you_mean(tmp_path) -> None:
    text = (EXPORT.parent / "odm-map.yaml").read_text(encoding="utf-8")
    mapping = yaml.safe_load(text.replace("IT.LB.LBORNRLO", "IT.LB.LBORNLO").replace("SE.YEAR6:", "SE.YEAR_6:")
                             .replace("form_oid: F.AE", "form_oid: F.ADVERSE"))
    mapping["study_definition"] = str(EXAMPLE / "study.yaml")
    with pytest.raises(InputError) as err:
        api.load_study(write_export(tmp_path, mapping=mapping))
    msg = str(err.value)
    assert msg.startswith("odm-map.yaml: the mapping names OIDs the export does not define:")
    assert ("study_events.SE.YEAR_6: StudyEventOID 'SE.YEAR_6' is not defined in MetaDataVersion MDV.1 "
            "(did you mean SE.YEAR6") in msg
    assert ("item_groups[3].fields.ref_low: ItemOID 'IT.LB.LBORNLO' is not defined in MetaDataVersion MDV.1 "
            "(did you mean IT.LB.LBORNRLO") in msg
    assert "item_groups[2].form_oid: FormOID 'F.ADVERSE' is not defined" in msg


def test_mapping_not_matching_its_schema(tmp_path) -> None:
    mapping = mapping_data()
    mapping["item_groups"][0]["form"] = "demographics"
    with pytest.raises(InputError, match=r"odm-map\.yaml: the ODM mapping does not match its schema"):
        api.load_study(write_export(tmp_path, mapping=mapping))


# --- single values: rejects, the rest converts ---------------------------------------------------------------

def _one_reject(rejects, form: str, field: str):
    found = [r for r in rejects.sorted() if r.form == form and r.field == field]
    assert len(found) == 1, found
    return found[0]


def edit_group(text: str, subject: str, event: str, group: str, repeat: str, edit) -> str:
    """Apply `edit(chunk) -> chunk` to one ItemGroupData of the export text."""
    start = text.index(f'<StudyEventData StudyEventOID="{event}"', text.index(f'SubjectKey="{subject}"'))
    repeat_key = f' ItemGroupRepeatKey="{repeat}"' if repeat else ""
    start = text.index(f'<ItemGroupData ItemGroupOID="{group}"{repeat_key}>', start)
    end = text.index("</ItemGroupData>", start)
    chunk = edit(text[start:end])
    assert chunk != text[start:end]
    return text[:start] + chunk + text[end:]


def set_value(item: str, value: str):
    return lambda chunk: re.sub(rf'(ItemOID="{item}" Value=")[^"]*', rf"\g<1>{value}", chunk, count=1)


def add_after(item: str, extra: str):
    def edit(chunk: str) -> str:
        m = re.search(rf'\n( *)<ItemData ItemOID="{item}"[^>]*/>', chunk)
        return chunk[: m.end()] + "\n" + m.group(1) + extra + chunk[m.end():]
    return edit


@pytest.fixture(scope="module")
def bad_values(tmp_path_factory):
    """One export with a value of each kind that cannot be converted: four in subject 05's labs, a sex that is
    not a CodedValue in subject 06 (whose other records then cascade)."""
    text = edit_group(TEXT, "05", "SE.BASELINE", "IG.LB", "1", set_value("IT.LB.LBORNRLO", "abc"))
    text = edit_group(text, "05", "SE.YEAR1", "IG.LB", "1", set_value("IT.LB.LBDTC", "2009-13-01"))
    text = edit_group(text, "05", "SE.YEAR1", "IG.LB", "2",
                      add_after("IT.LB.LBTESTCD", '<ItemData ItemOID="IT.LB.LBTESTCD" Value="PLAT"/>'))
    text = edit_group(text, "05", "SE.YEAR2", "IG.LB", "1",
                      add_after("IT.LB.LBTESTCD", '<ItemData ItemOID="IT.LB.LBCOMMENT" Value="haemolysed"/>'))
    text = edit_group(text, "06", "SE.COMMON", "IG.DM", "", set_value("IT.DM.SEX", "Female"))
    path = write_export(tmp_path_factory.mktemp("bad_values"), text)
    study, rejects = api.load_study(path)
    return text, study, rejects


def test_value_failing_float_datatype(bad_values) -> None:
    text, _, rejects = bad_values
    r = _one_reject(rejects, "labs", "ref_low")
    value_line = line_of(text, 'Value="abc"')
    assert (r.file, r.value, r.row) == ("export.odm.xml", "abc", group_line(text, value_line))
    assert "value does not match the DataType float of ItemDef IT.LB.LBORNRLO (LBORNRLO)" in r.reason
    assert r.reason.endswith("[at SubjectData[05]/StudyEventData[SE.BASELINE]/FormData[F.LB]/"
                             "ItemGroupData[IG.LB@1]]")


def test_date_failing_partial_datetime(bad_values) -> None:
    text, _, rejects = bad_values
    r = _one_reject(rejects, "labs", "collection_datetime")
    assert (r.value, r.row) == ("2009-13-01", group_line(text, line_of(text, 'Value="2009-13-01"')))
    assert "DataType partialDatetime of ItemDef IT.LB.LBDTC" in r.reason
    assert re.search(r"\[at SubjectData\[05\]/StudyEventData\[SE\.YEAR1\]/FormData\[F\.LB\]/"
                     r"ItemGroupData\[IG\.LB@1\]\]$", r.reason)


def test_duplicate_item_data_names_both_lines(bad_values) -> None:
    text, _, rejects = bad_values
    second = line_of(text, '<ItemData ItemOID="IT.LB.LBTESTCD" Value="PLAT"/>')
    r = _one_reject(rejects, "labs", "test")
    assert r.row == group_line(text, second)
    assert f"ItemData IT.LB.LBTESTCD appears twice in this ItemGroupData (lines {second - 1} and {second}" \
           in r.reason
    assert "ODM allows one value per item" in r.reason
    assert "[at SubjectData[05]/StudyEventData[SE.YEAR1]/FormData[F.LB]/ItemGroupData[IG.LB@2]]" in r.reason


def test_item_oid_not_in_metadata_is_a_reject_not_fatal(bad_values) -> None:
    text, study, rejects = bad_values
    r = _one_reject(rejects, "odm", "ItemOID")
    assert (r.file, r.value, r.row) == ("export.odm.xml", "IT.LB.LBCOMMENT", line_of(text, "IT.LB.LBCOMMENT"))
    assert r.reason == ("ItemOID 'IT.LB.LBCOMMENT' is not defined in MetaDataVersion MDV.1 (1 occurrence(s)): "
                        "its values were not converted")
    # the record holding it still converts
    lb = study["LB"]
    assert ((lb["USUBJID"] == "MSC-SLE-2009-01-05") & (lb["VISIT"] == "YEAR 2") & (lb["LBTESTCD"] == "WBC")).any()


def test_coded_value_not_in_codelist(bad_values) -> None:
    text, study, rejects = bad_values
    r = _one_reject(rejects, "subjects", "sex")
    assert (r.value, r.row) == ("Female", group_line(text, line_of(text, 'Value="Female"')))
    assert "'Female' is not a CodedValue of CodeList CL.SEX (ItemDef IT.DM.SEX); allowed: F, M" in r.reason
    assert r.reason.endswith("[at SubjectData[06]/StudyEventData[SE.COMMON]/FormData[F.DM]/ItemGroupData[IG.DM]]")
    assert "MSC-SLE-2009-01-06" not in set(study["DM"]["USUBJID"])


def test_bad_values_reject_only_their_records(bad_values) -> None:
    _, study, rejects = bad_values
    counts = {c.form: (c.read, c.converted) for c in rejects.counts.values()}
    # subject 06 cascades (all its infusions, labs and findings); subject 05 loses its 3 bad lab records
    of_06 = {form: int((pd.read_csv(EXAMPLE / f"{form}.csv", dtype=str)["subject_id"] == "06").sum())
             for form in ("exposures", "labs", "findings", "medical_history")}
    assert of_06 == {"exposures": 2, "labs": 55, "findings": 10, "medical_history": 2}
    # subject 06's 4 medications and its disposition cascade too
    assert counts == {"subjects": (9, 8), "exposures": (18, 16), "adverse_events": (1, 1),
                      "labs": (494, 494 - 55 - 3), "findings": (90, 80), "vital_signs": (450, 400),
                      "ecg": (225, 200), "medical_history": (15, 13), "medications": (36, 32),
                      "disposition": (9, 8)}  # 06: 25 ECG values
    assert len(study["LB"]) == 494 - 55 - 3
    cascaded = [r for r in rejects.sorted() if r.value == "06"]
    # and its 50 vital signs, 25 ECG values, 2 histories, 4 medications, 1 disposition
    assert len(cascaded) == 2 + 55 + 10 + 50 + 25 + 2 + 4 + 1
    assert all(r.field == "subject_id" and "SubjectData[06]/" in r.reason for r in cascaded)
