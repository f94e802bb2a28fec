"""TransactionType: later ClinicalData update, remove and add records; the newest value wins; removals are noted.

Each test appends a transactional ClinicalData block to the bundled export (same MetaDataVersion and mapping).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from lxml import etree

from conftest import EXAMPLE, REPO
from msc_interop import api
from msc_interop.odm import read_odm

EXPORT = REPO / "fixtures" / "example_study_odm" / "example_study.odm.xml"
_TEXT = EXPORT.read_text(encoding="utf-8")
HEAD = _TEXT[: _TEXT.index("  <ClinicalData")].replace('FileType="Snapshot"', 'FileType="Transactional"')
SNAPSHOT = _TEXT[_TEXT.index("  <ClinicalData"): _TEXT.rindex("</ODM>")]


def clinical_data(body: str) -> str:
    return f'  <ClinicalData StudyOID="S.MSC-SLE-2009" MetaDataVersionOID="MDV.1">\n{body}\n  </ClinicalData>\n'


def write_export(folder: Path, *blocks: str) -> Path:
    """The fixture's metadata + the given ClinicalData blocks, with the fixture's mapping beside it."""
    mapping = yaml.safe_load((EXPORT.parent / "odm-map.yaml").read_text(encoding="utf-8"))
    mapping["study_definition"] = str(EXAMPLE / "study.yaml")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "odm-map.yaml").write_text(yaml.safe_dump(mapping, sort_keys=False), encoding="utf-8")
    path = folder / "export.odm.xml"
    path.write_text(HEAD + "".join(blocks) + "</ODM>\n", encoding="utf-8")
    return path


def lab_group(repeat: str, test: str, result: str, unit: str, low: str = "", high: str = "",
              date: str = "2009-09-30T08:38", transaction: str = "Insert") -> str:
    limits = "".join(f'<ItemData ItemOID="IT.LB.{oid}" Value="{v}"/>' for oid, v in
                     (("LBORNRLO", low), ("LBORNRHI", high)) if v)
    return (f'<ItemGroupData ItemGroupOID="IG.LB" ItemGroupRepeatKey="{repeat}" TransactionType="{transaction}">'
            f'<ItemData ItemOID="IT.LB.LBDTC" Value="{date}"/><ItemData ItemOID="IT.LB.LBTESTCD" Value="{test}"/>'
            f'<ItemData ItemOID="IT.LB.LBORRES" Value="{result}"><MeasurementUnitRef MeasurementUnitOID="{unit}"/>'
            f"</ItemData>{limits}</ItemGroupData>")


def in_event(subject: str, event: str, form: str, groups: str, transaction: str = "Update") -> str:
    return (f'    <SubjectData SubjectKey="{subject}" TransactionType="Update">'
            f'<StudyEventData StudyEventOID="{event}" TransactionType="Update">'
            f'<FormData FormOID="{form}" TransactionType="{transaction}">{groups}</FormData>'
            "</StudyEventData></SubjectData>")


def labs_of(study, subject: str, visit: str) -> pd.DataFrame:
    lb = study["LB"]
    return lb[(lb["USUBJID"] == f"MSC-SLE-2009-01-{subject}") & (lb["VISIT"] == visit)].set_index("LBTESTCD")


def lab_records(records, subject: str, visit: str) -> pd.DataFrame:
    """The labs form as the reader gives it (before SDTM): cheaper where the record is what matters."""
    labs = records.forms["labs"]
    return labs[(labs["subject_id"] == subject) & (labs["visit"] == visit)].set_index("test")


def record_counts(records) -> dict[str, tuple[int, int]]:
    return {form: (n, len(records.forms[form])) for form, n in records.read_counts.items()}


def counts(rejects) -> dict[str, tuple[int, int]]:
    return {c.form: (c.read, c.converted) for c in rejects.counts.values()}


def update_notes(rejects) -> list[str]:
    return [n for n in rejects.notes if "TransactionType=Update/Upsert applied" in n]


def removal_note(rejects) -> str:
    found = [n for n in rejects.notes if "TransactionType=Remove" in n]
    assert len(found) == 1, rejects.notes
    return found[0]


@pytest.fixture(scope="module")
def baseline():
    """The snapshot alone: what the transactions are compared with."""
    return api.load_study(EXPORT)


def test_update_in_later_clinical_data_changes_one_lab_value(tmp_path, baseline) -> None:
    before = labs_of(baseline[0], "01", "BASELINE")
    assert before.loc["WBC", "LBORRES"] == "6.14"
    update = ('<ItemGroupData ItemGroupOID="IG.LB" ItemGroupRepeatKey="1" TransactionType="Update">'
              '<ItemData ItemOID="IT.LB.LBORRES" Value="7.02" TransactionType="Update">'
              '<MeasurementUnitRef MeasurementUnitOID="MU.2"/></ItemData></ItemGroupData>')
    path = write_export(tmp_path, SNAPSHOT, clinical_data(in_event("01", "SE.BASELINE", "F.LB", update)))
    study, rejects = api.load_study(path)
    after = labs_of(study, "01", "BASELINE")
    assert after.loc["WBC", "LBORRES"] == "7.02"
    assert after.loc["WBC", "LBSTRESN"] == pytest.approx(7.02)
    # item by item: the items the update did not name keep their values
    for col in ("LBORRESU", "LBORNRLO", "LBORNRHI", "LBDTC", "LBNAM"):
        assert after.loc["WBC", col] == before.loc["WBC", col], col
    # nothing else changed
    assert len(study["LB"]) == 494 and len(rejects) == 0
    other = study["LB"].drop(columns=["LBORRES", "LBSTRESC", "LBSTRESN"])
    pd.testing.assert_frame_equal(other, baseline[0]["LB"].drop(columns=["LBORRES", "LBSTRESC", "LBSTRESN"]))
    assert not any("Remove" in n for n in rejects.notes)


def test_newest_value_wins_over_several_updates(tmp_path) -> None:
    def update(value: str) -> str:
        return clinical_data(in_event("05", "SE.YEAR1", "F.LB", (
            '<ItemGroupData ItemGroupOID="IG.LB" ItemGroupRepeatKey="3" TransactionType="Update">'
            f'<ItemData ItemOID="IT.LB.LBORRES" Value="{value}">'
            '<MeasurementUnitRef MeasurementUnitOID="MU.2"/></ItemData></ItemGroupData>')))

    path = write_export(tmp_path, SNAPSHOT, update("150"), update("160"), update("171"))
    records = read_odm(path)
    assert lab_records(records, "05", "YEAR 1").loc["PLT", "result"] == "171"
    assert record_counts(records)["labs"] == (494, 494)
    # the three updates applied are counted, as removals are
    assert update_notes(records.rejects) == [
        "  TransactionType=Update/Upsert applied: 3 ItemGroupData merged item by item into the record of their OIDs "
        "and repeat keys (the newest value wins)"]


def test_remove_item_group_removes_that_record_and_is_noted(tmp_path, baseline) -> None:
    remove = '<ItemGroupData ItemGroupOID="IG.LB" ItemGroupRepeatKey="2" TransactionType="Remove"/>'
    path = write_export(tmp_path, SNAPSHOT, clinical_data(in_event("01", "SE.BASELINE", "F.LB", remove)))
    study, rejects = api.load_study(path)
    assert "RBC" in labs_of(baseline[0], "01", "BASELINE").index
    assert "RBC" not in labs_of(study, "01", "BASELINE").index
    assert "RBC" in labs_of(study, "01", "YEAR 1").index  # only the one record named
    assert counts(rejects)["labs"] == (493, 493)
    assert len(rejects) == 0
    assert removal_note(rejects) == "  TransactionType=Remove applied: 1 ItemGroupData"


def test_remove_item_data_empties_that_field_only(tmp_path) -> None:
    remove = ('<ItemGroupData ItemGroupOID="IG.LB" ItemGroupRepeatKey="1" TransactionType="Update">'
              '<ItemData ItemOID="IT.LB.LBORNRHI" Value="" TransactionType="Remove"/></ItemGroupData>')
    path = write_export(tmp_path, SNAPSHOT, clinical_data(in_event("01", "SE.BASELINE", "F.LB", remove)))
    records = read_odm(path)
    wbc = lab_records(records, "01", "BASELINE").loc["WBC"]
    assert (wbc["ref_high"], wbc["ref_low"], wbc["result"], wbc["unit"]) == ("", "3.5", "6.14", "10^9/L")
    assert removal_note(records.rejects) == "  TransactionType=Remove applied: 1 ItemData"


def test_remove_study_event_and_form_remove_everything_under_them(tmp_path, baseline) -> None:
    remove_event = ('    <SubjectData SubjectKey="01" TransactionType="Update">'
                    '<StudyEventData StudyEventOID="SE.YEAR6" TransactionType="Remove"/></SubjectData>')
    remove_form = in_event("02", "SE.YEAR4", "F.FINDINGS", "", transaction="Remove")
    path = write_export(tmp_path, SNAPSHOT, clinical_data(remove_event + "\n" + remove_form))
    records = read_odm(path)
    assert len(labs_of(baseline[0], "01", "YEAR 6")) == 11
    assert lab_records(records, "01", "YEAR 6").empty
    assert len(lab_records(records, "01", "YEAR 4")) == 11
    findings = records.forms["findings"]
    assert not ((findings["subject_id"] == "01") & (findings["visit"] == "YEAR 6")).any()
    assert not ((findings["subject_id"] == "02") & (findings["visit"] == "YEAR 4")).any()
    assert ((findings["subject_id"] == "02") & (findings["visit"] == "YEAR 2")).sum() == 2
    assert record_counts(records)["labs"] == (483, 483)
    assert record_counts(records)["findings"] == (86, 86)
    assert removal_note(records.rejects) == "  TransactionType=Remove applied: 1 FormData, 1 StudyEventData"


def test_remove_subject_removes_all_its_records_without_rejects(tmp_path) -> None:
    remove = '    <SubjectData SubjectKey="02" TransactionType="Remove"/>'
    path = write_export(tmp_path, SNAPSHOT, clinical_data(remove))
    study, rejects = api.load_study(path)
    assert "MSC-SLE-2009-01-02" not in set(study["DM"]["USUBJID"])
    for domain in ("EX", "LB", "EG", "PR", "RE", "VS", "MH", "CM", "DS", "SV"):
        assert "MSC-SLE-2009-01-02" not in set(study[domain]["USUBJID"]), domain
    # the subject is gone, not orphaned: nothing is rejected, the counts are those of 8 subjects
    assert len(rejects) == 0
    assert counts(rejects) == {"subjects": (8, 8), "exposures": (16, 16), "adverse_events": (1, 1),
                               "labs": (439, 439), "findings": (80, 80), "vital_signs": (400, 400), "ecg": (200, 200),
                               "medical_history": (14, 14),
                               "medications": (32, 32), "disposition": (8, 8)}
    assert removal_note(rejects) == "  TransactionType=Remove applied: 1 SubjectData"
    assert rejects.notes[0].endswith("8 subject(s), 6742 ItemData read")


def test_remove_subject_form_cascades_to_that_subjects_records(tmp_path) -> None:
    path = write_export(tmp_path, SNAPSHOT, clinical_data(in_event("03", "SE.COMMON", "F.DM", "", "Remove")))
    study, rejects = api.load_study(path)
    assert "MSC-SLE-2009-01-03" not in set(study["DM"]["USUBJID"])
    assert counts(rejects) == {"subjects": (8, 8), "exposures": (18, 16), "adverse_events": (1, 1),
                               "labs": (494, 440), "findings": (90, 80), "vital_signs": (450, 400), "ecg": (225, 200),
                               "medical_history": (15, 12),
                               "medications": (36, 32), "disposition": (9, 8)}
    frame = rejects.to_frame()
    assert set(frame["form"]) == {"exposures", "labs", "findings", "vital_signs", "ecg", "medical_history",
                                  "medications", "disposition"}
    assert set(frame["field"]) == {"subject_id"} and set(frame["value"]) == {"03"}
    assert frame["reason"].str.contains(r"\[at SubjectData\[03\]/", regex=True).all()
    assert removal_note(rejects) == "  TransactionType=Remove applied: 1 FormData"


@pytest.mark.parametrize("transaction", ["Insert", "Upsert"])
def test_insert_or_upsert_adds_a_record(tmp_path, transaction) -> None:
    new = lab_group("12", "ALT", "33", "MU.3", low="7", high="40", date="2010-03-01T08:00", transaction=transaction)
    path = write_export(tmp_path, SNAPSHOT, clinical_data(in_event("07", "SE.YEAR1", "F.LB", new)))
    records = read_odm(path)
    added = lab_records(records, "07", "YEAR 1")
    added = added[added["collection_datetime"] == "2010-03-01T08:00"]
    assert len(added) == 1
    assert (added.index[0], added.iloc[0]["result"], added.iloc[0]["unit"], added.iloc[0]["ref_high"]) == (
        "ALT", "33", "U/L", "40")
    assert record_counts(records)["labs"] == (495, 495) and len(records.rejects) == 0
    assert not any("Remove" in n for n in records.rejects.notes)
    assert update_notes(records.rejects) == []  # a new record: nothing was updated


def test_upsert_of_an_existing_record_updates_it(tmp_path) -> None:
    upsert = lab_group("1", "WBC", "5.55", "MU.2", low="3.5", high="9.5", transaction="Upsert")
    path = write_export(tmp_path, SNAPSHOT, clinical_data(in_event("04", "SE.BASELINE", "F.LB", upsert)))
    records = read_odm(path)
    assert lab_records(records, "04", "BASELINE").loc["WBC", "result"] == "5.55"
    assert record_counts(records)["labs"] == (494, 494)
    (note,) = update_notes(records.rejects)
    assert note.startswith("  TransactionType=Update/Upsert applied: 1 ItemGroupData ")


def test_removed_subject_can_be_inserted_again_with_only_the_new_data(tmp_path) -> None:
    dm = ('<ItemGroupData ItemGroupOID="IG.DM" TransactionType="Insert">'
          '<ItemData ItemOID="IT.DM.SEX" Value="M"/><ItemData ItemOID="IT.DM.BRTHDTC" Value="1970-01-01"/>'
          '<ItemData ItemOID="IT.DM.ARMCD" Value="UCMSC"/><ItemData ItemOID="IT.DM.ACTARMCD" Value="UCMSC"/>'
          '</ItemGroupData>')
    again = ('    <SubjectData SubjectKey="06" TransactionType="Insert"><SiteRef LocationOID="SITE.01"/>'
             '<StudyEventData StudyEventOID="SE.COMMON"><FormData FormOID="F.DM">' + dm +
             "</FormData></StudyEventData></SubjectData>")
    path = write_export(tmp_path, SNAPSHOT,
                        clinical_data('    <SubjectData SubjectKey="06" TransactionType="Remove"/>'),
                        clinical_data(again))
    study, rejects = api.load_study(path)
    dm_06 = study["DM"][study["DM"]["USUBJID"] == "MSC-SLE-2009-01-06"]
    assert len(dm_06) == 1 and dm_06.iloc[0]["SEX"] == "M"
    assert "MSC-SLE-2009-01-06" not in set(study["LB"]["USUBJID"])
    assert counts(rejects)["labs"] == (439, 439)


def test_transactional_export_used_here_is_valid_odm(tmp_path, shared_dir) -> None:
    """The constructs these tests rely on (several ClinicalData, TransactionType at every level) are ODM 1.3.2."""
    schema = etree.XMLSchema(etree.parse(str(shared_dir / "external/xsd/odm-1.3.2/ODM1-3-2.xsd")))
    body = (in_event("01", "SE.BASELINE", "F.LB", lab_group("2", "RBC", "4.2", "MU.1", transaction="Update")
                     + '<ItemGroupData ItemGroupOID="IG.LB" ItemGroupRepeatKey="3" TransactionType="Remove"/>')
            + '\n    <SubjectData SubjectKey="02" TransactionType="Remove"/>')
    path = write_export(tmp_path, SNAPSHOT, clinical_data(body))
    assert schema.validate(etree.parse(str(path))), str(schema.error_log)
