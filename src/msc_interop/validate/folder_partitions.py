"""`validate` of an SDTM folder too big to read whole: its big datasets held on disk, the rules run a range of
subjects at a time, with the findings of the whole read (validate/engine.py `_validate_group`), finding for
finding and in the same order.

For one format's files of the folder:

1. each file up to `hold_bytes` is read whole as usual; a bigger one a range of rows at a time
   (validate/folder_chunks.py: its file-level findings as the whole read makes them), each range conformed and
   pickled to a scratch folder, keeping its subjects (USUBJID codes), the dataset's proxy (sdtm/spill.py
   representative_rows: every distinct value and value shape), its STUDYIDs and visit counts;
2. the subjects of every dataset, sorted, are cut into ranges (partition.py) and each big dataset's rows are
   moved to one scratch file per range, wherever they sit in the file (a dataset need not be sorted or grouped
   by USUBJID: each row keeps its place in the whole);
3. the SDTM rules run over the ranges (validate/partitioned.py, proven equal to the whole run), define.xml
   against the held datasets and the big ones' proxies (as to-sdtm's partitioned validation does).

Whatever a range cannot show as the whole read would (folder_chunks.Declined; more than one STUDYID; a
dataset that does not conform; a big dataset without USUBJID) makes this step decline: the folder is then
read whole, which reports it exactly. Memory: one range of subjects, one chunk, and the small datasets.
"""

from __future__ import annotations

import pickle
import shutil
import tempfile
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from msc_interop.atomic import paced_open
from msc_interop.errors import InputError, MscInteropError
from msc_interop.partition import PARTITION_BYTES, SUBJECT, StudyPartition, _group_of, subject_ranges
from msc_interop.sdtm.formats import DatasetFacts, count_visits, study_meta_from_data, studyids_in
from msc_interop.sdtm.spill import representative_mask
from msc_interop.study import Study, StudyMeta, conform
from msc_interop.validate.columns import ColumnCache
from msc_interop.validate.engine import SdtmGroup, _first_of, _shared_text, _standard, _study, read_dataset_file
from msc_interop.validate.folder_chunks import ChunkedFile, Declined
from msc_interop.validate.model import Finding, Scope
from msc_interop.validate.partitioned import validate_partitions
from msc_interop.validate.registry import run
from msc_interop.validate.rules import DefineContext

# a dataset file up to this size is read whole and held (validate of 10M LB rows in XPT peaked at 896 MB with
# 16 MB, 1,065 MB with 64 MB: benchmarks/README.md)
HOLD_BYTES = 16 << 20
TARGET_ROWS = 250_000  # subject-level rows per range the automatic range size aims at


@dataclass
class FolderPartitions:
    """How `validate` reads big SDTM folders: `per_partition` subjects a range ("auto": when the format's
    files exceed `min_bytes`, ~TARGET_ROWS rows a range; "on": always so). Called per format folder."""

    per_partition: int | str = "auto"
    min_bytes: int = PARTITION_BYTES
    hold_bytes: int | None = None  # None: HOLD_BYTES
    chunk_rows: int | None = None  # rows read at a time (None: folder_chunks.CHUNK_ROWS of the format)
    used: list[tuple[str, int]] = field(default_factory=list)  # (folder or file, ranges) validated so
    declined: list[tuple[str, str]] = field(default_factory=list)  # (folder or file, why it was read whole)

    def notes(self) -> list[str]:
        """What was validated by ranges and what was read whole although big (and why)."""
        out = [f"{where}: validated in {n} subject partition{'' if n == 1 else 's'} (--partition-subjects)"
               for where, n in self.used]
        out += [f"{where}: read whole (--partition-subjects could not cut it exactly: {why})"
                for where, why in self.declined]
        return out

    def __call__(self, fmt: str, paths: list[Path], group: SdtmGroup) -> list[Finding] | None:
        if self.per_partition in (0, "off"):
            return None
        if self.per_partition == "auto" and sum(p.stat().st_size for p in paths) <= self.min_bytes:
            return None
        # a folder may hold several formats beside one define.xml: the note names which files it means
        where = group.source(paths) if group.define is None else f"{paths[0].parent} ({fmt} files)"
        scratch = Path(tempfile.mkdtemp(prefix="msc-validate-"))
        try:
            found, n = _Run(self, fmt, paths, group, scratch).findings()
        except Declined as exc:
            self.declined.append((where, str(exc)))
            return None
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        self.used.append((where, n))
        return found


