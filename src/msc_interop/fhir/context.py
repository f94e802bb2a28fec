"""What every resource builder needs to know about the study being written: ids, references, shared lookups."""

from __future__ import annotations

import bisect
import functools
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from msc_interop import mappings
from msc_interop.dates import study_day
from msc_interop.distinct import per_distinct
from msc_interop.fhir import ids, terms
from msc_interop.fhir.columns import Factorized
from msc_interop.fhir.common import float_text, group_codes, text, texts
from msc_interop.fhir.datetimes import dtc_to_fhir
from msc_interop.fhir.resources.supp import supplemental_extension
from msc_interop.fhir.versions import FhirVersion
from msc_interop.study import Study

WRITTEN_DOMAINS = ("DM", "EX", "AE", "LB", "VS", "EG", "MH", "PR", "RE", "CM")
# DS and SV are not in WRITTEN_DOMAINS: their records are placed on other resources (below), so a SUPPDS / SUPPSV
# record would have no resource of its parent to ride on; those stay "not written" (fhir/unwritten.py), as before.
# Subject-level datasets placed on elements record by record: SV on its visit's Encounter (period), a subject's
# disposition event on its ResearchSubject (status / progress). Their records no element holds (a second record of
# a visit, a DS record that is not the subject's one disposition event) ride on the subject's ResearchSubject in
# the sdtm-supplemental extension, so nothing is lost (docs/fhir-mapping.md, "DS" and "SV"). to-fhir rejects, as
# in every other dataset, a record of a subject not in DM or with a date FHIR cannot hold (fhir/admit.py); a Study
# given to write_fhir directly is not checked so, and such a subject's records ride on the ResearchStudy
CARRIED_ON_SUBJECT = ("DS", "SV")


@dataclass
class WriteContext:
    study: Study
    version: FhirVersion
    tz: str
    refs: ids.Refs
    studyid: str
    study_rid: str
    site_rids: dict[str, str] = field(default_factory=dict)
    patient_rids: dict[str, str] = field(default_factory=dict)
    subject_rids: dict[str, str] = field(default_factory=dict)
    org_rids: dict[str, str] = field(default_factory=dict)
    encounters: pd.DataFrame | None = None
    # per Encounter row: the SV row it holds (-1: none); the DS row placed on each subject's ResearchSubject
    encounter_sv_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    ds_rows: dict[str, int] = field(default_factory=dict)
    # per LB row: its row of `encounters` (-1: no VISITNUM), found while the table is made
    lb_encounter_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    rfstdtc: dict[str, str] = field(default_factory=dict)
    # SUPP-- records to write on their parent's resource: (domain, row index) -> extensions
    supp: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    supp_subject: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    # SUPP-- (and DS/SV) records of no subject in DM, by dataset in the order they were placed: on the study
    supp_study: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    # rows of each dataset before this study's (a subject partition of a bigger study: fhir/partitioned.py), so
    # that the 1-based `row` a record carries is its row in the whole dataset
    row_base: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    _supp_by_domain: dict[str, tuple[list[int], list[list[dict[str, Any]]]]] = field(default_factory=dict,
                                                                                     repr=False)
    _record_ids: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def supp_rows(self, domain: str, start: int, stop: int) -> list[tuple[int, list[dict[str, Any]]]]:
        """(row, SUPP-- extensions) for the rows start..stop-1 of `domain` that have SUPP-- records, in row
        order (sorted once per domain, so chunk after chunk costs a bisection, not a scan of every record)."""
        found = self._supp_by_domain.get(domain)
        if found is None:
            pairs = sorted((row, extra) for (d, row), extra in self.supp.items() if d == domain and extra)
            found = self._supp_by_domain[domain] = ([r for r, _ in pairs], [e for _, e in pairs])
        rows, extras = found
        lo, hi = bisect.bisect_left(rows, start), bisect.bisect_left(rows, stop)
        return list(zip(rows[lo:hi], extras[lo:hi], strict=True))

    def record_ids(self, domain: str) -> np.ndarray:
        """The resource ids of every row of `domain`, from the records' natural keys (fhir/ids.py), made once
        for the whole dataset (chunks slice it: repeated keys are numbered across chunks); what went wrong
        with the keys becomes a warning of the write."""
        found = self._record_ids.get(domain)
        if found is None:
            df = self.study[domain].reset_index(drop=True)
            found, notes = ids.natural_ids(domain.lower(), self.studyid, df, domain)
            self._record_ids[domain] = found
            self.warnings.extend(notes)
        return found

    def ref(self, resource_type: str, rid: str) -> dict[str, str]:
        return {"reference": self.refs(resource_type, rid)}

    def study_ref(self) -> dict[str, str]:
        return self.ref("ResearchStudy", self.study_rid)

    def encounter_references(self, rows: np.ndarray) -> list[dict[str, str]]:
        """{"reference": ...} to the Encounters of `rows` (rows of `encounters`)."""
        return [{"reference": r} for r in self._encounter_reference_texts[rows].tolist()]

    @functools.cached_property
    def _encounter_reference_texts(self) -> np.ndarray:
        """The reference text of every Encounter, made once (`Encounter/<id>`, or its urn inside a Bundle)."""
        rids = self.encounter_columns["id"]
        if self.refs.in_bundle:
            return np.array([self.refs("Encounter", r) for r in rids.tolist()], dtype=object)
        return "Encounter/" + rids if len(rids) else np.zeros(0, dtype=object)

    @functools.cached_property
    def lb_study_days(self) -> np.ndarray:
        """Per LB row, LBDY as a reader derives it from LBDTC and the subject's RFSTDTC (NaN where either is
        partial or missing): worked out once for the whole dataset, each date parsed once (`study_day`)."""
        lb = self.study.datasets.get("LB")
        if lb is None or lb.empty or "LBDTC" not in lb.columns:
            return np.full(0 if lb is None else len(lb), np.nan)
        return self.study_days(lb["LBDTC"], lb["USUBJID"]).to_numpy(dtype="float64", na_value=np.nan)

    @functools.cached_property
    def encounter_columns(self) -> dict[str, np.ndarray]:
        """The Encounter table's id, VISIT and EPOCH as object arrays (None / "" where missing), made once:
        each chunk of records picks its visits' rows from them."""
        enc = self.encounters
        out: dict[str, np.ndarray] = {}
        for name, missing in (("id", None), ("VISIT", ""), ("EPOCH", "")):
            values = enc[name].astype(object) if enc is not None else pd.Series([], dtype=object)
            out[name] = values.where(values.notna(), missing).to_numpy(dtype=object)
        return out

    def study_days(self, dtc: pd.Series, usubjid: pd.Series) -> pd.Series:
        """--DY as a reader derives it: from --DTC and the subject's RFSTDTC (NA when either is partial).
        RFSTDTC looked up once per distinct subject given, not per row nor per subject of the study."""
        codes, subjects = pd.factorize(usubjid.astype(object), use_na_sentinel=False)
        refs = np.array([self.rfstdtc.get(text(u), "") for u in subjects] + [""], dtype=object)
        return study_day(dtc.astype(object), pd.Series(refs[codes], index=usubjid.index, dtype=object))


