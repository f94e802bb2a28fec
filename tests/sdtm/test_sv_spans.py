"""sdtm/sv.py visit_spans: SV's per-visit dates and names on integer codes, as pandas' groupby of the rows gives
them (first VISIT given, the EPOCH at the visit's start, the latest date, the earliest and latest complete dates),
on random parts with missing subjects, visits, names and dates, partial dates and datasets without VISIT or
EPOCH; and hand-worked visits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from msc_interop import iso8601
from msc_interop.distinct import per_distinct
from msc_interop.sdtm.sv import _Dated, _per_visit, _span_codes, _text_ranks, visit_spans


def _epoch_at_start(allv: pd.DataFrame, complete: pd.Series, order: list[str], texts: np.ndarray) -> pd.DataFrame:
    """Per subject and visit, by sorting the rows: EPOCH, the one at the start (SDTMIG 3.4 SV assumption 15a; the
    rows with an EPOCH sorted by: empty EPOCH last, complete dates first and earliest first, a complete date/time
    that begins with the (shorter) complete date/time of a row of its visit with a non-empty EPOCH counting as the
    shortest such (a day holds its hours, an hour its minutes), partial ones latest first, then the epoch's place
    in `order`, then the others by text); LAST, the last epoch in that order among the rows at the same place as
    the first (EPOCH itself when it is empty: there was no choice); FROM, the first row's date (the containing
    one's for a row so counted) where it is not SVSTDTC's (None: it is, or EPOCH is empty); TIE, where LAST is
    another: every epoch at that place in that order, and whether a row there was so counted (FINER)."""
    keys = ["USUBJID", "VISITNUM"]
    text_of = pd.Series(texts[allv["DTC"].to_numpy()], index=allv.index, dtype=object)
    given = allv["EPOCH"].notna() & allv["EPOCH"].astype(str).str.strip().ne("")  # (no epoch: contains nothing)
    anchors = allv.loc[complete & given, keys].assign(a=text_of).drop_duplicates()
    pairs = allv.loc[complete, keys].assign(t=text_of, i=lambda d: d.index).merge(anchors, on=keys)
    pairs = pairs[np.array([t.startswith(a) for t, a in zip(pairs["t"], pairs["a"], strict=True)], dtype=bool)]
    shortest = pairs.assign(n=pairs["a"].str.len()).sort_values(["i", "n"]).groupby("i").head(1).set_index("i")["a"]
    rank_of = {t: i for i, t in enumerate(texts)}
    at = allv["DTC"].copy()
    at.loc[shortest.index] = shortest.map(rank_of).to_numpy()
    rows = allv.assign(at=at.astype(np.int64))[allv["EPOCH"].notna()].assign(complete=complete)
    text = rows["EPOCH"].astype(str).str.strip()
    rows = rows.assign(empty=text.eq(""), known=text.map({e: i for i, e in enumerate(order)}).fillna(len(order)),
                       text=text, raw=rows["EPOCH"].astype(str),
                       when=np.where(rows["complete"], rows["at"], -rows["at"]),
                       contained=rows["complete"] & rows["at"].ne(rows["DTC"]))
    by = [*keys, "empty", "complete", "when", "known", "text", "raw"]  # (raw: " " and "" in a set order)
    ordered = rows.sort_values(by, ascending=[True, True, True, False, True, True, True, True])
    first = ordered.groupby(keys).head(1)
    last = rows.sort_values(by, ascending=[True, True, True, False, True, False, False, False]).groupby(keys).head(1)
    first, last = first.set_index(keys).sort_index(), last.set_index(keys).sort_index()
    ends = allv.assign(c=allv["DTC"].where(complete)).groupby(keys).agg(c=("c", "min"), p=("DTC", "max"))
    starts = ends["c"].fillna(ends["p"])  # (SVSTDTC: the earliest complete date, else the latest partial one)
    moved = ~first["empty"] & first["at"].ne(starts.reindex(first.index))
    place = ["empty", "complete", "when"]
    at_start = ordered.merge(first[place].reset_index(), on=[*keys, *place])
    tie = at_start.groupby(keys, sort=True).agg(TIE=("raw", lambda e: list(dict.fromkeys(e))),
                                                FINER=("contained", "any"))
    tie = tie[~first["empty"] & (tie["TIE"].str.len() > 1)]
    return pd.DataFrame({"EPOCH": first["EPOCH"], "LAST": last["EPOCH"].where(~first["empty"], first["EPOCH"]),
                         "FROM": first["at"].where(moved).astype(object)}).join(tie)


def _by_groupby(frames, order: list[str] | None = None):
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
    sv = allv.groupby(keys, sort=True).agg(VISIT=("VISIT", "first"), PARTIAL=("DTC", "max")).reset_index()
    epoch = _epoch_at_start(allv, complete, order or [], np.asarray(texts, dtype=object)).reset_index()
    sv = sv.merge(epoch, on=keys, how="left")
    span = allv[complete].groupby(keys, sort=True).agg(SVSTDTC=("DTC", "min"), SVENDTC=("DTC", "max")).reset_index()
    sv = sv.merge(span, on=keys, how="left")
    texts = np.asarray(texts, dtype=object)
    sv["PARTIAL"] = texts[sv["PARTIAL"].to_numpy()]
    for col in ("SVSTDTC", "SVENDTC", "FROM"):
        at = sv[col].to_numpy(dtype="float64")
        sv[col] = pd.Series(np.where(np.isnan(at), None, texts[np.nan_to_num(at).astype(np.int64)]), dtype=object)
    for col in ("EPOCH", "LAST"):  # (no row with an EPOCH: None, as visit_spans gives it)
        sv[col] = sv[col].astype(object).where(sv[col].notna(), None)
    return sv[[*keys, "VISIT", "EPOCH", "PARTIAL", "SVSTDTC", "SVENDTC", "LAST", "FROM", "TIE", "FINER"]]



def _parts(rng: np.random.Generator) -> list[tuple[pd.DataFrame, str]]:
    frames = []
    for _ in range(rng.integers(1, 4)):
        n = int(rng.integers(0, 40))
        pool = 5 if rng.random() < 0.3 else 3
        subj = np.array(["S1", "S2", "S10", None, "S3"], dtype=object)[rng.integers(0, pool, n)]
        vn = np.array([1.0, 2.0, 10.0, np.nan, 1.5])[rng.integers(0, 5, n)]
        vis = np.array(["V1", "V2", None, "", "Unsched"], dtype=object)[rng.integers(0, 5, n)]
        ep = np.array(["SCREENING", "TREATMENT", None, np.nan, "", "FOLLOW-UP", " "],
                      dtype=object)[rng.integers(0, 7, n)]
        # (times to the hour, minute and second: a less precise one contains the more precise ones it begins)
        dt = np.array(["2020-01-02", "2020-01", "2019-12-31T10:00", "", None, "2020", "2020-01-02T08:00",
                       "2021-05-06", "2020-01-02T07:30", "2021-05-06T09:00", "2020-01-02T08", "2020-01-02T08:00:30",
                       "2020-01-02T07:30:15", "2021-05-06T09:00:00"], dtype=object)[rng.integers(0, 14, n)]
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
    orders = [[], ["SCREENING", "TREATMENT", "FOLLOW-UP"], ["TREATMENT", "SCREENING"]]
    for i in range(100):
        frames = _parts(rng)
        order = orders[i % 3]
        expected = _by_groupby(frames, order)
        parts = [_Dated(df, c) for df, c in frames if not df.empty]
        got = visit_spans(parts, order)
        if expected is None or got is None:
            assert expected is None and got is None
            continue
        expected = expected.reset_index(drop=True)
        for c in ("USUBJID", "PARTIAL", "VISIT", "EPOCH"):  # (pandas infers str for these; SV holds objects)
            expected[c] = expected[c].astype(object)
        pd.testing.assert_frame_equal(got, expected.drop(columns=["LAST", "FROM", "TIE", "FINER"]),
                                      check_index_type=False)
        spans = _span_codes(parts, order)  # what the notes of build_sv read: the tie's other end, the date moved to
        last = [None if np.isnan(c) else spans.epochs[int(c)] for c in spans.epoch_last]
        moved = [None if np.isnan(c) else spans.texts[int(c)] for c in spans.epoch_from]
        assert last == expected["LAST"].tolist() and moved == expected["FROM"].tolist()
        ties = {v: [spans.epochs[c] for c in spans.tie_epoch[spans.tie_visit == v]] for v in set(spans.tie_visit)}
        tied = expected["TIE"].notna()
        assert ties == dict(zip(np.flatnonzero(tied).tolist(), expected["TIE"][tied], strict=True))
        assert np.flatnonzero(spans.finer).tolist() == np.flatnonzero(tied & expected["FINER"].eq(True)).tolist()


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


def _rows(rows: list[tuple[str, float, str, str | None]], dtc: str) -> pd.DataFrame:
    return pd.DataFrame({"USUBJID": pd.Series([r[0] for r in rows], dtype=object), "VISITNUM": [r[1] for r in rows],
                         dtc: pd.Series([r[2] for r in rows], dtype=object),
                         "EPOCH": pd.Series([r[3] for r in rows], dtype=object)})


# S1's visits, the datasets' rows not in date order: 2.01 straddles the first dose (08:00 SCREENING, 10:00
# TREATMENT, LB meets the later first); 3.01 starts with an LB and a VS record of one date/time in different
# epochs; 4.01's record at the start gives no epoch (""), a later one does; 5.01 is dated to the month only (its
# SVSTDTC the latest partial date, 2020-04); 6.01 gives only empty epochs
_LB = _rows([("S1", 2.01, "2020-01-02T10:00", "TREATMENT"), ("S1", 2.01, "2020-01-02T08:00", "SCREENING"),
             ("S1", 2.01, "2020-01-02T07:00", None),
             ("S1", 3.01, "2020-02-01T08:00", "TREATMENT"),
             ("S1", 4.01, "2020-03-01T09:00", "FOLLOW-UP"), ("S1", 4.01, "2020-03-01T08:00", ""),
             ("S1", 5.01, "2020", "TREATMENT"), ("S1", 5.01, "2020-04", "SCREENING"),
             ("S1", 6.01, "2020-05-01", "")], "LBDTC")
_VS = _rows([("S1", 3.01, "2020-02-01T08:00", "SCREENING")], "VSDTC")


@pytest.mark.parametrize("order, tie", [(["SCREENING", "TREATMENT", "FOLLOW-UP"], "SCREENING"),
                                        (["TREATMENT", "SCREENING"], "TREATMENT")])
def test_the_epoch_of_a_visit_is_the_one_at_its_start_by_hand(order: list[str], tie: str) -> None:
    """SDTMIG 3.4 SV assumption 15a: the EPOCH at the start of the visit, whatever the datasets' order; a tie at
    the start goes to the epoch earlier in the study's order (not the first met, nor the first by name)."""
    for parts in ([_Dated(_LB, "LBDTC"), _Dated(_VS, "VSDTC")], [_Dated(_VS, "VSDTC"), _Dated(_LB, "LBDTC")]):
        got = visit_spans(parts, order)
        assert got[["VISITNUM", "EPOCH", "SVSTDTC"]].values.tolist() == [
            [2.01, "SCREENING", "2020-01-02T07:00"],  # (07:00 gives no epoch; its null EPOCH is not "empty")
            [3.01, tie, "2020-02-01T08:00"],
            [4.01, "FOLLOW-UP", "2020-03-01T08:00"],
            [5.01, "SCREENING", None],
            [6.01, "", "2020-05-01"]]
        spans = _span_codes(parts, order)
        assert [None if np.isnan(c) else spans.epochs[int(c)] for c in spans.epoch_last] == [
            "SCREENING", "TREATMENT" if tie == "SCREENING" else "SCREENING", "FOLLOW-UP", "SCREENING", ""]
        assert [None if np.isnan(c) else spans.texts[int(c)] for c in spans.epoch_from] == [
            "2020-01-02T08:00", None, "2020-03-01T09:00", None, None]


