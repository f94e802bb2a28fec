"""Three numbers of every ARD table re-computed with plain pandas from the SDTM files, without msc-interop's summary
code: CDISC's Dataset-JSON v1.1 example package (json module), the original CDISC pilot XPTs (pandas.read_sas) and
the bundled study's `to-sdtm` XPTs (pandas.read_sas). The rules re-implemented here are the documented ones
(docs/summary.md): safety population = an EX record with a dose given and a start date, or RFXSTDTC; columns by
ACTARM; TEAE = analysis start on or after the first dose, partial AESTDTC counting when its month (year) is the
first dose's or later; lab baseline LBBLFL, else LBLOBXFL; one value per subject and visit. A completeness test
checks that every table in each study's ARD has its re-computation here."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pandas as pd
import pytest

from msc_interop.api import load_study
from msc_interop.mappings import schema
from msc_interop.summary import summarize

PILOT_JSON = Path("external/dataset-json/examples-v1.1/sdtm")
PILOT_ORIGINAL = Path("external/cdisc-pilot-original")


def _read_dataset_json(path: Path) -> pd.DataFrame:
    j = json.loads(path.read_text(encoding="utf-8"))
    return pd.DataFrame(j["rows"], columns=[c["name"] for c in j["columns"]])


def _read_xpt(path: Path) -> pd.DataFrame:
    try:
        return pd.read_sas(path, encoding="utf-8")
    except UnicodeDecodeError:  # the pilot's trial-design files are Windows-1252
        return pd.read_sas(path, encoding="cp1252")


def _clean(df: pd.DataFrame) -> pd.DataFrame:
    """Missing character values as "" (read_sas and Dataset-JSON differ there), numbers as floats."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object and not out[c].map(lambda v: isinstance(v, (int, float)) or v is None).all():
            out[c] = out[c].fillna("").astype(str)
        elif out[c].dtype == object:
            out[c] = pd.to_numeric(out[c], errors="coerce")
    return out


class Sdtm:
    """The SDTM datasets of a study (upper-case names) and the safety population by actual arm."""

    def __init__(self, datasets: dict[str, pd.DataFrame]) -> None:
        self.d = {k: _clean(v) for k, v in datasets.items()}
        dm = self.d["DM"]
        ex = self.d.get("EX", pd.DataFrame(columns=["USUBJID", "EXSTDTC"]))
        given = ex[ex["EXSTDTC"].ne("") & (ex["EXOCCUR"].ne("N") if "EXOCCUR" in ex else True)]
        first_ex_dtc = given.groupby("USUBJID")["EXSTDTC"].min()  # on the first day, a date without time first
        rfx_dtc = dm.set_index("USUBJID")["RFXSTDTC"] if "RFXSTDTC" in dm else pd.Series(dtype=str)
        self.first_dtc = rfx_dtc[rfx_dtc.ne("")].combine_first(first_ex_dtc)
        first_ex = first_ex_dtc.str.slice(0, 10)
        rfx = rfx_dtc.str.slice(0, 10)
        first = rfx[rfx.ne("")].combine_first(first_ex)
        treated = dm["USUBJID"].isin(first.index) & ~dm["ACTARMCD"].str.upper().isin(["NOTTRT", "SCRNFAIL",
                                                                                      "NOTASSGN"])
        arm = dm["ACTARM"].where(dm["ACTARMCD"].ne(""), dm["ARM"]) if "ACTARM" in dm else dm["ARM"]
        self.pop = pd.DataFrame({"USUBJID": dm["USUBJID"], "TRTA": arm})[treated.to_numpy()]
        self.first = first
        self.arms = sorted(self.pop["TRTA"].unique())
        self.multi = len(self.arms) > 1

    def n(self, arm: str) -> int:
        return len(self.pop) if arm == "Total" else int(self.pop["TRTA"].eq(arm).sum())

    def within(self, df: pd.DataFrame, arm: str) -> pd.DataFrame:
        """Rows of the safety population's subjects of column `arm` ("Total": all of them)."""
        ids = self.pop["USUBJID"] if arm == "Total" else self.pop.loc[self.pop["TRTA"].eq(arm), "USUBJID"]
        return df[df["USUBJID"].isin(ids)]

    @property
    def total(self) -> str:
        """The column of all subjects: Total, or the one arm."""
        return "Total" if self.multi else self.arms[0]

    def teae(self) -> pd.DataFrame:
        """AE records that are treatment-emergent: analysis start on/after the first dose (partial dates compared
        at their precision; on the first dose day the times when both have one to the minute; an empty start counts
        unless a complete AEENDTC is before the first dose)."""
        ae = self.within(self.d["AE"], "Total")
        first = ae["USUBJID"].map(self.first).fillna("")
        first_dtc = ae["USUBJID"].map(self.first_dtc).fillna("")
        st, en = ae["AESTDTC"].str.slice(0, 10), ae["AEENDTC"].str.slice(0, 10)

        def timed(v: str) -> bool:
            return len(v) >= 16 and v[10] == "T"

        def emergent(a: str, s: str, e: str, f: str, fd: str) -> bool:
            if not s:
                return not (len(e) == 10 and e < f)
            if s == f and timed(a) and timed(fd):
                k = min(len(a), len(fd))
                return a[:k] >= fd[:k]
            return s >= f[:len(s)]

        keep = [emergent(a, s, e, f, fd)
                for a, s, e, f, fd in zip(ae["AESTDTC"], st, en, first, first_dtc, strict=True)]
        return ae[keep]


