"""define.xml rules (scope "define"): Define-XML 1.0, 2.0 and 2.1, and define.xml against the datasets beside it.

The version is told by the namespaces (validate/define_versions.py); every cross-check reads the document in its
own version's namespaces. Only 2.1 is checked against an XSD (the one msc-interop ships): for 1.0 and 2.0 a
notice says that the schema check did not run, rather than checking them against the 2.1 schema.

The metadata must describe the data actually delivered: every dataset and variable described, DataType and
Length that fit the values, codelists that hold every value, Dataset-JSON OIDs that point into the document.
A folder may hold the same datasets in several formats (XPT and Dataset-JSON); the cross-checks run for each
format, the document-level checks (XSD, datasets without files) once per define.xml.
"""

from __future__ import annotations

import codecs
import functools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from lxml import etree

from msc_interop.sdtm.define_model import ISO8601_COVER, column_iso8601_kinds, iso8601_kinds
from msc_interop.validate.columns import ColumnCache
from msc_interop.validate.define_versions import (
    DefineVersion,
    define_versions,
    detect,
    root_namespaces,
    stated_classes,
)
from msc_interop.validate.model import Finding, RuleMeta, as_text
from msc_interop.validate.registry import rule
from msc_interop.validate.schemas import define_xsd
from msc_interop.validate.standard import class_name, domain_of, sdtm_class

XLINK = "{http://www.w3.org/1999/xlink}"
_MAX_XSD_ERRORS = 200

_NUMERIC_TYPES = {"integer", "float", "double"}


@dataclass(frozen=True)
class ItemInfo:
    oid: str
    name: str
    datatype: str
    length: int | None
    codelist: str | None


@dataclass(frozen=True)
class GroupInfo:
    oid: str
    name: str
    items: tuple[ItemInfo, ...]
    href: str | None
    domain: str = ""  # ItemGroupDef/@Domain (Define-XML 2.0, 2.1): LB for a split dataset LBCH


@dataclass(frozen=True)
class DefineIndex:
    """What the cross-checks need from define.xml, read once."""

    study_oid: str
    mdv_oid: str
    groups: Mapping[str, GroupInfo]
    group_oids: frozenset[str]
    item_oids: frozenset[str]
    codelists: Mapping[str, frozenset[str]]


_EMPTY = DefineIndex("", "", {}, frozenset(), frozenset(), {})


def index_define(tree: etree._ElementTree, version: DefineVersion | None = None) -> DefineIndex:
    """What the cross-checks read, in the namespaces of the document's version (detected when not given)."""
    v = version or detect(tree)
    if v is None:
        return _EMPTY
    ODM, DEF = f"{{{v.odm}}}", f"{{{v.def_ns}}}"  # the namespace prefixes of this version, as in the XML
    root = tree.getroot()
    study = root.find(f"{ODM}Study")
    mdv = study.find(f"{ODM}MetaDataVersion") if study is not None else None
    if mdv is None:
        return DefineIndex(study.get("OID", "") if study is not None else "", "", {}, frozenset(), frozenset(), {})
    items: dict[str, ItemInfo] = {}
    for e in mdv.iter(f"{ODM}ItemDef"):
        ref = e.find(f"{ODM}CodeListRef")
        length = e.get("Length")
        items[e.get("OID", "")] = ItemInfo(e.get("OID", ""), e.get("Name", ""), e.get("DataType", ""),
                                           int(length) if length and length.isdigit() else None,
                                           ref.get("CodeListOID") if ref is not None else None)
    groups: dict[str, GroupInfo] = {}
    for g in mdv.iter(f"{ODM}ItemGroupDef"):
        refs = tuple(items[r.get("ItemOID", "")] for r in g.iter(f"{ODM}ItemRef") if r.get("ItemOID", "") in items)
        leaf = g.find(f"{DEF}leaf")
        groups[g.get("Name", "")] = GroupInfo(g.get("OID", ""), g.get("Name", ""), refs,
                                              leaf.get(f"{XLINK}href") if leaf is not None else None,
                                              g.get("Domain", ""))
    # an ExternalCodeList (MedDRA, ISO 3166, ...) lists no values here: it cannot be checked against the data
    codelists = {
        c.get("OID", ""): frozenset(i.get("CodedValue", "") for i in c
                                    if i.tag in (f"{ODM}CodeListItem", f"{ODM}EnumeratedItem"))
        for c in mdv.iter(f"{ODM}CodeList") if c.find(f"{ODM}ExternalCodeList") is None
    }
    return DefineIndex(study.get("OID", ""), mdv.get("OID", ""), groups,
                       frozenset(g.oid for g in groups.values()), frozenset(items), codelists)


