"""A dataset the summary reads a range of rows at a time: held in memory (`FrameRows`), or a file too big to hold
(`FileRows`: LB, VS, EG of a large study), so that the summary's memory does not grow with those datasets' text.

Both give the same rows: `chunks(columns)` yields frames of consecutive rows, indexed by their row in the whole
dataset, with only the asked columns the dataset has; `take(rows, columns)` the rows at those positions. A held
dataset is one chunk. A file is read by validate's range reader (validate/folder_chunks.py, each range as the
whole read gives it) and each range conformed as a Study conforms a dataset (study.conform works row by row).
What the summary needs of every row of the whole (the subjects, the subject-visits of the disposition table, the
row count, STUDYID and visit counts for the study metadata) is gathered in one pass when the file is opened.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from msc_interop import mappings
from msc_interop.columns_frame import frame_of_columns
from msc_interop.errors import MscInteropError
from msc_interop.sdtm.formats import DatasetFacts
from msc_interop.study import Study, conform
from msc_interop.summary.codes import Codes, shared_text
from msc_interop.validate.folder_chunks import ChunkedFile, Declined

# rows a range holds (~60 MB of LB at 50k rows with every variable; a table reads a few)
CHUNK_ROWS = 50_000
# what the pass over a whole file at its opening reads: subjects, subject-visits, DatasetFacts (STUDYID, visits)
_FIRST_PASS = ("STUDYID", "USUBJID", "VISITNUM", "VISIT", "EPOCH")

__all__ = ["DatasetRows", "FileRows", "FrameRows", "LargeStudy", "frame_of", "row_count", "rows_of", "visit_pairs"]


def visit_pairs(df: pd.DataFrame) -> pd.DataFrame:
    """USUBJID, VISITNUM, VISIT of each subject-visit (the first record's VISIT), visits with a VISITNUM only:
    of consecutive row ranges, the result of the whole is that of the ranges' results put together, again."""
    d = df[["USUBJID", "VISITNUM", "VISIT"]].drop_duplicates(["USUBJID", "VISITNUM"])
    return d[d["VISITNUM"].notna()]


class DatasetRows:
    """What every dataset gives the summary (see the module docstring)."""

    name: str
    columns: list[str]

    def __len__(self) -> int:
        raise NotImplementedError

    def chunks(self, columns: Sequence[str]) -> Iterator[pd.DataFrame]:
        raise NotImplementedError

    def subjects(self) -> set[str]:
        """Every USUBJID of the dataset."""
        raise NotImplementedError

    def visit_codes(self, texts: Codes) -> dict[str, np.ndarray] | None:
        """visit_pairs of the whole dataset as arrays: s (USUBJID) and v (VISIT) as codes of `texts`, vn
        (VISITNUM); None without USUBJID, VISITNUM or VISIT."""
        raise NotImplementedError

    def take(self, rows: np.ndarray, columns: Sequence[str]) -> pd.DataFrame:
        """The rows at positions `rows` (in that order), indexed 0..; a pass over the chunks that hold them."""
        rows = np.asarray(rows, dtype=np.int64)
        wanted = np.unique(rows)
        parts = []
        for chunk in self.chunks(columns):
            if not len(wanted):
                break
            a, b = int(chunk.index[0]) if len(chunk) else 0, int(chunk.index[-1]) + 1 if len(chunk) else 0
            here = wanted[(wanted >= a) & (wanted < b)]
            if len(here):
                parts.append(chunk.iloc[here - a])
        got = pd.concat(parts) if parts else pd.DataFrame(columns=[c for c in columns if c in self.columns])
        return got.loc[rows].reset_index(drop=True) if len(rows) else got.iloc[:0].reset_index(drop=True)


class FrameRows(DatasetRows):
    """A dataset held in memory: one chunk."""

    def __init__(self, name: str, df: pd.DataFrame):
        self.name, self.df = name, df
        self.columns = list(df.columns)

    def __len__(self) -> int:
        return len(self.df)

    def chunks(self, columns: Sequence[str]) -> Iterator[pd.DataFrame]:
        """The whole frame, every variable (`columns` is what a file's ranges keep: see frame_of)."""
        yield self.df

    def subjects(self) -> set[str]:
        return set(self.df["USUBJID"].unique()) if "USUBJID" in self.df.columns else set()

    def visit_codes(self, texts: Codes) -> dict[str, np.ndarray] | None:
        if not {"USUBJID", "VISITNUM", "VISIT"} <= set(self.df.columns):
            return None
        pairs = visit_pairs(self.df)
        return {"s": texts.add(pairs["USUBJID"]), "vn": pairs["VISITNUM"].to_numpy(dtype="float64"),
                "v": texts.add(pairs["VISIT"])}


class FileRows(DatasetRows):
    """A dataset file read a range of rows at a time (`chunk_rows` each; the reader's default when None).

    Raises validate.folder_chunks.Declined when the file cannot be read so (text not in UTF-8, a row of the wrong
    type, ...): the caller reads it whole."""

    def __init__(self, name: str, fmt: str, path: Path, chunk_rows: int | None = None, texts: Codes | None = None):
        """`texts`: codes of USUBJID and VISIT values shared by the files of one study (each value held once)."""
        self.name, self.fmt, self.path, self.chunk_rows = name, fmt, Path(path), chunk_rows or CHUNK_ROWS
        self.columns: list[str] = []
        self.facts = DatasetFacts(set(), [])  # what the study metadata needs of the file (STUDYID, visits)
        self._texts = texts if texts is not None else Codes()
        self._subjects = np.zeros(0, dtype=np.int32)  # codes of the file's USUBJID values (an array: a set of
        # 180k Python ints takes 10 MB)
        self._visits: _VisitPairs | None = None  # gathered by the first pass, handed over by visit_codes
        self._rows = 0
        self._first_pass()

    def _read(self, columns: Collection[str], file: ChunkedFile | None = None) -> Iterator[pd.DataFrame]:
        """The ranges with `columns` only (a range of every variable makes a string per cell of each)."""
        file = file or ChunkedFile(self.fmt, self.path, self.chunk_rows, check=False)
        for a, frame in file.chunks(columns):
            df = conform(self.name, frame)
            df.index = pd.RangeIndex(a, a + len(df))
            yield df

    def _first_pass(self) -> None:
        file = ChunkedFile(self.fmt, self.path, self.chunk_rows, check=False)
        try:  # the variables in the order a Study holds them (study.conform: the SDTM metadata's, then the others)
            self.columns = list(conform(self.name, pd.DataFrame(columns=file.column_names)).columns)
        except MscInteropError as exc:  # names the whole read refuses: it says where
            raise Declined(f"{self.path.name}: {exc}") from None
        self._has_visits = {"USUBJID", "VISITNUM", "VISIT"} <= set(self.columns)
        visits = _VisitPairs(self._texts) if self._has_visits else None
        # the first pass conforms every variable conform could refuse (a number that is not one: the whole read
        # refuses the dataset, and so does this), not only those it gathers
        checked = [c for c in self.columns if c in _FIRST_PASS or _may_refuse(self.name, c)]
        for df in self._read(checked, file):
            self._rows += len(df)
            if "USUBJID" in df.columns:
                self._subjects = np.union1d(self._subjects, self._texts.add(df["USUBJID"]).astype(np.int32))
            if visits is not None:
                visits.add(df)
            self.facts.add(df)
        self._visits = visits

    def __len__(self) -> int:
        return self._rows

    def chunks(self, columns: Sequence[str]) -> Iterator[pd.DataFrame]:
        for df in self._read(columns):
            yield df[[c for c in columns if c in df.columns]]

    def subjects(self) -> set[str]:
        text = self._texts.values()
        return set(text[self._subjects].tolist())

    def visit_codes(self, texts: Codes) -> dict[str, np.ndarray] | None:
        """As DatasetRows'; those the first pass gathered are handed over, not kept (the disposition table is their
        one reader: ~8 MB a million subject-visits); asked again, a pass over the file gathers them anew."""
        if not self._has_visits:
            return None
        visits, self._visits = self._visits, None
        if visits is None:
            visits = _VisitPairs(self._texts)
            for df in self._read(("USUBJID", "VISITNUM", "VISIT")):
                visits.add(df)
        return visits.codes(texts)


def _may_refuse(dataset: str, variable: str) -> bool:
    """Whether study.conform may refuse a value of the variable: one the SDTM metadata types as a number."""
    meta = mappings.sdtm_domain(dataset)
    v = meta.by_name.get(variable) if meta else None
    return v is not None and v.type != "Char"


class _VisitPairs:
    """visit_pairs of a file's ranges as codes: the subject (codes of the file's `texts`) and the (VISITNUM, VISIT)
    pair of each subject-visit, 8 bytes each; the first VISIT of a subject-visit over the whole file."""

    def __init__(self, texts: Codes):
        self._texts, self._pairs = texts, Codes()
        self._s: list[np.ndarray] = []
        self._p: list[np.ndarray] = []

    def add(self, df: pd.DataFrame) -> None:
        pairs = visit_pairs(df)
        visit = pd.MultiIndex.from_arrays([pairs["VISITNUM"].to_numpy(dtype="float64"),
                                           self._texts.add(pairs["VISIT"])])
        self._s.append(self._texts.add(pairs["USUBJID"]).astype(np.int32))
        self._p.append(self._pairs.add(visit).astype(np.int32))

    def codes(self, texts: Codes) -> dict[str, np.ndarray]:
        """s (USUBJID) and v (VISIT) as codes of `texts`, vn (VISITNUM), of each subject-visit."""
        keys = list(self._pairs.index)
        vn_of = np.array([k[0] for k in keys], dtype="float64")  # of each pair code
        v_of = np.array([k[1] for k in keys], dtype=np.int64)
        s = np.concatenate(self._s) if self._s else np.zeros(0, dtype=np.int32)
        p = np.concatenate(self._p) if self._p else np.zeros(0, dtype=np.int32)
        self._s, self._p = [], []
        first = ~pd.DataFrame({"s": s, "vn": vn_of[p]}, copy=False).duplicated(["s", "vn"]).to_numpy()
        s, p = s[first], p[first]
        lut = texts.add(self._texts.values())  # the file's codes -> those of `texts`
        return {"s": lut[s], "vn": vn_of[p], "v": lut[v_of[p]]}


class LargeStudy(Study):
    """A Study whose biggest datasets stay in their files (`on_disk`, read a range at a time): what `summary`
    reads from a folder too big to hold. `names` lists them with the held ones; `datasets` holds the others."""

    def __init__(self, study: Study, on_disk: dict[str, DatasetRows]):
        self.__dict__.update(study.__dict__)
        self.on_disk = dict(on_disk)
        self.datasets = _Held(study.datasets, self.on_disk)

    @property
    def names(self) -> list[str]:
        return sorted([*self.datasets, *self.on_disk], key=lambda n: (n.startswith("SUPP"), n))


def rows_of(study: Study, name: str) -> DatasetRows | None:
    """Dataset `name` of the study as rows (None when the study has none)."""
    on_disk = getattr(study, "on_disk", {})
    if name in on_disk:
        return on_disk[name]
    df = study.datasets.get(name)
    return None if df is None else FrameRows(name, df)


def row_count(study: Study, name: str) -> int:
    rows = rows_of(study, name)
    return 0 if rows is None else len(rows)


class _Held(dict):
    """The held datasets; asking for one that stays on disk is a mistake of the code (it must use rows_of), not
    of the input: raised, never answered "absent"."""

    def __init__(self, held: dict[str, pd.DataFrame], on_disk: dict[str, DatasetRows]):
        super().__init__(held)
        self._on_disk = on_disk

    def _refuse(self, name: object) -> None:
        if name in self._on_disk:
            raise AssertionError(f"dataset {name} is read a range of rows at a time: use rows_of(study, {name!r})")

    def __getitem__(self, name: str) -> pd.DataFrame:
        self._refuse(name)
        return super().__getitem__(name)

    def get(self, name: str, default: object = None) -> object:  # type: ignore[override]
        self._refuse(name)
        return super().get(name, default)

    def __contains__(self, name: object) -> bool:
        self._refuse(name)
        return super().__contains__(name)


def frame_of(study: Study, name: str, columns: Sequence[str]) -> pd.DataFrame | None:
    """Dataset `name` as one frame for a table that reads all its rows but few of its variables: a held
    dataset as it is (every variable: the proof tests then catch a variable the table uses but does not name),
    a dataset on disk with `columns` only (those it has), read range by range. None when the study has none."""
    rows = rows_of(study, name)
    if rows is None:
        return None
    if isinstance(rows, FrameRows):
        return rows.df
    codes: dict[str, Codes] = {}
    parts: dict[str, list[pd.Series]] = {}  # each column's ranges
    n = 0
    for chunk in rows.chunks(columns):
        n += len(chunk)
        for name, col in shared_text(chunk, codes).items():
            parts.setdefault(name, []).append(col)
    joined = []
    for name in list(parts):  # a column at a time, its ranges freed as it is joined: never two copies of all
        pieces = parts.pop(name)
        joined.append(pd.concat(pieces) if len(pieces) > 1 else pieces[0])
        del pieces
    if not joined:  # none of `columns` in the file
        return pd.DataFrame(index=pd.RangeIndex(n))
    return frame_of_columns({c.name: c for c in joined}, joined[0].index)
