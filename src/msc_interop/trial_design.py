"""TS (Trial Summary) and TV (Trial Visits): the study definition in SDTM form, in both directions (TA and TE:
trial_arms.py; read back here, the arms in TA's order).

Writing TS/TV lets the study's own facts (title, protocol, sponsor, indication, the planned visit schedule)
travel with the SDTM datasets, so a Study read back from SDTM files (or from FHIR) knows what the study
definition said and the safety summary comes out the same whichever way the data arrived.

TV has no window variables; the window goes into TVSTRL as text this module writes and reads back:
"Study day 8 (protocol day 7), window -1/+1 days".
"""

from __future__ import annotations

import re

import pandas as pd

from msc_interop import iso8601, mappings
from msc_interop.study import VISIT_COLUMNS, StudyMeta
from msc_interop.trial_arms import arms_of_ta

_RULE = re.compile(r"^Study day (?P<dy>-?\d+) \(protocol day (?P<pd>-?\d+)\), window -(?P<b>\d+)/\+(?P<a>\d+) days$")


def _param(code: str) -> str:
    """TSPARM for a TSPARMCD: the codelists pair by NCI code (CDISC CT TSPARMCD C66738 / TSPARM C67152)."""
    term = mappings.codelist("TSPARMCD").term(code)
    if term is None:
        return ""
    return next((t.value for t in mappings.codelist("TSPARM").terms if t.nci_code == term.nci_code), "")


def build_ts(meta: StudyMeta, ex: pd.DataFrame | None = None, dm: pd.DataFrame | None = None) -> pd.DataFrame:
    """TS rows for the parameters the study definition holds (TITLE, SPREFID, SPONSOR, INDIC, SDTIGVER, TRT), and
    SSTDTC, the study start date, from DM (FDA's technical rejection criterion 1734 asks for it in TS).

    TRT (Investigational Therapy or Treatment, C41161) is the treatment under study: a placebo given (EXTRT PLACEBO,
    or a study.yaml product marked `placebo: true`) is no TRT but the comparator: COMPTRT and TCNTRL PLACEBO."""
    rows: list[tuple[str, str, str, str]] = []  # (TSPARMCD, TSVAL, TSVALCD, TSVCDREF)
    if meta.title:
        rows.append(("TITLE", meta.title, "", ""))
    if meta.protocol:
        rows.append(("SPREFID", meta.protocol, "", ""))
    if meta.sponsor:
        rows.append(("SPONSOR", meta.sponsor, "", ""))
    if meta.indication.get("name"):
        code = meta.indication.get("snomed", "")
        rows.append(("INDIC", meta.indication["name"], code, "SNOMED" if code else ""))
    start = study_start_date(dm)
    if start:
        rows.append(("SSTDTC", start, "", ""))
    rows.append(("SDTIGVER", meta.sdtmig_version, "", ""))
    if ex is not None and len(ex):
        placebo = placebo_names(meta)
        given = sorted(str(t) for t in pd.unique(ex["EXTRT"]))
        rows += [("TRT", trt, "", "") for trt in given if trt.upper() not in placebo]
        rows += _comparator_rows([trt for trt in given if trt.upper() in placebo])
    df = pd.DataFrame(rows, columns=["TSPARMCD", "TSVAL", "TSVALCD", "TSVCDREF"])
    df.insert(0, "STUDYID", meta.studyid)
    df.insert(1, "DOMAIN", "TS")
    df["TSSEQ"] = df.groupby("TSPARMCD").cumcount() + 1
    df["TSPARM"] = df["TSPARMCD"].map(_param)
    df["TSVCDVER"] = df["TSVCDREF"].map({"CDISC CT": mappings.ct_source().get("package_date", "")}).fillna("")
    return df


def placebo_names(meta: StudyMeta) -> set[str]:
    """EXTRT values (upper case) of placebo: PLACEBO, and the EXTRT, name and aliases of a study.yaml product marked
    `placebo: true`."""
    names = {"PLACEBO"}
    for product in meta.products:
        if product.get("placebo"):
            names |= {str(n).upper() for n in [product.get("extrt"), product.get("name"), *product.get("aliases", [])]
                      if n}
    return names


def _comparator_rows(placebos: list[str]) -> list[tuple[str, str, str, str]]:
    """A placebo given: COMPTRT (Comparative Treatment Name, TSPARMCD C68612; free text: the EXTRT) and TCNTRL (Control
    Type, C49647) PLACEBO, its CDISC CT code from Control Type Response (C66785: PLACEBO C49648)."""
    if not placebos:
        return []
    term = mappings.codelist("TCNTRL").term("PLACEBO")
    code, ref = (term.nci_code, "CDISC CT") if term is not None else ("", "")
    return [*(("COMPTRT", p, "", "") for p in placebos), ("TCNTRL", "PLACEBO", code, ref)]