def make_context(study: Study, version: FhirVersion, tz: str, in_bundle: bool,
                 row_base: dict[str, int] | None = None) -> WriteContext:
    """What every builder shares for one write: ids, references, encounters, SUPP-- placement. `row_base`:
    rows of each dataset before `study`'s when it is a subject partition (fhir/partitioned.py)."""
    studyid = studyid_of(study)
    ctx = WriteContext(study=study, version=version, tz=tz, refs=ids.Refs(in_bundle), studyid=studyid,
                       study_rid=ids.simple_id("rs", studyid), row_base=dict(row_base or {}))
    dm = study.datasets.get("DM")
    subjects: list[str] = []
    for name in WRITTEN_DOMAINS:
        df = study.datasets.get(name)
        if df is not None and "USUBJID" in df.columns:
            subjects += [text(u) for u in pd.unique(df["USUBJID"].astype(object))]
    for u in dict.fromkeys(subjects):
        ctx.patient_rids[u] = ids.simple_id("pt", studyid, u)
    if dm is not None:
        for u in dm["USUBJID"].astype(object):
            ctx.subject_rids[text(u)] = ids.simple_id("rsub", studyid, text(u))
        if "SITEID" in dm.columns:
            for s in pd.unique(dm["SITEID"].astype(object)):
                if text(s):
                    ctx.site_rids[text(s)] = ids.simple_id("rs", studyid, "site", text(s))
        if "RFSTDTC" in dm.columns:
            ctx.rfstdtc = {text(u): text(r) for u, r in zip(dm["USUBJID"], dm["RFSTDTC"], strict=True)}
    lb = study.datasets.get("LB")
    if lb is not None and "LBNAM" in lb.columns:
        for name in pd.unique(lb["LBNAM"].astype(object)):
            if text(name):
                ctx.org_rids[text(name)] = ids.simple_id("org", studyid, ids.digest(text(name), 12))
    ctx.encounters, ctx.lb_encounter_rows = encounter_table(study, ctx)
    ctx.ds_rows = disposition_rows(study, ctx.subject_rids)
    _attach_supp(study, ctx)
    _carry_on_subject(study, ctx)
    return ctx


