"""TransactionType of a later ItemGroupData of a key read before, and of its ItemData (ODM 1.3.2, Transactions).

- Snapshot: a file showing the current state, not its history; only a TransactionType on the ItemGroupData itself
  makes a repeat a change, one inherited from its SubjectData/StudyEventData/FormData does not.
- Two sibling ItemGroupData of one key in ONE FormData are never a sequence of transactions, whatever their types.
- Context (data resent for context only) changes nothing and creates nothing: not a record whose key does not exist
  (never sent, or removed), so a later Insert of that key is no error; but an ItemData stating a TransactionType of
  its own (a child inherits only when it states none) is applied to the existing record, and a Remove is counted
  only when it removed a value.

Each test appends ClinicalData for subject 01 to the bundled export (one element a line, so lines tell them apart).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conftest import EXAMPLE, REPO
from msc_interop.odm import read_odm

EXPORT = REPO / "fixtures" / "example_study_odm" / "example_study.odm.xml"
_TEXT = EXPORT.read_text(encoding="utf-8")
DS_LINE = 724  # subject 01's IG.DS in the fixture: COMPLETED, 2015-11-08, "Completed the 6-year follow-up"
MH2_LINE = 737  # subject 01's IG.MH repeat 2 in the fixture: Lupus nephritis, 2004-10


def _tt(tt: str) -> str:
    return f' TransactionType="{tt}"' if tt else ""


def subject(*forms: str, tt: str = "") -> str:
    return (f'    <SubjectData SubjectKey="01"{_tt(tt)}><SiteRef LocationOID="SITE.01"/>\n'
            '      <StudyEventData StudyEventOID="SE.COMMON">\n' + "\n".join(forms)
            + "\n      </StudyEventData>\n    </SubjectData>")


def form(oid: str, *groups: str) -> str:
    return f'        <FormData FormOID="{oid}">\n' + "\n".join(groups) + "\n        </FormData>"


def ds(decod: str = "LOST TO FOLLOW-UP", tt: str = "", decod_tt: str = "", date: str = "2014-01-01",
       extra: str = "") -> str:
    return (f'          <ItemGroupData ItemGroupOID="IG.DS"{_tt(tt)}>'
            f'<ItemData ItemOID="IT.DS.DSDECOD" Value="{decod}"{_tt(decod_tt)}/>'
            f'<ItemData ItemOID="IT.DS.DSSTDTC" Value="{date}"/>{extra}</ItemGroupData>')


def mh(rk: int, term: str = "", tt: str = "", term_tt: str = "") -> str:
    if tt == "Remove":
        return f'          <ItemGroupData ItemGroupOID="IG.MH" ItemGroupRepeatKey="{rk}" TransactionType="Remove"/>'
    return (f'          <ItemGroupData ItemGroupOID="IG.MH" ItemGroupRepeatKey="{rk}"{_tt(tt)}>'
            f'<ItemData ItemOID="IT.MH.MHTERM" Value="{term}"{_tt(term_tt)}/>'
            '<ItemData ItemOID="IT.MH.MHSTDTC" Value="2005-01"/><ItemData ItemOID="IT.MH.MHONGO" Value="Y"/>'
            '<ItemData ItemOID="IT.MH.MHCAT" Value="GENERAL MEDICAL HISTORY"/></ItemGroupData>')


def export(folder: Path, *subjects: str, file_type: str = "Transactional") -> Path:
    """The fixture as the given FileType with one more ClinicalData holding `subjects`, beside its mapping."""
    block = ('  <ClinicalData StudyOID="S.MSC-SLE-2009" MetaDataVersionOID="MDV.1">\n' + "\n".join(subjects)
             + "\n  </ClinicalData>\n")
    text = _TEXT.replace('FileType="Snapshot"', f'FileType="{file_type}"', 1).replace("</ODM>", block + "</ODM>")
    mapping = yaml.safe_load((EXPORT.parent / "odm-map.yaml").read_text(encoding="utf-8"))
    mapping["study_definition"] = str(EXAMPLE / "study.yaml")
    (folder / "odm-map.yaml").write_text(yaml.safe_dump(mapping, sort_keys=False), encoding="utf-8")
    path = folder / "export.odm.xml"
    path.write_text(text, encoding="utf-8")
    return path


def lines_of(path: Path, needle: str) -> list[int]:
    """Lines (1-based) of the appended ClinicalData holding `needle`."""
    start = len(_TEXT.splitlines())
    return [i for i, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if i > start and needle in text]


def counts(records, form_name: str) -> tuple[int, int, int]:
    """(read, converted, rejected) of a form."""
    rejected = len({r.row for r in records.rejects.rejects if r.form == form_name})
    return records.read_counts[form_name], len(records.forms[form_name]), rejected


def rejects_of(records, form_name: str) -> dict[int, str]:
    return {r.row: r.reason for r in records.rejects.rejects if r.form == form_name}


def of_01(records, form_name: str) -> list[dict]:
    df = records.forms[form_name]
    return df[df["subject_id"] == "01"].to_dict("records")


def note(records, text: str) -> str | None:
    found = [n for n in records.rejects.notes if text in n]
    assert len(found) <= 1, found
    return found[0] if found else None


# --- Snapshot ---------------------------------------------------------------------------------------------------

def test_snapshot_repeat_with_only_an_inherited_type_is_a_duplicate(tmp_path) -> None:
    """A Snapshot's SubjectData saying Upsert does not make its IG.DS an update of the one read before: both
    occurrences are rejected at their lines (before: merged, DS overwritten, only a note)."""
    path = export(tmp_path, subject(form("F.DS", ds()), tt="Upsert"), file_type="Snapshot")
    records = read_odm(path)
    assert counts(records, "disposition") == (10, 8, 2)
    assert of_01(records, "disposition") == []
    (second,) = lines_of(path, 'ItemGroupOID="IG.DS"')
    reasons = rejects_of(records, "disposition")
    assert sorted(reasons) == [DS_LINE, second]
    assert f"line {second}" in reasons[DS_LINE] and f"line {DS_LINE}" in reasons[second]
    for reason in reasons.values():
        assert "a Snapshot file holds each ItemGroupData once" in reason
        assert "not inherited" in reason
    assert note(records, "Update/Upsert") is None


def test_snapshot_honours_a_type_stated_on_the_group_itself(tmp_path) -> None:
    path = export(tmp_path, subject(form("F.DS", ds(tt="Update"))), file_type="Snapshot")
    records = read_odm(path)
    assert counts(records, "disposition") == (9, 9, 0)
    (ds_01,) = of_01(records, "disposition")
    assert (ds_01["event"], ds_01["date"], ds_01["reason"]) == ("LOST TO FOLLOW-UP", "2014-01-01",
                                                                "Completed the 6-year follow-up")
    assert note(records, "Update/Upsert").startswith("  TransactionType=Update/Upsert applied: 1 ItemGroupData")


# --- siblings in one FormData -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("file_type", "tt"), [("Transactional", "Update"), ("Transactional", "Upsert"),
                                               ("Snapshot", "Update")])
def test_two_siblings_of_one_key_are_not_a_sequence(tmp_path, file_type, tt) -> None:
    """Two IG.DS in one later FormData, each saying Update: neither is applied; the record read before stands and
    both are rejected at their own lines, each naming the other's."""
    path = export(tmp_path, subject(form("F.DS", ds("LOST TO FOLLOW-UP", tt=tt), ds("SCREEN FAILURE", tt=tt)),
                                    tt="Update"), file_type=file_type)
    records = read_odm(path)
    assert counts(records, "disposition") == (11, 9, 2)
    (ds_01,) = of_01(records, "disposition")
    assert (ds_01["event"], ds_01["date"]) == ("COMPLETED", "2015-11-08")
    first, second = lines_of(path, 'ItemGroupOID="IG.DS"')
    reasons = rejects_of(records, "disposition")
    assert sorted(reasons) == [first, second]
    assert f"line {second}" in reasons[first] and f"line {first}" in reasons[second]
    assert all("in the same FormData" in r and "not a sequence of transactions" in r for r in reasons.values())
    assert note(records, "Update/Upsert") is None


