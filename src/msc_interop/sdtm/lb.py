"""LB (Laboratory Test Results, SDTMIG 3.4 section 6.3.5): one record per test per visit per subject.

The hot path of the tool (studies have millions of lab rows), so everything here is column-wise: test
names, units and conversion factors are joined as tables; no Python loop runs per row.
Original result and range stay as collected (LBORRES, LBORNRLO/HI); standard results (LBSTRESC/N/U,
LBSTNRLO/HI) are in the test's standard unit via the factor in mappings/lab_tests.yaml; LBNRIND compares
the standard result with the standard range, limits inclusive.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_interop import dates, mappings
from msc_interop.columns_frame import frame_of_columns
from msc_interop.distinct import (
    column_codes,
    is_in,
    per_distinct,
    per_distinct_rows,
    row_codes,
    spread_answer,
    take_rows,
)
from msc_interop.lab_precision import resolution_decimals
from msc_interop.records.decimal_comma import decimal_comma_hints
from msc_interop.records.reader import RawRecords
from msc_interop.sdtm.common import (
    assign_seq,
    last_before_first_dose,
    map_terms,
    map_visits,
    normalize_dates,
    note_records,
    rows_at,
    subject_keys,
    visit_lookup,
)
from msc_interop.sdtm.reference_range import reference_indicator
from msc_interop.study import StudyMeta

FORM = "labs"
# ASCII digits only: \d matches other scripts' digits (Arabic-Indic, fullwidth), which pd.to_numeric refuses
_RESULT = r"^(?P<cmp><=|>=|<|>)?\s*(?P<num>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))$"


def build_lb(records: RawRecords, meta, dm: pd.DataFrame) -> pd.DataFrame:
    if FORM not in records.forms:
        return pd.DataFrame()
    read = records.forms[FORM]
    records.forms[FORM] = _in_seq_order(read, meta, dm)  # (the steps list their rejects in this order; the report
    try:  # is written sorted, RejectReport.sorted, and so are the notes: settle_kept)
        lb = _lb_rows(records, meta, dm)
    finally:  # the form left in file order, as the rejects left it
        left = records.forms[FORM]
        records.forms[FORM] = read if len(left) == len(read) else read[read.index.isin(left.index)]
    at = read.index  # each record's position in the file orders records equal in LBSEQ's and LBLOBXFL's keys
    in_file = lb.index.to_numpy() if at.equals(pd.RangeIndex(len(at))) else at.get_indexer(lb.index)
    lb["LBLOBXFL"] = last_before_exposure(lb, in_file)
    return assign_seq(lb.drop(columns="_first_dose"), "LBSEQ", mappings.seq_order("LB"), ties=in_file)


def _in_seq_order(df: pd.DataFrame, meta: StudyMeta, dm: pd.DataFrame) -> pd.DataFrame:
    """The lab rows sorted (stable) by USUBJID, LBTESTCD and VISITNUM as _lb_rows finds them (per distinct value),
    their index labels kept: the ~20 columns derived from them then come out in LBSEQ's order (a file lists a
    subject's tests per visit), and assign_seq's take of ~27 columns of a million rows becomes no take. Only the
    speed depends on these keys: assign_seq still sorts, its ties in file order."""
    if not {"subject_id", "test", "visit"} <= set(df.columns) or len(df) < 2:
        return df
    usubjid = dm.drop_duplicates("SUBJID").set_index("SUBJID")["USUBJID"]
    aliases, visits = mappings.lab_alias_map(), visit_lookup(meta)
    combined = np.zeros(len(df), dtype=np.int64)
    for col, key in (("subject_id", lambda u: u.map(usubjid)),
                     ("test", lambda u: u.astype(str).str.upper().map(aliases)),
                     ("visit", lambda u: u.astype(str).str.upper().map(visits))):
        codes, uniques = column_codes(df[col])
        ranks, _ = pd.factorize(key(pd.Series(np.asarray(uniques, dtype=object), dtype=object)), sort=True)
        width = len(uniques) + 1
        combined = combined * width + np.where(ranks < 0, width - 1, ranks)[codes]  # (unknown: last)
    if (np.diff(combined) >= 0).all():
        return df
    order = np.argsort(combined, kind="stable")
    out = take_rows(df, order)
    out.index = df.index[order]
    return out


def _lb_rows(records: RawRecords, meta, dm: pd.DataFrame) -> pd.DataFrame:
    """The LB variables but LBLOBXFL and LBSEQ, and the first dose (_first_dose), a row per lab record the steps
    keep (on the form's index)."""
    keys = subject_keys(records, FORM, dm, ("STUDYID", "USUBJID", "RFSTDTC", "RFXSTDTC"))
    testcd = map_terms(records, FORM, "test", mappings.lab_alias_map(), "a lab test of mappings/lab_tests.yaml",
                       required=True, hint=" (use the CDISC LBTESTCD, or map the site's own code to it in a lab map: "
                                           "--lab-map FILE, docs/lab-map.md)")
    df = records.forms[FORM]
    result = per_distinct(_comparator_and_number, df["result"])
    not_number = result["num"].isna()
    if not_number.any():
        why = per_distinct(lambda u: decimal_comma_hints("result", u), df["result"].where(not_number, ""))
        df = records.reject_rows(FORM, not_number, "result", why.where(why.ne(""), _NOT_A_NUMBER), code="REJ-REC-009")
    records.check_held(FORM, "result", lambda u: _comparator_and_number(u)["num"].isna() & u.ne(""),
                       lambda u: decimal_comma_hints("result", u).where(lambda h: h.ne(""), _NOT_A_NUMBER),
                       code="REJ-REC-009")
    df, factor = _conversion(records, testcd)
    visits = map_visits(records, FORM, meta, date="collection_datetime")
    lbdtc = normalize_dates(records, FORM, "collection_datetime")

    df = records.forms[FORM]
    idx = df.index
    tcd = rows_at(testcd, idx)
    tests = mappings.lab_test_table().set_index("LBTESTCD")
    decimals = per_distinct(lambda u: u.map(tests["decimals"]).astype("int64"), tcd)
    result = rows_at(result, idx)
    cmp = result["cmp"]
    exact = is_in(cmp, [""])  # (per distinct comparator, not per row)
    num = per_distinct(lambda u: pd.to_numeric(u), result["num"])
    factor, visits, ref = rows_at(factor, idx), rows_at(visits, idx), rows_at(keys, idx)
    f = factor["factor"]
    std = _round(num * f, decimals, f, result["num"])
    lo, hi = (per_distinct(lambda u: pd.to_numeric(u, errors="coerce"), df[c]) if c in df.columns
              else pd.Series(np.nan, index=idx) for c in ("ref_low", "ref_high"))
    st_lo, st_hi = (_round(lim * f, decimals, f, df[c] if c in df.columns else pd.Series("", index=idx))
                    for lim, c in ((lo, "ref_low"), (hi, "ref_high")))
    inverted = (lo > hi).to_numpy()  # (False where a bound is missing: NaN compares False)
    if inverted.any():  # converted as collected; no LBNRIND from a range upside down (4.15 in 10 - 1 was HIGH)
        note_records(records, FORM, inverted, "ref_low is above ref_high", (df["ref_low"], df["ref_high"]),
                     "converted as collected, LBNRIND left empty; correct the range at the source")
    text = _format(std)
    stresc = text if exact.all() else per_distinct_rows(  # "<" + "2.0" once per distinct pair
        lambda u: u["cmp"] + u["text"], frame_of_columns({"cmp": cmp, "text": text}, idx))

    def of_test(var: str) -> pd.Series:  # a variable the lab test table gives, looked up per distinct test
        return per_distinct(lambda u: u.map(tests[var]).astype(object), tcd)

    lb = frame_of_columns({
        "STUDYID": ref["STUDYID"], "DOMAIN": "LB", "USUBJID": ref["USUBJID"],
        "LBTESTCD": tcd, "LBTEST": of_test("LBTEST"), "LBCAT": of_test("LBCAT"),
        "LBORRES": df["result"], "LBORRESU": factor["unit"],
        "LBORNRLO": df["ref_low"] if "ref_low" in df.columns else "",
        "LBORNRHI": df["ref_high"] if "ref_high" in df.columns else "",
        "LBSTRESC": stresc,
        "LBSTRESN": std.where(exact),
        "LBSTRESU": of_test("LBSTRESU"),
        "LBSTNRLO": st_lo, "LBSTNRHI": st_hi,
        # in the lab's own units: the standard values are rounded to the test's decimals, which can put a result
        # just beyond a limit on it (ANC 1496/uL against 1500-7000: 1.5 in 10^9/L, NORMAL, where the lab said LOW)
        "LBNRIND": reference_indicator(num, cmp, *((lo, hi) if not inverted.any()
                                                   else (lo.where(~inverted), hi.where(~inverted)))),
        "LBNAM": df["lab_name"] if "lab_name" in df.columns else "",
        "LBLOINC": factor["LBLOINC"],
        "LBSPEC": of_test("LBSPEC"),
        "VISITNUM": visits["VISITNUM"], "VISIT": visits["VISIT"], "EPOCH": visits["EPOCH"],
        "LBDTC": rows_at(lbdtc, idx),
        "LBDY": dates.study_day(rows_at(lbdtc, idx), ref["RFSTDTC"]),
        "_first_dose": ref["RFXSTDTC"],
    }, idx)
    return lb


_NOT_A_NUMBER = ("result is not a number (write e.g. 5.2, or <2.0 / >1000 for a value beyond the assay limit; use "
                 "'.' as the decimal mark)")


def _comparator_and_number(u: pd.Series) -> pd.DataFrame:
    """The comparator ("" for none, "<", "<=", ">", ">=") and the number of each distinct result text (NaN: not a
    number)."""
    parts = u.str.extract(_RESULT)
    return pd.DataFrame({"cmp": parts["cmp"].fillna("").astype(object), "num": parts["num"].astype(object)},
                        index=parts.index)


def _conversion(records: RawRecords, testcd: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Normalise unit spellings to CDISC units, then join the test's factor to its standard unit (the join on
    the distinct test-and-unit pairs, spread back to the rows)."""
    df = records.forms[FORM]
    unit = (per_distinct(lambda u: mappings.normalize_unit(u).fillna(""), df["unit"]) if "unit" in df.columns
            else pd.Series("", index=df.index, dtype=object))  # (per distinct spelling: its codes known)
    key = frame_of_columns({"LBTESTCD": rows_at(testcd, df.index), "unit": unit}, df.index)  # (not copied: the
    # columns' codes stay known to row_codes)
    codes, first = row_codes(key)
    pairs = key.iloc[first].reset_index(drop=True)
    table = pairs.merge(mappings.lab_unit_factors(), how="left", on=["LBTESTCD", "unit"])
    if len(table) != len(pairs):  # pragma: no cover (the factor table has one row per test and unit)
        raise AssertionError("mappings/lab_tests.yaml: a test and unit with more than one factor")
    text = {c: table[c].astype(object) for c in table.columns if isinstance(table[c].dtype, pd.StringDtype)}
    joined = frame_of_columns({c: spread_answer(text.get(c, table[c]), codes, df.index) for c in table.columns},
                              df.index)
    missing = joined["factor"].isna()
    if missing.any():
        known = mappings.lab_unit_factors().groupby("LBTESTCD")["unit"].agg(", ".join)
        shown = df["unit"] if "unit" in df.columns else pd.Series("", index=df.index)
        why = ("unit '" + shown + "' cannot be converted for test " + key["LBTESTCD"] + " (known units: "
               + key["LBTESTCD"].map(known).fillna("") + "; add a factor in mappings/lab_tests.yaml)")
        df = records.reject_rows(FORM, missing, "unit", why.where(shown.ne(""), "unit is empty; a numeric "
                                 "result needs its unit (known units: " + key["LBTESTCD"].map(known).fillna("") + ")"),
                                 code="REJ-REC-010")
        joined = joined.loc[df.index]
    return df, joined


def _round(values: pd.Series, decimals: pd.Series, factor: pd.Series, original: pd.Series) -> pd.Series:
    """Round converted values to the test's decimals; values not converted (factor 1) keep their precision, and a
    non-zero value the decimals would make 0 keeps its `original` text's precision (lab_precision.py)."""
    out = values.copy()
    conv = factor.ne(1.0) & values.notna()
    for d in pd.unique(decimals[conv]):
        m = conv & decimals.eq(d)
        out[m] = values[m].round(int(d))
    zeroed = conv & out.eq(0) & values.ne(0)
    if zeroed.any():  # rare: once per distinct (original, factor, decimals)
        parts = pd.DataFrame({"o": original[zeroed].astype(str), "f": factor[zeroed], "d": decimals[zeroed]})
        for (o, f, d), rows in parts.groupby(["o", "f", "d"], sort=False).groups.items():
            out[rows] = values[rows].round(max(int(d), resolution_decimals(o, float(f))))
    return out


def _format(values: pd.Series) -> pd.Series:
    """Shortest text that reads back as the same float: 6.14 -> "6.14", 223.0 -> "223"; NaN -> ""."""
    def fmt(u: pd.Series) -> pd.Series:
        text = pd.Series(u.to_numpy(dtype="float64").astype(str), dtype=object).str.replace(r"\.0$", "", regex=True)
        return text.where(u.notna(), "").astype(object)

    return per_distinct(fmt, values)


def last_before_exposure(lb: pd.DataFrame, ties: np.ndarray | None = None) -> pd.Series:
    """LBLOBXFL: the last result on or before the first dose, per subject and test (common.last_before_first_dose)."""
    return last_before_first_dose(lb, lb["_first_dose"], dtc="LBDTC", result="LBSTRESC",
                                  by=["USUBJID", "LBTESTCD"], ties=ties)
