"""DM, EX, AE, LB built from the bundled study, checked against SDTMIG rules and hand-computed values."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from msc_interop.records import read_records
from msc_interop.sdtm.build import build_study
from msc_interop.sdtm.dm import _per_subject


@pytest.fixture(scope="module")
def study():
    from conftest import EXAMPLE

    built, report = build_study(read_records(EXAMPLE))
    assert len(report) == 0
    return built


@pytest.fixture(scope="module")
def raw_labs():
    from conftest import EXAMPLE

    return pd.read_csv(EXAMPLE / "labs.csv", dtype=str, keep_default_na=False)


def test_dm_one_row_per_subject_with_reference_dates(study):
    dm = study["DM"]
    assert len(dm) == 9 and dm.USUBJID.is_unique
    assert dm.USUBJID.iloc[0] == "MSC-SLE-2009-01-01"
    assert (dm.SEX == "F").sum() == 8 and (dm.SEX == "M").sum() == 1
    assert set(dm.COUNTRY) == {"CHN"} and set(dm.AGEU) == {"YEARS"}
    ex = study["EX"]
    first = ex.sort_values("EXSTDTC").groupby("USUBJID").EXSTDTC.first()
    assert (first == dm.set_index("USUBJID").RFSTDTC).all()
    assert (dm.RFSTDTC == dm.RFXSTDTC).all()
    # subject 01: born 1961-11-24, first infusion 2009-10-04 -> 47 completed years (birthday not yet reached)
    row = dm[dm.SUBJID == "01"].iloc[0]
    assert row.BRTHDTC == "1961-11-24" and row.RFSTDTC.startswith("2009-10-04") and row.AGE == 47


def test_ex_two_infusions_on_study_days_1_and_8(study):
    ex = study["EX"]
    assert len(ex) == 18
    days = ex.groupby("USUBJID").EXSTDY.apply(list)
    assert all(d == [1, 8] for d in days)  # protocol day 0 and day 7
    assert ex.EXSEQ.tolist() == [1, 2] * 9
    assert set(ex.EXROUTE) == {"INTRAVENOUS"} and set(ex.EXDOSU) == {"10^6/kg"} and set(ex.EXDOSE) == {1.0}
    assert set(ex.VISIT) == {"DAY 0 INFUSION", "DAY 7 INFUSION"} and set(ex.EPOCH) == {"TREATMENT"}
    supp = study["SUPPEX"]
    assert len(supp) == 18 and set(supp.QNAM) == {"WEIGHT"} and set(supp.IDVAR) == {"EXSEQ"}


def test_ae_the_one_mild_infusion_reaction(study):
    ae = study["AE"]
    assert len(ae) == 1
    row = ae.iloc[0]
    assert (row.AEDECOD, row.AEPTCD, row.AESOC, row.AESOCCD) == ("Dizziness", 10013573,
                                                                  "Nervous system disorders", 10029205)
    assert (row.AESEV, row.AESER, row.AEREL, row.AEOUT) == ("MILD", "N", "RELATED", "RECOVERED/RESOLVED")
    ex = study["EX"]
    infusion = ex[(ex.USUBJID == row.USUBJID) & (ex.EXSEQ == 1)].iloc[0]
    onset = pd.Timestamp(row.AESTDTC) - pd.Timestamp(infusion.EXSTDTC)
    assert onset == pd.Timedelta(minutes=5)
    assert row.AESTDY == 1 and row.EPOCH == "TREATMENT"


def test_lb_shape_codes_and_units(study):
    lb = study["LB"]
    assert len(lb) == 11 * 5 * 9 - 1  # the one haemolysed CA 19-9 sample is missing
    assert set(lb.LBTESTCD) == {"WBC", "RBC", "PLAT", "ALT", "AST", "BILI", "BILDIR", "AFP", "CEA",
                                "CA125AG", "CA19_9AG"}
    assert lb.groupby(["USUBJID", "LBTESTCD"]).size().max() == 5
    assert lb.LBSEQ.groupby(lb.USUBJID).apply(lambda s: list(s) == list(range(1, len(s) + 1))).all()
    bili = lb[lb.LBTESTCD == "BILI"]
    assert set(bili.LBORRESU) == {"umol/L"}  # μmol/L on the lab report -> CDISC unit
    assert set(lb[lb.LBTESTCD == "AFP"].LBSTRESU) == {"ug/L"}  # ng/mL is CDISC's synonym of ug/L
    assert dict(zip(lb.LBTESTCD, lb.LBLOINC, strict=True))["WBC"] == "6690-2"
    assert lb.LBSTRESN.dropna().eq(pd.to_numeric(lb.LBSTRESC, errors="coerce").dropna()).all()


def test_lbnrind_against_the_ranges_on_the_lab_report(study, raw_labs):
    """Recompute LBNRIND from labs.csv by hand rules (limits inclusive) and compare row by row."""
    lb = study["LB"]
    raw = raw_labs[~raw_labs.result.str.startswith("<")].copy()
    value = raw.result.astype(float)
    lo, hi = raw.ref_low.astype(float), raw.ref_high.astype(float)
    raw["expected"] = "NORMAL"
    raw.loc[value < lo, "expected"] = "LOW"
    raw.loc[value > hi, "expected"] = "HIGH"
    key = lb.assign(SUBJID=lb.USUBJID.str[-2:], LBDTC=lb.LBDTC)
    merged = raw.merge(key, left_on=["subject_id", "collection_datetime", "result"],
                       right_on=["SUBJID", "LBDTC", "LBORRES"])
    assert len(merged) >= len(raw)
    assert (merged.expected == merged.LBNRIND).all()
    # the hand-placed cells of the fixture
    cell = lb.set_index(["USUBJID", "LBTESTCD", "VISIT"])
    assert cell.loc[("MSC-SLE-2009-01-02", "WBC", "BASELINE"), "LBNRIND"] == "LOW"  # 3.12 < 3.5
    assert cell.loc[("MSC-SLE-2009-01-05", "PLAT", "BASELINE"), "LBNRIND"] == "LOW"  # 98 < 125
    assert cell.loc[("MSC-SLE-2009-01-01", "CEA", "YEAR 2"), "LBNRIND"] == "NORMAL"  # 5.00 = upper limit
    below = cell.loc[("MSC-SLE-2009-01-08", "CA19_9AG", "YEAR 4")]
    assert (below.LBORRES, below.LBSTRESC, below.LBNRIND) == ("<2.00", "<2", "NORMAL")
    assert pd.isna(below.LBSTRESN)
    post = lb[lb.VISITNUM > 1]
    assert set(post.LBNRIND) == {"NORMAL"}  # the paper: all labs in range after infusion


def test_study_days_and_partial_dates(study):
    lb = study["LB"]
    assert not lb.LBDY.eq(0).any()  # SDTMIG 4.4.4: no day 0
    partial = lb[lb.LBDTC.str.len() < 10]
    assert len(partial) == 11 and set(partial.USUBJID) == {"MSC-SLE-2009-01-09"}
    assert partial.LBDY.isna().all()  # never derived from a partial date
    # a day computed by hand: subject 01 baseline 2009-09-30, first infusion 2009-10-04 -> day -4
    row = lb[(lb.USUBJID == "MSC-SLE-2009-01-01") & (lb.VISIT == "BASELINE")].iloc[0]
    assert row.LBDTC.startswith("2009-09-30") and row.LBDY == -4
    year1 = lb[(lb.USUBJID == "MSC-SLE-2009-01-01") & (lb.VISIT == "YEAR 1")].iloc[0]
    expected = (date.fromisoformat(year1.LBDTC[:10]) - date(2009, 10, 4)).days + 1
    assert expected == year1.LBDY


def test_baseline_flag_one_per_subject_and_test(study):
    lb = study["LB"]
    flagged = lb[lb.LBLOBXFL == "Y"]
    assert len(flagged) == 99 and not flagged.duplicated(["USUBJID", "LBTESTCD"]).any()
    assert set(flagged.VISIT) == {"BASELINE"}


def test_unit_conversion_and_loinc_follow_the_original_unit(records_copy):
    def edit(df):
        i = df.index[(df.test == "TBIL")][0]
        df.loc[i, ["result", "unit", "ref_low", "ref_high"]] = ["0.5", "mg/dL", "0.2", "1.2"]
        return df

    study, report = build_study(read_records(records_copy(labs=edit)))
    assert len(report) == 0
    lb = study["LB"]
    row = lb[(lb.LBTESTCD == "BILI") & (lb.LBORRESU == "mg/dL")].iloc[0]
    # 0.5 mg/dL x 17.1 = 8.55 umol/L, rounded to the test's 1 decimal -> 8.6 (numpy rounds half to even: 8.55
    # is stored as 8.5500000000000007, so it rounds up)
    assert pytest.approx(8.6) == row.LBSTRESN and row.LBSTRESU == "umol/L"
    assert (pytest.approx(3.4), pytest.approx(20.5)) == (row.LBSTNRLO, row.LBSTNRHI)
    assert row.LBLOINC == "1975-2"  # the mass-concentration LOINC for a result reported in mg/dL


def test_a_converted_lab_result_is_never_rounded_to_zero(records_copy):
    """PROT keeps 0 decimals in g/L (serum: 60-80 g/L), but a protein of 30 mg/dL is 0.30 g/L (UCUM: 1 mg/dL =
    0.01 g/L exactly), not 0: a non-zero result keeps the decimals its original's precision needs, its range too."""
    def edit(df):
        row = df.index[df.test == "WBC"][0]
        df.loc[row, ["test", "result", "unit", "ref_low", "ref_high"]] = ["PROT", "30", "mg/dL", "0", "15"]
        return df

    study, report = build_study(read_records(records_copy(labs=edit)))
    assert len(report) == 0
    [prot] = study["LB"][(study["LB"].LBTESTCD == "PROT") & (study["LB"].LBORRES == "30")].itertuples()
    assert (prot.LBSTRESN, prot.LBSTRESC, prot.LBSTRESU) == (0.3, "0.3", "g/L")
    assert (prot.LBSTNRLO, prot.LBSTNRHI) == (0, 0.15)


