"""SDTM conformance rules over a Study (SDTMIG 3.4, CDISC CT): scope "sdtm".

Every rule works on whole columns: masks over a dataset, look-ups on the distinct values only (each column is
factorized once per run and shared by all rules: validate/columns.py), uniqueness by integer keys built from those
codes, so a million LB rows take seconds. Findings carry the SDTM location: the file the
dataset came from, the dataset, the row (1 = first record), USUBJID, --SEQ and the variable.

Rules that need the domain's variable metadata (Core, codelist) run for the datasets mappings/sdtm_variables.yaml
describes; the others (dates, study days, --SEQ, USUBJID in DM, visits, results, test codes, flags) work by the
SDTM naming conventions on every dataset.
"""

from __future__ import annotations

import calendar
import difflib
import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from msc_interop import dates, mappings
from msc_interop.errors import MappingDataError
from msc_interop.study import Study
from msc_interop.validate.columns import ColumnCache
from msc_interop.validate.model import Finding, RuleMeta, as_text
from msc_interop.validate.registry import bulk, rule

_CODE = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_NUMBER = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"
_BASIC_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})?)?$")
_DTC_PARTS = re.compile(r"^(\d{4})(?:-(\d{2}|-)(?:-(\d{2}|-)(?:T(\d{2}|-)(?::(\d{2}|-)(?::(\d{2})(?:\.\d+)?)?)?)?)?)?$")
_TRUNCATED = re.compile(r"^\d{4}(?:-\d{2}(?:-\d{2}(?:T\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?)?)?)?$")
_SUGGEST_LIMIT = 50  # distinct bad values that get a "did you mean" (difflib is slow on big codelists)


@dataclass
class SdtmContext:
    """What the SDTM rules read: the Study and where each dataset came from."""

    study: Study
    source: str = ""
    files: Mapping[str, str] = field(default_factory=dict)
    # False when the user validates one dataset file: checks that need the other datasets (a DM to confirm
    # subjects, the parent of a SUPP--) cannot conclude that those datasets are missing
    whole_study: bool = True
    column_cache: ColumnCache | None = None
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    def file(self, ds: str) -> str:
        return self.files.get(ds, self.source)

    def frames(self) -> Iterator[tuple[str, pd.DataFrame]]:
        for name in self.study.names:
            yield name, self.study[name]

    def prefix(self, ds: str) -> str:
        """The --variable prefix: the domain code (DOMAIN of a split dataset such as QSPH is QS)."""
        return domain_code(ds, self.study[ds])

    def cached(self, key: Any, make: Callable[[], Any]) -> Any:
        """A value several rules share (study days, distinct values), computed once per context."""
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    @functools.cached_property
    def columns(self) -> ColumnCache:
        """Distinct values per column, shared by all rules (and by the define.xml rules of the same data)."""
        return self.column_cache if self.column_cache is not None else ColumnCache(self.study.datasets)

    def distinct(self, ds: str, col: str) -> tuple[np.ndarray, pd.Series]:
        """(codes, distinct values) of a column: rules look values up on the distinct values only."""
        return self.columns.distinct(ds, col)

    def spread(self, ds: str, col: str, fn: Callable[[pd.Series], Any]) -> pd.Series:
        """`fn` applied to the distinct values of a column, spread back to every row."""
        return self.columns.spread(ds, col, fn)

    @functools.cached_property
    def dm_rfstdtc(self) -> pd.Series | None:
        """RFSTDTC by USUBJID (None when there is no DM with USUBJID)."""
        if "DM" not in self.study or "USUBJID" not in self.study["DM"].columns:
            return None
        dm = self.study["DM"]
        rf = dm["RFSTDTC"] if "RFSTDTC" in dm.columns else pd.Series("", index=dm.index, dtype=object)
        out = pd.Series(rf.to_numpy(dtype=object), index=dm["USUBJID"].to_numpy(dtype=object), dtype=object)
        return out[~out.index.duplicated()]

    def at(self, meta: RuleMeta, ds: str, mask: pd.Series | np.ndarray, variable: str = "",
           values: pd.Series | None = None, variant: str | None = None, **extra: Any) -> list[Finding]:
        """Findings of `meta` at the rows of dataset `ds` where `mask` is True (built in bulk).

        `values` defaults to the `variable` column; each `extra` is a Series/array aligned with the dataset
        (taken at the rows) or one value for all rows.
        """
        df = self.study[ds]
        pos = np.flatnonzero(np.asarray(mask, dtype=bool))
        if not len(pos):
            return []
        if values is None and variable in df.columns:
            values = df[variable]
        elif isinstance(values, pd.Series) and not values.index.equals(df.index):
            values = values.reindex(df.index)
        cols: dict[str, Any] = {
            "file": self.file(ds), "dataset": ds, "variable": variable, "row": pos + 1,
            "value": _take(values, pos) if values is not None else "",
        }
        if "USUBJID" in df.columns:
            cols["usubjid"] = _take(df["USUBJID"], pos)
        seq = f"{self.prefix(ds)}SEQ"
        if seq in df.columns:
            cols["seq"] = _take(df[seq], pos)
        for k, v in extra.items():
            if isinstance(v, pd.Series) and not v.index.equals(df.index):
                v = v.reindex(df.index)  # a Series of some rows only: align it with the dataset
            cols[k] = _take(v, pos) if isinstance(v, pd.Series | np.ndarray) else v
        return bulk(meta, len(pos), variant=variant, **cols)


