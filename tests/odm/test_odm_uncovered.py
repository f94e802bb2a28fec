"""What the mapping does not cover is reported, never dropped silently: unmapped item groups and items are
rejects (form "odm") with their count and first line unless the mapping lists them under `ignore`; records of a
subject without a subjects-form record are rejected (cascade); a study event with no visit is rejected."""

from __future__ import annotations

from pathlib import Path

import yaml

from conftest import EXAMPLE, REPO
from msc_interop import api

EXPORT = REPO / "fixtures" / "example_study_odm" / "example_study.odm.xml"
TEXT = EXPORT.read_text(encoding="utf-8")
LINES = TEXT.splitlines()


def mapping_data() -> dict:
    data = yaml.safe_load((EXPORT.parent / "odm-map.yaml").read_text(encoding="utf-8"))
    data["study_definition"] = str(EXAMPLE / "study.yaml")
    return data


def write_export(folder: Path, text: str = TEXT, mapping: dict | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "odm-map.yaml").write_text(yaml.safe_dump(mapping or mapping_data(), sort_keys=False),
                                         encoding="utf-8")
    path = folder / "export.odm.xml"
    path.write_text(text, encoding="utf-8")
    return path


def first_line(needle: str, text: str = TEXT) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


def without(data: dict, item_group: str | None = None, field: tuple[str, str] | None = None) -> dict:
    if item_group:
        data["item_groups"] = [g for g in data["item_groups"] if g["item_group"] != item_group]
    if field:
        group = next(g for g in data["item_groups"] if g["item_group"] == field[0])
        del group["fields"][field[1]]
    return data


N_FINDINGS_ITEMS = sum('<ItemData ItemOID="IT.FINDINGS.' in line for line in LINES)
N_LBNAM = sum('<ItemData ItemOID="IT.LB.LBNAM"' in line for line in LINES)


def test_unmapped_item_group_and_item_are_rejects_with_count_and_first_line(tmp_path) -> None:
    assert N_LBNAM == 494 and N_FINDINGS_ITEMS > 180
    mapping = without(mapping_data(), item_group="IG.FINDINGS", field=("IG.LB", "lab_name"))
    study, rejects = api.load_study(write_export(tmp_path, mapping=mapping))
    odm = [r for r in rejects.sorted() if r.form == "odm"]
    assert [(r.file, r.row, r.field, r.value) for r in odm] == [
        ("export.odm.xml", first_line('<ItemData ItemOID="IT.LB.LBNAM"'), "IT.LB.LBNAM", f"{N_LBNAM} ItemData"),
        ("export.odm.xml", first_line('<ItemGroupData ItemGroupOID="IG.FINDINGS"'), "IG.FINDINGS",
         f"{N_FINDINGS_ITEMS} ItemData"),
    ]
    lbnam, findings = odm
    assert "IT.LB.LBNAM (LBNAM) of IG.LB is not used by the mapping: 494 value(s) not converted" in lbnam.reason
    assert "ignore" in lbnam.reason and "ignore" in findings.reason
    assert f"item group IG.FINDINGS (findings) is not in the mapping: its {N_FINDINGS_ITEMS} ItemData" \
           in findings.reason
    # the rest converts; the unmapped form is simply absent
    counts = {c.form: (c.read, c.converted) for c in rejects.counts.values()}
    assert counts == {"subjects": (9, 9), "exposures": (18, 18), "adverse_events": (1, 1), "labs": (494, 494),
                      "vital_signs": (450, 450), "ecg": (225, 225),
                      "medical_history": (15, 15), "medications": (36, 36), "disposition": (9, 9)}
    assert set(study["LB"]["LBNAM"]) == {""}
    assert len(rejects) == 2


def test_ignore_moves_them_to_the_notes(tmp_path) -> None:
    mapping = without(mapping_data(), item_group="IG.FINDINGS", field=("IG.LB", "lab_name"))
    mapping["ignore"] = ["IG.FINDINGS", "IT.LB.LBNAM"]
    _, rejects = api.load_study(write_export(tmp_path, mapping=mapping))
    assert len(rejects) == 0
    assert rejects.notes[1] == (f"  skipped on purpose: {N_LBNAM} ignored item IT.LB.LBNAM, "
                                f"{N_FINDINGS_ITEMS} ignored item group IG.FINDINGS")


