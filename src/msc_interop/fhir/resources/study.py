"""ResearchStudy (the study and one per site, partOf the study), Organization (labs): build and read.

IG: STUDYID -> ResearchStudy.identifier of the study that the site-specific ResearchStudy is partOf; SITEID ->
the site ResearchStudy's identifier. Arms (an IG gap): R4 ResearchStudy.arm (name = ARMCD, description = ARM),
R5 comparisonGroup (linkId = ARMCD made id-safe, name = ARMCD, description = ARM). COUNTRY (a gap): the site's
R4 location / R5 region (ISO 3166). The study also carries the time zone used for date-times and, per SDTM
dataset, its variables in order (sdtm-dataset), so that reading gives back the same columns.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pandas as pd

from msc_interop import mappings
from msc_interop.fhir import ids, terms
from msc_interop.fhir.common import coding, ext, text
from msc_interop.fhir.context import CARRIED_ON_SUBJECT, WRITTEN_DOMAINS, WriteContext
from msc_interop.fhir.read_common import ReadContext, identifier_value
from msc_interop.fhir.shapes import EXTENSION_PATHS, Shape
from msc_interop.fhir.systems import read_system
from msc_interop.study import VISIT_COLUMNS, Study, StudyMeta


def arm_table(study: Study) -> dict[str, str]:
    """ARMCD -> ARM: the study definition's arms, then the pairs found in DM (first description wins)."""
    arms: dict[str, str] = {}
    for a in study.meta.arms:
        if text(a.get("armcd")):
            arms.setdefault(text(a.get("armcd")), text(a.get("arm")))
    dm = study.datasets.get("DM")
    if dm is not None:
        for cd, name in (("ARMCD", "ARM"), ("ACTARMCD", "ACTARM")):
            if cd in dm.columns:
                arm = dm[name] if name in dm.columns else pd.Series("", index=dm.index)
                for c, a in zip(dm[cd], arm, strict=True):
                    if text(c):
                        arms.setdefault(text(c), text(a))
    return arms


def link_id(armcd: str) -> str:
    """R5 comparisonGroup.linkId of an arm: ARMCD made id-safe."""
    return ids.safe_part(armcd)


TRIAL_DESIGN = ("TS", "TV", "TA", "TE", "RELREC")  # study-level datasets, carried as rows on the study's ResearchStudy
# (RELREC: the dataset-level relationships, e.g. PR.PRLNKID = RE.RELNKID; its FHIR form is Observation.partOf)


def written_datasets(study: Study) -> list[str]:
    """The datasets whose columns the study's ResearchStudy records (sdtm-dataset): written domains, the trial
    design (TRIAL_DESIGN) and the SUPP-- of written domains."""
    out = [n for n in study.names if n in WRITTEN_DOMAINS or n in TRIAL_DESIGN or n in CARRIED_ON_SUBJECT]
    for n in study.names:
        if n.startswith("SUPP") and "RDOMAIN" in study[n].columns:
            rd = {text(r) for r in pd.unique(study[n]["RDOMAIN"].astype(object))}
            if rd and rd <= set(WRITTEN_DOMAINS):
                out.append(n)
    return out


def build_studies(ctx: WriteContext) -> list[dict[str, Any]]:
    """The study's ResearchStudy, one per site (partOf it) and an Organization per lab."""
    study, v = ctx.study, ctx.version
    meta = study.meta
    res: dict[str, Any] = {"resourceType": "ResearchStudy", "id": ctx.study_rid}
    extensions = [ext("study_timezone", "valueCode", ctx.tz)]
    for name in written_datasets(study):
        df = study[name]
        known = mappings.sdtm_domain(name)
        known_names = known.by_name if known else {}
        numeric = [c for c in df.columns if c not in known_names and pd.api.types.is_float_dtype(df[c])]
        subs = [{"url": "name", "valueCode": name}, {"url": "variables", "valueString": ",".join(df.columns)}]
        if numeric:
            subs.append({"url": "numeric", "valueString": ",".join(numeric)})
        extensions.append({"url": terms.ext_url("sdtm_dataset"), "extension": subs})
    for placed in ctx.supp_study.values():
        extensions += placed
    extensions += _trial_design_rows(study)
    res["extension"] = extensions
    res["identifier"] = [{"system": terms.id_system("studyid"), "value": ctx.studyid}] if ctx.studyid else []
    if not res["identifier"]:
        del res["identifier"]
    if meta.title:
        res["title"] = meta.title
    res["status"] = terms.fixed("research_study_status")[v.name]
    ind = meta.indication or {}
    if ind.get("snomed") or ind.get("name"):
        cc: dict[str, Any] = {}
        if ind.get("snomed"):
            cc["coding"] = [coding("snomed", text(ind["snomed"]), text(ind.get("name")) or None)]
        if ind.get("name"):
            cc["text"] = text(ind["name"])
        res["condition"] = [cc]
    arms = arm_table(study)
    if arms:
        if v.name == "R4":
            res["arm"] = [{"name": cd, **({"description": a} if a else {})} for cd, a in arms.items()]
        else:
            res["comparisonGroup"] = [{"linkId": link_id(cd), "name": cd, **({"description": a} if a else {})}
                                      for cd, a in arms.items()]
    out = [res]
    out += _sites(ctx)
    out += [{"resourceType": "Organization", "id": rid, "name": name} for name, rid in ctx.org_rids.items()]
    return out