def _take(values: pd.Series | np.ndarray, pos: np.ndarray) -> np.ndarray:
    arr = values.to_numpy(dtype=object, na_value=None) if isinstance(values, pd.Series) else np.asarray(values)
    return arr[pos]


def domain_code(ds: str, df: pd.DataFrame) -> str:
    if "DOMAIN" in df.columns and len(df):
        first = str(df["DOMAIN"].iloc[0])
        if re.fullmatch(r"[A-Z]{2}", first) and ds.startswith(first):
            return first
    return ds[:2] if len(ds) > 2 and not ds.startswith("SUPP") else ds


def _blank(ctx: SdtmContext, ds: str, col: str) -> pd.Series:
    """True where a value is null: NaN/NA for numbers, empty or only spaces for text."""
    s = ctx.study[ds][col]
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return s.isna()
    return ctx.spread(ds, col, lambda u: np.fromiter((v is None or str(v).strip() == "" for v in u), dtype=bool,
                                                     count=len(u)))


def _as_text(u: pd.Series) -> pd.Series:
    """Distinct values as report text (numbers without a trailing .0)."""
    return u if u.dtype == object else u.map(as_text).astype(object)


def _described(ds: str) -> mappings.DomainDef | None:
    return mappings.sdtm_domain(ds)


# --- variable presence and Core ---------------------------------------------------------------------------

