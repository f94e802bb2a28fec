"""Small building blocks shared by the resource modules: codings, numbers as text, carried SDTM variables.

Numbers: a FHIR decimal is a JSON number, so `5.40` reads back as 5.4. The writer puts the number (int when
the SDTM text is an integer, else float) into the resource and, where the JSON number cannot give the SDTM
text back (`canonical_number_text(number) != text`), also the text in the `sdtm-original-text` extension.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd

from msc_interop import mappings
from msc_interop.distinct import per_distinct
from msc_interop.fhir import terms
from msc_interop.fhir.datetimes import FhirDateError, dtc_to_fhir, fhir_value_to_dtc

# FHIR decimal (R5 pattern, mended: the official schema has a stray "}" after {1,9}); R4B's is looser.
DECIMAL = re.compile(r"^-?(0|[1-9][0-9]{0,17})(\.[0-9]{1,17})?([eE][+-]?[0-9]{1,9})?$")
INT32 = (-2147483648, 2147483647)


def parse_number(text: str) -> int | float | None:
    """The JSON number for an SDTM numeric text, or None when the text is not a FHIR decimal."""
    if not DECIMAL.match(text):
        return None
    if "." in text or "e" in text or "E" in text:
        value = float(text)
        return value if math.isfinite(value) else None
    return int(text)


def float_text(value: float) -> str:
    """Text of a standard numeric result the way SDTM builders usually write it (39.0 -> "39", 0.6 -> "0.6")."""
    if value != value:
        return ""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def coding(system_key: str, code: str, display: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"system": terms.system(system_key), "code": code}
    if display:
        out["display"] = display
    return out


def concept(codings: list[dict[str, Any]], text: str) -> dict[str, Any]:
    """A CodeableConcept: its codings (left out when there are none) and its text."""
    return {"coding": codings, "text": text} if codings else {"text": text}


def ct_coding(codelist: str, value: str) -> dict[str, Any] | None:
    """The NCI Thesaurus coding of a CDISC CT term (its C-code and NCI preferred term); None when the codelist
    does not have the value."""
    term = mappings.codelist(codelist).term(value)
    if term is None or not term.nci_code:
        return None
    return coding("ncit", term.nci_code, term.preferred_term or None)


def ext(key: str, value_type: str, value: Any) -> dict[str, Any]:
    return {"url": terms.ext_url(key), value_type: value}


def find_ext(element: dict[str, Any] | None, key: str) -> dict[str, Any] | None:
    """The first extension with this mapping key's URL on an element (or resource)."""
    if not element:
        return None
    url = terms.ext_url(key)
    for e in element.get("extension") or ():
        if isinstance(e, dict) and e.get("url") == url:
            return e
    return None


def primitive_original(parent: dict[str, Any] | None, name: str, key: str) -> str | None:
    """The kept SDTM text of primitive `name` of `parent` (its `_name` extension `key`), if any."""
    if not parent:
        return None
    e = find_ext(parent.get("_" + name), key)
    return e.get("valueString") if e else None


def text(value: Any) -> str:
    """SDTM character value of anything: "" for null."""
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
        return ""
    return str(value)


def texts(values: pd.Series) -> np.ndarray:
    """`text()` of every value, worked out once per distinct value (an object array of str)."""
    return per_distinct(lambda u: pd.Series([text(x) for x in u], dtype=object), values.astype(object)
                        ).to_numpy(dtype=object)


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows as dicts, the same as `df.to_dict("records")` (missing masked values as None) without its
    per-cell conversion cost: one `tolist()` per column."""
    names = list(df.columns)
    columns = []
    for name in names:
        s = df[name]
        values = s.tolist()
        if isinstance(s.dtype, pd.api.extensions.ExtensionDtype) and s.hasnans:
            values = [None if v is pd.NA else v for v in values]
        columns.append(values)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def is_blank(s: pd.Series) -> np.ndarray:
    if s.dtype == object:
        return per_distinct(lambda u: pd.Series([text(x) == "" for x in u], dtype=bool), s).to_numpy(bool)
    return s.isna().to_numpy(bool)


def periods(pairs: list[tuple[str, ...]], tz: str) -> list[dict[str, Any] | None]:
    """A Period per (start, end) --DTC pair: FHIR dates, and the SDTM text (sdtm-dtc) where FHIR cannot hold it."""
    url = terms.ext_url("sdtm_dtc")
    out: list[dict[str, Any] | None] = []
    starts = dtc_to_fhir(pd.Series([p[0] for p in pairs], dtype=object), tz)
    ends = dtc_to_fhir(pd.Series([p[1] for p in pairs], dtype=object), tz)
    for i, (start, end) in enumerate(pairs):
        period: dict[str, Any] = {}
        for name, (values, keep), orig in (("start", starts, start), ("end", ends, end)):
            if values.iloc[i] is not None:
                period[name] = values.iloc[i]
            if keep.iloc[i]:
                period["_" + name] = {"extension": [{"url": url, "valueString": orig}]}
        out.append(period or None)
    return out


# --- numbers written as JSON with their text kept when needed ---------------------------------------------

def number_back(value: Any) -> str:
    """SDTM text of a JSON number as orjson reads it back (int -> "20", float -> repr)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


