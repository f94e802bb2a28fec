"""TA (Trial Arms) and TE (Trial Elements): written by to-sdtm in every format and described by define.xml, and the
arm order they carry read back (summary arm columns in study.yaml's order, the CDISC pilot's in its TA's).

Expected values are SDTMIG 3.4 section 7.2 (TA: one record per planned element per arm, variables STUDYID DOMAIN
ARMCD ARM TAETORD ETCD ELEMENT TABRANCH TATRANS EPOCH; TE: one record per planned element, STUDYID DOMAIN ETCD
ELEMENT TESTRL TEENRL TEDUR; ETCD at most 8 characters; EPOCH from CDISC CT C99079) and the study definitions
(fixtures/example_study/study.yaml: one arm UCMSC; visits in epochs SCREENING, TREATMENT, FOLLOW-UP). The files are
read with pyreadstat, json, csv and lxml, not with msc-interop's readers.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
import yaml
from lxml import etree

from conftest import EXAMPLE
from msc_interop.api import from_fhir, load_study, summarize, to_fhir, to_sdtm
from msc_interop.errors import StudyDefinitionError
from msc_interop.study import StudyMeta
from msc_interop.synth import generate

TA_VARS = ["STUDYID", "DOMAIN", "ARMCD", "ARM", "TAETORD", "ETCD", "ELEMENT", "TABRANCH", "TATRANS", "EPOCH"]
TE_VARS = ["STUDYID", "DOMAIN", "ETCD", "ELEMENT", "TESTRL", "TEENRL"]  # TEDUR (Perm): no element has one
LABELS = {"ARMCD": "Planned Arm Code", "ARM": "Description of Planned Arm",
          "TAETORD": "Planned Order of Element within Arm", "ETCD": "Element Code", "ELEMENT": "Description of Element",
          "TABRANCH": "Branch", "TATRANS": "Transition Rule", "EPOCH": "Epoch", "TESTRL": "Rule for Start of Element",
          "TEENRL": "Rule for End of Element"}
UCMSC_ARM = "UC-MSC 1x10^6 cells/kg IV on Days 0 and 7"
PLACEBO_ARM = "Placebo (saline) IV on Days 0 and 7"
NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3", "def": "http://www.cdisc.org/ns/def/v2.1",
      "xlink": "http://www.w3.org/1999/xlink"}


def _xpt(path: Path) -> tuple[pd.DataFrame, dict[str, str]]:
    df, meta = pyreadstat.read_xport(str(path))
    return df, dict(zip(meta.column_names, meta.column_labels, strict=True))


def _define_items(define: Path, name: str) -> tuple[list[str], str]:
    """The variables define.xml lists for dataset `name`, in its order, and the file its leaf points to."""
    root = etree.parse(str(define)).getroot()
    group = root.find(f".//odm:ItemGroupDef[@Name='{name}']", NS)
    assert group is not None, f"define.xml has no ItemGroupDef {name}"
    refs = sorted(group.findall("odm:ItemRef", NS), key=lambda r: int(r.get("OrderNumber")))
    names = [root.find(f".//odm:ItemDef[@OID='{r.get('ItemOID')}']", NS).get("Name") for r in refs]
    return names, group.find("def:leaf", NS).get(f"{{{NS['xlink']}}}href")


def test_bundled_study_writes_ta_te_in_every_format_and_define_lists_them(tmp_path: Path) -> None:
    to_sdtm(EXAMPLE, tmp_path, formats=["xpt", "json", "csv"], created="2026-01-01T00:00:00")
    ta, ta_labels = _xpt(tmp_path / "xpt" / "ta.xpt")
    te, te_labels = _xpt(tmp_path / "xpt" / "te.xpt")
    assert list(ta.columns) == TA_VARS and list(te.columns) == TE_VARS
    assert {v: ta_labels[v] for v in TA_VARS[2:]} == {v: LABELS[v] for v in TA_VARS[2:]}
    assert {v: te_labels[v] for v in TE_VARS[2:]} == {v: LABELS[v] for v in TE_VARS[2:]}
    # one arm through three elements: screening, the arm's own treatment, follow-up (the epochs of study.yaml's
    # visits in visit order); one arm has no branch
    assert ta[["ARMCD", "ARM", "TAETORD", "ETCD", "EPOCH"]].values.tolist() == [
        ["UCMSC", UCMSC_ARM, 1, "SCRN", "SCREENING"], ["UCMSC", UCMSC_ARM, 2, "UCMSC", "TREATMENT"],
        ["UCMSC", UCMSC_ARM, 3, "FU", "FOLLOW-UP"]]
    assert set(ta["TABRANCH"]) == {""} and set(ta["TATRANS"]) == {""}
    assert (ta["STUDYID"] == "MSC-SLE-2009").all() and (ta["DOMAIN"] == "TA").all() and (te["DOMAIN"] == "TE").all()
    assert te["ETCD"].tolist() == ["SCRN", "UCMSC", "FU"] and te["ETCD"].str.len().max() <= 8
    assert te["ELEMENT"].tolist() == ["Screening", UCMSC_ARM, "Follow-up"]
    assert dict(zip(ta["ETCD"], ta["ELEMENT"], strict=True)) == dict(zip(te["ETCD"], te["ELEMENT"], strict=True))
    # no gap between elements (SDTMIG 3.4 TE): each ends with the event that starts the next
    assert te["TEENRL"].tolist()[:-1] == te["TESTRL"].tolist()[1:]
    assert te["TESTRL"].iloc[0] == "Informed consent" and (te["TESTRL"] != "").all() and (te["TEENRL"] != "").all()
    for fmt, suffix in (("json", "json"), ("csv", "csv")):
        for name, expected in (("ta", ta), ("te", te)):
            path = tmp_path / fmt / f"{name}.{suffix}"
            if fmt == "json":
                doc = json.loads(path.read_text(encoding="utf-8"))
                cols, rows = [c["name"] for c in doc["columns"]], doc["rows"]
            else:
                cols, *rows = list(csv.reader(path.open(encoding="utf-8", newline="")))
            assert cols == list(expected.columns), (fmt, name)
            assert [r[cols.index("ETCD")] for r in rows] == expected["ETCD"].tolist(), (fmt, name)
    for fmt, suffix in (("xpt", "xpt"), ("json", "json")):
        for name, variables in (("TA", TA_VARS), ("TE", TE_VARS)):
            assert _define_items(tmp_path / fmt / "define.xml", name) == (variables, f"{name.lower()}.{suffix}")


@pytest.fixture(scope="module")
def two_arms(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`msc-interop synth --placebo` records (12 subjects: UCMSC and PLACEBO, study.yaml listing UCMSC first)."""
    folder = tmp_path_factory.mktemp("two_arms")
    generate(12, profile="scale", placebo=True).write(folder / "records")  # (the CLI's default profile)
    return folder / "records"