def test_build_sv_names_the_visits_whose_epoch_was_a_choice_and_keeps_the_schedules() -> None:
    """Visit 2 is planned (TREATMENT in the schedule): its records at the start disagree, yet SV takes the
    schedule's EPOCH and says nothing. S1's unplanned 3.01 (a tie at the start) and 4.01 (no epoch at the start)
    get a note each, keyed by SUBJID and VISITNUM; the others none."""
    from msc_interop.derived_without import settle_derivations
    from msc_interop.rejects import RejectReport
    from msc_interop.sdtm.merge_parts import merge_report
    from msc_interop.sdtm.sv import build_sv

    schedule = pd.DataFrame({"VISITNUM": [1.0, 2.0], "VISIT": ["SCREEN", "DAY 1"], "EPOCH": ["SCREENING", "TREATMENT"],
                             "planned_dy": [-7, 1]})
    dm = pd.DataFrame({"STUDYID": ["ST", "ST"], "USUBJID": ["S1", "S2"], "SUBJID": ["01", "02"],
                       "RFSTDTC": ["2020-01-01", "2020-01-01"]}, dtype=object)
    lb = pd.concat([_LB, _rows([("S1", 2.0, "2019-12-31T08:00", "TREATMENT"),
                                ("S2", 3.01, "2020-02-01T08:00", "TREATMENT")], "LBDTC")], ignore_index=True)
    vs = pd.concat([_VS, _rows([("S1", 2.0, "2019-12-31T08:00", "SCREENING")], "VSDTC")], ignore_index=True)
    lb["VISIT"] = lb["VISITNUM"].map(lambda v: f"UNSCHEDULED {v:g}")
    vs["VISIT"] = vs["VISITNUM"].map(lambda v: f"UNSCHEDULED {v:g}")
    notes: dict[tuple[str, float], str] = {}
    sv = build_sv({"LB": lb, "VS": vs}, _meta(schedule), dm, notes)
    s1 = sv[sv["USUBJID"].eq("S1")]
    assert s1[["VISITNUM", "VISIT", "EPOCH"]].values.tolist() == [
        [2.0, "DAY 1", "TREATMENT"], [2.01, "UNSCHEDULED 2.01", "SCREENING"], [3.01, "UNSCHEDULED 3.01", "SCREENING"],
        [4.01, "UNSCHEDULED 4.01", "FOLLOW-UP"], [5.01, "UNSCHEDULED 5.01", "SCREENING"],
        [6.01, "UNSCHEDULED 6.01", ""]]
    assert sorted(notes) == [("01", 2.01), ("01", 3.01), ("01", 4.01)]
    assert notes[("01", 3.01)].startswith("subject 01: visit UNSCHEDULED 3.01 (VISITNUM 3.01) starting "
                                          "2020-02-01T08:00: its records at the start are in different epochs "
                                          "(SCREENING, TREATMENT): SV's EPOCH is SCREENING")
    assert ("no record of it at the start gives an EPOCH: SV's EPOCH is FOLLOW-UP, that of its earliest record that "
            "gives one (2020-03-01T09:00)") in notes[("01", 4.01)]
    # the notes of two parts of a load (two shares of the subjects) merge and settle in subject and visit order
    parts = [RejectReport(visit_notes={("02", 1.5): "subject 02: b"}),
             RejectReport(visit_notes={("01", 4.01): "subject 01: 4.01", ("01", 3.01): "subject 01: 3.01"})]
    whole = RejectReport()
    for part in parts:
        merge_report(whole, part)
    settle_derivations(whole)
    assert whole.notes == ["subject 01: 3.01", "subject 01: 4.01", "subject 02: b"] and not whole.visit_notes


