"""The SDTM file formats behind one registry: Study -> files (`write_study`) and files -> Study (`read_sdtm`).

Each format is a mirror pair in its own module (xpt, csvio; Dataset-JSON's in datasetjson + datasetjson_read);
`FORMATS` maps the format name to (suffix, writer, reader), so adding a format is one entry and an unknown name
lists the valid ones.

    >>> paths = write_study(study, Path("out/sdtm"), ["xpt", "json"], created="2026-01-01T00:00:00")
    >>> again = read_sdtm(Path("out/sdtm"))          # one format per dataset: json > ndjson > xpt > csv
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from msc_interop.atomic import atomic_path
from msc_interop.distinct import column_codes, first_rows, per_distinct
from msc_interop.errors import InputError, MscInteropError, OutputLimitError, UnknownFormatError
from msc_interop.inputs.kinds import SDTM_FORMAT_PREFERENCE, listed_files
from msc_interop.sdtm import csvio, datasetjson, xpt
from msc_interop.sdtm.csvio import read_csv
from msc_interop.sdtm.datasetjson import creation_datetime
from msc_interop.sdtm.datasetjson_read import read_dataset_json
from msc_interop.sdtm.package import JSON_ATTRS, DatasetLayout, Package, as_package_states, package_of
from msc_interop.sdtm.xpt import read_xpt, xpt_problems
from msc_interop.study import VISIT_COLUMNS, Study, StudyMeta
from msc_interop.trial_design import apply_trial_design

DEFINE_FILE = "define.xml"  # the define.xml to-sdtm writes beside the XPT and Dataset-JSON files
Writer = Callable[..., None]  # (df, name, path, meta, created); the XPT writer also takes encoding=, the
# Dataset-JSON one metadata_ref= (its header's metaDataRef)
Reader = Callable[[Path], tuple[str, pd.DataFrame]]


class Format(NamedTuple):
    """One SDTM file format: file suffix, writer(df, name, path, meta, created), reader(path) -> (name, df)."""

    suffix: str
    writer: Writer
    reader: Reader


# Study datasets are already in canonical form (Study conforms them), so the writers skip conform();
# write_study checks the XPT limits of all datasets before any writer runs. A dataset of an existing package
# is written in the package's own variable order, with its labels and lengths (sdtm/package.py).
def layout(meta: StudyMeta | None, name: str) -> DatasetLayout | None:
    """The layout the package this dataset was read from states (None: msc-interop built the dataset)."""
    pkg = getattr(meta, "package", None)
    return pkg.layouts.get(name) if isinstance(pkg, Package) else None


def _write_xpt(df: pd.DataFrame, name: str, path: Path, meta: StudyMeta | None, created: str | None,
               encoding: str = "utf-8") -> None:
    lay = layout(meta, name)
    xpt.write_conformed(as_package_states(df, lay), name, path, created=created, encoding=encoding,
                        labels=lay.labels if lay else None, label=lay.label if lay else None,
                        lengths=lay.lengths if lay else None)


def _write_json(df: pd.DataFrame, name: str, path: Path, meta: StudyMeta | None, created: str | None,
                metadata_ref: str | None = None) -> None:
    datasetjson.write_conformed(as_package_states(df, layout(meta, name)), name, path, study_meta=meta,
                                created=created, metadata_ref=metadata_ref)


def _write_ndjson(df: pd.DataFrame, name: str, path: Path, meta: StudyMeta | None, created: str | None) -> None:
    datasetjson.write_conformed(as_package_states(df, layout(meta, name)), name, path, ndjson=True,
                                study_meta=meta, created=created)


def _write_csv(df: pd.DataFrame, name: str, path: Path, meta: StudyMeta | None, created: str | None) -> None:
    csvio.write_conformed(as_package_states(df, layout(meta, name)), name, path)


def _read_json(path: Path) -> tuple[str, pd.DataFrame]:
    name, df, meta = read_dataset_json(path)
    df.attrs[JSON_ATTRS] = meta  # what the file states, for a conversion that must keep it (sdtm/package.py)
    return name, df


FORMATS: dict[str, Format] = {
    "xpt": Format(".xpt", _write_xpt, read_xpt),
    "json": Format(".json", _write_json, _read_json),
    "ndjson": Format(".ndjson", _write_ndjson, _read_json),
    "csv": Format(".csv", _write_csv, read_csv),
}
READ_PREFERENCE = SDTM_FORMAT_PREFERENCE
_READ_ORDER = ", ".join(f".{f}" for f in READ_PREFERENCE)
_BY_SUFFIX = {f.suffix: name for name, f in FORMATS.items()}


def get_format(name: str) -> Format:
    """The registered format of this name; UnknownFormatError lists the valid ones."""
    try:
        return FORMATS[name]
    except KeyError:
        raise UnknownFormatError(f"unknown SDTM format {name!r}; choose from {', '.join(FORMATS)}") from None


def dataset_file_name(name: str, fmt: str) -> str:
    """File name of dataset `name` in format `fmt`: lower-case dataset name + suffix (lb.xpt, lb.json)."""
    return f"{name.lower()}{get_format(fmt).suffix}"


def write_study(study: Study, outdir: Path, formats: Sequence[str], *, created: str | None = None,
                xpt_encoding: str | None = None, checked: bool = False, define_beside: bool = False) -> list[Path]:
    """Write every dataset of the study in every format into `outdir`; return the paths written.

    All checks run first (format names, the creation time, the XPT v5 limits of every dataset together),
    so a refused study leaves no file behind; each file is written to a temporary name and all are renamed
    into place only after every one was written. `checked`: the caller ran `check_fits` on these formats already
    (a second pass over every text value of a million-row dataset is ~1 s). `define_beside`: a define.xml is
    written in `outdir` too: each Dataset-JSON file's metaDataRef names it (as CDISC's Dataset-JSON examples do).

        >>> write_study(study, Path("out/sdtm"), ["xpt", "json", "csv"], created="2026-01-01T00:00:00")
        [PosixPath('out/sdtm/ae.xpt'), PosixPath('out/sdtm/dm.xpt'), ...]
    """
    outdir = Path(outdir)
    chosen = [(fmt, get_format(fmt)) for fmt in dict.fromkeys(formats)]
    stamp = creation_datetime(created)
    if not checked:
        check_fits(study, formats, xpt_encoding)
    targets = [(name, fmt, f, outdir / dataset_file_name(name, fmt)) for fmt, f in chosen for name in study.names]
    with contextlib.ExitStack() as stack:
        # atomic_path renames each temporary file onto its target when the stack closes without error
        for name, fmt, f, target in targets:
            tmp = stack.enter_context(atomic_path(target))
            f.writer(study[name], name, tmp, study.meta, stamp,
                     **writer_options(fmt, text_encoding_of(study, name, xpt_encoding), define_beside))
    return [t[3] for t in targets]


def writer_options(fmt: str, encoding: str, define_beside: bool) -> dict[str, str]:
    """The format's own writer arguments: XPT's text encoding, Dataset-JSON's metaDataRef (the define.xml beside
    it, if one is written: Dataset-JSON 1.1 `metaDataRef`, "define.xml" in CDISC's examples)."""
    if fmt == "xpt":
        return {"encoding": encoding}
    return {"metadata_ref": DEFINE_FILE} if fmt == "json" and define_beside else {}


