"""What the SDTM rules (scope "sdtm") read and the helpers they share: SdtmContext, the findings it builds in bulk.

Every rule works on whole columns: masks over a dataset, look-ups on the distinct values only (each column is
factorized once per run and shared by all rules: validate/columns.py), uniqueness by integer keys built from those
codes, so a million LB rows take seconds. Findings carry the SDTM location: the file the
dataset came from, the dataset, the row (1 = first record), USUBJID, --SEQ and the variable.

Over subject partitions (validate/partitioned.py) a context holds one range of subjects: `rows` places its rows
in the whole datasets (findings name whole rows), `facts` are the whole-study facts (`Fact`: the domain of each
dataset, visit and unit counts, ...) merged from every partition beforehand, and `once` marks the one partition
that reports the study-level datasets (which every partition holds whole) and the study-level findings.

Rules that need the domain's variable metadata (Core, codelist) run for the datasets mappings/sdtm_variables.yaml
describes; the others (dates, study days, --SEQ, USUBJID in DM, visits, results, test codes, flags) work by the
SDTM naming conventions on every dataset. The rules themselves: sdtm_variables, sdtm_dates, sdtm_findings.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from msc_interop import dates
from msc_interop.distinct import strip_each
from msc_interop.study import Study
from msc_interop.validate.columns import ColumnCache
from msc_interop.validate.model import Finding, RuleMeta, as_text
from msc_interop.validate.registry import bulk
from msc_interop.validate.standard import DomainSpec, Standard, default_standard, domain_of, domain_spec

SUBJECT = "USUBJID"


@dataclass(frozen=True)
class Fact:
    """A whole-study fact several rows' findings depend on (the usual unit of a test, whether a dataset is split):
    `collect` reads the rows a context holds (the whole study, or one partition: rows it does not own, see
    SdtmContext.owns, are left out; no other fact may be read), `merge` joins two partitions' parts, `finish`
    makes the fact. Over the whole study it is finish(collect(whole)); over partitions finish(merge(...))."""

    name: str
    collect: Callable[[SdtmContext], Any]
    merge: Callable[[Any, Any], Any]
    finish: Callable[[Any], Any] = lambda part: part


_FACTS: dict[str, Fact] = {}


def fact(name: str, collect: Callable[[SdtmContext], Any], merge: Callable[[Any, Any], Any],
         finish: Callable[[Any], Any] = lambda part: part) -> Fact:
    """Declare a whole-study fact (next to the rule that reads it); partitioned validation collects every one."""
    if name in _FACTS:
        raise ValueError(f"two whole-study facts are named {name}")
    _FACTS[name] = Fact(name, collect, merge, finish)
    return _FACTS[name]


def registered_facts() -> list[Fact]:
    return list(_FACTS.values())


@dataclass
class Placement:
    """Where a partition's findings of one rule go in the whole rule's output: the rule's calls of
    SdtmContext.at in order (`blocks`; the same sequence in every partition) and, per finding, (its block, its
    position in the block: the whole row)."""

    blocks: list[tuple[Any, ...]] = field(default_factory=list)
    where: dict[int, tuple[int, int]] = field(default_factory=dict)

    def place(self, block: tuple[Any, ...], findings: list[Finding], positions: np.ndarray | list[int]) -> None:
        self.blocks.append(block)
        n = len(self.blocks) - 1
        for f, p in zip(findings, np.asarray(positions).tolist(), strict=True):
            self.where[id(f)] = (n, int(p))


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
    # the SDTMIG version and define.xml classes the study is checked against (validate/standard.py), and where
    # define.xml and TS disagree on the version
    standard: Standard = field(default_factory=default_standard)
    standard_conflicts: tuple[str, ...] = ()
    # over subject partitions (validate/partitioned.py): each dataset's 0-based rows in the whole dataset, the
    # whole-study facts by name (None while they are being collected), whether this partition reports the
    # study-level datasets and findings, and where its findings go
    rows: Mapping[str, np.ndarray] | None = None
    facts: Mapping[str, Any] | None = None
    once: bool = True
    placement: Placement | None = None
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    def fact(self, f: Fact) -> Any:
        """A whole-study fact: the merged one over partitions, else computed on the whole study held here."""
        if self.facts is not None:
            return self.facts[f.name]
        if self.rows is not None:
            raise RuntimeError(f"the whole-study fact {f.name} was read while the facts were being collected")
        return self.cached(("fact", f.name), lambda: f.finish(f.collect(self)))

    def owns(self, ds: str) -> bool:
        """Whether this context reports (and counts) the rows of `ds`: the whole study always; a partition its
        subjects' datasets, and the study-level ones (no USUBJID, whole in every partition) only if `once`."""
        return self.once or SUBJECT in self.study[ds].columns

    def row_numbers(self, ds: str, pos: np.ndarray) -> np.ndarray:
        """1-based rows of the whole dataset of the 0-based positions `pos` of the rows held here."""
        pos = np.asarray(pos, dtype=np.int64)
        return (pos if self.rows is None else np.asarray(self.rows[ds], dtype=np.int64)[pos]) + 1

    def placed(self, block: tuple[Any, ...], findings: list[Finding], positions: np.ndarray | list[int]
               ) -> list[Finding]:
        """`findings` as one block of the rule's output, at `positions` (whole rows) within it."""
        if self.placement is not None:
            self.placement.place(block, findings, positions)
        return findings

    def file(self, ds: str) -> str:
        return self.files.get(ds, self.source)

    def frames(self) -> Iterator[tuple[str, pd.DataFrame]]:
        for name in self.study.names:
            yield name, self.study[name]

    def domain_of(self, ds: str) -> str:
        """The domain of a dataset: LBCH (DOMAIN = LB) is part of LB (SDTMIG 3.2 section 4.1.7)."""
        return self.fact(DOMAINS)[ds][0]

    def spec(self, ds: str) -> DomainSpec:
        """The Required / Expected variables of the dataset's domain for the study's SDTMIG version."""
        return self.cached(("spec", ds), lambda: domain_spec(self.domain_of(ds), self.standard))

    def split_groups(self) -> dict[str, list[str]]:
        """Domain -> its datasets, for the domains of more than one dataset (split domains)."""
        groups: dict[str, list[str]] = {}
        for name in self.study.names:
            groups.setdefault(self.domain_of(name), []).append(name)
        return {d: names for d, names in groups.items() if len(names) > 1}

    def prefix(self, ds: str) -> str:
        """The --variable prefix: the domain code (DOMAIN of a split dataset such as QSPH is QS)."""
        return self.fact(DOMAINS)[ds][1]

    def having(self, *suffixes: str) -> Iterator[tuple[str, pd.DataFrame, tuple[str, ...]]]:
        """(dataset, frame, its --variables) for each dataset that has all of them: having("STRESC", "STRESN")
        yields ("LB", lb, ("LBSTRESC", "LBSTRESN"))."""
        for ds, df in self.frames():
            names = tuple(f"{self.prefix(ds)}{s}" for s in suffixes)
            if all(n in df.columns for n in names):
                yield ds, df, names

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

    def text(self, ds: str, col: str) -> pd.Series:
        """A column as stripped text ("" for null; all "" when the dataset has no such column), made once per
        distinct value for all rules (they ask some 80 times per run; a per-row strip of a million LB rows was a
        quarter of the SDTM rules' time, and a factorization per ask most of the rest)."""
        df = self.study[ds]
        if col not in df.columns:
            return pd.Series("", index=df.index, dtype=object)
        codes, text = self.distinct_text(ds, col)
        return pd.Series(text[codes], index=df.index, dtype=object)

    def distinct_text(self, ds: str, col: str) -> tuple[np.ndarray, np.ndarray]:
        """(the rows' codes, each distinct value as stripped text): `ctx.text` before it is spread to the rows."""
        codes, uniques = ColumnCache.distinct(self.columns, ds, col)  # the rows' own codes
        text = self.cached(("text", ds, col), lambda: strip_each(text_of(uniques).fillna("").astype(str).tolist()))
        return codes, text

    def complete_dates(self, ds: str, col: str) -> tuple[np.ndarray, np.ndarray]:
        """(the rows' codes, datetime64[us] of each distinct value that is a complete date (with or without a
        time), NaT otherwise): a --DTC column parsed once for every rule that compares its dates."""
        codes, text = self.distinct_text(ds, col)
        parsed = self.cached(("dates", ds, col), lambda: dates.each_date_part(pd.Series(text, dtype=object))
                             .to_numpy(dtype="datetime64[us]"))  # (ns would wrap past 2262 and before 1677)
        return codes, parsed

    def text_is(self, ds: str, col: str, test: Callable[[pd.Series], Any]) -> np.ndarray:
        """`test` (text -> booleans) of `ctx.text(ds, col)` as a boolean array, tested on the distinct values only:
        a comparison of a million object values costs ~30 ms, a million booleans taken ~1 ms."""
        df = self.study[ds]
        if col not in df.columns:
            return np.full(len(df), bool(np.asarray(test(pd.Series([""], dtype=object)), dtype=bool)[0]))
        codes, text = self.distinct_text(ds, col)
        answer = np.asarray(test(pd.Series(text, dtype=object)), dtype=bool)
        return answer[codes] if len(answer) else np.zeros(len(df), dtype=bool)

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
        block = (ds, variable, variant)
        pos = np.flatnonzero(np.asarray(mask, dtype=bool)) if self.owns(ds) else np.zeros(0, dtype=np.int64)
        if not len(pos):
            return self.placed(block, [], pos)
        if values is None and variable in df.columns:
            values = df[variable]
        elif isinstance(values, pd.Series) and not values.index.equals(df.index):
            values = values.reindex(df.index)
        rows = self.row_numbers(ds, pos)
        cols: dict[str, Any] = {
            "file": self.file(ds), "dataset": ds, "variable": variable, "row": rows,
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
        return self.placed(block, bulk(meta, len(pos), variant=variant, **cols), rows)


def _take(values: pd.Series | np.ndarray, pos: np.ndarray) -> np.ndarray:
    arr = values.to_numpy(dtype=object, na_value=None) if isinstance(values, pd.Series) else np.asarray(values)
    return arr[pos]


def _domains_part(ctx: SdtmContext) -> dict[str, tuple[np.ndarray, int, Any]]:
    """Per dataset with DOMAIN: its distinct values and (whole row, value) of its first row held here."""
    out = {}
    for name, df in ctx.frames():
        if "DOMAIN" in df.columns and len(df) and ctx.owns(name):
            out[name] = (pd.unique(df["DOMAIN"].astype(object)), int(ctx.row_numbers(name, [0])[0]),
                         df["DOMAIN"].iloc[0])
    return out


def _domains_merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for name, (values, row, first) in b.items():
        if name in out:
            v0, r0, f0 = out[name]
            values = pd.unique(np.concatenate([v0, values]).astype(object))
            row, first = (r0, f0) if r0 <= row else (row, first)
        out[name] = (values, row, first)
    return out


def _domains_finish(part: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Dataset -> (its domain, its --variable prefix) as the whole dataset's DOMAIN values say."""
    return {name: (domain_of(name, pd.DataFrame({"DOMAIN": values})),
                   domain_code(name, pd.DataFrame({"DOMAIN": [first]})))
            for name, (values, _row, first) in part.items()}


class _Domains(dict):
    """The DOMAINS fact: datasets without DOMAIN (or without rows) are their own domain."""

    def __missing__(self, name: str) -> tuple[str, str]:
        return name, domain_code(name, pd.DataFrame())


DOMAINS = fact("domains", _domains_part, _domains_merge, lambda part: _Domains(_domains_finish(part)))


def domain_code(ds: str, df: pd.DataFrame) -> str:
    if "DOMAIN" in df.columns and len(df):
        first = str(df["DOMAIN"].iloc[0])
        if re.fullmatch(r"[A-Z]{2}", first) and ds.startswith(first):
            return first
    return ds[:2] if len(ds) > 2 and not ds.startswith("SUPP") else ds


def text_of(u: pd.Series) -> pd.Series:
    """Distinct values as report text (numbers without a trailing .0)."""
    return u if u.dtype == object else u.map(as_text).astype(object)