def _trial_design_rows(study: Study) -> list[dict[str, Any]]:
    """TS, TV, TA, TE and RELREC rows as complex extensions: dataset, then each non-empty variable as text (a study
    has tens)."""
    out = []
    for name in TRIAL_DESIGN:
        if name not in study:
            continue
        for row in study[name].to_dict("records"):
            subs = [{"url": "dataset", "valueCode": name}]
            subs += [{"url": var, "valueString": _as_text(val)} for var, val in row.items() if _as_text(val) != ""]
            out.append({"url": terms.ext_url("sdtm_trial_design"), "extension": subs})
    return out


def _as_text(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def site_countries(study: Study) -> dict[str, str]:
    """SITEID -> the COUNTRY most of its DM records give (ties: alphabetical)."""
    dm = study.datasets.get("DM")
    if dm is None or "SITEID" not in dm.columns or "COUNTRY" not in dm.columns:
        return {}
    out: dict[str, str] = {}
    for site, grp in dm.groupby(dm["SITEID"].astype(object), sort=False):
        counts = Counter(text(c) for c in grp["COUNTRY"] if text(c))
        if counts:
            out[text(site)] = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
    return out


def _sites(ctx: WriteContext) -> list[dict[str, Any]]:
    names = {text(s.get("siteid")): text(s.get("name")) for s in ctx.study.meta.sites}
    countries = site_countries(ctx.study)
    out = []
    for siteid, rid in ctx.site_rids.items():
        r: dict[str, Any] = {"resourceType": "ResearchStudy", "id": rid,
                             "identifier": [{"system": terms.id_system("siteid"), "value": siteid}],
                             "title": f"{ctx.study.meta.title or ctx.studyid}: site {siteid}"
                                      + (f" ({names[siteid]})" if names.get(siteid) else ""),
                             "status": terms.fixed("research_study_status")[ctx.version.name],
                             "partOf": [ctx.study_ref()]}
        if countries.get(siteid):
            r[ctx.version.el("ResearchStudy.country")] = [{"coding": [coding("iso3166", countries[siteid])]}]
        out.append(r)
    return out


# --- reading ---------------------------------------------------------------------------------------------

def _concept(name: str) -> tuple[str, ...]:
    return (f"{name}.text", f"{name}.coding.system", f"{name}.coding.code")


# The elements read, with their FHIR JSON shape (fhir/shapes.py), R4 and R5 alike
RESEARCH_STUDY = Shape("ResearchStudy", [
    "id", "identifier.system", "identifier.value", "title", "partOf.reference", "extension.url", "extension.valueCode",
    *EXTENSION_PATHS, "arm.name", "arm.description", "comparisonGroup.name", "comparisonGroup.description",
    "comparisonGroup.linkId", *_concept("condition"), *_concept("location"), *_concept("region"),
])
ORGANIZATION = Shape("Organization", ["id", "name"])


def read_study_info(res: dict[str, Any], seen: Counter[str]) -> dict[str, Any]:
    """What a study-level ResearchStudy written by msc-interop says: id, title, tz, datasets, arms (`seen`: the
    read's tallies, for fhir/systems.py read_system)."""
    info: dict[str, Any] = {"studyid": identifier_value(res, "studyid"), "title": res.get("title", ""),
                            "timezone": None, "datasets": {}, "arms": {}, "armcd_by_link": {},
                            "trial_design": {}}
    for e in res.get("extension") or ():
        if e.get("url") == terms.ext_url("study_timezone"):
            info["timezone"] = e.get("valueCode")
        elif e.get("url") == terms.ext_url("sdtm_trial_design"):
            subs = {s.get("url"): next((s[k] for k in s if k.startswith("value")), None)
                    for s in e.get("extension") or ()}
            name = subs.pop("dataset", None)
            if name:
                info["trial_design"].setdefault(name, []).append(subs)
        elif e.get("url") == terms.ext_url("sdtm_dataset"):
            subs = {s.get("url"): next((s[k] for k in s if k.startswith("value")), None)
                    for s in e.get("extension") or ()}
            if subs.get("name"):
                info["datasets"][subs["name"]] = {
                    "variables": [c for c in str(subs.get("variables") or "").split(",") if c],
                    "numeric": [c for c in str(subs.get("numeric") or "").split(",") if c]}
    for a in res.get("arm") or ():
        if a.get("name"):
            info["arms"][a["name"]] = a.get("description", "")
    for g in res.get("comparisonGroup") or ():
        if g.get("name"):
            info["arms"][g["name"]] = g.get("description", "")
            if g.get("linkId"):
                info["armcd_by_link"][g["linkId"]] = g["name"]
    cond = (res.get("condition") or [None])[0]
    if cond:
        info["indication"] = {"name": cond.get("text", ""),
                              "snomed": next((c.get("code", "") for c in cond.get("coding") or ()
                                              if read_system(c.get("system"), seen) == terms.system("snomed")), "")}
    return info


def read_site_info(res: dict[str, Any], seen: Counter[str]) -> dict[str, str]:
    """SITEID and COUNTRY (ISO 3166 from R4 location / R5 region) of a ResearchStudy (`seen`: as read_study_info)."""
    country = ""
    for key in ("location", "region"):
        for cc in res.get(key) or ():
            for c in cc.get("coding") or ():
                if read_system(c.get("system"), seen) == terms.system("iso3166") and c.get("code"):
                    country = country or c["code"]
    return {"siteid": identifier_value(res, "siteid") or "", "country": country}


def read_study(r: ReadContext) -> dict[str, Any]:
    """What the study-level ResearchStudy says (read_study_info), `own` when there is one (written by
    msc-interop: its datasets come back with their own columns)."""
    main = None
    for loc in r.by_type.get("ResearchStudy", []):
        res = loc.resource
        if identifier_value(res, "studyid") is not None and not res.get("partOf"):
            main = loc
            break
    info: dict[str, Any] = {"own": False, "datasets": {}, "arms": {}, "armcd_by_link": {}}
    if main is not None:
        info.update(read_study_info(main.resource, r.tallies))
        info["own"] = True
        info["main_key"] = f"ResearchStudy/{main.resource.get('id')}"
    r.converted["ResearchStudy"] += len(r.by_type.get("ResearchStudy", []))
    return info


def read_sites(r: ReadContext) -> dict[str, dict[str, str]]:
    """"ResearchStudy/id" -> SITEID and COUNTRY of each site-level ResearchStudy."""
    return {k: read_site_info(loc.resource, r.tallies) for k, loc in r.typed("ResearchStudy").items()
            if identifier_value(loc.resource, "siteid") is not None}


def read_study_meta(r: ReadContext, info: dict[str, Any], studyid: str,
                    datasets: dict[str, pd.DataFrame]) -> StudyMeta:
    """The study definition given, else one made from what the FHIR says (visits from LB and EX, arms, sites)."""
    if r.study_meta is not None:
        meta = r.study_meta
        if studyid and meta.studyid != studyid:
            r.report.notes.append(f"the FHIR study is {studyid!r}, the study definition given is "
                                  f"{meta.studyid!r}: STUDYID comes from the FHIR data")
            meta = StudyMeta(**{**meta.__dict__, "studyid": studyid})
        return meta
    visits = []
    for name in ("LB", "EX"):
        df = datasets.get(name)
        if df is not None and "VISITNUM" in df.columns:
            sub = df[[c for c in ("VISITNUM", "VISIT", "EPOCH") if c in df.columns]]
            visits.append(sub[sub["VISITNUM"].notna()])
    rows = []
    if visits:
        allv = pd.concat(visits, ignore_index=True).drop_duplicates("VISITNUM").sort_values("VISITNUM")
        for rec in allv.to_dict("records"):
            rows.append({"VISITNUM": float(rec["VISITNUM"]), "VISIT": text(rec.get("VISIT")), "protocol_day": 0,
                         "planned_dy": 0, "window_before": 0, "window_after": 0, "EPOCH": text(rec.get("EPOCH")),
                         "aliases": ()})
    arms = [{"armcd": k, "arm": v} for k, v in info.get("arms", {}).items()]
    sites = []
    for loc in r.by_type.get("ResearchStudy", []):
        s = read_site_info(loc.resource, r.tallies)
        if s["siteid"]:
            sites.append({"siteid": s["siteid"], "name": text(loc.resource.get("title")), "country": s["country"]})
    return StudyMeta(studyid=studyid, title=text(info.get("title")), timezone=r.tz or "UTC",
                     indication=info.get("indication", {}), sites=sites, arms=arms,
                     visits=pd.DataFrame(rows, columns=VISIT_COLUMNS),
                     ct_package=mappings.ct_source().get("package_date", ""))
