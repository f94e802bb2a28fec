"""Synthetic ECG intervals (ecg.csv) for the model study, drawn from their own generator so that the other
forms stay byte-identical: `np.random.default_rng([seed, 102])`.

One 12-lead ECG per findings visit, on the day of the findings ECG, 20-40 minutes after the blood draw. The
values follow each other as on a real ECG: heart rate -> RR = 60/HR s, QT = QTcF x RR^(1/3) (Fridericia),
QTcB = QT / RR^(1/2). Seed profile (the paper): every QTcF normal (<= 440 ms); subject 06 in sinus tachycardia
(HR 104-118) from baseline on, as the findings form says. Scale profile: the same shape, with about 2% of
post-baseline ECGs with a QTcF between 451 and 505 ms so that the ICH E14 categories have members.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ECG_TESTS = (("HR", "bpm"), ("PR", "msec"), ("QRS", "msec"), ("QT", "msec"), ("QTcF", "msec"))


def ecg_form(profile: str, seed: int, findings: pd.DataFrame, labs: pd.DataFrame) -> pd.DataFrame:
    """ecg.csv: one row per test per ECG, an ECG at each visit of the findings form's ECG rows."""
    rng = np.random.default_rng([seed, 102])
    ecg = findings[findings["exam"].eq("ECG")][["subject_id", "visit", "date"]].reset_index(drop=True)
    draws = labs.drop_duplicates(["subject_id", "visit"]).set_index(["subject_id", "visit"])["collection_datetime"]
    drawn = draws.reindex(pd.MultiIndex.from_frame(ecg[["subject_id", "visit"]])).to_numpy(dtype=object)
    n = len(ecg)
    subjects = ecg["subject_id"].to_numpy(dtype=object)
    first = pd.Series(subjects).ne(pd.Series(subjects).shift()).to_numpy()  # the baseline ECG of each subject
    subj_code = pd.factorize(subjects)[0]
    n_subj = subj_code.max() + 1 if n else 0
    hr = np.clip(rng.normal(72, 6, n_subj)[subj_code] + rng.normal(0, 5, n), 56, 96)
    qtcf = np.clip(rng.normal(405, 10, n_subj)[subj_code] + rng.normal(0, 7, n), 372, 440)
    if profile == "seed":
        tachy = subjects == "06"
        hr[tachy] = rng.uniform(104, 118, int(tachy.sum()))
    else:
        long_qt = (rng.random(n) < 0.02) & ~first
        qtcf[long_qt] = rng.uniform(451, 505, int(long_qt.sum()))
    pr = np.clip(rng.normal(150, 14, n_subj)[subj_code] + rng.normal(0, 6, n), 112, 198)
    qrs = np.clip(rng.normal(88, 7, n_subj)[subj_code] + rng.normal(0, 4, n), 70, 110)
    rr = 60.0 / np.round(hr)
    qt = np.round(qtcf) * rr ** (1 / 3)
    values = np.column_stack([np.round(hr), np.round(pr), np.round(qrs), np.round(qt), np.round(qtcf)])
    minutes = rng.integers(20, 41, n)
    times = np.array([_time(d, m) for d, m in zip(drawn.tolist(), minutes.tolist(), strict=True)], dtype=object)
    k = len(ECG_TESTS)
    out = pd.DataFrame({
        "subject_id": np.repeat(subjects, k),
        "visit": np.repeat(ecg["visit"].to_numpy(dtype=object), k),
        "date": np.repeat(ecg["date"].to_numpy(dtype=object), k),
        "time": np.repeat(times, k),
        "test": np.tile(np.array([t for t, _ in ECG_TESTS], dtype=object), n),
        "result": values.astype("int64").ravel().astype(str).astype(object),
        "unit": np.tile(np.array([u for _, u in ECG_TESTS], dtype=object), n),
    })
    return out


def _time(drawn: object, minutes: int) -> str:
    """The ECG's clock time: `minutes` after the blood draw; "" when the draw has no time (a partial date)."""
    if not isinstance(drawn, str) or len(drawn) < 16:
        return ""
    t = pd.Timestamp(drawn) + pd.Timedelta(minutes=minutes)
    return t.strftime("%H:%M")