# --- carried SDTM variables (extension sdtm-variables) -----------------------------------------------------

EMPTY = "empty"  # sub-extension listing variables that are empty where the FHIR-derived value is not


class Carrier:
    """Collects, per record, the SDTM variables written into the `sdtm-variables` extension.

    `add(name, values, where)` carries `values` in the rows of `where`; empty values there are listed in the
    `empty` sub-extension (the reader would otherwise derive a value). Date variables (…DTC) become
    valueDateTime with the original kept as needed; numbers valueInteger (32-bit) or valueDecimal.
    Column-wise: each variable's sub-extension is made once per distinct value, and `distinct()` gives the
    extension once per distinct combination of carried values (most records carry the same few).
    """

    def __init__(self, n: int, tz: str):
        self.n = n
        self.tz = tz
        # per carried variable: per-row index into its distinct sub-extensions (-1: not carried), and those
        self.columns: list[tuple[np.ndarray, list[dict[str, Any]]]] = []
        self.empties: list[tuple[str, np.ndarray]] = []

    def add(self, name: str, values: pd.Series, where: np.ndarray | None = None) -> None:
        where = np.ones(self.n, dtype=bool) if where is None else np.asarray(where, dtype=bool)
        if not where.any():
            return
        values = values.reset_index(drop=True)
        blank = is_blank(values)
        self.empties.append((name, where & blank))
        codes = np.full(self.n, -1, dtype=np.int64)
        rows = np.flatnonzero(where & ~blank)
        subs: list[dict[str, Any]] = []
        if len(rows):
            sub = values.iloc[rows]
            codes[rows], first = group_codes(sub)
            subs = sub_extensions(name, sub.iloc[first], self.tz).tolist()
        self.columns.append((codes, subs))

    def add_dataset(self, df: pd.DataFrame, mapped: Any, special: dict[str, np.ndarray],
                    blank: Any = None) -> None:
        """The rule every domain builder follows: a variable the mapping does not place in FHIR is carried
        where it has a value; a mapped one only in the rows of `special` (where FHIR would not give it back).
        `blank(col)` may supply a cached blank mask (default: is_blank of the column)."""
        for col in df.columns:
            if col not in mapped:
                self.add(col, df[col], ~(blank(col) if blank is not None else is_blank(df[col])))
            elif col in special:
                self.add(col, df[col], special[col])

    def distinct(self) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """Per row the index of its sdtm-variables extension (-1: nothing carried), and the distinct ones."""
        if not self.columns:
            return np.full(self.n, -1, dtype=np.int64), []
        keys = [codes for codes, _ in self.columns] + [mask for _, mask in self.empties]
        codes, first = group_codes(*keys)
        url = terms.ext_url("sdtm_variables")
        values: list[dict[str, Any] | None] = []
        for i in first.tolist():
            subs = [distinct_subs[c[i]] for c, distinct_subs in self.columns if c[i] >= 0]
            empty = [name for name, mask in self.empties if mask[i]]
            if empty:
                subs.append({"url": EMPTY, "valueString": ",".join(empty)})
            values.append({"url": url, "extension": subs} if subs else None)
        present = np.array([v is not None for v in values] + [False], dtype=bool)
        remap = np.cumsum(present) - 1
        return np.where(present[codes], remap[codes], -1), [v for v in values if v is not None]

    def extensions(self) -> np.ndarray:
        """Per row: the sdtm-variables extension dict, or None when nothing is carried."""
        codes, values = self.distinct()
        out = np.full(self.n, None, dtype=object)
        rows = np.flatnonzero(codes >= 0)
        if len(rows):
            out[rows] = np.array([*values, None], dtype=object)[codes[rows]]
        return out