def text_encoding_of(study: Study, name: str, given: str | None = None) -> str:
    """The encoding of XPT text for a dataset: `given` (--xpt-encoding), else the one its package file was
    read in (Windows-1252 for CDISC's pilot ts.xpt: written back as it came), else UTF-8 (holds every
    character; what msc-interop's and pyreadstat's readers try first)."""
    if given:
        return given
    lay = layout(study.meta, name)
    return lay.encoding if lay is not None and lay.encoding else "utf-8"


def check_fits(study: Study, formats: Sequence[str], xpt_encoding: str | None = None) -> list[str]:
    """Refuse (OutputLimitError listing every problem) a study that one of `formats` cannot hold (XPT v5
    limits); run it before writing any format, so that a refused run writes no format at all. Returns the
    notes about what XPT holds that a reader must know (non-ASCII text and its encoding)."""
    for fmt in formats:
        get_format(fmt)
    if "xpt" not in formats:
        return []
    problems, notes = [], []
    for name in study.names:
        lay = layout(study.meta, name)
        enc = text_encoding_of(study, name, xpt_encoding)
        df = as_package_states(study[name], lay)
        problems += xpt_problems(df, name, labels=lay.labels if lay else None,
                                 label=lay.label if lay else None, encoding=enc, origins=study.text_origins)
        notes += xpt.text_notes(df, name, enc, study.text_origins)
    if problems:
        raise OutputLimitError([f"XPT v5: {p}" for p in problems])
    return notes