def test_two_arm_study_ta_te(two_arms: Path, tmp_path: Path) -> None:
    assert [a["armcd"] for a in yaml.safe_load((two_arms / "study.yaml").read_text())["arms"]] == ["UCMSC", "PLACEBO"]
    to_sdtm(two_arms, tmp_path, formats=["xpt"], define=False)
    ta, _ = _xpt(tmp_path / "xpt" / "ta.xpt")
    te, _ = _xpt(tmp_path / "xpt" / "te.xpt")
    dm, _ = _xpt(tmp_path / "xpt" / "dm.xpt")
    assert ta[["ARMCD", "TAETORD", "ETCD", "EPOCH"]].values.tolist() == [
        ["UCMSC", 1, "SCRN", "SCREENING"], ["UCMSC", 2, "UCMSC", "TREATMENT"], ["UCMSC", 3, "FU", "FOLLOW-UP"],
        ["PLACEBO", 1, "SCRN", "SCREENING"], ["PLACEBO", 2, "PLACEBO", "TREATMENT"], ["PLACEBO", 3, "FU", "FOLLOW-UP"]]
    # the branch to the arms is at the end of the shared screening element (SDTMIG 3.4 TA TABRANCH)
    assert ta["TABRANCH"].tolist() == [f"Assigned to {UCMSC_ARM}", "", "", f"Assigned to {PLACEBO_ARM}", "", ""]
    assert te["ETCD"].tolist() == ["SCRN", "UCMSC", "PLACEBO", "FU"]
    assert te.set_index("ETCD").loc["PLACEBO", "ELEMENT"] == PLACEBO_ARM
    # every DM arm is an arm of TA; screen failures / not assigned are not arms of TA
    assert set(dm["ARMCD"]) - {"", "SCRNFAIL", "NOTASSGN"} == set(ta["ARMCD"])
    assert not set(ta["ARMCD"]) & {"SCRNFAIL", "NOTASSGN"}


