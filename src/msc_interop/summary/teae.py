"""Treatment-emergent adverse events, with partial start dates imputed.

TEAE: analysis start on or after the first dose (RFXSTDTC, else the first EXSTDTC) and, when a window is set, no
later than the last dose date (RFXENDTC, else the last EXENDTC/EXSTDTC) + window days. The start is compared as
admiral's ``derive_var_trtemfl(start_date = ASTDTM, trt_start_date = TRTSDTM)`` does (ASTDTM >= TRTSDTM) when both
carry a clock time: an AESTDTC with a complete date and a time to the minute (or second), and a first dose with one,
are compared as date-times, at the precision both have (an AE at 09:26:30 is not before a dose at 09:26; one at
09:25 is). When either has no clock time (a date only, an hour only, a partial or imputed start) the dates are
compared (ASTDT >= TRTSDT): the same day counts as emergent, the conservative choice. The default window is None (no
upper limit: until the end of the study), the default of ``derive_var_trtemfl(end_window = NULL)`` and the rule of
the CDISC pilot's ADAE (TRTEMFL = ASTDT >= TRTSDT, dates only there); SAPs often use 30 days (``summary --te-window
30``). In SDTM each AE record is one event at one severity: a worsening is recorded as a new AE record with its own
AESTDTC (SDTMIG AE assumptions), so the onset rule catches it.

Partial AESTDTC imputation (ADaM-style: the PhUSE "partial dates" white paper and admiral's ``derive_vars_dt``
with ``date_imputation = "first"`` and ``min_dates = TRTSDT``), flagged like ASTDTF:
- missing day ("2014-03"): the first of the month, or the first dose date when in the month of the first dose (D);
- missing month ("2014"): 1 January, or the first dose date when in the year of the first dose (M);
- missing entirely: the first dose date, unless a complete AEENDTC is before it (Y); not imputed otherwise.
"""

from __future__ import annotations

import pandas as pd

from msc_interop import dates, iso8601

FLAG_TEXT = {"": "", "D": "day imputed", "M": "month and day imputed", "Y": "date imputed"}


def _impute_one(dtc: str, first: pd.Timestamp | None, end: pd.Timestamp | None) -> tuple[pd.Timestamp | None, str]:
    text = (dtc or "").strip()
    m = iso8601.SDTM_DTC_PARTS.match(text) if text else None
    has_first = first is not None and not pd.isna(first)
    if m is None:
        if text == "" and has_first and (end is None or pd.isna(end) or end >= first):
            return first, "Y"
        return None, ""
    year, month, day = int(m.group(1)), m.group(2), m.group(3)
    month_ok = month is not None and month != "-"
    day_ok = day is not None and day != "-"
    if month_ok and day_ok:
        return pd.Timestamp(year, int(month), int(day)), ""
    if month_ok:
        if has_first and first.year == year and first.month == int(month):
            return first, "D"
        return pd.Timestamp(year, int(month), 1), "D"
    if has_first and first.year == year:
        return first, "M"
    return pd.Timestamp(year, 1, 1), "M"


def flag(ae: pd.DataFrame, doses: pd.DataFrame, window: int | None) -> pd.DataFrame:
    """ae (USUBJID, AESTDTC, AEENDTC) with ASTDT, ASTDTF, TEAE ("Y"/"N") and TEREASON (why not TE).

    `doses`: USUBJID, first, last (first/last dose dates of the safety population; others are not treated).
    """
    d = doses.drop_duplicates("USUBJID").set_index("USUBJID")
    first = ae["USUBJID"].map(d["first"])
    last = ae["USUBJID"].map(d["last"])
    end = dates.date_part(ae["AEENDTC"])
    astdt, astdtf = [], []
    cache: dict[tuple, tuple] = {}
    for dtc, f, e in zip(ae["AESTDTC"], first, end, strict=True):
        k = (dtc, f, e)
        if k not in cache:
            cache[k] = _impute_one(dtc, None if pd.isna(f) else f, None if pd.isna(e) else e)
        astdt.append(cache[k][0])
        astdtf.append(cache[k][1])
    out = ae.copy()
    out["ASTDT"] = pd.to_datetime(pd.Series(astdt, index=ae.index, dtype=object))
    out["ASTDTF"] = astdtf
    reason = pd.Series("", index=ae.index, dtype=object)
    in_safety = ae["USUBJID"].isin(d.index)
    reason[~in_safety] = "subject not in the safety population"
    # a treated subject whose first dose date the input does not give: counted as treatment-emergent (conservative)
    unknown = in_safety & first.isna()
    reason[reason.eq("") & ~unknown & out["ASTDT"].isna()] = "start date unknown"
    reason[reason.eq("") & (out["ASTDT"] < first)] = "before first dose"
    if "first_dtc" in d and len(ae):
        # on the day of the first dose: before the dose when both carry a clock time (to the minute at least) and
        # the AE's is earlier, compared at the precision both have (09:26:30 is not before a dose at 09:26)
        first_dtc = ae["USUBJID"].map(d["first_dtc"]).fillna("").astype(str)
        start = ae["AESTDTC"].fillna("").astype(str).str.strip()
        timed = start.str.match(iso8601.COMPLETE_DATETIME) & first_dtc.str.match(iso8601.COMPLETE_DATETIME)
        earlier = timed & pd.Series(dates.certainly_before(start, first_dtc), index=ae.index)
        reason[reason.eq("") & out["ASTDTF"].eq("") & earlier] = "before first dose"
    if window is not None:
        late = reason.eq("") & last.notna() & (out["ASTDT"] > last + pd.Timedelta(days=int(window)))
        reason[late] = f"more than {window} days after last dose"
    out["TEAE"] = reason.eq("").map({True: "Y", False: "N"})
    out["TEREASON"] = reason
    return out


def rule_text(window: int | None) -> str:
    end = ("no later than the end of the study (no window after the last dose)" if window is None else
           f"no later than {window} days after the last dose date (RFXENDTC, else the last EX date)")
    return ("Treatment-emergent (TEAE): analysis start date on or after the first dose date (RFXSTDTC, else the "
            "first EXSTDTC), on that day on or after the first dose's time when the AE start and the first dose "
            f"both have a clock time, and {end}. Partial AESTDTC imputed ADaM-style: missing day -> first of the "
            "month, missing month -> 1 January, in both cases the first dose date when in the same month/year; missing "
            "start -> the first dose date (unless the AE ended before it).")
