"""A second ItemGroupData with the OIDs and repeat keys of one already read (ODM 1.3.2: the pair identifies one
item group within its form) is merged only where its TransactionType makes it a change of that group: Update or
Upsert (applied, counted in a note) or Context (resent for context: not applied, counted). Without one (a Snapshot
file, or a Transactional file whose ItemGroupData and ancestors name none) or with Insert (an error for a group
that exists) every occurrence is rejected at its own line, none merged with another nor guessed; so is each of two
in the same FormData, whatever their TransactionType (one FormData holds each once: not a sequence of transactions).
Snapshot, Context and sibling cases in detail: test_odm_transaction_types.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conftest import EXAMPLE, REPO
from msc_interop.odm import read_odm

EXPORT = REPO / "fixtures" / "example_study_odm" / "example_study.odm.xml"
_TEXT = EXPORT.read_text(encoding="utf-8")
# subject 01's disposition form, whose IG.DS (ItemGroupDef Repeating="No") is followed by what a test adds
_DS_FORM = _TEXT.index('<FormData FormOID="F.DS">')
_AFTER_DS = _TEXT.index("</ItemGroupData>", _DS_FORM) + len("</ItemGroupData>")
FIRST_LINE = _TEXT.count("\n", 0, _TEXT.index("<ItemGroupData", _DS_FORM)) + 1
SECOND = ('\n          <ItemGroupData ItemGroupOID="IG.DS"{tt}>\n'
          '            <ItemData ItemOID="IT.DS.DSDECOD" Value="LOST TO FOLLOW-UP"/>\n'
          '            <ItemData ItemOID="IT.DS.DSSTDTC" Value="2014-01-01"/>\n'
          "          </ItemGroupData>")
SECOND_LINE = FIRST_LINE + 5  # the first group spans 5 lines (open, 3 ItemData, close)
_END = _TEXT.rindex("  </ClinicalData>")
# `second` in a later SubjectData of subject 01 (line 1: its start, line 2: its ItemGroupData's), not beside the first
LATER = ('    <SubjectData SubjectKey="01"{subject_tt}><SiteRef LocationOID="SITE.01"/>\n'
         '      <StudyEventData StudyEventOID="SE.COMMON"><FormData FormOID="F.DS">{second}\n'
         "      </FormData></StudyEventData></SubjectData>\n")
LATER_LINE = _TEXT.count("\n", 0, _END) + 3


def write(folder: Path, second: str, file_type: str = "Transactional", subject_tt: str = "",
          later: bool = False) -> Path:
    """The fixture with `second` after subject 01's IG.DS in its FormData (or in a later SubjectData of subject 01,
    `subject_tt` its TransactionType), as the given FileType, beside its mapping."""
    if later:
        tt = f' TransactionType="{subject_tt}"' if subject_tt else ""
        text = _TEXT[:_END] + LATER.format(subject_tt=tt, second=second) + _TEXT[_END:]
    else:
        text = _TEXT[:_AFTER_DS] + second + _TEXT[_AFTER_DS:]
        if subject_tt:
            text = text.replace('SubjectKey="01">', f'SubjectKey="01" TransactionType="{subject_tt}">', 1)
    text = text.replace('FileType="Snapshot"', f'FileType="{file_type}"', 1)
    mapping = yaml.safe_load((EXPORT.parent / "odm-map.yaml").read_text(encoding="utf-8"))
    mapping["study_definition"] = str(EXAMPLE / "study.yaml")
    (folder / "odm-map.yaml").write_text(yaml.safe_dump(mapping, sort_keys=False), encoding="utf-8")
    path = folder / "export.odm.xml"
    path.write_text(text, encoding="utf-8")
    return path


def disposition_of(records, subject: str):
    ds = records.forms["disposition"]
    return ds[ds["subject_id"] == subject]


def counts(records) -> tuple[int, int, int]:
    """(read, converted, rejected) of the disposition form."""
    rejected = len({r.row for r in records.rejects.rejects if r.form == "disposition"})
    return records.read_counts["disposition"], len(records.forms["disposition"]), rejected


def test_fixture_holds_one_ds_group_per_subject() -> None:
    """What the tests below count against: 9 subjects, one IG.DS each, and subject 01's where the tests expect."""
    assert _TEXT.count('<ItemGroupData ItemGroupOID="IG.DS"') == 9
    assert _TEXT.splitlines()[FIRST_LINE - 1].strip() == '<ItemGroupData ItemGroupOID="IG.DS">'
    assert 'ItemGroupDef OID="IG.DS" Name="disposition" Repeating="No"' in _TEXT