def studyid_of(study: Study) -> str:
    """The STUDYID the resources are named by: the study definition's, else the first dataset's."""
    if study.meta.studyid:
        return study.meta.studyid
    for df in study.datasets.values():
        if "STUDYID" in df.columns and len(df):
            return text(df["STUDYID"].iloc[0])
    return ""


def encounter_table(study: Study, ctx: WriteContext) -> tuple[pd.DataFrame, np.ndarray]:
    """One row per subject visit (USUBJID, VISITNUM) in LB, EX, AE, VS, EG and SV, with the most frequent VISIT
    and EPOCH of the records (the SV record's where there is one: SV is the visit's own record); and per LB row,
    its row of that table (-1 where VISITNUM is missing). Sets ctx.encounter_sv_rows (the SV row of each)."""
    parts = []
    lb = study.datasets.get("LB")
    lb_rows = np.full(0 if lb is None else len(lb), -1, dtype=np.int64)
    sv_rows = placeable_sv_rows(study, ctx)
    for name in ("LB", "EX", "AE", "VS", "EG", "SV"):
        df = study.datasets.get(name)
        if df is None or "VISITNUM" not in df.columns:
            continue
        df = df.iloc[sv_rows] if name == "SV" else df
        cols = {"USUBJID": df["USUBJID"].astype(object), "VISITNUM": df["VISITNUM"]}
        for c in ("VISIT", "EPOCH"):  # SV records do not vote: their values are set afterwards
            has = c in df.columns and name != "SV"
            cols[c] = df[c].astype(object) if has else pd.Series(np.nan, index=df.index, dtype=object)
        parts.append(pd.DataFrame(cols))
    columns = ["USUBJID", "VISITNUM", "VISIT", "EPOCH", "id"]
    ctx.encounter_sv_rows = np.zeros(0, dtype=np.int64)
    if not parts:
        return pd.DataFrame(columns=columns), lb_rows
    allv = pd.concat(parts, ignore_index=True)
    kept = np.flatnonzero(allv["VISITNUM"].notna().to_numpy())
    n_sv = len(sv_rows) if "SV" in study.datasets and "VISITNUM" in study["SV"].columns else 0
    allv = allv.iloc[kept].reset_index(drop=True)
    if allv.empty:
        return pd.DataFrame(columns=columns), lb_rows
    cols = Factorized(allv)
    pair, first = cols.group("USUBJID", "VISITNUM")  # codes in order of first appearance = rows of `out`
    # subject by subject (USUBJID sorted; a subject's visits in order of first appearance): the order of a study
    # written a subject partition at a time as well (fhir/partitioned.py)
    by_subject = np.argsort(allv["USUBJID"].to_numpy(dtype=object)[first].astype(str), kind="stable")
    rank = np.empty_like(by_subject)
    rank[by_subject] = np.arange(len(by_subject))
    pair, first = rank[pair], first[by_subject]
    if lb is not None and "VISITNUM" in lb.columns:  # LB is the first part: its kept rows come first
        lb_kept = kept[kept < len(lb)]
        lb_rows[lb_kept] = pair[:len(lb_kept)]
    out = allv.loc[first, ["USUBJID", "VISITNUM"]].reset_index(drop=True)
    for c in ("VISIT", "EPOCH"):
        out[c] = _most_frequent(allv[c], cols, c, pair, len(first))
    _set_sv_visits(study, ctx, out, pair[len(pair) - n_sv:], sv_rows)
    visit_part = per_distinct(lambda u: u.map(lambda v: "v" + float_text(float(v))).astype(object), out["VISITNUM"])
    out["id"] = ids.simple_ids("enc", ctx.studyid, pd.Series(texts(out["USUBJID"]), dtype=object), visit_part)
    return out[columns], lb_rows


def placeable_sv_rows(study: Study, ctx: WriteContext) -> np.ndarray:
    """The SV rows an Encounter can hold: a VISITNUM, a subject with a Patient, the first record of its visit (a
    second record of the same visit, which SDTM does not allow, rides on the ResearchSubject instead)."""
    sv = study.datasets.get("SV")
    if sv is None or sv.empty or "VISITNUM" not in sv.columns or "USUBJID" not in sv.columns:
        return np.zeros(0, dtype=np.int64)
    subjects = sv["USUBJID"].astype(object).map(text)
    ok = sv["VISITNUM"].notna().to_numpy() & subjects.isin(list(ctx.subject_rids)).to_numpy()
    first = ~pd.DataFrame({"u": subjects, "v": sv["VISITNUM"]}).duplicated().to_numpy()
    return np.flatnonzero(ok & first)