def _visit(rows: list[tuple[str, str | None]], dtc: str, visitnum: float = 1.1) -> pd.DataFrame:
    """One subject's (S1) records of one unscheduled visit: (date, EPOCH) each."""
    df = _rows([("S1", visitnum, d, e) for d, e in rows], dtc)
    df["VISIT"] = f"UNSCHEDULED {visitnum:g}"
    return df


_ORDER = ["SCREENING", "TREATMENT", "FOLLOW-UP"]


def test_a_record_without_a_time_is_with_the_timed_records_of_its_day() -> None:
    """The infusion recorded without a time (EXSTDTC 2020-01-05, TREATMENT) sorts as text before the pre-dose
    samples at 08:00 (SCREENING) of that day, yet cannot be placed before or after them: the start day's records
    are all at the start, a tie the earlier epoch wins (with a note), whatever the order of the parts. SVSTDTC
    stays the earliest complete date. A day with no date-only record keeps its times' order (S2: 07:00 is first);
    a date-only record with an empty EPOCH gives the day no such moment (it could only make a tie of the day's
    timed records, so their times would no longer decide): S3's start is its date-only 2020-01-06, whose record
    gives no EPOCH, so SV's EPOCH is that of its earliest record that gives one, 08:00's (SCREENING; a note)."""
    lb = _visit([("2020-01-05T08:00", "SCREENING"), ("2020-01-05T08:00", "SCREENING")], "LBDTC")
    ex = _visit([("2020-01-05", "TREATMENT")], "EXSTDTC").assign(EXENDTC="2020-01-05T10:30")
    s2 = _rows([("S2", 1.1, "2020-01-06T07:00", "SCREENING"), ("S2", 1.1, "2020-01-06T09:00", "TREATMENT"),
                ("S2", 1.1, "2020-01-07", "FOLLOW-UP")], "LBDTC")
    s3 = _rows([("S3", 1.1, "2020-01-06", ""), ("S3", 1.1, "2020-01-06T08:00", "SCREENING")], "LBDTC")
    lb = pd.concat([lb, s2, s3], ignore_index=True)
    parts = [_Dated(lb, "LBDTC"), _Dated(ex, "EXSTDTC"), _Dated(ex, "EXENDTC")]
    for order in (parts, parts[::-1]):
        got = visit_spans(order, _ORDER)
        assert got[["USUBJID", "EPOCH", "SVSTDTC", "SVENDTC"]].values.tolist() == [
            ["S1", "SCREENING", "2020-01-05", "2020-01-05T10:30"],
            ["S2", "SCREENING", "2020-01-06T07:00", "2020-01-07"],
            ["S3", "SCREENING", "2020-01-06", "2020-01-06T08:00"]]
        spans = _span_codes(order, _ORDER)
        assert [spans.epochs[int(c)] for c in spans.epoch_last] == ["TREATMENT", "SCREENING", "SCREENING"]
        assert np.isnan(spans.epoch_from[:2]).all() and spans.texts[int(spans.epoch_from[2])] == "2020-01-06T08:00"
    from msc_interop.sdtm.sv import build_sv

    dm = pd.DataFrame({"STUDYID": "ST", "USUBJID": ["S1", "S2", "S3"], "SUBJID": ["01", "02", "03"],
                       "RFSTDTC": "2020-01-05"}, dtype=object)
    notes: dict[tuple[str, float], str] = {}
    build_sv({"LB": lb, "EX": ex}, _meta(_SCHEDULE), dm, notes)  # (EX: EXSTDTC and EXENDTC)
    assert list(notes) == [("01", 1.1), ("03", 1.1)]
    assert notes[("03", 1.1)].startswith(
        "subject 03: visit (VISITNUM 1.1) starting 2020-01-06: no record of it at the start gives an EPOCH: SV's "
        "EPOCH is SCREENING, that of its earliest record that gives one (2020-01-06T08:00) (SDTMIG 3.4 SV")
    assert notes[("01", 1.1)].startswith(
        "subject 01: visit UNSCHEDULED 1.1 (VISITNUM 1.1) starting 2020-01-05: its records of the start day, one of "
        "them dated without a time (so it cannot be put before or after the others: all are at the start), are in "
        "different epochs (SCREENING, TREATMENT): SV's EPOCH is SCREENING, the earlier in study.yaml's visit "
        "schedule (each epoch's place: its first planned visit) (SDTMIG 3.4 SV assumption 15a")