@pytest.mark.parametrize("first", ["UCMSC", "PLACEBO"])
def test_two_arm_sdtm_read_back_keeps_study_yaml_arm_order(two_arms: Path, tmp_path: Path, first: str) -> None:
    """summary of the SDTM output: arm columns in study.yaml's order (alphabetical put PLACEBO first)."""
    records = tmp_path / "records"
    shutil.copytree(two_arms, records)
    definition = yaml.safe_load((records / "study.yaml").read_text(encoding="utf-8"))
    definition["arms"].sort(key=lambda a: a["armcd"] != first)
    (records / "study.yaml").write_text(yaml.safe_dump(definition, sort_keys=False), encoding="utf-8")
    to_sdtm(records, tmp_path / "sdtm", formats=["xpt", "json"], define=False)
    order = [first, ({"UCMSC", "PLACEBO"} - {first}).pop()]
    names = {"UCMSC": UCMSC_ARM, "PLACEBO": PLACEBO_ARM}
    for fmt in ("xpt", "json"):
        study, _ = load_study(tmp_path / "sdtm" / fmt)
        assert [a["armcd"] for a in study.meta.arms] == order, fmt
        result, _ = summarize([tmp_path / "sdtm" / fmt], tmp_path / f"summary_{fmt}", formats=["csv"])
        arm_columns = [c for c in result.tables["demographics"].columns if "(N=" in c and not c.startswith("Total")]
        assert [c.rsplit(" (N=", 1)[0] for c in arm_columns] == [names[a] for a in order], fmt


def test_two_arm_fhir_carries_ta_te_and_the_arm_order(two_arms: Path, tmp_path: Path) -> None:
    """to-fhir carries TA and TE on the ResearchStudy as it carries TS and TV; summary of the Bundle and from-fhir's
    SDTM keep study.yaml's arm order (UCMSC first; alphabetical put PLACEBO first)."""
    to_fhir(two_arms, tmp_path / "fhir", validate=False)
    result, _ = summarize([tmp_path / "fhir" / "bundle.json"], tmp_path / "summary", formats=["csv"])
    arm_columns = [c.rsplit(" (N=", 1)[0] for c in result.tables["demographics"].columns
                   if "(N=" in c and not c.startswith("Total")]
    assert arm_columns == [UCMSC_ARM, PLACEBO_ARM]
    from_fhir([tmp_path / "fhir" / "bundle.json"], tmp_path / "back", formats=["xpt"], define=False)
    to_sdtm(two_arms, tmp_path / "sdtm", formats=["xpt"], define=False, validate=False)
    for name in ("ta", "te"):
        pd.testing.assert_frame_equal(_xpt(tmp_path / "back" / "xpt" / f"{name}.xpt")[0],
                                      _xpt(tmp_path / "sdtm" / "xpt" / f"{name}.xpt")[0])


def test_cdisc_pilot_arm_order_is_its_ta_order(pilot: Path, tmp_path: Path) -> None:
    ta, _ = pyreadstat.read_xport(str(pilot / "ta.xpt"))
    in_file = list(dict.fromkeys(ta["ARMCD"]))  # Pbo, Xan_Hi, Xan_Lo: first TAETORD row of each, file order
    assert [a["armcd"] for a in load_study(pilot)[0].meta.arms] == in_file
    # the same package with TA's arms in another order (low dose first): the arms follow it, not the alphabet
    package = tmp_path / "pilot"
    shutil.copytree(pilot, package)
    reordered = pd.concat([ta[ta["ARMCD"] == "Xan_Lo"], ta[ta["ARMCD"] != "Xan_Lo"]], ignore_index=True)
    _, ta_meta = pyreadstat.read_xport(str(pilot / "ta.xpt"), metadataonly=True)
    pyreadstat.write_xport(reordered, str(package / "ta.xpt"), table_name="TA", file_format_version=5,
                           column_labels=ta_meta.column_labels)
    study, _ = load_study(package)
    assert [(a["armcd"], a["arm"]) for a in study.meta.arms] == [
        ("Xan_Lo", "Xanomeline Low Dose"), ("Pbo", "Placebo"), ("Xan_Hi", "Xanomeline High Dose")]
    result, _ = summarize([package], tmp_path / "summary", formats=["csv"])
    arm_columns = [c.rsplit(" (N=", 1)[0] for c in result.tables["demographics"].columns
                   if "(N=" in c and not c.startswith("Total")]
    assert arm_columns == ["Xanomeline Low Dose", "Placebo", "Xanomeline High Dose"]