def check_per_partition(value: int | str) -> int | str:
    """auto, on, off (0) or a positive number of subjects; InputError naming the option otherwise."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("auto", "on", "off"):
            return 0 if text == "off" else text
        if text.isdigit():
            return int(text)
    elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise InputError(f"--partition-subjects {value!r}: give auto, on, off or a number of subjects (e.g. 2000)")


class _Big:
    """One big dataset on disk: its chunks, then its rows by range; what the study needs of the whole."""

    def __init__(self, name: str, path: Path, folder: Path, counted: Collection[str] = ()):
        self.name, self.path, self.folder = name, path, folder
        self.chunks: list[Path] = []
        self.codes: list[np.ndarray] = []  # per chunk: each row's subject, as an index into self.subjects
        self.subjects: dict[str, int] = {}
        self.proxy: pd.DataFrame | None = None
        self.facts = DatasetFacts(set(), [])  # what the study metadata needs of the dataset (STUDYID, visits)
        self.rows = 0
        self.header: dict[str, Any] | None = None  # Dataset-JSON metadata
        self.held: list[pd.DataFrame] = []  # the chunks of a dataset without USUBJID
        self.proxy_rows = np.empty(0, dtype=np.int64)  # the whole row of each proxy row
        # rows per value of the variables define.xml gives a codelist (MSC-DEF-007 counts them)
        self.counted: dict[str, pd.Series | None] = dict.fromkeys(counted)
        self.group: np.ndarray = np.empty(0, dtype=np.int32)  # each row's range, once cut

    def add(self, df: pd.DataFrame) -> None:
        if SUBJECT not in df.columns:  # about the study (TS, TV, ...): every range gets it whole, so held
            self.held.append(df)
            return
        codes, uniques = pd.factorize(df[SUBJECT].to_numpy(dtype=object), use_na_sentinel=False)
        known = np.array([self.subjects.setdefault(u, len(self.subjects)) for u in uniques], dtype=np.int64)
        self.codes.append(known[codes].astype(np.int32))
        path = self.folder / f"{self.name}.chunk{len(self.chunks):05d}.pkl"
        with paced_open(path, "wb") as fh:
            pickle.dump(df, fh, protocol=pickle.HIGHEST_PROTOCOL)
        self.chunks.append(path)
        self.rows += len(df)
        self._pick(df, np.arange(self.rows - len(df), self.rows))
        for col in self.counted:
            got = df[col].value_counts(dropna=False)
            self.counted[col] = got if self.counted[col] is None else \
                pd.concat([self.counted[col], got]).groupby(level=0, dropna=False).sum()
        self.facts.add(df)

    def _pick(self, df: pd.DataFrame, rows: np.ndarray) -> None:
        """Keep df's representative rows (and their whole rows) with those already kept, reduced again."""
        if self.proxy is not None:
            df, rows = pd.concat([self.proxy, df], ignore_index=True), np.concatenate([self.proxy_rows, rows])
        keep = representative_mask(df, self.name, self.counted) if len(df) else np.zeros(0, dtype=bool)
        self.proxy, self.proxy_rows = df[keep].reset_index(drop=True), rows[keep]
        if self.proxy.empty:
            self.proxy = df.iloc[:0]

    def whole_proxy(self) -> pd.DataFrame:
        assert self.proxy is not None
        return self.proxy

    def cut(self, groups: list[np.ndarray]) -> None:
        """Each row's range, and the rows moved to one scratch file per range (in whole-row order)."""
        names = np.array(list(self.subjects), dtype=object)
        of_subject = _group_of(pd.Series(names, dtype=object), groups).astype(np.int32)
        self.group = np.concatenate([of_subject[c] for c in self.codes]) if self.codes else self.group
        self.codes = []
        at = 0
        for path in self.chunks:
            with open(path, "rb") as fh:
                df = pickle.load(fh)
            path.unlink()
            codes = self.group[at:at + len(df)]
            at += len(df)
            for g in np.unique(codes).tolist():
                with open(self._range_file(g), "ab") as fh:
                    pickle.dump(df.iloc[np.flatnonzero(codes == g)], fh, protocol=pickle.HIGHEST_PROTOCOL)
        self.chunks = []

    def _range_file(self, g: int) -> Path:
        return self.folder / f"{self.name}.range{g:05d}.pkl"

    def range_rows(self, g: int) -> tuple[pd.DataFrame, np.ndarray]:
        """Range g's rows (dataset order) and their 0-based places in the whole dataset."""
        where = np.flatnonzero(self.group == g)
        path = self._range_file(g)
        if not path.is_file():
            return self.whole_proxy().iloc[:0], where
        frames = []
        with open(path, "rb") as fh:
            while True:
                try:
                    frames.append(pickle.load(fh))
                except EOFError:
                    break
        df = frames[0] if len(frames) == 1 else pd.concat(frames)
        return df.reset_index(drop=True), where