def test_a_later_day_with_a_record_without_a_time_is_one_moment_too() -> None:
    """No record at the start (07:00, no EPOCH) gives one; the next day's records, one of them without a time, are
    in different epochs: the earliest records that give one are that day's, a tie (the date named: the day's)."""
    lb = _visit([("2020-01-05T07:00", None), ("2020-01-06T08:00", "TREATMENT")], "LBDTC")
    ex = _visit([("2020-01-06", "SCREENING")], "EXSTDTC")
    spans = _span_codes([_Dated(lb, "LBDTC"), _Dated(ex, "EXSTDTC")], _ORDER)
    assert [spans.epochs[int(spans.epoch[0])], spans.epochs[int(spans.epoch_last[0])]] == ["SCREENING", "TREATMENT"]
    assert spans.texts[int(spans.epoch_from[0])] == "2020-01-06"
    from msc_interop.sdtm.sv import build_sv

    dm = pd.DataFrame({"STUDYID": ["ST"], "USUBJID": ["S1"], "SUBJID": ["01"], "RFSTDTC": ["2020-01-05"]})
    notes: dict[tuple[str, float], str] = {}
    build_sv({"LB": lb, "EX": ex}, _meta(_SCHEDULE), dm, notes)
    assert ("starting 2020-01-05T07:00: no record of it at the start gives an EPOCH, and its earliest records that "
            "give one (2020-01-06) are in different epochs (SCREENING, TREATMENT): SV's EPOCH is SCREENING, the "
            "earlier in study.yaml's visit schedule") in notes[("01", 1.1)]


