"""LBNRIND of other systems' lab Observations that carry no interpretation: derived from the result and the range.

A hospital Observation often gives a value and a referenceRange but no interpretation. LB then had a range and no
LBNRIND, while to-sdtm derives LBNRIND from the same two (sdtm/reference_range.py: the one derivation the builders,
the rules and the summary share), so the same result read from records and from FHIR differed. Here the records
without an interpretation get it the same way, counted in a note. Where the hospital's interpretation (LOW, NORMAL,
HIGH) contradicts the range the record was given, the hospital's value is kept (it is the source) and a note
counts them with an example. msc-interop's own Observations are left as they are: their LBNRIND (or its absence)
is the SDTM they were written from; so is a record whose interpretation maps to no NRIND term (the reject report
says it was converted without LBNRIND: the source's judgement, unread, is not replaced by the range's).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from msc_interop.fhir.remarks import add_examples
from msc_interop.sdtm.reference_range import reference_indicator

DERIVED = "LBNRIND derived from the range"
CONTRADICTS = "LBNRIND contradicts the range"
_EXAMPLE = "LBNRIND contradiction example"


def derive_missing(df: pd.DataFrame, as_given: np.ndarray, tallies: Counter,
                   examples: dict[str, list[tuple[str, int, str]]]) -> pd.DataFrame:
    """`df` with LBNRIND derived where another system's record (not `as_given`) has none, a numeric result and a
    range; `as_given`: the rows left as they are."""
    if "LBNRIND" not in df or not {"LBORRES", "LBORNRLO", "LBORNRHI"} <= set(df.columns):
        return df
    given = df["LBNRIND"].fillna("").astype(str)
    candidates = ~as_given & (given.eq("") | given.isin(["LOW", "NORMAL", "HIGH"])).to_numpy()
    if not candidates.any():
        return df
    sub = df.loc[candidates]
    # in the lab's own units, as to-sdtm (sdtm/lb.py): the standard values are rounded, which can put a result
    # beyond a limit on it; "<5" is no number here (left as it is); a range whose low is above its high is no range
    number = pd.to_numeric(sub["LBORRES"], errors="coerce")
    lo, hi = pd.to_numeric(sub["LBORNRLO"], errors="coerce"), pd.to_numeric(sub["LBORNRHI"], errors="coerce")
    inverted = lo.gt(hi)
    derived = reference_indicator(number, None, lo.where(~inverted), hi.where(~inverted))
    was = given[candidates]
    fill = was.eq("") & derived.ne("")
    against = was.ne("") & derived.ne("") & was.ne(derived)
    if fill.any():
        df = df.copy()
        df.loc[fill[fill].index, "LBNRIND"] = derived[fill]
        tallies[DERIVED] += int(fill.sum())
    if against.any():  # (rare: a text per such record, the first ones by subject kept, as every partition agrees)
        tallies[CONTRADICTS] += int(against.sum())
        rows = df.loc[against[against].index]
        add_examples(examples.setdefault(_EXAMPLE, []), [
            (str(r.USUBJID), 0, f"{r.USUBJID} {r.LBTESTCD} {r.LBDTC}: {w} for {r.LBORRES} {r.LBORRESU} against "
                                f"{r.LBORNRLO} to {r.LBORNRHI}, {d} by the range")
            for r, w, d in zip(rows.itertuples(), was[against], derived[against], strict=True)])
    return df


def notes(tallies: Counter, examples: dict[str, list[tuple[str, int, str]]]) -> list[str]:
    """The report's notes of derive_missing."""
    out = []
    if tallies[DERIVED]:
        out.append(f"{tallies[DERIVED]} lab record(s) of an Observation without an interpretation: LBNRIND derived "
                   "from the result and the reference range (LOW below it, HIGH above it, NORMAL within, limits "
                   "included), as to-sdtm derives it")
    if tallies[CONTRADICTS]:
        out.append(f"{tallies[CONTRADICTS]} lab record(s) whose interpretation contradicts the result against the "
                   f"reference range they were given: LBNRIND kept as the source says (e.g. "
                   f"{'; '.join(x[2] for x in examples.get(_EXAMPLE, []))})")
    return out