def test_lbnrind_in_the_labs_own_units_when_rounding_puts_a_result_on_a_limit(records_copy):
    """A converted result rounded to the test's decimals can land on a limit it was beyond: ANC 1496/uL against
    1500-7000/uL is 1.5 against 1.5-7.0 10^9/L, and GGT 0.672 ukat/L against an upper limit of 0.67 is 40 against
    40 U/L. LBNRIND says where the result falls against the lab's range (SDTMIG LB: against LBORNRLO/LBORNRHI or
    the standard range): LOW and HIGH, as the lab reported them, not NORMAL; the same result in 10^9/L (no
    conversion) gives the same answer."""
    def edit(df):
        rows = df.index[df.test == "WBC"][:4]
        df.loc[rows, ["test", "result", "unit", "ref_low", "ref_high"]] = [
            ["ANC", "1496", "/uL", "1500", "7000"], ["ANC", "7004", "/uL", "1500", "7000"],
            ["ANC", "1.496", "10^9/L", "1.5", "7.0"], ["GGT", "0.672", "ukat/L", "0.12", "0.67"]]
        return df

    study, report = build_study(read_records(records_copy(labs=edit)))
    assert len(report) == 0
    lb = study["LB"]
    rows = {(r.LBTESTCD, r.LBORRES): r for r in lb[lb.LBORRES.isin(["1496", "7004", "1.496", "0.672"])].itertuples()}
    assert (rows["NEUT", "1496"].LBSTRESN, rows["NEUT", "1496"].LBSTNRLO) == (1.5, 1.5)  # rounded: on the limit
    assert rows["NEUT", "1496"].LBNRIND == "LOW"
    assert rows["NEUT", "7004"].LBNRIND == "HIGH"
    assert rows["NEUT", "1.496"].LBNRIND == "LOW"
    assert (rows["GGT", "0.672"].LBSTRESN, rows["GGT", "0.672"].LBSTNRHI) == (40, 40)
    assert rows["GGT", "0.672"].LBNRIND == "HIGH"
    # and the validation of the output does not call them contradictions (MSC-SDTM-016 allows LOW / HIGH on a limit)
    from msc_interop.validate import validate_study

    assert not [f for f in validate_study(study).findings if f.rule_id == "MSC-SDTM-016"]


@pytest.mark.parametrize("seed", range(6))
def test_reference_dates_per_subject_are_the_sorted_first_and_last(seed: int) -> None:
    """dm._per_subject (ranks of the distinct dates) gives what sorting EX by subject and date and taking each
    subject's first (last) date gave: nulls skipped, "" a date like any other, subjects without a date NaN."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    ex = pd.DataFrame({"USUBJID": rng.choice(np.array(["A", "B", "C", None], dtype=object), n),
                       "EXSTDTC": rng.choice(np.array(["2020-01-01", "2020-01-01T10:00", "2019-12-31", "", None,
                                                       np.nan, "2020-02"], dtype=object), n)})
    subjects = pd.Series(["A", "B", "C", "D"])
    ordered = ex.assign(_d=ex["EXSTDTC"]).sort_values(["USUBJID", "_d"], kind="stable").groupby("USUBJID")["_d"]
    for want, latest in ((ordered.first(), False), (ordered.last(), True)):
        got = _per_subject(ex["USUBJID"], ex["EXSTDTC"], latest)
        assert subjects.map(got).astype(object).fillna("").tolist() == \
            subjects.map(want).astype(object).fillna("").tolist()