def _set_sv_visits(study: Study, ctx: WriteContext, out: pd.DataFrame, pairs: np.ndarray, sv_rows: np.ndarray
                   ) -> None:
    """The Encounters that hold an SV record take its VISIT and EPOCH (the records of other domains carry theirs
    where they differ); ctx.encounter_sv_rows says which SV row each Encounter holds."""
    held = np.full(len(out), -1, dtype=np.int64)
    if len(sv_rows):
        sv = study["SV"]
        held[pairs] = sv_rows
        for c in ("VISIT", "EPOCH"):
            values = sv[c].astype(object).to_numpy()[sv_rows] if c in sv.columns else np.full(len(sv_rows), "")
            col = out[c].to_numpy(dtype=object).copy()
            col[pairs] = [v if text(v) else np.nan for v in values]
            out[c] = col
    ctx.encounter_sv_rows = held


def disposition_rows(study: Study, subject_rids: dict[str, str]) -> dict[str, int]:
    """USUBJID -> the DS row placed on the subject's ResearchSubject: its one disposition event (DSCAT and the
    DSDECOD codelist from fhir_mapping.yaml `fixed.disposition`). A subject with more than one keeps them all in
    sdtm-supplemental: which one ends the study is not for the writer to guess."""
    ds = study.datasets.get("DS")
    if ds is None or ds.empty or not {"USUBJID", "DSCAT", "DSDECOD"} <= set(ds.columns):
        return {}
    rule = terms.fixed("disposition")
    values = set(mappings.codelist(rule["codelist"]).values)
    cat, decod = texts(ds["DSCAT"]), texts(ds["DSDECOD"])
    subjects = texts(ds["USUBJID"])
    found: dict[str, list[int]] = defaultdict(list)
    for i in np.flatnonzero((cat == rule["dscat"]) & np.isin(decod, list(values))).tolist():
        if subjects[i] in subject_rids:
            found[subjects[i]].append(i)
    return {u: rows[0] for u, rows in found.items() if len(rows) == 1}


def _most_frequent(values: pd.Series, cols: Factorized, name: str, pair: np.ndarray, pairs: int) -> np.ndarray:
    """Per subject visit (`pair` codes of the rows), the value of column `name` most of its rows hold, the
    first in text order on a tie; NaN where no row holds one. Rows without a subject or a value are not
    counted. Worked on codes: one pass over the rows, the rest per distinct (visit, value)."""
    out = np.full(pairs, np.nan, dtype=object)
    counted = np.flatnonzero(~(cols.missing("USUBJID") | cols.missing(name)))
    if not len(counted):
        return out
    value_codes, texts = cols.codes(name)
    combos, first = group_codes(pair[counted], value_codes[counted])
    n = np.bincount(combos, minlength=len(first))
    rows = counted[first]  # a row holding each (visit, value)
    rank = np.empty(len(texts), dtype=np.int64)
    rank[np.argsort(np.array(texts, dtype=object), kind="stable")] = np.arange(len(texts))
    order = np.lexsort((rank[value_codes[rows]], -n, pair[rows]))  # by visit, most rows, then text order
    best = order[np.r_[True, pair[rows][order][1:] != pair[rows][order][:-1]]]
    out[pair[rows[best]]] = values.to_numpy(dtype=object)[rows[best]]
    return out


@dataclass
class RecordFrame:
    """One SDTM event or intervention dataset (AE, EX) as its FHIR builder starts from it: rows 0..n-1, the
    subjects, the stable resource ids, start/end as FHIR dates (with the SDTM strings FHIR cannot hold) and
    each row's Encounter (None when the dataset has no VISITNUM and `visits_optional`)."""

    df: pd.DataFrame
    usubjid: pd.Series
    ids: Any
    start: Any
    start_keep: Any
    end: Any
    end_keep: Any
    encounters: pd.DataFrame | None

    @property
    def n(self) -> int:
        return len(self.df)


def record_frame(ctx: WriteContext, domain: str, visits_optional: bool = False) -> RecordFrame | None:
    """The RecordFrame of `domain` (None when the study has no such records)."""
    df = ctx.study.datasets.get(domain)
    if df is None or df.empty:
        return None
    df = df.reset_index(drop=True)
    usubjid = df["USUBJID"].astype(object)
    rid = ctx.record_ids(domain)
    start, start_keep = dtc_to_fhir(column(df, f"{domain}STDTC").astype(object), ctx.tz)
    end, end_keep = dtc_to_fhir(column(df, f"{domain}ENDTC").astype(object), ctx.tz)
    enc = None if visits_optional and "VISITNUM" not in df.columns else encounter_lookup(ctx, df)
    return RecordFrame(df, usubjid, rid, start, start_keep, end, end_keep, enc)