class _Run:
    """One format folder validated by subject ranges."""

    def __init__(self, options: FolderPartitions, fmt: str, paths: list[Path], group: SdtmGroup, scratch: Path):
        self.options, self.fmt, self.paths, self.group, self.scratch = options, fmt, paths, group, scratch
        self.encodings: dict[str, str] = {}  # dataset -> the codec its held file's text was read in (MSC-DEF-006)

    def findings(self) -> tuple[list[Finding], int]:
        findings: list[Finding] = []
        held, big, files, headers = self._read(findings)
        meta = self._meta(held, big)
        study = _study(held, {k: files[k] for k in held}, findings)  # conforms the held ones (findings as whole)
        study.meta = meta
        for name in [n for n in held if n not in study.datasets]:
            files.pop(name, None)  # did not conform: left out, as the whole read leaves it
        proxies = dict(sorted({**study.datasets, **{n: b.whole_proxy() for n, b in big.items()}}.items()))
        proxy_study = Study(meta, {}, require_identifiers=False)
        proxy_study.datasets = proxies
        standard, conflicts = _standard(self.group.options.sdtmig, self.group.tree, proxy_study,
                                        self.group.options.ct)
        groups = self._ranges(study, big)
        for b in big.values():
            b.cut(groups)
        codes = {n: _group_of(df[SUBJECT], groups) for n, df in study.datasets.items() if SUBJECT in df.columns}

        def partitions() -> Iterator[StudyPartition]:
            for i in range(len(groups)):
                datasets, rows = {}, {}
                for name in proxies:
                    if name in big:
                        datasets[name], rows[name] = big[name].range_rows(i)
                    elif name in codes:
                        where = np.flatnonzero(codes[name] == i)
                        datasets[name], rows[name] = study.datasets[name].iloc[where].reset_index(drop=True), where
                    else:
                        datasets[name], rows[name] = study.datasets[name], np.arange(len(study.datasets[name]))
                part = Study(meta, {}, require_identifiers=False)
                part.datasets = datasets
                yield StudyPartition(part, rows, i)

        source = self.group.source(self.paths)
        findings += validate_partitions(partitions, source=source, files={k: str(v) for k, v in files.items()},
                                        whole_study=self.group.whole_study, standard=standard,
                                        standard_conflicts=tuple(conflicts)).findings
        tree, define = self.group.tree, self.group.define
        if tree is not None and define is not None:
            ctx = _ProxyDefine(define, tree, proxies, files, self.fmt, headers,
                               document_level=self.group.document_level, folder_datasets=self.group.folder_datasets,
                               column_cache=_ProxyColumns(proxies, big), big=big, encodings=self.encodings)
            findings += [_numeric_row(f, big) for f in run(Scope.DEFINE, ctx, file=str(define))]
        return findings, len(groups)

    def _read(self, findings: list[Finding]) -> tuple[dict[str, pd.DataFrame], dict[str, _Big], dict[str, Path],
                                                      dict[str, dict[str, Any]]]:
        """Every file: small ones held (read as the whole read reads them), big ones to disk by chunk."""
        encoding = self.group.options.encoding
        held: dict[str, pd.DataFrame] = {}
        big: dict[str, _Big] = {}
        files: dict[str, Path] = {}
        headers: dict[str, dict[str, Any]] = {}
        for path in self.paths:
            ds = None
            hold = HOLD_BYTES if self.options.hold_bytes is None else self.options.hold_bytes
            if path.stat().st_size <= hold:
                got = read_dataset_file(self.fmt, path, findings, encoding, self.encodings)
                if got is None:
                    continue
                name, df, header = got
            else:
                if encoding is not None:
                    raise Declined("--encoding given: the whole read decodes each file with it")
                ds = self._chunked(path, findings)
                name, df, header = ds.name, None, ds.header
                if ds.held:
                    df, ds = pd.concat(ds.held, ignore_index=True) if len(ds.held) > 1 else ds.held[0], None
            if header is not None:
                headers[name] = header
            if not _first_of(name, path, self.fmt, files, findings):
                continue  # a second file of the dataset: read (its file findings) and left out, as whole
            files[name] = path
            if ds is None:
                held[name] = df
            else:
                big[name] = ds
        return held, big, files, headers

    def _chunked(self, path: Path, findings: list[Finding]) -> _Big:
        chunked = ChunkedFile(self.fmt, path, self.options.chunk_rows)
        folder = self.scratch / f"d{len(list(self.scratch.iterdir())):04d}"
        folder.mkdir()
        ds = _Big(chunked.name, path, folder, self._codelist_variables(chunked.name))
        for _a, frame in chunked.chunks():
            try:
                ds.add(conform(chunked.name, _shared_text(frame)))
            except MscInteropError as exc:  # the whole read reports it and leaves the dataset out
                raise Declined(f"{path.name}: {exc}") from None
        if not chunked.name or (ds.proxy is None and not ds.held):
            raise Declined(f"{path.name}: no dataset name or no rows read")
        ds.name, ds.header = chunked.name, chunked.header
        findings += chunked.findings
        return ds

    def _codelist_variables(self, name: str) -> list[str]:
        """The variables of dataset `name` define.xml gives a codelist (kept by value in its proxy)."""
        if self.group.tree is None or self.group.define is None:
            return []
        group = DefineContext(self.group.define, self.group.tree).index.groups.get(name)
        return [item.name for item in group.items if item.codelist] if group is not None else []

    def _meta(self, held: dict[str, pd.DataFrame], big: dict[str, _Big]) -> StudyMeta:
        """study_meta_from_data of the whole folder, from the held datasets and the big ones' facts."""
        stand_ins = {n: pd.DataFrame({"STUDYID": sorted(b.facts.studyids)}) for n, b in big.items()}
        ids = set().union(*(b.facts.studyids for b in big.values()), *map(studyids_in, held.values()))
        if len(ids) > 1:
            raise Declined("more than one STUDYID (the whole read names each file and row)")
        visits = [c for c in map(count_visits, held.values()) if c is not None]
        visits += [c for b in big.values() for c in b.facts.visit_counts]
        try:
            return study_meta_from_data({**held, **stand_ins}, visit_counts=visits)
        except MscInteropError as exc:
            raise Declined(str(exc)) from None

    def _ranges(self, study: Study, big: dict[str, _Big]) -> list[np.ndarray]:
        subjects = [df[SUBJECT] for df in study.datasets.values() if SUBJECT in df.columns]
        subjects += [pd.Series(list(b.subjects), dtype=object) for b in big.values()]
        every = pd.concat(subjects, ignore_index=True) if subjects else pd.Series([], dtype=object)
        per = self.options.per_partition
        if not isinstance(per, int) or per <= 0:
            n_subjects = max(1, int((pd.unique(every) != "").sum()))
            rows = sum(len(df) for df in study.datasets.values() if SUBJECT in df.columns)
            rows += sum(b.rows for b in big.values())
            per = max(1, int(TARGET_ROWS * n_subjects / max(1, rows)))
        return subject_ranges(every, per)


