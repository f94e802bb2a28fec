"""Infusions lost before they became a record of the form are named in the derived-without notes too: a line of a
value spanning lines (REJ-REC-011: the subject of each line as it reads on its own), a file not read (REJ-REC-013:
no subject known, so one note about the study) and an ODM SubjectData not read because its SubjectKey is under
another site (REJ-ODM-006: the records it holds, by their ItemGroupData lines)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from conftest import converted_three_ways, force_split_load
from msc_interop import api
from msc_interop.records import read_records
from msc_interop.sdtm.build import build_study

STAMP = "2026-01-01T00:00:00"


def _subject_notes(report) -> list[str]:
    return [n for n in report.notes if n.startswith("subject ")]


def _spanning(folder: Path) -> Path:
    """exposures.csv: a stray quote before subject 01's Day 0 visit (line 2) closed at the end of line 4 (subject
    02's Day 0 infusion): lines 2-4 run together and are rejected, line by line."""
    path = folder / "exposures.csv"
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[1] = lines[1].replace("01,Day 0", '01,"Day 0', 1)
    lines[3] += '"'
    path.write_text("\n".join(lines), encoding="utf-8")
    return folder


def test_the_lines_of_a_value_spanning_lines_name_their_subjects(records_copy):
    study, report = build_study(read_records(_spanning(records_copy())))
    assert sorted(r.row for r in report.rejects if r.code == "REJ-REC-011") == [2, 3, 4]
    dm = study["DM"].set_index("SUBJID")
    # subject 01 lost both infusions (lines 2, 3), subject 02 its Day 0 one (line 4): RFXSTDTC is its Day 7 one
    assert dm.loc["01", "ARMNRS"] == "ASSIGNED, NOT TREATED" and dm.loc["02", "RFXSTDTC"] == "2009-06-29T09:47"
    one, two = (n for n in _subject_notes(report) if "exposure record(s)" in n)
    assert one.startswith("subject 01: 2 exposure record(s) rejected (exposures.csv row(s) 2, 3), so no exposure "
                          "record of it is left: it is ASSIGNED, NOT TREATED (ARMNRS)")
    assert two.startswith("subject 02: 1 exposure record(s) rejected (exposures.csv row(s) 4), so its DM RFSTDTC")
    assert "other exposure record(s) only" in two


def test_spanning_lines_give_the_same_notes_in_two_processes(records_copy, tmp_path, monkeypatch):
    records = _spanning(records_copy())
    whole = api.to_sdtm(records, tmp_path / "whole", formats=("csv",), created=STAMP, validate=False,
                        partition_subjects=0)
    joins = force_split_load(monkeypatch)
    two = api.to_sdtm(records, tmp_path / "two", formats=("csv",), created=STAMP, validate=False,
                      partition_subjects=0)
    assert joins == [True]
    assert [n[:11] for n in _subject_notes(whole.rejects) if "exposure record(s)" in n] == ["subject 01:",
                                                                                           "subject 02:"]
    assert two.rejects.notes == whole.rejects.notes


def test_an_unread_file_like_the_exposures_form_gives_one_study_note(records_copy):
    records = records_copy()
    (records / "exposures_extra.csv").write_text("subject_id,visit,start_datetime\n01,Day 14,2009-10-18T09:19\n",
                                                 encoding="utf-8")
    _study, report = build_study(read_records(records))
    (unread,) = [r for r in report.rejects if r.code == "REJ-REC-013"]
    assert (unread.form, unread.file) == ("exposures", "exposures_extra.csv")
    about = [n for n in report.notes if n.startswith("exposures_extra.csv")]
    assert len(about) == 1 and _subject_notes(report) == []  # one note, about the study: no subject is known
    for said in ("not read (REJ-REC-013", "every subject's", "RFXSTDTC", "baseline flags", "derived without"):
        assert said in about[0]