def column(df: pd.DataFrame, col: str) -> pd.Series:
    """df[col], or a column of "" when the dataset does not have it (permissible variables are often absent)."""
    return df[col] if col in df.columns else pd.Series("", index=df.index, dtype=object)


def encounter_lookup(ctx: WriteContext, df: pd.DataFrame) -> pd.DataFrame:
    """For each row of a domain: its Encounter id and the visit's VISIT/EPOCH ("" / None without VISITNUM)."""
    enc = ctx.encounters
    left = pd.DataFrame({"USUBJID": df["USUBJID"].astype(object).to_numpy(),
                         "VISITNUM": df["VISITNUM"].to_numpy() if "VISITNUM" in df.columns else np.nan})
    merged = left.merge(enc, on=["USUBJID", "VISITNUM"], how="left", sort=False)
    merged["VISIT"] = merged["VISIT"].astype(object).where(merged["VISIT"].notna(), "")
    merged["EPOCH"] = merged["EPOCH"].astype(object).where(merged["EPOCH"].notna(), "")
    return merged


def _attach_supp(study: Study, ctx: WriteContext) -> None:
    """Place each SUPP-- record of a written domain on its parent record (by IDVAR/IDVARVAL), else the subject."""
    for name in study.names:
        if not name.startswith("SUPP"):
            continue
        supp = study[name]
        if "RDOMAIN" not in supp.columns or supp.empty:
            continue
        rdomains = {text(r) for r in pd.unique(supp["RDOMAIN"].astype(object))}
        if not rdomains <= set(WRITTEN_DOMAINS):
            ctx.warnings.append(f"{name}: records for {', '.join(sorted(rdomains - set(WRITTEN_DOMAINS)))} "
                                "are not written to FHIR (their parent domain is not mapped)")
        lookups: dict[tuple[str, str], dict[tuple[str, str], int]] = {}
        for i, rec in enumerate(supp.to_dict("records")):
            rdomain, idvar = text(rec.get("RDOMAIN")), text(rec.get("IDVAR"))
            if rdomain not in WRITTEN_DOMAINS:
                continue
            ext = supplemental_extension(name, rec, ctx.row_base.get(name, 0) + i + 1, list(supp.columns))
            parent = study.datasets.get(rdomain)
            row = None
            if idvar and parent is not None and idvar in parent.columns:
                key = (rdomain, idvar)
                if key not in lookups:
                    lookups[key] = {}
                    for j, (u, v) in enumerate(zip(parent["USUBJID"], parent[idvar], strict=True)):
                        lookups[key].setdefault((text(u), _idvarval(v)), j)
                row = lookups[key].get((text(rec.get("USUBJID")), text(rec.get("IDVARVAL"))))
            if row is not None and rdomain != "DM":
                ctx.supp[(rdomain, row)].append(ext)
            elif text(rec.get("USUBJID")) in ctx.subject_rids:
                ctx.supp_subject[text(rec.get("USUBJID"))].append(ext)
            else:
                ctx.supp_study[name].append(ext)


def _carry_on_subject(study: Study, ctx: WriteContext) -> None:
    """Each record of CARRIED_ON_SUBJECT that no element holds on its subject's ResearchSubject (a subject not in
    DM, which to-fhir rejects before (fhir/admit.py) but a Study given to write_fhir directly may hold: on the
    study); its `row` is its place in the dataset, as the placed records' sdtm-record says theirs."""
    placed = {"SV": set(ctx.encounter_sv_rows[ctx.encounter_sv_rows >= 0].tolist()), "DS": set(ctx.ds_rows.values())}
    for name in CARRIED_ON_SUBJECT:
        df = study.datasets.get(name)
        if df is None or df.empty or "USUBJID" not in df.columns:
            continue
        cols = list(df.columns)
        for i, rec in enumerate(df.to_dict("records")):
            if i in placed[name]:
                continue
            ext = supplemental_extension(name, rec, ctx.row_base.get(name, 0) + i + 1, cols)
            u = text(rec.get("USUBJID"))
            (ctx.supp_subject[u] if u in ctx.subject_rids else ctx.supp_study[name]).append(ext)


def _idvarval(v: Any) -> str:
    if isinstance(v, float | np.floating):
        return float_text(float(v))
    if v is pd.NA or v is None:
        return ""
    return str(v)
