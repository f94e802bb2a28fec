"""A dataset held on disk, one subject partition at a time, with a small proxy that stands for it in memory.

A partitioned conversion (sdtm/partitioned.py) appends each partition's rows of a dataset here (pickled frames
in a scratch folder). What needs the whole dataset at once reads it back a partition at a time (`chunks`), the
file writers in particular (sdtm/stream_write.py). What needs only the values a dataset holds, not how many
times (define.xml's lengths, data types, codelists, value-level metadata; the XPT storage widths; the
Dataset-JSON column lengths) reads the `proxy`: the first row, in dataset order, of each distinct value of each
variable, and of each distinct (test, value) and (code, decode) pair, so every per-variable and per-test
distinct set, every "first value", and "has rows" are the whole dataset's.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from msc_interop import mappings
from msc_interop.atomic import paced_open

# variables whose values group a dataset's rows for value-level metadata (define.py: LB per LBTESTCD, SUPP--
# per QNAM); a variable's distinct values are kept within each of these groups
_GROUP_SUFFIXES = ("TESTCD", "PARMCD")
_GROUP_NAMES = ("QNAM",)


@dataclass
class SpilledPart:
    """One partition's rows of a dataset pickled to `path`, with what a SpilledDataset keeps of them in memory."""

    path: Path
    rows: int
    columns: list[str]
    picked: pd.DataFrame  # representative_rows of the rows
    categories: list[tuple[str, int]]  # category_counts of the rows


