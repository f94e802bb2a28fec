"""Audit trail, signatures, annotations and vendor extensions (OpenClinica, Medidata Rave, REDCap) at every
level of the clinical data are skipped, counted in the notes, and change no record."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import EXAMPLE, REPO
from msc_interop.odm import read_odm

EXPORT = REPO / "fixtures" / "example_study_odm" / "example_study.odm.xml"
TEXT = EXPORT.read_text(encoding="utf-8")

OC = 'xmlns:OpenClinica="http://www.openclinica.org/ns/odm_ext_v130/v3.1"'
MDSOL = 'xmlns:mdsol="http://www.mdsol.com/ns/odm/metadata"'
REDCAP = 'xmlns:redcap="https://projectredcap.org"'
AUDIT = ('<AuditRecord><UserRef UserOID="U.DM1"/><LocationRef LocationOID="SITE.01"/>'
         "<DateTimeStamp>2009-10-01T10:00:00</DateTimeStamp><ReasonForChange>typo</ReasonForChange></AuditRecord>")
SIGNATURE = ('<Signature><UserRef UserOID="U.PI"/><LocationRef LocationOID="SITE.01"/>'
             '<SignatureRef SignatureOID="SIG.PI"/><DateTimeStamp>2009-10-02T10:00:00</DateTimeStamp></Signature>')
ANNOTATION = '<Annotation SeqNum="1"><Comment SponsorOrSite="Site">checked against source</Comment></Annotation>'
ODM_EXTRAS = AUDIT + SIGNATURE + ANNOTATION

# (text in the fixture, replacement) for each level: SubjectData, StudyEventData, FormData, ItemGroupData, ItemData
LEVELS = [
    ('<SubjectData xmlns="http://www.cdisc.org/ns/odm/v1.3" SubjectKey="01">',
     '<SubjectData xmlns="http://www.cdisc.org/ns/odm/v1.3" SubjectKey="01" '
     f'OpenClinica:Status="available" mdsol:SubjectName="01" redcap:RecordId="1">{AUDIT}{SIGNATURE}'
     '<OpenClinica:SubjectGroupData OpenClinica:StudyGroupClassID="SGC_ARM"/>'),
    ('<StudyEventData StudyEventOID="SE.BASELINE">',
     f'<StudyEventData StudyEventOID="SE.BASELINE" OpenClinica:StartDate="2009-09-30">{ODM_EXTRAS}'
     '<mdsol:Milestone Name="baseline"/>'),
    ('<FormData FormOID="F.LB">',
     f'<FormData FormOID="F.LB" OpenClinica:Version="v1.0" redcap:Complete="2">{ODM_EXTRAS}'
     '<redcap:FormNote>entered twice</redcap:FormNote>'),
    ('<ItemGroupData ItemGroupOID="IG.LB" ItemGroupRepeatKey="1">',
     f'<ItemGroupData ItemGroupOID="IG.LB" ItemGroupRepeatKey="1" redcap:RepeatInstrument="labs">{ODM_EXTRAS}'
     '<OpenClinica:ItemGroupStatus Status="locked"/>'),
    ('<ItemData ItemOID="IT.LB.LBTESTCD" Value="WBC"/>',
     f'<ItemData ItemOID="IT.LB.LBTESTCD" Value="WBC" mdsol:Freeze="Yes">{ODM_EXTRAS}'
     '<mdsol:Query Status="Closed" Value="confirmed"/></ItemData>'),
    # SiteRef is followed by Annotation* in SubjectData
    ('<SiteRef LocationOID="SITE.01"/>', f'<SiteRef LocationOID="SITE.01"/>{ANNOTATION}'),
]
EXPECTED_SKIPPED = ("  skipped on purpose: 5 Annotation, 5 AuditRecord, 5 Signature, "
                    "2 vendor extension (Medidata Rave), 2 vendor extension (OpenClinica), "
                    "1 vendor extension (REDCap)")


def write_export(folder: Path, text: str) -> Path:
    mapping = yaml.safe_load((EXPORT.parent / "odm-map.yaml").read_text(encoding="utf-8"))
    mapping["study_definition"] = str(EXAMPLE / "study.yaml")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "odm-map.yaml").write_text(yaml.safe_dump(mapping, sort_keys=False), encoding="utf-8")
    path = folder / "export.odm.xml"
    path.write_text(text, encoding="utf-8")
    return path


def decorated(levels=LEVELS) -> str:
    """The fixture with the vendor namespaces declared on <ODM> (as EDCs do) and `levels` decorated."""
    text = TEXT.replace("<ODM ", f"<ODM {OC} {MDSOL} {REDCAP} ", 1)
    for old, new in levels:
        assert old in text, old
        text = text.replace(old, new, 1)  # the first occurrence: all inside subject 01
    return text


def test_skipped_elements_change_no_record_and_are_counted(tmp_path) -> None:
    plain = read_odm(EXPORT)
    records = read_odm(write_export(tmp_path, decorated()))
    assert len(records.rejects) == 0
    for form, df in plain.forms.items():
        # same records, same values (rows are source lines, which moved)
        pd.testing.assert_frame_equal(records.forms[form].drop(columns="_row").reset_index(drop=True),
                                      df.drop(columns="_row").reset_index(drop=True), obj=form)
    assert records.read_counts == plain.read_counts == {
        "subjects": 9, "exposures": 18, "adverse_events": 1, "labs": 494, "findings": 90, "vital_signs": 450,
        "ecg": 225, "medical_history": 15,
        "medications": 36, "disposition": 9}
    assert records.rejects.notes == [
        "export.odm.xml: ODM S.MSC-SLE-2009/MDV.1: 9 subject(s), 6742 ItemData read", EXPECTED_SKIPPED]


@pytest.mark.parametrize(("level", "expected"), [
    (0, {"AuditRecord": 1, "Signature": 1, "vendor extension (OpenClinica)": 1}),
    (1, {"AuditRecord": 1, "Signature": 1, "Annotation": 1, "vendor extension (Medidata Rave)": 1}),
    (2, {"AuditRecord": 1, "Signature": 1, "Annotation": 1, "vendor extension (REDCap)": 1}),
    (3, {"AuditRecord": 1, "Signature": 1, "Annotation": 1, "vendor extension (OpenClinica)": 1}),
    (4, {"AuditRecord": 1, "Signature": 1, "Annotation": 1, "vendor extension (Medidata Rave)": 1}),
], ids=["SubjectData", "StudyEventData", "FormData", "ItemGroupData", "ItemData"])
def test_each_level_is_counted(tmp_path, level, expected) -> None:
    records = read_odm(write_export(tmp_path, decorated([LEVELS[level]])))
    note = ", ".join(f"{n} {k}" for k, n in sorted(expected.items()))
    assert records.rejects.notes[1:] == [f"  skipped on purpose: {note}"]
    assert len(records.rejects) == 0
    assert len(records.forms["labs"]) == 494


def test_vendor_attributes_alone_change_nothing(tmp_path) -> None:
    """Vendor attributes (not elements) are ignored: no record changes, nothing to skip."""
    text = TEXT.replace('<ItemData ItemOID="IT.LB.LBORRES" Value="6.14">',
                        f'<ItemData {MDSOL} ItemOID="IT.LB.LBORRES" Value="6.14" mdsol:Value="999">', 1)
    records = read_odm(write_export(tmp_path, text))
    labs = records.forms["labs"]
    assert labs.iloc[0]["result"] == "6.14"
    assert records.rejects.notes == ["export.odm.xml: ODM S.MSC-SLE-2009/MDV.1: 9 subject(s), 6742 ItemData read"]