def test_item_group_outside_the_mapped_form_oid_is_reported(tmp_path) -> None:
    """The mapping takes IG.LB only inside FormData F.LB (form_oid): an IG.LB elsewhere is not converted, and
    that is reported like any unmapped item group rather than dropped without a trace."""
    stray = ('<ItemGroupData ItemGroupOID="IG.LB" ItemGroupRepeatKey="90">'
             '<ItemData ItemOID="IT.LB.LBTESTCD" Value="WBC"/><ItemData ItemOID="IT.LB.LBORRES" Value="5.0"/>'
             "</ItemGroupData>")
    text = TEXT.replace('<FormData FormOID="F.FINDINGS">', '<FormData FormOID="F.FINDINGS">' + stray, 1)
    _, rejects = api.load_study(write_export(tmp_path, text))
    assert {c.form: (c.read, c.converted) for c in rejects.counts.values()}["labs"] == (494, 494)
    [reject] = rejects.sorted()
    assert (reject.form, reject.file, reject.row) == ("odm", "export.odm.xml", first_line(stray, text))
    assert (reject.field, reject.value) == ("IG.LB in FormData F.FINDINGS", "2 ItemData")
    assert reject.reason.startswith("item group IG.LB in FormData F.FINDINGS is not in the mapping: its 2 ItemData "
                                    "were not converted")


def test_subject_without_subjects_record_has_its_records_rejected(tmp_path) -> None:
    subject = ('    <SubjectData SubjectKey="10"><SiteRef LocationOID="SITE.01"/>'
               '<StudyEventData StudyEventOID="SE.BASELINE"><FormData FormOID="F.LB">'
               '<ItemGroupData ItemGroupOID="IG.LB" ItemGroupRepeatKey="1">'
               '<ItemData ItemOID="IT.LB.LBDTC" Value="2009-09-30T08:00"/>'
               '<ItemData ItemOID="IT.LB.LBTESTCD" Value="WBC"/>'
               '<ItemData ItemOID="IT.LB.LBORRES" Value="5.1"><MeasurementUnitRef MeasurementUnitOID="MU.2"/>'
               "</ItemData></ItemGroupData></FormData></StudyEventData></SubjectData>\n")
    text = TEXT.replace("  </ClinicalData>", subject + "  </ClinicalData>")
    path = write_export(tmp_path, text)
    study, rejects = api.load_study(path)
    [reject] = rejects.sorted()
    assert (reject.form, reject.file, reject.field, reject.value) == ("labs", "export.odm.xml", "subject_id", "10")
    assert reject.row == first_line('<SubjectData SubjectKey="10">', text)  # the ItemGroupData is on that line
    assert "subject" in reject.reason
    assert "SubjectData[10]/StudyEventData[SE.BASELINE]/FormData[F.LB]/ItemGroupData[IG.LB@1]" in reject.reason
    assert {c.form: (c.read, c.converted) for c in rejects.counts.values()}["labs"] == (495, 494)
    assert "MSC-SLE-2009-01-10" not in set(study["LB"]["USUBJID"])


def test_study_event_without_visit_in_mapping_is_rejected(tmp_path) -> None:
    mapping = mapping_data()
    del mapping["study_events"]["SE.YEAR6"]
    _, rejects = api.load_study(write_export(tmp_path, mapping=mapping))
    frame = rejects.to_frame()
    assert set(frame["form"]) == {"labs", "findings", "vital_signs", "ecg"}
    assert set(frame["field"]) == {"visit"} and set(frame["value"]) == {"SE.YEAR6"}
    assert frame["reason"].str.contains("StudyEventOID SE.YEAR6 (YEAR 6) has no visit in the mapping's "
                                        "study_events", regex=False).all()
    assert frame["reason"].str.contains(r"\[at SubjectData\[\d+\]/StudyEventData\[SE.YEAR6\]/", regex=True).all()
    assert {c.form: c.rejected for c in rejects.counts.values()} == {
        "subjects": 0, "exposures": 0, "adverse_events": 0, "labs": 98, "findings": 18,  # 11 x 9 less 1 CA 19-9
        "vital_signs": 9 * 7,  # 7 vital signs at the year-6 visit of 9 subjects
        "ecg": 45,  # 5 x 9
        "medical_history": 0, "medications": 0, "disposition": 0}
