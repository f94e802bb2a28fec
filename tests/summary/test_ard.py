"""Analysis results data (summary --format ard): valid against mappings/schema/ard.schema.json, the same numbers as
the rendered tables, and numbers recomputed independently from the SDTM (pandas.read_sas of the CDISC pilot XPTs;
the bundled study's LB dataset) agree with it."""

from __future__ import annotations

import json
import statistics

import jsonschema
import pandas as pd
import pytest

from msc_interop.mappings import schema
from msc_interop.summary import summarize
from msc_interop.summary._common import n_pct

from .test_arms import LOW, two_arm_study


def _stat(ard: list[dict], **where) -> object:
    hits = [r["stat"] for r in ard if all(r.get(k) == v for k, v in where.items())]
    assert len(hits) == 1, (where, len(hits))
    return hits[0]


@pytest.fixture(scope="module")
def pilot(shared_dir, tmp_path_factory):
    from msc_interop.api import load_study

    folder = shared_dir / "external" / "cdisc-pilot-original"
    study, _ = load_study(folder)
    out = tmp_path_factory.mktemp("ard-pilot")
    res = summarize(study, out, formats=["ard"], arms="planned")
    dm = pd.read_sas(folder / "dm.xpt", encoding="utf-8")
    ae = pd.read_sas(folder / "ae.xpt", encoding="utf-8").merge(dm[["USUBJID", "ARM", "RFXSTDTC"]], on="USUBJID")
    ae = ae[[a >= f[:len(a)] if a and f else False for a, f in zip(ae["AESTDTC"], ae["RFXSTDTC"], strict=True)]]
    return res, json.loads((out / "ard" / "ard.json").read_text(encoding="utf-8")), dm, ae


@pytest.fixture(scope="module")
def arms(example_study, tmp_path_factory):
    study = two_arm_study(example_study)
    out = tmp_path_factory.mktemp("ard-arms")
    res = summarize(study, out, formats=["ard", "csv"])
    return res, json.loads((out / "ard" / "ard.json").read_text(encoding="utf-8")), study, out


def test_ard_json_validates_against_the_shipped_schema(pilot, arms):
    validator = jsonschema.Draft202012Validator(schema("ard"))
    for _, ard, *_ in (pilot, arms):
        errors = list(validator.iter_errors(ard))
        assert not errors, errors[:3]
    bad = [dict(arms[1][0], stat_name="p", stat=1.5)]  # a proportion above 1 is refused
    assert list(validator.iter_errors(bad))


def test_teae_numbers_from_ard_and_from_sdtm(pilot):
    _, ard, dm, ae = pilot
    # 1. subjects with any TEAE, placebo: ARD n and N against the XPTs
    n = ae.loc[ae["ARM"].eq("Placebo"), "USUBJID"].nunique()
    assert _stat(ard, table="ae_soc_pt", group1_level="Placebo", variable="ANY_TEAE", stat_name="n") == n == 65
    assert _stat(ard, table="ae_soc_pt", group1_level="Placebo", variable="ANY_TEAE", stat_name="N") == \
        int((dm["ARM"] == "Placebo").sum()) == 86
    # 2. APPLICATION SITE PRURITUS, high dose: subjects (hierarchical: group2 = AEBODSYS, variable = AEDECOD)
    pt = ae[ae["AEDECOD"].eq("APPLICATION SITE PRURITUS") & ae["ARM"].eq("Xanomeline High Dose")]
    got = _stat(ard, table="ae_soc_pt", group1_level="Xanomeline High Dose", group2="AEBODSYS",
                group2_level=pt["AEBODSYS"].iloc[0], variable="AEDECOD", variable_level="APPLICATION SITE PRURITUS",
                stat_name="n")
    assert got == pt["USUBJID"].nunique()
    # 3. DIZZINESS events, low dose
    ev = int((ae["AEDECOD"].eq("DIZZINESS") & ae["ARM"].eq("Xanomeline Low Dose")).sum())
    assert _stat(ard, table="ae_soc_pt", group1_level="Xanomeline Low Dose", variable="AEDECOD",
                 variable_level="DIZZINESS", stat_name="events") == ev


def test_rendered_teae_cells_are_the_ard_numbers(pilot):
    res, ard, *_ = pilot
    t = res.tables["ae_soc_pt"]
    checked = 0
    for r in ard:
        if r["table"] != "ae_soc_pt" or r["stat_name"] != "n":
            continue
        big_n = _stat(ard, table="ae_soc_pt", group1_level=r["group1_level"], group2_level=r["group2_level"],
                      variable=r["variable"], variable_level=r["variable_level"], stat_name="N")
        soc = r["group2_level"] or (r["variable_level"] if r["variable"] == "AEBODSYS" else "Any TEAE")
        ptv = r["variable_level"] if r["variable"] == "AEDECOD" else ""
        row = t[(t["System organ class"] == soc) & (t["Preferred term"] == ptv)]
        col = f"{r['group1_level']} (N={big_n}) n (%)"
        assert row[col].tolist() == [n_pct(r["stat"], big_n)]
        checked += 1
    assert checked == 4 * len(t)  # every cell of the table (3 arms + Total)


def test_lab_numbers_from_ard_and_from_sdtm(arms):
    res, ard, study, out = arms
    lb = study.datasets["LB"]
    low_subjects = {f"MSC-SLE-2009-01-0{i}" for i in range(1, 5)}
    alt = lb[(lb["LBTESTCD"] == "ALT") & lb["USUBJID"].isin(low_subjects)]
    base = alt.loc[alt["LBLOBXFL"] == "Y", "LBSTRESN"].tolist()
    trta = f"{LOW}"
    # 1.-2. baseline N and mean of ALT in the low-dose arm
    assert _stat(ard, table="lab_stats", group1_level=trta, group2_level="ALT", group3_level="Baseline",
                 stat_name="N") == len(base) == 4
    mean = _stat(ard, table="lab_stats", group1_level=trta, group2_level="ALT", group3_level="Baseline",
                 stat_name="mean")
    assert mean == pytest.approx(statistics.mean(base), rel=1e-12)
    # 3. the rendered table shows that mean, rounded, in the row of the arm
    t = res.tables["lab_stats"]
    row = t[(t["Test code"] == "ALT") & (t["Visit"] == "Baseline") & (t["Treatment"] == f"{LOW} (N=4)")]
    assert row["Mean (SD)"].iloc[0].startswith(f"{mean:.1f} (")
    # every lab_stats row's n is the ARD's N
    for r in t.itertuples():
        arm = r.Treatment.rsplit(" (N=", 1)[0]
        assert _stat(ard, table="lab_stats", group1_level=arm, group2_level=r._2, group3_level=r.Visit,
                     stat_name="N") == r.n
    # ard.csv holds the same rows as ard.json
    csv = pd.read_csv(out / "ard" / "ard.csv", dtype=str, keep_default_na=False)
    assert len(csv) == len(ard) and list(csv.columns) == list(ard[0])
