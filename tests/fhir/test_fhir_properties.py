"""Property-based (hypothesis): dates, partial dates, missing values and odd strings survive SDTM -> FHIR -> SDTM,
and every resource written stays valid."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from fhir_fixtures import assert_same
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from msc_interop.fhir import read_fhir, write_fhir
from msc_interop.fhir.datetimes import dtc_to_fhir, fhir_to_dtc
from msc_interop.study import Study, StudyMeta

ZONES = ["Asia/Shanghai", "America/New_York", "UTC", "Europe/Berlin", "Australia/Lord_Howe"]

two = st.integers(0, 99).map(lambda n: f"{n:02d}")
dtc = st.one_of(
    st.datetimes(min_value=pd.Timestamp("1900-01-01").to_pydatetime(),
                 max_value=pd.Timestamp("2100-01-01").to_pydatetime()).flatmap(lambda d: st.sampled_from([
                     d.strftime("%Y-%m-%dT%H:%M"), d.strftime("%Y-%m-%dT%H:%M:%S"), d.strftime("%Y-%m-%dT%H:%M:00"),
                     d.strftime("%Y-%m-%dT%H:%M:%S.%f")[:23], d.strftime("%Y-%m-%d"), d.strftime("%Y-%m"),
                     d.strftime("%Y"), d.strftime("%Y---%d"), d.strftime("%Y-%m-%dT%H"),
                     d.strftime("%Y-%m-%d") + "/" + d.strftime("%Y-%m")])),
    st.builds(lambda y, m, d: f"{y:04d}-{m}-{d}", st.integers(0, 9999), two, two),   # anything, also 2009-02-30
    st.sampled_from(["", "UNK", "--12-15", "2003---15", "2009-10-04T24:00", "2009-13", "0000"]),
)


@settings(max_examples=200, deadline=None)
@given(values=st.lists(dtc, min_size=1, max_size=8), tz=st.sampled_from(ZONES))
def test_any_dtc_string_comes_back_identical(values: list[str], tz: str) -> None:
    s = pd.Series(values, dtype=object)
    fhir, keep = dtc_to_fhir(s, tz)
    assert all(v is None or isinstance(v, str) for v in fhir)
    back = fhir_to_dtc(fhir, tz, s.where(keep))
    assert back.tolist() == values


# JSON-escaped characters (quote, backslash, control characters), astral-plane emoji and CJK included: the
# Observations are written as templated JSON text (fhir/columns.py), which must escape exactly as orjson does
text_chars = st.characters(whitelist_categories=("Lu", "Ll", "Lo", "Nd", "Po", "Pd", "Sm", "Sc", "So"),
                           whitelist_characters=' /^*%()"\\\x00\x01\x1f\x7f😀中')
odd_text = st.one_of(st.just(""), st.text(text_chars, min_size=1, max_size=10))
number_text = st.one_of(
    st.decimals(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False, places=3).map(str),
    st.integers(-10**6, 10**6).map(str),
    st.sampled_from(["5.40", "0.60", "1e3", "-0", "007", "+5", " 5", "<0.5", ">=10", "NEGATIVE", "", "2.50E-3"]),
)
units = st.sampled_from(["", "10^9/L", "ug/L", "U/L", "umol/L", "g/dL", "mmol/L", "%", "cells"])
floats = st.one_of(st.just(float("nan")), st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: round(x, 3)))


@st.composite
def studies(draw: st.DrawFn) -> Study:
    n_subj = draw(st.integers(1, 3))
    subjects = [f"ST-{i}" if i else draw(st.sampled_from(["ST-0", "ST/0 (a)", "S" * 50])) for i in range(n_subj)]
    dm = pd.DataFrame({
        "STUDYID": "ST", "DOMAIN": "DM", "USUBJID": subjects, "SUBJID": [str(i) for i in range(n_subj)],
        "RFSTDTC": [draw(dtc) for _ in subjects], "SITEID": [draw(st.sampled_from(["", "01", "02"])) for _ in subjects],
        "AGE": [draw(st.one_of(st.none(), st.integers(0, 120))) for _ in subjects],
        "SEX": [draw(st.sampled_from(["M", "F", "U", "INTERSEX", "", "X"])) for _ in subjects],
        "ARMCD": [draw(st.sampled_from(["A", "B_1", ""])) for _ in subjects],
        "ARM": [draw(odd_text) for _ in subjects],
        "COUNTRY": [draw(st.sampled_from(["CHN", "USA", ""])) for _ in subjects],
    })
    n = draw(st.integers(1, 12))
    usubjid = [draw(st.sampled_from(subjects)) for _ in range(n)]
    seq = pd.Series(usubjid).groupby(usubjid).cumcount() + 1
    lb = pd.DataFrame({
        "STUDYID": "ST", "DOMAIN": "LB", "USUBJID": usubjid, "LBSEQ": seq,
        "LBTESTCD": [draw(st.sampled_from(["WBC", "ALT", "BILI", "ALB", "XYZ", ""])) for _ in range(n)],
        "LBTEST": [draw(odd_text) for _ in range(n)],
        "LBCAT": [draw(odd_text) for _ in range(n)],
        "LBORRES": [draw(number_text) for _ in range(n)],
        "LBORRESU": [draw(units) for _ in range(n)],
        "LBORNRLO": [draw(number_text) for _ in range(n)],
        "LBORNRHI": [draw(number_text) for _ in range(n)],
        "LBSTRESC": [draw(odd_text) for _ in range(n)],
        "LBSTRESN": [draw(floats) for _ in range(n)],
        "LBSTRESU": [draw(units) for _ in range(n)],
        "LBNRIND": [draw(st.sampled_from(["NORMAL", "HIGH", "", "ABNORMAL", "odd"])) for _ in range(n)],
        "LBNAM": [draw(odd_text) for _ in range(n)],
        "LBLOINC": [draw(st.sampled_from(["", "6690-2", "1975-2"])) for _ in range(n)],
        "LBSPEC": [draw(st.sampled_from(["", "SERUM", "BLOOD", "SWEAT?"])) for _ in range(n)],
        "VISITNUM": [draw(st.sampled_from([1.0, 2.0, 1.01, math.nan])) for _ in range(n)],
        "VISIT": [draw(odd_text) for _ in range(n)],
        "EPOCH": [draw(st.sampled_from(["SCREENING", "TREATMENT", ""])) for _ in range(n)],
        "LBDTC": [draw(dtc) for _ in range(n)],
        "LBDY": [draw(st.one_of(st.none(), st.integers(-400, 4000))) for _ in range(n)],
        "LBXNOTE": [draw(odd_text) for _ in range(n)],
        "LBXNUM": [draw(floats) for _ in range(n)],
    })
    lb["LBDY"] = lb["LBDY"].astype("Float64").astype("Int64")
    dm["AGE"] = dm["AGE"].astype("Float64").astype("Int64")
    meta = StudyMeta(studyid="ST", timezone=draw(st.sampled_from(ZONES)))
    return Study(meta, {"DM": dm, "LB": lb})


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(study=studies(), version=st.sampled_from(["R4", "R5"]), layout=st.sampled_from(["bundle", "ndjson"]))
def test_random_studies_round_trip_and_stay_valid(study: Study, version: str, layout: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        result = write_fhir(study, out, version=version, bundle="collection" if layout == "bundle" else "none",
                            ndjson=layout == "ndjson")
        assert result.findings == []
        back, report = read_fhir([out / "bundle.json"] if layout == "bundle" else [out])
        assert len(report) == 0, report.sorted()[:3]
        assert_same(study, back, ("DM", "LB"))
        assert np.isfinite(len(back["LB"]))
