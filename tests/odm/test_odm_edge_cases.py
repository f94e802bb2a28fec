"""ODM edge cases found in review: nothing may be lost silently (duplicates in a Snapshot, units nobody reads,
items of a group mapped in another form, data of another MetaDataVersion, containers outside SubjectData),
decoding of external and numeric CodeLists, and telling an export from a define.xml by its content."""

from __future__ import annotations

from pathlib import Path

import pytest

from msc_interop import api
from msc_interop.errors import InputError
from msc_interop.odm import is_odm, read_odm

REPO = Path(__file__).resolve().parents[2]
FIXTURE = (REPO / "fixtures" / "example_study_odm" / "example_study.odm.xml").read_text(encoding="utf-8")
MAPPING = (REPO / "fixtures" / "example_study_odm" / "odm-map.yaml").read_text(encoding="utf-8").replace(
    "../example_study/study.yaml", (REPO / "fixtures" / "example_study" / "study.yaml").as_posix())
HEAD = FIXTURE[: FIXTURE.index("  <ClinicalData")]

DM = """<SubjectData SubjectKey="{s}"><SiteRef LocationOID="SITE.01"/>
<StudyEventData StudyEventOID="SE.COMMON"><FormData FormOID="F.DM"><ItemGroupData ItemGroupOID="IG.DM">
<ItemData ItemOID="IT.DM.SEX" Value="F"/><ItemData ItemOID="IT.DM.ARMCD" Value="UCMSC"/>{extra}
</ItemGroupData></FormData></StudyEventData>{events}</SubjectData>"""
LB = """<ItemGroupData ItemGroupOID="IG.LB" {rk}><ItemData ItemOID="IT.LB.LBDTC" Value="2009-09-30T08:38"/>
<ItemData ItemOID="IT.LB.LBTESTCD" Value="{test}"/>
<ItemData ItemOID="IT.LB.LBORRES" Value="{value}"><MeasurementUnitRef MeasurementUnitOID="MU.2"/></ItemData>
</ItemGroupData>"""


def write(tmp_path: Path, body: str, *, head: str = HEAD, mapping: str = MAPPING, file_type: str = "Snapshot",
          clinical: str = 'StudyOID="S.MSC-SLE-2009" MetaDataVersionOID="MDV.1"', tail: str = "") -> Path:
    head = head.replace('FileType="Snapshot"', f'FileType="{file_type}"')
    (tmp_path / "odm-map.yaml").write_text(mapping, encoding="utf-8")
    path = tmp_path / "export.xml"
    path.write_text(f"{head}  <ClinicalData {clinical}>\n{body}\n  </ClinicalData>\n{tail}</ODM>\n", encoding="utf-8")
    return path


def baseline(*groups: str) -> str:
    return (f'<StudyEventData StudyEventOID="SE.BASELINE"><FormData FormOID="F.LB">{"".join(groups)}'
            "</FormData></StudyEventData>")


def test_snapshot_duplicate_item_group_is_rejected_naming_both_lines(tmp_path: Path) -> None:
    body = DM.format(s="01", extra="", events=baseline(LB.format(rk="", test="WBC", value="6.1"),
                                                        LB.format(rk="", test="PLT", value="210")))
    study, rejects = api.load_study(write(tmp_path, body))
    assert len(study["LB"]) == 0
    labs = sorted((r for r in rejects.rejects if r.form == "labs"), key=lambda r: r.row)
    # each ItemGroupData is a record of its own, rejected at its line naming the other's: none mixed, none chosen
    assert len(labs) == 2 and labs[0].row < labs[1].row
    assert f"the ItemGroupData at line {labs[1].row} has the same OIDs and repeat keys" in labs[0].reason
    assert f"same OIDs and repeat keys as the one at line {labs[0].row}" in labs[1].reason
    assert all("a missing or repeated ItemGroupRepeatKey?" in r.reason for r in labs)  # IG.LB is Repeating
    assert rejects.counts["labs"].read == 2 and rejects.counts["labs"].rejected == 2


