"""SDTM rules on variables and identifiers (scope "sdtm"): Core presence and nulls, CDISC controlled
terminology, --TEST/--TESTCD pairs, --SEQ, USUBJID in DM, DOMAIN, SUPP-- parents, datasets the metadata knows.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from msc_interop import mappings
from msc_interop.distinct import per_distinct
from msc_interop.errors import MappingDataError
from msc_interop.validate.columns import combined_codes
from msc_interop.validate.model import Finding, Reach, RuleMeta, as_text
from msc_interop.validate.registry import get_rule, rule
from msc_interop.validate.rules.sdtm_context import SUBJECT, SdtmContext, fact, text_of

_SUGGEST_LIMIT = 50  # distinct bad values that get a "did you mean" (difflib is slow on big codelists)


def _blank(ctx: SdtmContext, ds: str, col: str) -> pd.Series:
    """True where a value is null: NaN/NA for numbers, empty or only spaces for text."""
    s = ctx.study[ds][col]
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return s.isna()
    return ctx.spread(ds, col, lambda u: np.fromiter((v is None or str(v).strip() == "" for v in u), dtype=bool,
                                                     count=len(u)))


# --- variable presence and Core ---------------------------------------------------------------------------

def _core_variables(ctx: SdtmContext, core: str) -> Iterator[tuple[str, pd.DataFrame, str]]:
    """(dataset, frame, variable) for each variable of this Core ("Req", "Exp") of the dataset's domain, for the
    study's SDTMIG version: msc-interop's metadata, the SDTMIG table or the SDTM class (validate/standard.py)."""
    for ds, df in ctx.frames():
        spec = ctx.spec(ds)
        for name in spec.required if core == "Req" else spec.expected:
            yield ds, df, name


def _absent(ctx: SdtmContext, meta: RuleMeta, core: str) -> Iterator[Finding]:
    for ds, df, name in _core_variables(ctx, core):
        if name not in df.columns:
            yield meta.finding(file=ctx.file(ds), dataset=ds, variable=name, source=ctx.spec(ds).source)


@rule("MSC-SDTM-001", reach=Reach.STUDY)
def required_present(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    return _absent(ctx, meta, "Req")


@rule("MSC-SDTM-002", reach=Reach.SUBJECTS)
def required_not_null(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df, name in _core_variables(ctx, "Req"):
        if name in df.columns:
            yield from ctx.at(meta, ds, _blank(ctx, ds, name), name)


@rule("MSC-SDTM-003", reach=Reach.STUDY)
def expected_present(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    return _absent(ctx, meta, "Exp")


# --- controlled terminology ----------------------------------------------------------------------------------

def _bound_columns(ctx: SdtmContext, ds: str, domain: str) -> Iterator[tuple[str, mappings.Codelist, frozenset[str]]]:
    """(variable, codelist, values allowed) of each column of `ds` bound to a CDISC codelist in `domain`."""
    d = mappings.sdtm_domain(domain)
    for v in d.variables if d else ():
        if v.codelist and v.name in ctx.study[ds].columns:
            cl = mappings.codelist(v.codelist)
            params = get_rule("MSC-SDTM-005" if cl.extensible else "MSC-SDTM-004").params
            yield v.name, cl, cl.values | frozenset(params.get("sdtmig_values", {}).get(v.name, ()))


def _bad_values(ctx: SdtmContext, ds: str, var: str, allowed: frozenset[str]) -> tuple[pd.Series, list[int]]:
    """The distinct values of a column as text, and the positions among them of those not `allowed`."""
    text = text_of(ctx.distinct(ds, var)[1])
    return text, [i for i, x in enumerate(text) if x != "" and x not in allowed]


def _first_bad_rows(ctx: SdtmContext) -> dict[tuple[str, str, str], dict[str, int]]:
    """Per (domain, dataset, variable): each value outside the codelist and the whole row it first occurs in.
    The domain is either possible one (the dataset's name or its first two letters: ctx.domain_of)."""
    out: dict[tuple[str, str, str], dict[str, int]] = {}
    for ds, _df in ctx.frames():
        if not ctx.owns(ds):
            continue
        for domain in dict.fromkeys((ds, ds[:2])):
            for var, _cl, allowed in _bound_columns(ctx, ds, domain):
                text, bad = _bad_values(ctx, ds, var, allowed)
                if bad:
                    rows = ctx.row_numbers(ds, ctx.columns.first_rows(ds, var)[bad])
                    out[(domain, ds, var)] = dict(zip(text.iloc[bad], rows.tolist(), strict=True))
    return out


def _merge_first_rows(a: dict[Any, dict[str, int]], b: dict[Any, dict[str, int]]) -> dict[Any, dict[str, int]]:
    out = {k: dict(v) for k, v in a.items()}
    for key, rows in b.items():
        mine = out.setdefault(key, {})
        for value, row in rows.items():
            mine[value] = min(row, mine.get(value, row))
    return out


def _suggested(part: dict[Any, dict[str, int]]) -> dict[Any, frozenset[str]]:
    """The values that get a "did you mean": the first _SUGGEST_LIMIT bad values of a column (by first row)."""
    return {key: frozenset(sorted(rows, key=rows.__getitem__)[:_SUGGEST_LIMIT]) for key, rows in part.items()}


# which bad values of a column get a suggestion depends on the whole column (the first 50 distinct ones)
SUGGESTED = fact("codelist_suggested", _first_bad_rows, _merge_first_rows, _suggested)


def _codelist_breaches(ctx: SdtmContext, meta: RuleMeta, extensible: bool) -> Iterator[Finding]:
    ct = mappings.ct_source().get("package_date", "")
    for ds, _df in ctx.frames():
        domain = ctx.domain_of(ds)
        for var, cl, allowed in _bound_columns(ctx, ds, domain):
            if cl.extensible != extensible:
                continue
            text, bad = _bad_values(ctx, ds, var, allowed)
            if not bad:  # every value in the codelist: nothing to spread over the rows
                yield from ctx.at(meta, ds, np.zeros(len(_df), dtype=bool), var)
                continue
            suggest = ctx.fact(SUGGESTED).get((domain, ds, var), frozenset())
            hints = {x: _codelist_hint(cl.name, x, x in suggest) for x in text.iloc[bad]}
            per_value = text.map(lambda x, h=hints: h.get(x))
            hint = ctx.spread(ds, var, lambda u, pv=per_value: pv)
            yield from ctx.at(meta, ds, hint.notna(), var, codelist=cl.name, nci_code=cl.nci_code, ct=ct,
                              hint=hint)


@functools.lru_cache(maxsize=4096)
def _codelist_hint(codelist: str, value: str, suggest: bool) -> str:
    """A hint for a value outside `codelist` (cached: each partition of a study meets the same bad values)."""
    cl = mappings.codelist(codelist)
    mapped = cl.synonym_map.get(value.strip().upper())
    if mapped is not None and mapped != value:
        return f"; did you mean {mapped}?"
    if suggest:
        close = difflib.get_close_matches(value, sorted(cl.values), n=1, cutoff=0.75)
        if close:
            return f"; did you mean {close[0]}?"
    if len(cl.values) <= 12:
        return f"; allowed: {', '.join(sorted(cl.values))}"
    return ""


@rule("MSC-SDTM-004", reach=Reach.SUBJECTS)
def codelist_closed(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    return _codelist_breaches(ctx, meta, extensible=False)


@rule("MSC-SDTM-005", reach=Reach.SUBJECTS)
def codelist_extensible(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    return _codelist_breaches(ctx, meta, extensible=True)


@rule("MSC-SDTM-024", reach=Reach.SUBJECTS)
def test_name_matches_code(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df, (cd_var, name_var) in ctx.having("TESTCD", "TEST"):
        try:
            codes, names = mappings.codelist(cd_var), mappings.codelist(name_var)
        except MappingDataError:
            continue  # no CT pair for this domain in the shipped extract
        name_by_code = {t.nci_code: t.value for t in names.terms}
        c1, u1 = ctx.distinct(ds, cd_var)
        c2, u2 = ctx.distinct(ds, name_var)
        pair = c1.astype(np.int64) * (len(u2) + 1) + c2
        pair_codes, first = np.unique(pair, return_index=True)
        expected_of: dict[int, str] = {}
        for code, row in zip(pair_codes.tolist(), first.tolist(), strict=True):
            t1, t2 = codes.term(u1.iloc[c1[row]]), names.term(u2.iloc[c2[row]])
            if t1 is not None and t2 is not None and t1.nci_code != t2.nci_code:
                expected_of[code] = name_by_code.get(t1.nci_code, "?")
        if not expected_of:
            yield from ctx.at(meta, ds, np.zeros(len(df), dtype=bool), name_var)
            continue
        bad = np.isin(pair, list(expected_of))
        expected = pd.Series([expected_of[k] for k in pair[bad].tolist()], index=df.index[bad])
        yield from ctx.at(meta, ds, bad, name_var, testcd_var=cd_var, testcd=df[cd_var], expected=expected)


# --- identifiers -----------------------------------------------------------------------------------------------

@rule("MSC-SDTM-010", reach=Reach.SUBJECTS)
def seq_unique(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    splits = ctx.split_groups()
    for ds, df, (seq,) in ctx.having("SEQ"):
        if "USUBJID" not in df.columns:
            continue
        if ctx.domain_of(ds) in splits:
            continue  # a split domain: --SEQ is unique across all its datasets (below)
        subj_codes, _ = ctx.distinct(ds, "USUBJID")
        seq_codes, _ = ctx.distinct(ds, seq)
        key = pd.Series(subj_codes.astype(np.int64) * (int(seq_codes.max(initial=0)) + 1) + seq_codes,
                        index=df.index)
        dup = key.duplicated(keep=False) & df[seq].notna()
        yield from ctx.at(meta, ds, dup, seq, count=key[dup].map(key[dup].value_counts()))
    yield from _seq_unique_across_splits(ctx, meta, splits)


def _seq_unique_across_splits(ctx: SdtmContext, meta: RuleMeta, splits: dict[str, list[str]]) -> Iterator[Finding]:
    """SDTMIG 3.2 section 4.1.7: --SEQ is unique within USUBJID across all the datasets a domain is split into."""
    for domain, names in splits.items():
        seq = f"{domain}SEQ"
        parts = [(ds, ctx.study[ds]) for ds in names if {"USUBJID", seq} <= set(ctx.study[ds].columns)]
        if not parts:
            continue
        keys = pd.concat([pd.DataFrame({"USUBJID": df["USUBJID"].to_numpy(dtype=object),
                                        "SEQ": df[seq].to_numpy(dtype="float64", na_value=np.nan),
                                        "ds": ds, "row": np.arange(len(df))}) for ds, df in parts],
                         ignore_index=True)
        dup = keys.duplicated(["USUBJID", "SEQ"], keep=False) & keys["SEQ"].notna()
        if not dup.any():
            for ds, df in parts:  # nothing here: the same (empty) checks as where there is
                yield from ctx.at(meta, ds, np.zeros(len(df), dtype=bool), seq, variant="split")
            continue
        counts = keys[dup].groupby(["USUBJID", "SEQ"])["ds"].transform("size")
        where = keys[dup].groupby(["USUBJID", "SEQ"])["ds"].transform(lambda x: ", ".join(sorted(set(x))))
        for ds, df in parts:
            mine = dup & keys["ds"].eq(ds)
            rows = keys.loc[mine, "row"].to_numpy()
            mask = np.zeros(len(df), dtype=bool)
            mask[rows] = True
            n = pd.Series(0, index=df.index)
            n.iloc[rows] = counts[mine].to_numpy()
            w = pd.Series("", index=df.index, dtype=object)
            w.iloc[rows] = where[mine].to_numpy()
            yield from ctx.at(meta, ds, mask, seq, count=n, variant="split", datasets=w, domain=domain)


def _subjects_named(ctx: SdtmContext) -> dict[str, bool]:
    """Per dataset with USUBJID: whether a row names a subject."""
    return {ds: bool(ctx.spread(ds, SUBJECT, lambda u: u.ne("")).any()) for ds, df in ctx.frames()
            if SUBJECT in df.columns and ctx.owns(ds)}


SUBJECTS_NAMED = fact("subjects_named", _subjects_named,
                      lambda a, b: {k: a.get(k, False) or b.get(k, False) for k in {*a, *b}})


@rule("MSC-SDTM-011", reach=Reach.SUBJECTS)
def subject_in_dm(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    dm_ids = set(ctx.study["DM"]["USUBJID"]) if "DM" in ctx.study and "USUBJID" in ctx.study["DM"].columns else None
    for ds, df in ctx.frames():
        if ds == "DM" or "USUBJID" not in df.columns:
            continue
        if dm_ids is None:  # one finding per dataset (a study-level one: said once over partitions)
            if ctx.once and ctx.whole_study and ctx.fact(SUBJECTS_NAMED).get(ds, False):
                yield meta.finding(file=ctx.file(ds), dataset=ds, variable="USUBJID", variant="no_dm")
            continue
        present = ctx.spread(ds, "USUBJID", lambda u: u.ne("")).astype(bool)
        unknown = ctx.spread(ds, "USUBJID", lambda u: ~u.isin(dm_ids)).astype(bool) & present
        yield from ctx.at(meta, ds, unknown, "USUBJID")


@rule("MSC-SDTM-020", reach=Reach.SUBJECTS)
def domain_matches(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in ctx.frames():
        if "DOMAIN" not in df.columns or ds.startswith("SUPP"):
            continue
        expected = ds if len(ds) == 2 else ds[:2]
        bad = ctx.spread(ds, "DOMAIN", lambda u, e=expected: u.ne(e) & u.ne("")).astype(bool)
        yield from ctx.at(meta, ds, bad, "DOMAIN", expected=expected)


@rule("MSC-SDTM-021", reach=Reach.SUBJECTS)
def one_record_per_key(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    """A dataset whose structure is one record per key (params: DM per subject, SV per subject and visit): rows
    sharing a key. Each key column is coded once per distinct value and the codes combined (columns.combined_codes);
    a row with a null key part is not compared (MSC-SDTM-002 reports the null)."""
    for ds, keys in meta.params.get("keys", {}).items():
        if ds not in ctx.study or not set(keys) <= set(ctx.study[ds].columns):
            continue
        df = ctx.study[ds]
        texts = {k: ctx.text(ds, k) for k in keys}
        present = np.logical_and.reduce([t.ne("").to_numpy() for t in texts.values()])
        codes, _ = combined_codes([(c, len(u)) for c, u in (ctx.distinct(ds, k) for k in keys)])
        counts = np.bincount(codes) if len(codes) else np.zeros(0, dtype=np.int64)
        dup = present & (counts[codes] > 1)
        count = pd.Series(counts[codes], index=df.index)
        if len(keys) == 1:
            yield from ctx.at(meta, ds, dup, keys[0], count=count)
            continue
        shown = pd.Series("", index=df.index, dtype=object)  # "USUBJID '01-711-1143', VISITNUM 9.2": dup rows only
        if dup.any():
            shown[dup] = [", ".join(f"{k} '{v}'" if k == SUBJECT else f"{k} {v}"
                                    for k, v in zip(keys, row, strict=True))
                          for row in zip(*(texts[k][dup] for k in keys), strict=True)]
        domain = mappings.sdtm_domain(ds)
        yield from ctx.at(meta, ds, dup, keys[-1], variant="keys", key=shown, count=count, keys=", ".join(keys),
                          structure=domain.structure if domain else "one record per key")


def _supp_groups(ctx: SdtmContext) -> dict[str, set[tuple[Any, Any]]]:
    """Per SUPP-- dataset: its (RDOMAIN, IDVAR) pairs."""
    return {ds: set(df.groupby(["RDOMAIN", "IDVAR"]).size().index) for ds, df in ctx.frames()
            if ds.startswith("SUPP") and {"RDOMAIN", "IDVAR"} <= set(df.columns) and ctx.owns(ds)}


# the (RDOMAIN, IDVAR) groups of each SUPP-- dataset in the whole study, in order (each is a check of its own)
SUPP_GROUPS = fact("supp_groups", _supp_groups, lambda a, b: {k: a.get(k, set()) | b.get(k, set()) for k in {*a, *b}},
                   lambda part: {k: sorted(v) for k, v in part.items()})


@rule("MSC-SDTM-022", reach=Reach.SUBJECTS)
def supp_has_parent(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in ctx.frames():
        if not ds.startswith("SUPP") or not {"RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL"} <= set(df.columns):
            continue
        for rdomain, idvar in ctx.fact(SUPP_GROUPS).get(ds, ()):
            part = df[df["RDOMAIN"].eq(rdomain) & df["IDVAR"].eq(idvar)]
            mask = df.index.isin(part.index)
            parents = _parent_datasets(ctx, ds, rdomain)
            if not parents:
                if ctx.whole_study:
                    yield from ctx.at(meta, ds, mask, "RDOMAIN", variant="no_parent", rdomain=rdomain)
                continue
            parent = pd.concat([ctx.study[p] for p in parents], ignore_index=True) if len(parents) > 1 \
                else ctx.study[parents[0]]
            if idvar == "":
                keys = set(parent["USUBJID"]) if "USUBJID" in parent.columns else set()
                missing = ~part["USUBJID"].isin(keys)
            else:
                if idvar in parent.columns and "USUBJID" in parent.columns:
                    vals = per_distinct(lambda u: u.map(as_text).astype(object), parent[idvar])
                    keys = set(zip(parent["USUBJID"], vals, strict=True))
                else:
                    keys = set()
                missing = pd.Series(np.array([k not in keys for k in zip(part["USUBJID"], part["IDVARVAL"],
                                                                          strict=True)], dtype=bool), index=part.index)
            bad = pd.Series(False, index=df.index)
            bad[missing.index[missing.to_numpy()]] = True
            yield from ctx.at(meta, ds, bad, "IDVARVAL", rdomain=rdomain, idvar=idvar or "(subject)",
                              idvarval=df["IDVARVAL"])


def _parent_datasets(ctx: SdtmContext, supp: str, rdomain: str) -> list[str]:
    """The datasets holding the parent records of a SUPP-- dataset: SUPPLBCH's are in LBCH (SDTMIG 3.2 section
    4.1.7), else every dataset of the domain RDOMAIN (a split domain's --SEQ is unique across its datasets)."""
    own = supp[4:]
    if own != rdomain and own in ctx.study and ctx.domain_of(own) == rdomain:
        return [own]
    return [name for name in ctx.study.names if not name.startswith("SUPP") and ctx.domain_of(name) == rdomain]


@rule("MSC-SDTM-023", reach=Reach.STUDY)
def dataset_described(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    with_codelists = ", ".join(n for n in mappings.sdtm_domains() if n != "SUPPQUAL") + ", SUPP--"
    for ds, _df in ctx.frames():
        spec = ctx.spec(ds)
        as_split = f" (a split dataset of {spec.domain})" if spec.domain != ds else ""
        if not spec.source:
            yield meta.finding(file=ctx.file(ds), dataset=ds, variant="unknown", split=as_split)
        elif not spec.codelists:
            yield meta.finding(file=ctx.file(ds), dataset=ds, split=as_split, source=spec.source,
                               known=with_codelists)