def test_a_sibling_remove_is_not_applied_either(tmp_path) -> None:
    path = export(tmp_path, subject(form("F.MH", mh(2, "Asthma", tt="Update"), mh(2, tt="Remove")), tt="Update"))
    records = read_odm(path)
    assert counts(records, "medical_history") == (17, 15, 2)
    assert [r["reported_term"] for r in of_01(records, "medical_history")] == ["Systemic lupus erythematosus",
                                                                               "Lupus nephritis"]
    assert sorted(rejects_of(records, "medical_history")) == lines_of(path, 'ItemGroupOID="IG.MH"')
    assert note(records, "TransactionType=Remove") is None


# --- Context ----------------------------------------------------------------------------------------------------

def test_an_item_stating_its_own_type_under_context_is_applied(tmp_path) -> None:
    """SubjectData Context, IG.DS inheriting it; DSDECOD says Update (applied), DSSTDTC says nothing (context)."""
    path = export(tmp_path, subject(form("F.DS", ds("LOST TO FOLLOW-UP", decod_tt="Update")), tt="Context"))
    records = read_odm(path)
    assert counts(records, "disposition") == (9, 9, 0)
    (ds_01,) = of_01(records, "disposition")
    assert (ds_01["event"], ds_01["date"], ds_01["reason"]) == ("LOST TO FOLLOW-UP", "2015-11-08",
                                                                "Completed the 6-year follow-up")
    (line,) = lines_of(path, 'ItemGroupOID="IG.DS"')
    assert note(records, "Context") == (
        "  TransactionType=Context not applied (data resent for context only): 1 ItemGroupData, 1 of them with "
        f"values other than the record's (first at line {line}); 1 ItemData under them stating a TransactionType of "
        "its own applied to the record")


