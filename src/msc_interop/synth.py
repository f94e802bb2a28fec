"""Generate synthetic study records shaped like the model study (UC-MSC in SLE, 6-year safety follow-up).

Two uses: `profile="seed"` renders the bundled example study (nine subjects, the one infusion AE, a partial
date, a missing lab value, baseline abnormalities that the paper's "remained in normal range after infusion"
allows); `profile="scale"` writes the same shape for any number of subjects for benchmarks. Everything is built
column-wise with NumPy so a million lab rows take seconds; the output is a pure function of (n, seed, profile).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from msc_interop import synth_cmds, synth_vs
from msc_interop.atomic import atomic_open
from msc_interop.synth_ecg import ecg_form
from msc_interop.synth_mh import medical_history

STUDYID = "MSC-SLE-2009"

# Lab tests as a Chinese hospital lab reports them: the local abbreviation, unit spelling and reference
# range (adult female / male where they differ), and the decimals printed on the report.
# Ranges follow common Chinese adult reference intervals (WS/T 405-2012 for blood counts, WS/T 404 for
# liver enzymes); the tumor-marker cut-offs are the usual kit limits.
_LAB_PANEL = pd.DataFrame(
    [
        # test,    unit,       lo_f,  hi_f,  lo_m,  hi_m,  decimals
        ("WBC", "10^9/L", 3.5, 9.5, 3.5, 9.5, 2),
        ("RBC", "10^12/L", 3.8, 5.1, 4.3, 5.8, 2),
        ("PLT", "10^9/L", 125, 350, 125, 350, 0),
        ("ALT", "U/L", 7, 40, 9, 50, 0),
        ("AST", "U/L", 13, 35, 15, 40, 0),
        ("TBIL", "μmol/L", 3.4, 20.5, 3.4, 20.5, 1),
        ("DBIL", "μmol/L", 0, 6.8, 0, 6.8, 1),
        ("AFP", "ng/mL", 0, 20, 0, 20, 2),
        ("CEA", "ng/mL", 0, 5, 0, 5, 2),
        ("CA125", "U/mL", 0, 35, 0, 35, 1),
        ("CA19-9", "U/mL", 0, 37, 0, 37, 2),
    ],
    columns=["test", "unit", "lo_f", "hi_f", "lo_m", "hi_m", "decimals"],
)

# Follow-up visits: (visit label as the CRF prints it, protocol day, jitter in days)
_LAB_VISITS = [
    ("Baseline", -3, 3), ("Year 1", 365, 20), ("Year 2", 730, 25), ("Year 4", 1460, 30), ("Year 6", 2190, 30),
]


def study_definition(studyid: str = STUDYID) -> dict:
    """The study definition (study.yaml) of the model study."""
    return {
        "studyid": studyid,
        "title": "Long-term safety of umbilical cord mesenchymal stem cell transplantation for systemic lupus "
        "erythematosus: a 6-year follow-up study (synthetic rendering)",
        "protocol": "UC-MSC-SLE-2009",
        "sponsor": "Synthetic example (modelled on Wang et al., Clin Exp Med 2017;17:333-340)",
        "indication": {"name": "Systemic lupus erythematosus", "snomed": "55464009",
                       "source": "SNOMED CT 55464009 |Systemic lupus erythematosus (disorder)|"},
        "timezone": "Asia/Shanghai",
        "sites": [{"siteid": "01", "name": "Nanjing Drum Tower Hospital", "city": "Nanjing", "country": "CHN"}],
        "arms": [{"armcd": "UCMSC", "arm": "UC-MSC 1x10^6 cells/kg IV on Days 0 and 7"}],
        "visits": [
            {"visitnum": 1, "visit": "BASELINE", "protocol_day": -3, "window_before": 27, "window_after": 2,
             "epoch": "SCREENING", "aliases": ["Baseline", "Screening", "Pre-infusion"]},
            {"visitnum": 2, "visit": "DAY 0 INFUSION", "protocol_day": 0, "epoch": "TREATMENT",
             "aliases": ["Day 0", "Infusion 1"]},
            {"visitnum": 3, "visit": "DAY 7 INFUSION", "protocol_day": 7, "window_before": 1, "window_after": 1,
             "epoch": "TREATMENT", "aliases": ["Day 7", "Infusion 2"]},
            {"visitnum": 4, "visit": "YEAR 1", "protocol_day": 365, "window_before": 60, "window_after": 60,
             "epoch": "FOLLOW-UP", "aliases": ["Year 1", "Y1", "12 months"]},
            {"visitnum": 5, "visit": "YEAR 2", "protocol_day": 730, "window_before": 60, "window_after": 60,
             "epoch": "FOLLOW-UP", "aliases": ["Year 2", "Y2", "24 months"]},
            {"visitnum": 6, "visit": "YEAR 4", "protocol_day": 1460, "window_before": 90, "window_after": 90,
             "epoch": "FOLLOW-UP", "aliases": ["Year 4", "Y4", "48 months"]},
            {"visitnum": 7, "visit": "YEAR 6", "protocol_day": 2190, "window_before": 90, "window_after": 90,
             "epoch": "FOLLOW-UP", "aliases": ["Year 6", "Y6", "72 months"]},
        ],
        "planned_exposure": {"product": "UC-MSC", "dose": 1, "dose_unit": "10^6/kg", "route": "INTRAVENOUS",
                             "visits": [2, 3]},
    }


@dataclass(frozen=True)
class StudyRecords:
    """The data manager's forms as DataFrames of text, plus the study definition."""

    definition: dict
    subjects: pd.DataFrame
    exposures: pd.DataFrame
    adverse_events: pd.DataFrame
    labs: pd.DataFrame
    findings: pd.DataFrame
    vital_signs: pd.DataFrame | None = None
    ecg: pd.DataFrame | None = None  # ecg.csv (synth_ecg.py, its own generator)
    medical_history: pd.DataFrame | None = None  # synth_mh.py (its own random stream)
    medications: pd.DataFrame | None = None  # synth_cmds.py
    disposition: pd.DataFrame | None = None

    def write(self, folder: str | Path) -> list[Path]:
        """Write study.yaml and one CSV per form (UTF-8, header row, no index)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        with atomic_open(folder / "study.yaml", "w", encoding="utf-8", newline="\n") as fh:
            yaml.safe_dump(self.definition, fh, sort_keys=False, allow_unicode=True, width=110)
        written.append(folder / "study.yaml")
        for form in ("subjects", "exposures", "adverse_events", "labs", "findings", "vital_signs", "ecg",
                     "medical_history", "medications", "disposition"):
            if getattr(self, form) is None:
                continue
            path = folder / f"{form}.csv"
            with atomic_open(path, "w", encoding="utf-8", newline="") as fh:
                getattr(self, form).to_csv(fh, index=False, lineterminator="\n")
            written.append(path)
        return written


# a placebo arm (generate(placebo=True)): the study's two products, as study.yaml `products` states them
PRODUCTS = [
    {"name": "UC-MSC", "extrt": "UMBILICAL CORD MESENCHYMAL STEM CELLS", "aliases": ["UC-MSC", "UCMSC"],
     "dose_form": "INJECTION, SUSPENSION"},
    {"name": "Placebo", "extrt": "PLACEBO", "aliases": ["saline placebo"], "dose_form": "INJECTION, SOLUTION"},
]
PLACEBO_ARM = {"armcd": "PLACEBO", "arm": "Placebo (saline) IV on Days 0 and 7"}


def generate(n_subjects: int = 9, seed: int = 2009, profile: str = "seed", placebo: bool = False) -> StudyRecords:
    """Build study records for `n_subjects` subjects; `profile` is "seed" (the bundled study) or "scale".
    `placebo`: every second subject (02, 04, ...) is in a PLACEBO arm given saline (EXDOSE 0) on the same days,
    the study's products stated in study.yaml; everything else is drawn as without it (same seed, same values)."""
    if profile not in ("seed", "scale"):
        raise ValueError(f"profile must be 'seed' or 'scale', not {profile!r}")
    if n_subjects < 1:
        raise ValueError("n_subjects must be at least 1")
    rng = np.random.default_rng(seed)
    n = n_subjects
    width = max(2, len(str(n)))
    subj = np.array([f"{i:0{width}d}" for i in range(1, n + 1)], dtype=object)
    female = rng.random(n) < 0.9
    if profile == "seed":
        female = np.ones(n, dtype=bool)
        female[min(6, n - 1)] = False  # eight women, one man (SLE is ~9:1 female)
    age = rng.integers(19, 56, n)
    day0 = np.datetime64("2009-01-12") + rng.integers(0, 320, n).astype("timedelta64[D]")
    birth = day0 - (age * 365.25 + rng.integers(30, 330, n)).astype("timedelta64[D]")
    weight = np.round(rng.normal(56, 8, n).clip(40, 85), 1)

    subjects = pd.DataFrame({
        "subject_id": subj,
        "site_id": "01",
        "sex": np.where(female, "Female", "Male"),
        "birth_date": pd.to_datetime(birth).strftime("%Y-%m-%d"),
        "age": "",
        "race": "ASIAN",
        "ethnicity": "NOT HISPANIC OR LATINO",
        "arm_code": "UCMSC",
        "actual_arm_code": "UCMSC",
        "consent_date": pd.to_datetime(day0 - rng.integers(5, 15, n).astype("timedelta64[D]")).strftime("%Y-%m-%d"),
        "end_of_participation_date": pd.to_datetime(day0 + rng.integers(2215, 2260, n).astype("timedelta64[D]"))
        .strftime("%Y-%m-%d"),
    })

    # Two infusions per subject: protocol day 0 and day 7, 1x10^6 cells/kg IV over about 30 minutes.
    inf_minutes = rng.integers(0, 60, n)
    start0 = pd.to_datetime(day0) + pd.to_timedelta(9 * 60 + inf_minutes, unit="min")
    start1 = start0 + pd.Timedelta(days=7)
    starts = np.concatenate([start0.values, start1.values])
    exposures = pd.DataFrame({
        "subject_id": np.concatenate([subj, subj]),
        "visit": np.repeat(["Day 0", "Day 7"], n),
        "start_datetime": pd.to_datetime(starts).strftime("%Y-%m-%dT%H:%M"),
        "end_datetime": (pd.to_datetime(starts) + pd.Timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M"),
        "product": "UC-MSC",
        "dose": "1",
        "dose_unit": "10^6/kg",
        "route": "IV",
        "body_weight_kg": np.concatenate([weight, weight]).astype(str),
        "lot_number": np.concatenate([[f"UC09-{i:03d}" for i in range(1, n + 1)],
                                      [f"UC09-{i:03d}" for i in range(n + 1, 2 * n + 1)]]),
    }).sort_values(["subject_id", "start_datetime"], kind="stable").reset_index(drop=True)

    adverse_events = _adverse_events(profile, rng, subj, start0)
    labs = _labs(profile, rng, subj, female, day0)
    findings = _findings(profile, rng, subj, labs)
    vs = synth_vs.vital_signs(profile, seed, subjects, exposures, labs)
    mh = medical_history(profile, seed, subj, day0)
    end = subjects["end_of_participation_date"]
    definition = study_definition()
    if placebo:
        _with_placebo_arm(definition, subjects, exposures)
    return StudyRecords(definition, subjects, exposures, adverse_events, labs, findings, vs,
                        ecg=ecg_form(profile, seed, findings, labs), medical_history=mh,
                        medications=synth_cmds.medications(seed, subj, day0),
                        disposition=synth_cmds.disposition(seed, profile, subj, end))


def _with_placebo_arm(definition: dict, subjects: pd.DataFrame, exposures: pd.DataFrame) -> None:
    """Every second subject to the placebo arm (planned and actual), its infusions saline: product Placebo, no
    cells (dose 0); the definition gains the arm and the products (in place)."""
    on_placebo = subjects["subject_id"].iloc[1::2]
    subjects.loc[on_placebo.index, ["arm_code", "actual_arm_code"]] = PLACEBO_ARM["armcd"]
    given = exposures["subject_id"].isin(set(on_placebo))
    exposures.loc[given, ["product", "dose"]] = ["Placebo", "0"]
    definition["arms"] = [*definition["arms"], dict(PLACEBO_ARM)]
    definition["products"] = [dict(p) for p in PRODUCTS]


def _adverse_events(profile: str, rng: np.random.Generator, subj: np.ndarray, start0: pd.DatetimeIndex) -> pd.DataFrame:
    cols = ["subject_id", "ae_number", "reported_term", "start_datetime", "end_datetime", "severity", "serious",
            "relationship", "action_taken", "outcome"]
    if profile == "seed":
        # The seed paper: one patient, mild dizziness and warm sensation 5 min after infusion, resolved quickly.
        i = min(3, len(subj) - 1)
        onset = start0[i] + pd.Timedelta(minutes=5)
        return pd.DataFrame([[subj[i], "1", "Dizziness with warm sensation", onset.strftime("%Y-%m-%dT%H:%M"),
                              (onset + pd.Timedelta(minutes=40)).strftime("%Y-%m-%dT%H:%M"), "Mild", "N",
                              "Related", "Dose not changed", "Recovered/Resolved"]], columns=cols)
    # scale: about one in nine subjects has the same infusion reaction
    idx = np.flatnonzero(rng.random(len(subj)) < 1 / 9)
    onset = start0[idx] + pd.to_timedelta(rng.integers(2, 30, len(idx)), unit="min")
    return pd.DataFrame({
        "subject_id": subj[idx], "ae_number": "1", "reported_term": "Dizziness",
        "start_datetime": onset.strftime("%Y-%m-%dT%H:%M"),
        "end_datetime": (onset + pd.Timedelta(minutes=45)).strftime("%Y-%m-%dT%H:%M"),
        "severity": "Mild", "serious": "N", "relationship": "Related", "action_taken": "Dose not changed",
        "outcome": "Recovered/Resolved"}, columns=cols)


def _labs(profile: str, rng: np.random.Generator, subj: np.ndarray, female: np.ndarray,
          day0: np.ndarray) -> pd.DataFrame:
    n, n_vis, n_test = len(subj), len(_LAB_VISITS), len(_LAB_PANEL)
    per_subject = n_vis * n_test
    s_idx = np.repeat(np.arange(n), per_subject)
    v_idx = np.tile(np.repeat(np.arange(n_vis), n_test), n)
    t_idx = np.tile(np.arange(n_test), n * n_vis)

    vis_day = np.array([d for _, d, _ in _LAB_VISITS])
    jitter = np.array([j for _, _, j in _LAB_VISITS])
    # one collection date per subject-visit (all tests drawn together)
    sv_day = vis_day[None, :] + rng.integers(-1, 2, (n, n_vis)) * rng.integers(0, jitter + 1, (n, n_vis))
    sv_day[:, 0] = -rng.integers(1, 6, n)  # baseline: 1-5 days before the first infusion
    coll = day0[:, None] + sv_day.astype("timedelta64[D]")
    coll_min = rng.integers(7 * 60 + 30, 9 * 60, (n, n_vis))  # fasting morning draw, before any infusion
    coll_ts = pd.to_datetime(coll.ravel()) + pd.to_timedelta(coll_min.ravel(), unit="min")
    coll_text = np.asarray(coll_ts.strftime("%Y-%m-%dT%H:%M"), dtype=object).reshape(n, n_vis)

    panel = _LAB_PANEL
    is_f = female[s_idx]
    lo = np.where(is_f, panel["lo_f"].to_numpy()[t_idx], panel["lo_m"].to_numpy()[t_idx])
    hi = np.where(is_f, panel["hi_f"].to_numpy()[t_idx], panel["hi_m"].to_numpy()[t_idx])
    # a subject's own level plus visit-to-visit scatter, kept inside the reference range (the paper's finding)
    subj_level = rng.uniform(0.3, 0.6, (n, n_test))[s_idx, t_idx]
    tumor = t_idx >= 7
    subj_level = np.where(tumor, rng.uniform(0.1, 0.35, (n, n_test))[s_idx, t_idx], subj_level)
    pos = np.clip(subj_level + rng.normal(0, 0.08, len(s_idx)), 0.03, 0.97)
    value = lo + pos * (hi - lo)
    decimals = panel["decimals"].to_numpy()[t_idx]

    result = _format_by_decimals(value, decimals)
    lab = pd.DataFrame({
        "subject_id": subj[s_idx],
        "visit": np.array([v for v, _, _ in _LAB_VISITS], dtype=object)[v_idx],
        "collection_datetime": coll_text[s_idx, v_idx],
        "test": panel["test"].to_numpy()[t_idx],
        "result": result,
        "unit": panel["unit"].to_numpy()[t_idx],
        "ref_low": np.char.mod("%g", lo).astype(object),
        "ref_high": np.char.mod("%g", hi).astype(object),
        "lab_name": "Nanjing Drum Tower Hospital Clinical Laboratory",
    })
    if profile == "seed":
        lab = _seed_edits(lab)
    return lab


def _format_by_decimals(value: np.ndarray, decimals: np.ndarray) -> np.ndarray:
    out = np.empty(len(value), dtype=object)
    for d in np.unique(decimals):
        m = decimals == d
        out[m] = np.char.mod(f"%.{int(d)}f", np.round(value[m], int(d)))
    return out


def _seed_edits(lab: pd.DataFrame) -> pd.DataFrame:
    """Hand-placed features of the bundled study, each one something a converter must handle."""
    lab = lab.copy()

    def at(subject: str, visit: str, test: str) -> pd.Index:
        return lab.index[(lab.subject_id == subject) & (lab.visit == visit) & (lab.test == test)]

    # Refractory SLE before treatment: leukopenia and thrombocytopenia at baseline (LBNRIND LOW), normal after.
    lab.loc[at("02", "Baseline", "WBC"), "result"] = "3.12"
    lab.loc[at("05", "Baseline", "PLT"), "result"] = "98"
    # A value exactly on the upper limit is NORMAL (limits are inclusive).
    lab.loc[at("01", "Year 2", "CEA"), "result"] = "5.00"
    # Below the kit's limit of quantitation: a character result LBSTRESC "<2.00", no LBSTRESN.
    lab.loc[at("08", "Year 4", "CA19-9"), "result"] = "<2.00"
    # Year-6 visit of subject 09 known only to the month (date written from a summary letter).
    m = (lab.subject_id == "09") & (lab.visit == "Year 6")
    lab.loc[m, "collection_datetime"] = lab.loc[m, "collection_datetime"].str.slice(0, 7)
    # Haemolysed sample, CA 19-9 not reported at year 6 for subject 03: deliberately missing.
    lab = lab.drop(at("03", "Year 6", "CA19-9"))
    return lab.reset_index(drop=True)


def _findings(profile: str, rng: np.random.Generator, subj: np.ndarray, labs: pd.DataFrame) -> pd.DataFrame:
    """ECG and chest X-ray at each lab visit (same day as the blood draw)."""
    visits = labs.drop_duplicates(["subject_id", "visit"])[["subject_id", "visit", "collection_datetime"]]
    out = []
    for exam in ("ECG", "CHEST X-RAY"):
        f = visits.assign(exam=exam, result="NORMAL", finding="")
        f["date"] = f.pop("collection_datetime").str.slice(0, 10)
        out.append(f)
    findings = pd.concat(out, ignore_index=True)[["subject_id", "visit", "date", "exam", "result", "finding"]]
    if profile == "seed":
        m = (findings.subject_id == "06") & (findings.exam == "ECG")
        findings.loc[m, ["result", "finding"]] = ["ABNORMAL", "Sinus tachycardia, present since baseline"]
        findings.loc[m & (findings.visit == "Baseline"), "finding"] = "Sinus tachycardia"
    return findings.sort_values(["subject_id", "exam", "date"], kind="stable").reset_index(drop=True)
