"""Synthetic concomitant medications and disposition for `synth` (the medications and disposition forms).

Each form is drawn from its own generator (`default_rng([seed, 105])`, `[seed, 106]`) so the other forms stay
byte-identical whatever is added here. The seed profile follows the paper (Wang et al. 2017): nine patients
refractory to steroids and immunosuppressants, so every one took prednisone and hydroxychloroquine before the
infusions and kept a low prednisone dose after, with cyclophosphamide pulses or mycophenolate before; all nine
completed the 6-year follow-up.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MED_COLUMNS = ["subject_id", "medication", "dose", "unit", "frequency", "route", "start", "end", "ongoing",
               "indication"]
DS_COLUMNS = ["subject_id", "event", "date", "reason"]
_INDICATION = "Systemic lupus erythematosus"


def _day(day0: np.ndarray, offset: np.ndarray) -> np.ndarray:
    return np.asarray(pd.to_datetime(day0 + offset.astype("timedelta64[D]")).strftime("%Y-%m-%d"), dtype=object)


def medications(seed: int, subj: np.ndarray, day0: np.ndarray) -> pd.DataFrame:
    """Per subject: prednisone before (high dose) and after (maintenance, ongoing), hydroxychloroquine ongoing,
    and cyclophosphamide pulses or mycophenolate mofetil before the infusions."""
    rng = np.random.default_rng([seed, 105])
    n = len(subj)
    diagnosed = rng.integers(400, 2200, n)  # days of treatment before the first infusion
    first = np.asarray(pd.to_datetime(day0 - diagnosed.astype("timedelta64[D]")).strftime("%Y-%m"), dtype=object)
    high_end = _day(day0, -np.ones(n, dtype=np.int64))
    cyclo = rng.random(n) < 0.6
    stopped = _day(day0, -rng.integers(30, 180, n))
    high = np.where(rng.random(n) < 0.5, "30", "40")
    low = np.where(rng.random(n) < 0.5, "10", "7.5")
    rows = [
        pd.DataFrame({"subject_id": subj, "medication": "Prednisone", "dose": high, "unit": "mg",
                      "frequency": "QD", "route": "ORAL", "start": first, "end": high_end, "ongoing": "N"}),
        pd.DataFrame({"subject_id": subj, "medication": "Prednisone", "dose": low, "unit": "mg",
                      "frequency": "QD", "route": "ORAL", "start": _day(day0, np.zeros(n, dtype=np.int64)),
                      "end": "", "ongoing": "Y"}),
        pd.DataFrame({"subject_id": subj, "medication": "Hydroxychloroquine", "dose": "200", "unit": "mg",
                      "frequency": "BID", "route": "ORAL", "start": first, "end": "", "ongoing": "Y"}),
        pd.DataFrame({"subject_id": subj[cyclo], "medication": "Cyclophosphamide", "dose": "0.8", "unit": "g",
                      "frequency": "QM", "route": "INTRAVENOUS", "start": first[cyclo], "end": stopped[cyclo],
                      "ongoing": "N"}),
        pd.DataFrame({"subject_id": subj[~cyclo], "medication": "Mycophenolate mofetil", "dose": "1", "unit": "g",
                      "frequency": "BID", "route": "ORAL", "start": first[~cyclo], "end": stopped[~cyclo],
                      "ongoing": "N"}),
    ]
    out = pd.concat(rows, ignore_index=True).assign(indication=_INDICATION)[MED_COLUMNS]
    return out.sort_values(["subject_id", "start", "medication"], kind="stable").reset_index(drop=True)


def disposition(seed: int, profile: str, subj: np.ndarray, end: pd.Series) -> pd.DataFrame:
    """One disposition event per subject at the end of participation: the seed's nine all completed; at scale
    about 5% are lost to follow-up or withdraw."""
    rng = np.random.default_rng([seed, 106])
    n = len(subj)
    event = np.full(n, "COMPLETED", dtype=object)
    reason = np.full(n, "Completed the 6-year follow-up", dtype=object)
    if profile == "scale":
        draw = rng.random(n)
        lost, withdrew = draw < 0.03, (draw >= 0.03) & (draw < 0.05)
        event[lost], reason[lost] = "LOST TO FOLLOW-UP", "Could not be contacted"
        event[withdrew], reason[withdrew] = "WITHDRAWAL BY SUBJECT", "Moved away from the study site"
    return pd.DataFrame({"subject_id": subj, "event": event, "date": np.asarray(end, dtype=object),
                         "reason": reason}, columns=DS_COLUMNS)