def _definition(**changes: object) -> dict:
    d = yaml.safe_load((EXAMPLE / "study.yaml").read_text(encoding="utf-8"))
    d.update(changes)
    return d


DECLARED = [{"etcd": "SCRN", "element": "Screening", "testrl": "Informed consent", "tedur": "P4W"},
            {"etcd": "INF", "element": "Two infusions", "testrl": "First infusion", "teenrl": "Day 7 infusion"},
            {"etcd": "LTFU", "element": "Long-term follow-up", "testrl": "Day after the Day 7 infusion",
             "teenrl": "Year 6 visit"}]
PATH = [{"etcd": "SCRN", "epoch": "SCREENING"}, {"etcd": "INF", "epoch": "TREATMENT"},
        {"etcd": "LTFU", "epoch": "LONG-TERM FOLLOW-UP", "tatrans": "Early termination: to end of study"}]


def test_declared_elements_and_path_are_written_as_declared(tmp_path: Path) -> None:
    from msc_interop.records.definition import check_definition
    from msc_interop.trial_arms import trial_design  # (here: the module is new)

    arms = [{"armcd": "UCMSC", "arm": UCMSC_ARM, "path": PATH}]
    meta = StudyMeta.from_definition(check_definition(_definition(elements=DECLARED, arms=arms), "study.yaml"))
    design = trial_design(meta)
    assert design.note == ""
    assert design.te[["ETCD", "ELEMENT", "TESTRL", "TEENRL", "TEDUR"]].values.tolist() == [
        ["SCRN", "Screening", "Informed consent", "", "P4W"], ["INF", "Two infusions", "First infusion",
                                                              "Day 7 infusion", ""],
        ["LTFU", "Long-term follow-up", "Day after the Day 7 infusion", "Year 6 visit", ""]]
    assert design.ta[["TAETORD", "ETCD", "ELEMENT", "EPOCH", "TATRANS"]].values.tolist() == [
        [1, "SCRN", "Screening", "SCREENING", ""], [2, "INF", "Two infusions", "TREATMENT", ""],
        [3, "LTFU", "Long-term follow-up", "LONG-TERM FOLLOW-UP", "Early termination: to end of study"]]


def test_a_sponsor_epoch_in_a_declared_path_is_allowed() -> None:
    """EPOCH (C99079) is extensible: a sponsor's own epoch ("SCREENING PERIOD") is declared, not refused (define.xml
    marks it def:ExtendedValue; validate warns as for any extended term)."""
    from msc_interop.records.definition import check_definition

    arm = {"armcd": "UCMSC", "arm": UCMSC_ARM, "path": [{**PATH[0], "epoch": "SCREENING PERIOD"}, *PATH[1:]]}
    check_definition(_definition(arms=[arm], elements=DECLARED), "study.yaml")  # (raises on a refusal)