@rule("MSC-SDTM-001")
def required_present(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in ctx.frames():
        d = _described(ds)
        for v in d.variables if d else ():
            if v.core == "Req" and v.name not in df.columns:
                yield meta.finding(file=ctx.file(ds), dataset=ds, variable=v.name)


@rule("MSC-SDTM-002")
def required_not_null(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in ctx.frames():
        d = _described(ds)
        for v in d.variables if d else ():
            if v.core == "Req" and v.name in df.columns:
                yield from ctx.at(meta, ds, _blank(ctx, ds, v.name), v.name)


@rule("MSC-SDTM-003")
def expected_present(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in ctx.frames():
        d = _described(ds)
        for v in d.variables if d else ():
            if v.core == "Exp" and v.name not in df.columns:
                yield meta.finding(file=ctx.file(ds), dataset=ds, variable=v.name)


# --- controlled terminology ----------------------------------------------------------------------------------

def _codelist_breaches(ctx: SdtmContext, meta: RuleMeta, extensible: bool) -> Iterator[Finding]:
    ct = mappings.ct_source().get("package_date", "")
    for ds, df in ctx.frames():
        d = _described(ds)
        for v in d.variables if d else ():
            if not v.codelist or v.name not in df.columns:
                continue
            cl = mappings.codelist(v.codelist)
            if cl.extensible != extensible:
                continue
            allowed = cl.values | frozenset(meta.params.get("sdtmig_values", {}).get(v.name, ()))
            _codes, uniques = ctx.distinct(ds, v.name)
            text = _as_text(uniques)
            bad_values = [x for x in text if x != "" and x not in allowed]
            if not bad_values:
                continue
            hints = {x: _codelist_hint(cl, x, i < _SUGGEST_LIMIT) for i, x in enumerate(bad_values)}
            per_value = text.map(lambda x, h=hints: h.get(x))
            hint = ctx.spread(ds, v.name, lambda u, pv=per_value: pv)
            yield from ctx.at(meta, ds, hint.notna(), v.name, codelist=cl.name, nci_code=cl.nci_code, ct=ct,
                              hint=hint)


def _codelist_hint(cl: mappings.Codelist, value: str, suggest: bool) -> str:
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


@rule("MSC-SDTM-004")
def codelist_closed(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    return _codelist_breaches(ctx, meta, extensible=False)


@rule("MSC-SDTM-005")
def codelist_extensible(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    return _codelist_breaches(ctx, meta, extensible=True)


@rule("MSC-SDTM-024")
def test_name_matches_code(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in ctx.frames():
        p = ctx.prefix(ds)
        cd_var, name_var = f"{p}TESTCD", f"{p}TEST"
        if cd_var not in df.columns or name_var not in df.columns:
            continue
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
            continue
        bad = np.isin(pair, list(expected_of))
        expected = pd.Series([expected_of[k] for k in pair[bad].tolist()], index=df.index[bad])
        yield from ctx.at(meta, ds, bad, name_var, testcd_var=cd_var, testcd=df[cd_var], expected=expected)


# --- dates and study days ------------------------------------------------------------------------------------

def _dtc_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c.endswith("DTC") and df[c].dtype == object]


def dtc_problem(value: str) -> str:
    """"" when `value` is a valid SDTM --DTC (extended ISO 8601, calendar-valid), else a hint for the message."""
    if value == "":
        return ""
    m = _BASIC_DATE.match(value)
    if m:
        y, mo, d, hh, mi, ss = m.groups()
        fixed = f"{y}-{mo}-{d}" + (f"T{hh}:{mi}" + (f":{ss}" if ss else "") if hh else "")
        return f" (the basic format is not allowed: write {fixed})"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2})?", value):
        return f" (date and time are joined by T: {value.replace(' ', 'T')})"
    if value != value.strip():
        return " (leading or trailing spaces)"
    m = _DTC_PARTS.match(value)
    if not m or not re.fullmatch(dates.SDTM_DTC_PATTERN, value):
        return " (YYYY-MM-DDThh:mm:ss, right-truncated to the known precision; - for a missing middle part)"
    y, mo, d, hh, mi, ss = m.groups()
    if mo not in (None, "-") and not 1 <= int(mo) <= 12:
        return f" (month {mo} does not exist)"
    if d not in (None, "-"):
        if not 1 <= int(d) <= 31:
            return f" (day {d} does not exist)"
        if mo not in (None, "-") and int(d) > calendar.monthrange(int(y), int(mo))[1]:
            return f" ({y}-{mo}-{d} is not a calendar date)"
    if hh not in (None, "-") and int(hh) > 23:
        return f" (hour {hh} does not exist)"
    if mi not in (None, "-") and int(mi) > 59:
        return f" (minute {mi} does not exist)"
    if ss is not None and int(ss) > 59:
        return f" (second {ss} does not exist)"
    return ""


# the common valid forms, checked column-wise first; only the rest goes through dtc_problem one by one
_PLAIN_DTC = (r"^\d{4}(?:-(?:0[1-9]|1[0-2])(?:-(?:0[1-9]|[12]\d|3[01])"
              r"(?:T(?:[01]\d|2[0-3])(?::[0-5]\d(?::[0-5]\d(?:\.\d+)?)?)?)?)?)?$")


_SMALL = 256  # below this many distinct values, a Python loop beats the fixed cost of pandas string methods


def _dtc_hints(u: pd.Series) -> np.ndarray:
    if len(u) < _SMALL:
        return np.array([dtc_problem(str(v)) for v in u], dtype=object)
    text = u.astype(str)
    plain = text.str.fullmatch(_PLAIN_DTC).astype(bool) | text.eq("")
    full = plain & text.str.len().ge(10)
    if full.any():  # 31 February passes the pattern: check the calendar
        ok = pd.to_datetime(text[full].str.slice(0, 10), format="%Y-%m-%d", errors="coerce").notna()
        plain[full] = ok.to_numpy()
    hints = np.full(len(u), "", dtype=object)
    for i in np.flatnonzero(~plain.to_numpy()):
        hints[i] = dtc_problem(text.iloc[i])
    return hints


@rule("MSC-SDTM-006")
def iso8601_extended(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in ctx.frames():
        for col in _dtc_columns(df):
            hint = ctx.spread(ds, col, _dtc_hints)
            yield from ctx.at(meta, ds, hint.ne(""), col, hint=hint)


def _dy_pairs(df: pd.DataFrame) -> list[tuple[str, str]]:
    """(--DY variable, its --DTC variable): LBDY/LBDTC, EXSTDY/EXSTDTC, AEENDY/AEENDTC ..."""
    return [(c, c[:-2] + "DTC") for c in df.columns if c.endswith("DY") and c[:-2] + "DTC" in df.columns]


_COMPLETE_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:T|$)")


def _day_numbers(u: pd.Series) -> np.ndarray:
    """Days since 1970-01-01 of the complete dates (YYYY-MM-DD, with or without a time); NaN otherwise."""
    if len(u) >= _SMALL:
        parsed = dates.date_part(u).to_numpy(dtype="datetime64[ns]")
        return (parsed - np.datetime64("1970-01-01", "ns")) / np.timedelta64(1, "D")
    out = np.full(len(u), np.nan)
    for i, v in enumerate(u):
        m = _COMPLETE_DATE.match(v) if isinstance(v, str) else None
        if m:
            y, mo, d = (int(g) for g in m.groups())
            if 1 <= mo <= 12 and 1 <= d <= calendar.monthrange(y, mo)[1]:
                out[i] = (date(y, mo, d) - date(1970, 1, 1)).days
    return out


@dataclass
class _StudyDays:
    dy: pd.Series
    dtc: pd.Series
    rf: pd.Series
    expected: pd.Series
    in_dm: pd.Series
    dtc_complete: pd.Series
    rf_complete: pd.Series


def _study_days(ctx: SdtmContext) -> list[tuple[str, str, str, _StudyDays]]:
    return ctx.cached("study_days", lambda: list(_compute_study_days(ctx)))


def _compute_study_days(ctx: SdtmContext) -> Iterator[tuple[str, str, str, _StudyDays]]:
    """--DY against the study day of its --DTC (SDTMIG 4.4.4), all on distinct values: dates per distinct --DTC,
    RFSTDTC per distinct subject."""
    ref = ctx.dm_rfstdtc
    if ref is None:
        return
    for ds, df in ctx.frames():
        if "USUBJID" not in df.columns:
            continue
        pairs = _dy_pairs(df)
        if not pairs:
            continue
        subj_codes, subjects = ctx.distinct(ds, "USUBJID")
        rf_u = subjects.map(ref).fillna("").astype(object)
        rf = pd.Series(rf_u.to_numpy()[subj_codes], index=df.index, dtype=object)
        in_dm = pd.Series(subjects.isin(ref.index).to_numpy()[subj_codes], index=df.index)
        rf_day_u = _day_numbers(rf_u)
        rf_day = rf_day_u[subj_codes]
        rf_complete = pd.Series(~np.isnan(rf_day_u)[subj_codes], index=df.index)
        for dy_var, dtc_var in pairs:
            dtc_day = ctx.spread(ds, dtc_var, _day_numbers).to_numpy(dtype="float64")
            days = dtc_day - rf_day  # NaN where either date is partial or missing
            expected = pd.Series(np.where(days >= 0, days + 1, days), index=df.index).astype("Int64")
            dy = pd.to_numeric(df[dy_var], errors="coerce")
            complete = pd.Series(~np.isnan(dtc_day), index=df.index)
            yield ds, dy_var, dtc_var, _StudyDays(dy, df[dtc_var], rf, expected, in_dm, complete, rf_complete)


@rule("MSC-SDTM-007")
def study_day_matches(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, dy_var, dtc_var, s in _study_days(ctx):
        bad = s.dy.notna() & s.expected.notna() & s.dy.ne(0) & s.dy.ne(s.expected.astype("float64"))
        yield from ctx.at(meta, ds, bad.fillna(False), dy_var, dtc_var=dtc_var, dtc=s.dtc, rfstdtc=s.rf,
                          expected=s.expected)


@rule("MSC-SDTM-008")
def no_day_zero(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in ctx.frames():
        for dy_var in (c for c in df.columns if c.endswith("DY") and pd.api.types.is_numeric_dtype(df[c])):
            yield from ctx.at(meta, ds, df[dy_var].eq(0).fillna(False), dy_var)


@rule("MSC-SDTM-009")
def no_day_from_partial_date(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, dy_var, dtc_var, s in _study_days(ctx):
        bad = (s.dy.notna() & s.expected.isna() & s.in_dm).to_numpy(dtype=bool)
        if not bad.any():
            continue
        rows = s.dtc.index[bad]
        dtc, rf, complete = s.dtc[rows], s.rf[rows], s.dtc_complete[rows]
        reason = (dtc_var + " '" + dtc.astype(str) + "' is not a complete date").where(dtc.ne(""),
                                                                                         f"{dtc_var} is missing")
        rf_reason = ("the subject's RFSTDTC '" + rf.astype(str) + "' is partial").where(
            rf.ne(""), "the subject's RFSTDTC is missing")
        yield from ctx.at(meta, ds, bad, dy_var, reason=reason.where(~complete, rf_reason))


# --- identifiers -----------------------------------------------------------------------------------------------

@rule("MSC-SDTM-010")
def seq_unique(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in ctx.frames():
        seq = f"{ctx.prefix(ds)}SEQ"
        if seq not in df.columns or "USUBJID" not in df.columns:
            continue
        subj_codes, _ = ctx.distinct(ds, "USUBJID")
        seq_codes, _ = ctx.distinct(ds, seq)
        key = pd.Series(subj_codes.astype(np.int64) * (int(seq_codes.max(initial=0)) + 1) + seq_codes,
                        index=df.index)
        dup = key.duplicated(keep=False) & df[seq].notna()
        if not dup.any():
            continue
        yield from ctx.at(meta, ds, dup, seq, count=key[dup].map(key[dup].value_counts()))


@rule("MSC-SDTM-011")
def subject_in_dm(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    dm_ids = set(ctx.study["DM"]["USUBJID"]) if "DM" in ctx.study and "USUBJID" in ctx.study["DM"].columns else None
    for ds, df in ctx.frames():
        if ds == "DM" or "USUBJID" not in df.columns:
            continue
        present = ctx.spread(ds, "USUBJID", lambda u: u.ne("")).astype(bool)
        if dm_ids is None:
            if present.any() and ctx.whole_study:
                yield meta.finding(file=ctx.file(ds), dataset=ds, variable="USUBJID", variant="no_dm")
            continue
        unknown = ctx.spread(ds, "USUBJID", lambda u: ~u.isin(dm_ids)).astype(bool) & present
        yield from ctx.at(meta, ds, unknown, "USUBJID")


@rule("MSC-SDTM-020")
def domain_matches(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in ctx.frames():
        if "DOMAIN" not in df.columns or ds.startswith("SUPP"):
            continue
        expected = ds if len(ds) == 2 else ds[:2]
        bad = ctx.spread(ds, "DOMAIN", lambda u, e=expected: u.ne(e) & u.ne("")).astype(bool)
        yield from ctx.at(meta, ds, bad, "DOMAIN", expected=expected)


@rule("MSC-SDTM-021")
def one_dm_record_per_subject(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    if "DM" not in ctx.study or "USUBJID" not in ctx.study["DM"].columns:
        return
    subj = ctx.study["DM"]["USUBJID"]
    dup = subj.duplicated(keep=False) & subj.ne("")
    yield from ctx.at(meta, "DM", dup, "USUBJID", count=subj.map(subj.value_counts()))


@rule("MSC-SDTM-022")
def supp_has_parent(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in ctx.frames():
        if not ds.startswith("SUPP") or not {"RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL"} <= set(df.columns):
            continue
        for (rdomain, idvar), part in df.groupby(["RDOMAIN", "IDVAR"], sort=True):
            mask = df.index.isin(part.index)
            if rdomain not in ctx.study:
                if ctx.whole_study:
                    yield from ctx.at(meta, ds, mask, "RDOMAIN", variant="no_parent", rdomain=rdomain)
                continue
            parent = ctx.study[rdomain]
            if idvar == "":
                keys = set(parent["USUBJID"]) if "USUBJID" in parent.columns else set()
                missing = ~part["USUBJID"].isin(keys)
            else:
                if idvar in parent.columns and "USUBJID" in parent.columns:
                    vals = dates.per_distinct(lambda u: u.map(as_text).astype(object), parent[idvar])
                    keys = set(zip(parent["USUBJID"], vals, strict=True))
                else:
                    keys = set()
                missing = pd.Series([k not in keys for k in zip(part["USUBJID"], part["IDVARVAL"], strict=True)],
                                    index=part.index)
            bad = pd.Series(False, index=df.index)
            bad[missing.index[missing.to_numpy()]] = True
            yield from ctx.at(meta, ds, bad, "IDVARVAL", rdomain=rdomain, idvar=idvar or "(subject)",
                              idvarval=df["IDVARVAL"])


@rule("MSC-SDTM-023")
def dataset_described(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    known = ", ".join(n for n in mappings.sdtm_domains() if n != "SUPPQUAL") + ", SUPP--"
    for ds, _df in ctx.frames():
        if _described(ds) is None:
            yield meta.finding(file=ctx.file(ds), dataset=ds, known=known)


# --- timing ------------------------------------------------------------------------------------------------------

def _start_end_pairs(df: pd.DataFrame, prefix: str) -> list[tuple[str, str]]:
    pairs = [(f"{prefix}STDTC", f"{prefix}ENDTC"), ("RFSTDTC", "RFENDTC"), ("RFXSTDTC", "RFXENDTC")]
    return [(a, b) for a, b in pairs if a in df.columns and b in df.columns]


def _after(start: str, end: str) -> bool:
    """True when start is certainly after end, compared at the precision both share (truncated forms only)."""
    if not start or not end or not _TRUNCATED.match(start) or not _TRUNCATED.match(end):
        return False
    k = min(len(start), len(end))
    return start[:k] > end[:k]


@rule("MSC-SDTM-012")
def start_not_after_end(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in ctx.frames():
        for st, en in _start_end_pairs(df, ctx.prefix(ds)):
            c1, u1 = ctx.distinct(ds, st)
            c2, u2 = ctx.distinct(ds, en)
            pair = c1.astype(np.int64) * (len(u2) + 1) + c2
            pair_codes, inverse = np.unique(pair, return_inverse=True)
            flags = np.array([_after(str(u1.iloc[k // (len(u2) + 1)]), str(u2.iloc[k % (len(u2) + 1)]))
                              for k in pair_codes.tolist()], dtype=bool)
            bad = flags[inverse.ravel()] if len(flags) else np.zeros(len(df), dtype=bool)
            yield from ctx.at(meta, ds, bad, st, end_var=en, end=df[en])


def _visit_pairs(ctx: SdtmContext) -> list[tuple[str, list[tuple[float, str]], np.ndarray, np.ndarray]]:
    """Per dataset with VISITNUM and VISIT: its distinct (VISITNUM, VISIT) pairs, their counts and each row's pair."""
    def make() -> list[tuple[str, list[tuple[float, str]], np.ndarray, np.ndarray]]:
        out = []
        for ds, df in ctx.frames():
            if "VISITNUM" not in df.columns or "VISIT" not in df.columns:
                continue
            cn, un = ctx.distinct(ds, "VISITNUM")
            cv, uv = ctx.distinct(ds, "VISIT")
            width = len(uv) + 1
            codes, inverse, counts = np.unique(cn.astype(np.int64) * width + cv, return_inverse=True,
                                               return_counts=True)
            nums = pd.to_numeric(un, errors="coerce").to_numpy(dtype="float64")
            pairs = [(float(nums[k // width]), str(uv.iloc[k % width])) for k in codes.tolist()]
            out.append((ds, pairs, counts, inverse.ravel()))
        return out

    return ctx.cached("visit_pairs", make)


def _one_to_one(ctx: SdtmContext, meta: RuleMeta, key: str) -> Iterator[Finding]:
    """Rows whose VISIT (key VISITNUM) or VISITNUM (key VISIT) differs from the usual one of their key."""
    parts = _visit_pairs(ctx)
    totals: dict[tuple[float, str], int] = {}
    for _ds, pairs, counts, _inv in parts:
        for pair, n in zip(pairs, counts.tolist(), strict=True):
            if pair[0] == pair[0] and pair[1] != "":  # VISITNUM not missing, VISIT not empty
                totals[pair] = totals.get(pair, 0) + n
    k = 0 if key == "VISITNUM" else 1
    by_key: dict[Any, list[tuple[int, Any, tuple[float, str]]]] = {}
    for pair, n in totals.items():
        by_key.setdefault(pair[k], []).append((-n, str(pair[1 - k]), pair))
    usual: dict[Any, tuple[Any, int]] = {}
    bad: set[tuple[float, str]] = set()
    for kv, options in by_key.items():
        if len(options) > 1:
            options.sort()
            usual[kv] = (options[0][2][1 - k], -options[0][0])
            bad.update(o[2] for o in options[1:])
    if not bad:
        return
    for ds, pairs, _counts, inverse in parts:
        flags = np.array([p in bad for p in pairs], dtype=bool)
        if not flags.any():
            continue
        mask = flags[inverse]
        rows = np.flatnonzero(mask)
        chosen = [pairs[i] for i in inverse[rows].tolist()]
        df = ctx.study[ds]
        idx = df.index[rows]
        other_name = "visit" if key == "VISITNUM" else "visitnum"
        yield from ctx.at(
            meta, ds, mask, key, values=pd.Series([as_text(p[k]) for p in chosen], index=idx),
            **{other_name: pd.Series([as_text(p[1 - k]) for p in chosen], index=idx),
               "usual": pd.Series([as_text(usual[p[k]][0]) for p in chosen], index=idx),
               "count": pd.Series([usual[p[k]][1] for p in chosen], index=idx)})


@rule("MSC-SDTM-013")
def visitnum_one_visit(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    return _one_to_one(ctx, meta, "VISITNUM")


@rule("MSC-SDTM-014")
def visit_one_visitnum(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    return _one_to_one(ctx, meta, "VISIT")


# --- findings results ------------------------------------------------------------------------------------------

def _number_of(u: pd.Series) -> pd.Series:
    """Numeric value of plain-number text ("39", "0.6", "-1e3"); NaN for "", "<2", "NEGATIVE"."""
    s = _as_text(u).astype(str).str.strip()
    plain = s.str.fullmatch(_NUMBER).astype(bool)
    return pd.to_numeric(s.where(plain), errors="coerce").astype("float64")


@rule("MSC-SDTM-015")
def stresn_equals_stresc(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in ctx.frames():
        p = ctx.prefix(ds)
        c_var, n_var = f"{p}STRESC", f"{p}STRESN"
        if c_var not in df.columns or n_var not in df.columns:
            continue
        expected = ctx.spread(ds, c_var, _number_of).astype("float64")
        stresn = pd.to_numeric(df[n_var], errors="coerce").astype("float64")
        both = stresn.notna() & expected.notna()
        differ = both & ~np.isclose(stresn.fillna(0), expected.fillna(0), rtol=1e-9, atol=1e-12)
        common = {"stresc_var": c_var, "stresc": df[c_var], "expected": expected}
        yield from ctx.at(meta, ds, differ, n_var, values=stresn, **common)
        yield from ctx.at(meta, ds, stresn.isna() & expected.notna(), n_var, values=stresn, variant="missing",
                          **common)
        yield from ctx.at(meta, ds, stresn.notna() & expected.isna(), n_var, values=stresn, variant="not_numeric",
                          **common)


@rule("MSC-SDTM-016")
def nrind_consistent(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in ctx.frames():
        p = ctx.prefix(ds)
        nr, sn, lo_v, hi_v, sc = f"{p}NRIND", f"{p}STRESN", f"{p}STNRLO", f"{p}STNRHI", f"{p}STRESC"
        if nr not in df.columns or sn not in df.columns:
            continue
        x = pd.to_numeric(df[sn], errors="coerce")
        lo = pd.to_numeric(df[lo_v], errors="coerce") if lo_v in df.columns else pd.Series(np.nan, index=df.index)
        hi = pd.to_numeric(df[hi_v], errors="coerce") if hi_v in df.columns else pd.Series(np.nan, index=df.index)
        is_normal = ctx.spread(ds, nr, lambda u: u.eq("NORMAL")).astype(bool)
        is_low = ctx.spread(ds, nr, lambda u: u.eq("LOW")).astype(bool)
        is_high = ctx.spread(ds, nr, lambda u: u.eq("HIGH")).astype(bool)
        expected = pd.Series("", index=df.index, dtype=object)
        known = x.notna() & (lo.notna() | hi.notna())
        expected[known] = "NORMAL"
        expected[known & x.lt(lo)] = "LOW"
        expected[known & x.gt(hi)] = "HIGH"
        exp_normal, exp_low, exp_high = expected.eq("NORMAL"), expected.eq("LOW"), expected.eq("HIGH")
        contradict = ((is_normal & (exp_low | exp_high)) | (is_low & (exp_normal | exp_high))
                      | (is_high & (exp_normal | exp_low)))
        yield from ctx.at(meta, ds, contradict, nr, stresn_var=sn, stresn=x, lo=lo, hi=hi, expected=expected)
        if sc in df.columns:
            no_result = (ctx.spread(ds, nr, lambda u: u.ne("")).astype(bool) & x.isna()
                         & ctx.spread(ds, sc, lambda u: u.eq("")).astype(bool))
            yield from ctx.at(meta, ds, no_result, nr, variant="no_result", stresc_var=sc)


def _code_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if (c.endswith(("TESTCD", "PARMCD")) or c == "QNAM") and df[c].dtype == object]


@rule("MSC-SDTM-017")
def code_length(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in ctx.frames():
        for col in _code_columns(df):
            length = ctx.spread(ds, col, lambda u: u.str.len().fillna(0).astype("int64"))
            yield from ctx.at(meta, ds, length.gt(8), col, length=length)


def _code_hint(value: str) -> str:
    fixed = re.sub(r"[^A-Z0-9_]", "_", value.strip().upper())
    if fixed and fixed[0].isdigit():
        return ""
    return f"; did you mean {fixed}?" if fixed != value and _CODE.match(fixed) else ""


@rule("MSC-SDTM-018")
def code_form(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in ctx.frames():
        for col in _code_columns(df):
            hint = ctx.spread(ds, col, lambda u: [None if v == "" or _CODE.match(v) else _code_hint(v) for v in u])
            yield from ctx.at(meta, ds, hint.notna(), col, hint=hint)


@rule("MSC-SDTM-019")
def one_lobxfl(ctx: SdtmContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df in ctx.frames():
        p = ctx.prefix(ds)
        flag, testcd = f"{p}LOBXFL", f"{p}TESTCD"
        if flag not in df.columns or testcd not in df.columns or "USUBJID" not in df.columns:
            continue
        keys = ["USUBJID", testcd] + [c for c in (f"{p}CAT", f"{p}SPEC", f"{p}METHOD") if c in df.columns]
        ys = df.loc[ctx.spread(ds, flag, lambda u: u.eq("Y")).astype(bool), keys]
        if ys.empty:
            continue
        size = ys.groupby(keys, sort=False)[testcd].transform("size")
        many = ys[size.gt(1)]
        if many.empty:
            continue
        group = many.groupby(keys, sort=False).ngroup()
        listed = pd.Series((many.index + 1).astype(str), index=many.index).groupby(group).agg(", ".join)
        row_text = group.map(listed)
        mask = df.index.isin(many.index)
        yield from ctx.at(meta, ds, mask, flag, count=size.reindex(df.index), testcd_var=testcd, testcd=df[testcd],
                          rows=row_text.reindex(df.index, fill_value=""))
