"""Vital signs for synth (vital_signs.csv): at every visit the study held, drawn from their own generator.

Why a generator of its own (`default_rng([seed, 101])`): the other forms stay byte-identical when this one is added.
Visits: the pre-infusion check 15 minutes before each infusion (Day 0, Day 7) and the follow-up visits (the labs'
visit dates, 20 minutes after the blood draw). Tests per visit: SYSBP, DIABP and PULSE sitting, RESP, TEMP, WEIGHT,
BMI; HEIGHT at baseline. The seed profile follows the paper: no vital-sign abnormality, except subject 06's sinus
tachycardia from baseline (pulse 102-115). The scale profile also writes some temperatures in F and weights in lb
(a site that uses them), so conversions run at scale.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

K = 101  # this form's generator: np.random.default_rng([seed, K])
COLUMNS = ["subject_id", "visit", "date", "time", "test", "result", "unit", "position"]


def vital_signs(profile: str, seed: int, subjects: pd.DataFrame, exposures: pd.DataFrame,
                labs: pd.DataFrame) -> pd.DataFrame:
    """vital_signs.csv rows (text) for the subjects of `subjects`, at the visits of `exposures` and `labs`."""
    rng = np.random.default_rng([seed, K])
    start = pd.to_datetime(exposures["start_datetime"], format="%Y-%m-%dT%H:%M")
    pre = pd.DataFrame({"subject_id": exposures["subject_id"].to_numpy(), "visit": exposures["visit"].to_numpy(),
                        "when": start - pd.Timedelta(minutes=15)})
    follow = labs.drop_duplicates(["subject_id", "visit"])
    drawn = pd.to_datetime(follow["collection_datetime"], format="ISO8601")
    follow = pd.DataFrame({"subject_id": follow["subject_id"].to_numpy(), "visit": follow["visit"].to_numpy(),
                           "when": drawn + pd.Timedelta(minutes=20)})
    visits = pd.concat([pre, follow], ignore_index=True).sort_values(["subject_id", "when"], kind="stable")
    visits = visits.reset_index(drop=True)
    n_vis = len(visits)
    subj = subjects["subject_id"].to_numpy(dtype=object)
    s_of = pd.Index(subj).get_indexer(visits["subject_id"])
    female = subjects["sex"].eq("Female").to_numpy()
    height = np.round(np.where(female, rng.normal(158, 5, len(subj)), rng.normal(170, 6, len(subj))), 0)
    first_w = exposures.drop_duplicates("subject_id").set_index("subject_id")["body_weight_kg"].astype(float)
    weight0 = first_w.reindex(subj).fillna(56.0).to_numpy()

    sys_ = np.round(rng.normal(116, 8, len(subj))[s_of] + rng.normal(0, 5, n_vis))
    dia = np.round(np.minimum(rng.normal(74, 6, len(subj))[s_of] + rng.normal(0, 4, n_vis), sys_ - 25))
    pulse = np.round(rng.normal(74, 6, len(subj))[s_of] + rng.normal(0, 4, n_vis))
    resp = np.round(rng.normal(16, 1.2, n_vis))
    temp = np.round(rng.normal(36.6, 0.2, n_vis), 1)
    weight = np.round(weight0[s_of] + rng.normal(0, 1.2, n_vis), 1)
    bmi = np.round(weight / (height[s_of] / 100) ** 2, 1)
    if profile == "seed":
        tachy = visits["subject_id"].eq("06").to_numpy()
        pulse[tachy] = rng.integers(102, 116, int(tachy.sum()))

    temp_unit = np.full(n_vis, "C", dtype=object)
    weight_unit = np.full(n_vis, "kg", dtype=object)
    temp_text = _text(temp, 1)
    weight_text = _text(weight, 1)
    if profile == "scale":  # about one subject in ten measured at a site that uses F and lb
        us = (rng.random(len(subj)) < 0.1)[s_of]
        temp_unit[us], weight_unit[us] = "F", "lb"
        temp_text[us] = _text(np.round(temp[us] * 9 / 5 + 32, 1), 1)
        weight_text[us] = _text(np.round(weight[us] / 0.45359237, 1), 1)

    base = {"subject_id": visits["subject_id"].to_numpy(), "visit": visits["visit"].to_numpy(),
            "date": visits["when"].dt.strftime("%Y-%m-%d").to_numpy(), "time": visits["when"].dt.strftime("%H:%M")
            .to_numpy()}
    parts = [
        ("SYSBP", _text(sys_, 0), "mmHg", "SITTING"), ("DIABP", _text(dia, 0), "mmHg", "SITTING"),
        ("PULSE", _text(pulse, 0), "beats/min", "SITTING"), ("RESP", _text(resp, 0), "breaths/min", ""),
        ("TEMP", temp_text, temp_unit, ""), ("WEIGHT", weight_text, weight_unit, ""),
        ("BMI", _text(bmi, 1), "kg/m2", ""),
    ]
    frames = [pd.DataFrame({**base, "test": t, "result": r, "unit": u, "position": p}) for t, r, u, p in parts]
    first = ~visits.duplicated("subject_id").to_numpy()
    frames.append(pd.DataFrame({k: v[first] for k, v in base.items()} | {
        "test": "HEIGHT", "result": _text(height[s_of][first], 0), "unit": "cm", "position": ""}))
    out = pd.concat(frames, ignore_index=True)
    order = out.assign(_w=out["date"] + out["time"]).sort_values(["subject_id", "_w"], kind="stable").index
    return out.loc[order, COLUMNS].reset_index(drop=True)


def _text(values: np.ndarray, decimals: int) -> np.ndarray:
    """Numbers as a CRF prints them: fixed decimals ("72", "36.6")."""
    return np.char.mod(f"%.{decimals}f", values).astype(object)