@pytest.mark.parametrize(("elements", "path", "message"), [
    (DECLARED, [{**PATH[0], "etcd": "SCREEN"}], r"arms/0/path/0/etcd: 'SCREEN' is not an ETCD of `elements`"),
    (DECLARED, [{**PATH[0], "epoch": "Screening"}], r"arms/0/path/0/epoch: 'Screening' is the CDISC CT EPOCH "
                                                     r"\(C99079\) term 'SCREENING' written otherwise"),
    (DECLARED, None, r"`elements` is given but arms/0 \(UCMSC\) has no `path`"),
    (None, PATH, r"arms/0/path is given but no `elements`"),
    ([*DECLARED, DECLARED[0]], PATH, r"elements/3/etcd: 'SCRN' is the ETCD of elements/0 too"),
    ([{**DECLARED[0], "tedur": "4 weeks"}], PATH[:1], r"elements/0/tedur: '4 weeks' is not an ISO 8601 duration"),
    ([{**DECLARED[0], "etcd": "SCREENING"}], PATH[:1], r"elements/0/etcd: 'SCREENING' does not match"),
    # SDTMIG 3.4 TE TEENRL: "Either TEENRL or TEDUR must be present for each element"
    ([*DECLARED[:2], {k: v for k, v in DECLARED[2].items() if k != "teenrl"}], PATH,
     r"elements/2 \(LTFU\) has neither `teenrl` nor `tedur`"),
    ([{**DECLARED[1], "teenrl": ""}], [PATH[1]], r"elements/0 \(INF\) has neither `teenrl` nor `tedur`"),
    # TA EPOCH, TE ELEMENT and TESTRL are Req (SDTMIG 3.4): empty or spaces only, TA got a null EPOCH
    (DECLARED, [{**PATH[0], "epoch": ""}], r"arms/0/path/0/epoch: '' should be non-empty"),
    (DECLARED, [PATH[0], {**PATH[1], "epoch": "  "}], r"arms/0/path/1/epoch: '  ' is empty"),
    ([{**DECLARED[0], "element": " "}], PATH[:1], r"elements/0/element: ' ' is empty"),
    ([{**DECLARED[0], "testrl": " "}], PATH[:1], r"elements/0/testrl: ' ' is empty"),
    ([{**DECLARED[0], "testrl": ""}], PATH[:1], r"elements/0/testrl: '' should be non-empty"),
])
def test_declared_design_that_does_not_fit_is_refused_naming_the_place(elements, path, message) -> None:
    from msc_interop.records.definition import check_definition

    arm = {"armcd": "UCMSC", "arm": UCMSC_ARM, **({"path": path} if path is not None else {})}
    d = _definition(arms=[arm], **({"elements": elements} if elements is not None else {}))
    with pytest.raises(StudyDefinitionError, match=message):
        check_definition(d, "study.yaml")


def test_to_sdtm_refuses_an_empty_epoch_of_a_declared_path_exit_2(records_copy, tmp_path: Path) -> None:
    """It passed the study-definition check and wrote TA with a null EPOCH (the run then exited 1)."""
    from click.testing import CliRunner

    from msc_interop.cli import main

    folder = records_copy()
    arm = {"armcd": "UCMSC", "arm": UCMSC_ARM, "path": [{**PATH[0], "epoch": ""}, *PATH[1:]]}
    d = _definition(arms=[arm], elements=DECLARED)
    (folder / "study.yaml").write_text(yaml.safe_dump(d, sort_keys=False), encoding="utf-8")
    res = CliRunner().invoke(main, ["to-sdtm", str(folder), "-o", str(tmp_path / "out")])
    assert res.exit_code == 2 and "arms/0/path/0/epoch: '' should be non-empty" in res.output
    assert not (tmp_path / "out").exists()


def test_epoch_without_default_element_gets_no_ta_te_and_a_note(records_copy) -> None:
    folder = records_copy()
    d = _definition()
    d["visits"][0]["epoch"] = "RUN-IN"  # a CT EPOCH term mappings/trial_design.yaml has no element for
    (folder / "study.yaml").write_text(yaml.safe_dump(d, sort_keys=False), encoding="utf-8")
    study, report = load_study(folder)
    assert "TA" not in study and "TE" not in study and "TS" in study
    note = [n for n in report.notes if n.startswith("TA and TE")]
    assert len(note) == 1 and "RUN-IN" in note[0] and "`elements`" in note[0]


