"""LBSTRESC/N/U and LBSTNRLO/HI as the reader derives them from msc-interop's own Observations (the original result in
the same units); the writer carries them only where the record differs from this. Apart from lab/read.py so that the
reader stays under the size limit and the writer need not import the reader.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_interop.fhir.common import float_text, group_codes, parse_number, text


def distinct(df: pd.DataFrame, cols: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """Group codes per row and the distinct value combinations (in order of first appearance)."""
    codes, first = group_codes(*(df[c] for c in cols))
    return codes, df[cols].iloc[first].reset_index(drop=True)


def derive_standard(orres: pd.Series, orresu: pd.Series, ornrlo: pd.Series, ornrhi: pd.Series) -> pd.DataFrame:
    """LBSTRESC/N/U and LBSTNRLO/HI as the reader derives them from the original result (same units); the
    writer carries them only where the record differs from this."""
    def one(u: pd.DataFrame) -> pd.DataFrame:
        rows = []
        for o, lo, hi in zip(u["o"], u["lo"], u["hi"], strict=True):
            o, lo, hi = text(o), text(lo), text(hi)
            n = parse_number(o)
            stresn = float(n) if n is not None else np.nan
            rows.append((float_text(stresn) if n is not None else o, stresn,
                         _num_or_nan(lo), _num_or_nan(hi)))
        return pd.DataFrame(rows, columns=["LBSTRESC", "LBSTRESN", "LBSTNRLO", "LBSTNRHI"])

    frame = pd.DataFrame({"o": orres.astype(object).to_numpy(), "lo": ornrlo.astype(object).to_numpy(),
                          "hi": ornrhi.astype(object).to_numpy()})
    codes, uniques = distinct(frame, ["o", "lo", "hi"])
    answer = one(uniques).iloc[codes].reset_index(drop=True)
    answer["LBSTRESU"] = orresu.astype(object).map(text).to_numpy()
    answer.index = orres.index
    return answer


def _num_or_nan(t: str) -> float:
    n = parse_number(t)
    return float(n) if n is not None else np.nan