def spill_part(df: pd.DataFrame, name: str, path: Path) -> SpilledPart:
    """`df` (rows of dataset `name`) pickled to `path`, and what SpilledDataset.adopt needs of it."""
    with paced_open(path, "wb") as fh:
        pickle.dump(df, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return SpilledPart(path, len(df), [str(c) for c in df.columns], representative_rows(df, name),
                       category_counts(name, df))


def category_counts(name: str, df: pd.DataFrame) -> list[tuple[str, int]]:
    """Rows of each --CAT value (LBCAT of LB; "" for none): what a split by --max-file-size asks before writing
    (sdtm/split_stream.py), counted as the rows come so that it costs no pass over them."""
    from msc_interop.sdtm.split import category_column, category_values

    cat = category_column(name)
    if cat in df.columns:
        return [(value, int(n)) for value, n in category_values(df, cat).value_counts().items()]
    return [("", len(df))] if len(df) else []  # read back with the variable, these rows have it empty (conform)


class SpilledDataset:
    """One dataset's rows, appended in order a partition at a time; `proxy` the rows that stand for them."""

    def __init__(self, name: str, folder: Path):
        self.name = name
        self.folder = folder
        self.parts: list[Path] = []
        self.rows = 0
        self.ranges: dict[int, tuple[int, int]] = {}  # partition -> (first row, end row) in the whole dataset
        self._proxy: pd.DataFrame | None = None
        self._lead: Path | None = None
        self._columns_of: dict[Path, list[str]] = {}
        self._target: list[str] | None = None  # conform(): the columns every frame is read back with
        # rows of each --CAT value (LBCAT of LB; "" for none): what a split by --max-file-size asks before
        # writing (sdtm/split_stream.py), counted as the rows come so that it costs no pass over them
        self.categories: dict[str, int] = {}

    def append(self, df: pd.DataFrame, partition: int) -> None:
        """Add partition `partition`'s rows (partitions come in order) after those already held."""
        self.adopt(spill_part(df, self.name, self.folder / f"{self.name}.{len(self.parts):05d}.pkl"), partition)

    def adopt(self, part: SpilledPart, partition: int) -> None:
        """Add rows spilled elsewhere (spill_part: on a Dask worker, to a folder this process reads) as `append`
        adds them."""
        self.ranges[partition] = (self.rows, self.rows + part.rows)
        self.parts.append(part.path)
        self._columns_of[part.path] = part.columns
        self.rows += part.rows
        for value, n in part.categories:
            self.categories[value] = self.categories.get(value, 0) + n
        picked = part.picked
        self._proxy = picked if self._proxy is None else _concat([self._proxy, picked])
        if len(self._proxy) > 4 * len(picked) + 1024:
            self._proxy = representative_rows(self._proxy, self.name)  # the proxy of a proxy is the same

    def lead(self, df: pd.DataFrame) -> None:
        """Rows that come before every partition's (rows about the study, not a subject: USUBJID ""); they
        count as the first partition's."""
        path = self.folder / f"{self.name}.lead.pkl"
        with paced_open(path, "wb") as fh:
            pickle.dump(df, fh, protocol=pickle.HIGHEST_PROTOCOL)
        n = len(df)
        self.ranges = {p: (a + n if i else 0, b + n) for i, (p, (a, b)) in enumerate(sorted(self.ranges.items()))}
        self._lead = path
        self.rows += n
        self._count(df)
        picked = representative_rows(df, self.name)
        self._proxy = picked if self._proxy is None else _concat([picked, self._proxy])

    def _count(self, df: pd.DataFrame) -> None:
        for value, n in category_counts(self.name, df):
            self.categories[value] = self.categories.get(value, 0) + n

    def conform(self, columns: list[str]) -> None:
        """Read every frame back with `columns`, in that order: partitions of FHIR written by others may lack a
        variable no record of theirs has. A missing variable is empty as in a whole read: "" for text, NaN for
        a number (the SDTM metadata's type)."""
        if all(cols == columns for cols in self._columns_of.values()):
            return
        self._target = list(columns)
        if self._proxy is not None:  # its rows of the partitions without a variable got NaN when concatenated
            proxy = self._conformed(self._proxy)
            some = {c for c in columns if not all(c in cols for cols in self._columns_of.values())}
            text = [c for c in some if not self._numeric(c)]
            self._proxy = proxy.assign(**{c: proxy[c].astype(object).where(proxy[c].notna(), "") for c in text})

    def _numeric(self, col: str) -> bool:
        meta = mappings.sdtm_domain(self.name)
        found = meta.by_name.get(col) if meta else None
        return found is not None and found.type == "Num"

    def _conformed(self, df: pd.DataFrame) -> pd.DataFrame:
        if self._target is None or [str(c) for c in df.columns] == self._target:
            return df
        out = {}
        for col in self._target:
            if col in df.columns:
                out[col] = df[col]
            elif self._numeric(col):
                out[col] = pd.Series(np.nan, index=df.index, dtype="float64")
            else:
                out[col] = pd.Series("", index=df.index, dtype=object)
        return pd.DataFrame(out, index=df.index)

    @property
    def proxy(self) -> pd.DataFrame:
        """The representative rows of the whole dataset (see the module docstring), in dataset order."""
        if self._proxy is None:
            raise ValueError(f"dataset {self.name}: nothing appended")
        self._proxy = representative_rows(self._conformed(self._proxy), self.name)
        return self._proxy

    @property
    def columns(self) -> list[str]:
        return [str(c) for c in self.proxy.columns]

    def chunks(self) -> Iterator[pd.DataFrame]:
        """The dataset's rows, one appended frame at a time, in order."""
        if self._lead is not None:
            yield self._load(self._lead)
        for path in self.parts:
            yield self._load(path)

    def partition(self, partition: int) -> pd.DataFrame | None:
        """The rows partition `partition` appended (None: it appended none)."""
        if partition not in self.ranges:
            return None
        own = self._load(self.parts[sorted(self.ranges).index(partition)])
        if self._lead is not None and partition == min(self.ranges):
            return _concat([self._load(self._lead), own])
        return own

    def _load(self, path: Path) -> pd.DataFrame:
        with open(path, "rb") as fh:
            return self._conformed(pickle.load(fh))

    def whole(self) -> pd.DataFrame:
        """All rows in one frame (for a dataset small enough to hold)."""
        return _concat(list(self.chunks()))

    def __len__(self) -> int:
        return self.rows


def representative_rows(df: pd.DataFrame, name: str = "") -> pd.DataFrame:
    """The rows of `df` that are the first of a distinct value of a variable, of a distinct (group, value)
    pair for the grouping variables (--TESTCD, QNAM), or of a distinct (--XXCD, --XX) code/decode pair.

    A variable whose values matter one by one (a grouping variable, a --CD/decode pair, one with a codelist in
    the SDTM metadata of dataset `name`) is kept by value; any other (results, dates, identifiers, --SEQ) by
    the shape of its values, digits read as 9 ("2009-02-28" and "2010-11-03" are one shape; "5" and "5.5"
    two): all a reader of the proxy asks of those is their lengths, ISO 8601 kinds and numeric forms."""
    if df.empty:
        return df.iloc[:1]
    return df[representative_mask(df, name)].reset_index(drop=True)


def representative_mask(df: pd.DataFrame, name: str = "", by_value: Collection[str] = ()) -> np.ndarray:
    """True at the rows representative_rows keeps; `by_value`: more variables kept by value (say, those
    a define.xml gives a codelist)."""
    cols = [str(c) for c in df.columns]
    groups = [c for c in cols if c.endswith(_GROUP_SUFFIXES) or c in _GROUP_NAMES]
    by_value = _by_value(name, cols, groups) | (set(by_value) & set(cols))
    keep = np.zeros(len(df), dtype=bool)
    codes = {c: _codes(df[c], c in by_value) for c in cols}
    for c in cols:
        keep |= _firsts(codes[c])
        for g in groups:
            if g != c:
                keep |= _firsts(codes[g] * (codes[c].max() + 1) + codes[c])
        if c.endswith("CD") and c[:-2] in codes:
            decode = codes[c[:-2]]
            keep |= _firsts(codes[c] * (decode.max() + 1) + decode)
    return keep


def _by_value(name: str, cols: list[str], groups: list[str]) -> set[str]:
    domain = mappings.sdtm_domain(name) if name else None
    known = domain.by_name if domain else {}
    out = set(groups) | {c for c in cols if c in known and known[c].codelist}
    # a site or a lab becomes a FHIR resource of its own (ResearchStudy per site, Organization per lab): each counts
    out |= {c for c in cols if c.endswith("NAM") or c == "SITEID"}
    out |= {c for c in cols if c.endswith("CD") and c[:-2] in cols} | {c[:-2] for c in cols if c.endswith("CD")}
    return out


_DIGIT = re.compile(r"\d")


def _codes(s: pd.Series, by_value: bool) -> np.ndarray:
    """Codes of the column's values (by_value) or of their shapes (digits as 9; numbers as text first)."""
    codes, uniques = pd.factorize(s, use_na_sentinel=False)
    if by_value:
        return codes.astype(np.int64)
    as_text = (lambda x: format(float(x), ".15g")) if pd.api.types.is_float_dtype(s) else str
    texts = [as_text(x) for x in uniques]
    shapes, _ = pd.factorize(pd.Series([_DIGIT.sub("9", t) for t in texts], dtype=object))
    return shapes[codes].astype(np.int64)


def _firsts(key: np.ndarray) -> np.ndarray:
    """True at the first occurrence of each distinct key."""
    return ~pd.Series(key).duplicated().to_numpy()


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Frames of one dataset end to end, keeping the dtypes each has (Int64 stays Int64)."""
    frames = [f for f in frames if len(f.columns)]
    if len(frames) == 1:
        return frames[0]
    return pd.concat(frames, ignore_index=True)