class DatasetFacts(NamedTuple):
    """What the study metadata needs of a dataset that is not held (read a range at a time by its user)."""

    studyids: set[str]
    visit_counts: list[pd.DataFrame]  # count_visits of its rows (of each range)

    def add(self, df: pd.DataFrame) -> None:
        """Take in the facts of one more range of the dataset's rows."""
        self.studyids.update(studyids_in(df))
        counted = count_visits(df)
        if counted is not None:
            self.visit_counts.append(counted)


def studyid_text(values: pd.Series) -> pd.Series:
    """STUDYID as the study metadata reads it: trimmed text, "" for a null (worked out on the distinct values when
    all are text: factorizing mixed values would make 1, 1.0 and True one value)."""
    def text(u: pd.Series) -> pd.Series:
        return u.where(u.notna(), "").astype(str).str.strip()

    values = values.astype(object)
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        return per_distinct(text, values)
    return text(values)


def studyids_in(df: pd.DataFrame) -> set[str]:
    """The non-blank STUDYID values of a frame (none without the variable)."""
    if "STUDYID" not in df.columns:
        return set()
    return set(pd.unique(studyid_text(df["STUDYID"]))) - {""}


def read_sdtm(path: Path, *, meta: StudyMeta | None = None, not_read: Mapping[str, DatasetFacts] | None = None
              ) -> Study:
    """Read a folder of SDTM datasets (or one dataset file) into a Study.

    In a folder, each dataset is read from one file, the first found of .json, .ndjson, .xpt, .csv; the copies in
    other formats are counted, refused when they differ, and named in `study.reading_notes`. Without
    `meta`, the study metadata is rebuilt from the data: STUDYID, the visits (VISITNUM, VISIT, EPOCH) and,
    when a TS dataset has it, the title. `not_read`: datasets of the folder left out of the Study (their files
    are not read), with what the metadata needs of them.

        >>> study = read_sdtm(Path("out/sdtm/json"))
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    not_read = dict(not_read or {})
    files, copies = ([path], {}) if path.is_file() else _choose_files(path)
    files = [f for f in files if f.stem.upper() not in not_read]
    datasets: dict[str, pd.DataFrame] = {}
    source: dict[str, Path] = {}
    for file in files:
        fmt = _BY_SUFFIX.get(file.suffix.lower())
        if fmt is None:
            raise InputError(f"{file}: not an SDTM dataset file; expected one of "
                             f"{', '.join(f.suffix for f in FORMATS.values())}")
        name, df = FORMATS[fmt].reader(file)
        if name in datasets:
            rows = [f"{n} row{'' if n == 1 else 's'}" for n in (len(datasets[name]), len(df))]
            raise InputError(f"{source[name].name} ({rows[0]}) and {file.name} ({rows[1]}) both hold dataset {name}: "
                             f"{one_file_per_dataset(name)}")
        datasets[name] = df
        source[name] = file
    pkg = package_of(datasets, source, path if path.is_dir() else path.parent)
    if meta is None and not_read:
        stand_ins = {n: pd.DataFrame({"STUDYID": sorted(f.studyids)}) for n, f in not_read.items()}
        visits = [c for c in map(count_visits, datasets.values()) if c is not None]
        visits += [c for f in not_read.values() for c in f.visit_counts]
        meta = study_meta_from_data({**datasets, **stand_ins}, source, visit_counts=visits)
    elif meta is None:
        meta = study_meta_from_data(datasets, source)
    meta.package = pkg
    meta.sdtmig_version = pkg.sdtmig or meta.sdtmig_version
    meta.ct_package = pkg.ct or ""
    try:
        study = Study(meta, datasets)
    except MscInteropError as exc:  # conform(): names or values that do not fit SDTM; name the file
        files_named = [f.name for name, f in source.items()
                       if re.search(rf"\bdataset (name )?'?{re.escape(name)}\b", str(exc))]
        raise InputError(f"{', '.join(files_named) or path}: {exc}") from exc
    study.sources = {name: f.name for name, f in source.items()}
    study.reading_notes = _copies_note([_checked_copies(name, source[name], len(datasets[name]), copies[name])
                                        for name in sorted(copies) if name in source])
    return study


def one_file_per_dataset(name: str) -> str:
    """What to do with two files that hold the same dataset (neither is dropped: both may be part of it)."""
    return (f"an SDTM dataset is one file, or split datasets as SDTMIG 4.1.7 names them; combine the files into one "
            f"{name}, or name each part a split dataset ({name} and up to two more characters, e.g. {name}1, in a "
            f"file named after it, each with DOMAIN {name[4:] if name.startswith('SUPP') else name}) so that every "
            "row is read")


def study_meta_from_data(datasets: dict[str, pd.DataFrame], sources: Mapping[str, Path] | None = None,
                         visit_counts: Sequence[pd.DataFrame] | None = None) -> StudyMeta:
    """StudyMeta rebuilt from SDTM data: studyid from STUDYID, visits from VISITNUM/VISIT/EPOCH, and what the
    trial design datasets say (TS: title, protocol, sponsor, indication; TV: the planned schedule).

    More than one STUDYID is refused, naming each value and the files (`sources`: dataset -> file) or
    datasets that hold it. `visit_counts`: the visits as counted (visit_counts) where the datasets are not
    all held (a big folder read a range at a time): counted from `datasets` when None."""
    ids = _studyids(datasets)
    if len(ids) > 1:
        def place(name: str, count: int, first: int) -> str:
            where = sources[name].name if sources and name in sources else f"dataset {name}"
            n = len(datasets[name])
            return where if count == n else f"{where} ({count} of {n} rows, first row {first})"
        held = "; ".join(f"{value!r} in {', '.join(place(*p) for p in places)}" for value, places in ids.items())
        raise InputError(f"the datasets hold more than one STUDYID: {held}; read one study at a time")
    studyid = next(iter(ids), "")
    if visit_counts is None:
        visit_counts = [c for c in map(count_visits, datasets.values()) if c is not None]
    meta = StudyMeta(studyid=studyid, visits=_visits(visit_counts), timezone="")  # (SDTM does not say where)
    return apply_trial_design(meta, datasets)


def _studyids(datasets: dict[str, pd.DataFrame]) -> dict[str, list[tuple[str, int, int]]]:
    """Each non-blank STUDYID -> [(dataset, rows holding it, its first row (1-based)), ...], values sorted."""
    found: dict[str, list[tuple[str, int, int]]] = {}
    for name in sorted(datasets):
        df = datasets[name]
        if "STUDYID" not in df.columns:
            continue
        codes, values, firsts = _studyid_values(df["STUDYID"])
        counts = np.bincount(codes, minlength=len(values))
        for i, value in enumerate(values):
            if value:
                found.setdefault(value, []).append((name, int(counts[i]), int(firsts[i]) + 1))
    return dict(sorted(found.items()))


def _studyid_values(column: pd.Series) -> tuple[np.ndarray, list[str], np.ndarray]:
    """(each row's code, the distinct STUDYID texts, the first row of each): for a text column from its
    distinct values (distinct.column_codes), not a million strings factorized again."""
    raw_codes, raw_values = column_codes(column)
    if pd.api.types.infer_dtype(np.asarray(raw_values, dtype=object), skipna=True) not in ("string", "empty"):
        codes, values = pd.factorize(studyid_text(column))  # (not only text: 1, 1.0 and True are one hash value)
        firsts = pd.Series(np.arange(len(codes))).groupby(codes).min().to_numpy()
        return codes, list(values), firsts
    text_codes, values = pd.factorize(studyid_text(pd.Series(raw_values, dtype=object)).to_numpy(dtype=object))
    firsts = np.full(len(values), len(column), dtype=np.int64)
    np.minimum.at(firsts, text_codes, first_rows(np.asarray(raw_codes), len(raw_values)))
    return text_codes[raw_codes], list(values), firsts


def _choose_files(folder: Path) -> tuple[list[Path], dict[str, list[Path]]]:
    """The file each dataset of `folder` is read from (READ_PREFERENCE), and per dataset in more than one
    format the files of the other formats (_checked_copies)."""
    by_name: dict[str, dict[str, list[Path]]] = {}
    for p in listed_files(folder, tuple(_BY_SUFFIX))[0]:  # the tool's own reports are not datasets
        fmt = _BY_SUFFIX[p.suffix.lower()]
        by_name.setdefault(p.stem.upper(), {}).setdefault(fmt, []).append(p)
    if not by_name:
        raise InputError(f"{folder}: no SDTM dataset files here ({', '.join(f.suffix for f in FORMATS.values())})")
    chosen, copies = [], {}
    for name in sorted(by_name):
        fmt = next(f for f in READ_PREFERENCE if f in by_name[name])
        candidates = by_name[name][fmt]
        if len(candidates) > 1:
            raise InputError(f"{folder}: dataset {name} is in {len(candidates)} {fmt} files "
                             f"({', '.join(c.name for c in candidates)}); keep one")
        chosen.append(candidates[0])
        others = [p for f in READ_PREFERENCE if f != fmt for p in by_name[name].get(f, [])]
        if others:
            copies[name] = others
    return chosen, copies


def _checked_copies(name: str, read: Path, rows: int, others: list[Path]) -> str:
    """What a note says of dataset `name` read from `read` (`rows` records) while the folder holds it in other
    formats too (`others`: CDISC's Dataset-JSON examples ship ae.json, ae.ndjson and ae.xpt); refused (InputError)
    when a copy holds another number of records: which of them is the data to convert is the user's call, and
    reading one would drop or invent records without a word. Each copy is read to count its records (only for a
    dataset a folder holds twice)."""
    counts, unread = {}, []
    for p in others:
        try:
            counts[p] = len(FORMATS[_BY_SUFFIX[p.suffix.lower()]].reader(p)[1])
        except MscInteropError as exc:  # (a copy that cannot be read is not the one read: said, not fatal)
            unread.append(f"{p.name} could not be read to count its records: {exc}")
    differ = {p: n for p, n in counts.items() if n != rows}
    if differ:
        said = ", ".join(f"{p.name} ({n} record(s))" for p, n in differ.items())
        raise InputError(f"dataset {name} is in {read.name} ({rows} record(s)) and also in {said}: the copies "
                         f"differ; keep the one to convert in the folder (a dataset in several formats is read "
                         f"from the first of {_READ_ORDER})")
    if counts:
        said = f"{name} from {read.name} (also in {', '.join(p.name for p in counts)}; {rows} record(s) each)"
    else:
        said = f"{name} from {read.name}"
    return "; ".join([said, *unread])


def _copies_note(said: list[str]) -> list[str]:
    """The one note of a folder's datasets read from one of several formats (_checked_copies)."""
    if not said:
        return []
    return [f"datasets in more than one format, each read from the first of {_READ_ORDER} (the other copies only "
            f"counted, the same number of records): {'; '.join(said)}"]


def count_visits(df: pd.DataFrame) -> pd.DataFrame | None:
    """Rows per (VISITNUM, VISIT, EPOCH) of one dataset ("" for a missing or absent name; None: no VISITNUM):
    counts of parts of a dataset add up to the whole's."""
    if "VISITNUM" not in df.columns:
        return None
    num = pd.to_numeric(df["VISITNUM"].astype(object).replace("", float("nan")), errors="coerce")
    keep = num.notna().to_numpy()
    parts = {"VISITNUM": num[keep].astype("float64")}
    for col in ("VISIT", "EPOCH"):
        text = df[col].astype(object).fillna("")[keep] if col in df.columns else pd.Series("", index=num.index)[keep]
        parts[col] = text.map(lambda v: v if isinstance(v, str) else str(v))
    counts = pd.DataFrame(parts).groupby(["VISITNUM", "VISIT", "EPOCH"], sort=False).size()
    return counts.rename("n").reset_index()


def _visits(counts: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Distinct visits in the data: VISITNUM with its most frequent VISIT name and EPOCH; the rest unknown."""
    if not counts:
        return pd.DataFrame(columns=VISIT_COLUMNS)
    allv = pd.concat(counts, ignore_index=True)
    nums = sorted(float(v) for v in pd.unique(allv["VISITNUM"]))
    names, epochs = _most_frequent(allv, "VISIT"), _most_frequent(allv, "EPOCH")
    rows = [{"VISITNUM": num, "VISIT": names.get(num, ""), "protocol_day": 0, "planned_dy": 0,
             "window_before": 0, "window_after": 0, "EPOCH": epochs.get(num, ""), "aliases": ()}
            for num in nums]
    return pd.DataFrame(rows, columns=VISIT_COLUMNS)


def _most_frequent(visits: pd.DataFrame, col: str) -> dict[float, str]:
    """VISITNUM -> its most frequent non-empty `col` value (ties: alphabetically first)."""
    sub = visits[visits[col] != ""]
    counts = sub.groupby(["VISITNUM", col])["n"].sum().reset_index(name="n")
    best = counts.sort_values(["VISITNUM", "n", col], ascending=[True, False, True]).drop_duplicates("VISITNUM")
    return {float(k): str(v) for k, v in zip(best["VISITNUM"], best[col], strict=True)}