@pytest.fixture(scope="module")
def studies(shared_dir, sdtm_dir, tmp_path_factory) -> dict[str, tuple[Sdtm, pd.DataFrame, list[dict]]]:
    """name -> (the SDTM read with plain pandas, the ARD the summary wrote from the same files, as a frame and as
    the ard.json records)."""
    out = {}
    sources = {
        "dataset-json pilot": (shared_dir / PILOT_JSON,
                               lambda p: {f.stem.upper(): _read_dataset_json(f) for f in p.glob("*.json")}),
        "pilot original": (shared_dir / PILOT_ORIGINAL,
                           lambda p: {f.stem.upper(): _read_xpt(f) for f in p.glob("*.xpt")}),
        "example study": (sdtm_dir / "xpt",
                          lambda p: {f.stem.upper(): _read_xpt(f) for f in p.glob("*.xpt")}),
    }
    for name, (folder, read) in sources.items():
        study, _ = load_study(folder)
        tmp = tmp_path_factory.mktemp("ard-recompute")
        summarize(study, tmp, formats=["ard"])
        raw = json.loads((tmp / "ard" / "ard.json").read_text(encoding="utf-8"))
        out[name] = (Sdtm(read(folder)), pd.DataFrame(raw), raw)
    return out


def stat(ard: pd.DataFrame, table: str, **where: object) -> object:
    """The one ARD statistic of `table` matching `where` (None matches a null column)."""
    m = ard["table"].eq(table)
    for k, v in where.items():
        m &= ard[k].isna() if v is None else ard[k].eq(v)
    hits = ard.loc[m, "stat"].tolist()
    assert len(hits) == 1, (table, where, len(hits))
    return hits[0]


Check = tuple[dict, float]  # (ARD selection, the number re-computed from the SDTM)


def _subjects(df: pd.DataFrame) -> int:
    return int(df["USUBJID"].nunique())


def populations(s: Sdtm) -> list[Check]:
    dm = s.d["DM"]
    itt = ~dm["ARMCD"].str.upper().isin(["SCRNFAIL", "NOTASSGN", ""])
    return [({"group1_level": "Total", "variable": "ENRLFL", "stat_name": "n"}, len(dm)),
            ({"group1_level": "Total", "variable": "ITTFL", "variable_level": "Y", "stat_name": "n"}, int(itt.sum())),
            ({"group1_level": "Total", "variable": "SAFFL", "variable_level": "Y", "group2": None, "stat_name": "n"},
             len(s.pop))]


def demographics(s: Sdtm) -> list[Check]:
    dm = s.d["DM"]
    arm = s.arms[0]
    female = _subjects(s.within(dm[dm["SEX"].eq("F")], arm))
    age = s.within(dm, s.total)["AGE"].astype(float)
    return [({"group1_level": arm, "variable": "SAFFL", "stat_name": "N"}, s.n(arm)),
            ({"group1_level": arm, "variable": "SEX", "variable_level": "Female", "stat_name": "n"}, female),
            ({"group1_level": s.total, "variable": "AGE", "stat_name": "mean"}, age.mean())]