def study_start_date(dm: pd.DataFrame | None) -> str:
    """SSTDTC (CDISC CT C69208): "the earliest date of informed consent among any subject (RFICDTC) that enrolled in
    the study ... Dates for subjects who were screen failures are not included": the earliest complete RFICDTC date
    of the subjects not failed at screening ("" when DM has none)."""
    if dm is None or "RFICDTC" not in dm.columns or not len(dm):
        return ""
    enrolled = pd.Series(True, index=dm.index)
    for col, failed in (("ARMCD", "SCRNFAIL"), ("ARMNRS", "SCREEN FAILURE")):
        if col in dm.columns:
            enrolled &= dm[col].astype(str).str.upper().ne(failed)
    consent = dm.loc[enrolled, "RFICDTC"].astype(str)
    complete = consent[consent.str.match(iso8601.COMPLETE_DATE)].str[:10]
    return str(complete.min()) if len(complete) else ""


def build_tv(meta: StudyMeta) -> pd.DataFrame:
    """TV: one row per planned visit (all arms share the schedule, so ARMCD is empty)."""
    v = meta.visits
    rule = ("Study day " + v["planned_dy"].astype(str) + " (protocol day " + v["protocol_day"].astype(str)
            + "), window -" + v["window_before"].astype(str) + "/+" + v["window_after"].astype(str) + " days")
    return pd.DataFrame({
        "STUDYID": meta.studyid, "DOMAIN": "TV", "VISITNUM": v["VISITNUM"], "VISIT": v["VISIT"],
        "VISITDY": v["planned_dy"], "ARMCD": "", "TVSTRL": rule, "TVENRL": "",
    })


def apply_trial_design(meta: StudyMeta, datasets: dict[str, pd.DataFrame]) -> StudyMeta:
    """Fill a StudyMeta rebuilt from data with what TS, TA and TV say (title, protocol, indication; the arms in TA's
    order; the schedule)."""
    ts = datasets.get("TS")
    if ts is not None and len(ts):
        first = ts.drop_duplicates("TSPARMCD").set_index("TSPARMCD")
        value = first["TSVAL"].to_dict()
        meta.title = value.get("TITLE", meta.title)
        meta.protocol = value.get("SPREFID", meta.protocol)
        meta.sponsor = value.get("SPONSOR", meta.sponsor)
        if "INDIC" in first.index:
            indication = {"name": value["INDIC"]}
            # TSVALCD / TSVCDREF are Expected, not Required: a legacy TS (the CDISC pilot's) has neither
            ref = first.loc["INDIC", "TSVCDREF"] if "TSVCDREF" in first.columns else ""
            code = first.loc["INDIC", "TSVALCD"] if "TSVALCD" in first.columns else ""
            if ref == "SNOMED" and code:
                indication["snomed"] = code
            meta.indication = indication
        meta.sdtmig_version = value.get("SDTIGVER", meta.sdtmig_version)
    from_ta = arms_of_ta(datasets.get("TA"))
    if from_ta:  # TA's order (the study definition's), then the arms known otherwise (a FHIR ResearchStudy's)
        meta.arms = from_ta + [a for a in meta.arms if a.get("armcd") not in {t["armcd"] for t in from_ta}]
    tv = datasets.get("TV")
    if tv is not None and len(tv) and "VISITNUM" in tv.columns:  # (without it, Req: validate says so)
        meta.visits = _visits_from_tv(tv, meta.visits)
    return meta


def _visits_from_tv(tv: pd.DataFrame, known: pd.DataFrame) -> pd.DataFrame:
    """The visits TV plans; VISIT and VISITDY are Perm (SDTMIG 3.4 TV), a TV without them plans no name or day."""
    absent = pd.Series([None] * len(tv), index=tv.index, dtype=object)
    parts = tv.get("TVSTRL", absent).astype(str).str.extract(_RULE)
    epochs = dict(zip(known["VISITNUM"], known["EPOCH"], strict=True)) if len(known) else {}
    dy = pd.to_numeric(tv.get("VISITDY", absent), errors="coerce").astype("float64")  # Int64 with NA: Dataset-JSON
    protocol_day = pd.to_numeric(parts["pd"], errors="coerce")
    # without this tool's rule text: protocol day from VISITDY (no day 0: day 1 is protocol day 0)
    protocol_day = protocol_day.fillna(dy - (dy > 0).astype(int))
    out = pd.DataFrame({
        "VISITNUM": pd.to_numeric(tv["VISITNUM"]).astype(float),
        "VISIT": tv["VISIT"].astype(object) if "VISIT" in tv.columns else "",
        "protocol_day": protocol_day.fillna(0).astype(int),
        "planned_dy": dy.fillna(0).astype(int),
        "window_before": pd.to_numeric(parts["b"], errors="coerce").fillna(0).astype(int),
        "window_after": pd.to_numeric(parts["a"], errors="coerce").fillna(0).astype(int),
    })
    out["EPOCH"] = out["VISITNUM"].map(epochs).astype(object).fillna("")
    out["aliases"] = [()] * len(out)
    return out[VISIT_COLUMNS].reset_index(drop=True)