@pytest.mark.parametrize(("relabel", "missing"), [("FOLLOW-UP", "FOLLOW-UP"), ("SCREENING", "SCREENING")])
def test_derived_ta_has_every_epoch_the_records_get(records_copy, relabel: str, missing: str) -> None:
    """A schedule whose visits name no FOLLOW-UP (or no SCREENING) epoch: records placed by their date
    (common.epoch_by_date: a disposition after the last dose, a medication before the first) still get it, so TA
    has it too (the EPOCH of the data is an EPOCH of the trial design), in the order SCREENING, TREATMENT,
    FOLLOW-UP."""
    def complete_start(df: pd.DataFrame) -> pd.DataFrame:  # subject 01's first medication, started before its
        df.loc[0, "start"] = "2009-08-01"  # first dose (2009-10-04): CM EPOCH SCREENING by its date
        return df

    folder = records_copy(medications=complete_start)
    d = _definition()
    for visit in d["visits"]:
        if visit["epoch"] == relabel:
            visit["epoch"] = "TREATMENT"
    (folder / "study.yaml").write_text(yaml.safe_dump(d, sort_keys=False), encoding="utf-8")
    study, report = load_study(folder)
    assert not [n for n in report.notes if n.startswith("TA and TE")]
    ta = study["TA"]
    assert ta["EPOCH"].tolist() == ["SCREENING", "TREATMENT", "FOLLOW-UP"]
    assert ta["ETCD"].tolist() == ["SCRN", "UCMSC", "FU"]
    used = {name: set(df["EPOCH"].fillna("").astype(str)) - {""} for name, df in study.datasets.items()
            if "EPOCH" in df.columns and name != "TA"}
    assert missing in set().union(*used.values())  # (the case is real: a record has the epoch no visit names)
    assert {name: e - set(ta["EPOCH"]) for name, e in used.items() if e - set(ta["EPOCH"])} == {}


def test_a_screen_failure_arm_of_study_yaml_is_no_arm_of_ta() -> None:
    """study.yaml listing SCRNFAIL / NOTASSGN as arms (the SDTMIG 3.2 way of coding them in DM): three arms of TA
    (one code over 8 characters: elements ARM1, ARM2, ARM3), none for the screen failure or the not assigned, no
    "Screen Failure" treatment element in TE (SDTMIG 3.4 DM assumption 4: they are not arms of TA)."""
    from msc_interop.records.definition import check_definition
    from msc_interop.trial_arms import trial_design

    arms = [{"armcd": "UCMSC_HIGH", "arm": "UC-MSC high dose"}, {"armcd": "SCRNFAIL", "arm": "Screen Failure"},
            {"armcd": "UCMSC", "arm": UCMSC_ARM}, {"armcd": "NotAssgn", "arm": "Not Assigned"},
            {"armcd": "PLACEBO", "arm": PLACEBO_ARM}]
    design = trial_design(StudyMeta.from_definition(check_definition(_definition(arms=arms), "study.yaml")))
    assert list(dict.fromkeys(design.ta["ARMCD"])) == ["UCMSC_HIGH", "UCMSC", "PLACEBO"]
    assert design.te["ETCD"].tolist() == ["SCRN", "ARM1", "ARM2", "ARM3", "FU"]
    assert "Screen Failure" not in set(design.te["ELEMENT"]) | set(design.ta["ARM"])


def test_records_with_an_epoch_no_ta_row_has_get_a_warning(records_copy, tmp_path: Path) -> None:
    """A declared path naming LONG-TERM FOLLOW-UP while the visits say FOLLOW-UP: TA has no FOLLOW-UP row, the
    records of visits 4-7 have it (labs.csv: Year 1, 2, 4 x 99 rows + Year 6 x 98 = 395 LB records). It was said
    nowhere; now a warning in to-sdtm's report, the same in a run by subject partitions."""
    folder = records_copy()
    arms = [{"armcd": "UCMSC", "arm": UCMSC_ARM, "path": PATH}]
    d = _definition(arms=arms, elements=DECLARED)
    (folder / "study.yaml").write_text(yaml.safe_dump(d, sort_keys=False), encoding="utf-8")
    whole = to_sdtm(folder, tmp_path / "whole", formats=["csv"], define=False)
    parted = to_sdtm(folder, tmp_path / "parted", formats=["csv"], define=False, partition_subjects=4)
    assert parted.partitions > 1
    for result in (whole, parted):
        notes = [n for n in result.rejects.notes if "have an EPOCH that no TA row has" in n]
        assert len(notes) == 1 and notes[0].startswith("warning: ") and "LB FOLLOW-UP: 395;" in notes[0]
        assert "LONG-TERM FOLLOW-UP:" not in notes[0] and "name the visits' epochs as the paths name them" in notes[0]
    assert whole.rejects.notes == parted.rejects.notes
    # the bundled study (TA derived from the visits' epochs): none
    plain = to_sdtm(EXAMPLE, tmp_path / "plain", formats=["csv"], define=False)
    assert not [n for n in plain.rejects.notes if "no TA row has" in n]