def test_an_unread_file_is_named_alike_in_two_processes_and_by_partitions(records_copy, tmp_path, monkeypatch):
    records = records_copy()
    (records / "Exposures_old.csv").write_text("subject_id,visit\n01,Day 0\n", encoding="utf-8")
    whole, parts, two = converted_three_ways(records, tmp_path, monkeypatch)
    assert [n[:18] for n in whole.rejects.notes if "REJ-REC-013" in n] == ["Exposures_old.csv:"]
    assert two.rejects.notes == whole.rejects.notes == parts.rejects.notes


_ODM = Path(__file__).resolve().parents[1] / "odm"


def test_an_odm_subject_data_not_read_under_another_site_names_its_records(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(_ODM))
    from test_odm_edge_cases import DM, LB, MAPPING, write

    def ex(event: str, start: str) -> str:
        return (f'<StudyEventData StudyEventOID="{event}"><FormData FormOID="F.EX"><ItemGroupData '
                f'ItemGroupOID="IG.EX"><ItemData ItemOID="IT.EX.EXSTDTC" Value="{start}"/>'
                '<ItemData ItemOID="IT.EX.EXTRT" Value="UC-MSC"/><ItemData ItemOID="IT.EX.EXDOSE" Value="1"/>'
                '<ItemData ItemOID="IT.EX.EXDOSU" Value="10^6/kg"/><ItemData ItemOID="IT.EX.EXROUTE" Value="IV"/>'
                "\n</ItemGroupData></FormData></StudyEventData>")

    def baseline_lab(test: str, value: str) -> str:
        return ('<StudyEventData StudyEventOID="SE.BASELINE"><FormData FormOID="F.LB">'
                + LB.format(rk='ItemGroupRepeatKey="1"', test=test, value=value) + "</FormData></StudyEventData>")

    first = DM.format(s="03", extra="", events=baseline_lab("WBC", "6.1") + ex("SE.DAY0INFUSION", "2009-10-04T09:19"))
    second = ('\n<SubjectData SubjectKey="03"><SiteRef LocationOID="SITE.02"/>\n'
              + ex("SE.DAY7INFUSION", "2009-10-11T09:19") + "\n" + baseline_lab("PLT", "210") + "</SubjectData>")
    mapping = MAPPING.replace("  SITE.01: '01'\n", "  SITE.01: '01'\n  SITE.02: '02'\n")
    path = write(tmp_path, first + second, mapping=mapping)
    study, report = api.load_study(path)
    assert [r.code for r in report.rejects] == ["REJ-ODM-006"]
    assert study["DM"]["RFXENDTC"].tolist() == ["2009-10-04T09:19"]  # the Day 7 infusion was not read
    text = path.read_text(encoding="utf-8").splitlines()
    site_two = next(i for i, t in enumerate(text, 1) if "SITE.02" in t)
    groups = [i for i, t in enumerate(text, 1) if "<ItemGroupData" in t and i > site_two]  # (EX, then LB)
    notes = _subject_notes(report)
    assert [n.split(", so ")[0] for n in notes] == [
        f"subject 03: 1 exposure record(s) rejected (export.xml line(s) {groups[0]})",
        f"subject 03: 1 lab record(s) rejected (export.xml line(s) {groups[1]})",
        f"subject 03: SV holds no visit DAY 7 INFUSION (VISITNUM 3), yet record(s) of it were rejected "
        f"(export.xml line(s) {groups[0]})"]


def test_an_unread_sheet_like_the_labs_form_gives_one_study_note(example_dir, tmp_path):
    book = tmp_path / "records.xlsx"
    with pd.ExcelWriter(book, engine="openpyxl") as xl:
        for form, sheet in {"subjects": "subjects", "exposures": "exposures", "labs": "Lab Results"}.items():
            pd.read_csv(example_dir / f"{form}.csv", dtype=str, keep_default_na=False).to_excel(
                xl, sheet_name=sheet, index=False)
    (tmp_path / "study.yaml").write_bytes((example_dir / "study.yaml").read_bytes())
    _study, report = build_study(read_records(book))
    assert [n for n in report.notes if "REJ-REC-013" in n] == [
        "records.xlsx[Lab Results]: not read (REJ-REC-013; it looks like the 'labs' form), so if it holds lab "
        "records, every subject's baseline flags (LBLOBXFL) were derived without them: see its reject"]