class _ProxyColumns(ColumnCache):
    """The distinct values the define.xml rules read: of the held datasets, and of the big ones' proxies, where
    a value's first row is its row in the whole dataset and a variable whose rows are counted (MSC-DEF-007) has
    its codes repeated so that each value counts its rows in the whole dataset."""

    def __init__(self, datasets: dict[str, pd.DataFrame], big: dict[str, _Big]):
        super().__init__(datasets)
        self.big = big

    def first_rows(self, ds: str, col: str) -> np.ndarray:
        first = super().first_rows(ds, col)
        if ds not in self.big:
            return first
        return np.where(first >= 0, self.big[ds].proxy_rows[np.maximum(first, 0)], -1)

    def distinct(self, ds: str, col: str) -> tuple[np.ndarray, pd.Series]:
        codes, uniques = super().distinct(ds, col)
        counted = self.big[ds].counted.get(col) if ds in self.big else None
        if counted is None:
            return codes, uniques
        n = counted.reindex(uniques.to_numpy()).fillna(0).to_numpy(dtype=np.int64)
        return np.repeat(np.arange(len(uniques)), n), uniques


@dataclass
class _ProxyDefine(DefineContext):
    """define.xml with the big datasets as proxies whose rows are named by their rows in the whole dataset."""

    big: dict[str, _Big] = field(default_factory=dict)

    def subject(self, ds: str, row: int | None) -> str:
        if ds not in self.big or row is None:
            return super().subject(ds, row)
        at = np.flatnonzero(self.big[ds].proxy_rows == row - 1)
        return str(self.datasets[ds]["USUBJID"].iloc[int(at[0])]) if len(at) and "USUBJID" in self.datasets[ds] \
            else ""


def _numeric_row(f: Finding, big: dict[str, _Big]) -> Finding:
    """MSC-DEF-005 names a numeric column's row by its place in the frame it reads (not through the distinct
    values, whose rows _ProxyColumns gives in the whole dataset): a big dataset's proxy row, placed here."""
    ds = big.get(f.dataset_or_resource)
    col = f.variable_or_path
    if f.rule_id != "MSC-DEF-005" or ds is None or f.row_or_entry is None or ds.proxy is None or \
            col not in ds.proxy.columns or not pd.api.types.is_numeric_dtype(ds.proxy[col]):
        return f
    at = f.row_or_entry - 1
    subject = str(ds.proxy[SUBJECT].iloc[at]) if SUBJECT in ds.proxy.columns else ""
    return replace(f, row_or_entry=int(ds.proxy_rows[at]) + 1, usubjid=subject)