@dataclass
class DefineContext:
    """define.xml with the datasets of one format beside it (the Study's conformed frames)."""

    path: Path
    tree: etree._ElementTree
    datasets: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    files: Mapping[str, Path] = field(default_factory=dict)
    fmt: str = ""
    json_headers: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    document_level: bool = True  # run the checks of the document itself (XSD, described datasets without files)
    folder_datasets: frozenset[str] = frozenset()  # every dataset in the folder, in any format
    with_datasets: bool = True  # False: a define.xml given alone (only the XSD check applies)
    # dataset -> the codec its XPT/CSV text was read in (validate/engine.py): Length is bytes in it; absent: UTF-8
    encodings: Mapping[str, str] = field(default_factory=dict)
    model: str = "SDTM"  # the datasets' model: "ADaM" for an ADaM folder (no SDTM class check, MSC-DEF-011)

    column_cache: ColumnCache | None = None
    _texts: dict[tuple[str, str], pd.Series] = field(default_factory=dict, repr=False)

    @functools.cached_property
    def version(self) -> DefineVersion | None:
        """The Define-XML version (None: not a Define-XML 1.0/2.0/2.1 document)."""
        return detect(self.tree)

    @functools.cached_property
    def index(self) -> DefineIndex:
        return index_define(self.tree, self.version)

    @functools.cached_property
    def columns(self) -> ColumnCache:
        return self.column_cache if self.column_cache is not None else ColumnCache(self.datasets)

    def distinct_text(self, ds: str, col: str) -> pd.Series:
        """Distinct non-empty values as text, in the order of their first rows, indexed by their position among
        the column's distinct values (`row` gives a value's first row; computed once per column for all the
        define.xml rules). A column's codes number its values in order of first appearance (distinct.column_codes),
        so their first rows are found only for a value a finding names: a pass over a million codes per column,
        ~100 columns in all, was most of the define.xml checks' time."""
        key = (ds, col)
        if key not in self._texts:
            _codes, uniques = self.columns.distinct(ds, col)
            text = np.asarray(uniques.tolist(), dtype=object)
            if pd.api.types.infer_dtype(text, skipna=False) != "string":  # numbers, nulls: as the report shows them
                text = np.array([v if isinstance(v, str) else as_text(v) for v in text.tolist()], dtype=object)
            positions = np.arange(len(text))
            if type(self.columns) is not ColumnCache:  # (a cache whose values need not all occur: their rows
                first = self.columns.first_rows(ds, col)  # decide; values seen in no row (-1) go first, by value)
                positions = np.array(sorted(positions.tolist(), key=lambda p: (first[p], text[p])), dtype=np.int64)
                text = text[positions]
            filled = text != ""
            self._texts[key] = pd.Series(text[filled], index=positions[filled], dtype=object)
        return self._texts[key]

    def row(self, ds: str, col: str, position: int) -> int:
        """The 0-based first row of the distinct value at `position` of distinct_text's index (-1: in no row)."""
        return int(self.columns.first_rows(ds, col)[position])

    def file(self, ds: str) -> str:
        return str(self.files.get(ds, self.path))

    def subject(self, ds: str, row: int | None) -> str:
        """USUBJID of a dataset row (1-based), "" when unknown."""
        df = self.datasets.get(ds)
        if row is None or df is None or "USUBJID" not in df.columns or not 0 < row <= len(df):
            return ""
        return str(df["USUBJID"].iloc[row - 1])

    def described(self) -> Iterator[tuple[str, pd.DataFrame, GroupInfo]]:
        for ds, df in self.datasets.items():
            group = self.index.groups.get(ds)
            if group is not None:
                yield ds, df, group