def disposition(s: Sdtm) -> list[Check]:
    parts = [df[["USUBJID", "VISITNUM"]].assign(DOMAIN=name) for name, df in s.d.items()
             if not name.startswith("SUPP") and {"USUBJID", "VISITNUM"} <= set(df.columns)]
    v = s.within(pd.concat(parts).dropna(subset=["VISITNUM"]), "Total")  # SV counts: the visit took place
    first, last = sorted(v["VISITNUM"].unique())[0], sorted(v["VISITNUM"].unique())[-1]
    dom = v.loc[v["DOMAIN"].ne("SV"), "DOMAIN"].iloc[0]  # SV has no dataset column of its own

    def txt(x: float) -> str:
        return f"{x:g}"

    return [({"group2_level": txt(first), "variable": "ANY_DATASET", "stat_name": "n"},
             _subjects(v[v["VISITNUM"].eq(first)])),
            ({"group2_level": txt(last), "variable": "ANY_DATASET", "stat_name": "n"},
             _subjects(v[v["VISITNUM"].eq(last)])),
            ({"group2_level": txt(first), "variable": "DOMAIN", "variable_level": dom, "stat_name": "n"},
             _subjects(v[v["VISITNUM"].eq(first) & v["DOMAIN"].eq(dom)])),
            ({"group2_level": txt(first), "variable": "ANY_DATASET", "stat_name": "N"}, len(s.pop))]


def exposure_summary(s: Sdtm) -> list[Check]:
    ex = s.d["EX"]
    arm = s.arms[-1]
    unit = sorted(ex["EXDOSU"].unique())[0]
    dose = s.within(ex[ex["EXDOSU"].eq(unit)], arm)["EXDOSE"].astype(float).dropna()
    return [({"group1_level": arm, "variable": "EXSEQ", "stat_name": "n"}, len(s.within(ex, arm))),
            ({"group1_level": s.total, "variable": "EXPOSED", "stat_name": "n"}, _subjects(s.within(ex, "Total"))),
            ({"group1_level": arm, "variable": "EXDOSE", "group2_level": unit, "stat_name": "mean"}, dose.mean())]


def exposure_schedule(s: Sdtm) -> list[Check]:
    ex = s.d["EX"]
    if "VISITNUM" not in ex:  # no visits: one group of every administration, timing unknown
        return [({"group2_level": None, "stat_name": "N"}, len(ex)),
                ({"group2_level": None, "variable_level": "schedule unknown", "stat_name": "n"}, len(ex)),
                ({"group2_level": None, "stat_name": "p"}, 1.0)]
    per = ex.groupby("VISITNUM").size()
    out = [({"group2_level": f"{v:g}", "variable_level": "not assessable", "stat_name": "N"}, int(k))
           for v, k in list(per.items())[:3]]
    v = per.index[0]  # not assessable: no study day (the example's visits all have a planned day)
    return [*out, ({"group2_level": f"{v:g}", "variable_level": "not assessable", "stat_name": "n"},
                   int((ex["VISITNUM"].eq(v) & ex["EXSTDY"].isna()).sum()))]


def ae_overview(s: Sdtm) -> list[Check]:
    te = s.teae()
    arm = s.arms[0]
    return [({"group1_level": arm, "variable_level": "Any TEAE", "stat_name": "n"}, _subjects(s.within(te, arm))),
            ({"group1_level": s.total, "variable_level": "Any TEAE", "stat_name": "events"}, len(te)),
            ({"group1_level": s.total, "variable_level": "Serious TEAE (AESER = Y)", "stat_name": "n"},
             _subjects(te[te["AESER"].eq("Y")]))]


