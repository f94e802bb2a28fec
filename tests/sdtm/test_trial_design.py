"""TS/TV carry the study definition through SDTM files, so a Study read back knows its schedule and title."""

from __future__ import annotations

import pandas as pd

from conftest import EXAMPLE
from msc_interop.api import load_study, to_sdtm


def test_ts_parameters_and_ct_names():
    study, _ = load_study(EXAMPLE)
    ts = study["TS"].set_index("TSPARMCD")
    assert ts.loc["TITLE", "TSPARM"] == "Trial Title"  # CDISC CT TSPARM C49802
    assert ts.loc["INDIC", "TSPARM"] == "Trial Disease/Condition Indication"  # C112038
    assert (ts.loc["INDIC", "TSVAL"], ts.loc["INDIC", "TSVALCD"], ts.loc["INDIC", "TSVCDREF"]) == (
        "Systemic lupus erythematosus", "55464009", "SNOMED")
    assert ts.loc["SDTIGVER", "TSVAL"] == "3.4"
    assert ts.loc["TRT", "TSVAL"] == "UMBILICAL CORD MESENCHYMAL STEM CELLS"
    assert (ts.TSVAL.str.len() <= 200).all()
    # FDA technical rejection criterion 1734: TS with the study start date; CDISC CT SSTDTC (C69208): the earliest
    # informed consent (RFICDTC) of the enrolled subjects: subject 07's 2009-01-29 in subjects.csv
    assert (ts.loc["SSTDTC", "TSPARM"], ts.loc["SSTDTC", "TSVAL"]) == ("Study Start Date", "2009-01-29")
    dm = study["DM"]
    assert ts.loc["SSTDTC", "TSVAL"] == min(dm.RFICDTC.str[:10])


def test_study_start_date_leaves_out_screen_failures_and_partial_consent_dates():
    from msc_interop.trial_design import study_start_date

    dm = pd.DataFrame({"RFICDTC": ["2009-01-29", "2008-12-01", "2008", "2009-02-03T10:00", ""],
                       "ARMCD": ["A", "SCRNFAIL", "A", "A", "A"]})
    assert study_start_date(dm) == "2009-01-29"
    assert study_start_date(dm.assign(ARMCD="A")) == "2008-12-01"
    assert study_start_date(dm.drop(columns="RFICDTC")) == "" and study_start_date(None) == ""


def test_tv_has_the_planned_study_days():
    study, _ = load_study(EXAMPLE)
    tv = study["TV"].set_index("VISIT")
    assert tv.loc["DAY 0 INFUSION", "VISITDY"] == 1 and tv.loc["DAY 7 INFUSION", "VISITDY"] == 8
    assert tv.loc["BASELINE", "VISITDY"] == -3  # before day 1: no shift (no day 0)
    assert tv.loc["DAY 7 INFUSION", "TVSTRL"] == "Study day 8 (protocol day 7), window -1/+1 days"


def test_study_definition_round_trips_through_sdtm(tmp_path):
    original, _ = load_study(EXAMPLE)
    to_sdtm(EXAMPLE, tmp_path, formats=["xpt", "json", "csv"], define=False)
    for fmt in ("xpt", "json", "csv"):
        back, _ = load_study(tmp_path / fmt)
        m, o = back.meta, original.meta
        assert (m.studyid, m.title, m.protocol, m.sponsor) == (o.studyid, o.title, o.protocol, o.sponsor), fmt
        assert m.indication == {"name": o.indication["name"], "snomed": o.indication["snomed"]}
        cols = ["VISITNUM", "VISIT", "protocol_day", "planned_dy", "window_before", "window_after", "EPOCH"]
        pd.testing.assert_frame_equal(m.visits[cols], o.visits[cols], check_dtype=False)