@pytest.mark.parametrize("later", [False, True], ids=["same FormData", "later SubjectData"])
@pytest.mark.parametrize("file_type", ["Transactional", "Snapshot"])
def test_a_repeat_without_transaction_type_rejects_each_occurrence_at_its_line(tmp_path, file_type, later) -> None:
    path = write(tmp_path, SECOND.format(tt=""), file_type, later=later)
    second_line = LATER_LINE if later else SECOND_LINE
    assert path.read_text(encoding="utf-8").splitlines()[second_line - 1].strip().startswith(
        '<ItemGroupData ItemGroupOID="IG.DS"')
    records = read_odm(path)
    # 10 ItemGroupData IG.DS in the file: 10 read, the 2 of subject 01 rejected, no record mixing the two
    assert counts(records) == (10, 8, 2)
    assert disposition_of(records, "01").empty
    ds = [r for r in records.rejects.rejects if r.form == "disposition"]
    assert sorted(r.row for r in ds) == [FIRST_LINE, second_line]
    by_line = {r.row: r.reason for r in ds}
    assert f"line {second_line}" in by_line[FIRST_LINE] and f"line {FIRST_LINE}" in by_line[second_line]
    for line in (FIRST_LINE, second_line):  # the OID path the report appends to each
        assert records.where[("disposition", line)] == (
            "SubjectData[01]/StudyEventData[SE.COMMON]/FormData[F.DS]/ItemGroupData[IG.DS]")
    for reason in by_line.values():
        assert "same OIDs and repeat keys" in reason
        assert "IG.DS (disposition) is not Repeating" in reason
        if not later:
            assert "in the same FormData" in reason and "not a sequence of transactions" in reason
        elif file_type == "Transactional":
            assert "no TransactionType" in reason
        else:
            assert "a Snapshot file holds each ItemGroupData once" in reason
    # the other subjects' disposition is untouched
    assert len(disposition_of(records, "02")) == 1
    assert not any("Update" in n for n in records.rejects.notes)


def test_insert_of_a_group_that_exists_is_rejected_with_the_first(tmp_path) -> None:
    records = read_odm(write(tmp_path, SECOND.format(tt=' TransactionType="Insert"'), later=True))
    assert counts(records) == (10, 8, 2)
    reasons = [r.reason for r in records.rejects.rejects if r.form == "disposition"]
    assert len(reasons) == 2 and all("Insert of an ItemGroupData that already exists" in r for r in reasons)


@pytest.mark.parametrize("where", ["group", "subject"])
def test_an_update_is_merged_item_by_item_and_counted(tmp_path, where) -> None:
    """Update on the ItemGroupData, or inherited from its SubjectData (ODM: a child without a TransactionType
    inherits its parent's), changes the items it names and keeps the others."""
    if where == "group":
        path = write(tmp_path, SECOND.format(tt=' TransactionType="Update"'), later=True)
    else:
        path = write(tmp_path, SECOND.format(tt=""), subject_tt="Update", later=True)
    records = read_odm(path)
    assert counts(records) == (9, 9, 0)
    (ds,) = disposition_of(records, "01").to_dict("records")
    assert (ds["event"], ds["date"], ds["reason"]) == ("LOST TO FOLLOW-UP", "2014-01-01",
                                                      "Completed the 6-year follow-up")
    (note,) = [n for n in records.rejects.notes if "Update/Upsert" in n]
    assert note.startswith("  TransactionType=Update/Upsert applied: 1 ItemGroupData")


def test_context_is_not_applied_and_a_disagreeing_one_is_noted(tmp_path) -> None:
    records = read_odm(write(tmp_path, SECOND.format(tt=' TransactionType="Context"'), later=True))
    assert counts(records) == (9, 9, 0)
    (ds,) = disposition_of(records, "01").to_dict("records")
    assert (ds["event"], ds["date"]) == ("COMPLETED", "2015-11-08")  # as entered, not the context copy
    (note,) = [n for n in records.rejects.notes if "Context" in n]
    assert note == ("  TransactionType=Context not applied (data resent for context only): 1 ItemGroupData, 1 of them "
                    f"with values other than the record's (first at line {LATER_LINE})")
    assert not any("Update/Upsert" in n for n in records.rejects.notes)
