"""VS (Vital Signs, SDTMIG 3.4): one record per measurement per visit (and position) per subject, from vital_signs.csv.

Column-wise like LB (a study can hold millions of vital signs): names, units and conversions are joined as tables
(msc_interop.vital_signs, from mappings/vital_signs.yaml and units.yaml), standard results worked out once per
distinct (test, result, unit). VSORRES/VSORRESU stay as collected (the unit as its CDISC term); VSSTRESC/N/U are in
the test's standard unit (F -> C, LB -> kg, in -> cm). The baseline flag is VSLOBXFL from SDTMIG 3.4 on, VSBLFL
before (the version of mappings/sdtm_variables.yaml): the last non-missing result on or before the first dose.
"""

from __future__ import annotations

import pandas as pd

from msc_interop import dates, mappings, vital_signs
from msc_interop.columns_frame import frame_of_columns
from msc_interop.distinct import per_distinct, row_codes
from msc_interop.records.decimal_comma import decimal_comma_hints
from msc_interop.records.reader import RawRecords
from msc_interop.sdtm.common import (
    assign_seq,
    codelist_lookup,
    last_before_first_dose,
    map_terms,
    map_visits,
    normalize_dates,
    reject_bad_dates,
    subject_keys,
)

FORM = "vital_signs"
baseline_flag_name = vital_signs.baseline_flag_name  # (the derived-without notes name it too: derived_without.py)
# ASCII digits only: \d takes other scripts' digits (Arabic-Indic, fullwidth), which no number conversion reads
_NUMBER = r"^\s*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*$"
_NOT_A_NUMBER = "result is not a number (write e.g. 120 or 36.8; use '.' as the decimal mark)"


def build_vs(records: RawRecords, meta, dm: pd.DataFrame) -> pd.DataFrame:
    """VS from the vital_signs form; rows that cannot be mapped go to the reject report with the field and why."""
    if FORM not in records.forms:
        return pd.DataFrame()
    keys = subject_keys(records, FORM, dm)
    testcd = map_terms(records, FORM, "test", vital_signs.alias_map(), "a vital-sign test of mappings/vital_signs.yaml",
                       required=True, hint=" (use the CDISC VSTESTCD or VSTEST, or add an alias)")
    position = map_terms(records, FORM, "position", codelist_lookup("POSITION"), "a CDISC POSITION (C71148) term")
    df = records.forms[FORM]
    result = per_distinct(lambda u: pd.DataFrame({"number": u.str.match(_NUMBER), "orres": u.str.strip()}),
                          df["result"])  # the check and VSORRES in one pass over the distinct results
    number = result["number"].astype(bool)
    if (~number).any():
        why = per_distinct(lambda u: decimal_comma_hints("result", u), df["result"].where(~number, ""))
        records.reject_rows(FORM, ~number, "result", why.where(why.ne(""), _NOT_A_NUMBER), code="REJ-REC-009")
    records.check_held(FORM, "result", lambda u: ~u.str.match(_NUMBER).astype(bool) & u.ne(""),
                       lambda u: decimal_comma_hints("result", u).where(lambda h: h.ne(""), _NOT_A_NUMBER),
                       code="REJ-REC-009")
    unit = _units(records, testcd)
    vsdtc = _collected_dtc(records)
    visits = map_visits(records, FORM, meta, date="date")

    df = records.forms[FORM]
    idx = df.index
    ref = keys.loc[idx]
    tcd = testcd[idx]
    names = pd.Series({t.testcd: t.test for t in vital_signs.tests().values()})
    orres = result["orres"][idx].astype(object)
    std = vital_signs.standardize(tcd, orres, unit[idx])
    vs = frame_of_columns({
        "STUDYID": ref["STUDYID"], "DOMAIN": "VS", "USUBJID": ref["USUBJID"],
        "VSTESTCD": tcd, "VSTEST": tcd.map(names),
        **({"VSPOS": position[idx]} if "position" in df.columns else {}),
        "VSORRES": orres, "VSORRESU": unit[idx],
        "VSSTRESC": std["VSSTRESC"], "VSSTRESN": std["VSSTRESN"], "VSSTRESU": std["VSSTRESU"],
        "VISITNUM": visits.loc[idx, "VISITNUM"], "VISIT": visits.loc[idx, "VISIT"], "EPOCH": visits.loc[idx, "EPOCH"],
        "VSDTC": vsdtc[idx], "VSDY": dates.study_day(vsdtc[idx], ref["RFSTDTC"]),
    }, idx)
    flag = baseline_flag(vs, ref["RFXSTDTC"])
    vs.insert(vs.columns.get_loc("VISITNUM"), baseline_flag_name(), flag)
    return assign_seq(vs, "VSSEQ", mappings.seq_order("VS"))