def test_transactional_file_merges_the_same_key(tmp_path: Path) -> None:
    first = DM.format(s="01", extra="", events=baseline(LB.format(rk='ItemGroupRepeatKey="1"', test="WBC",
                                                                  value="6.1")))
    update = ('<SubjectData SubjectKey="01" TransactionType="Update"><StudyEventData StudyEventOID="SE.BASELINE">'
              '<FormData FormOID="F.LB"><ItemGroupData ItemGroupOID="IG.LB" ItemGroupRepeatKey="1" '
              'TransactionType="Update"><ItemData ItemOID="IT.LB.LBORRES" Value="6.4">'
              '<MeasurementUnitRef MeasurementUnitOID="MU.2"/></ItemData></ItemGroupData></FormData>'
              '</StudyEventData></SubjectData>')
    study, rejects = api.load_study(write(tmp_path, first + update, file_type="Transactional"))
    assert len(rejects) == 0
    assert study["LB"]["LBORRES"].tolist() == ["6.4"]


def test_a_unit_the_mapping_does_not_read_rejects_the_record(tmp_path: Path) -> None:
    body = DM.format(s="01", extra='<ItemData ItemOID="IT.DM.AGE" Value="18">'
                                   '<MeasurementUnitRef MeasurementUnitOID="MU.1"/></ItemData>', events="")
    study, rejects = api.load_study(write(tmp_path, body))
    assert len(study["DM"]) == 0  # 18 in some unit must not become AGE 18 YEARS
    (reject,) = [r for r in rejects.rejects if r.form == "subjects"]
    assert reject.field == "age" and "@Unit(IT.DM.AGE)" in reject.reason


def test_a_unit_not_declared_on_the_itemdef_is_rejected(tmp_path: Path) -> None:
    lab = LB.format(rk='ItemGroupRepeatKey="1"', test="WBC", value="6.1").replace("MU.2", "MU.3")
    head = HEAD.replace('<MeasurementUnitRef MeasurementUnitOID="MU.3"/>', "", 1)  # LBORRES no longer lists U/L
    _, rejects = api.load_study(write(tmp_path, DM.format(s="01", extra="", events=baseline(lab)), head=head))
    (reject,) = [r for r in rejects.rejects if r.form == "labs"]
    assert "not one of the MeasurementUnitRefs of ItemDef IT.LB.LBORRES" in reject.reason


def test_items_of_a_group_read_in_another_form_by_fewer_fields_are_reported(tmp_path: Path) -> None:
    mapping = MAPPING + """- item_group: IG.LB
  form_oid: F.FINDINGS
  form: findings
  fields:
    subject_id: '@SubjectKey'
    visit: '@StudyEvent'
    exam: {constant: ECG}
    result: {constant: NORMAL}
    date: IT.LB.LBDTC
"""
    lab = LB.format(rk='ItemGroupRepeatKey="1"', test="WBC", value="6.1")
    events = ('<StudyEventData StudyEventOID="SE.BASELINE"><FormData FormOID="F.FINDINGS">'
              f"{lab}</FormData></StudyEventData>")
    _, rejects = api.load_study(write(tmp_path, DM.format(s="01", extra="", events=events), mapping=mapping))
    unused = {r.field for r in rejects.rejects if r.form == "odm"}
    assert {"IT.LB.LBTESTCD", "IT.LB.LBORRES"} <= unused  # read in F.LB, not by the F.FINDINGS entry


def test_data_of_another_metadata_version(tmp_path: Path) -> None:
    mdv = HEAD[HEAD.index("    <MetaDataVersion"): HEAD.index("</MetaDataVersion>") + len("</MetaDataVersion>")]
    head2 = HEAD.replace(mdv, mdv + "\n    " + mdv.strip().replace('OID="MDV.1"', 'OID="MDV.2"', 1), 1)
    tail = ('  <ClinicalData StudyOID="S.MSC-SLE-2009" MetaDataVersionOID="MDV.2">\n'
            + DM.format(s="02", extra="", events="") + "\n  </ClinicalData>\n")
    body = DM.format(s="01", extra="", events="")
    # the mapping names MDV.1: the MDV.2 subject is reported, with its ItemData count, not dropped
    _, rejects = api.load_study(write(tmp_path, body, head=head2, tail=tail))
    (other,) = [r for r in rejects.rejects if r.field == "ClinicalData"]
    assert "MetaDataVersion MDV.2" in other.reason and "2 ItemData not converted" in other.reason
    # without metadata_version_oid the study's versions are read together
    merged = MAPPING.replace("metadata_version_oid: MDV.1\n", "")
    study, rejects = api.load_study(write(tmp_path, body, head=head2, tail=tail, mapping=merged))
    assert len(rejects) == 0 and sorted(study["DM"]["SUBJID"]) == ["01", "02"]


