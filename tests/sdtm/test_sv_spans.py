"""sdtm/sv.py visit_spans: SV's per-visit dates and names on integer codes, as pandas' groupby of the rows gives
them (first VISIT / EPOCH given, the latest date, the earliest and latest complete dates), on random parts
with missing subjects, visits, names and dates, partial dates and datasets without VISIT or EPOCH; and a
hand-worked visit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from msc_interop import iso8601
from msc_interop.distinct import per_distinct
from msc_interop.sdtm.sv import _Dated, visit_spans


def _by_groupby(frames):
    """The rows copied and grouped by pandas (build_sv before it ran on codes)."""
    parts = []
    for df, col in frames:
        parts.append(pd.DataFrame({
            "USUBJID": df["USUBJID"].astype(object), "VISITNUM": df["VISITNUM"],
            "VISIT": df["VISIT"].astype(object) if "VISIT" in df.columns else "",
            "EPOCH": df["EPOCH"].astype(object) if "EPOCH" in df.columns else "",
            "DTC": df[col].astype(object)}))
    allv = pd.concat(parts, ignore_index=True)
    allv["DTC"] = per_distinct(lambda u: u.fillna("").astype(str).astype(object), allv["DTC"])
    allv = allv[per_distinct(lambda u: u.ne(""), allv["DTC"]) & allv["VISITNUM"].notna()]
    if allv.empty:
        return None
    complete = per_distinct(lambda u: u.str.match(iso8601.COMPLETE_DATE).astype(bool), allv["DTC"])
    keys = ["USUBJID", "VISITNUM"]
    rank, texts = pd.factorize(allv["DTC"], sort=True)
    allv = allv.assign(DTC=rank)
    sv = allv.groupby(keys, sort=True).agg(VISIT=("VISIT", "first"), EPOCH=("EPOCH", "first"),
                                           PARTIAL=("DTC", "max")).reset_index()
    span = allv[complete].groupby(keys, sort=True).agg(SVSTDTC=("DTC", "min"), SVENDTC=("DTC", "max")).reset_index()
    sv = sv.merge(span, on=keys, how="left")
    texts = np.asarray(texts, dtype=object)
    sv["PARTIAL"] = texts[sv["PARTIAL"].to_numpy()]
    for col in ("SVSTDTC", "SVENDTC"):
        at = sv[col].to_numpy(dtype="float64")
        sv[col] = pd.Series(np.where(np.isnan(at), None, texts[np.nan_to_num(at).astype(np.int64)]), dtype=object)
    return sv



def _parts(rng: np.random.Generator) -> list[tuple[pd.DataFrame, str]]:
    frames = []
    for _ in range(rng.integers(1, 4)):
        n = int(rng.integers(0, 40))
        pool = 5 if rng.random() < 0.3 else 3
        subj = np.array(["S1", "S2", "S10", None, "S3"], dtype=object)[rng.integers(0, pool, n)]
        vn = np.array([1.0, 2.0, 10.0, np.nan, 1.5])[rng.integers(0, 5, n)]
        vis = np.array(["V1", "V2", None, "", "Unsched"], dtype=object)[rng.integers(0, 5, n)]
        ep = np.array(["SCREENING", "TREATMENT", None, np.nan], dtype=object)[rng.integers(0, 4, n)]
        dt = np.array(["2020-01-02", "2020-01", "2019-12-31T10:00", "", None, "2020", "2020-01-02T08:00",
                       "2021-05-06"], dtype=object)[rng.integers(0, 8, n)]
        df = pd.DataFrame({"USUBJID": pd.Series(subj, dtype=object), "VISITNUM": vn,
                           "XXDTC": pd.Series(dt, dtype=object)})
        if rng.random() < 0.8:
            df["VISIT"] = pd.Series(vis, dtype=object)
        if rng.random() < 0.7:
            df["EPOCH"] = pd.Series(ep, dtype=object)
        frames.append((df, "XXDTC"))
    return frames


@pytest.mark.parametrize("seed", range(4))
def test_visit_spans_are_the_groupby_of_the_rows(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(100):
        frames = _parts(rng)
        expected = _by_groupby(frames)
        got = visit_spans([_Dated(df, c) for df, c in frames if not df.empty])
        if expected is None or got is None:
            assert expected is None and got is None
            continue
        expected = expected.reset_index(drop=True)
        for c in ("USUBJID", "PARTIAL", "VISIT", "EPOCH"):  # (pandas infers str for these; SV holds objects)
            expected[c] = expected[c].astype(object)
        pd.testing.assert_frame_equal(got, expected, check_index_type=False)


def test_a_visit_by_hand() -> None:
    """S1 visit 2: dated 2020-01-03 (LB) and 2020-01 and 2020-01-02T08:00 (EX): SVSTDTC is the earliest complete
    date, SVENDTC the latest, PARTIAL the latest text; VISIT the first one given; S1 visit 3 only partly dated."""
    lb = pd.DataFrame({"USUBJID": pd.Series(["S1", "S1", "S1"], dtype=object), "VISITNUM": [2.0, 2.0, 3.0],
                       "VISIT": pd.Series(["WEEK 1", "WEEK 1b", "WEEK 2"], dtype=object),
                       "LBDTC": pd.Series(["2020-01-03", "", "2020-02"], dtype=object)})
    ex = pd.DataFrame({"USUBJID": pd.Series(["S1", "S1"], dtype=object), "VISITNUM": [2.0, 2.0],
                       "EXSTDTC": pd.Series(["2020-01", "2020-01-02T08:00"], dtype=object)})
    got = visit_spans([_Dated(lb, "LBDTC"), _Dated(ex, "EXSTDTC")])
    assert got.to_dict("records") == [
        {"USUBJID": "S1", "VISITNUM": 2.0, "VISIT": "WEEK 1", "EPOCH": "", "PARTIAL": "2020-01-03",
         "SVSTDTC": "2020-01-02T08:00", "SVENDTC": "2020-01-03"},
        {"USUBJID": "S1", "VISITNUM": 3.0, "VISIT": "WEEK 2", "EPOCH": "", "PARTIAL": "2020-02",
         "SVSTDTC": None, "SVENDTC": None}]


def _meta(visits: pd.DataFrame):  # type: ignore[no-untyped-def]
    import types

    return types.SimpleNamespace(studyid="ST", visits=visits)


def test_build_sv_edges_as_before() -> None:
    """build_sv from the spans' codes keeps the edges of the frame it made before: no subject -> an empty SV of its
    11 columns; a visit the schedule does not hold keeps the records' VISIT/EPOCH, None where they give none."""
    from msc_interop.sdtm.sv import build_sv

    schedule = pd.DataFrame({"VISITNUM": [1.0], "VISIT": ["BASELINE"], "EPOCH": ["SCREENING"], "planned_dy": [1]})
    dm = pd.DataFrame({"STUDYID": ["ST"], "USUBJID": ["S1"], "RFSTDTC": ["2020-01-01"]}, dtype=object)
    nobody = pd.DataFrame({"USUBJID": pd.Series([None], dtype=object), "VISITNUM": [1.0], "LBDTC": ["2020-01-02"]})
    assert build_sv({"LB": nobody}, _meta(schedule), dm).shape == (0, 11)
    lb = pd.DataFrame({"USUBJID": pd.Series(["S1", "S1"], dtype=object), "VISITNUM": [1.0, 9.0],
                       "LBDTC": ["2020-01-02", "2020-01-09"], "VISIT": pd.Series(["V1", None], dtype=object),
                       "EPOCH": pd.Series(["E", None], dtype=object)})
    none = pd.DataFrame({"VISITNUM": pd.Series([], dtype=float), "VISIT": pd.Series([], dtype=object),
                         "EPOCH": pd.Series([], dtype=object), "planned_dy": pd.Series([], dtype=float)})
    sv = build_sv({"LB": lb}, _meta(none), dm)
    assert sv["VISIT"].tolist() == ["V1", None] and sv["EPOCH"].tolist() == ["E", None]
    assert sv["SVSTDY"].tolist() == [2, 9] and sv["VISITNUM"].tolist() == [1.0, 9.0]