def _units(records: RawRecords, testcd: pd.Series) -> pd.Series:
    """The CDISC unit of each row, per test (UCUM "/min" is beats/min for a pulse, breaths/min for a respiratory
    rate); rows whose unit the test does not have, or with no unit, are rejected (REJ-REC-010)."""
    df = records.forms[FORM]
    text = (per_distinct(lambda u: u.fillna("").str.strip().astype(object), df["unit"]) if "unit" in df.columns
            else pd.Series("", index=df.index, dtype=object))
    key = pd.DataFrame({"VSTESTCD": testcd[df.index].to_numpy(), "spelling": text.to_numpy()})
    table = vital_signs.unit_table()[["VSTESTCD", "spelling", "unit"]]
    unit = pd.Series(key.merge(table, how="left", on=["VSTESTCD", "spelling"])["unit"].to_numpy(), index=df.index)
    missing = unit.isna()
    if missing.any():
        known = key["VSTESTCD"].map(vital_signs.known_units).to_numpy()
        known = pd.Series(known, index=df.index)
        why = ("unit '" + text + "' is not a unit of test " + key["VSTESTCD"].to_numpy() + " (known units: " + known
               + "; add it to the test's units in mappings/vital_signs.yaml)")
        why = why.where(text.ne(""), "unit is empty; a vital-sign result needs its unit (known units: " + known + ")")
        records.reject_rows(FORM, missing, "unit", why, code="REJ-REC-010")
    return unit[~missing].astype(object)


def _collected_dtc(records: RawRecords) -> pd.Series:
    """VSDTC of each row: `date` + `time` joined (CDASH VSDAT + VSTIM -> VSDTC), then checked as a date. Both steps
    run once per distinct (date, time) pair (a few per subject visit; a million rows share them). A time with a
    partial date, or a date that has its own time, is rejected; then a date that is not valid (REJ-REC-007)."""
    df = records.forms[FORM]
    if "time" not in df.columns:
        return normalize_dates(records, FORM, "date")
    codes, first = row_codes(df[["date", "time"]])
    joined = _date_with_time(df[["date", "time"]].iloc[first].reset_index(drop=True))
    dtc, bad_date = dates.normalize_collected(joined)  # per distinct pair, spread to the rows below

    def spread(values: pd.Series) -> pd.Series:
        return pd.Series(values.to_numpy()[codes], index=df.index, dtype=values.dtype)

    combined = spread(joined)
    bad = combined.isna()
    if bad.any():
        records.reject_rows(FORM, bad, "date", "'date' is not a valid date for a measurement with a 'time': the "
                            "time needs a complete date (YYYY-MM-DD, without a time of its own)", code="REJ-REC-007")
    kept = records.forms[FORM].copy()
    kept["date"] = combined  # aligned on the index: the rows that remain
    records.forms[FORM] = kept
    dtc, bad_date = spread(dtc), spread(bad_date)
    if bad.any():
        dtc, bad_date = dtc[kept.index], bad_date[kept.index]
    return reject_bad_dates(records, FORM, "date", dtc, bad_date)


def _date_with_time(pairs: pd.DataFrame) -> pd.Series:
    """date + "T" + time where there is a time (None where the time cannot join the date), else the date."""
    time = pairs["time"].fillna("").astype(object)
    date = pairs["date"].fillna("").astype(object)
    has_time = time.ne("")
    full_date = date.str.len().eq(10) & ~date.str.contains("UN", case=False, regex=False)
    out = date.where(~has_time, date + "T" + time).astype(object)
    return out.where(~(has_time & ~full_date), None)


def baseline_flag(vs: pd.DataFrame, first_dose: pd.Series) -> pd.Series:
    """"Y" on the last non-missing result on or before the first dose, per subject and test (and position)."""
    by = ["USUBJID", "VSTESTCD", *(["VSPOS"] if "VSPOS" in vs.columns else [])]
    return last_before_first_dose(vs, first_dose, dtc="VSDTC", result="VSORRES", by=by)


__all__ = ["FORM", "baseline_flag_name", "build_vs"]
