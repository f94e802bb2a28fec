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

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from msc_interop.sdtm.formats import DatasetFacts
from msc_interop.study import Study, conform
from msc_interop.summary.codes import Codes, shared_text
from msc_interop.validate.folder_chunks import ChunkedFile

# rows a range holds: each range of LB is read whole (every variable) before its columns are picked; at 50k rows
# that is ~60 MB at a time
CHUNK_ROWS = 50_000

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
        # visit_pairs as codes: the subject, and the (VISITNUM, VISIT) pair (8 bytes a subject-visit)
        self._visits: dict[str, list[np.ndarray]] = {"s": [], "p": []}
        self._pairs = Codes()
        self._rows = 0
        self._first_pass()

    def _read(self) -> Iterator[pd.DataFrame]:
        for a, frame in ChunkedFile(self.fmt, self.path, self.chunk_rows, check=False).chunks():
            df = conform(self.name, frame)
            df.index = pd.RangeIndex(a, a + len(df))
            yield df

    def _first_pass(self) -> None:
        has_visits = None
        for df in self._read():
            self.columns = self.columns or list(df.columns)
            self._rows += len(df)
            if "USUBJID" in df.columns:
                self._subjects = np.union1d(self._subjects, self._texts.add(df["USUBJID"]).astype(np.int32))
            if has_visits is None:
                has_visits = {"USUBJID", "VISITNUM", "VISIT"} <= set(df.columns)
            if has_visits:
                pairs = visit_pairs(df)
                visit = pd.MultiIndex.from_arrays([pairs["VISITNUM"].to_numpy(dtype="float64"),
                                                   self._texts.add(pairs["VISIT"])])
                self._visits["s"].append(self._texts.add(pairs["USUBJID"]).astype(np.int32))
                self._visits["p"].append(self._pairs.add(visit).astype(np.int32))
            self.facts.add(df)
        self._has_visits = bool(has_visits)
        keys = list(self._pairs.index)
        self._vn = np.array([k[0] for k in keys], dtype="float64")  # of each pair code
        self._v = np.array([k[1] for k in keys], dtype=np.int64)
        if self._has_visits:  # the first VISIT of each subject-visit over the whole file
            s, p = (np.concatenate(self._visits[k]) for k in ("s", "p"))
            first = pd.DataFrame({"s": s, "vn": self._vn[p]}, copy=False).duplicated(["s", "vn"]).to_numpy()
            self._visits = {"s": s[~first], "p": p[~first]}

    def __len__(self) -> int:
        return self._rows

    def chunks(self, columns: Sequence[str]) -> Iterator[pd.DataFrame]:
        for df in self._read():
            yield df[[c for c in columns if c in df.columns]]

    def subjects(self) -> set[str]:
        text = self._texts.values()
        return set(text[self._subjects].tolist())

    def visit_codes(self, texts: Codes) -> dict[str, np.ndarray] | None:
        if not self._has_visits:
            return None
        lut = texts.add(self._texts.values())  # this file's codes -> those of `texts`
        s, p = self._visits["s"], self._visits["p"]
        return {"s": lut[s], "vn": self._vn[p], "v": lut[self._v[p]]}


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
    parts = [shared_text(chunk, codes) for chunk in rows.chunks(columns)]
    return pd.concat(parts) if len(parts) > 1 else parts[0]