@rule("MSC-DEF-001")
def define_xsd_valid(ctx: DefineContext, meta: RuleMeta) -> Iterable[Finding]:
    if not ctx.document_level:
        return
    if ctx.version is None:
        yield meta.finding(file=str(ctx.path), dataset="define.xml", row=ctx.tree.getroot().sourceline,
                           variant="unknown", found=root_namespaces(ctx.tree),
                           known=", ".join(f"{v.version} ({v.odm} + {v.def_ns})" for v in define_versions()))
        return
    if ctx.version.xsd is None:
        return  # MSC-DEF-010 says that no schema check ran
    xsd = define_xsd()
    if xsd.validate(ctx.tree):
        return
    errors = list(xsd.error_log)
    for e in errors[:_MAX_XSD_ERRORS]:
        yield meta.finding(file=str(ctx.path), dataset="define.xml", row=e.line, variable=e.path or "",
                           error=e.message)
    if len(errors) > _MAX_XSD_ERRORS:
        yield meta.finding(file=str(ctx.path), dataset="define.xml",
                           error=f"... and {len(errors) - _MAX_XSD_ERRORS} more schema errors")


@rule("MSC-DEF-002")
def dataset_described(ctx: DefineContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds in ctx.datasets:
        if ds not in ctx.index.groups:
            yield meta.finding(file=ctx.file(ds), dataset=ds, file_name=Path(ctx.file(ds)).name)


@rule("MSC-DEF-003")
def variable_described(ctx: DefineContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df, group in ctx.described():
        names = {i.name for i in group.items}
        for col in df.columns:
            if col not in names:
                yield meta.finding(file=ctx.file(ds), dataset=ds, variable=col)


@rule("MSC-DEF-004")
def described_variable_present(ctx: DefineContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df, group in ctx.described():
        for item in group.items:
            if item.name not in df.columns:
                yield meta.finding(file=str(ctx.path), dataset=ds, variable=item.name)


def _is_number(v: str, integer: bool) -> bool:
    try:
        x = float(v)
    except ValueError:
        return False
    return x == x and (not integer or x.is_integer())


def _type_problem(ctx: DefineContext, ds: str, col: str, declared: str) -> tuple[str, Any, int | None]:
    """(what is wrong, example value, its row) or ("", None, None) when the data fit the declared DataType."""
    s = ctx.datasets[ds][col]
    numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
    if numeric:
        if declared in _NUMERIC_TYPES:
            if declared == "integer":
                x = s.astype("float64")
                frac = np.flatnonzero(x.notna().to_numpy() & (x.fillna(0).to_numpy() % 1 != 0))
                if len(frac):
                    return "the data hold numbers that are not whole", x.iloc[frac[0]], int(frac[0]) + 1
            return "", None, None
        first = s.first_valid_index()
        if first is None:
            return "", None, None
        return "the data are numbers", s.loc[first], int(first) + 1
    covers = ISO8601_COVER if ctx.version is None or ctx.version.iso8601_cover is None else ctx.version.iso8601_cover
    if declared not in _NUMERIC_TYPES and declared not in covers:
        return "", None, None  # text of any kind fits a text DataType: its values need not be looked at
    values = ctx.distinct_text(ds, col)
    if values.empty:
        return "", None, None
    if declared in _NUMERIC_TYPES:
        bad = values[~values.map(lambda v: _is_number(v, declared == "integer"))]
        if ctx.fmt == "csv" and bad.empty:
            return "", None, None  # CSV carries no types: numbers as text fit a numeric DataType
        example = bad if not bad.empty else values
        return "the data are character", example.iloc[0], ctx.row(ds, col, example.index[0]) + 1
    if declared in covers:
        cover = covers[declared]
        known_values, known_kinds = column_iso8601_kinds(s)  # the kinds define.xml was written from, shared
        listed = values.tolist()
        if listed == known_values:  # (the same values in the same order: the common case, one pass of identities)
            kinds = pd.Series(known_kinds, index=values.index, dtype=object)
        else:
            known = dict(zip(known_values, known_kinds, strict=True))
            kinds = pd.Series([known.get(v) for v in listed], index=values.index, dtype=object)
        unknown = kinds.isna()
        if unknown.any():  # a value that is not text in the data (a number in a character column)
            kinds[unknown] = iso8601_kinds(values[unknown]).to_numpy()
        bad = values[~kinds.isin(cover)]
        if not bad.empty:
            kind = kinds[bad.index[0]]
            what = "is not an ISO 8601 value" if kind == "text" else f"is {kind}"
            return (f"values do not all fit it: '{bad.iloc[0]}' {what}", bad.iloc[0],
                    ctx.row(ds, col, bad.index[0]) + 1)
    return "", None, None


@rule("MSC-DEF-005")
def datatype_fits(ctx: DefineContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df, group in ctx.described():
        for item in group.items:
            if item.name not in df.columns or not item.datatype:
                continue
            problem, value, row = _type_problem(ctx, ds, item.name, item.datatype)
            if problem:
                yield meta.finding(file=ctx.file(ds), dataset=ds, row=row, usubjid=ctx.subject(ds, row),
                                   variable=item.name, value=value, declared=item.datatype, observed=problem)


def _length_codec(codec: str) -> str:
    """The codec define.xml's Length of a text value is counted in: a legacy one (Windows-1252, Latin-1: one byte
    a character) as the file is in; any Unicode one (utf-8-sig, UTF-16 of a CSV) as UTF-8, the bytes an XPT or
    a SAS session holds the text in (and no byte-order mark counted in every value)."""
    try:
        name = codecs.lookup(codec).name
    except LookupError:
        return "utf-8"
    return "utf-8" if name.startswith("utf") else name


@rule("MSC-DEF-006")
def length_fits(ctx: DefineContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df, group in ctx.described():
        for item in group.items:
            if item.name not in df.columns or item.length is None or item.datatype not in ("text", "integer"):
                continue
            if item.datatype == "integer" and ctx.version is not None and not ctx.version.numeric_length_checked:
                continue  # Define-XML 1.0: Length of a number is SAS's storage length (8 bytes), not digits
            values = ctx.distinct_text(ds, item.name)
            if item.datatype == "integer":  # a value that is not a whole number is MSC-DEF-005's finding
                values = values[values.map(lambda v: _is_number(v, True))]
            if values.empty:
                continue
            if item.datatype == "text":  # bytes in the file's encoding: characters where all are ASCII (one C check)
                ascii_only = "".join(values.tolist()).isascii()
                codec = _length_codec(ctx.encodings.get(ds, "utf-8"))
                sizes = pd.Series(np.fromiter(map(len, values.tolist()), dtype=np.int64, count=len(values)),
                                  index=values.index) if ascii_only else values.map(
                    lambda v, c=codec: len(v.encode(c, errors="replace")))
                unit = "bytes" if ascii_only or codec == "utf-8" else f"bytes in {codec}"
            else:
                sizes = values.map(lambda v: len(str(int(float(v)))))
                unit = "digits"
            longest = int(sizes.max())
            if longest > item.length:
                at = sizes.idxmax()
                row = ctx.row(ds, item.name, at) + 1
                yield meta.finding(file=ctx.file(ds), dataset=ds, row=row, usubjid=ctx.subject(ds, row),
                                   variable=item.name, value=values[at], declared=item.length,
                                   observed=f"{longest} {unit}")


@rule("MSC-DEF-007")
def codelist_holds_values(ctx: DefineContext, meta: RuleMeta) -> Iterable[Finding]:
    for ds, df, group in ctx.described():
        for item in group.items:
            if item.name not in df.columns or not item.codelist or item.codelist not in ctx.index.codelists:
                continue
            allowed = ctx.index.codelists[item.codelist]
            values = ctx.distinct_text(ds, item.name)
            bad = values[~values.isin(allowed)]
            if bad.empty:
                continue
            codes, uniques = ctx.columns.distinct(ds, item.name)
            counts = np.bincount(codes, minlength=len(uniques))
            for pos, value in bad.items():
                row = ctx.row(ds, item.name, pos) + 1
                yield meta.finding(file=ctx.file(ds), dataset=ds, row=row, usubjid=ctx.subject(ds, row),
                                   variable=item.name, value=value, codelist=item.codelist, count=int(counts[pos]))


@rule("MSC-DEF-008")
def described_dataset_has_file(ctx: DefineContext, meta: RuleMeta) -> Iterable[Finding]:
    if not ctx.document_level or not ctx.with_datasets:
        return
    present = ctx.folder_datasets | frozenset(ctx.datasets)
    missing_pieces = _missing_pieces(ctx.index, present)
    for name, group in ctx.index.groups.items():
        if group.href and name not in present and name not in missing_pieces:  # those: MSC-DEF-012
            yield meta.finding(file=str(ctx.path), dataset=name, href=group.href)


@rule("MSC-DEF-012")
def split_dataset_has_every_piece(ctx: DefineContext, meta: RuleMeta) -> Iterable[Finding]:
    if not ctx.document_level or not ctx.with_datasets:
        return
    present = ctx.folder_datasets | frozenset(ctx.datasets)
    for name, (domain, here) in _missing_pieces(ctx.index, present).items():
        yield meta.finding(file=str(ctx.path), dataset=name, href=ctx.index.groups[name].href, domain=domain,
                           present=", ".join(here))


def _missing_pieces(index: DefineIndex, present: frozenset[str]) -> dict[str, tuple[str, list[str]]]:
    """Split datasets (SDTMIG 4.1.7: Name LBCH, Domain LB) described with a file that is not here while another
    piece of the same domain is: name -> (domain, the pieces that are here)."""
    pieces: dict[str, list[str]] = {}
    for name, group in index.groups.items():
        if group.href and group.domain and name != group.domain and name.startswith(group.domain):
            pieces.setdefault(group.domain, []).append(name)
    out = {}
    for domain, names in pieces.items():
        here = sorted(n for n in names if n in present)
        if here:
            out.update({n: (domain, here) for n in sorted(names) if n not in present})
    return out


@rule("MSC-DEF-010")
def define_version_without_xsd(ctx: DefineContext, meta: RuleMeta) -> Iterable[Finding]:
    v = ctx.version
    if ctx.document_level and v is not None and v.xsd is None:
        yield meta.finding(file=str(ctx.path), dataset="define.xml", row=ctx.tree.getroot().sourceline,
                           version=v.version, odm=v.odm, def_ns=v.def_ns)


@rule("MSC-DEF-011")
def define_class_is_the_sdtm_class(ctx: DefineContext, meta: RuleMeta) -> Iterable[Finding]:
    """def:Class of each dataset's ItemGroupDef against the SDTM class of its domain (mappings/sdtm_model.yaml)."""
    if ctx.version is None or not ctx.with_datasets or ctx.model != "SDTM":
        return  # (ADaM classes are ADaM's: SUBJECT LEVEL ANALYSIS DATASET, BASIC DATA STRUCTURE, ...)
    stated = stated_classes(ctx.tree, ctx.version)
    for ds, df in ctx.datasets.items():
        if ds not in stated:
            continue
        domain = domain_of(ds, df)
        known, _ = sdtm_class(domain)
        if known is not None and class_name(stated[ds]) != known:
            yield meta.finding(file=str(ctx.path), dataset=ds, variable="def:Class", value=stated[ds],
                               domain=domain, expected=known)


@rule("MSC-DEF-009")
def json_oids_in_define(ctx: DefineContext, meta: RuleMeta) -> Iterable[Finding]:
    idx = ctx.index
    for ds, header in ctx.json_headers.items():
        where = {"file": ctx.file(ds), "dataset": ds}
        checks = [("studyOID", header.get("studyOID"), idx.study_oid, f"Study OID is '{idx.study_oid}'"),
                  ("metaDataVersionOID", header.get("metaDataVersionOID"), idx.mdv_oid,
                   f"MetaDataVersion OID is '{idx.mdv_oid}'")]
        for attribute, value, expected, says in checks:
            if isinstance(value, str) and value and value != expected:
                yield meta.finding(**where, variable=attribute, value=value, attribute=attribute, expected=says)
        group_oid = header.get("itemGroupOID")
        if isinstance(group_oid, str) and group_oid and group_oid not in idx.group_oids:
            yield meta.finding(**where, variable="itemGroupOID", value=group_oid, attribute="itemGroupOID",
                               expected="no ItemGroupDef has this OID")
        for col in header.get("columns", []) if isinstance(header.get("columns"), list) else []:
            oid = col.get("itemOID") if isinstance(col, dict) else None
            if isinstance(oid, str) and oid and oid not in idx.item_oids:
                yield meta.finding(**where, variable=str(col.get("name", "")), value=oid, attribute="itemOID",
                                   expected="no ItemDef has this OID")