def test_containers_outside_subject_data_are_counted(tmp_path: Path) -> None:
    audit = ('<AuditRecords>' + '<AuditRecord><UserRef UserOID="U1"/><LocationRef LocationOID="SITE.01"/>'
             '<DateTimeStamp>2009-10-01T00:00:00</DateTimeStamp></AuditRecord>' * 3 + '</AuditRecords>')
    reference = ('<ReferenceData StudyOID="S.MSC-SLE-2009" MetaDataVersionOID="MDV.1"><ItemGroupData '
                 'ItemGroupOID="IG.LB"><ItemData ItemOID="IT.LB.LBTESTCD" Value="WBC"/></ItemGroupData>'
                 '</ReferenceData>\n')
    head = HEAD + reference
    records = read_odm(write(tmp_path, DM.format(s="01", extra="", events="") + audit, head=head))
    skipped = " ".join(records.rejects.notes)
    assert "1 AuditRecords" in skipped
    assert "1 ReferenceData (holding ItemData that are not subject data)" in skipped


def test_external_and_numeric_codelists_decode(tmp_path: Path) -> None:
    head = HEAD.replace('<CodeList OID="CL.RACE" Name="RACE" DataType="text">',
                        '<CodeList OID="CL.RACE" Name="RACE" DataType="text"><ExternalCodeList Dictionary="Local"/>'
                        '</CodeList><CodeList OID="CL.UNUSED" Name="unused" DataType="text">', 1)
    head = head.replace('<CodeList OID="CL.SEX" Name="SEX" DataType="text">',
                        '<CodeList OID="CL.SEX" Name="SEX" DataType="integer">', 1)
    head = head.replace('CodedValue="F"', 'CodedValue="2"', 1)
    body = DM.format(s="01", extra='<ItemData ItemOID="IT.DM.RACE" Value="ASIAN"/>', events="")
    study, rejects = api.load_study(write(tmp_path, body.replace('Value="F"', 'Value="2.0"'), head=head))
    assert len(rejects) == 0, rejects.rejects
    assert study["DM"]["SEX"].tolist() == ["F"] and study["DM"]["RACE"].tolist() == ["ASIAN"]


def test_export_is_recognised_by_content_not_by_its_first_bytes(tmp_path: Path) -> None:
    body = DM.format(s="01", extra="", events="")
    path = write(tmp_path, body)
    text = path.read_text(encoding="utf-8")
    commented = text.replace("<ODM ", "<!-- " + "x" * 6000 + " -->\n<ODM ", 1)
    path.write_text(commented, encoding="utf-8")
    assert is_odm(path)
    utf16 = tmp_path / "utf16.xml"
    utf16.write_bytes(text.replace("encoding='UTF-8'", "encoding='UTF-16'").encode("utf-16"))
    assert is_odm(utf16)
    (tmp_path / "utf16.odm-map.yaml").write_text(MAPPING, encoding="utf-8")
    study, _ = api.load_study(utf16)
    assert study["DM"]["SUBJID"].tolist() == ["01"]
    with_def = tmp_path / "with_def.xml"
    with_def.write_text(text.replace("<ODM ", '<ODM xmlns:def="http://www.cdisc.org/ns/def/v2.1" ', 1),
                        encoding="utf-8")
    assert is_odm(with_def)  # declaring the namespace does not make it a define.xml
    define = tmp_path / "define.xml"
    define.write_text(text.replace("<MetaDataVersion ", '<MetaDataVersion xmlns:def="http://www.cdisc.org/ns/def/v2.1"'
                                   ' def:DefineVersion="2.1.0" ', 1), encoding="utf-8")
    assert not is_odm(define)
    with pytest.raises(InputError, match="Define-XML"):
        read_odm(define, tmp_path / "odm-map.yaml")


def test_validate_checks_the_export_against_the_odm_xsd_with_its_line(tmp_path: Path) -> None:
    from msc_interop.validate import validate_paths

    bad = FIXTURE.replace('<ItemData ItemOID="IT.DM.SEX" Value="F"/>',
                          '<ItemData ItemOID="IT.DM.SEX" Value="F" Bogus="1"/>', 1)
    line = bad[: bad.index('Bogus="1"')].count("\n") + 1
    (tmp_path / "odm-map.yaml").write_text(MAPPING, encoding="utf-8")
    (tmp_path / "export.xml").write_text(bad, encoding="utf-8")
    whole = [f for f in validate_paths([tmp_path / "export.xml"]).findings if f.rule_id == "MSC-REC-002"]
    assert [(f.row_or_entry, f.severity) for f in whole] == [(line, "warning")]
    assert "Bogus" in whole[0].message