def test_a_record_without_a_time_that_gives_no_epoch_leaves_the_times_to_decide() -> None:
    """A date-only record whose EPOCH is empty (S1, S2) or null (S3) says nothing of the epoch, so it does not make
    its day's timed records one moment: the times order them. S1 and S3: 08:00 RUN-IN is before 10:00 SCREENING,
    so RUN-IN, though SCREENING is the schedule's (a tie would give SCREENING). S2: 08:00 SCREENING is the earliest
    record that gives one, after the start (the date-only 2020-01-05, no EPOCH): SCREENING, and the note says so,
    not a tie (10:00 TREATMENT is later). S3's null EPOCH gives no EPOCH either: the same note as S2's."""
    from msc_interop.sdtm.sv import build_sv

    lb = pd.concat([
        _rows([("S1", 1.1, "2020-01-05", ""), ("S1", 1.1, "2020-01-05T08:00", "RUN-IN"),
               ("S1", 1.1, "2020-01-05T10:00", "SCREENING")], "LBDTC"),
        _rows([("S2", 1.1, "2020-01-05", " "), ("S2", 1.1, "2020-01-05T08:00", "SCREENING"),
               ("S2", 1.1, "2020-01-05T10:00", "TREATMENT")], "LBDTC"),
        _rows([("S3", 1.1, "2020-01-05", None), ("S3", 1.1, "2020-01-05T08:00", "RUN-IN"),
               ("S3", 1.1, "2020-01-05T10:00", "SCREENING")], "LBDTC")], ignore_index=True)
    spans = _span_codes([_Dated(lb, "LBDTC")], ["SCREENING", "TREATMENT"])
    assert [spans.epochs[int(c)] for c in spans.epoch] == ["RUN-IN", "SCREENING", "RUN-IN"]
    assert [spans.epochs[int(c)] for c in spans.epoch_last] == ["RUN-IN", "SCREENING", "RUN-IN"]  # (no tie)
    assert [spans.texts[int(c)] for c in spans.epoch_from] == ["2020-01-05T08:00"] * 3
    dm = pd.DataFrame({"STUDYID": "ST", "USUBJID": ["S1", "S2", "S3"], "SUBJID": ["01", "02", "03"],
                       "RFSTDTC": "2020-01-05"}, dtype=object)
    notes: dict[tuple[str, float], str] = {}
    sv = build_sv({"LB": lb}, _meta(_SCHEDULE), dm, notes)
    assert sv[["EPOCH", "SVSTDTC"]].values.tolist() == [["RUN-IN", "2020-01-05"], ["SCREENING", "2020-01-05"],
                                                        ["RUN-IN", "2020-01-05"]]
    assert list(notes) == [("01", 1.1), ("02", 1.1), ("03", 1.1)]
    for subject, epoch in (("01", "RUN-IN"), ("02", "SCREENING"), ("03", "RUN-IN")):
        assert (f"starting 2020-01-05: no record of it at the start gives an EPOCH: SV's EPOCH is {epoch}, that of "
                "its earliest record that gives one (2020-01-05T08:00) (SDTMIG") in notes[(subject, 1.1)]
        assert "different epochs" not in notes[(subject, 1.1)]


