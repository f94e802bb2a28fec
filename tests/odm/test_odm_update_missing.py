"""Update of data no earlier transaction inserted, and rejects a later Remove hits (ODM 1.3.2 section 2.9).

- "Update means that the data entity already exists ... It is an error if the data entity does not exist": in a
  Transactional file an ItemGroupData whose TransactionType (own or inherited) is Update and whose key holds no record
  creates nothing; it is rejected (REJ-ODM-007). A Snapshot file has no transactions: there it is the record.
- A record rejected as it was read (a second Insert of a key and the record it repeats) stays in the reject report
  when a later Remove hits its key: records read = converted + rejected, the removal named in the reason.

Subject 01 of the bundled export has IG.MH repeats 1 and 2 (15 medical-history records in all).
"""

from __future__ import annotations

import pytest
from test_odm_transaction_types import MH2_LINE, counts, export, form, lines_of, mh, note, of_01, rejects_of, subject

from msc_interop.odm import read_odm

MH_FORM_REMOVE = '        <FormData FormOID="F.MH" TransactionType="Remove"/>'


def codes_of(records, form_name: str) -> dict[int, str]:
    return {r.row: r.code for r in records.rejects.rejects if r.form == form_name}


@pytest.mark.parametrize(("group_tt", "subject_tt", "said"), [
    ("", "Update", "TransactionType Update inherited from its SubjectData"),
    ("Update", "", "its own TransactionType Update"),
])
def test_update_of_a_key_never_inserted_is_rejected_not_created(tmp_path, group_tt, subject_tt, said) -> None:
    path = export(tmp_path, subject(form("F.MH", mh(3, "Asthma", tt=group_tt)), tt=subject_tt))
    records = read_odm(path)
    (line,) = lines_of(path, 'ItemGroupRepeatKey="3"')
    assert counts(records, "medical_history") == (16, 15, 1)
    assert "Asthma" not in [r["reported_term"] for r in of_01(records, "medical_history")]
    reason = rejects_of(records, "medical_history")[line]
    assert reason.startswith("Update of data no earlier transaction inserted: ItemGroupData IG.MH "
                             "ItemGroupRepeatKey 3 of FormData F.MH, StudyEventData SE.COMMON, subject 01 has " + said)
    assert "export.odm.xml" in {r.file for r in records.rejects.rejects if r.row == line}
    assert codes_of(records, "medical_history") == {line: "REJ-ODM-007"}
    assert records.where[("medical_history", line)] == (
        "SubjectData[01]/StudyEventData[SE.COMMON]/FormData[F.MH]/ItemGroupData[IG.MH@3]")
    assert note(records, "Update of no record").startswith("  TransactionType=Update of no record: 1 ItemGroupData")
    assert note(records, "Update/Upsert applied") is None


def test_an_update_of_no_record_gets_no_field_reasons(tmp_path) -> None:
    """An Update holds only the items that changed (here MHONGO): rejected as REJ-ODM-007 alone, not also as a
    record with its term and start empty (REJ-REC-001 at the same line); read = converted + rejected still."""
    group = ('          <ItemGroupData ItemGroupOID="IG.MH" ItemGroupRepeatKey="3" TransactionType="Update">'
             '<ItemData ItemOID="IT.MH.MHONGO" Value="N"/></ItemGroupData>')
    path = export(tmp_path, subject(form("F.MH", group)))
    records = read_odm(path)
    (line,) = lines_of(path, 'ItemGroupRepeatKey="3"')
    assert [(r.row, r.field, r.code) for r in records.rejects.rejects if r.form == "medical_history"] == [
        (line, "IG.MH", "REJ-ODM-007")]
    assert counts(records, "medical_history") == (16, 15, 1)
    assert records.where[("medical_history", line)].endswith("FormData[F.MH]/ItemGroupData[IG.MH@3]")