def test_sdtm_package_tv_without_its_permissible_variables(tmp_path):
    """TV's VISIT, VISITDY and TVENRL are Perm (SDTMIG 3.4 TV table: mappings/sdtmig_domains.yaml): a package
    whose TV has only STUDYID, DOMAIN, VISITNUM, ARMCD, TVSTRL converts (it stopped with KeyError 'VISITDY'), the
    visits planned without a day."""
    from msc_interop.api import to_sdtm as convert
    from msc_interop.sdtm.formats import read_sdtm

    folder = tmp_path / "pkg"
    folder.mkdir()
    (folder / "dm.csv").write_text("STUDYID,DOMAIN,USUBJID,SUBJID,SITEID,SEX,ARMCD,ARM,COUNTRY\n"
                                   "S1,DM,S1-1,1,01,F,A,Arm A,USA\n", encoding="utf-8")
    (folder / "tv.csv").write_text("STUDYID,DOMAIN,VISITNUM,ARMCD,TVSTRL\nS1,TV,1,A,Start of screening\n"
                                   "S1,TV,2,A,Day 1\n", encoding="utf-8")
    visits = read_sdtm(folder).meta.visits
    assert visits["VISITNUM"].tolist() == [1.0, 2.0]
    assert visits["VISIT"].tolist() == ["", ""] and visits["planned_dy"].tolist() == [0, 0]
    result = convert(folder, tmp_path / "out", formats=["csv"], validate=False)
    assert (tmp_path / "out" / "csv" / "tv.csv").is_file() and result.rejects.rejects == []


def test_sdtm_package_tv_without_visitnum_is_read(tmp_path):
    """TV without its Required VISITNUM plans no visit (validate names the missing variable): no KeyError."""
    from msc_interop.sdtm.formats import read_sdtm

    folder = tmp_path / "pkg"
    folder.mkdir()
    (folder / "tv.csv").write_text("STUDYID,DOMAIN,ARMCD,TVSTRL\nS1,TV,A,Start of screening\n", encoding="utf-8")
    assert len(read_sdtm(folder).meta.visits) == 0


def test_ts_a_placebo_is_the_comparator_not_an_investigational_treatment():
    """TRT (C41161) is the investigational treatment: a placebo given is COMPTRT (C68612) with TCNTRL (C49647) PLACEBO,
    its code C49648 in CDISC CT Control Type Response (C66785, SDTM CT 2025-03-25)."""
    from msc_interop.trial_design import build_ts

    study, _ = load_study(EXAMPLE)
    meta = study.meta
    ex = pd.DataFrame({"EXTRT": ["UMBILICAL CORD MESENCHYMAL STEM CELLS", "PLACEBO", "PLACEBO"]})
    ts = build_ts(meta, ex).set_index("TSPARMCD")
    assert list(ts.loc[["TRT"], "TSVAL"]) == ["UMBILICAL CORD MESENCHYMAL STEM CELLS"]
    assert list(ts.loc[["COMPTRT"], "TSVAL"]) == ["PLACEBO"]
    assert ts.loc["COMPTRT", "TSPARM"] == "Comparative Treatment Name"
    assert tuple(ts.loc["TCNTRL", ["TSPARM", "TSVAL", "TSVALCD", "TSVCDREF", "TSVCDVER"]]) == (
        "Control Type", "PLACEBO", "C49648", "CDISC CT", "2025-03-25")
    # a product study.yaml marks as placebo, under another EXTRT
    meta.products = [{"name": "Saline", "extrt": "SODIUM CHLORIDE 0.9%", "placebo": True}]
    ts = build_ts(meta, ex.replace("PLACEBO", "SODIUM CHLORIDE 0.9%")).set_index("TSPARMCD")
    assert list(ts.loc[["TRT"], "TSVAL"]) == ["UMBILICAL CORD MESENCHYMAL STEM CELLS"]
    assert list(ts.loc[["COMPTRT"], "TSVAL"]) == ["SODIUM CHLORIDE 0.9%"]
    # no placebo given: no comparator rows
    ts = build_ts(meta, ex.iloc[:1])
    assert not ts.TSPARMCD.isin(["COMPTRT", "TCNTRL"]).any() and ts.TSVCDVER.eq("").all()