_SCHEDULE = pd.DataFrame({"VISITNUM": [1.0, 2.0], "VISIT": ["SCREEN", "DAY 1"], "EPOCH": ["SCREENING", "TREATMENT"],
                          "planned_dy": [-7, 1]})


@pytest.mark.parametrize("epochs, rule", [
    (("TREATMENT", "SCREENING"), "(SCREENING, TREATMENT): SV's EPOCH is SCREENING, the earlier in study.yaml's visit "
                                 "schedule (each epoch's place: its first planned visit)"),
    (("RUN-IN", "SCREENING"), "(SCREENING, RUN-IN): SV's EPOCH is SCREENING, the one study.yaml's visit schedule "
                              "names (RUN-IN is not among its epochs)"),
    (("WASHOUT", "RUN-IN"), "(RUN-IN, WASHOUT): SV's EPOCH is RUN-IN, the first by name, as neither is an epoch of "
                            "study.yaml's visit schedule")])
def test_a_tie_note_names_the_order_it_used(epochs: tuple[str, str], rule: str) -> None:
    """The schedule's epochs (SCREENING, TREATMENT) come first, in its order; the others after them by name: the
    note says which of the two decided."""
    from msc_interop.sdtm.sv import build_sv

    lb = _visit([("2020-01-05T08:00", epochs[0]), ("2020-01-05T08:00", epochs[1])], "LBDTC")
    dm = pd.DataFrame({"STUDYID": ["ST"], "USUBJID": ["S1"], "SUBJID": ["01"], "RFSTDTC": ["2020-01-05"]})
    notes: dict[tuple[str, float], str] = {}
    build_sv({"LB": lb}, _meta(_SCHEDULE), dm, notes)
    assert f"its records at the start are in different epochs {rule} (SDTMIG" in notes[("01", 1.1)]


