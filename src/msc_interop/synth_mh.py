"""Synthetic medical history (medical_history.csv) of the model study: refractory SLE diagnosed years before 2009.

Drawn from its own generator (`np.random.default_rng([seed, 104])`) so the other forms stay byte-identical.
Seed profile (the paper: 9 patients with refractory SLE, disease duration of years): every subject has SLE as
the primary diagnosis, ongoing, diagnosed 2-12 years before the first infusion (some dates known only to the
month or year, as a referral letter gives them); lupus nephritis for four; hypertension for two (one resolved);
one term as the site wrote it ("SLE nephritis", coded through its alias). Scale: the same shape at random.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COLUMNS = ["subject_id", "reported_term", "start_date", "end_date", "ongoing", "category"]
PRIMARY = "PRIMARY DIAGNOSIS"
GENERAL = "GENERAL MEDICAL HISTORY"


def _date(day0: np.datetime64, years_before: float, precision: str) -> str:
    d = pd.Timestamp(day0 - np.timedelta64(int(years_before * 365.25), "D"))
    return {"day": d.strftime("%Y-%m-%d"), "month": d.strftime("%Y-%m"), "year": d.strftime("%Y")}[precision]


def medical_history(profile: str, seed: int, subj: np.ndarray, day0: np.ndarray) -> pd.DataFrame:
    """medical_history.csv rows for the subjects (day0: each subject's first infusion date)."""
    rng = np.random.default_rng([seed, 104])
    n = len(subj)
    years = rng.uniform(2, 12, n)
    precision = rng.choice(["day", "month", "year"], n, p=[0.5, 0.3, 0.2])
    rows = [[subj[i], "Systemic lupus erythematosus", _date(day0[i], years[i], precision[i]), "", "Y", PRIMARY]
            for i in range(n)]
    if profile == "seed":
        nephritis = [i for i in (0, 2, 4, 7) if i < n]
        hypertension = [(i, start, end) for i, start, end in ((2, "", ""), (5, "2003", "2007-06")) if i < n]
    else:
        nephritis = list(np.flatnonzero(rng.random(n) < 0.4))
        hypertension = [(int(i), "", "") for i in np.flatnonzero(rng.random(n) < 0.15)]
    for i in nephritis:
        term = "SLE nephritis" if profile == "seed" and i == 7 else "Lupus nephritis"
        rows.append([subj[i], term, _date(day0[i], years[i] * 0.6, "month"), "", "Y", GENERAL])
    for i, start, end in hypertension:
        rows.append([subj[i], "Hypertension", start or _date(day0[i], years[i] * 0.5, "year"), end,
                     "N" if end else "Y", GENERAL])
    out = pd.DataFrame(rows, columns=COLUMNS)
    return out.sort_values(["subject_id", "category", "start_date"], kind="stable",
                           key=lambda s: s.map({PRIMARY: "0"}).fillna(s) if s.name == "category" else s
                           ).reset_index(drop=True)