def test_inherited_from_the_form_is_named(tmp_path) -> None:
    body = form("F.MH", mh(3, "Asthma")).replace('FormOID="F.MH">', 'FormOID="F.MH" TransactionType="Update">')
    records = read_odm(export(tmp_path, subject(body)))
    (reason,) = rejects_of(records, "medical_history").values()
    assert "TransactionType Update inherited from its FormData" in reason


def test_a_snapshot_has_no_transactions_so_its_update_is_the_record(tmp_path) -> None:
    records = read_odm(export(tmp_path, subject(form("F.MH", mh(3, "Asthma", tt="Update"))), file_type="Snapshot"))
    assert counts(records, "medical_history") == (16, 16, 0)
    assert "Asthma" in [r["reported_term"] for r in of_01(records, "medical_history")]


def test_update_after_a_remove_is_rejected_and_a_later_insert_creates(tmp_path) -> None:
    path = export(tmp_path, subject(form("F.MH", mh(2, tt="Remove"))),
                  subject(form("F.MH", mh(2, "Asthma", tt="Update"))),
                  subject(form("F.MH", mh(2, "Gout", tt="Insert"))))
    records = read_odm(path)
    (update_line,) = lines_of(path, 'ItemGroupRepeatKey="2" TransactionType="Update"')
    assert counts(records, "medical_history") == (16, 15, 1)  # 15 - 1 removed + 1 rejected + 1 inserted
    terms = [r["reported_term"] for r in of_01(records, "medical_history")]
    assert "Gout" in terms and "Asthma" not in terms and "Lupus nephritis" not in terms
    assert codes_of(records, "medical_history") == {update_line: "REJ-ODM-007"}


def test_upsert_of_a_missing_key_still_creates(tmp_path) -> None:
    records = read_odm(export(tmp_path, subject(form("F.MH", mh(3, "Asthma", tt="Upsert")), tt="Update")))
    assert counts(records, "medical_history") == (16, 16, 0)


# --- a Remove does not hide a reject -----------------------------------------------------------------------------

@pytest.mark.parametrize("level", ["ItemGroupData", "FormData", "SubjectData"])
def test_insert_duplicate_insert_then_remove_keeps_both_rejects(tmp_path, level) -> None:
    remove = {"ItemGroupData": subject(form("F.MH", mh(3, tt="Remove"))),
              "FormData": subject(MH_FORM_REMOVE),
              "SubjectData": '    <SubjectData SubjectKey="01" TransactionType="Remove"/>'}[level]
    path = export(tmp_path, subject(form("F.MH", mh(3, "Asthma", tt="Insert"))),
                  subject(form("F.MH", mh(3, "Gout", tt="Insert"))), remove)
    records = read_odm(path)
    inserted = lines_of(path, 'ItemGroupRepeatKey="3" TransactionType="Insert"')
    (remove_line,) = lines_of(path, 'TransactionType="Remove"')
    reasons = rejects_of(records, "medical_history")
    assert sorted(reasons) == inserted  # both Inserts stay listed
    for reason in reasons.values():
        assert "Insert of an ItemGroupData that already exists" in reason
        assert f"a later TransactionType Remove of its {level} (line {remove_line}) removed this key" in reason
    read, converted, rejected = counts(records, "medical_history")
    assert read == converted + rejected and rejected == 2
    assert converted == {"ItemGroupData": 15, "FormData": 13, "SubjectData": 13}[level]
    assert "2 record(s) under them rejected as read stay listed" in note(records, "TransactionType=Remove")


def test_duplicate_of_a_snapshot_record_then_remove(tmp_path) -> None:
    """Subject 01's IG.MH@2 from the snapshot part, inserted again (an error), then removed: both stay rejected."""
    path = export(tmp_path, subject(form("F.MH", mh(2, "Asthma", tt="Insert"))),
                  subject(form("F.MH", mh(2, tt="Remove"))))
    records = read_odm(path)
    (dup_line,) = lines_of(path, 'ItemGroupRepeatKey="2" TransactionType="Insert"')
    assert sorted(rejects_of(records, "medical_history")) == [MH2_LINE, dup_line]
    assert counts(records, "medical_history") == (16, 14, 2)