def test_a_note_on_a_partly_dated_visit_says_the_latest_partial_date_was_taken() -> None:
    """SVSTDTC of a visit without a complete date is its latest partial date: the EPOCH of the records at it, else
    of the records of the next latest partial date that give one (not the earliest); with a complete date that
    gives no EPOCH, the partly dated records come after it, the latest first (S2)."""
    from msc_interop.sdtm.sv import build_sv

    lb = pd.concat([_visit([("2020", "SCREENING"), ("2020-03", "TREATMENT"), ("2020-04", "")], "LBDTC"),
                    _rows([("S2", 1.1, "2020-05-02", None), ("S2", 1.1, "2020", "SCREENING"),
                           ("S2", 1.1, "2020-03", "TREATMENT")], "LBDTC").assign(VISIT="UNSCHEDULED 1.1")],
                   ignore_index=True)
    dm = pd.DataFrame({"STUDYID": "ST", "USUBJID": ["S1", "S2"], "SUBJID": ["01", "02"], "RFSTDTC": "2020-01-05"})
    notes: dict[tuple[str, float], str] = {}
    sv = build_sv({"LB": lb}, _meta(_SCHEDULE), dm, notes)
    assert sv[["EPOCH", "SVSTDTC"]].values.tolist() == [["TREATMENT", "2020-04"], ["TREATMENT", "2020-05-02"]]
    assert ("starting 2020-04: no record of it at the start gives an EPOCH: SV's EPOCH is TREATMENT, that of its "
            "record of the latest partial date among those that give one (2020-03) (SDTMIG") in notes[("01", 1.1)]
    assert ("starting 2020-05-02: no record of it with a complete date gives an EPOCH: SV's EPOCH is TREATMENT, "
            "that of its record of the latest partial date among those that give one (2020-03)") in notes[("02", 1.1)]


def test_moments_look_up_only_the_timed_rows_of_a_date_only_day(monkeypatch: pytest.MonkeyPatch) -> None:
    """_moments by hand, texts 0 2020-01-05, 1 2020-01-05T08:00, 2 2020-01-07, 3 2020-01-07T09:00, 4 2020-01-08,
    5 2020-01-08T10:00. Visit 0 has 2020-01-05 without a time: its 08:00 is at that date (0). Visit 1's 08:00 of
    2020-01-05 stays (1: visit 1 has no date-only record that day); its 09:00 of 2020-01-07 is at 2020-01-07 (2).
    Visit 2's 2020-01-08 is not given as date-only (its EPOCH empty): its 10:00 stays (5), and np.isin is asked
    only about the 3 timed rows whose day is a date-only text, not about that one too."""
    from msc_interop.sdtm import sv

    key = np.array([0, 0, 1, 1, 1, 2, 2], dtype=np.int64)
    rank = np.array([0, 1, 1, 3, 2, 4, 5], dtype=np.int64)
    date_only = np.array([True, False, False, False, True, False, False])
    asked: list[int] = []
    isin = np.isin

    def spy(element: np.ndarray, test_elements: np.ndarray) -> np.ndarray:
        asked.append(len(element))
        return isin(element, test_elements)

    monkeypatch.setattr(np, "isin", spy)
    within = [np.array([-1, 0, -1, 2, -1, 4], dtype=np.int64)]  # (each text's day; the rows' codes: their ranks)
    assert sv._moments(key, rank, rank, within, date_only, 6).tolist() == [0, 0, 1, 2, 2, 4, 5]
    assert asked == [3]
    assert sv._moments(key, rank, rank, within, np.zeros(7, dtype=bool), 6).tolist() == rank.tolist()
    assert asked == [3]