def group_codes(*columns: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the index of its combination of values of `columns` (indexes in order of first appearance),
    and the first row of each combination: what `groupby(sort=False).ngroup()` + `drop_duplicates()` give,
    without their cost. Missing values (None, NaN) are one value, as in groupby(dropna=False)."""
    codes: np.ndarray | None = None
    for col in columns:
        c, uniques = pd.factorize(col, use_na_sentinel=False)
        c = np.asarray(c, dtype=np.int64)
        codes = c if codes is None else np.asarray(pd.factorize(codes * len(uniques) + c)[0], dtype=np.int64)
    if codes is None or len(codes) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    # codes come in order of first appearance: a row is a first one exactly where its code passes all before
    seen = np.maximum.accumulate(codes)
    first = np.flatnonzero(codes > np.concatenate(([-1], seen[:-1])))
    return codes, first


def sub_extensions(name: str, values: pd.Series, tz: str) -> pd.Series:
    """One sub-extension dict per (non-empty) value of SDTM variable `name`."""
    if name.endswith("DTC"):
        fhir, keep = dtc_to_fhir(values.astype(object), tz)
        url = terms.ext_url("sdtm_dtc")
        out = []
        for v, k, orig in zip(fhir.tolist(), keep.tolist(), values.tolist(), strict=True):
            d: dict[str, Any] = {"url": name}
            if v is not None:
                d["valueDateTime"] = v
            if k:
                d["_valueDateTime"] = {"extension": [{"url": url, "valueString": text(orig)}]}
            if v is None and not k:
                d = {"url": name, "valueString": text(orig)}
            out.append(d)
        return pd.Series(out, dtype=object, index=values.index)
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        def num(u: pd.Series) -> pd.Series:
            res = []
            for x in u:
                if pd.api.types.is_integer(x) or (isinstance(x, float) and x.is_integer()
                                                   and pd.api.types.is_integer_dtype(values.dtype)):
                    xi = int(x)
                    res.append({"url": name, "valueInteger": xi} if INT32[0] <= xi <= INT32[1]
                               else {"url": name, "valueDecimal": xi})
                else:
                    res.append({"url": name, "valueDecimal": float(x)})
            return pd.Series(res, dtype=object)
        return per_distinct(num, values.astype(object))
    return per_distinct(lambda u: pd.Series([{"url": name, "valueString": text(x)} for x in u], dtype=object),
                        values.astype(object))


def read_carried(resource: dict[str, Any] | None, tz: str | None) -> dict[str, Any]:
    """The SDTM variables carried in a resource's sdtm-variables extension: name -> value ("" / NaN if empty)."""
    e = find_ext(resource, "sdtm_variables")
    out: dict[str, Any] = {}
    if not e:
        return out
    for sub in e.get("extension") or ():
        name = sub.get("url")
        if name == EMPTY:
            for n in str(sub.get("valueString", "")).split(","):
                if n:
                    out[n] = None
            continue
        if "valueString" in sub:
            out[name] = sub["valueString"]
        elif "valueInteger" in sub:
            out[name] = sub["valueInteger"]
        elif "valueDecimal" in sub:
            out[name] = sub["valueDecimal"]
        elif "valueDateTime" in sub or "_valueDateTime" in sub:
            orig = primitive_original(sub, "valueDateTime", "sdtm_dtc")
            value = sub.get("valueDateTime")
            if orig is not None or value is None:
                out[name] = "" if orig is None else orig
            else:
                try:
                    out[name] = fhir_value_to_dtc(str(value), tz)
                except FhirDateError:  # an impossible date carried: kept as written (validate says so)
                    out[name] = str(value)
    return out