def ae_soc_pt(s: Sdtm) -> list[Check]:
    te = s.teae()  # uncoded: SOC "Not coded", PT the reported term marked "(uncoded)" (the documented rule)
    te = te.assign(AEBODSYS=te["AEBODSYS"].where(te["AEBODSYS"].ne(""), "Not coded"),
                   AEDECOD=te["AEDECOD"].where(te["AEDECOD"].ne(""), te["AETERM"] + " (uncoded)"))
    soc, pt = te.groupby(["AEBODSYS", "AEDECOD"]).size().sort_index().idxmax()
    arm = s.arms[-1]
    return [({"group1_level": arm, "variable": "ANY_TEAE", "stat_name": "n"}, _subjects(s.within(s.teae(), arm))),
            ({"group1_level": s.total, "variable": "AEBODSYS", "variable_level": soc, "stat_name": "n"},
             _subjects(te[te["AEBODSYS"].eq(soc)])),
            ({"group1_level": s.total, "group2_level": soc, "variable": "AEDECOD", "variable_level": pt,
              "stat_name": "events"}, int((te["AEBODSYS"].eq(soc) & te["AEDECOD"].eq(pt)).sum()))]


def ae_characteristics(s: Sdtm) -> list[Check]:
    te = s.teae()
    rank = te["AESEV"].map({"MILD": 1, "MODERATE": 2, "SEVERE": 3}).fillna(0)
    worst = te.assign(r=rank).sort_values("r").drop_duplicates("USUBJID", keep="last")
    arm = s.arms[0]
    return [({"group1_level": s.total, "variable": "AESEV", "variable_level": "MILD", "stat_name": "n"},
             int(worst["AESEV"].eq("MILD").sum())),
            ({"group1_level": s.total, "variable": "AESER", "variable_level": "N", "stat_name": "events"},
             int(te["AESER"].eq("N").sum())),
            ({"group1_level": arm, "variable": "ANY_TEAE", "stat_name": "events"}, len(s.within(te, arm)))]


def _lab(s: Sdtm) -> tuple[pd.DataFrame, str]:
    """LB of the safety population with the baseline flag (LBBLFL, else LBLOBXFL) as `base`, one parameter."""
    lb = s.within(s.d["LB"], "Total").copy()
    flag = "LBBLFL" if "LBBLFL" in lb and lb["LBBLFL"].eq("Y").any() else "LBLOBXFL"
    lb["base"] = lb[flag].eq("Y")
    counts = lb[lb["base"] & lb["LBNRIND"].ne("") & lb["LBSTRESN"].notna()].groupby("LBTESTCD").size()
    param = counts.sort_index().idxmax()  # the test with most baseline values (first code on ties)
    return lb[lb["LBTESTCD"].eq(param)], param


def _base_and_post(s: Sdtm) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    lb, param = _lab(s)
    base = lb[lb["base"]].sort_values("LBSEQ").drop_duplicates("USUBJID", keep="last").set_index("USUBJID")
    after = lb["VISITNUM"] > lb["USUBJID"].map(base["VISITNUM"])
    post = lb[after & ~(lb["LBDY"] < 1)]
    return base, post, param