def test_no_date_only_text_skips_the_days_of_the_texts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The day of each timed text (its first 10 characters looked up among the texts) is needed only when some
    text is a date without a time: with none, no text is cut (1M rows, up to a million distinct texts)."""
    string_methods = type(pd.Series(["a"], dtype=object).str)  # (pandas' .str accessor, wherever it lives)
    cut: list[int] = []
    getitem = string_methods.__getitem__

    def spy(self: object, key: slice) -> pd.Series:
        cut.append(1)
        return getitem(self, key)

    monkeypatch.setattr(string_methods, "__getitem__", spy)
    lb = _visit([("2020-01-05T08:00", "SCREENING"), ("2020-01-05T10:00", "TREATMENT"), ("2020-01", "")], "LBDTC")
    got = visit_spans([_Dated(lb, "LBDTC")], _ORDER)
    assert got[["EPOCH", "SVSTDTC", "SVENDTC"]].values.tolist() == [["SCREENING", "2020-01-05T08:00",
                                                                      "2020-01-05T10:00"]]
    assert not cut
    visit_spans([_Dated(_visit([("2020-01-05", "SCREENING"), ("2020-01-05T08:00", "")], "LBDTC"), "LBDTC")], _ORDER)
    assert cut  # (the spy sees the cut where a date-only text exists)


@pytest.mark.parametrize("seed", range(10))
def test_text_ranks_are_pandas_sorted_factorize(seed: int) -> None:
    """_text_ranks (ASCII text sorted as big-endian words) ranks and sorts as pd.factorize(sort=True): prefixes,
    lengths across a word's end, and the text it leaves to pandas (not ASCII, a NUL, a value twice)."""
    rng = np.random.default_rng(seed)
    chars = np.array(list("0129-T: a~") + ["\u00e9", "\0"] * (seed % 2))
    values = list(dict.fromkeys("".join(rng.choice(chars, int(rng.integers(0, 19)))) for _ in range(200)))
    if seed % 3 == 0:
        values.append(values[0])
    text = pd.Series(values, dtype=object)
    rank, ordered = _text_ranks(text)
    codes, uniques = pd.factorize(text, sort=True)
    assert rank.tolist() == codes.tolist()
    assert list(ordered) == list(uniques)


@pytest.mark.parametrize("seed", range(6))
def test_per_visit_is_pandas_groupby(seed: int) -> None:
    """_per_visit (ufunc.at on the visits' numbers) is pandas' groupby(sort=True).agg, on keys few or spread far
    apart (numbered by pd.factorize then), NaN VISIT codes and complete dates included."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    key = rng.integers(0, 30, n) * (1 if seed % 2 else 10**7)
    visit = np.where(rng.random(n) < 0.4, np.nan, rng.integers(0, 5, n).astype(float))
    first, last = rng.integers(0, 50, n), rng.integers(0, 50, n)
    rank = rng.integers(0, 80, n).astype(float)
    complete = np.where(rng.random(n) < 0.5, np.nan, rank)
    keys, got = _per_visit(key, visit, first, last, rank, complete)
    want = pd.DataFrame({"key": key, "visit": visit, "first": first, "last": last, "rank": rank,
                         "complete": complete}).groupby("key", sort=True).agg(
        visit=("visit", "first"), first=("first", "min"), last=("last", "min"), partial=("rank", "max"),
        start=("complete", "min"), end=("complete", "max"))
    assert keys.tolist() == want.index.tolist()
    for name in want.columns:
        np.testing.assert_array_equal(got[name], want[name].to_numpy(), err_msg=name)
        assert got[name].dtype == want[name].dtype, name
