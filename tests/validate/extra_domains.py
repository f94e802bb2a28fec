"""Small clean datasets of the domains the bundled study lacks, so the seeded-defect corpus reaches every SDTM
class: CM (Interventions), MH and DS (Events), VS (Findings), FA (Findings About), SV and SE (Special-Purpose),
TA, TE, TI (Trial Design), RELREC (Relationship). Built from the study's own DM (subjects, RFSTDTC) so that
every cross-domain rule passes on them; corpus cases with `extra: true` run on the study plus these.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from msc_interop.study import Study

STUDYID = "MSC-SLE-2009"


def _day(rfstdtc: str, offset: int) -> str:
    """The date `offset` days after RFSTDTC's date (offset 0 = study day 1)."""
    return (date.fromisoformat(rfstdtc[:10]) + timedelta(days=offset)).isoformat()


def _dy(offset: int) -> int:
    return offset + 1 if offset >= 0 else offset


def build(study: Study) -> dict[str, pd.DataFrame]:
    dm = study["DM"]
    subjects = list(zip(dm["USUBJID"], dm["RFSTDTC"], strict=True))
    cm, mh, ds, vs, fa, sv, se = [], [], [], [], [], [], []
    # the study's own visit dates where it has an SV (the generated VS must lie within its visits)
    held = {} if "SV" not in study.names else {
        (u, float(v)): d[:10] for u, v, d in zip(study["SV"]["USUBJID"], study["SV"]["VISITNUM"],
                                                 study["SV"]["SVSTDTC"], strict=True)}
    for usubjid, rf in subjects:
        base = {"STUDYID": STUDYID, "USUBJID": usubjid}
        cm.append({**base, "DOMAIN": "CM", "CMSEQ": 1, "CMTRT": "PREDNISONE", "CMDECOD": "PREDNISONE",
                   "CMSTDTC": _day(rf, -30), "CMENDTC": _day(rf, 5), "CMSTDY": _dy(-30), "CMENDY": _dy(5)})
        cm.append({**base, "DOMAIN": "CM", "CMSEQ": 2, "CMTRT": "ASPIRIN", "CMDECOD": "ACETYLSALICYLIC ACID",
                   "CMSTDTC": _day(rf, -10), "CMENDTC": "", "CMSTDY": _dy(-10), "CMENDY": None, "CMENRF": "ONGOING"})
        mh.append({**base, "DOMAIN": "MH", "MHSEQ": 1, "MHTERM": "SYSTEMIC LUPUS ERYTHEMATOSUS",
                   "MHDECOD": "Systemic lupus erythematosus", "MHSTDTC": _day(rf, -400), "MHENDTC": "",
                   "MHENRF": "ONGOING"})
        ds.append({**base, "DOMAIN": "DS", "DSSEQ": 1, "DSTERM": "COMPLETED", "DSDECOD": "COMPLETED",
                   "DSCAT": "DISPOSITION EVENT", "DSSTDTC": _day(rf, 7), "DSSTDY": _dy(7)})
        for seq, (offset, visitnum, visit, flag) in enumerate([(-3, 1.0, "BASELINE", "Y"),
                                                              (365, 4.0, "YEAR 1", "")], start=1):
            day = held.get((usubjid, visitnum))
            if day:
                offset = (date.fromisoformat(day) - date.fromisoformat(rf[:10])).days
            vs.append({**base, "DOMAIN": "VS", "VSSEQ": seq, "VSTESTCD": "SYSBP", "VSTEST": "Systolic Blood Pressure",
                       "VSORRES": "120", "VSORRESU": "mmHg", "VSSTRESC": "120", "VSSTRESN": 120.0,
                       "VSSTRESU": "mmHg", "VSLOBXFL": flag, "VISITNUM": visitnum, "VISIT": visit,
                       "VSDTC": _day(rf, offset), "VSDY": _dy(offset)})
            sv.append({**base, "DOMAIN": "SV", "VISITNUM": visitnum, "VISIT": visit,
                       "SVSTDTC": _day(rf, offset), "SVENDTC": _day(rf, offset)})
        fa.append({**base, "DOMAIN": "FA", "FASEQ": 1, "FATESTCD": "SEV", "FATEST": "Severity/Intensity",
                   "FAOBJ": "SYSTEMIC LUPUS ERYTHEMATOSUS", "FAORRES": "MILD", "FASTRESC": "MILD",
                   "FADTC": _day(rf, -3), "FADY": _dy(-3)})
        se.append({**base, "DOMAIN": "SE", "SESEQ": 1, "ETCD": "TRT", "ELEMENT": "UC-MSC infusion",
                   "SESTDTC": rf[:10], "SEENDTC": _day(rf, 7)})
    ta = pd.DataFrame({"STUDYID": STUDYID, "DOMAIN": "TA", "ARMCD": "UCMSC", "ARM": list(dm["ARM"].iloc[:1]) * 2,
                       "TAETORD": [1, 2], "ETCD": ["SCRN", "TRT"], "ELEMENT": ["Screening", "UC-MSC infusion"],
                       "TABRANCH": "", "TATRANS": "", "EPOCH": ["SCREENING", "TREATMENT"]})
    te = pd.DataFrame({"STUDYID": STUDYID, "DOMAIN": "TE", "ETCD": ["SCRN", "TRT"],
                       "ELEMENT": ["Screening", "UC-MSC infusion"],
                       "TESTRL": ["Informed consent", "First infusion"], "TEENRL": ["First infusion", "Day 7"],
                       "TEDUR": ["P28D", "P7D"]})
    ti = pd.DataFrame({"STUDYID": STUDYID, "DOMAIN": "TI", "IETESTCD": ["INCL01", "EXCL01"],
                       "IETEST": ["Diagnosis of SLE", "Pregnancy"], "IECAT": ["INCLUSION", "EXCLUSION"]})
    ae = study["AE"]
    relrec = pd.DataFrame({"STUDYID": STUDYID, "RDOMAIN": ["AE", "CM"], "USUBJID": [ae["USUBJID"].iloc[0]] * 2,
                           "IDVAR": ["AESEQ", "CMSEQ"], "IDVARVAL": ["1", "1"], "RELTYPE": "", "RELID": "1"})
    frames = {"CM": cm, "MH": mh, "DS": ds, "VS": vs, "FA": fa, "SV": sv, "SE": se}
    out = {name: pd.DataFrame(rows) for name, rows in frames.items()}
    for name in ("CMENDY",):
        out["CM"][name] = out["CM"][name].astype("float64")
    out.update({"TA": ta, "TE": te, "TI": ti, "RELREC": relrec})
    return out


def with_extra_domains(study: Study) -> Study:
    """The study with the generated domains in place of its own (the corpus cases edit their rows), except SV:
    since issue 14 the bundled study has its own SV, derived from every visit it holds, which a generated SV of
    two visits would contradict (MSC-SDTM-164/165)."""
    datasets = {name: study[name] for name in study.names}
    extra = build(study)
    if "SV" in datasets:
        del extra["SV"]
    datasets.update(extra)
    return Study(study.meta, datasets)