def test_a_remove_of_an_item_under_context_is_applied_and_counted(tmp_path) -> None:
    remove_term = '<ItemData ItemOID="IT.DS.DSTERM" Value="" TransactionType="Remove"/>'
    group = ds("COMPLETED", tt="Context", date="2015-11-08", extra=remove_term)
    records = read_odm(export(tmp_path, subject(form("F.DS", group), tt="Update")))
    (ds_01,) = of_01(records, "disposition")
    assert (ds_01["event"], ds_01["date"], ds_01["reason"]) == ("COMPLETED", "2015-11-08", "")
    assert note(records, "TransactionType=Remove") == "  TransactionType=Remove applied: 1 ItemData"


def test_a_remove_of_an_item_that_is_not_there_is_not_counted(tmp_path) -> None:
    """Under a Context group whose key does not exist, the Remove removes nothing: no note says it was applied."""
    group = mh(7, "Asthma", tt="Context", term_tt="Remove")
    records = read_odm(export(tmp_path, subject(form("F.MH", group), tt="Update")))
    assert note(records, "TransactionType=Remove") is None
    assert counts(records, "medical_history") == (15, 15, 0)


def test_context_does_not_revive_a_removed_record(tmp_path) -> None:
    path = export(tmp_path, subject(form("F.MH", mh(2, tt="Remove")), tt="Update"),
                  subject(form("F.MH", mh(2, "Lupus nephritis"), mh(3, "Asthma")), tt="Context"))
    records = read_odm(path)
    assert counts(records, "medical_history") == (14, 14, 0)
    assert [r["reported_term"] for r in of_01(records, "medical_history")] == ["Systemic lupus erythematosus"]
    first = lines_of(path, 'ItemGroupRepeatKey="2">')[0]
    assert note(records, "Context") == (
        "  TransactionType=Context not applied (data resent for context only): 2 ItemGroupData, 2 of them of a "
        f"record that does not exist (never sent, or removed; first at line {first}): none created")
    assert note(records, "TransactionType=Remove") == "  TransactionType=Remove applied: 1 ItemGroupData"


def test_insert_after_a_context_of_a_removed_key_is_no_error(tmp_path) -> None:
    path = export(tmp_path, subject(form("F.MH", mh(2, tt="Remove")), tt="Update"),
                  subject(form("F.MH", mh(2, "Lupus nephritis")), tt="Context"),
                  subject(form("F.MH", mh(2, "Asthma", tt="Insert")), tt="Update"))
    records = read_odm(path)
    assert counts(records, "medical_history") == (15, 15, 0)
    assert [(r["reported_term"], r["start_date"]) for r in of_01(records, "medical_history")] == [
        ("Systemic lupus erythematosus", "2001-07-01"), ("Asthma", "2005-01")]


def test_an_item_insert_under_context_of_a_missing_key_is_rejected_not_created(tmp_path) -> None:
    """Context creates nothing; the ItemData saying Insert has no record to go to: rejected at its group's line."""
    path = export(tmp_path, subject(form("F.MH", mh(3, "Asthma", term_tt="Insert")), tt="Context"))
    records = read_odm(path)
    (line,) = lines_of(path, 'ItemGroupData ItemGroupOID="IG.MH"')
    assert counts(records, "medical_history") == (16, 15, 1)
    assert "Asthma" not in [r["reported_term"] for r in of_01(records, "medical_history")]
    reason = rejects_of(records, "medical_history")[line]
    assert "IT.MH.MHTERM" in reason and "Insert" in reason and "Context" in reason
    assert records.where[("medical_history", line)].endswith("ItemGroupData[IG.MH@3]")


def test_three_siblings_each_name_the_others(tmp_path) -> None:
    path = export(tmp_path, subject(form("F.MH", mh(5, "Asthma"), mh(5, "Gout"), mh(5, "Acne"))),
                  file_type="Snapshot")
    records = read_odm(path)
    first, second, third = lines_of(path, 'ItemGroupRepeatKey="5"')
    assert counts(records, "medical_history") == (18, 15, 3)
    reasons = rejects_of(records, "medical_history")
    assert f"at lines {second}, {third} have the same OIDs and repeat keys as this one" in reasons[first]
    assert f"as the one at line {first} (and the one at line {third}) in the same FormData" in reasons[second]
    assert f"as the one at line {first} (and the one at line {second}) in the same FormData" in reasons[third]
    assert all(records.where[("medical_history", n)].endswith("ItemGroupData[IG.MH@5]") for n in reasons)
