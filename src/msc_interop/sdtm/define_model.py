"""What define.xml states about each SDTM variable, measured on the data: the metadata model the writer
(sdtm/define.py) turns into ItemDefs, and the validate define rules check against.

- DataType, Length and SignificantDigits of a column (`Shape`); text, integer and float items get a Length
  (and SignificantDigits), as ODM defines them for those types only.
- ISO 8601 variables (--DTC, --DUR) get the narrowest ODM 1.3.2 date type that every value matches
  (`iso8601_datatype`), as CDISC's own Define-XML 2.1 example does (DM.RFSTDTC `date`, CM.CMSTDTC
  `partialDate`, LB.LBDTC `partialDatetime`).
- `dataset_variables`: every variable of a dataset with its shape and its standard metadata
  (mappings/sdtm_variables.yaml).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd

from msc_interop import dates, iso8601, mappings
from msc_interop.distinct import column_answer, column_codes
from msc_interop.sdtm.package_origins import SponsorItem
from msc_interop.sdtm.split import parent_of
from msc_interop.study import Study

# --- ISO 8601 data types ----------------------------------------------------------------------------------

# a value's kind is the first of the ISO 8601 DataType patterns it matches whole (narrowest first)
ISO8601_KIND_PATTERNS = iso8601.DATATYPE_PATTERNS
_KIND_RE = [(kind, re.compile(pattern)) for kind, pattern in ISO8601_KIND_PATTERNS.items()]
# each ISO 8601 DataType with the kinds of value it accepts, narrowest type first
ISO8601_COVER: dict[str, frozenset[str]] = {
    "date": frozenset({"date"}),
    "datetime": frozenset({"datetime"}),
    "partialDate": frozenset({"date", "partialDate"}),
    "partialDatetime": frozenset({"date", "datetime", "partialDate", "partialDatetime"}),
    "incompleteDatetime": frozenset({"date", "datetime", "partialDate", "partialDatetime", "incompleteDatetime"}),
    "durationDatetime": frozenset({"durationDatetime"}),
    "intervalDatetime": frozenset({"intervalDatetime"}),
}
# an ISO 8601 variable with no values: the widest right-truncated form SDTMIG 3.4 section 4.4 allows any --DTC
EMPTY_ISO_DATATYPE = "partialDatetime"


def iso8601_kind(value: str) -> str:
    """The kind of one value: its narrowest ODM ISO 8601 type ("date", ..., "intervalDatetime"), else "text"."""
    for kind, pattern in _KIND_RE:
        if pattern.fullmatch(value):
            return kind
    if iso8601.DURATION.fullmatch(value):
        return "durationDatetime"
    parts = value.split("/")
    if len(parts) == 2 and all(iso8601_kind(p) not in ("text", "intervalDatetime") for p in parts):
        return "intervalDatetime"
    return "text"


# every ASCII digit written as 0: a value's kind depends on where its digits are, not which they are (the
# patterns, DURATION and the interval split match \d, never a particular digit)
_DIGIT_SHAPE = str.maketrans("123456789", "000000000")


def iso8601_kinds(values: pd.Series) -> pd.Series:
    """The ODM ISO 8601 kind of each value (date, datetime, partialDate, partialDatetime, ... or text).

    iso8601_kind, the classification define.xml's DataTypes were chosen by, run once per distinct shape of the
    values (digits written as 0): the ~70k distinct LBDTC of a million lab rows have a handful of shapes.
    """
    codes, distinct = _digit_shapes(values)
    kinds = np.array([iso8601_kind(shape) for shape in distinct] + [""], dtype=object)
    return pd.Series(kinds[codes] if len(codes) else kinds[:0], index=values.index, dtype=object)


_SHAPES_IN_NUMPY = 1024  # values from which their shapes are written in numpy (a fixed-width array of code points)
_SHAPE_WIDTH = 64  # ... when none is longer (an ISO 8601 value is at most ~40 characters; longer text: per value)


def _digit_shapes(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """(each value's code, the distinct shapes): str(value) with every ASCII digit 1-9 written as 0. Many text
    values at once as one array of code points (no Python work per value); a value holding NUL (numpy's padding)
    or one longer than _SHAPE_WIDTH sends them all the per-value way."""
    items = values.tolist()
    if len(items) >= _SHAPES_IN_NUMPY and pd.api.types.infer_dtype(items, skipna=False) == "string":
        joined = "".join(items)
        if "\x00" not in joined and max(map(len, items)) <= _SHAPE_WIDTH:
            points = np.array(items, dtype=str)
            width = points.dtype
            points = points.view(np.uint32).copy()
            points[(points >= ord("1")) & (points <= ord("9"))] = ord("0")
            codes, first = _few_distinct_rows(points.reshape(len(items), -1))
            if codes is not None:
                return codes, points.view(width)[first].tolist()
            distinct, codes = np.unique(points.view(width), return_inverse=True)
            return codes.reshape(-1), distinct.tolist()
    codes, distinct = pd.factorize(np.array([str(v).translate(_DIGIT_SHAPE) for v in items], dtype=object))
    return codes, list(distinct)


_FEW_SHAPES = 16  # distinct shapes found by comparing every row with one (a column of dates has a handful)


def _few_distinct_rows(rows: np.ndarray) -> tuple[np.ndarray | None, list[int]]:
    """(each row's code, the first row of each code) where the rows have at most _FEW_SHAPES distinct values:
    each found by comparing the rows left with the first of them (np.unique sorted the 70k shapes of a million
    LBDTC, ~60 ms, to find one); (None, []) where there are more."""
    codes = np.zeros(len(rows), dtype=np.int64)
    left = np.arange(len(rows))
    first: list[int] = []
    while len(left):
        if len(first) == _FEW_SHAPES:
            return None, []
        same = (rows[left] == rows[left[0]]).all(axis=1)
        codes[left[same]] = len(first)
        first.append(int(left[0]))
        left = left[~same]
    return codes, first


def iso8601_datatype(values: Iterable[str], empty: str = EMPTY_ISO_DATATYPE) -> str:
    """The narrowest Define-XML DataType that every non-empty ISO 8601 value matches.

    All complete dates -> "date"; complete datetimes with seconds -> "datetime"; right-truncated dates
    (`2003`, `2003-12`) -> "partialDate"; any right truncation with a time part (`2003-12-15T13:14`) or a mix
    of dates and datetimes -> "partialDatetime"; a missing middle part (`2003---15`) -> "incompleteDatetime";
    ISO durations -> "durationDatetime"; intervals -> "intervalDatetime"; anything else -> "text".

    >>> iso8601_datatype(["2009-03-28", "2009-03"])
    'partialDate'
    """
    return narrowest_datatype(set(iso8601_kinds(pd.Series([v for v in set(values) if v != ""], dtype=object))), empty)


def narrowest_datatype(kinds: set[str], empty: str = EMPTY_ISO_DATATYPE) -> str:
    """The narrowest ISO 8601 DataType covering every kind of value (`empty` when there is none)."""
    if not kinds:
        return empty
    for datatype, cover in ISO8601_COVER.items():
        if kinds <= cover:
            return datatype
    return "text"


# --- measuring the data -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Shape:
    """DataType and size of a column of values, as Define-XML states them."""

    datatype: str
    length: int | None = None
    digits: int | None = None  # SignificantDigits (float only)
    has_data: bool = True


def nonempty_text(s: pd.Series) -> list[str]:
    """The distinct non-empty text values of a column, sorted (once per column within shared_columns())."""
    return column_answer(s, "nonempty_text", lambda: sorted(_nonempty_values(s)))


def _nonempty_values(s: pd.Series) -> list[str]:
    """nonempty_text in order of appearance: what a measure of the values needs (sorting 70k dates is not)."""
    def values() -> list[str]:
        distinct = np.asarray(column_codes(s)[1], dtype=object)
        if pd.api.types.infer_dtype(distinct, skipna=False) == "string":  # (all text: one comparison in C)
            return distinct[distinct != ""].tolist()
        return [v for v in distinct.tolist() if isinstance(v, str) and v != ""]

    return column_answer(s, "nonempty_values", values)


def column_iso8601_kinds(s: pd.Series) -> tuple[list[str], list[str]]:
    """(the distinct non-empty text values of a column in order of appearance, the ISO 8601 kind of each), once per
    column within shared_columns(): define.xml states the DataType and MSC-DEF-005 checks it, from the same kinds
    (a list beside the values, not a dict: 70k dates looked up one by one took ~0.03 s a column)."""
    def kinds() -> tuple[list[str], list[str]]:
        values = _nonempty_values(s)
        distinct = np.asarray(column_codes(s)[1], dtype=object)
        if len(values) < _SHAPES_IN_NUMPY or pd.api.types.infer_dtype(distinct, skipna=False) != "string":
            return values, iso8601_kinds(pd.Series(values, dtype=object)).tolist()
        # a value of a right-truncated shape to the second (most dates) has the kind of its shape, known from
        # dates' analysis of the distinct values (the rules' --DTC checks read it too); the others by their own
        keep = distinct != ""
        lengths = dates.truncated_shape_lengths(distinct)
        out = _KIND_OF_LENGTH[lengths]
        other = keep & (lengths == 0)
        if other.any():
            out[other] = iso8601_kinds(pd.Series(distinct[other], dtype=object)).to_numpy(dtype=object)
        return values, out[keep].tolist()
    return column_answer(s, "iso8601_kinds", kinds)


# the kind of a value "dddd-dd-ddTdd:dd:dd" cut to each length (0: not one of them)
_KIND_OF_LENGTH = np.array([iso8601_kind("0000-00-00T00:00:00"[:n]) if n in (4, 7, 10, 13, 16, 19) else ""
                            for n in range(20)], dtype=object)


def _column_datatype(s: pd.Series, empty: str) -> str:
    """iso8601_datatype of a column's values, from its shared kinds."""
    return narrowest_datatype(set(column_iso8601_kinds(s)[1]), empty)


def _text_length(values: list[str]) -> int:
    # UTF-8 bytes: what XPT stores and never fewer than the characters (xportr's bytes-vs-characters lesson)
    if "".join(values).isascii():  # (one C-level pass) a character is a byte
        return max([1, *map(len, values)])
    return max([1, *(len(v.encode("utf-8")) for v in values)])


def _decimal_shape(numbers: Iterable[float]) -> tuple[int, int]:
    """(digits before the point, digits after it) of the widest values, after the ODM float sense.

    ODM 1.3.2: Length N with SignificantDigits S covers values below 10^(N-S) in multiples of 10^-S, so
    Length = the two added. 15 significant digits drop binary noise (0.1 + 0.2); a minus sign counts as one
    more place so that readers who take Length as a display width are served too.
    """
    whole_max, decimals = 1, 0
    for x in numbers:
        if not math.isfinite(x):
            continue
        sign, digits, exp = Decimal(format(float(x), ".15g")).normalize().as_tuple()
        assert isinstance(exp, int)
        decimals = max(decimals, -exp)
        whole_max = max(whole_max, max(1, len(digits) + exp) + sign)
    return whole_max, decimals


def numeric_shape(s: pd.Series, datatype: str) -> Shape:
    """The shape of a numeric variable, measured on its distinct values (the column's codes: distinct.py)."""
    num = pd.unique(pd.to_numeric(pd.Series(column_codes(s)[1]), errors="coerce").dropna())
    if datatype == "integer":
        length = max([1, *(len(str(int(v))) for v in num)])
        return Shape("integer", length, None, bool(len(num)))
    whole, decimals = _decimal_shape(float(v) for v in num)
    return Shape("float", whole + decimals, decimals, bool(len(num)))


def text_shape(values: list[str]) -> Shape:
    """Shape of text that may hold numbers (LBORRES, QVAL): integer/float when every value is one, else text.

    ASCII digits only: define.xml's integer and float are XML Schema's xs:integer / xs:decimal lexical forms (ODM
    1.3.2 DataType), which take [0-9]; "\\d" would also take Arabic-Indic or fullwidth digits."""
    if values and all(re.fullmatch(r"[+-]?[0-9]+", v) for v in values):
        return Shape("integer", max(len(v) for v in values), None, True)
    if values and all(re.fullmatch(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)", v) for v in values):
        decimals = max(len(v.split(".")[1]) if "." in v else 0 for v in values)
        whole = max(len(v.split(".")[0].lstrip("+")) or 1 for v in values)
        return Shape("float", whole + decimals, decimals, True)
    return Shape("text", _text_length(values), None, bool(values))


def _column_shape(name: str, s: pd.Series, vdef: mappings.VariableDef | None) -> Shape:
    numeric = vdef.type == "Num" if vdef else (pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s))
    if numeric:
        integer = (vdef.datatype == "integer") if vdef else pd.api.types.is_integer_dtype(s)
        return numeric_shape(s, "integer" if integer else "float")
    values = _nonempty_values(s)
    if name.endswith(("DTC", "DUR")):
        datatype = _column_datatype(s, "durationDatetime" if name.endswith("DUR") else EMPTY_ISO_DATATYPE)
        if datatype != "text":
            return Shape(datatype, None, None, bool(values))
    return Shape("text", _text_length(values), None, bool(values))


# --- the variables of a dataset -----------------------------------------------------------------------------

@dataclass
class Variable:
    """One variable as define.xml describes it: its measured shape and its standard metadata."""

    ds: str
    name: str
    label: str
    shape: Shape
    mandatory: bool
    key_seq: int | None
    role: str | None
    origin: str | None
    codelist: str
    standard: bool
    sponsor: SponsorItem | None = None  # an existing package's own origins, method, comment (its define.xml)


def _standard_in_ig(domain: str) -> frozenset[str]:
    """The variables the domain's SDTMIG 3.4 table gives a standard place (mappings/define_xml.yaml
    standard_variable_cores of mappings/sdtmig_domains.yaml): its own and the Model Permissible ones."""
    table = mappings.load("sdtmig_domains")["domains"].get(domain)
    cores = set(mappings.load("define_xml")["standard_variable_cores"])
    return frozenset(v["name"] for v in table["variables"] if v["core"] in cores) if table else frozenset()


def _required_without_metadata(study: Study, domain: str) -> frozenset[str]:
    """The Required variables of a domain msc-interop has no metadata of (QS, SC, SE, a sponsor's): its SDTMIG
    table's Req (mappings/sdtm_model.yaml), else its SDTM class's (a sponsor domain's: the class its package's
    define.xml states), for the study's SDTMIG version (validate.standard.domain_spec, what MSC-SDTM-002/040 check
    them against): define.xml's Mandatory="Yes"."""
    from msc_interop.validate.standard import Standard, domain_spec, normalise_version

    pkg = getattr(study.meta, "package", None)
    stated = normalise_version(pkg.sdtmig)[0] if pkg is not None and pkg.sdtmig else None
    version = stated or mappings.sdtmig_version()
    said = pkg.stated.get(domain) if pkg is not None else None  # (a sponsor domain: the class its define.xml states)
    classes = {domain: said.cls} if said is not None and said.cls else {}
    return frozenset(domain_spec(domain, Standard(version, define_classes=classes)).required)


def dataset_variables(study: Study, ds: str) -> list[Variable]:
    """The variables of one dataset with their measured shape and standard metadata; `standard`: in
    msc-interop's metadata of the domain or given a place by its SDTMIG table (`_standard_in_ig`)."""
    df = study[ds]
    meta = mappings.sdtm_domain(parent_of(ds, df))
    known = meta.by_name if meta else {}
    in_ig = _standard_in_ig(parent_of(ds, df))
    keys = [k for k in (meta.keys if meta else ()) if k in df.columns]
    required = _required_without_metadata(study, parent_of(ds, df)) if meta is None else frozenset()
    out = []
    for col in df.columns:
        vdef = known.get(col)
        out.append(Variable(
            ds=ds, name=col, label=vdef.label if vdef else col,
            shape=_column_shape(col, df[col], vdef),
            mandatory=bool(vdef and vdef.core == "Req") or col in required,
            key_seq=keys.index(col) + 1 if col in keys else None,
            role=vdef.role if vdef else None, origin=vdef.origin if vdef else None,
            codelist=vdef.codelist if vdef else "", standard=vdef is not None or col in in_ig,
        ))
    return out


# --- value-level measures -----------------------------------------------------------------------------------

def _signed_zeros(s: pd.Series) -> bool:
    """Whether a float column holds -0.0 beside another zero (a value's sign counts in its define.xml Length)."""
    if not pd.api.types.is_float_dtype(s):
        return False
    x = s.to_numpy(dtype="float64", na_value=np.nan)
    zero = x == 0
    return bool((zero & np.signbit(x)).any() and (zero & ~np.signbit(x)).any())


def distinct_per_test(lb: pd.DataFrame, columns: list[str]) -> dict[str, dict[str, pd.Series]]:
    """Per LBTESTCD: the distinct values each of `columns` takes on that test's rows (what the value-level
    metadata measures), from the columns' codes: the distinct (test, value) pairs, not a copy of each test's
    rows (a million LB rows: ~0.4 s of define.xml's build)."""
    test_codes, tests = column_codes(lb["LBTESTCD"])
    tests = np.asarray(tests, dtype=object)
    out: dict[str, dict[str, pd.Series]] = {str(t): {} for t in tests if isinstance(t, str) and t != ""}
    for col in columns:
        if _signed_zeros(lb[col]):  # -0.0 and 0.0 are one value to the codes, not to a test's own rows
            for test, rows in lb[["LBTESTCD", col]].groupby("LBTESTCD", sort=True):
                if isinstance(test, str) and test != "":
                    out[test][col] = rows[col]
            continue
        codes, values = column_codes(lb[col])
        width = max(len(values), 1)
        pairs = pd.unique(test_codes.astype(np.int64) * width + codes)  # in order of appearance
        of_test, of_value = pairs // width, pairs % width
        order = np.argsort(of_test, kind="stable")
        bounds = np.flatnonzero(np.diff(of_test[order])) + 1
        for part in np.split(order, bounds) if len(order) else []:
            test = tests[of_test[part[0]]]
            if isinstance(test, str) and test != "":
                out[str(test)][col] = pd.Series(pd.Series(values).to_numpy()[of_value[part]],
                                                dtype=lb[col].dtype, name=col)
    return out