def _first_visit(post: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    sched = post[post["VISITNUM"] % 1 == 0]
    v = sched["VISITNUM"].min()
    at = sched[sched["VISITNUM"].eq(v)].sort_values("LBSEQ").drop_duplicates("USUBJID", keep="last")
    return at, at["VISIT"].mode().iloc[0]


def lab_stats(s: Sdtm) -> list[Check]:
    base, post, param = _base_and_post(s)
    at, visit = _first_visit(post)
    values = base["LBSTRESN"].dropna()
    where = {"group1_level": "Total" if s.multi else s.total, "group2_level": param}
    return [({**where, "group3_level": "Baseline", "stat_name": "N"}, len(values)),
            ({**where, "group3_level": "Baseline", "stat_name": "mean"}, values.mean()),
            ({**where, "group3_level": visit, "stat_name": "N"}, int(at["LBSTRESN"].notna().sum()))]


def lab_change(s: Sdtm) -> list[Check]:
    base, post, param = _base_and_post(s)
    at, visit = _first_visit(post)
    chg = (at.set_index("USUBJID")["LBSTRESN"] - base["LBSTRESN"]).dropna()
    where = {"group1_level": s.total, "group2_level": param, "group3_level": visit}
    return [({**where, "stat_name": "N"}, len(chg)), ({**where, "stat_name": "mean"}, chg.mean()),
            ({**where, "stat_name": "max"}, chg.max())]


def lab_range(s: Sdtm) -> list[Check]:
    base, _, param = _base_and_post(s)
    nr = base["LBNRIND"]
    where = {"group1_level": s.total, "group2_level": param, "group3_level": "Baseline"}
    return [({**where, "variable_level": "OUTSIDE", "stat_name": "N"}, int(nr.ne("").sum())),
            ({**where, "variable_level": "LOW", "stat_name": "n"}, int(nr.eq("LOW").sum())),
            ({**where, "variable_level": "HIGH", "stat_name": "n"}, int(nr.eq("HIGH").sum()))]


def lab_shift(s: Sdtm) -> list[Check]:
    base, post, param = _base_and_post(s)
    normal = base.index[base["LBNRIND"].eq("NORMAL")]
    p = post[post["LBNRIND"].ne("")]
    classes = p.groupby("USUBJID")["LBNRIND"].agg(set)
    worst = {u: ("LOW and HIGH" if {"LOW", "HIGH"} <= c else "LOW" if "LOW" in c else "HIGH" if "HIGH" in c
                 else "ABNORMAL" if "ABNORMAL" in c else "NORMAL") for u, c in classes.items()}
    in_normal = [worst.get(u, "none") for u in normal]
    where = {"group1_level": s.total, "group2_level": param}
    return [({**where, "variable": "BNRIND", "variable_level": "NORMAL", "stat_name": "N"}, len(normal)),
            ({**where, "group3_level": "NORMAL", "variable_level": "NORMAL", "stat_name": "n"},
             in_normal.count("NORMAL")),
            ({**where, "group3_level": "NORMAL", "variable_level": "HIGH", "stat_name": "n"}, in_normal.count("HIGH"))]


def _vs(s: Sdtm) -> tuple[pd.DataFrame, pd.Series, str, str]:
    """Scheduled VS values (last per subject, test and visit) of the first test, its baseline, and the first
    visit after baseline with its label."""
    vs = s.within(s.d["VS"], "Total")
    vs = vs[vs["VSSTRESN"].notna()]
    test = sorted(vs["VSTESTCD"].unique())[0]
    pos = sorted(vs.loc[vs["VSTESTCD"].eq(test), "VSPOS"].unique())[0]
    vs = vs[vs["VSTESTCD"].eq(test) & vs["VSPOS"].eq(pos)]
    flag = "VSLOBXFL" if "VSLOBXFL" in vs else "VSBLFL"
    base = vs[vs[flag].eq("Y")].sort_values("VSDTC", kind="stable").drop_duplicates("USUBJID", keep="last")
    sched = vs[vs["VISITNUM"] % 1 == 0].sort_values("VSDTC", kind="stable")
    sched = sched.drop_duplicates(["USUBJID", "VISITNUM"], keep="last")
    later = sched[sched["VISITNUM"] > sched["USUBJID"].map(base.set_index("USUBJID")["VISITNUM"])]
    visit = later["VISITNUM"].min()
    labels = vs.groupby("VISITNUM")["VISIT"].agg(lambda x: x.value_counts().sort_index().idxmax())
    at = sched[sched["VISITNUM"].eq(visit)].set_index("USUBJID")["VSSTRESN"]
    change = (at - base.set_index("USUBJID")["VSSTRESN"]).dropna()
    return sched, change, test + (f" {pos}" if pos else ""), labels[visit]


def vs_stats(s: Sdtm) -> list[Check]:
    sched, _, param, visit = _vs(s)
    at = sched[sched["VISIT"].eq(visit)]
    arm = s.arms[0]
    where = {"group2_level": param, "group3_level": visit}
    return [({**where, "group1_level": s.total, "stat_name": "N"}, len(at)),
            ({**where, "group1_level": s.total, "stat_name": "mean"}, at["VSSTRESN"].mean()),
            ({**where, "group1_level": arm, "stat_name": "max"}, s.within(at, arm)["VSSTRESN"].max())]


def vs_change(s: Sdtm) -> list[Check]:
    _, change, param, visit = _vs(s)
    where = {"group1_level": s.total, "group2_level": param, "group3_level": visit}
    return [({**where, "stat_name": "N"}, len(change)), ({**where, "stat_name": "mean"}, change.mean()),
            ({**where, "stat_name": "min"}, change.min())]


def _eg(s: Sdtm) -> tuple[pd.DataFrame, pd.DataFrame]:
    eg = s.within(s.d["EG"], "Total")
    return eg, eg[eg["EGTESTCD"].eq("INTP")]


def ecg_qtc(s: Sdtm) -> list[Check]:
    eg, _ = _eg(s)
    q = eg[eg["EGTESTCD"].eq("QTCFAG") & eg["EGSTRESN"].notna()]
    base_visit = q[q["EGLOBXFL"].eq("Y")].set_index("USUBJID")["VISITNUM"]
    post = q[q["VISITNUM"] > q["USUBJID"].map(base_visit)]
    top = post.groupby("USUBJID")["EGSTRESN"].max()
    where = {"group1_level": s.total}
    return [({**where, "variable": "QTCF", "stat_name": "N"}, len(top)),
            ({**where, "variable": "QTCFAG", "variable_level": "> 450 ms", "stat_name": "n"}, int((top > 450).sum())),
            ({**where, "variable": "QTCFAG", "variable_level": "> 450 ms", "stat_name": "N"}, len(top))]


def ecg_abnormal(s: Sdtm) -> list[Check]:
    _, intp = _eg(s)
    at_base = intp[intp["EGLOBXFL"].eq("Y") & intp["EGSTRESC"].eq("ABNORMAL")]
    where = {"group1_level": s.total, "variable": "ABNORMAL interpretation"}
    return [({"group1_level": s.total, "variable": "INTP", "stat_name": "N"}, _subjects(intp)),
            ({**where, "variable_level": "at baseline", "stat_name": "n"}, _subjects(at_base)),
            ({**where, "variable_level": "at baseline", "stat_name": "N"}, _subjects(intp))]


def mh_soc_pt(s: Sdtm) -> list[Check]:
    mh = s.within(s.d["MH"], "Total")
    soc, pt = mh.groupby(["MHBODSYS", "MHDECOD"])["USUBJID"].nunique().sort_index().idxmax()
    where = {"group1_level": s.total}
    return [({**where, "variable": "ANY_MH", "stat_name": "n"}, _subjects(mh)),
            ({**where, "variable": "MHBODSYS", "variable_level": soc, "stat_name": "n"},
             _subjects(mh[mh["MHBODSYS"].eq(soc)])),
            ({**where, "variable": "MHDECOD", "variable_level": pt, "stat_name": "n"},
             _subjects(mh[mh["MHBODSYS"].eq(soc) & mh["MHDECOD"].eq(pt)]))]


def cxr_visits(s: Sdtm) -> list[Check]:
    re_ = s.within(s.d["RE"], "Total")
    read = re_[re_["RETESTCD"].eq("INTP") & re_["RESTRESC"].str.upper().isin(["NORMAL", "ABNORMAL"])]
    visit = read.sort_values("VISITNUM")["VISIT"].iloc[-1]
    at = read[read["VISIT"].eq(visit)]
    where = {"group1_level": s.total, "group2_level": visit}
    return [({**where, "variable_level": "read", "stat_name": "N"}, _subjects(at)),
            ({**where, "variable_level": "Normal", "stat_name": "n"}, _subjects(at[at["RESTRESC"].eq("NORMAL")])),
            ({**where, "variable_level": "Abnormal", "stat_name": "n"}, _subjects(at[at["RESTRESC"].eq("ABNORMAL")]))]


def cm_by_class(s: Sdtm) -> list[Check]:
    cm = s.within(s.d["CM"], "Total")
    cls = cm["CMCLAS"].replace("", "UNCODED") if "CMCLAS" in cm else pd.Series("UNCODED", index=cm.index)
    name = cm["CMDECOD"].where(cm["CMDECOD"].ne(""), cm["CMTRT"]) if "CMDECOD" in cm else cm["CMTRT"]
    top_class = cls.value_counts().sort_index().idxmax()
    top_name = name[cls.eq(top_class)].value_counts().sort_index().idxmax()
    arm = s.arms[0]
    return [({"group1_level": arm, "variable": "CMTRT", "stat_name": "n"}, _subjects(s.within(cm, arm))),
            ({"group1_level": s.total, "variable": "CMCLAS", "variable_level": top_class, "stat_name": "n"},
             _subjects(cm[cls.eq(top_class)])),
            ({"group1_level": s.total, "variable": "CMDECOD", "variable_level": top_name, "group2_level": top_class,
              "stat_name": "n"}, _subjects(cm[cls.eq(top_class) & name.eq(top_name)]))]


def ds_disposition(s: Sdtm) -> list[Check]:
    ds = s.within(s.d["DS"], "Total")
    ev = ds[ds["DSCAT"].isin(["DISPOSITION EVENT", ""])] if "DSCAT" in ds else ds
    last = ev.sort_values(["USUBJID", "DSSTDTC", "DSSEQ"]).drop_duplicates("USUBJID", keep="last")
    where = {"group1_level": s.total}
    return [({**where, "variable_level": "COMPLETED", "stat_name": "n"}, int(last["DSDECOD"].eq("COMPLETED").sum())),
            ({**where, "variable_level": "COMPLETED", "stat_name": "N"}, len(s.pop)),
            ({**where, "variable": "DS_RECORD", "stat_name": "n"}, len(s.pop) - _subjects(last))]


RECOMPUTE: dict[str, Callable[[Sdtm], list[Check]]] = {f.__name__: f for f in (
    populations, demographics, disposition, exposure_summary, exposure_schedule, ae_overview, ae_soc_pt,
    ae_characteristics, lab_stats, lab_change, lab_range, lab_shift, vs_stats, vs_change, ecg_qtc, ecg_abnormal,
    mh_soc_pt, cxr_visits, cm_by_class, ds_disposition)}
STUDIES = ["dataset-json pilot", "pilot original", "example study"]


def test_every_ard_table_is_recomputed(studies):
    """Completeness: every table of each study's ARD has its independent re-computation above."""
    for name in STUDIES:
        _, ard, _ = studies[name]
        missing = sorted(set(ard["table"]) - set(RECOMPUTE))
        assert missing == [], f"{name}: ARD tables without a re-computation from the SDTM: {missing}"
    assert set(RECOMPUTE) <= {t for n in STUDIES for t in studies[n][1]["table"]}  # each one used


@pytest.mark.parametrize("table", sorted(RECOMPUTE))
@pytest.mark.parametrize("name", STUDIES)
def test_three_numbers_from_the_sdtm(studies, name, table):
    s, ard, _ = studies[name]
    if table not in set(ard["table"]):
        pytest.skip(f"{name} has no {table} (its ARD has no such table; the completeness test covers this)")
    checks = RECOMPUTE[table](s)
    assert len(checks) >= 3
    for where, want in checks:
        got = stat(ard, table, **where)
        assert got == pytest.approx(want, rel=1e-12), (name, table, where)


@pytest.mark.parametrize("name", STUDIES)
def test_ard_validates_against_the_shipped_schema(studies, name):
    *_, raw = studies[name]
    errors = list(jsonschema.Draft202012Validator(schema("ard")).iter_errors(raw))
    assert not errors, errors[:3]
    assert {r["table"] for r in raw} >= {"populations", "demographics", "ae_soc_pt", "exposure_summary"}


def test_schedule_deviation_from_tv(studies):
    """The pilot's TV gives planned days (VISITDY) but no window: the ARD holds each visit's median EXSTDY - VISITDY
    (the planned day: TV's most frequent VISITDY of the visit, the smaller on ties)."""
    s, ard, _ = studies["pilot original"]
    tv, ex = s.d["TV"], s.d["EX"]
    planned = tv.groupby("VISITNUM")["VISITDY"].agg(lambda x: x.mode().min())
    dev = (ex["EXSTDY"] - ex["VISITNUM"].map(planned)).dropna()
    medians = dev.groupby(ex.loc[dev.index, "VISITNUM"]).median()
    assert len(medians) >= 3
    for v, m in medians.items():
        assert stat(ard, "exposure_schedule", group2_level=f"{v:g}", variable="EXSTDY_DEVIATION",
                    stat_name="median") == m
